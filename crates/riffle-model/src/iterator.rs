//! Shard-iterator tokens: opaque, authenticated and expiring.
//!
//! A token carries everything needed to resume reading (stream incarnation,
//! shard, offset) plus its issue time, sealed with a truncated HMAC-SHA256 so
//! clients can neither forge nor edit one. Base64 keeps it printable; at 60
//! characters it is far under the 512-character limit.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::time::Millis;

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 8 + 4 + 8 + 8;
const MAC_LEN: usize = 16;
const TOKEN_LEN: usize = BODY_LEN + MAC_LEN;

/// The server's secret for sealing iterators. Persisted with the metadata so
/// iterators survive a restart, as they do across AWS's own deployments.
#[derive(Clone)]
pub struct IteratorKey([u8; 32]);

impl std::fmt::Debug for IteratorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IteratorKey(..)")
    }
}

impl IteratorKey {
    pub fn from_bytes(bytes: [u8; 32]) -> IteratorKey {
        IteratorKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn mac(&self, body: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts any key length");
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }
}

/// What a shard iterator points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IteratorToken {
    /// The stream's incarnation: a stream deleted and recreated under the same
    /// name gets a new one, so old iterators cannot read the new stream.
    pub stream_uid: u64,
    pub shard_index: u32,
    /// The log offset of the next record to return.
    pub offset: u64,
    pub issued_at: Millis,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not base64, wrong length, unknown version or a bad MAC.
    Invalid,
}

impl IteratorToken {
    pub fn encode(&self, key: &IteratorKey) -> String {
        let mut raw = [0u8; TOKEN_LEN];
        raw[0] = VERSION;
        raw[1..9].copy_from_slice(&self.stream_uid.to_be_bytes());
        raw[9..13].copy_from_slice(&self.shard_index.to_be_bytes());
        raw[13..21].copy_from_slice(&self.offset.to_be_bytes());
        raw[21..29].copy_from_slice(&self.issued_at.0.to_be_bytes());
        let mac = key.mac(&raw[..BODY_LEN]);
        raw[BODY_LEN..].copy_from_slice(&mac);
        STANDARD.encode(raw)
    }

    pub fn decode(text: &str, key: &IteratorKey) -> Result<IteratorToken, TokenError> {
        let mut raw = [0u8; TOKEN_LEN + 2];
        let n = STANDARD
            .decode_slice(text.as_bytes(), &mut raw)
            .map_err(|_| TokenError::Invalid)?;
        if n != TOKEN_LEN || raw[0] != VERSION {
            return Err(TokenError::Invalid);
        }
        // Not constant-time: a timing oracle on iterator MACs gains an attacker
        // only the ability to read a stream they could already name.
        if key.mac(&raw[..BODY_LEN]) != raw[BODY_LEN..TOKEN_LEN] {
            return Err(TokenError::Invalid);
        }
        let u64_at = |i: usize| u64::from_be_bytes(raw[i..i + 8].try_into().expect("8 bytes"));
        Ok(IteratorToken {
            stream_uid: u64_at(1),
            shard_index: u32::from_be_bytes(raw[9..13].try_into().expect("4 bytes")),
            offset: u64_at(13),
            issued_at: Millis(u64_at(21)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(byte: u8) -> IteratorKey {
        IteratorKey::from_bytes([byte; 32])
    }

    #[test]
    fn edited_tokens_are_refused() {
        let token = IteratorToken {
            stream_uid: 9,
            shard_index: 1,
            offset: 5,
            issued_at: Millis(77),
        };
        let text = token.encode(&key(1));
        assert_eq!(IteratorToken::decode(&text, &key(1)), Ok(token));
        assert_eq!(
            IteratorToken::decode(&text, &key(2)),
            Err(TokenError::Invalid)
        );
        let mut edited = text.clone().into_bytes();
        edited[10] = if edited[10] == b'A' { b'B' } else { b'A' };
        let edited = String::from_utf8(edited).unwrap();
        assert_eq!(
            IteratorToken::decode(&edited, &key(1)),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            IteratorToken::decode("not a token", &key(1)),
            Err(TokenError::Invalid)
        );
        assert_eq!(IteratorToken::decode("", &key(1)), Err(TokenError::Invalid));
    }

    proptest! {
        #[test]
        fn tokens_round_trip(uid: u64, shard: u32, offset: u64, at: u64) {
            let token = IteratorToken { stream_uid: uid, shard_index: shard, offset, issued_at: Millis(at) };
            let text = token.encode(&key(3));
            prop_assert!(text.len() <= 512);
            prop_assert_eq!(IteratorToken::decode(&text, &key(3)), Ok(token));
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,100}") {
            let _ = IteratorToken::decode(&text, &key(3));
        }
    }
}
