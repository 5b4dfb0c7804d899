//! AWS's validation messages.
//!
//! AWS checks every request member against the constraints in its model and
//! reports up to ten failures in one ValidationException:
//!
//! ```text
//! 2 validation errors detected: Value '' at 'streamName' failed to satisfy
//! constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+;
//! Value '' at 'streamName' failed to satisfy constraint: Member must have
//! length greater than or equal to 1
//! ```
//!
//! [`Violations`] collects failures in that format. Each operation calls its
//! checks in the model's member order.

use std::fmt::{self, Write as _};

use crate::error::AwsError;

/// AWS lists at most this many failures in one message.
const VIOLATIONS_LISTED_MAX: usize = 10;

/// How a member's value is shown in a validation message.
#[derive(Clone, Copy, Debug)]
pub enum Shown<'a> {
    Null,
    Text(&'a str),
    Integer(i64),
    /// A blob is shown as the Java `ByteBuffer` AWS held it in.
    Blob(usize),
    /// A list of structures, shown as Java object references.
    StructList {
        shape: &'static str,
        len: usize,
    },
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shown::Null => f.write_str("null"),
            Shown::Text(text) => write!(f, "'{text}'"),
            Shown::Integer(n) => write!(f, "'{n}'"),
            Shown::Blob(len) => write!(f, "'java.nio.HeapByteBuffer[pos=0 lim={len} cap={len}]'"),
            Shown::StructList { shape, len } => {
                f.write_str("'[")?;
                for i in 0..len {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    // AWS prints Java identity hashes here; any hex stands in.
                    write!(
                        f,
                        "com.amazonaws.kinesis.v20131202.{shape}@{:08x}",
                        0x2c6a_3f21_u32.wrapping_add(i as u32 * 0x9e37)
                    )?;
                }
                f.write_str("]'")
            }
        }
    }
}

/// A regular-expression constraint: the text AWS prints, and a check that
/// implements it.
#[derive(Clone, Copy, Debug)]
pub struct Pattern {
    pub text: &'static str,
    pub matches: fn(&str) -> bool,
}

/// The length and pattern constraints of a string shape.
#[derive(Clone, Copy, Debug)]
pub struct StringShape {
    pub min: Option<usize>,
    pub max: Option<usize>,
    pub pattern: Option<Pattern>,
}

/// Failures collected while validating one request.
#[derive(Debug, Default)]
pub struct Violations {
    listed: Vec<String>,
}

impl Violations {
    pub fn new() -> Violations {
        Violations::default()
    }

    pub fn push(&mut self, value: Shown<'_>, path: &str, constraint: fmt::Arguments<'_>) {
        if self.listed.len() < VIOLATIONS_LISTED_MAX {
            let mut line = String::new();
            let _ = write!(
                line,
                "Value {value} at '{path}' failed to satisfy constraint: Member must {constraint}"
            );
            self.listed.push(line);
        }
    }

    /// `Member must not be null`, when a required member is missing.
    pub fn required<T>(&mut self, path: &str, value: &Option<T>) {
        if value.is_none() {
            self.push(Shown::Null, path, format_args!("not be null"));
        }
    }

    /// Pattern first, then length, as AWS orders them.
    pub fn string(&mut self, path: &str, value: Option<&str>, shape: StringShape) {
        let Some(value) = value else { return };
        if let Some(pattern) = shape.pattern
            && !(pattern.matches)(value)
        {
            self.push(
                Shown::Text(value),
                path,
                format_args!("satisfy regular expression pattern: {}", pattern.text),
            );
        }
        // AWS counts Java chars (UTF-16 code units).
        let len = value.encode_utf16().count();
        self.length(Shown::Text(value), path, len, shape.min, shape.max);
    }

    pub fn length(
        &mut self,
        shown: Shown<'_>,
        path: &str,
        len: usize,
        min: Option<usize>,
        max: Option<usize>,
    ) {
        if let Some(min) = min.filter(|&min| len < min) {
            self.push(
                shown,
                path,
                format_args!("have length greater than or equal to {min}"),
            );
        }
        if let Some(max) = max.filter(|&max| len > max) {
            self.push(
                shown,
                path,
                format_args!("have length less than or equal to {max}"),
            );
        }
    }

    pub fn integer(&mut self, path: &str, value: Option<i64>, min: Option<i64>, max: Option<i64>) {
        let Some(value) = value else { return };
        if let Some(min) = min.filter(|&min| value < min) {
            self.push(
                Shown::Integer(value),
                path,
                format_args!("have value greater than or equal to {min}"),
            );
        }
        if let Some(max) = max.filter(|&max| value > max) {
            self.push(
                Shown::Integer(value),
                path,
                format_args!("have value less than or equal to {max}"),
            );
        }
    }

    pub fn enumeration(&mut self, path: &str, value: Option<&str>, allowed: &[&str]) {
        if let Some(value) = value.filter(|v| !allowed.contains(v)) {
            self.push(
                Shown::Text(value),
                path,
                format_args!("satisfy enum value set: [{}]", allowed.join(", ")),
            );
        }
    }

    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// `Ok` when nothing failed, else the ValidationException.
    ///
    /// # Errors
    /// At least one constraint failed.
    pub fn finish(self) -> Result<(), AwsError> {
        if self.listed.is_empty() {
            return Ok(());
        }
        let n = self.listed.len();
        let plural = if n == 1 { "" } else { "s" };
        Err(AwsError::client(
            "ValidationException",
            format!(
                "{n} validation error{plural} detected: {}",
                self.listed.join("; ")
            ),
        ))
    }
}

/// The constraints of botocore's Kinesis shapes used by more than one operation.
pub mod shapes {
    use super::{Pattern, StringShape};
    use riffle_model::name::is_name_byte;

    fn name_chars(value: &str) -> bool {
        !value.is_empty() && value.bytes().all(is_name_byte)
    }

    fn stream_arn(value: &str) -> bool {
        // arn:aws.*:kinesis:.*:\d{12}:stream/\S+
        let Some(rest) = value.strip_prefix("arn:aws") else {
            return false;
        };
        let Some(kinesis_at) = rest.find(":kinesis:") else {
            return false;
        };
        let after = &rest[kinesis_at + ":kinesis:".len()..];
        after.match_indices(":stream/").any(|(i, _)| {
            let account = after[..i]
                .rsplit_once(':')
                .map_or("", |(_, account)| account);
            let resource = &after[i + ":stream/".len()..];
            account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !resource.is_empty()
                && !resource.chars().any(char::is_whitespace)
        })
    }

    /// `0|([1-9]\d{0,max_tail})`.
    fn decimal(value: &str, max_tail: usize) -> bool {
        match value.as_bytes() {
            [b'0'] => true,
            [first, rest @ ..] => {
                (b'1'..=b'9').contains(first)
                    && rest.len() <= max_tail
                    && rest.iter().all(u8::is_ascii_digit)
            }
            [] => false,
        }
    }

    pub const STREAM_NAME: StringShape = StringShape {
        min: Some(1),
        max: Some(128),
        pattern: Some(Pattern {
            text: "[a-zA-Z0-9_.-]+",
            matches: name_chars,
        }),
    };
    pub const STREAM_ARN: StringShape = StringShape {
        min: Some(1),
        max: Some(2048),
        pattern: Some(Pattern {
            text: "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
            matches: stream_arn,
        }),
    };
    pub const SHARD_ID: StringShape = STREAM_NAME;
    pub const PARTITION_KEY: StringShape = StringShape {
        min: Some(1),
        max: Some(256),
        pattern: None,
    };
    pub const HASH_KEY: StringShape = StringShape {
        min: None,
        max: None,
        pattern: Some(Pattern {
            text: "0|([1-9]\\d{0,38})",
            matches: |v| decimal(v, 38),
        }),
    };
    pub const SEQUENCE_NUMBER: StringShape = StringShape {
        min: None,
        max: None,
        pattern: Some(Pattern {
            text: "0|([1-9]\\d{0,128})",
            matches: |v| decimal(v, 128),
        }),
    };
    pub const SHARD_ITERATOR: StringShape = StringShape {
        min: Some(1),
        max: Some(512),
        pattern: None,
    };
    pub const NEXT_TOKEN: StringShape = StringShape {
        min: Some(1),
        max: Some(1_048_576),
        pattern: None,
    };

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn patterns_behave_like_the_model_regexes() {
            let arn = STREAM_ARN.pattern.unwrap().matches;
            assert!(arn("arn:aws:kinesis:us-east-1:000000000000:stream/s"));
            assert!(arn("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s.1"));
            assert!(!arn("arn:aws:kinesis:us-east-1:123:stream/s"));
            assert!(!arn("arn:aws:kinesis:us-east-1:000000000000:stream/"));
            assert!(!arn("arn:aws:sqs:us-east-1:000000000000:stream/s"));
            let hash = HASH_KEY.pattern.unwrap().matches;
            assert!(hash("0") && hash("340282366920938463463374607431768211455"));
            assert!(!hash("01") && !hash("") && !hash("-1") && !hash(&"9".repeat(40)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_count_and_join_like_aws() {
        let mut v = Violations::new();
        v.string("streamName", Some(""), shapes::STREAM_NAME);
        let err = v.finish().unwrap_err();
        assert_eq!(err.type_name, "ValidationException");
        assert_eq!(
            err.message.unwrap(),
            "2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
    }

    #[test]
    fn at_most_ten_failures_are_listed() {
        let mut v = Violations::new();
        for i in 0..15 {
            v.required(&format!("m{i}"), &None::<()>);
        }
        let message = v.finish().unwrap_err().message.unwrap();
        assert!(message.starts_with("10 validation errors detected: Value null at 'm0' failed to satisfy constraint: Member must not be null"));
        assert!(!message.contains("'m10'"));
    }

    #[test]
    fn blobs_show_as_java_byte_buffers() {
        let mut v = Violations::new();
        v.length(
            Shown::Blob(1_048_577),
            "data",
            1_048_577,
            None,
            Some(1_048_576),
        );
        assert_eq!(
            v.finish().unwrap_err().message.unwrap(),
            "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576"
        );
    }
}
