//! Operations that change one setting of a stream and answer with little:
//! retention, enhanced monitoring, encryption, resource policies, record
//! size, capacity mode, warm throughput and record distribution.

use riffle_engine::ops::encryption::encryption_type_must_be_kms;
use riffle_engine::ops::retention::RetentionChange;
use riffle_engine::{Engine, StreamRef};
use serde::{Deserialize, Serialize};

use super::create_stream::StreamModeDetails;
use super::tags::resource_stream;
use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::AwsError;

/// The members these operations take; each reads the ones its input shape has.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    retention_period_hours: Option<i64>,
    shard_level_metrics: Option<Vec<String>>,
    encryption_type: Option<String>,
    key_id: Option<String>,
    policy: Option<String>,
    max_record_size_in_ki_b: Option<i64>,
    stream_mode_details: Option<StreamModeDetails>,
    warm_throughput_mi_bps: Option<i64>,
    record_distribution_strategy: Option<String>,
}

impl Request {
    fn stream(&self) -> Result<StreamRef, AwsError> {
        stream_ref(
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
            self.stream_id.as_deref(),
        )
    }
}

fn saturating_u32(n: i64) -> u32 {
    n.clamp(0, i64::from(u32::MAX)) as u32
}

pub(crate) fn retention(
    engine: &Engine,
    body: &[u8],
    change: RetentionChange,
) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let hours = request
        .retention_period_hours
        .expect("the model requires RetentionPeriodHours");
    engine
        .change_retention(&request.stream()?, change, hours)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EnhancedMonitoringOutput {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    current_shard_level_metrics: Vec<String>,
    desired_shard_level_metrics: Vec<String>,
}

pub(crate) fn enhanced_monitoring(
    engine: &Engine,
    body: &[u8],
    enable: bool,
) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let metrics = request
        .shard_level_metrics
        .as_deref()
        .expect("the model requires ShardLevelMetrics");
    let change = engine
        .set_enhanced_monitoring(&request.stream()?, metrics, enable)
        .map_err(|err| engine_error(engine, err))?;
    encode(&EnhancedMonitoringOutput {
        stream_name: change.name.to_string(),
        stream_arn: change.arn.to_string(),
        current_shard_level_metrics: change.current,
        desired_shard_level_metrics: change.desired,
    })
}

pub(crate) fn encryption(engine: &Engine, body: &[u8], start: bool) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    if request.encryption_type.as_deref() != Some("KMS") {
        return Err(engine_error(engine, encryption_type_must_be_kms()));
    }
    let key = start.then(|| request.key_id.clone().expect("the model requires KeyId"));
    engine
        .set_encryption(&request.stream()?, key)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyOutput {
    policy: String,
}

pub(crate) fn put_resource_policy(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = resource_stream(request.resource_arn.as_deref())?;
    let policy = request.policy.expect("the model requires Policy");
    // A policy is a JSON object; AWS refuses anything else before evaluating it.
    if !matches!(
        serde_json::from_str::<serde_json::Value>(&policy),
        Ok(serde_json::Value::Object(_))
    ) {
        return Err(AwsError::invalid_argument(
            "Policy is not a valid JSON document.",
        ));
    }
    engine
        .set_resource_policy(&stream, Some(policy))
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

pub(crate) fn get_resource_policy(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = resource_stream(request.resource_arn.as_deref())?;
    let policy = engine
        .resource_policy(&stream)
        .map_err(|err| engine_error(engine, err))?;
    encode(&PolicyOutput { policy })
}

pub(crate) fn delete_resource_policy(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = resource_stream(request.resource_arn.as_deref())?;
    engine
        .set_resource_policy(&stream, None)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

pub(crate) fn update_max_record_size(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let kib = request
        .max_record_size_in_ki_b
        .expect("the model requires MaxRecordSizeInKiB");
    engine
        .update_max_record_size(&request.stream()?, saturating_u32(kib))
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

pub(crate) fn update_stream_mode(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let mode = request
        .stream_mode_details
        .as_ref()
        .and_then(|d| d.stream_mode.as_deref());
    let on_demand = mode.expect("the model requires StreamModeDetails.StreamMode") == "ON_DEMAND";
    let warm = request.warm_throughput_mi_bps.map(saturating_u32);
    engine
        .update_stream_mode(&request.stream()?, on_demand, warm)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WarmThroughputOutput {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    warm_throughput: WarmThroughputJson,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WarmThroughputJson {
    #[serde(rename = "TargetMiBps")]
    pub(crate) target_mibps: u32,
    #[serde(rename = "CurrentMiBps")]
    pub(crate) current_mibps: u32,
}

pub(crate) fn update_stream_warm_throughput(
    engine: &Engine,
    body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let mibps = saturating_u32(
        request
            .warm_throughput_mi_bps
            .expect("the model requires WarmThroughputMiBps"),
    );
    let warm = engine
        .update_warm_throughput(&request.stream()?, mibps)
        .map_err(|err| engine_error(engine, err))?;
    encode(&WarmThroughputOutput {
        stream_name: warm.name.to_string(),
        stream_arn: warm.arn.to_string(),
        warm_throughput: WarmThroughputJson {
            target_mibps: warm.target_mibps,
            current_mibps: warm.current_mibps,
        },
    })
}

pub(crate) fn update_record_distribution(
    engine: &Engine,
    body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let strategy = request
        .record_distribution_strategy
        .as_deref()
        .expect("the model requires RecordDistributionStrategy");
    engine
        .update_record_distribution(&request.stream()?, strategy == "AUTO")
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}
