//! CreateStream.

use std::collections::BTreeMap;

use riffle_engine::Engine;
use riffle_engine::ops::create_stream::CreateStream;
use riffle_model::StreamName;
use riffle_model::limits::DEFAULT_SHARD_COUNT;
use serde::Deserialize;

use crate::dispatch::{decode, engine_error};
use crate::error::AwsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    stream_name: Option<String>,
    shard_count: Option<i64>,
    stream_mode_details: Option<StreamModeDetails>,
    tags: Option<BTreeMap<String, String>>,
    warm_throughput_mi_bps: Option<i64>,
    max_record_size_in_ki_b: Option<i64>,
    record_distribution_strategy: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamModeDetails {
    pub(crate) stream_mode: Option<String>,
}

pub(crate) fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let name = StreamName::parse(
        request
            .stream_name
            .as_deref()
            .expect("the model requires StreamName"),
    )
    .expect("validated against the StreamName pattern");
    let create = CreateStream {
        name,
        shard_count: request
            .shard_count
            .map_or(DEFAULT_SHARD_COUNT, |n| n.min(i64::from(u32::MAX)) as u32),
        on_demand: request
            .stream_mode_details
            .and_then(|d| d.stream_mode)
            .is_some_and(|mode| mode == "ON_DEMAND"),
        tags: request.tags.unwrap_or_default().into_iter().collect(),
        max_record_size_kib: request.max_record_size_in_ki_b.map(|kib| kib as u32),
        warm_throughput_mibps: request
            .warm_throughput_mi_bps
            .map(|mibps| mibps.min(i64::from(u32::MAX)) as u32),
        auto_distribution: request.record_distribution_strategy.as_deref() == Some("AUTO"),
    };
    engine
        .create_stream(create)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}
