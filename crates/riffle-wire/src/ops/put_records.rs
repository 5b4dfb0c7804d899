//! PutRecords.

use std::borrow::Cow;
use std::sync::OnceLock;

use riffle_engine::Engine;
use riffle_engine::ops::put_records::{PutEntry, RecordFailure};
use serde::{Deserialize, Serialize};

use super::put_record::{encryption_type, explicit_hash_key};
use crate::cbor::RawBytes;
use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::{AwsError, throttled_message};
use crate::hot::{self, HotRequest, MapOnly, Rule, StreamRules, Text, text};
use crate::json::{Base64Text, Blob, Digits, decode_all, push_key, push_plain, push_text};
use crate::protocol::Format;
use crate::scan::{Scanner, first};
use riffle_model::sequence::{SEQUENCE_DIGITS, SequenceTexts};
use riffle_model::shard_id::SHARD_ID_LEN;

/// The request, with its strings as `S` and its record data as `D`
/// ([`RecordData`]): borrowed [`Text`] with [`Base64Text`] on the hot JSON
/// path, [`Text`] with [`RawBytes`] on the hot CBOR path, `String` with
/// [`Blob`] on the general path.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Request<S, D = Blob> {
    records: Option<Vec<MapOnly<Entry<S, D>>>>,
    stream_name: Option<S>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<S>,
    stream_id: Option<S>,
    dry_run: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry<S, D> {
    data: Option<D>,
    explicit_hash_key: Option<S>,
    partition_key: Option<S>,
}

/// Record data as a request carries it: decoded ([`Blob`]), or base64 text
/// the hot JSON path decodes later into one buffer ([`Base64Text`]).
pub(crate) trait RecordData {
    /// The decoded length, if the data can be valid.
    fn decoded_len(&self) -> Option<usize>;
}

impl RecordData for Blob {
    fn decoded_len(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

impl RecordData for Base64Text<'_> {
    fn decoded_len(&self) -> Option<usize> {
        Base64Text::decoded_len(self)
    }
}

impl RecordData for RawBytes<'_> {
    fn decoded_len(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

impl<S: AsRef<str>, D: RecordData> HotRequest for Request<S, D> {
    fn accepted(&self) -> bool {
        struct Rules {
            stream: StreamRules,
            records: Rule,
            data: Rule,
            explicit_hash_key: Rule,
            partition_key: Rule,
        }
        static RULES: OnceLock<Rules> = OnceLock::new();
        let rules = RULES.get_or_init(|| {
            let input = Rule::input("PutRecords");
            let records = Rule::of(input, "Records");
            let entry = records.element();
            Rules {
                stream: StreamRules::of(input),
                records,
                data: Rule::of(entry, "Data"),
                explicit_hash_key: Rule::of(entry, "ExplicitHashKey"),
                partition_key: Rule::of(entry, "PartitionKey"),
            }
        });
        rules.stream.accept(
            self.stream_name.as_ref().map(AsRef::as_ref),
            self.stream_arn.as_ref().map(AsRef::as_ref),
            self.stream_id.as_ref().map(AsRef::as_ref),
        ) && rules.records.list(self.records.as_ref().map(Vec::len))
            && self.records.iter().flatten().all(|entry| {
                // Data that cannot be valid counts as absent: refused here,
                // answered by the general path.
                rules
                    .data
                    .blob(entry.data.as_ref().and_then(RecordData::decoded_len))
                    && rules
                        .explicit_hash_key
                        .text(entry.explicit_hash_key.as_ref().map(AsRef::as_ref))
                    && rules
                        .partition_key
                        .text(entry.partition_key.as_ref().map(AsRef::as_ref))
            })
    }
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
    sequence_number: Option<Digits<SEQUENCE_DIGITS>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_id: Option<Digits<SHARD_ID_LEN>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

/// The general path: the body passed the model check.
pub(crate) async fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request<String> = decode(body)?;
    execute(engine, &request, &blobs(&request)).await
}

/// The hot path; `None` sends the request down the general path.
pub(crate) async fn handle_hot(engine: &Engine, body: &[u8]) -> Option<Result<Vec<u8>, AwsError>> {
    Some(match hot::format() {
        Format::Json => {
            let request = hot_json(body)?;
            let (decoded, lens) = decode_data(&request)?;
            execute(engine, &request, &split(&decoded, &lens)).await
        }
        Format::Cbor => {
            let request = hot::cbor::<Request<Text<'_>, RawBytes<'_>>>(body)?;
            execute(engine, &request, &blobs(&request)).await
        }
    })
}

/// The hot JSON decode: the usual body scanned ([`scan_json`]), anything
/// else decoded by serde; `None` if the request is not one the hot path takes.
pub(crate) fn hot_json(body: &[u8]) -> Option<Request<Text<'_>, Base64Text<'_>>> {
    hot::scanned_json(body, scan_json)
}

/// The usual PutRecords body, scanned without serde ([`crate::scan`]): the
/// request serde would decode, or `None` to leave the body to serde.
fn scan_json(body: &[u8]) -> Option<Request<Text<'_>, Base64Text<'_>>> {
    // A guess at the record count that never asks for more than the most a
    // request may hold; a longer list just grows.
    const RECORDS_MAX: usize = 500;
    let mut request = Request {
        records: None,
        stream_name: None,
        stream_arn: None,
        stream_id: None,
        dry_run: None,
    };
    let mut scanner = Scanner::new(body);
    scanner.object(|key, scanner| {
        let slot = match key {
            b"StreamName" => &mut request.stream_name,
            b"StreamARN" => &mut request.stream_arn,
            b"StreamId" => &mut request.stream_id,
            b"Records" => {
                let mut records = Vec::with_capacity(RECORDS_MAX.min(body.len() / 16));
                scanner.array(|scanner| {
                    records.push(MapOnly(scan_entry(scanner)?));
                    Some(())
                })?;
                return first(&mut request.records, records);
            }
            _ => return None,
        };
        first(slot, Text(Cow::Borrowed(scanner.text()?)))
    })?;
    scanner.end()?;
    Some(request)
}

fn scan_entry<'a>(scanner: &mut Scanner<'a>) -> Option<Entry<Text<'a>, Base64Text<'a>>> {
    let mut entry = Entry {
        data: None,
        explicit_hash_key: None,
        partition_key: None,
    };
    scanner.object(|key, scanner| {
        let slot = match key {
            b"Data" => return first(&mut entry.data, Base64Text::borrowed(scanner.raw_string()?)),
            b"PartitionKey" => &mut entry.partition_key,
            b"ExplicitHashKey" => &mut entry.explicit_hash_key,
            _ => return None,
        };
        first(slot, Text(Cow::Borrowed(scanner.text()?)))
    })?;
    Some(entry)
}

/// Each record's data, already decoded (absent data is refused before this).
fn blobs<S, D: AsRef<[u8]>>(request: &Request<S, D>) -> Vec<&[u8]> {
    let records = request.records.as_deref().unwrap_or_default();
    records
        .iter()
        .map(|entry| entry.data.as_ref().map_or(&[][..], AsRef::as_ref))
        .collect()
}

/// Every record's data decoded into one buffer, with each one's length.
pub(crate) fn decode_data<S>(
    request: &Request<S, Base64Text<'_>>,
) -> Option<(Vec<u8>, Vec<usize>)> {
    let records = request.records.as_deref().unwrap_or_default();
    decode_all(records.iter().map(|entry| entry.data.as_ref()))
}

/// Cuts `decoded` into consecutive pieces of `lens` bytes.
fn split<'d>(mut decoded: &'d [u8], lens: &[usize]) -> Vec<&'d [u8]> {
    lens.iter()
        .map(|&len| {
            let (piece, rest) = decoded.split_at(len);
            decoded = rest;
            piece
        })
        .collect()
}

/// `data` holds each record's decoded data, in order.
async fn execute<S: AsRef<str>, D>(
    engine: &Engine,
    request: &Request<S, D>,
    data: &[&[u8]],
) -> Result<Vec<u8>, AwsError> {
    let records = request.records.as_deref().unwrap_or_default();
    let stream = stream_ref(
        text(&request.stream_name),
        text(&request.stream_arn),
        text(&request.stream_id),
    )?;
    // Sized up front: collecting `Result`s would grow it a push at a time.
    let mut entries = Vec::with_capacity(records.len());
    for (entry, data) in records.iter().zip(data) {
        entries.push(PutEntry {
            partition_key: text(&entry.partition_key),
            explicit_hash_key: explicit_hash_key(text(&entry.explicit_hash_key))?,
            data,
        });
    }
    if request.dry_run == Some(true) {
        return Err(engine_error(
            engine,
            engine.dry_run_put(&stream, &entries, true),
        ));
    }
    let outcomes = engine
        .put_records(&stream, &entries)
        .await
        .map_err(|err| engine_error(engine, err))?;
    let mut failed_record_count = 0;
    let mut sequence_texts = SequenceTexts::default();
    let records = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(put) => ResultEntry {
                sequence_number: Some(Digits(sequence_texts.text(&put.sequence))),
                shard_id: Some(Digits(put.shard.text())),
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
    let response = Response {
        failed_record_count,
        records,
        encryption_type: encryption_type(engine, &stream),
    };
    match hot::format() {
        Format::Json => Ok(response.to_json()),
        Format::Cbor => encode(&response),
    }
}

impl Response {
    /// The JSON body, written directly: every string but an error message
    /// is digits or a fixed name, so serde's per-byte escaping (5% of
    /// PutRecords' time) is skipped. Equal to serde's output (tested).
    fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.records.len() * 110);
        out.extend_from_slice(b"{\"FailedRecordCount\":");
        out.extend_from_slice(self.failed_record_count.to_string().as_bytes());
        out.extend_from_slice(b",\"Records\":[");
        for (i, entry) in self.records.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'{');
            let first = &mut true;
            if let Some(sequence) = &entry.sequence_number {
                push_key(&mut out, first, "SequenceNumber");
                push_plain(&mut out, sequence.0.as_str());
            }
            if let Some(shard) = &entry.shard_id {
                push_key(&mut out, first, "ShardId");
                push_plain(&mut out, shard.0.as_str());
            }
            if let Some(code) = entry.error_code {
                push_key(&mut out, first, "ErrorCode");
                push_plain(&mut out, code);
            }
            if let Some(message) = &entry.error_message {
                push_key(&mut out, first, "ErrorMessage");
                push_text(&mut out, message);
            }
            out.push(b'}');
        }
        out.push(b']');
        if let Some(encryption) = self.encryption_type {
            out.extend_from_slice(b",\"EncryptionType\":");
            push_plain(&mut out, encryption);
        }
        out.push(b'}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use riffle_model::{SequenceNumber, ShardId};

    #[test]
    fn base64_data_decodes_into_one_buffer_as_blobs_decode() {
        // Escaped, padded, empty and plain data, each as the general path
        // (one Blob per record) reads it.
        let body = br#"{"StreamName":"s","Records":[
            {"PartitionKey":"a","Data":"\u0051UJD"},
            {"PartitionKey":"b","Data":"QQ=="},
            {"PartitionKey":"c","Data":""},
            {"PartitionKey":"d","Data":"AAECAwQ\/"}]}"#;
        let general: Request<String> = serde_json::from_slice(body).unwrap();
        let hot: Request<Text<'_>, Base64Text<'_>> = serde_json::from_slice(body).unwrap();
        let (decoded, lens) = decode_data(&hot).unwrap();
        assert_eq!(split(&decoded, &lens), blobs(&general));
        assert_eq!(blobs(&general)[0], b"ABC");

        for bad in [r#""QQ=""#, r#""Q""#, r#""*AAA""#, r#""AAB=""#, r#""éAAA""#] {
            let body =
                format!(r#"{{"StreamName":"s","Records":[{{"PartitionKey":"a","Data":{bad}}}]}}"#);
            let hot: Request<Text<'_>, Base64Text<'_>> =
                serde_json::from_slice(body.as_bytes()).unwrap();
            assert!(decode_data(&hot).is_none(), "{bad} decoded");
            assert!(
                serde_json::from_slice::<Request<String>>(body.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }

    type Contents = (
        Option<Vec<(Option<Vec<u8>>, Option<String>, Option<String>)>>,
        [Option<String>; 3],
        Option<bool>,
    );

    /// Everything a hot request holds, to compare two decodes of one body.
    fn contents(request: &Request<Text<'_>, Base64Text<'_>>) -> Contents {
        let text = |t: &Option<Text<'_>>| t.as_ref().map(|t| t.0.to_string());
        (
            request.records.as_ref().map(|records| {
                records
                    .iter()
                    .map(|entry| {
                        (
                            entry.data.as_ref().map(|d| d.raw().to_vec()),
                            text(&entry.partition_key),
                            text(&entry.explicit_hash_key),
                        )
                    })
                    .collect()
            }),
            [
                text(&request.stream_name),
                text(&request.stream_arn),
                text(&request.stream_id),
            ],
            request.dry_run,
        )
    }

    #[test]
    fn the_scanner_takes_the_usual_bodies() {
        for body in [
            r#"{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"QUJD"}]}"#,
            "{ \"Records\" : [ {\"Data\":\"\",\"ExplicitHashKey\":\"7\",\"PartitionKey\":\"é\"} ,\n{\"Data\":\"QQ==\",\"PartitionKey\":\"b\"} ],\r\n\t\"StreamARN\":\"arn:aws:kinesis:us-east-1:000000000000:stream/s\" }",
            r#"{"StreamId":"i","Records":[]}"#,
        ] {
            let scanned = scan_json(body.as_bytes()).expect(body);
            let serde: Request<Text<'_>, Base64Text<'_>> =
                serde_json::from_slice(body.as_bytes()).unwrap();
            assert_eq!(contents(&scanned), contents(&serde), "{body}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3_000, .. Default::default() })]
        #[test]
        fn whatever_the_scanner_takes_serde_reads_the_same(body in arbitrary_body()) {
            crate::scan::arbitrary::agrees_with_serde(&body, scan_json, contents)?;
        }
    }

    #[test]
    fn the_generated_bodies_are_both_taken_and_left_to_serde() {
        crate::scan::arbitrary::assert_both_kinds(arbitrary_body(), |body| {
            scan_json(body.as_bytes()).is_some()
        });
    }

    /// JSON bodies shaped like PutRecords requests, usual and not (see
    /// `scan::arbitrary`), records among them.
    fn arbitrary_body() -> impl proptest::strategy::Strategy<Value = String> {
        use crate::scan::arbitrary;
        use proptest::prelude::*;
        let entry = arbitrary::object(
            &[
                "Data",
                "PartitionKey",
                "ExplicitHashKey",
                "Other",
                "Dat\\u0061",
            ],
            arbitrary::value().boxed(),
        );
        let records = prop::collection::vec(prop_oneof![9 => entry, 1 => arbitrary::value()], 0..4)
            .prop_map(|entries| format!("[{}]", entries.join(",")));
        arbitrary::object(
            &[
                "StreamName",
                "StreamARN",
                "StreamId",
                "Records",
                "Records",
                "DryRun",
                "Other",
            ],
            prop_oneof![3 => records, 2 => arbitrary::value()].boxed(),
        )
    }

    #[test]
    fn the_hand_written_json_equals_serdes() {
        let ok = ResultEntry {
            sequence_number: Some(Digits(
                SequenceNumber {
                    epoch: 1_795_000_000_000,
                    shard_index: 3,
                    offset: 77,
                }
                .text(),
            )),
            shard_id: Some(Digits(ShardId(3).text())),
            error_code: None,
            error_message: None,
        };
        let failed = ResultEntry {
            sequence_number: None,
            shard_id: None,
            error_code: Some("ProvisionedThroughputExceededException"),
            error_message: Some("Rate exceeded for \"shard\" \\ x".to_owned()),
        };
        for (records, encryption_type) in [(vec![], None), (vec![ok], Some("KMS"))] {
            let response = Response {
                failed_record_count: 0,
                records,
                encryption_type,
            };
            assert_eq!(
                String::from_utf8(response.to_json()).unwrap(),
                serde_json::to_string(&response).unwrap()
            );
        }
        let ok_again = ResultEntry {
            sequence_number: Some(Digits(
                SequenceNumber {
                    epoch: 1,
                    shard_index: 0,
                    offset: 1,
                }
                .text(),
            )),
            shard_id: Some(Digits(ShardId(0).text())),
            error_code: None,
            error_message: None,
        };
        let response = Response {
            failed_record_count: 1,
            records: vec![ok_again, failed],
            encryption_type: None,
        };
        assert_eq!(
            String::from_utf8(response.to_json()).unwrap(),
            serde_json::to_string(&response).unwrap()
        );
    }
}
