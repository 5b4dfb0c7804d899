//! GetRecords.

use riffle_engine::Engine;
use riffle_model::Millis;
use riffle_model::limits::GET_RECORDS_LIMIT_MAX;
use serde::{Deserialize, Serialize};

use super::HashKeyRangeJson;
use crate::dispatch::{decode, encode, engine_error};
use crate::error::AwsError;
use crate::json::{serialize_blob, serialize_millis};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    shard_iterator: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response<'a> {
    records: Vec<RecordJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_shard_iterator: Option<String>,
    millis_behind_latest: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    child_shards: Vec<ChildShardJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RecordJson<'a> {
    sequence_number: String,
    #[serde(serialize_with = "serialize_millis")]
    approximate_arrival_timestamp: Millis,
    #[serde(serialize_with = "serialize_blob")]
    data: &'a [u8],
    /// Absent for records put without a key (AUTO distribution).
    #[serde(skip_serializing_if = "str::is_empty")]
    partition_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_type: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ChildShardJson {
    shard_id: String,
    parent_shards: Vec<String>,
    hash_key_range: HashKeyRangeJson,
}

pub(crate) fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;

    let limit = request.limit.map_or(GET_RECORDS_LIMIT_MAX, |n| n as usize);
    let iterator = request
        .shard_iterator
        .as_deref()
        .expect("validated as required");
    let output = engine
        .get_records(iterator, limit)
        .map_err(|err| engine_error(engine, err))?;
    encode(&Response {
        records: output
            .records
            .iter()
            .map(|r| RecordJson::new(r, output.encrypted))
            .collect(),
        next_shard_iterator: output.next_iterator,
        millis_behind_latest: output.millis_behind_latest,
        child_shards: output
            .child_shards
            .into_iter()
            .map(ChildShardJson::from)
            .collect(),
    })
}

impl<'a> RecordJson<'a> {
    pub(crate) fn new(
        record: &'a riffle_engine::ops::get_records::ReadRecord,
        encrypted: bool,
    ) -> RecordJson<'a> {
        RecordJson {
            sequence_number: record.sequence.to_string(),
            approximate_arrival_timestamp: record.arrival,
            data: &record.data,
            partition_key: std::str::from_utf8(&record.partition_key).unwrap_or_default(),
            encryption_type: encrypted.then_some("KMS"),
        }
    }
}

impl From<riffle_engine::ops::get_records::ChildShard> for ChildShardJson {
    fn from(child: riffle_engine::ops::get_records::ChildShard) -> ChildShardJson {
        ChildShardJson {
            shard_id: child.id.to_string(),
            parent_shards: child.parents.iter().map(|p| p.to_string()).collect(),
            hash_key_range: child.hash_range.into(),
        }
    }
}
