//! GetShardIterator.

use riffle_engine::Engine;
use riffle_engine::ops::get_shard_iterator::IteratorStart;
use serde::{Deserialize, Serialize};

use super::check_stream_ref;
use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::AwsError;
use crate::json::Timestamp;
use crate::validate::{Violations, shapes};

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
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    shard_iterator: String,
}

/// The order AWS lists them in its enum message.
const ITERATOR_TYPES: [&str; 5] = [
    "AFTER_SEQUENCE_NUMBER",
    "LATEST",
    "AT_TIMESTAMP",
    "AT_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
];

pub(crate) fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let mut v = Violations::new();
    v.string("shardId", request.shard_id.as_deref(), shapes::SHARD_ID);
    v.required("shardId", &request.shard_id);
    v.enumeration(
        "shardIteratorType",
        request.shard_iterator_type.as_deref(),
        &ITERATOR_TYPES,
    );
    v.required("shardIteratorType", &request.shard_iterator_type);
    v.string(
        "startingSequenceNumber",
        request.starting_sequence_number.as_deref(),
        shapes::SEQUENCE_NUMBER,
    );
    check_stream_ref(
        &mut v,
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
    );
    v.finish()?;

    let stream = stream_ref(
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
    )?;
    let kind = request
        .shard_iterator_type
        .as_deref()
        .expect("validated as required");
    let sequence = request.starting_sequence_number;
    let must_either = |what: &str| {
        AwsError::invalid_argument(format!(
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and {what} StartingSequenceNumber."
        ))
    };
    let start = match kind {
        "TRIM_HORIZON" | "LATEST" if sequence.is_some() => return Err(must_either("also a")),
        "TRIM_HORIZON" => IteratorStart::TrimHorizon,
        "LATEST" => IteratorStart::Latest,
        "AT_SEQUENCE_NUMBER" => IteratorStart::AtSequenceNumber(sequence.ok_or_else(|| must_either("no"))?),
        "AFTER_SEQUENCE_NUMBER" => IteratorStart::AfterSequenceNumber(sequence.ok_or_else(|| must_either("no"))?),
        _ => IteratorStart::AtTimestamp(
            request.timestamp.map(|t| t.0).ok_or_else(|| {
                AwsError::invalid_argument(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.",
                )
            })?,
        ),
    };
    let shard = request.shard_id.as_deref().expect("validated as required");
    let iterator = engine
        .get_shard_iterator(&stream, shard, start)
        .map_err(|err| engine_error(engine, err))?;
    encode(&Response {
        shard_iterator: iterator,
    })
}
