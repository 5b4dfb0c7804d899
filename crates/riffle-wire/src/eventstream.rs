//! `application/vnd.amazon.eventstream` framing, for SubscribeToShard.
//!
//! ```text
//! total length (u32 BE) | headers length (u32 BE) | prelude CRC32 (u32 BE)
//! headers: name length (u8) | name | type 7 = string (u8) | value length (u16 BE) | value
//! payload
//! message CRC32 (u32 BE, over everything before it)
//! ```

use bytes::{BufMut, Bytes, BytesMut};

/// The media type of an event-stream response.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

const PRELUDE_LEN: usize = 12;
const CRC_LEN: usize = 4;
/// Header value type 7: a UTF-8 string with a 16-bit length.
const STRING_TYPE: u8 = 7;

/// One message with string headers.
pub fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let headers_len: usize = headers
        .iter()
        .map(|(name, value)| 1 + name.len() + 1 + 2 + value.len())
        .sum();
    let total_len = PRELUDE_LEN + headers_len + payload.len() + CRC_LEN;
    let mut out = BytesMut::with_capacity(total_len);
    out.put_u32(total_len as u32);
    out.put_u32(headers_len as u32);
    out.put_u32(crc32fast::hash(&out[..8]));
    for (name, value) in headers {
        out.put_u8(name.len() as u8);
        out.put_slice(name.as_bytes());
        out.put_u8(STRING_TYPE);
        out.put_u16(value.len() as u16);
        out.put_slice(value.as_bytes());
    }
    out.put_slice(payload);
    let crc = crc32fast::hash(&out);
    out.put_u32(crc);
    out.freeze()
}

/// An event message (`:message-type` event).
pub fn event(event_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    frame(
        &[
            (":event-type", event_type),
            (":content-type", content_type),
            (":message-type", "event"),
        ],
        payload,
    )
}

/// An exception message, as SubscribeToShard sends errors once streaming.
pub fn exception(exception_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    frame(
        &[
            (":exception-type", exception_type),
            (":content-type", content_type),
            (":message-type", "exception"),
        ],
        payload,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_lengths_and_checksums() {
        let bytes = event("SubscribeToShardEvent", "application/x-amz-json-1.1", b"{}");
        let total = u32::from_be_bytes(bytes[0..4].try_into().unwrap()) as usize;
        assert_eq!(total, bytes.len());
        let prelude_crc = u32::from_be_bytes(bytes[8..12].try_into().unwrap());
        assert_eq!(prelude_crc, crc32fast::hash(&bytes[..8]));
        let message_crc = u32::from_be_bytes(bytes[total - 4..].try_into().unwrap());
        assert_eq!(message_crc, crc32fast::hash(&bytes[..total - 4]));
        assert_eq!(&bytes[total - 6..total - 4], b"{}");
    }
}
