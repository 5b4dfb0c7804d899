//! The hot path: PutRecords, PutRecord and GetRecords decoded straight from
//! the request bytes into typed structs, with the model's constraints
//! checked on the typed values. One pass, no value tree, no path strings;
//! JSON strings are borrowed from the body.
//!
//! The general path ([`crate::checker`], then a typed decode) stays the
//! authority on errors: when the fast decode fails or any constraint does not
//! hold, [`crate::dispatch`](mod@crate::dispatch) sends the request down the general path, which
//! answers with AWS's exact error. So this module only has to be
//! *conservative*: never accept a body the checker would reject.
//! `tests/model_constraints.rs` proves that for every constraint the model
//! puts on these operations.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::model::{Model, ShapeId, ShapeKind, model};
use crate::protocol::Format;

/// A request the hot path can take: it knows its model constraints.
pub(crate) trait HotRequest {
    /// Whether every constraint of the model holds (required members
    /// present, lengths, patterns, ranges).
    fn accepted(&self) -> bool;
}

/// Decodes a JSON body into `T`, borrowing its strings, if it is a JSON
/// object that `T` accepts. `None` means: take the general path.
pub(crate) fn json<'a, T: Deserialize<'a> + HotRequest>(body: &'a [u8]) -> Option<T> {
    // The checker refuses anything but an object (serde would take an array).
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    serde_json::from_slice::<T>(body)
        .ok()
        .filter(HotRequest::accepted)
}

/// Decodes a JSON body with `scan`, a scanner for its usual shape
/// ([`crate::scan`]), or with serde ([`json`]) where the scanner gives up.
pub(crate) fn scanned_json<'a, T: Deserialize<'a> + HotRequest>(
    body: &'a [u8],
    scan: fn(&'a [u8]) -> Option<T>,
) -> Option<T> {
    match scan(body) {
        Some(request) => Some(request).filter(HotRequest::accepted),
        None => json(body),
    }
}

/// Decodes a CBOR body (a map) into `T`, borrowing its strings and byte
/// strings, if `T` accepts it.
pub(crate) fn cbor<'a, T: Deserialize<'a> + HotRequest>(body: &'a [u8]) -> Option<T> {
    if body.first().is_none_or(|b| b >> 5 != 5) {
        return None;
    }
    crate::cbor::from_slice::<T>(body).filter(HotRequest::accepted)
}

/// A structure member that must arrive as an object: serde's derive would
/// also build the structure from a list, which AWS refuses
/// (SerializationException "Start of list found where not expected").
#[derive(Debug)]
pub(crate) struct MapOnly<T>(pub(crate) T);

impl<T> std::ops::Deref for MapOnly<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MapOnly<T>, D::Error> {
        struct MapVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for MapVisitor<T> {
            type Value = MapOnly<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<MapOnly<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(MapOnly)
            }
        }
        deserializer.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}

/// Whether the hot path takes `body` for `operation` (for tests: it must
/// never take a body the checker refuses).
pub fn accepts(operation: &str, body: &[u8], format: Format) -> bool {
    use crate::ops::{get_records, put_record, put_records};
    match (operation, format) {
        ("PutRecords", Format::Json) => put_records::hot_json(body)
            .is_some_and(|request| put_records::decode_data(&request).is_some()),
        ("PutRecords", Format::Cbor) => {
            cbor::<put_records::Request<Text<'_>, crate::cbor::RawBytes<'_>>>(body).is_some()
        }
        ("PutRecord", Format::Json) => put_record::hot_json(body).is_some(),
        ("PutRecord", Format::Cbor) => cbor::<put_record::Request<Text<'_>>>(body).is_some(),
        ("GetRecords", Format::Json) => json::<get_records::Request<Text<'_>>>(body).is_some(),
        ("GetRecords", Format::Cbor) => cbor::<get_records::Request<Text<'_>>>(body).is_some(),
        _ => false,
    }
}

/// Which decode [`json`]/[`cbor`] a request's format calls for.
pub(crate) fn format() -> Format {
    crate::protocol::current()
}

/// An optional string member as `&str`.
pub(crate) fn text<S: AsRef<str>>(member: &Option<S>) -> Option<&str> {
    member.as_ref().map(AsRef::as_ref)
}

/// A string member, borrowed from a JSON body when it has no escapes.
#[derive(Debug)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'a>, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// One member's constraints, looked up in the model once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rule {
    shape: ShapeId,
    required: bool,
}

impl Rule {
    /// The rule for `member` of the structure `structure`.
    ///
    /// # Panics
    /// The model has no such member: a programming error caught by any test.
    pub(crate) fn of(structure: ShapeId, member: &str) -> Rule {
        let model = model();
        let ShapeKind::Structure { members, required } = &model.shape(structure).kind else {
            panic!("{} is not a structure", model.shape(structure).name);
        };
        let found = members
            .iter()
            .find(|m| m.name == member)
            .unwrap_or_else(|| panic!("no member {member} in {}", model.shape(structure).name));
        Rule {
            shape: found.shape,
            required: required.contains(&member),
        }
    }

    /// The input structure of an operation.
    pub(crate) fn input(operation: &str) -> ShapeId {
        model()
            .input_of(operation)
            .unwrap_or_else(|| panic!("{operation} has no input"))
    }

    /// The element shape of a list member.
    pub(crate) fn element(self) -> ShapeId {
        match model().shape(self.shape).kind {
            ShapeKind::List { member, .. } => member,
            _ => panic!("not a list"),
        }
    }

    fn present<T>(self, value: Option<T>, holds: impl FnOnce(&Model, T) -> bool) -> bool {
        match value {
            None => !self.required,
            Some(value) => holds(model(), value),
        }
    }

    pub(crate) fn text(self, value: Option<&str>) -> bool {
        self.present(value, |model, text| {
            let ShapeKind::String {
                min,
                max,
                pattern,
                allowed,
            } = &model.shape(self.shape).kind
            else {
                return false;
            };
            // AWS counts Java chars (UTF-16 code units).
            let len = if text.is_ascii() {
                text.len()
            } else {
                text.encode_utf16().count()
            };
            within(len, *min, *max)
                && pattern.as_ref().is_none_or(|p| p.matches(text))
                && allowed
                    .as_ref()
                    .is_none_or(|allowed| allowed.contains(&text))
        })
    }

    pub(crate) fn blob(self, len: Option<usize>) -> bool {
        self.present(len, |model, len| match model.shape(self.shape).kind {
            ShapeKind::Blob { min, max } => within(len, min, max),
            _ => false,
        })
    }

    pub(crate) fn integer(self, value: Option<i64>) -> bool {
        self.present(value, |model, n| match model.shape(self.shape).kind {
            ShapeKind::Integer { min, max, .. } => {
                min.is_none_or(|min| n >= min) && max.is_none_or(|max| n <= max)
            }
            _ => false,
        })
    }

    pub(crate) fn list(self, len: Option<usize>) -> bool {
        self.present(len, |model, len| match model.shape(self.shape).kind {
            ShapeKind::List { min, max, .. } => within(len, min, max),
            _ => false,
        })
    }
}

fn within(len: usize, min: Option<i64>, max: Option<i64>) -> bool {
    let len = len as i64;
    min.is_none_or(|min| len >= min) && max.is_none_or(|max| len <= max)
}

/// The rules of the members every stream operation shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamRules {
    name: Rule,
    arn: Rule,
    id: Rule,
}

impl StreamRules {
    pub(crate) fn of(input: ShapeId) -> StreamRules {
        StreamRules {
            name: Rule::of(input, "StreamName"),
            arn: Rule::of(input, "StreamARN"),
            id: Rule::of(input, "StreamId"),
        }
    }

    pub(crate) fn accept(&self, name: Option<&str>, arn: Option<&str>, id: Option<&str>) -> bool {
        self.name.text(name) && self.arn.text(arn) && self.id.text(id)
    }
}
