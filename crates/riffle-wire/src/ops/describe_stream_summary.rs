//! DescribeStreamSummary.

use riffle_engine::Engine;
use riffle_engine::ops::describe_stream::StreamSummary;
use riffle_model::Millis;
use serde::{Deserialize, Serialize};

use super::stream_changes::WarmThroughputJson;
use super::{EnhancedMetricsJson, StreamModeDetailsJson, encryption_of};
use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::AwsError;
use crate::json::serialize_millis;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    stream_description_summary: SummaryJson,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SummaryJson {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_id: String,
    stream_status: &'static str,
    stream_mode_details: StreamModeDetailsJson,
    retention_period_hours: u32,
    #[serde(serialize_with = "serialize_millis")]
    stream_creation_timestamp: Millis,
    enhanced_monitoring: Vec<EnhancedMetricsJson>,
    encryption_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    open_shard_count: usize,
    consumer_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    warm_throughput: Option<WarmThroughputJson>,
    #[serde(rename = "MaxRecordSizeInKiB")]
    max_record_size_in_kib: u32,
    record_distribution_strategy: &'static str,
}

pub(crate) fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = stream_ref(
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )?;
    let summary = engine
        .describe_stream_summary(&stream)
        .map_err(|err| engine_error(engine, err))?;
    encode(&Response {
        stream_description_summary: SummaryJson::from(&summary),
    })
}

impl From<&StreamSummary> for SummaryJson {
    fn from(summary: &StreamSummary) -> SummaryJson {
        SummaryJson {
            stream_name: summary.name.to_string(),
            stream_arn: summary.arn.to_string(),
            stream_id: summary.stream_id.clone(),
            stream_status: summary.status.as_str(),
            stream_mode_details: StreamModeDetailsJson::new(summary.on_demand),
            retention_period_hours: summary.retention_hours,
            stream_creation_timestamp: summary.created,
            enhanced_monitoring: EnhancedMetricsJson::of(summary),
            encryption_type: encryption_of(summary).0,
            key_id: encryption_of(summary).1,
            open_shard_count: summary.open_shard_count,
            consumer_count: summary.consumer_count,
            warm_throughput: summary
                .warm_throughput_mibps
                .map(|mibps| WarmThroughputJson {
                    target_mibps: mibps,
                    current_mibps: mibps,
                }),
            max_record_size_in_kib: summary.max_record_size_kib,
            record_distribution_strategy: if summary.auto_distribution {
                "AUTO"
            } else {
                "USER_PARTITION_KEY"
            },
        }
    }
}
