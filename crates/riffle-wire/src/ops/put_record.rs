//! PutRecord.

use riffle_engine::Engine;
use riffle_engine::ops::put_records::PutEntry;
use riffle_model::{HashKey, SequenceNumber};
use serde::{Deserialize, Serialize};

use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::AwsError;
use crate::json::Blob;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    stream_name: Option<String>,
    data: Option<Blob>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
    sequence_number_for_ordering: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    shard_id: String,
    sequence_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_type: Option<&'static str>,
}

/// Parses an ExplicitHashKey that passed its pattern but may not fit in 128 bits.
pub(crate) fn explicit_hash_key(text: Option<&str>) -> Result<Option<HashKey>, AwsError> {
    text.map(|text| {
        HashKey::parse(text).ok_or_else(|| {
            AwsError::invalid_argument(format!(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}"
            ))
        })
    })
    .transpose()
}

/// `EncryptionType` as put responses report it: only when the stream is encrypted.
pub(crate) fn encryption_type(
    engine: &Engine,
    stream: &riffle_engine::StreamRef,
) -> Option<&'static str> {
    let encrypted = engine
        .describe_stream_summary(stream)
        .ok()?
        .encryption_key_id
        .is_some();
    encrypted.then_some("KMS")
}

pub(crate) async fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = stream_ref(
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )?;
    let explicit_hash_key = explicit_hash_key(request.explicit_hash_key.as_deref())?;
    if let Some(ordering) = &request.sequence_number_for_ordering {
        // Riffle's numbers already increase per shard, so a well-formed
        // ordering number is always satisfied; a foreign one is rejected as on AWS.
        if SequenceNumber::parse(ordering).is_none() {
            return Err(AwsError::invalid_argument(format!(
                "ExclusiveMinimumSequenceNumber {ordering} used in PutRecord on stream {} under account {} is invalid.",
                stream.display_name(),
                engine.config().account.as_str()
            )));
        }
    }
    let entry = PutEntry {
        partition_key: request.partition_key.as_deref(),
        explicit_hash_key,
        data: &request.data.as_ref().expect("the model requires Data").0,
    };
    let result = engine
        .put_record(&stream, entry)
        .await
        .map_err(|err| engine_error(engine, err))?;
    encode(&Response {
        shard_id: result.shard.to_string(),
        sequence_number: result.sequence.to_string(),
        encryption_type: encryption_type(engine, &stream),
    })
}
