//! Stream names: 1–128 characters from `[a-zA-Z0-9_.-]`.

use std::fmt;

use crate::limits::STREAM_NAME_LEN_MAX;

/// A stream name that satisfies botocore's `StreamName` shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamName(String);

impl StreamName {
    /// Accepts `name` when it has the length and characters AWS allows.
    pub fn parse(name: &str) -> Option<StreamName> {
        let valid_len = (1..=STREAM_NAME_LEN_MAX).contains(&name.len());
        (valid_len && name.bytes().all(is_name_byte)).then(|| StreamName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The character class of botocore's `[a-zA-Z0-9_.-]+` patterns (stream and
/// shard ids share it).
pub fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_botocore_pattern() {
        assert!(StreamName::parse("my-stream_1.0").is_some());
        assert!(StreamName::parse("").is_none());
        assert!(StreamName::parse("has space").is_none());
        assert!(StreamName::parse(&"a".repeat(128)).is_some());
        assert!(StreamName::parse(&"a".repeat(129)).is_none());
    }
}
