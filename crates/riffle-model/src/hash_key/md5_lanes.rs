//! MD5 of several short messages at once.
//!
//! Routing hashes every record's partition key, and most keys are short: one
//! of at most 55 bytes is a single MD5 block. MD5 is one long chain of
//! dependent steps, so a core running one hash mostly waits; [`digests`]
//! runs [`LANES`] blocks side by side instead, each step over an array of
//! lanes, which the compiler turns into SIMD instructions (one SSE2 vector
//! on the baseline x86-64 target). No `unsafe`, no target features, but
//! LLVM needs the two things `step` and `compress` say. Eight lanes as two
//! interleaved vectors were 11% faster again; not worth the second copy.

/// How many messages [`digests`] hashes at once.
pub(crate) const LANES: usize = 4;

/// The longest message that fits one block: 64 bytes less the `0x80`
/// terminator and the 8-byte length.
pub(crate) const SHORT_MAX: usize = 55;

type Lanes = [u32; LANES];

/// The MD5 digests of `messages`, each at most [`SHORT_MAX`] bytes long.
pub(crate) fn digests(messages: [&[u8]; LANES]) -> [[u8; 16]; LANES] {
    let state = compress(&padded_blocks(messages));
    let mut out = [[0u8; 16]; LANES];
    for (lane, digest) in out.iter_mut().enumerate() {
        for (bytes, word) in digest.chunks_exact_mut(4).zip(&state) {
            bytes.copy_from_slice(&word[lane].to_le_bytes());
        }
    }
    out
}

/// MD5's initial state (RFC 1321, 3.3).
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The 64 steps over one block in every lane, from the initial state;
/// returns the final state. Apart from the padding and the digests' bytes:
/// with them in one function, LLVM split the lanes into scalars and never
/// vectorized them.
#[inline(never)]
fn compress(words: &[Lanes; 16]) -> [Lanes; 4] {
    let [mut a, mut b, mut c, mut d] = INIT.map(|word| [word; LANES]);
    // RFC 1321, section 3.4: four rounds of sixteen steps; each round has
    // its own function, message order and four rotations.
    macro_rules! four_steps {
        ($fun:ident, $i:literal, $shifts:expr) => {
            a = step(a, b, c, d, &words[ORDER[$i]], K[$i], $shifts[0], $fun);
            d = step(
                d,
                a,
                b,
                c,
                &words[ORDER[$i + 1]],
                K[$i + 1],
                $shifts[1],
                $fun,
            );
            c = step(
                c,
                d,
                a,
                b,
                &words[ORDER[$i + 2]],
                K[$i + 2],
                $shifts[2],
                $fun,
            );
            b = step(
                b,
                c,
                d,
                a,
                &words[ORDER[$i + 3]],
                K[$i + 3],
                $shifts[3],
                $fun,
            );
        };
    }
    const F: [u32; 4] = [7, 12, 17, 22];
    const G: [u32; 4] = [5, 9, 14, 20];
    const H: [u32; 4] = [4, 11, 16, 23];
    const I: [u32; 4] = [6, 10, 15, 21];
    four_steps!(f, 0, F);
    four_steps!(f, 4, F);
    four_steps!(f, 8, F);
    four_steps!(f, 12, F);
    four_steps!(g, 16, G);
    four_steps!(g, 20, G);
    four_steps!(g, 24, G);
    four_steps!(g, 28, G);
    four_steps!(h, 32, H);
    four_steps!(h, 36, H);
    four_steps!(h, 40, H);
    four_steps!(h, 44, H);
    four_steps!(i_, 48, I);
    four_steps!(i_, 52, I);
    four_steps!(i_, 56, I);
    four_steps!(i_, 60, I);
    let state = [a, b, c, d];
    std::array::from_fn(|i| state[i].map(|word| word.wrapping_add(INIT[i])))
}

/// Each message padded to its one block (RFC 1321, 3.1–3.2), as sixteen
/// little-endian words, word-major so each word is one array of lanes.
fn padded_blocks(messages: [&[u8]; LANES]) -> [Lanes; 16] {
    let mut words = [[0u32; LANES]; 16];
    for (lane, message) in messages.iter().enumerate() {
        assert!(message.len() <= SHORT_MAX, "one block holds 55 bytes");
        let mut block = [0u8; 64];
        block[..message.len()].copy_from_slice(message);
        block[message.len()] = 0x80;
        block[56..].copy_from_slice(&(message.len() as u64 * 8).to_le_bytes());
        for (word, bytes) in words.iter_mut().zip(block.chunks_exact(4)) {
            word[lane] = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
    }
    words
}

/// One step in every lane: `b + ((a + fun(b, c, d) + m + k) <<< shift)`,
/// the new value of `a`. The rotation is spelled as two shifts *added*:
/// LLVM turns `rotate_left`, or the shifts or-ed or xor-ed, into a rotate,
/// which SSE2 lacks, and then leaves the whole step scalar.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step(
    a: Lanes,
    b: Lanes,
    c: Lanes,
    d: Lanes,
    m: &Lanes,
    k: u32,
    shift: u32,
    fun: fn(u32, u32, u32) -> u32,
) -> Lanes {
    std::array::from_fn(|lane| {
        let sum = a[lane]
            .wrapping_add(fun(b[lane], c[lane], d[lane]))
            .wrapping_add(m[lane])
            .wrapping_add(k);
        b[lane].wrapping_add((sum << shift).wrapping_add(sum >> (32 - shift)))
    })
}

#[inline(always)]
fn f(b: u32, c: u32, d: u32) -> u32 {
    (b & c) | (!b & d)
}

#[inline(always)]
fn g(b: u32, c: u32, d: u32) -> u32 {
    (b & d) | (c & !d)
}

#[inline(always)]
fn h(b: u32, c: u32, d: u32) -> u32 {
    b ^ c ^ d
}

#[inline(always)]
fn i_(b: u32, c: u32, d: u32) -> u32 {
    c ^ (b | !d)
}

/// The message word each step adds: in order, then `5i + 1`, `3i + 5` and
/// `7i` (mod 16) in rounds two to four.
const ORDER: [usize; 64] = {
    let mut order = [0; 64];
    let mut i = 0;
    while i < 64 {
        order[i] = match i / 16 {
            0 => i,
            1 => (5 * i + 1) % 16,
            2 => (3 * i + 5) % 16,
            _ => (7 * i) % 16,
        };
        i += 1;
    }
    order
};

/// `floor(abs(sin(i + 1)) * 2^32)`, RFC 1321 section 3.4.
const K: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    /// Every length from 0 to 55, in every lane, against the md-5 crate.
    #[test]
    fn matches_md5_for_every_short_length() {
        let text: Vec<u8> = (0..SHORT_MAX as u8)
            .map(|i| i.wrapping_mul(37) ^ 0x5a)
            .collect();
        for len in 0..=SHORT_MAX {
            let messages: [&[u8]; LANES] = std::array::from_fn(|lane| &text[lane.min(len)..len]);
            let ours = digests(messages);
            for (lane, message) in messages.iter().enumerate() {
                assert_eq!(
                    ours[lane].as_slice(),
                    Md5::digest(message).as_slice(),
                    "length {} in lane {lane}",
                    message.len()
                );
            }
        }
    }

    #[test]
    fn rfc_1321_test_suite() {
        let suite: [(&[u8], &str); 5] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"a", "0cc175b9c0f1b6a831c399e269772661"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                b"abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
        ];
        let messages: [&[u8]; LANES] = std::array::from_fn(|lane| suite[lane % suite.len()].0);
        for (lane, digest) in digests(messages).iter().enumerate() {
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, suite[lane % suite.len()].1);
        }
    }
}
