//! JSON details AWS JSON 1.1 adds on top of serde: base64 blobs, epoch-second
//! timestamps, and SerializationException messages in AWS's words.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use riffle_model::Millis;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serializer};

/// A blob member: base64 text on the wire, bytes in Riffle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Blob, D::Error> {
        struct BlobVisitor;
        impl Visitor<'_> for BlobVisitor {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Blob")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Blob, E> {
                decode_base64(text).map(Blob).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(BlobVisitor)
    }
}

/// Decodes base64 as AWS's Java decoder does, failing with its messages.
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let cannot = |detail: String| format!("'{text}' can not be converted to a Blob: {detail}");
    if !text.len().is_multiple_of(4) {
        return Err(cannot(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            text.len()
        )));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
    {
        return Err(cannot(format!("Invalid Base64 character: '{bad}'")));
    }
    // AWS's spelling, "dectected", is part of the contract.
    STANDARD
        .decode(text)
        .map_err(|_| cannot("Invalid last non-pad Base64 character dectected".to_owned()))
}

/// Serializes bytes as base64 text.
pub fn serialize_blob<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&STANDARD.encode(bytes))
}

/// A timestamp member: epoch seconds (with an optional fraction) on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub Millis);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        struct TimestampVisitor;
        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Timestamp")
            }
            fn visit_u64<E: de::Error>(self, secs: u64) -> Result<Timestamp, E> {
                Ok(Timestamp(Millis(secs.saturating_mul(1000))))
            }
            fn visit_i64<E: de::Error>(self, secs: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(Millis(secs.max(0) as u64 * 1000)))
            }
            fn visit_f64<E: de::Error>(self, secs: f64) -> Result<Timestamp, E> {
                Ok(Timestamp(Millis((secs.max(0.0) * 1000.0).round() as u64)))
            }
        }
        deserializer.deserialize_any(TimestampVisitor)
    }
}

/// Serializes a time as epoch seconds with a millisecond fraction.
pub fn serialize_millis<S: Serializer>(at: &Millis, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(at.as_epoch_seconds())
}

/// Serializes an optional time (skip `None` with `skip_serializing_if`).
pub fn serialize_optional_millis<S: Serializer>(
    at: &Option<Millis>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(at.unwrap_or_default().as_epoch_seconds())
}

/// The SerializationException for a body serde could not decode. A body
/// that is not JSON at all gets no message, as on AWS; a member of the wrong
/// type gets AWS's Java-flavoured message.
pub fn serialization_message(err: &serde_json::Error) -> Option<String> {
    if !err.is_data() {
        return None;
    }
    let text = err.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text);
    let Some(rest) = text.strip_prefix("invalid type: ") else {
        return Some(text.to_owned());
    };
    let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
    let found_kind = found.split(' ').next().unwrap_or("");
    let java_class = match found_kind {
        "integer" | "floating" => "com.amazon.coral.value.json.numbers.TruncatingBigNumber",
        "boolean" => "java.lang.Boolean",
        "string" => "java.lang.String",
        _ => "",
    };
    let message = match (found_kind, expected) {
        ("sequence", e) if !e.contains("sequence") => {
            "Start of list found where not expected".to_owned()
        }
        ("map", e) if !e.starts_with("struct") && !e.contains("map") => {
            "Start of structure or map found where not expected.".to_owned()
        }
        (_, "a sequence") => "Expected list or null".to_owned(),
        (_, "a map") => "Expected map or null".to_owned(),
        (_, e) if e.starts_with("struct") => "Expected null".to_owned(),
        ("string", "a boolean") => {
            let value = found.trim_start_matches("string ").trim_matches('"');
            format!(
                "'{}' can not be converted to an Boolean",
                value.to_uppercase()
            )
        }
        (_, "a string") => format!("class {java_class} can not be converted to an String"),
        (_, "a boolean") => format!("class {java_class} can not be converted to an Boolean"),
        (_, "i64" | "i32" | "u32" | "u64") => {
            format!("class {java_class} can not be converted to an Integer")
        }
        (_, "a Blob") => format!("class {java_class} can not be converted to a Blob"),
        (_, "a Timestamp") => {
            format!("class {java_class} can not be converted to milliseconds since epoch")
        }
        _ => text.to_owned(),
    };
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code, reason = "fields exist to be decoded")]
    struct Probe {
        name: Option<String>,
        count: Option<i64>,
        flag: Option<bool>,
        data: Option<Blob>,
        list: Option<Vec<String>>,
        at: Option<Timestamp>,
    }

    fn message(body: &str) -> Option<String> {
        serialization_message(&serde_json::from_str::<Probe>(body).unwrap_err())
    }

    #[test]
    fn type_errors_read_like_aws() {
        assert_eq!(
            message(r#"{"Name": 5}"#).unwrap(),
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"
        );
        assert_eq!(
            message(r#"{"Name": true}"#).unwrap(),
            "class java.lang.Boolean can not be converted to an String"
        );
        assert_eq!(
            message(r#"{"Count": "x"}"#).unwrap(),
            "class java.lang.String can not be converted to an Integer"
        );
        assert_eq!(
            message(r#"{"Name": []}"#).unwrap(),
            "Start of list found where not expected"
        );
        assert_eq!(
            message(r#"{"Name": {}}"#).unwrap(),
            "Start of structure or map found where not expected."
        );
        assert_eq!(
            message(r#"{"List": "x"}"#).unwrap(),
            "Expected list or null"
        );
        assert_eq!(
            message(r#"{"Flag": "yes"}"#).unwrap(),
            "'YES' can not be converted to an Boolean"
        );
        assert_eq!(
            message(r#"{"Data": true}"#).unwrap(),
            "class java.lang.Boolean can not be converted to a Blob"
        );
        assert_eq!(
            message(r#"{"Data": "abc"}"#).unwrap(),
            "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"
        );
        assert_eq!(
            message(r#"{"Data": "ab!d"}"#).unwrap(),
            "'ab!d' can not be converted to a Blob: Invalid Base64 character: '!'"
        );
        assert_eq!(
            message(r#"{"At": "now"}"#).unwrap(),
            "class java.lang.String can not be converted to milliseconds since epoch"
        );
        assert_eq!(message("not json"), None);
    }

    #[test]
    fn timestamps_accept_integer_and_fractional_seconds() {
        let probe: Probe = serde_json::from_str(r#"{"At": 1.5}"#).unwrap();
        assert_eq!(probe.at, Some(Timestamp(Millis(1500))));
        let probe: Probe = serde_json::from_str(r#"{"At": 2}"#).unwrap();
        assert_eq!(probe.at, Some(Timestamp(Millis(2000))));
    }
}
