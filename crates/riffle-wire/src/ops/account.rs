//! DescribeLimits, DescribeAccountSettings and UpdateAccountSettings.

use riffle_engine::Engine;
use riffle_engine::ops::account::Commitment;
use riffle_model::Millis;
use serde::{Deserialize, Serialize};

use crate::dispatch::{decode, encode, engine_error};
use crate::error::AwsError;
use crate::json::serialize_optional_millis;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LimitsOutput {
    shard_limit: u32,
    open_shard_count: u32,
    on_demand_stream_count: u32,
    on_demand_stream_count_limit: u32,
}

pub(crate) fn describe_limits(engine: &Engine, _body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let limits = engine
        .describe_limits()
        .map_err(|err| engine_error(engine, err))?;
    encode(&LimitsOutput {
        shard_limit: limits.shard_limit,
        open_shard_count: limits.open_shard_count,
        on_demand_stream_count: limits.on_demand_stream_count,
        on_demand_stream_count_limit: limits.on_demand_stream_count_limit,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AccountSettingsOutput {
    minimum_throughput_billing_commitment: CommitmentJson,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CommitmentJson {
    status: &'static str,
    #[serde(
        serialize_with = "serialize_optional_millis",
        skip_serializing_if = "Option::is_none"
    )]
    started_at: Option<Millis>,
    #[serde(
        serialize_with = "serialize_optional_millis",
        skip_serializing_if = "Option::is_none"
    )]
    ended_at: Option<Millis>,
    #[serde(
        serialize_with = "serialize_optional_millis",
        skip_serializing_if = "Option::is_none"
    )]
    earliest_allowed_end_at: Option<Millis>,
}

fn settings_output(commitment: Commitment) -> Result<Vec<u8>, AwsError> {
    encode(&AccountSettingsOutput {
        minimum_throughput_billing_commitment: CommitmentJson {
            status: commitment.status.as_str(),
            started_at: commitment.started_at,
            ended_at: commitment.ended_at,
            earliest_allowed_end_at: commitment.earliest_allowed_end_at,
        },
    })
}

pub(crate) fn describe_account_settings(
    engine: &Engine,
    _body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    settings_output(
        engine
            .account_settings()
            .map_err(|err| engine_error(engine, err))?,
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateRequest {
    minimum_throughput_billing_commitment: Option<CommitmentInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CommitmentInput {
    status: Option<String>,
}

pub(crate) fn update_account_settings(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: UpdateRequest = decode(body)?;
    let status = request
        .minimum_throughput_billing_commitment
        .and_then(|c| c.status);
    let enable =
        status.expect("the model requires MinimumThroughputBillingCommitment.Status") == "ENABLED";
    settings_output(
        engine
            .update_account_settings(enable)
            .map_err(|err| engine_error(engine, err))?,
    )
}
