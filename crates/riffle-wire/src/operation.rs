//! Operation names, as they appear after `Kinesis_20131202.` in `X-Amz-Target`.

/// The prefix of every Kinesis `X-Amz-Target`.
pub const TARGET_PREFIX: &str = "Kinesis_20131202.";

macro_rules! operations {
    ($($name:ident),* $(,)?) => {
        /// The operations Riffle answers.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Operation { $($name),* }

        impl Operation {
            pub const ALL: &'static [Operation] = &[$(Operation::$name),*];

            pub fn name(self) -> &'static str {
                match self { $(Operation::$name => stringify!($name)),* }
            }

            /// Parses a full `X-Amz-Target` value.
            pub fn from_target(target: &str) -> Option<Operation> {
                match target.strip_prefix(TARGET_PREFIX)? {
                    $(stringify!($name) => Some(Operation::$name),)*
                    _ => None,
                }
            }
        }
    };
}

operations! {
    CreateStream,
    DeleteStream,
    DescribeStream,
    DescribeStreamSummary,
    GetRecords,
    GetShardIterator,
    ListShards,
    ListStreams,
    PutRecord,
    PutRecords,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_only_with_the_kinesis_prefix() {
        assert_eq!(
            Operation::from_target("Kinesis_20131202.PutRecords"),
            Some(Operation::PutRecords)
        );
        assert_eq!(Operation::from_target("PutRecords"), None);
        assert_eq!(Operation::from_target("Kinesis_20131202.Nope"), None);
        for op in Operation::ALL {
            assert_eq!(
                Operation::from_target(&format!("{TARGET_PREFIX}{}", op.name())),
                Some(*op)
            );
        }
    }
}
