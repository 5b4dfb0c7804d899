//! A borrowing CBOR reader for the hot path: strings and byte strings are
//! handed to serde as slices of the request body, so a PutRecords batch from
//! the Java SDK or the KCL decodes without a `String` or `Vec` per record.
//!
//! Like the rest of [`crate::hot`], it only has to be *conservative*: it
//! reads the subset of CBOR that clients send for these operations (definite
//! and indefinite-length maps and arrays, definite strings, integers, simple
//! values, 32- and 64-bit floats) and refuses anything else (tags, chunked
//! strings, half floats, trailing bytes, a list where a structure belongs,
//! nesting deeper than [`DEPTH_MAX`]). A refused body takes the general path,
//! where ciborium and the checker answer with AWS's exact error.

use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Deeper than this is refused: requests on the hot path nest three levels,
/// and unknown members must not be able to exhaust the stack.
const DEPTH_MAX: u32 = 16;

/// The reader's only error: "not for the hot path".
#[derive(Debug)]
pub(crate) struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not hot-path CBOR")
    }
}

impl std::error::Error for Refused {}

impl de::Error for Refused {
    fn custom<T: fmt::Display>(_: T) -> Refused {
        Refused
    }
}

/// Decodes `body` as one CBOR item of type `T`, borrowing from it.
pub(crate) fn from_slice<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Option<T> {
    let mut reader = Reader {
        input: body,
        depth: 0,
    };
    let value = T::deserialize(&mut reader).ok()?;
    reader.input.is_empty().then_some(value)
}

/// A byte string member borrowed from a CBOR body (record data).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawBytes<'a>(pub(crate) &'a [u8]);

impl<'de: 'a, 'a> Deserialize<'de> for RawBytes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawBytes<'a>, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = RawBytes<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_borrowed_bytes<E: de::Error>(
                self,
                bytes: &'de [u8],
            ) -> Result<Self::Value, E> {
                Ok(RawBytes(bytes))
            }
        }
        deserializer.deserialize_bytes(BytesVisitor)
    }
}

impl AsRef<[u8]> for RawBytes<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

const BREAK: u8 = 0xff;
const NULL: u8 = 0xf6;

struct Reader<'a> {
    input: &'a [u8],
    depth: u32,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Result<u8, Refused> {
        self.input.first().copied().ok_or(Refused)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Refused> {
        if n > self.input.len() {
            return Err(Refused);
        }
        let (taken, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(taken)
    }

    /// The next item's major type and argument; `None` for an indefinite length.
    fn head(&mut self) -> Result<(u8, Option<u64>), Refused> {
        let initial = self.take(1)?[0];
        let info = initial & 0x1f;
        let argument = match info {
            0..=23 => Some(u64::from(info)),
            24..=27 => {
                let bytes = self.take(1 << (info - 24))?;
                Some(bytes.iter().fold(0, |n, &b| (n << 8) | u64::from(b)))
            }
            31 => None,
            _ => return Err(Refused),
        };
        Ok((initial >> 5, argument))
    }

    fn definite_len(&mut self, len: Option<u64>) -> Result<usize, Refused> {
        usize::try_from(len.ok_or(Refused)?).map_err(|_| Refused)
    }

    fn nested<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, Refused>,
    ) -> Result<T, Refused> {
        self.depth += 1;
        if self.depth > DEPTH_MAX {
            return Err(Refused);
        }
        let value = read(self);
        self.depth -= 1;
        value
    }
}

/// The elements of an array or the entries of a map: `left` of them, or
/// `None` for an indefinite length ended by a break.
struct Items<'r, 'a> {
    reader: &'r mut Reader<'a>,
    left: Option<u64>,
}

impl Items<'_, '_> {
    /// Whether another item follows, consuming the break that ends an
    /// indefinite length.
    fn another(&mut self) -> Result<bool, Refused> {
        match &mut self.left {
            Some(0) => Ok(false),
            Some(left) => {
                *left -= 1;
                Ok(true)
            }
            None if self.reader.peek()? == BREAK => {
                self.reader.take(1)?;
                self.left = Some(0);
                Ok(false)
            }
            None => Ok(true),
        }
    }

    /// Refuses a collection its visitor did not read to the end.
    fn finished(mut self) -> Result<(), Refused> {
        if self.another()? {
            Err(Refused)
        } else {
            Ok(())
        }
    }
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = Refused;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Refused> {
        if !self.another()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

impl<'de> MapAccess<'de> for Items<'_, 'de> {
    type Error = Refused;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Refused> {
        if !self.another()? {
            return Ok(None);
        }
        // Only text keys: serde's derive would take an integer key as the
        // index of a member.
        if self.reader.peek()? >> 5 != 3 {
            return Err(Refused);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Refused> {
        seed.deserialize(&mut *self.reader)
    }
}

impl<'de> Deserializer<'de> for &mut Reader<'de> {
    type Error = Refused;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        let initial = self.peek()?;
        let (major, argument) = self.head()?;
        match major {
            0 => visitor.visit_u64(argument.ok_or(Refused)?),
            1 => {
                let n = i64::try_from(argument.ok_or(Refused)?).map_err(|_| Refused)?;
                visitor.visit_i64(-1 - n)
            }
            2 => {
                let len = self.definite_len(argument)?;
                visitor.visit_borrowed_bytes(self.take(len)?)
            }
            3 => {
                let len = self.definite_len(argument)?;
                let text = std::str::from_utf8(self.take(len)?).map_err(|_| Refused)?;
                visitor.visit_borrowed_str(text)
            }
            4 | 5 => self.nested(|reader| {
                let mut items = Items {
                    reader,
                    left: argument,
                };
                let value = if major == 4 {
                    visitor.visit_seq(&mut items)?
                } else {
                    visitor.visit_map(&mut items)?
                };
                items.finished()?;
                Ok(value)
            }),
            7 => match initial {
                0xf4 => visitor.visit_bool(false),
                0xf5 => visitor.visit_bool(true),
                NULL => visitor.visit_unit(),
                0xfa => visitor.visit_f64(f64::from(f32::from_bits(
                    u32::try_from(argument.ok_or(Refused)?).map_err(|_| Refused)?,
                ))),
                0xfb => visitor.visit_f64(f64::from_bits(argument.ok_or(Refused)?)),
                _ => Err(Refused),
            },
            // Tags (6) are not sent for these operations' members.
            _ => Err(Refused),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        if self.peek()? == NULL {
            self.take(1)?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    /// A structure must be a map: serde's derive would also build one from
    /// an array, which AWS refuses.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Refused> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        if self.peek()? >> 5 != 5 {
            return Err(Refused);
        }
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    struct Entry<'a> {
        #[serde(borrow)]
        data: Option<RawBytes<'a>>,
        #[serde(borrow)]
        partition_key: Option<crate::hot::Text<'a>>,
        limit: Option<i64>,
        dry_run: Option<bool>,
    }

    fn cbor(value: &ciborium::Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(value, &mut out).unwrap();
        out
    }

    fn map(entries: Vec<(&str, ciborium::Value)>) -> ciborium::Value {
        ciborium::Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (ciborium::Value::Text(k.into()), v))
                .collect(),
        )
    }

    #[test]
    fn reads_definite_and_indefinite_maps_borrowing_strings_and_bytes() {
        use ciborium::Value::{Bool, Bytes, Integer, Null, Text};
        let body = cbor(&map(vec![
            ("Data", Bytes(vec![1, 2, 3])),
            ("PartitionKey", Text("k".into())),
            ("Limit", Integer((-5).into())),
            ("DryRun", Bool(true)),
            (
                "Unknown",
                ciborium::Value::Array(vec![Null, map(vec![("x", Integer(1.into()))])]),
            ),
        ]));
        let entry: Entry<'_> = from_slice(&body).unwrap();
        assert_eq!(entry.data.unwrap().0, &[1, 2, 3]);
        assert_eq!(entry.partition_key.as_ref().map(AsRef::as_ref), Some("k"));
        assert!(matches!(
            entry.partition_key.unwrap().0,
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(entry.limit, Some(-5));
        assert_eq!(entry.dry_run, Some(true));

        // The same map with indefinite lengths (as Jackson's CBOR generator
        // writes them): 0xbf … 0xff.
        let mut indefinite = vec![0xbf];
        indefinite.extend(cbor(&Text("PartitionKey".into())));
        indefinite.extend(cbor(&Text("k".into())));
        indefinite.extend(cbor(&Text("Data".into())));
        indefinite.extend(cbor(&Bytes(vec![9])));
        indefinite.push(0xff);
        let entry: Entry<'_> = from_slice(&indefinite).unwrap();
        assert_eq!(entry.data.unwrap().0, &[9]);
        assert_eq!(entry.partition_key.as_ref().map(AsRef::as_ref), Some("k"));
    }

    #[test]
    fn refuses_what_the_hot_path_must_not_take() {
        use ciborium::Value::{Array, Bytes, Integer, Tag, Text};
        let valid = cbor(&map(vec![("PartitionKey", Text("k".into()))]));
        let mut trailing = valid.clone();
        trailing.push(0);
        let mut deep = vec![0xa1, 0x67];
        deep.extend_from_slice(b"Unknown");
        deep.extend(std::iter::repeat_n(0x81, 100));
        deep.push(0);
        let refused: Vec<(&str, Vec<u8>)> = vec![
            ("trailing bytes", trailing),
            ("truncated", valid[..valid.len() - 1].to_vec()),
            (
                "a structure as an array",
                cbor(&Array(vec![Text("k".into())])),
            ),
            (
                "text where bytes belong",
                cbor(&map(vec![("Data", Text("AAAA".into()))])),
            ),
            (
                "bytes where text belongs",
                cbor(&map(vec![("PartitionKey", Bytes(b"k".to_vec()))])),
            ),
            (
                "a tag",
                cbor(&map(vec![("Limit", Tag(1, Box::new(Integer(5.into()))))])),
            ),
            (
                "invalid UTF-8",
                vec![
                    0xa1, 0x6c, b'P', b'a', b'r', b't', b'i', b't', b'i', b'o', b'n', b'K', b'e',
                    b'y', 0x61, 0xff,
                ],
            ),
            ("nesting past the limit", deep),
            ("a chunked string", vec![0xa1, 0x7f, 0x61, b'x', 0xff, 0x00]),
            (
                "an unterminated indefinite map",
                vec![0xbf, 0x61, b'x', 0x00],
            ),
            (
                "a half float",
                vec![0xa1, 0x65, b'L', b'i', b'm', b'i', b't', 0xf9, 0x3c, 0x00],
            ),
            ("an integer key", vec![0xa1, 0x01, 0x61, b'k']),
            ("a map shorter than it says", vec![0xa2, 0x61, b'x', 0x00]),
        ];
        for (what, body) in refused {
            assert!(from_slice::<Entry<'_>>(&body).is_none(), "took {what}");
        }
    }
}
