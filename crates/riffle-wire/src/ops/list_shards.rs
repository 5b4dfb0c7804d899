//! ListShards.

use riffle_engine::Engine;
use riffle_engine::ops::list_shards::{ListShardsFrom, ShardFilter};
use riffle_model::ShardId;
use riffle_model::limits::LIST_SHARDS_LIMIT_DEFAULT;
use serde::{Deserialize, Serialize};

use super::ShardJson;
use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::AwsError;
use crate::json::Timestamp;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    stream_name: Option<String>,
    next_token: Option<String>,
    exclusive_start_shard_id: Option<String>,
    max_results: Option<i64>,
    stream_creation_timestamp: Option<Timestamp>,
    shard_filter: Option<ShardFilterJson>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ShardFilterJson {
    #[serde(rename = "Type")]
    kind: Option<String>,
    shard_id: Option<String>,
    timestamp: Option<Timestamp>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    shards: Vec<ShardJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;

    let max_results = request
        .max_results
        .map_or(LIST_SHARDS_LIMIT_DEFAULT, |n| n as usize);
    let from = match request.next_token {
        Some(token) => {
            let conflicting = [
                (request.stream_name.is_some(), "StreamName"),
                (request.stream_arn.is_some(), "StreamARN"),
                (
                    request.exclusive_start_shard_id.is_some(),
                    "ExclusiveStartShardId",
                ),
                (request.shard_filter.is_some(), "ShardFilter"),
                (
                    request.stream_creation_timestamp.is_some(),
                    "StreamCreationTimestamp",
                ),
            ];
            if let Some((_, member)) = conflicting.iter().find(|(given, _)| *given) {
                return Err(AwsError::invalid_argument(format!(
                    "NextToken and {member} cannot be provided together."
                )));
            }
            ListShardsFrom::Token(token)
        }
        None => {
            if request.stream_name.is_none() && request.stream_arn.is_none() {
                return Err(AwsError::invalid_argument(
                    "Either NextToken or StreamName should be provided.",
                ));
            }
            let stream = stream_ref(
                request.stream_name.as_deref(),
                request.stream_arn.as_deref(),
                request.stream_id.as_deref(),
            )?;
            let filter = request
                .shard_filter
                .map(shard_filter)
                .transpose()?
                .flatten();
            ListShardsFrom::Stream {
                stream,
                exclusive_start: request.exclusive_start_shard_id,
                filter,
            }
        }
    };
    let list = engine
        .list_shards(from, max_results)
        .map_err(|err| engine_error(engine, err))?;
    encode(&Response {
        shards: list.shards.iter().map(ShardJson::from).collect(),
        next_token: list.next_token,
    })
}

/// Turns a validated filter into the engine's, requiring the argument each
/// filter type needs.
fn shard_filter(filter: ShardFilterJson) -> Result<Option<ShardFilter>, AwsError> {
    let kind = filter.kind.as_deref().expect("validated as required");
    let timestamp = || {
        filter.timestamp.map(|t| t.0).ok_or_else(|| {
            AwsError::invalid_argument(format!(
                "Timestamp must be specified for ShardFilter of type {kind}."
            ))
        })
    };
    Ok(Some(match kind {
        "AFTER_SHARD_ID" => {
            let id = filter.shard_id.as_deref().ok_or_else(|| {
                AwsError::invalid_argument(
                    "ShardId must be specified for ShardFilter of type AFTER_SHARD_ID.",
                )
            })?;
            // An id that names no shard sorts before every shard: no filtering.
            return Ok(ShardId::parse(id).map(ShardFilter::AfterShardId));
        }
        "AT_TRIM_HORIZON" => ShardFilter::AtTrimHorizon,
        "FROM_TRIM_HORIZON" => ShardFilter::FromTrimHorizon,
        "AT_LATEST" => ShardFilter::AtLatest,
        "AT_TIMESTAMP" => ShardFilter::AtTimestamp(timestamp()?),
        _ => ShardFilter::FromTimestamp(timestamp()?),
    }))
}
