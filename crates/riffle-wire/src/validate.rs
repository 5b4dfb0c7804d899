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
//! [`Violations`] collects failures in that format; [`crate::checker`] fills
//! it from the model.

use std::fmt::{self, Write as _};

use crate::error::AwsError;

/// AWS lists at most this many failures in one message.
const VIOLATIONS_LISTED_MAX: usize = 10;

/// How a member's value is shown in a validation message.
#[derive(Clone, Debug)]
pub enum Shown<'a> {
    Null,
    Text(&'a str),
    Integer(i64),
    /// A blob is shown as the Java `ByteBuffer` AWS held it in.
    Blob(usize),
    /// A list of structures, shown as Java object references.
    StructList {
        shape: &'a str,
        len: usize,
    },
    /// A list of scalars, shown as `[a, b]`.
    ScalarList(Vec<String>),
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Null => f.write_str("null"),
            Shown::Text(text) => write!(f, "'{text}'"),
            Shown::Integer(n) => write!(f, "'{n}'"),
            Shown::Blob(len) => write!(f, "'java.nio.HeapByteBuffer[pos=0 lim={len} cap={len}]'"),
            Shown::ScalarList(items) => write!(f, "'[{}]'", items.join(", ")),
            Shown::StructList { shape, len } => {
                f.write_str("'[")?;
                for i in 0..*len {
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
                shown.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_count_and_join_like_aws() {
        let mut v = Violations::new();
        v.length(Shown::Text(""), "streamName", 0, Some(1), None);
        v.integer("limit", Some(0), Some(1), None);
        let err = v.finish().unwrap_err();
        assert_eq!(err.type_name, "ValidationException");
        assert_eq!(
            err.message.unwrap(),
            "2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
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
