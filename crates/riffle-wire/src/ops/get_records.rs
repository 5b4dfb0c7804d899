//! GetRecords.

use std::sync::OnceLock;

use riffle_engine::Engine;
use riffle_model::Millis;
use riffle_model::limits::GET_RECORDS_LIMIT_MAX;
use riffle_model::sequence::{SEQUENCE_DIGITS, SequenceTexts};
use serde::{Deserialize, Serialize};

use super::HashKeyRangeJson;
use crate::dispatch::{decode, encode, engine_error};
use crate::error::AwsError;
use crate::hot::{self, HotRequest, Rule, Text, text};
use crate::json::{Digits, push_key, push_plain, push_text, serialize_blob, serialize_millis};
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
        Format::Cbor => execute(engine, &hot::cbor::<Request<Text<'_>>>(body)?),
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
    let response = Response {
        records: RecordJson::list(&output.records, output.encrypted),
        next_shard_iterator: output.next_iterator,
        millis_behind_latest: output.millis_behind_latest,
        child_shards: output
            .child_shards
            .into_iter()
            .map(ChildShardJson::from)
            .collect(),
    };
    match hot::format() {
        Format::Json if response.child_shards.is_empty() => Ok(response.to_json()),
        _ => encode(&response),
    }
}

impl Response<'_> {
    /// The JSON body, written directly (the catch-up read's hot spot was
    /// serde escaping base64 and digits). Equal to serde's output (tested);
    /// responses with ChildShards, which are rare, go through serde.
    fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(records_json_len(&self.records) + 600);
        out.push(b'{');
        push_records(&mut out, &self.records);
        if let Some(iterator) = &self.next_shard_iterator {
            out.extend_from_slice(b",\"NextShardIterator\":");
            push_plain(&mut out, iterator);
        }
        out.extend_from_slice(b",\"MillisBehindLatest\":");
        out.extend_from_slice(self.millis_behind_latest.to_string().as_bytes());
        out.push(b'}');
        out
    }
}

/// About how many bytes `push_records` writes, to size the buffer once.
pub(crate) fn records_json_len(records: &[RecordJson<'_>]) -> usize {
    records.iter().map(|r| r.data.len() * 4 / 3 + 160).sum()
}

/// Writes `"Records":[...]` as serde would, by hand: the member GetRecords
/// answers and SubscribeToShard events share.
pub(crate) fn push_records(out: &mut Vec<u8>, records: &[RecordJson<'_>]) {
    out.extend_from_slice(b"\"Records\":[");
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'{');
        let first = &mut true;
        push_key(out, first, "SequenceNumber");
        push_plain(out, record.sequence_number.0.as_str());
        push_key(out, first, "ApproximateArrivalTimestamp");
        serde_json::to_writer(
            &mut *out,
            &record.approximate_arrival_timestamp.as_epoch_seconds(),
        )
        .expect("writing to a Vec cannot fail");
        push_key(out, first, "Data");
        push_base64(out, record.data);
        if !record.partition_key.is_empty() {
            push_key(out, first, "PartitionKey");
            push_text(out, record.partition_key);
        }
        if let Some(encryption) = record.encryption_type {
            push_key(out, first, "EncryptionType");
            push_plain(out, encryption);
        }
        out.push(b'}');
    }
    out.push(b']');
}

/// Appends bytes as a quoted base64 string, encoded in place.
fn push_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    let len = base64_simd::STANDARD.encoded_length(bytes.len());
    out.resize(start + len, 0);
    let written = base64_simd::STANDARD
        .encode(bytes, base64_simd::Out::from_slice(&mut out[start..]))
        .len();
    debug_assert_eq!(written, len);
    out.push(b'"');
}

impl<'a> RecordJson<'a> {
    /// `records` as a response carries them, their sequence numbers
    /// rendered together (most of their digits repeat).
    pub(crate) fn list(
        records: &'a [riffle_engine::ops::get_records::ReadRecord],
        encrypted: bool,
    ) -> Vec<RecordJson<'a>> {
        let mut texts = SequenceTexts::default();
        records
            .iter()
            .map(|record| RecordJson {
                sequence_number: Digits(texts.text(&record.sequence)),
                approximate_arrival_timestamp: record.arrival,
                data: &record.data,
                partition_key: std::str::from_utf8(&record.partition_key).unwrap_or_default(),
                encryption_type: encrypted.then_some("KMS"),
            })
            .collect()
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::Bytes;
    use riffle_engine::ops::get_records::ReadRecord;
    use riffle_model::SequenceNumber;

    /// Records whose keys need escaping, or are empty, or not ASCII, and
    /// whose data is empty or not.
    pub(crate) fn sample_records() -> Vec<ReadRecord> {
        let keys = ["k", "", "quote\"back\\slash\u{1}", "ünïcödé"];
        keys.iter()
            .enumerate()
            .map(|(i, key)| ReadRecord {
                sequence: SequenceNumber {
                    epoch: 1_795_000_000_000,
                    shard_index: 2,
                    offset: i as u64 + 1,
                },
                arrival: Millis(1_795_000_000_000 + i as u64 * 7 + 1),
                partition_key: Bytes::copy_from_slice(key.as_bytes()),
                data: Bytes::from(vec![i as u8 * 50; i * 3]),
            })
            .collect()
    }

    #[test]
    fn the_hand_written_json_equals_serdes() {
        let records = sample_records();
        for encrypted in [false, true] {
            for next in [None, Some("AAEC+/==".to_owned())] {
                let response = Response {
                    records: RecordJson::list(&records, encrypted),
                    next_shard_iterator: next.clone(),
                    millis_behind_latest: 1234,
                    child_shards: Vec::new(),
                };
                assert_eq!(
                    String::from_utf8(response.to_json()).unwrap(),
                    serde_json::to_string(&response).unwrap()
                );
            }
        }
        let empty = Response {
            records: Vec::new(),
            next_shard_iterator: None,
            millis_behind_latest: 0,
            child_shards: Vec::new(),
        };
        assert_eq!(
            String::from_utf8(empty.to_json()).unwrap(),
            serde_json::to_string(&empty).unwrap()
        );
    }
}
