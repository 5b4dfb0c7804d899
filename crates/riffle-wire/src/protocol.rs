//! The two body encodings Kinesis speaks, and which one the request in
//! flight uses.
//!
//! AWS JSON 1.1 is what boto3, the CLI and the JS SDK send; the Java SDK
//! (and so the KCL) sends `application/x-amz-cbor-1.1` by default. A request
//! is answered in its own encoding. The operation handlers never branch on
//! it: `decode` and `encode` in [`crate::dispatch`](mod@crate::dispatch) read the encoding of the
//! request being served from a task-local set by [`crate::dispatch`](mod@crate::dispatch).

/// A request or response body encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Cbor,
}

pub const CBOR_CONTENT_TYPE: &str = "application/x-amz-cbor-1.1";

impl Format {
    /// The encoding a `Content-Type` names; `None` for one Kinesis does not speak.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case(crate::JSON_CONTENT_TYPE)
            || essence.eq_ignore_ascii_case("application/json")
            || essence.eq_ignore_ascii_case("application/x-amz-json-1.0")
        {
            Some(Format::Json)
        } else if essence.eq_ignore_ascii_case(CBOR_CONTENT_TYPE) {
            Some(Format::Cbor)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => crate::JSON_CONTENT_TYPE,
            Format::Cbor => CBOR_CONTENT_TYPE,
        }
    }
}

tokio::task_local! {
    /// The encoding of the request this task is serving.
    pub(crate) static CURRENT: Format;
}

/// The encoding of the request being served (JSON outside a request).
pub(crate) fn current() -> Format {
    CURRENT.try_with(|format| *format).unwrap_or(Format::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_select_the_encoding() {
        assert_eq!(
            Format::from_content_type("application/x-amz-json-1.1"),
            Some(Format::Json)
        );
        assert_eq!(
            Format::from_content_type("application/json; charset=utf-8"),
            Some(Format::Json)
        );
        assert_eq!(
            Format::from_content_type("application/x-amz-cbor-1.1"),
            Some(Format::Cbor)
        );
        assert_eq!(Format::from_content_type("text/plain"), None);
    }
}
