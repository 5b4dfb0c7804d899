//! A strict scanner for the usual shape of a hot JSON request: objects,
//! arrays and strings without escapes, everything borrowed from the body.
//!
//! serde_json's typed decode spends most of its time per member, not per
//! byte: identifying each key, validating each string's UTF-8, and the
//! visitor calls around both. For PutRecords that was about 1,350
//! instructions a record before its data was decoded (callgrind, 500 × 100
//! B). This scanner finds a string's end with one `memchr` and compares
//! keys as bytes.
//!
//! It gives up (`None`) on anything unusual: an escape, a number, `true`,
//! `null`, an unknown or repeated member. The caller then hands the body to
//! serde, which handles all of JSON. So the scanner only has to agree with
//! serde on the bodies it takes, never to take more: a property test for
//! each operation that uses it (PutRecords and PutRecord, both through
//! `arbitrary::agrees_with_serde`) holds it to that.

/// A position in a JSON body.
pub(crate) struct Scanner<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(body: &'a [u8]) -> Scanner<'a> {
        Scanner { body, at: 0 }
    }

    /// The next byte that is not JSON whitespace, left in place.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&byte) = self.body.get(self.at) {
            if !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    /// The next byte that is not JSON whitespace, taken.
    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// A string's bytes between its quotes, if it has no escape. They are
    /// not checked further: the base64 decoder refuses any byte of record
    /// data outside its alphabet.
    pub(crate) fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let rest = &self.body[self.at..];
        let len = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at += len + 1;
        Some(&rest[..len])
    }

    /// The bytes up to the next quote, for a key. An escape is not looked
    /// for: a key is only ever compared with names that have none, so one
    /// with an escape (or cut short at an escaped quote) matches no name.
    fn key(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let rest = &self.body[self.at..];
        let len = memchr::memchr(b'"', rest)?;
        self.at += len + 1;
        Some(&rest[..len])
    }

    /// A string member's text, if it has no escape and no control
    /// character (which JSON does not allow raw in a string) and is valid
    /// UTF-8: serde refuses the last two.
    pub(crate) fn text(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let rest = &self.body[self.at..];
        let len = memchr::memchr(b'"', rest)?;
        let text = &rest[..len];
        // No early exit, so that it compiles to a few vector compares.
        let plain = text.iter().fold(true, |plain, &byte| {
            plain & (byte >= 0x20) & (byte != b'\\')
        });
        if !plain {
            return None;
        }
        self.at += len + 1;
        std::str::from_utf8(text).ok()
    }

    /// Walks an object: `member` gets each key (its raw bytes) and must
    /// take the value that follows.
    pub(crate) fn object(
        &mut self,
        mut member: impl FnMut(&'a [u8], &mut Scanner<'a>) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            self.expect(b':')?;
            member(key, self)?;
            match self.next()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// Walks an array: `element` must take each element.
    pub(crate) fn array(
        &mut self,
        mut element: impl FnMut(&mut Scanner<'a>) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'[')?;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            element(self)?;
            match self.next()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// Nothing but whitespace is left.
    pub(crate) fn end(mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }
}

/// Sets a member seen for the first time (serde refuses a repeated one).
pub(crate) fn first<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

/// JSON bodies shaped like hot requests, usual and not, for property tests
/// that hold the scanner to serde.
#[cfg(test)]
pub(crate) mod arbitrary {
    use std::fmt::Debug;

    use proptest::prelude::*;
    use proptest::strategy::{BoxedStrategy, ValueTree};
    use proptest::test_runner::TestCaseError;

    /// The property every scanner is held to: whatever `scan` takes of
    /// `body`, serde decodes to the same request (compared by `contents`).
    /// A scanner may leave more to serde, never read a body differently.
    pub(crate) fn agrees_with_serde<'a, T: serde::Deserialize<'a>, C: PartialEq + Debug>(
        body: &'a str,
        scan: impl Fn(&'a [u8]) -> Option<T>,
        contents: impl Fn(&T) -> C,
    ) -> Result<(), TestCaseError> {
        if let Some(scanned) = scan(body.as_bytes()) {
            let serde = serde_json::from_slice::<T>(body.as_bytes());
            prop_assert!(serde.is_ok(), "serde refused {}", body);
            prop_assert_eq!(contents(&scanned), contents(&serde.unwrap()), "{}", body);
        }
        Ok(())
    }

    /// Fails unless `scanned` takes some of 1,000 bodies drawn from
    /// `bodies` and leaves others: else a property over them would hold for
    /// want of cases.
    pub(crate) fn assert_both_kinds(
        bodies: impl Strategy<Value = String>,
        scanned: impl Fn(&str) -> bool,
    ) {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let taken = (0..1_000)
            .filter(|_| scanned(&bodies.new_tree(&mut runner).unwrap().current()))
            .count();
        assert!((100..900).contains(&taken), "{taken} of 1,000 taken");
    }

    /// A member's value: mostly strings (plain, base64, empty, non-ASCII,
    /// escaped, with a control character), sometimes anything else.
    pub(crate) fn value() -> BoxedStrategy<String> {
        let string = prop::sample::select(vec![
            r#""a""#,
            r#""QUJD""#,
            r#""QQ==""#,
            r#""""#,
            r#""é""#,
            r#""a\"b""#,
            r#""\u0041""#,
            "\"a\u{1}\"",
            r#""*""#,
        ]);
        let other = prop::sample::select(vec!["null", "1", "true", "{}", "[]"]);
        prop_oneof![8 => string.prop_map(str::to_owned), 1 => other.prop_map(str::to_owned)].boxed()
    }

    /// An object of up to three members named from `keys` (so some repeat),
    /// in any order, with odd whitespace around them (form feed is not JSON
    /// whitespace) and sometimes a stray comma.
    pub(crate) fn object(
        keys: &[&'static str],
        value: BoxedStrategy<String>,
    ) -> BoxedStrategy<String> {
        let space = || prop::sample::select(vec!["", "", " ", "\n", "\t ", "\r\n", "\u{c}"]);
        let key = prop::sample::select(keys.to_vec());
        let stray_comma = prop::sample::select(vec!["", "", "", "", "", "", "", "", "", ","]);
        (
            prop::collection::vec((key, value, space()), 0..4),
            space(),
            space(),
            stray_comma,
        )
            .prop_map(|(members, lead, trail, comma)| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(key, value, space)| format!("{space}\"{key}\"{space}:{space}{value}"))
                    .collect();
                format!("{lead}{{{}{comma}}}{trail}", members.join(","))
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(body: &str) -> Option<Vec<String>> {
        let mut scanner = Scanner::new(body.as_bytes());
        let mut seen = Vec::new();
        scanner.object(|key, scanner| {
            seen.push(String::from_utf8(key.to_vec()).unwrap());
            if scanner.peek()? == b'[' {
                scanner.array(|scanner| {
                    seen.push(scanner.text()?.to_owned());
                    Some(())
                })
            } else {
                seen.push(scanner.text()?.to_owned());
                Some(())
            }
        })?;
        scanner.end()?;
        Some(seen)
    }

    #[test]
    fn takes_objects_arrays_and_plain_strings_with_any_whitespace() {
        assert_eq!(
            strings(" {\"a\" :\t\"x\",\r\n\"b\":[ \"y\" , \"é\" ],\"c\":[]} \n"),
            Some(
                vec!["a", "x", "b", "y", "é", "c"]
                    .into_iter()
                    .map(String::from)
                    .collect()
            )
        );
        assert_eq!(strings("{}"), Some(vec![]));
    }

    #[test]
    fn leaves_everything_else_to_serde() {
        for body in [
            r#"{"a":"x\"y"}"#,
            r#"{"a":"\u0041"}"#,
            r#"{"a":1}"#,
            r#"{"a":null}"#,
            r#"{"a":true}"#,
            r#"{"a":"x",}"#,
            r#"{"a":["x",]}"#,
            r#"{,"a":"x"}"#,
            r#"{"a":"x"} x"#,
            r#"{"a":"x"}{}"#,
            r#"{"a":"x""#,
            r#"{"a":"x"#,
            r#"{"a" "x"}"#,
            "{\"a\":\"x\u{1}\"}",
            "\u{feff}{}",
            "\x0c{}",
            "[]",
            "",
        ] {
            assert_eq!(strings(body), None, "{body}");
        }
        let invalid_utf8 = b"{\"a\":\"\xff\"}";
        let mut scanner = Scanner::new(invalid_utf8);
        assert!(scanner.object(|_, s| s.text().map(drop)).is_none());
    }

    #[test]
    fn a_key_is_handed_over_raw_so_an_escaped_one_matches_no_name() {
        assert_eq!(
            strings(r#"{"Dat\u0061":"x"}"#),
            Some(vec![r"Dat\u0061".to_owned(), "x".to_owned()])
        );
        // Cut short at the escaped quote, then no colon.
        assert_eq!(strings(r#"{"a\"b":"x"}"#), None);
    }

    #[test]
    fn a_repeated_member_is_refused() {
        let mut slot = None;
        assert_eq!(first(&mut slot, 1), Some(()));
        assert_eq!(first(&mut slot, 2), None);
        assert_eq!(slot, Some(1));
    }
}
