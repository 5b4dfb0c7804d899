//! PutRecords.

use riffle_engine::Engine;
use riffle_engine::ops::put_records::{PutEntry, RecordFailure};
use serde::{Deserialize, Serialize};

use super::put_record::{encryption_type, explicit_hash_key};
use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::{AwsError, throttled_message};
use crate::json::Blob;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    records: Option<Vec<Entry>>,
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    data: Option<Blob>,
    explicit_hash_key: Option<String>,
    partition_key: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    failed_record_count: usize,
    records: Vec<ResultEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_type: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

pub(crate) async fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let records = request.records.as_deref().unwrap_or_default();
    let stream = stream_ref(
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )?;
    let entries = records
        .iter()
        .map(|entry| {
            Ok(PutEntry {
                partition_key: entry.partition_key.as_deref(),
                explicit_hash_key: explicit_hash_key(entry.explicit_hash_key.as_deref())?,
                data: &entry.data.as_ref().expect("the model requires Data").0,
            })
        })
        .collect::<Result<Vec<_>, AwsError>>()?;
    let outcomes = engine
        .put_records(&stream, &entries)
        .await
        .map_err(|err| engine_error(engine, err))?;
    let mut failed_record_count = 0;
    let records = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(put) => ResultEntry {
                sequence_number: Some(put.sequence.to_string()),
                shard_id: Some(put.shard.to_string()),
                error_code: None,
                error_message: None,
            },
            Err(RecordFailure::Throttled { shard }) => {
                failed_record_count += 1;
                ResultEntry {
                    sequence_number: None,
                    shard_id: None,
                    error_code: Some("ProvisionedThroughputExceededException"),
                    error_message: Some(throttled_message(
                        stream.display_name(),
                        shard,
                        engine.config().account.as_str(),
                    )),
                }
            }
            Err(RecordFailure::Internal(err)) => {
                tracing::error!(error = %err, "record not stored");
                failed_record_count += 1;
                ResultEntry {
                    sequence_number: None,
                    shard_id: None,
                    error_code: Some("InternalFailure"),
                    error_message: Some("Internal service failure.".to_owned()),
                }
            }
        })
        .collect();
    encode(&Response {
        failed_record_count,
        records,
        encryption_type: encryption_type(engine, &stream),
    })
}
