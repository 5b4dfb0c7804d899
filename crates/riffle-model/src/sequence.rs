//! Sequence numbers: 56-digit decimal strings, built from fixed-width fields.
//!
//! AWS sequence numbers are 56-digit decimals (about 186 bits). Riffle builds
//! them by concatenating zero-padded decimal fields, so formatting and parsing
//! never need a bignum and numeric order equals field order:
//!
//! ```text
//! 4 | epoch (20 digits) | shard index (12 digits) | offset (23 digits)
//! ```
//!
//! - `epoch` is fixed per shard when it is created: the creation time in
//!   milliseconds, but never less than its parents' epochs plus one. So every
//!   child shard's numbers are greater than all of its parents'.
//! - `offset` is the record's position in its shard's log, so numbers strictly
//!   increase within a shard.
//! - The shard index lets Riffle tell, as AWS does, that a number was issued by
//!   a different shard than the one it is used with.

use std::fmt;

use crate::text::{FixedText, write_padded};

/// The number of decimal digits in every sequence number Riffle issues.
pub const SEQUENCE_DIGITS: usize = 56;

const VERSION_DIGIT: u8 = b'4';
const EPOCH_DIGITS: usize = 20;
const SHARD_DIGITS: usize = 12;
const OFFSET_DIGITS: usize = 23;
const _: () = assert!(1 + EPOCH_DIGITS + SHARD_DIGITS + OFFSET_DIGITS == SEQUENCE_DIGITS);

/// A parsed sequence number. Field order is comparison order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceNumber {
    pub epoch: u64,
    pub shard_index: u32,
    pub offset: u64,
}

impl SequenceNumber {
    /// Parses a number Riffle issued. `None` for any other decimal string,
    /// which callers report as an invalid sequence number for the shard.
    pub fn parse(text: &str) -> Option<SequenceNumber> {
        let bytes = text.as_bytes();
        if bytes.len() != SEQUENCE_DIGITS
            || bytes[0] != VERSION_DIGIT
            || !bytes.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        let (epoch, rest) = text[1..].split_at(EPOCH_DIGITS);
        let (shard, offset) = rest.split_at(SHARD_DIGITS);
        Some(SequenceNumber {
            epoch: epoch.parse().ok()?,
            shard_index: shard.parse().ok()?,
            offset: offset.parse().ok()?,
        })
    }
}

impl SequenceNumber {
    /// The 56 digits, rendered on the stack.
    pub fn text(&self) -> FixedText<SEQUENCE_DIGITS> {
        let mut out = [0u8; SEQUENCE_DIGITS];
        out[0] = VERSION_DIGIT;
        let (epoch, rest) = out[1..].split_at_mut(EPOCH_DIGITS);
        let (shard, offset) = rest.split_at_mut(SHARD_DIGITS);
        write_padded(epoch, self.epoch);
        write_padded(shard, u64::from(self.shard_index));
        write_padded(offset, self.offset);
        FixedText(out)
    }
}

/// Renders many sequence numbers, writing the epoch and shard digits only
/// for a shard not rendered lately. A PutRecords response lists its records
/// in request order, spread over the stream's shards, so the texts of the
/// last few shards are kept: with one, three of four records of a 4-shard
/// stream rendered every digit.
#[derive(Clone, Debug)]
pub struct SequenceTexts {
    recent: [RecentText; RECENT_SHARDS],
    /// The slot the next shard not among them replaces.
    next: usize,
}

const RECENT_SHARDS: usize = 8;

/// A text rendered lately, with the epoch and shard index whose digits it
/// holds.
#[derive(Clone, Copy, Debug)]
struct RecentText {
    of: Option<(u64, u32)>,
    text: [u8; SEQUENCE_DIGITS],
}

impl Default for SequenceTexts {
    fn default() -> Self {
        SequenceTexts {
            recent: [RecentText {
                of: None,
                text: [b'0'; SEQUENCE_DIGITS],
            }; RECENT_SHARDS],
            next: 0,
        }
    }
}

impl SequenceTexts {
    /// `sequence.text()`.
    pub fn text(&mut self, sequence: &SequenceNumber) -> FixedText<SEQUENCE_DIGITS> {
        let prefix = Some((sequence.epoch, sequence.shard_index));
        let slot = match self.recent.iter().position(|recent| recent.of == prefix) {
            Some(slot) => {
                write_padded(
                    &mut self.recent[slot].text[SEQUENCE_DIGITS - OFFSET_DIGITS..],
                    sequence.offset,
                );
                slot
            }
            None => {
                let slot = self.next;
                self.next = (slot + 1) % RECENT_SHARDS;
                self.recent[slot] = RecentText {
                    of: prefix,
                    text: sequence.text().0,
                };
                slot
            }
        };
        FixedText(self.recent[slot].text)
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_sequence() -> impl Strategy<Value = SequenceNumber> {
        (any::<u64>(), any::<u32>(), any::<u64>()).prop_map(|(epoch, shard_index, offset)| {
            SequenceNumber {
                epoch,
                shard_index,
                offset,
            }
        })
    }

    #[test]
    fn sequence_numbers_have_56_digits() {
        let seq = SequenceNumber {
            epoch: 1_795_000_000_000,
            shard_index: 3,
            offset: 42,
        };
        let text = seq.to_string();
        assert_eq!(text.len(), SEQUENCE_DIGITS);
        assert!(text.starts_with('4'));
        assert_eq!(SequenceNumber::parse(&text), Some(seq));
    }

    #[test]
    fn foreign_numbers_do_not_parse() {
        assert_eq!(SequenceNumber::parse("0"), None);
        assert_eq!(SequenceNumber::parse(&"5".repeat(56)), None);
        assert_eq!(
            SequenceNumber::parse(&format!("4{}", "9".repeat(55))),
            None,
            "epoch overflows u64"
        );
    }

    proptest! {
        #[test]
        fn texts_rendered_in_a_row_are_each_numbers_text(
            sequences in proptest::collection::vec(
                // More shards than it keeps texts of, so that some are replaced.
                (0u64..3, 0u32..4, any::<u64>()).prop_map(|(epoch, shard_index, offset)| {
                    SequenceNumber { epoch, shard_index, offset }
                }),
                0..40,
            ),
        ) {
            let mut texts = SequenceTexts::default();
            for sequence in &sequences {
                prop_assert_eq!(texts.text(sequence), sequence.text());
            }
        }

        #[test]
        fn round_trips(seq in arb_sequence()) {
            prop_assert_eq!(SequenceNumber::parse(&seq.to_string()), Some(seq));
        }

        #[test]
        fn string_order_is_numeric_order_is_field_order(a in arb_sequence(), b in arb_sequence()) {
            let (sa, sb) = (a.to_string(), b.to_string());
            prop_assert_eq!(sa.len(), sb.len());
            prop_assert_eq!(sa.cmp(&sb), a.cmp(&b));
        }
    }
}
