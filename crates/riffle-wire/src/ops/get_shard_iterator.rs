//! GetShardIterator.

use riffle_engine::Engine;
use riffle_engine::ops::get_shard_iterator::IteratorStart;
use riffle_model::Millis;
use serde::{Deserialize, Serialize};

use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::AwsError;
use crate::json::Timestamp;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    stream_name: Option<String>,
    shard_id: Option<String>,
    shard_iterator_type: Option<String>,
    starting_sequence_number: Option<String>,
    timestamp: Option<Timestamp>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    dry_run: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    shard_iterator: String,
}

pub(crate) fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;

    let stream = stream_ref(
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )?;
    let kind = request
        .shard_iterator_type
        .as_deref()
        .expect("validated as required");
    let start = iterator_start(
        kind,
        request.starting_sequence_number,
        request.timestamp.map(|t| t.0),
    )?;
    let shard = request.shard_id.as_deref().expect("validated as required");
    let iterator = engine
        .get_shard_iterator(&stream, shard, start)
        .map_err(|err| engine_error(engine, err))?;
    if request.dry_run == Some(true) {
        // Issuing an iterator changes nothing, so a dry run issues and drops one.
        return Err(engine_error(engine, riffle_engine::EngineError::DryRun));
    }
    encode(&Response {
        shard_iterator: iterator,
    })
}

/// Turns an iterator type and its arguments into a starting position, with
/// AWS's messages for a missing or superfluous argument. SubscribeToShard's
/// StartingPosition uses it too.
pub(crate) fn iterator_start(
    kind: &str,
    sequence: Option<String>,
    timestamp: Option<Millis>,
) -> Result<IteratorStart, AwsError> {
    let must_either = |what: &str| {
        AwsError::invalid_argument(format!(
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and {what} StartingSequenceNumber."
        ))
    };
    Ok(match kind {
        "TRIM_HORIZON" | "LATEST" if sequence.is_some() => return Err(must_either("also a")),
        "TRIM_HORIZON" => IteratorStart::TrimHorizon,
        "LATEST" => IteratorStart::Latest,
        "AT_SEQUENCE_NUMBER" => IteratorStart::AtSequenceNumber(sequence.ok_or_else(|| must_either("no"))?),
        "AFTER_SEQUENCE_NUMBER" => IteratorStart::AfterSequenceNumber(sequence.ok_or_else(|| must_either("no"))?),
        _ => IteratorStart::AtTimestamp(timestamp.ok_or_else(|| {
            AwsError::invalid_argument(
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.",
            )
        })?),
    })
}
