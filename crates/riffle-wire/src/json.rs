//! JSON details AWS JSON 1.1 adds on top of serde: base64 blobs, epoch-second
//! timestamps, and SerializationException messages in AWS's words.

use std::borrow::Cow;
use std::fmt;

use riffle_model::{FixedText, Millis};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A blob member: base64 text in JSON, a byte string in CBOR.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Blob {
    /// A blob from base64 text as it stands in a body, if it decodes: the
    /// one decoder of both paths (serde's, through `decode_base64`, phrases
    /// AWS's message when it does not).
    pub(crate) fn from_base64(text: &[u8]) -> Option<Blob> {
        base64_simd::STANDARD.decode_to_vec(text).ok().map(Blob)
    }
}

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
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Blob, E> {
                Ok(Blob(bytes.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(bytes))
            }
        }
        deserializer.deserialize_any(BlobVisitor)
    }
}

/// A blob member of a JSON body still in base64, borrowed from the body when
/// it has no escapes. The hot PutRecords path decodes every record's data
/// into one buffer ([`decode_all`]) rather than a `Vec` per record, and
/// taking the string as bytes skips serde_json's UTF-8 check of borrowed
/// strings (the base64 decoder refuses any byte outside its alphabet anyway).
#[derive(Debug)]
pub(crate) struct Base64Text<'a>(Cow<'a, [u8]>);

impl<'a> Base64Text<'a> {
    /// Base64 text borrowed from a body, as it stands between its quotes.
    pub(crate) fn borrowed(text: &'a [u8]) -> Base64Text<'a> {
        Base64Text(Cow::Borrowed(text))
    }

    /// The text as it stood in the body.
    #[cfg(test)]
    pub(crate) fn raw(&self) -> &[u8] {
        &self.0
    }

    /// The decoded length, if the text's length and padding can be base64.
    pub(crate) fn decoded_len(&self) -> Option<usize> {
        base64_simd::STANDARD.decoded_length(&self.0).ok()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Base64Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Base64Text<'a>, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Base64Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Blob")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, text: &'de [u8]) -> Result<Self::Value, E> {
                Ok(Base64Text(Cow::Borrowed(text)))
            }
            fn visit_bytes<E: de::Error>(self, text: &[u8]) -> Result<Self::Value, E> {
                Ok(Base64Text(Cow::Owned(text.to_owned())))
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                self.visit_borrowed_bytes(text.as_bytes())
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                self.visit_bytes(text.as_bytes())
            }
        }
        // serde_json hands a string to `deserialize_bytes` as its raw bytes
        // (escapes resolved), without validating UTF-8.
        deserializer.deserialize_bytes(TextVisitor)
    }
}

/// Decodes base64 blobs into one buffer, returning the buffer and each
/// blob's decoded length in order; `None` if any is absent or not valid
/// base64 (the general path then answers with AWS's message).
pub(crate) fn decode_all<'t>(
    blobs: impl Iterator<Item = Option<&'t Base64Text<'t>>> + Clone,
) -> Option<(Vec<u8>, Vec<usize>)> {
    // Sized up front: collecting `Option`s would grow it a push at a time.
    let mut lens = Vec::with_capacity(blobs.size_hint().0);
    for blob in blobs.clone() {
        lens.push(blob?.decoded_len()?);
    }
    // Appended to, not zeroed first: the zeros were 4% of PutRecords'
    // instructions (callgrind).
    let mut decoded = Vec::with_capacity(lens.iter().sum());
    for blob in blobs {
        base64_simd::STANDARD
            .decode_append(&blob?.0, &mut decoded)
            .ok()?;
    }
    Some((decoded, lens))
}

/// Decodes base64 as AWS's Java decoder does, failing with its messages.
/// The strict decoder accepts only what AWS's does (a property test in
/// `checker` holds it to that), so the detailed check runs on failure only.
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    Blob::from_base64(text.as_bytes())
        .map(|blob| blob.0)
        .ok_or_else(|| {
            let detail = crate::checker::base64_decoded_len(text)
                .err()
                .unwrap_or_else(|| "Invalid last non-pad Base64 character dectected".to_owned());
            format!("'{text}' can not be converted to a Blob: {detail}")
        })
}

/// Serializes bytes: base64 text in JSON, a byte string in CBOR.
pub fn serialize_blob<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        // Encoded into a reused per-thread buffer: no String per record.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        SCRATCH.with_borrow_mut(|scratch| {
            let len = base64_simd::STANDARD.encoded_length(bytes.len());
            scratch.resize(len, 0);
            let text =
                base64_simd::STANDARD.encode_as_str(bytes, base64_simd::Out::from_slice(scratch));
            serializer.serialize_str(text)
        })
    } else {
        serializer.serialize_bytes(bytes)
    }
}

/// A sequence number or shard id rendered on the stack, serialized as a string.
#[derive(Clone, Copy, Debug)]
pub struct Digits<const N: usize>(pub FixedText<N>);

impl<const N: usize> Serialize for Digits<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

/// Appends `"text"` for text that needs no JSON escaping (digits, ids,
/// base64, fixed names): the hand-written hot responses skip serde's
/// per-byte escaping for these.
pub(crate) fn push_plain(out: &mut Vec<u8>, text: &str) {
    debug_assert!(!needs_escaping(text), "{text:?} needs escaping");
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// Appends any text as a JSON string, escaped exactly as serde_json does.
pub(crate) fn push_text(out: &mut Vec<u8>, text: &str) {
    if needs_escaping(text) {
        serde_json::to_writer(&mut *out, text).expect("writing to a Vec cannot fail");
    } else {
        push_plain(out, text);
    }
}

/// Appends `"name":`, after a comma unless it is the object's first member.
pub(crate) fn push_key(out: &mut Vec<u8>, first: &mut bool, name: &str) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    push_plain(out, name);
    out.push(b':');
}

fn needs_escaping(text: &str) -> bool {
    text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

/// A timestamp member. JSON carries epoch seconds (with an optional
/// fraction); CBOR carries tag 1 around epoch *milliseconds*, as the Java SDK
/// writes it. A CBOR value too small to be milliseconds of this era (below
/// 10^11, i.e. 1973) is read as seconds, which is what generic CBOR encoders
/// put under tag 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub Millis);

/// Milliseconds below this in a CBOR timestamp are taken to be seconds.
const CBOR_SECONDS_BELOW: f64 = 1e11;

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let human_readable = deserializer.is_human_readable();
        let number = deserializer.deserialize_any(NumberVisitor)?;
        let millis = if human_readable || number < CBOR_SECONDS_BELOW {
            number * 1000.0
        } else {
            number
        };
        Ok(Timestamp(Millis(millis.max(0.0).round() as u64)))
    }
}

/// Reads a number, looking through a CBOR tag if there is one.
struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Timestamp")
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<f64, E> {
        Ok(n as f64)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<f64, E> {
        Ok(n as f64)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<f64, E> {
        Ok(n)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<f64, A::Error> {
        tagged_value(data, NumberVisitor)
    }
}

/// ciborium presents a tagged item as the enum variant `@@TAGGED@@(tag,
/// value)` (or `@@UNTAGGED@@(value)`); this unwraps it for `inner`.
pub(crate) fn tagged_value<'de, A, V>(data: A, inner: V) -> Result<V::Value, A::Error>
where
    A: de::EnumAccess<'de>,
    V: Visitor<'de>,
{
    use serde::de::VariantAccess;
    let (variant, access) = data.variant::<String>()?;
    match variant.as_str() {
        "@@TAGGED@@" => access.tuple_variant(2, TaggedSeq(inner)),
        _ => access.newtype_variant_seed(VisitorSeed(inner)),
    }
}

/// Visits `(tag, value)` and hands the value to the inner visitor.
struct TaggedSeq<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for TaggedSeq<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tagged value")
    }
    fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<V::Value, S::Error> {
        let _tag: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("missing tag"))?;
        seq.next_element_seed(VisitorSeed(self.0))?
            .ok_or_else(|| de::Error::custom("missing tagged value"))
    }
}

/// A visitor used as a seed.
struct VisitorSeed<V>(V);

impl<'de, V: Visitor<'de>> de::DeserializeSeed<'de> for VisitorSeed<V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        deserializer.deserialize_any(self.0)
    }
}

/// Serializes a time: epoch seconds with a millisecond fraction in JSON,
/// tag 1 around epoch milliseconds in CBOR.
pub fn serialize_millis<S: Serializer>(at: &Millis, serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        serializer.serialize_f64(at.as_epoch_seconds())
    } else {
        ciborium::tag::Required::<u64, 1>(at.0).serialize(serializer)
    }
}

/// Serializes an optional time (skip `None` with `skip_serializing_if`).
pub fn serialize_optional_millis<S: Serializer>(
    at: &Option<Millis>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serialize_millis(&at.unwrap_or_default(), serializer)
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 5_000, .. Default::default() })]
        /// The fast decode may only take what AWS's decoder takes: the
        /// detailed check is skipped whenever it succeeds.
        #[test]
        fn the_strict_decoder_takes_only_what_aws_takes(text in "[AQgw+/=*a-]{0,40}") {
            let strict = base64_simd::STANDARD.decode_to_vec(&text);
            let aws = crate::checker::base64_decoded_len(&text);
            proptest::prop_assert_eq!(strict.is_ok(), aws.is_ok(), "{:?}", text);
            if let (Ok(bytes), Ok(len)) = (strict, aws) {
                proptest::prop_assert_eq!(bytes.len(), len);
            }
        }
    }

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
