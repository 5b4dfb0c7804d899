//! Shard ids: `shardId-` followed by 12 digits, numbered from 0 within a stream.

use std::fmt;

use crate::text::{FixedText, write_padded};

/// The index of a shard within its stream; displayed as `shardId-000000000007`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(pub u32);

const PREFIX: &str = "shardId-";

impl ShardId {
    /// Parses the forms AWS resolves to a shard: `shardId-000000000007`, and
    /// (as AWS also accepts) a shorter digit run such as `shardId-7`.
    /// Returns `None` for anything else, which callers report as "not found".
    pub fn parse(text: &str) -> Option<ShardId> {
        let digits = text.strip_prefix(PREFIX)?;
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .map(ShardId)
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// `shardId-` and 12 digits.
pub const SHARD_ID_LEN: usize = PREFIX.len() + 12;

impl ShardId {
    /// `shardId-000000000007`, rendered on the stack.
    pub fn text(self) -> FixedText<SHARD_ID_LEN> {
        let mut out = [0u8; SHARD_ID_LEN];
        out[..PREFIX.len()].copy_from_slice(PREFIX.as_bytes());
        write_padded(&mut out[PREFIX.len()..], u64::from(self.0));
        FixedText(out)
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ids_have_twelve_digits() {
        assert_eq!(ShardId(7).to_string(), "shardId-000000000007");
        assert_eq!(ShardId::parse("shardId-000000000007"), Some(ShardId(7)));
        assert_eq!(ShardId::parse("shardId-7"), Some(ShardId(7)));
        assert_eq!(ShardId::parse("shard-7"), None);
        assert_eq!(ShardId::parse("shardId-"), None);
        assert_eq!(ShardId::parse("shardId-99999999999999"), None);
    }
}
