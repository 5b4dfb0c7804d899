//! DescribeStream.

use riffle_engine::Engine;
use riffle_model::limits::DESCRIBE_STREAM_LIMIT_DEFAULT;
use riffle_model::{Millis, ShardId};
use serde::{Deserialize, Serialize};

use super::{EnhancedMetricsJson, ShardJson, StreamModeDetailsJson, encryption_of};
use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::AwsError;
use crate::json::serialize_millis;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    stream_name: Option<String>,
    limit: Option<i64>,
    exclusive_start_shard_id: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    stream_description: DescriptionJson,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescriptionJson {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_status: &'static str,
    stream_mode_details: StreamModeDetailsJson,
    shards: Vec<ShardJson>,
    has_more_shards: bool,
    retention_period_hours: u32,
    #[serde(serialize_with = "serialize_millis")]
    stream_creation_timestamp: Millis,
    enhanced_monitoring: Vec<EnhancedMetricsJson>,
    encryption_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
}

pub(crate) fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = stream_ref(
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )?;
    let limit = request
        .limit
        .map_or(DESCRIBE_STREAM_LIMIT_DEFAULT, |n| n as usize);
    // An unparsable start id sorts before every shard, so the listing starts at the beginning.
    let exclusive_start = request
        .exclusive_start_shard_id
        .as_deref()
        .and_then(ShardId::parse);
    let description = engine
        .describe_stream(&stream, limit, exclusive_start)
        .map_err(|err| engine_error(engine, err))?;
    let summary = &description.summary;
    encode(&Response {
        stream_description: DescriptionJson {
            stream_name: summary.name.to_string(),
            stream_arn: summary.arn.to_string(),
            stream_status: summary.status.as_str(),
            stream_mode_details: StreamModeDetailsJson::new(summary.on_demand),
            shards: description.shards.iter().map(ShardJson::from).collect(),
            has_more_shards: description.has_more_shards,
            retention_period_hours: summary.retention_hours,
            stream_creation_timestamp: summary.created,
            enhanced_monitoring: EnhancedMetricsJson::of(summary),
            encryption_type: encryption_of(summary).0,
            key_id: encryption_of(summary).1,
        },
    })
}
