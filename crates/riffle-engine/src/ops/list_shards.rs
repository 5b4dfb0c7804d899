//! ListShards.

use riffle_model::{Millis, ShardId};

use super::ShardDescription;
use crate::error::{EngineError, EngineResult};
use crate::page_token::PageToken;
use crate::stream::{Shard, StreamState};
use crate::{Engine, StreamRef};

/// botocore's `ShardFilter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardFilter {
    AfterShardId(ShardId),
    AtTrimHorizon,
    FromTrimHorizon,
    AtLatest,
    AtTimestamp(Millis),
    FromTimestamp(Millis),
}

/// Where a ListShards page starts.
#[derive(Clone, Debug)]
pub enum ListShardsFrom {
    Stream {
        stream: StreamRef,
        exclusive_start: Option<String>,
        filter: Option<ShardFilter>,
    },
    /// A NextToken; it carries the stream and the filter of the first call.
    Token(String),
}

#[derive(Clone, Debug)]
pub struct ShardList {
    pub shards: Vec<ShardDescription>,
    pub next_token: Option<String>,
}

impl ShardFilter {
    fn encode(self) -> String {
        match self {
            ShardFilter::AfterShardId(id) => format!("AFTER_SHARD_ID:{}", id.0),
            ShardFilter::AtTrimHorizon => "AT_TRIM_HORIZON".to_owned(),
            ShardFilter::FromTrimHorizon => "FROM_TRIM_HORIZON".to_owned(),
            ShardFilter::AtLatest => "AT_LATEST".to_owned(),
            ShardFilter::AtTimestamp(at) => format!("AT_TIMESTAMP:{}", at.0),
            ShardFilter::FromTimestamp(at) => format!("FROM_TIMESTAMP:{}", at.0),
        }
    }

    fn decode(text: &str) -> Option<ShardFilter> {
        let (kind, arg) = text.split_once(':').unwrap_or((text, ""));
        let number = || arg.parse::<u64>().ok();
        Some(match kind {
            "AFTER_SHARD_ID" => ShardFilter::AfterShardId(ShardId(u32::try_from(number()?).ok()?)),
            "AT_TRIM_HORIZON" => ShardFilter::AtTrimHorizon,
            "FROM_TRIM_HORIZON" => ShardFilter::FromTrimHorizon,
            "AT_LATEST" => ShardFilter::AtLatest,
            "AT_TIMESTAMP" => ShardFilter::AtTimestamp(Millis(number()?)),
            "FROM_TIMESTAMP" => ShardFilter::FromTimestamp(Millis(number()?)),
            _ => return None,
        })
    }

    /// Whether `shard` belongs in the answer, per the AWS ListShards docs.
    fn admits(self, shard: &Shard, state: &StreamState, now: Millis) -> bool {
        if shard.log_removed {
            return false;
        }
        let created = Millis(state.record.created_ms);
        let cutoff = state.retention_cutoff(now);
        let closed_after = |at: Millis| shard.closed.is_none_or(|c| Millis(c.closed_ms) >= at);
        match self {
            ShardFilter::AfterShardId(id) => shard.id > id,
            ShardFilter::AtTrimHorizon => shard.open_at(cutoff.max(created)),
            ShardFilter::FromTrimHorizon => closed_after(cutoff),
            ShardFilter::AtLatest => shard.is_open(),
            ShardFilter::AtTimestamp(at) => shard.open_at(at.max(created)),
            ShardFilter::FromTimestamp(at) => closed_after(at.max(cutoff)),
        }
    }
}

impl Engine {
    /// Lists a stream's shards, `max_results` at a time.
    ///
    /// # Errors
    /// The stream does not exist, or the NextToken is invalid or expired.
    pub fn list_shards(&self, from: ListShardsFrom, max_results: usize) -> EngineResult<ShardList> {
        let now = self.now();
        let (stream_ref, after, filter) = match from {
            ListShardsFrom::Stream {
                stream,
                exclusive_start,
                filter,
            } => (stream, exclusive_start, filter),
            ListShardsFrom::Token(token) => {
                let token = PageToken::decode(&token, now)?;
                let invalid = || EngineError::InvalidArgument("Invalid NextToken.".to_owned());
                let (after, filter) = token.after.split_once('|').ok_or_else(invalid)?;
                let filter = match filter {
                    "" => None,
                    text => Some(ShardFilter::decode(text).ok_or_else(invalid)?),
                };
                let name = riffle_model::StreamName::parse(&token.subject).ok_or_else(invalid)?;
                (StreamRef::Name(name), Some(after.to_owned()), filter)
            }
        };
        let stream = self.lookup(&stream_ref)?;
        let state = stream.state.read();
        let cutoff = state.retention_cutoff(now);
        let is_after = |shard: &Shard| match &after {
            None => true,
            Some(raw) => match ShardId::parse(raw) {
                Some(start) => shard.id > start,
                None => shard.id.to_string().as_str() > raw.as_str(),
            },
        };
        let mut matching = state
            .shards
            .iter()
            .filter(|s| is_after(s))
            .filter(|s| match filter {
                Some(filter) => filter.admits(s, &state, now),
                None => !s.expired(cutoff),
            })
            .map(ShardDescription::from);
        let shards: Vec<_> = matching.by_ref().take(max_results).collect();
        let next_token = match (matching.next(), shards.last()) {
            (Some(_), Some(last)) => Some(
                PageToken {
                    subject: stream.name.to_string(),
                    after: format!(
                        "{}|{}",
                        last.id,
                        filter.map(ShardFilter::encode).unwrap_or_default()
                    ),
                    issued_at: now,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(ShardList { shards, next_token })
    }
}
