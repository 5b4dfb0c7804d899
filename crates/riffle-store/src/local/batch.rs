//! The on-disk framing of one append.
//!
//! ```text
//! offset size field
//!      0    4 body_len     bytes after this 8-byte prefix (u32 LE)
//!      4    4 crc32c       CRC32C of the body (u32 LE)
//!      8    8 base_offset  offset of the first record (u64 LE)
//!     16    4 count        number of records (u32 LE)
//!     20    8 arrival_ms   arrival time shared by the batch (u64 LE)
//!     28    … records      count × [pk_len u16][data_len u32][pk][data]
//! ```
//!
//! A batch is written with one `write` and is valid only if its CRC matches,
//! so recovery can tell a torn tail from good data.

use bytes::Bytes;
use riffle_model::Millis;

use crate::record::{NewRecord, Record};

pub const PREFIX_LEN: usize = 8;
pub const HEADER_LEN: usize = 28;
const RECORD_HEADER_LEN: usize = 6;
/// Refuse to believe a batch header claiming more than this: PutRecords is
/// capped well below it, so a larger value means corruption.
pub const BODY_LEN_MAX: usize = 64 * 1024 * 1024;

/// The fixed fields of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub body_len: u32,
    pub crc: u32,
    pub base_offset: u64,
    pub count: u32,
    pub arrival: Millis,
}

impl BatchHeader {
    /// Total bytes of the batch on disk.
    pub fn total_len(&self) -> usize {
        PREFIX_LEN + self.body_len as usize
    }

    pub fn end_offset(&self) -> u64 {
        self.base_offset + u64::from(self.count)
    }

    /// Reads the header fields; checks only that the length is plausible.
    pub fn parse(bytes: &[u8]) -> Option<BatchHeader> {
        let bytes = bytes.get(..HEADER_LEN)?;
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let header = BatchHeader {
            body_len: u32_at(0),
            crc: u32_at(4),
            base_offset: u64_at(8),
            count: u32_at(16),
            arrival: Millis(u64_at(20)),
        };
        let body_len = header.body_len as usize;
        (HEADER_LEN - PREFIX_LEN..=BODY_LEN_MAX)
            .contains(&body_len)
            .then_some(header)
    }
}

/// Encodes records into `out` (cleared first).
pub fn encode(records: &[NewRecord<'_>], base_offset: u64, arrival: Millis, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0u8; PREFIX_LEN]);
    out.extend_from_slice(&base_offset.to_le_bytes());
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    out.extend_from_slice(&arrival.0.to_le_bytes());
    for record in records {
        out.extend_from_slice(&(record.partition_key.len() as u16).to_le_bytes());
        out.extend_from_slice(&(record.data.len() as u32).to_le_bytes());
        out.extend_from_slice(record.partition_key.as_bytes());
        out.extend_from_slice(record.data);
    }
    let body_len = (out.len() - PREFIX_LEN) as u32;
    let crc = crc32c::crc32c(&out[PREFIX_LEN..]);
    out[0..4].copy_from_slice(&body_len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Checks a whole batch (header and body) against its CRC.
pub fn verify(batch: &[u8], header: &BatchHeader) -> bool {
    batch.len() == header.total_len() && crc32c::crc32c(&batch[PREFIX_LEN..]) == header.crc
}

/// What a reader wants done with one decoded record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    Yes,
    Skip,
    Stop,
}

/// Decodes the records of a verified batch held in `batch` (a slice of a
/// shared buffer, so records borrow rather than copy), offering each to
/// `take`. Returns `None` if the record framing disagrees with the header,
/// `Some(true)` if `take` asked to stop.
pub fn decode_records(
    batch: &Bytes,
    header: &BatchHeader,
    mut take: impl FnMut(&Record) -> Take,
    out: &mut Vec<Record>,
) -> Option<bool> {
    let mut pos = HEADER_LEN;
    for i in 0..header.count {
        let fixed = batch.get(pos..pos + RECORD_HEADER_LEN)?;
        let pk_len = usize::from(u16::from_le_bytes([fixed[0], fixed[1]]));
        let data_len = u32::from_le_bytes(fixed[2..6].try_into().expect("4 bytes")) as usize;
        let pk_start = pos + RECORD_HEADER_LEN;
        let data_start = pk_start + pk_len;
        let data_end = data_start.checked_add(data_len)?;
        if data_end > batch.len() {
            return None;
        }
        let record = Record {
            offset: header.base_offset + u64::from(i),
            arrival: header.arrival,
            partition_key: batch.slice(pk_start..data_start),
            data: batch.slice(data_start..data_end),
        };
        match take(&record) {
            Take::Yes => out.push(record),
            Take::Skip => {}
            Take::Stop => return Some(true),
        }
        pos = data_end;
    }
    (pos == batch.len()).then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_batches_decode_and_verify() {
        let records = [
            NewRecord {
                partition_key: "a",
                data: b"hello",
            },
            NewRecord {
                partition_key: "bb",
                data: b"",
            },
        ];
        let mut buf = Vec::new();
        encode(&records, 10, Millis(5), &mut buf);
        let header = BatchHeader::parse(&buf).unwrap();
        assert_eq!(header.base_offset, 10);
        assert_eq!(header.count, 2);
        assert_eq!(header.total_len(), buf.len());
        assert!(verify(&buf, &header));
        let bytes = Bytes::from(buf.clone());
        let mut out = Vec::new();
        decode_records(&bytes, &header, |_| Take::Yes, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(&out[0].data[..], b"hello");
        assert_eq!(&out[1].partition_key[..], b"bb");
        assert_eq!(out[1].offset, 11);

        let mut flipped = buf;
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(
            !verify(&flipped, &header),
            "a flipped bit must fail the CRC"
        );
    }
}
