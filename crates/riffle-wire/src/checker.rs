//! Checks a request body against its model shape, the way AWS does, before
//! any typed decoding: first the JSON/CBOR types (SerializationException),
//! then every constraint (ValidationException).
//!
//! The walk is a serde `DeserializeSeed` driven by the model, so it works on
//! any self-describing format (JSON, CBOR) and keeps only what constraints
//! need: strings, numbers, blob *lengths* and list/map structure. Blob bytes
//! are never copied.

use std::cell::RefCell;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::AwsError;
use crate::model::{Model, ShapeId, ShapeKind, model};
use crate::protocol::Format;
use crate::validate::{Shown, Violations};

/// What the walk kept of a value.
#[derive(Debug)]
enum Value {
    Null,
    Text(String),
    Integer(i64),
    Boolean,
    Blob(usize),
    Timestamp,
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
    /// One entry per model member, in model order; absent members are `Null`.
    Structure(Vec<Value>),
}

/// Checks `body`, in `format`, against the input shape of `operation`.
///
/// # Errors
/// SerializationException for a body of the wrong types, ValidationException
/// for broken constraints.
pub fn check(operation: &str, body: &[u8], format: Format) -> Result<(), AwsError> {
    match format {
        Format::Json => check_json(operation, body),
        Format::Cbor => check_cbor(operation, body),
    }
}

/// Checks a JSON body against the input shape of `operation`.
///
/// # Errors
/// As [`check`].
pub fn check_json(operation: &str, body: &[u8]) -> Result<(), AwsError> {
    let Some(shape) = model().input_of(operation) else {
        return Ok(());
    };
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // AWS answers a body that is not a JSON object with a bare SerializationException.
        return Err(AwsError::serialization(None));
    }
    let mismatch = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let walked = ShapeSeed {
        model: model(),
        shape,
        mismatch: &mismatch,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    let value = walked.map_err(|_| AwsError::serialization(mismatch.take()))?;
    constrain(model(), shape, &value, "")
}

thread_local! {
    /// The shape a CBOR walk starts from, and the mismatch it found. ciborium
    /// only deserializes `DeserializeOwned` types, so the walk's context
    /// travels through this thread-local instead of a seed; the walk is
    /// synchronous, so it cannot leak between requests.
    static CBOR_WALK: (std::cell::Cell<Option<ShapeId>>, RefCell<Option<String>>) =
        const { (std::cell::Cell::new(None), RefCell::new(None)) };
}

/// The result of walking a CBOR body; see [`CBOR_WALK`].
struct CborWalk(Value);

impl<'de> Deserialize<'de> for CborWalk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<CborWalk, D::Error> {
        CBOR_WALK.with(|(shape, mismatch)| {
            let shape = shape.get().expect("check_cbor sets the starting shape");
            ShapeSeed {
                model: model(),
                shape,
                mismatch,
            }
            .deserialize(deserializer)
            .map(CborWalk)
        })
    }
}

/// Checks a CBOR body (definite or indefinite lengths) against the input
/// shape of `operation`.
///
/// # Errors
/// As [`check`].
pub fn check_cbor(operation: &str, body: &[u8]) -> Result<(), AwsError> {
    let Some(shape) = model().input_of(operation) else {
        return Ok(());
    };
    // Major type 5 (a map), definite or indefinite.
    if body.first().is_none_or(|b| b >> 5 != 5) {
        return Err(AwsError::serialization(None));
    }
    let walked = CBOR_WALK.with(|(start, mismatch)| {
        start.set(Some(shape));
        mismatch.take();
        let walked = ciborium::de::from_reader::<CborWalk, _>(body);
        (walked, mismatch.take())
    });
    match walked {
        (Ok(CborWalk(value)), _) => constrain(model(), shape, &value, ""),
        (Err(_), mismatch) => Err(AwsError::serialization(mismatch)),
    }
}

/// Applies every constraint of the model to a walked value.
fn constrain(model: &Model, shape: ShapeId, value: &Value, path: &str) -> Result<(), AwsError> {
    let mut violations = Violations::new();
    check_value(model, shape, value, path, &mut violations);
    violations.finish()
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_owned()
    } else {
        format!("{path}.{member}")
    }
}

fn check_value(model: &Model, shape: ShapeId, value: &Value, path: &str, v: &mut Violations) {
    match (&model.shape(shape).kind, value) {
        (_, Value::Null) => {}
        (ShapeKind::Structure { members, required }, Value::Structure(values)) => {
            for (member, value) in members.iter().zip(values) {
                let member_path = join(path, &member.path_name);
                if matches!(value, Value::Null) && required.contains(&member.name) {
                    v.required(&member_path, &None::<()>);
                } else {
                    check_value(model, member.shape, value, &member_path, v);
                }
            }
        }
        (ShapeKind::List { member, min, max }, Value::List(items)) => {
            let shown = list_shown(model, *member, items);
            v.length(shown, path, items.len(), to_usize(*min), to_usize(*max));
            for (i, item) in items.iter().enumerate() {
                check_value(model, *member, item, &format!("{path}.{}.member", i + 1), v);
            }
        }
        (
            ShapeKind::Map {
                key,
                value: value_shape,
                min,
                max,
            },
            Value::Map(entries),
        ) => {
            let shown = format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, v)| format!("{k}={}", plain(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            v.length(
                Shown::Text(&shown),
                path,
                entries.len(),
                to_usize(*min),
                to_usize(*max),
            );
            for (k, value) in entries {
                check_value(model, *key, &Value::Text(k.clone()), &join(path, "key"), v);
                check_value(model, *value_shape, value, &join(path, "value"), v);
            }
        }
        (
            ShapeKind::String {
                min,
                max,
                pattern,
                allowed,
            },
            Value::Text(text),
        ) => {
            if let Some(allowed) = allowed {
                v.enumeration(path, Some(text), allowed);
            }
            if let Some(pattern) = pattern.as_ref().filter(|p| !p.matches(text)) {
                v.push(
                    Shown::Text(text),
                    path,
                    format_args!("satisfy regular expression pattern: {}", pattern.text),
                );
            }
            // AWS counts Java chars (UTF-16 code units).
            v.length(
                Shown::Text(text),
                path,
                text.encode_utf16().count(),
                to_usize(*min),
                to_usize(*max),
            );
        }
        (ShapeKind::Integer { min, max, .. }, Value::Integer(n)) => {
            v.integer(path, Some(*n), *min, *max)
        }
        (ShapeKind::Blob { min, max }, Value::Blob(len)) => v.length(
            Shown::Blob(*len),
            path,
            *len,
            to_usize(*min),
            to_usize(*max),
        ),
        _ => {}
    }
}

fn to_usize(limit: Option<i64>) -> Option<usize> {
    limit.map(|n| n.max(0) as usize)
}

/// How AWS prints a list value: structures as Java references, scalars as text.
fn list_shown<'a>(model: &'a Model, member: ShapeId, items: &[Value]) -> Shown<'a> {
    match model.shape(member).kind {
        ShapeKind::Structure { .. } => Shown::StructList {
            shape: model.shape(member).name,
            len: items.len(),
        },
        _ => Shown::ScalarList(items.iter().map(plain).collect()),
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Text(text) => text.clone(),
        Value::Integer(n) => n.to_string(),
        Value::Boolean => "true".to_owned(),
        Value::Blob(len) => format!("java.nio.HeapByteBuffer[pos=0 lim={len} cap={len}]"),
        Value::Timestamp => "timestamp".to_owned(),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(plain).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{k}={}", plain(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Structure(_) => "{}".to_owned(),
    }
}

/// Walks one value of shape `shape`. On a type mismatch it records AWS's
/// message in `mismatch` and fails the walk.
#[derive(Clone, Copy)]
struct ShapeSeed<'a> {
    model: &'a Model,
    shape: ShapeId,
    mismatch: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for ShapeSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// The Java type AWS names when it cannot convert a JSON value.
#[derive(Clone, Copy)]
enum Found {
    Number,
    Boolean,
    Text,
}

impl Found {
    fn java_class(self) -> &'static str {
        match self {
            Found::Number => "class com.amazon.coral.value.json.numbers.TruncatingBigNumber",
            Found::Boolean => "class java.lang.Boolean",
            Found::Text => "class java.lang.String",
        }
    }
}

impl ShapeSeed<'_> {
    fn kind(&self) -> &ShapeKind {
        &self.model.shape(self.shape).kind
    }

    fn fail<E: de::Error>(&self, message: String) -> E {
        *self.mismatch.borrow_mut() = Some(message);
        E::custom("type mismatch")
    }

    /// AWS's message for a scalar where this shape cannot take it.
    fn scalar_mismatch<E: de::Error>(&self, found: Found) -> E {
        let message = match self.kind() {
            ShapeKind::String { .. } => {
                format!("{} can not be converted to an String", found.java_class())
            }
            ShapeKind::Integer { long: false, .. } => {
                format!("{} can not be converted to an Integer", found.java_class())
            }
            ShapeKind::Integer { long: true, .. } => {
                format!("{} can not be converted to an Long", found.java_class())
            }
            ShapeKind::Boolean => {
                format!("{} can not be converted to an Boolean", found.java_class())
            }
            ShapeKind::Blob { .. } => {
                format!("{} can not be converted to a Blob", found.java_class())
            }
            ShapeKind::Timestamp => format!(
                "{} can not be converted to milliseconds since epoch",
                found.java_class()
            ),
            ShapeKind::List { .. } => "Expected list or null".to_owned(),
            ShapeKind::Map { .. } => "Expected map or null".to_owned(),
            ShapeKind::Structure { .. } => "Expected null".to_owned(),
        };
        self.fail(message)
    }

    fn number<E: de::Error>(&self, truncated: i64) -> Result<Value, E> {
        match self.kind() {
            ShapeKind::Integer { .. } => Ok(Value::Integer(truncated)),
            ShapeKind::Timestamp => Ok(Value::Timestamp),
            _ => Err(self.scalar_mismatch(Found::Number)),
        }
    }
}

impl<'de> Visitor<'de> for ShapeSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a value of shape {}", self.model.shape(self.shape).name)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Value, E> {
        match self.kind() {
            ShapeKind::Boolean => Ok(Value::Boolean),
            _ => Err(self.scalar_mismatch(Found::Boolean)),
        }
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        self.number(n)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        self.number(i64::try_from(n).unwrap_or(i64::MAX))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        // Coral truncates fractional numbers given for integers.
        self.number(n.trunc() as i64)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Value, E> {
        match self.kind() {
            ShapeKind::String { .. } => Ok(Value::Text(text.to_owned())),
            ShapeKind::Blob { .. } => match base64_decoded_len(text) {
                Ok(len) => Ok(Value::Blob(len)),
                Err(detail) => {
                    Err(self.fail(format!("'{text}' can not be converted to a Blob: {detail}")))
                }
            },
            ShapeKind::Boolean
                if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") =>
            {
                Ok(Value::Boolean)
            }
            ShapeKind::Boolean => Err(self.fail(format!(
                "'{}' can not be converted to an Boolean",
                text.to_uppercase()
            ))),
            _ => Err(self.scalar_mismatch(Found::Text)),
        }
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Value, E> {
        match self.kind() {
            ShapeKind::Blob { .. } => Ok(Value::Blob(bytes.len())),
            ShapeKind::String { .. } => std::str::from_utf8(bytes)
                .map(|text| Value::Text(text.to_owned()))
                .map_err(|_| self.scalar_mismatch(Found::Text)),
            _ => Err(self.scalar_mismatch(Found::Text)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    /// A CBOR tagged item (ciborium presents tags as an enum): tag 1 is a
    /// timestamp; any other tag is looked through.
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        crate::json::tagged_value(data, self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let ShapeKind::List { member, .. } = *self.kind() else {
            return Err(self.fail("Start of list found where not expected".to_owned()));
        };
        let mut items = Vec::new();
        let item_seed = ShapeSeed {
            shape: member,
            ..self
        };
        while let Some(item) = seq.next_element_seed(item_seed)? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match self.kind() {
            ShapeKind::Structure { members, .. } => {
                let mut values: Vec<Value> = members.iter().map(|_| Value::Null).collect();
                while let Some(key) = map.next_key::<std::borrow::Cow<'_, str>>()? {
                    match members.iter().position(|m| m.name == key) {
                        Some(i) => {
                            values[i] = map.next_value_seed(ShapeSeed {
                                shape: members[i].shape,
                                ..self
                            })?
                        }
                        // AWS ignores members it does not know.
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Value::Structure(values))
            }
            ShapeKind::Map { value, .. } => {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    entries.push((
                        key,
                        map.next_value_seed(ShapeSeed {
                            shape: *value,
                            ..self
                        })?,
                    ));
                }
                Ok(Value::Map(entries))
            }
            _ => Err(self.fail("Start of structure or map found where not expected.".to_owned())),
        }
    }
}

/// The decoded length of base64 text, or why AWS's Java decoder refuses it.
pub(crate) fn base64_decoded_len(text: &str) -> Result<usize, String> {
    if !text.len().is_multiple_of(4) {
        return Err(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            text.len()
        ));
    }
    if let Some(at) = text
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')))
    {
        // Every byte before `at` is ASCII, so a character starts there.
        let bad = text[at..].chars().next().expect("a character starts here");
        return Err(format!("Invalid Base64 character: '{bad}'"));
    }
    let padding = text.bytes().rev().take_while(|&b| b == b'=').count();
    let misplaced_padding = padding > 2 || text.trim_end_matches('=').contains('=');
    // The spelling "dectected" is AWS's and part of the contract.
    let last_invalid = || "Invalid last non-pad Base64 character dectected".to_owned();
    if misplaced_padding {
        return Err(last_invalid());
    }
    // Canonical encoding: the bits after the data in the last character are zero.
    if padding > 0 && STANDARD.decode(&text[text.len() - 4..]).is_err() {
        return Err(last_invalid());
    }
    Ok(text.len() / 4 * 3 - padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(operation: &str, body: &str) -> (String, Option<String>) {
        let err = check_json(operation, body.as_bytes()).unwrap_err();
        (err.type_name.to_owned(), err.message)
    }

    #[test]
    fn wrong_types_are_serialization_exceptions_in_aws_words() {
        let ser = |body| message("DescribeStream", body);
        assert_eq!(
            ser(r#"{"StreamName": 5}"#).1.unwrap(),
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"
        );
        assert_eq!(
            ser(r#"{"StreamName": true}"#).1.unwrap(),
            "class java.lang.Boolean can not be converted to an String"
        );
        assert_eq!(
            ser(r#"{"Limit": "x"}"#).1.unwrap(),
            "class java.lang.String can not be converted to an Integer"
        );
        assert_eq!(
            ser(r#"{"StreamName": []}"#).1.unwrap(),
            "Start of list found where not expected"
        );
        assert_eq!(
            ser(r#"{"StreamName": {}}"#).1.unwrap(),
            "Start of structure or map found where not expected."
        );
        assert_eq!(
            message("PutRecords", r#"{"Records": "x"}"#).1.unwrap(),
            "Expected list or null"
        );
        assert_eq!(
            message("DeleteStream", r#"{"EnforceConsumerDeletion": "yes"}"#)
                .1
                .unwrap(),
            "'YES' can not be converted to an Boolean"
        );
        assert_eq!(
            message("PutRecord", r#"{"Data": true}"#).1.unwrap(),
            "class java.lang.Boolean can not be converted to a Blob"
        );
        assert_eq!(
            message("PutRecord", r#"{"Data": "abc"}"#).1.unwrap(),
            "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"
        );
        assert_eq!(
            message("PutRecord", r#"{"Data": "ab!d"}"#).1.unwrap(),
            "'ab!d' can not be converted to a Blob: Invalid Base64 character: '!'"
        );
        assert_eq!(
            message("PutRecord", r#"{"Data": "ab=d"}"#).1.unwrap(),
            "'ab=d' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"
        );
        assert_eq!(
            message("ListShards", r#"{"StreamCreationTimestamp": "now"}"#)
                .1
                .unwrap(),
            "class java.lang.String can not be converted to milliseconds since epoch"
        );
        assert_eq!(
            message("ListShards", "{bad json"),
            ("SerializationException".to_owned(), None)
        );
        assert_eq!(
            message("ListShards", "[]"),
            ("SerializationException".to_owned(), None)
        );
    }

    #[test]
    fn constraints_come_from_the_model() {
        let (kind, text) = message("CreateStream", r#"{"StreamName": "", "ShardCount": 0}"#);
        assert_eq!(kind, "ValidationException");
        assert_eq!(
            text.unwrap(),
            "3 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
        let (_, text) = message(
            "PutRecords",
            r#"{"Records": [{"Data": "", "PartitionKey": ""}]}"#,
        );
        assert_eq!(
            text.unwrap(),
            "1 validation error detected: Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        let (_, text) = message(
            "GetShardIterator",
            r#"{"StreamName": "s", "ShardId": "x", "ShardIteratorType": "NOPE"}"#,
        );
        assert_eq!(
            text.unwrap(),
            "1 validation error detected: Value 'NOPE' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]"
        );
        let (_, text) = message("PutRecords", r#"{}"#);
        assert_eq!(
            text.unwrap(),
            "1 validation error detected: Value null at 'records' failed to satisfy constraint: Member must not be null"
        );
        assert!(check_json("ListStreams", b"{}").is_ok());
        assert!(
            check_json("ListStreams", br#"{"Unknown": [1, {"a": 2}]}"#).is_ok(),
            "unknown members are ignored"
        );
    }

    #[test]
    fn base64_lengths_are_computed_without_decoding() {
        assert_eq!(base64_decoded_len(""), Ok(0));
        assert_eq!(base64_decoded_len("aGk="), Ok(2));
        assert_eq!(base64_decoded_len("aGVsbG8="), Ok(5));
        assert_eq!(base64_decoded_len("aGVs"), Ok(3));
        assert!(base64_decoded_len("a===").is_err());
    }
}
