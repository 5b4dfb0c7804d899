//! GetShardIterator.

use riffle_model::{IteratorToken, Millis, SequenceNumber, ShardId};

use crate::error::{EngineError, EngineResult};
use crate::{Engine, StreamRef};

/// Where an iterator starts; botocore's `ShardIteratorType` with its argument.
#[derive(Clone, Debug)]
pub enum IteratorStart {
    TrimHorizon,
    Latest,
    AtSequenceNumber(String),
    AfterSequenceNumber(String),
    AtTimestamp(Millis),
}

/// Resolves a ShardId argument the way AWS does: the digits after the first
/// `-` (or the whole string), as a number no larger than `i32::MAX`. So
/// `shardId-5`, `shardId-000000000005` and `5` all name shard 5.
pub fn resolve_shard_id(raw: &str) -> Option<ShardId> {
    let digits = raw.split_once('-').map_or(raw, |(_, rest)| rest);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    if trimmed.len() > 10 {
        return None;
    }
    let index: u64 = if trimmed.is_empty() {
        0
    } else {
        trimmed.parse().ok()?
    };
    (index <= i32::MAX as u64).then_some(ShardId(index as u32))
}

impl Engine {
    /// Issues an iterator for a shard.
    ///
    /// # Errors
    /// The stream or shard does not exist, or the starting position is
    /// invalid for this shard (AWS's InvalidArgumentException messages).
    pub fn get_shard_iterator(
        &self,
        stream_ref: &StreamRef,
        shard_raw: &str,
        start: IteratorStart,
    ) -> EngineResult<String> {
        let stream_name = stream_ref.display_name();
        let shard_id =
            resolve_shard_id(shard_raw).ok_or_else(|| EngineError::ShardIdUnparsable {
                stream: riffle_model::StreamName::parse(stream_name)
                    .expect("stream refs hold valid names"),
                raw: shard_raw.to_owned(),
            })?;
        let not_found = || EngineError::ShardNotFound {
            stream: stream_name.to_owned(),
            shard: shard_id,
        };
        let stream = self.lookup(stream_ref).map_err(|_| not_found())?;
        let now = self.now();
        let state = stream.state.read();
        if !state.status(now).accepts_data() {
            return Err(not_found());
        }
        let shard = state.shard(shard_id, now).ok_or_else(not_found)?;
        let offset = self.start_offset(&stream, shard, &start, now, "GetShardIterator")?;
        let token = IteratorToken {
            stream_uid: stream.uid,
            shard_index: shard_id.0,
            offset,
            issued_at: now,
        };
        Ok(token.encode(&self.inner.iterator_key))
    }

    /// The log offset a starting position names on `shard`, with AWS's
    /// InvalidArgumentException messages (`operation` names the caller).
    pub(crate) fn start_offset(
        &self,
        stream: &crate::stream::Stream,
        shard: &crate::stream::Shard,
        start: &IteratorStart,
        now: Millis,
        operation: &str,
    ) -> EngineResult<u64> {
        let account = self.inner.config.account.as_str();
        let shard_id = shard.id;
        let offset = match start {
            IteratorStart::TrimHorizon => shard.log()?.bounds().start,
            IteratorStart::Latest => shard.log()?.bounds().end,
            IteratorStart::AtTimestamp(at) => {
                let at = *at;
                if at > now {
                    return Err(EngineError::InvalidArgument(format!(
                        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {}, currentTimestampInMillis: {}",
                        at.0, now.0
                    )));
                }
                shard.log()?.offset_at_time(at)?
            }
            IteratorStart::AtSequenceNumber(text) | IteratorStart::AfterSequenceNumber(text) => {
                let invalid = |suffix: &str| {
                    EngineError::InvalidArgument(format!(
                        "StartingSequenceNumber {text} used in {operation} on shard {shard_id} in stream {} under account {account} is invalid{suffix}.",
                        stream.name
                    ))
                };
                let sequence = SequenceNumber::parse(text).ok_or_else(|| invalid(""))?;
                if sequence.shard_index != shard_id.0 {
                    return Err(EngineError::InvalidArgument(format!(
                        "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {shard_id}",
                        ShardId(sequence.shard_index)
                    )));
                }
                if sequence.epoch != shard.epoch {
                    return Err(invalid(" because it did not come from this stream"));
                }
                match start {
                    // Number n belongs to the record at offset n - 1 (see Shard::sequence_number).
                    IteratorStart::AfterSequenceNumber(_) => sequence.offset,
                    _ => sequence.offset.saturating_sub(1),
                }
            }
        };
        Ok(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ids_resolve_like_aws() {
        assert_eq!(resolve_shard_id("shardId-000000000005"), Some(ShardId(5)));
        assert_eq!(resolve_shard_id("shardId-5"), Some(ShardId(5)));
        assert_eq!(resolve_shard_id("5"), Some(ShardId(5)));
        assert_eq!(
            resolve_shard_id("foo-2147483647"),
            Some(ShardId(2_147_483_647))
        );
        assert_eq!(resolve_shard_id("shardId-002147483648"), None);
        assert_eq!(resolve_shard_id("ABKLFD8"), None);
        assert_eq!(resolve_shard_id("2.14E4"), None);
    }
}
