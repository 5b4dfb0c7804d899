//! GetRecords.

use std::sync::OnceLock;

use riffle_engine::Engine;
use riffle_model::Millis;
use riffle_model::limits::GET_RECORDS_LIMIT_MAX;
use riffle_model::sequence::SEQUENCE_DIGITS;
use serde::{Deserialize, Serialize};

use super::HashKeyRangeJson;
use crate::dispatch::{decode, encode, engine_error};
use crate::error::AwsError;
use crate::hot::{self, HotRequest, Rule, Text, text};
use crate::json::{Digits, serialize_blob, serialize_millis};
use crate::protocol::Format;

/// The request, with its strings as `S` (see `put_records::Request`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Request<S> {
    shard_iterator: Option<S>,
    limit: Option<i64>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<S>,
    stream_id: Option<S>,
    dry_run: Option<bool>,
}

impl<S: AsRef<str>> HotRequest for Request<S> {
    fn accepted(&self) -> bool {
        static RULES: OnceLock<[Rule; 4]> = OnceLock::new();
        let [shard_iterator, limit, stream_arn, stream_id] = RULES.get_or_init(|| {
            let input = Rule::input("GetRecords");
            ["ShardIterator", "Limit", "StreamARN", "StreamId"].map(|m| Rule::of(input, m))
        });
        shard_iterator.text(text(&self.shard_iterator))
            && limit.integer(self.limit)
            && stream_arn.text(text(&self.stream_arn))
            && stream_id.text(text(&self.stream_id))
    }
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
    sequence_number: Digits<SEQUENCE_DIGITS>,
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

/// The general path: the body passed the model check.
pub(crate) fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request<String> = decode(body)?;
    execute(engine, &request)
}

/// The hot path; `None` sends the request down the general path.
pub(crate) fn handle_hot(engine: &Engine, body: &[u8]) -> Option<Result<Vec<u8>, AwsError>> {
    Some(match hot::format() {
        Format::Json => execute(engine, &hot::json::<Request<Text<'_>>>(body)?),
        Format::Cbor => execute(engine, &hot::cbor::<Request<String>>(body)?),
    })
}

fn execute<S: AsRef<str>>(engine: &Engine, request: &Request<S>) -> Result<Vec<u8>, AwsError> {
    let limit = request.limit.map_or(GET_RECORDS_LIMIT_MAX, |n| n as usize);
    let iterator = request
        .shard_iterator
        .as_ref()
        .expect("validated as required")
        .as_ref();
    if request.dry_run == Some(true) {
        return Err(engine_error(engine, engine.dry_run_get_records(iterator)));
    }
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
            sequence_number: Digits(record.sequence.text()),
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
