//! The 128-bit hash-key space records are routed through.
//!
//! A record's hash key is the MD5 of its UTF-8 partition key read as a
//! big-endian unsigned 128-bit integer, unless the producer supplies an
//! `ExplicitHashKey`. Each open shard owns a contiguous, inclusive range, and
//! the open shards of a stream tile `[0, 2^128)` exactly.

mod md5_lanes;

use md5::{Digest, Md5};

use md5_lanes::{LANES, SHORT_MAX};

/// A position in the hash-key space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HashKey(pub u128);

impl HashKey {
    pub fn of_partition_key(partition_key: &str) -> HashKey {
        let digest = Md5::digest(partition_key.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest);
        HashKey(u128::from_be_bytes(bytes))
    }

    /// `of_partition_key` of each key, in order, appended to `out`. Keys of
    /// up to 55 bytes are hashed four at a time (`md5_lanes`): 500 short
    /// keys in 36 µs instead of 84 (`cargo bench -p riffle-wire --bench
    /// codec -- hash_500`).
    pub fn of_partition_keys(partition_keys: &[&str], out: &mut Vec<HashKey>) {
        let first = out.len();
        out.resize(first + partition_keys.len(), HashKey(0));
        let out = &mut out[first..];
        // The keys waiting for a lane, by index: the first `waiting` of them.
        let mut lanes = [0usize; LANES];
        let mut waiting = 0;
        let hash_lanes = |lanes: &[usize], out: &mut [HashKey]| {
            let digests = md5_lanes::digests(std::array::from_fn(|lane| {
                lanes
                    .get(lane)
                    .map_or(&b""[..], |&i| partition_keys[i].as_bytes())
            }));
            for (&i, digest) in lanes.iter().zip(digests) {
                out[i] = HashKey(u128::from_be_bytes(digest));
            }
        };
        for (i, key) in partition_keys.iter().enumerate() {
            if key.len() > SHORT_MAX {
                out[i] = HashKey::of_partition_key(key);
                continue;
            }
            lanes[waiting] = i;
            waiting += 1;
            if waiting == LANES {
                hash_lanes(&lanes, out);
                waiting = 0;
            }
        }
        if waiting > 0 {
            hash_lanes(&lanes[..waiting], out);
        }
    }

    /// Parses a decimal hash key. `None` when it is not a decimal number or
    /// does not fit in 128 bits (AWS rejects both).
    pub fn parse(text: &str) -> Option<HashKey> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse::<u128>().ok().map(HashKey)
    }
}

/// An inclusive range of hash keys owned by one shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashKeyRange {
    pub start: u128,
    pub end: u128,
}

impl HashKeyRange {
    pub const FULL: HashKeyRange = HashKeyRange {
        start: 0,
        end: u128::MAX,
    };

    pub fn contains(&self, key: HashKey) -> bool {
        self.start <= key.0 && key.0 <= self.end
    }

    /// Splits the full space into `n` ranges the way AWS does for a new stream:
    /// equal widths of `2^128 / n`, with the last range absorbing the remainder.
    pub fn uniform(n: u32) -> Vec<HashKeyRange> {
        assert!(n > 0, "a stream has at least one shard");
        if n == 1 {
            return vec![HashKeyRange::FULL];
        }
        // floor(2^128 / n), computed without overflowing u128.
        let width =
            u128::MAX / u128::from(n) + u128::from(u128::MAX % u128::from(n) == u128::from(n) - 1);
        (0..n)
            .map(|i| {
                let start = width * u128::from(i);
                let end = if i + 1 == n {
                    u128::MAX
                } else {
                    width * u128::from(i + 1) - 1
                };
                HashKeyRange { start, end }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn md5_routing_matches_aws() {
        // MD5("a") = 0cc175b9c0f1b6a831c399e269772661.
        assert_eq!(
            HashKey::of_partition_key("a").0,
            0x0cc175b9c0f1b6a831c399e269772661
        );
    }

    #[test]
    fn uniform_ranges_match_aws_for_common_shard_counts() {
        // AWS's 2-shard stream: the second shard starts at 2^127.
        let two = HashKeyRange::uniform(2);
        assert_eq!(two[1].start, 1u128 << 127);
        assert_eq!(two[0].end, (1u128 << 127) - 1);
        // AWS's 4-shard stream starts shard 1 at 85070591730234615865843651857942052864 (2^126).
        assert_eq!(
            HashKeyRange::uniform(4)[1].start,
            85070591730234615865843651857942052864
        );
        // 3 shards: AWS uses 113427455640312821154458202477256070485 as the second start.
        assert_eq!(
            HashKeyRange::uniform(3)[1].start,
            113427455640312821154458202477256070485
        );
    }

    #[test]
    fn hash_key_parse_rejects_overflow() {
        assert_eq!(
            HashKey::parse("340282366920938463463374607431768211455"),
            Some(HashKey(u128::MAX))
        );
        assert_eq!(
            HashKey::parse("340282366920938463463374607431768211456"),
            None
        );
        assert_eq!(HashKey::parse("-1"), None);
    }

    proptest! {
        #[test]
        fn keys_hashed_together_hash_as_alone(
            keys in proptest::collection::vec("\\PC{0,70}", 0..40),
            already in 0usize..3,
        ) {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let mut out = vec![HashKey(7); already];
            HashKey::of_partition_keys(&keys, &mut out);
            let alone: Vec<HashKey> = keys.iter().map(|k| HashKey::of_partition_key(k)).collect();
            prop_assert_eq!(&out[..already], &vec![HashKey(7); already][..]);
            prop_assert_eq!(&out[already..], &alone[..]);
        }

        #[test]
        fn uniform_ranges_tile_the_space(n in 1u32..2000) {
            let ranges = HashKeyRange::uniform(n);
            prop_assert_eq!(ranges.len(), n as usize);
            prop_assert_eq!(ranges[0].start, 0);
            prop_assert_eq!(ranges[ranges.len() - 1].end, u128::MAX);
            for pair in ranges.windows(2) {
                prop_assert!(pair[0].start <= pair[0].end);
                prop_assert_eq!(pair[0].end + 1, pair[1].start);
            }
        }

        #[test]
        fn every_key_lands_in_exactly_one_range(key: u128, n in 1u32..64) {
            let ranges = HashKeyRange::uniform(n);
            let owners = ranges.iter().filter(|r| r.contains(HashKey(key))).count();
            prop_assert_eq!(owners, 1);
        }
    }
}
