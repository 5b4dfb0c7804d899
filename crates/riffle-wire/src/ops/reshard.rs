//! SplitShard, MergeShards and UpdateShardCount.

use riffle_engine::Engine;
use serde::{Deserialize, Serialize};

use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::AwsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    shard_to_split: Option<String>,
    new_starting_hash_key: Option<String>,
    shard_to_merge: Option<String>,
    adjacent_shard_to_merge: Option<String>,
    target_shard_count: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateShardCountOutput {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    current_shard_count: u32,
    target_shard_count: u32,
}

pub(crate) fn split_shard(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = stream_ref(
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )?;
    let key_text = request
        .new_starting_hash_key
        .as_deref()
        .expect("the model requires NewStartingHashKey");
    // The pattern allows 39 digits, so the key may still be past 2^128 - 1.
    let key = key_text.parse::<u128>().map_err(|_| {
        AwsError::invalid_argument(format!(
            "Invalid NewStartingHashKey. NewStartingHashKey must be in the range: [0, 2^128-1]. Specified value was {key_text}"
        ))
    })?;
    let shard = request
        .shard_to_split
        .as_deref()
        .expect("the model requires ShardToSplit");
    engine
        .split_shard(&stream, shard, key)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

pub(crate) fn merge_shards(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = stream_ref(
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )?;
    let shard = request
        .shard_to_merge
        .as_deref()
        .expect("the model requires ShardToMerge");
    let adjacent = request
        .adjacent_shard_to_merge
        .as_deref()
        .expect("the model requires AdjacentShardToMerge");
    engine
        .merge_shards(&stream, shard, adjacent)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

pub(crate) fn update_shard_count(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = stream_ref(
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )?;
    let target = request
        .target_shard_count
        .expect("the model requires TargetShardCount")
        .clamp(1, i64::from(u32::MAX));
    let change = engine
        .update_shard_count(&stream, target as u32)
        .map_err(|err| engine_error(engine, err))?;
    encode(&UpdateShardCountOutput {
        stream_name: change.name.to_string(),
        stream_arn: change.arn.to_string(),
        current_shard_count: change.current,
        target_shard_count: change.target,
    })
}
