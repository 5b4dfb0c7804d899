//! PutRecord.

use riffle_engine::Engine;
use riffle_engine::ops::put_records::PutEntry;
use std::borrow::Cow;
use std::sync::OnceLock;

use riffle_model::sequence::SEQUENCE_DIGITS;
use riffle_model::shard_id::SHARD_ID_LEN;
use riffle_model::{HashKey, SequenceNumber};
use serde::{Deserialize, Serialize};

use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::AwsError;
use crate::hot::{self, HotRequest, Rule, StreamRules, Text, text};
use crate::json::{Blob, Digits, push_key, push_plain};
use crate::protocol::Format;
use crate::scan::{Scanner, first};

/// The request, with its strings as `S` (see `put_records::Request`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Request<S> {
    stream_name: Option<S>,
    data: Option<Blob>,
    partition_key: Option<S>,
    explicit_hash_key: Option<S>,
    sequence_number_for_ordering: Option<S>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<S>,
    stream_id: Option<S>,
    dry_run: Option<bool>,
}

impl<S: AsRef<str>> HotRequest for Request<S> {
    fn accepted(&self) -> bool {
        struct Rules {
            stream: StreamRules,
            data: Rule,
            partition_key: Rule,
            explicit_hash_key: Rule,
            sequence_number_for_ordering: Rule,
        }
        static RULES: OnceLock<Rules> = OnceLock::new();
        let rules = RULES.get_or_init(|| {
            let input = Rule::input("PutRecord");
            Rules {
                stream: StreamRules::of(input),
                data: Rule::of(input, "Data"),
                partition_key: Rule::of(input, "PartitionKey"),
                explicit_hash_key: Rule::of(input, "ExplicitHashKey"),
                sequence_number_for_ordering: Rule::of(input, "SequenceNumberForOrdering"),
            }
        });
        rules.stream.accept(
            text(&self.stream_name),
            text(&self.stream_arn),
            text(&self.stream_id),
        ) && rules.data.blob(self.data.as_ref().map(|d| d.0.len()))
            && rules.partition_key.text(text(&self.partition_key))
            && rules.explicit_hash_key.text(text(&self.explicit_hash_key))
            && rules
                .sequence_number_for_ordering
                .text(text(&self.sequence_number_for_ordering))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    shard_id: Digits<SHARD_ID_LEN>,
    sequence_number: Digits<SEQUENCE_DIGITS>,
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
    engine.is_encrypted(stream).then_some("KMS")
}

/// The general path: the body passed the model check.
pub(crate) async fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request<String> = decode(body)?;
    execute(engine, &request).await
}

/// The hot path; `None` sends the request down the general path.
pub(crate) async fn handle_hot(engine: &Engine, body: &[u8]) -> Option<Result<Vec<u8>, AwsError>> {
    Some(match hot::format() {
        Format::Json => execute(engine, &hot_json(body)?).await,
        Format::Cbor => execute(engine, &hot::cbor::<Request<Text<'_>>>(body)?).await,
    })
}

/// The hot JSON decode: the usual body scanned ([`scan_json`]), anything
/// else decoded by serde; `None` if the request is not one the hot path takes.
pub(crate) fn hot_json(body: &[u8]) -> Option<Request<Text<'_>>> {
    hot::scanned_json(body, scan_json)
}

/// The usual PutRecord body, scanned without serde ([`crate::scan`]): the
/// request serde would decode, or `None` to leave the body to serde.
fn scan_json(body: &[u8]) -> Option<Request<Text<'_>>> {
    let mut request = Request {
        stream_name: None,
        data: None,
        partition_key: None,
        explicit_hash_key: None,
        sequence_number_for_ordering: None,
        stream_arn: None,
        stream_id: None,
        dry_run: None,
    };
    let mut scanner = Scanner::new(body);
    scanner.object(|key, scanner| {
        let slot = match key {
            b"Data" => return first(&mut request.data, Blob::from_base64(scanner.raw_string()?)?),
            b"StreamName" => &mut request.stream_name,
            b"PartitionKey" => &mut request.partition_key,
            b"ExplicitHashKey" => &mut request.explicit_hash_key,
            b"SequenceNumberForOrdering" => &mut request.sequence_number_for_ordering,
            b"StreamARN" => &mut request.stream_arn,
            b"StreamId" => &mut request.stream_id,
            _ => return None,
        };
        first(slot, Text(Cow::Borrowed(scanner.text()?)))
    })?;
    scanner.end()?;
    Some(request)
}

async fn execute<S: AsRef<str>>(
    engine: &Engine,
    request: &Request<S>,
) -> Result<Vec<u8>, AwsError> {
    let stream = stream_ref(
        text(&request.stream_name),
        text(&request.stream_arn),
        text(&request.stream_id),
    )?;
    let explicit_hash_key = explicit_hash_key(text(&request.explicit_hash_key))?;
    if let Some(ordering) = text(&request.sequence_number_for_ordering) {
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
        partition_key: text(&request.partition_key),
        explicit_hash_key,
        data: &request.data.as_ref().expect("the model requires Data").0,
    };
    if request.dry_run == Some(true) {
        return Err(engine_error(
            engine,
            engine.dry_run_put(&stream, &[entry], false),
        ));
    }
    let result = engine
        .put_record(&stream, entry)
        .await
        .map_err(|err| engine_error(engine, err))?;
    let response = Response {
        shard_id: Digits(result.shard.text()),
        sequence_number: Digits(result.sequence.text()),
        encryption_type: encryption_type(engine, &stream),
    };
    match hot::format() {
        Format::Json => Ok(response.to_json()),
        Format::Cbor => encode(&response),
    }
}

impl Response {
    /// The JSON body, written directly as PutRecords' is: digits and fixed
    /// names need no escaping, which serde's writer looked for byte by byte
    /// (about 1,000 instructions a request). Equal to serde's output (tested).
    fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.push(b'{');
        let first = &mut true;
        push_key(&mut out, first, "ShardId");
        push_plain(&mut out, self.shard_id.0.as_str());
        push_key(&mut out, first, "SequenceNumber");
        push_plain(&mut out, self.sequence_number.0.as_str());
        if let Some(encryption) = self.encryption_type {
            push_key(&mut out, first, "EncryptionType");
            push_plain(&mut out, encryption);
        }
        out.push(b'}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use riffle_model::ShardId;

    type Contents = (Option<Vec<u8>>, [Option<String>; 6], Option<bool>);

    /// Everything a hot request holds, to compare two decodes of one body.
    fn contents(request: &Request<Text<'_>>) -> Contents {
        let text = |t: &Option<Text<'_>>| t.as_ref().map(|t| t.0.to_string());
        (
            request.data.as_ref().map(|data| data.0.clone()),
            [
                text(&request.stream_name),
                text(&request.partition_key),
                text(&request.explicit_hash_key),
                text(&request.sequence_number_for_ordering),
                text(&request.stream_arn),
                text(&request.stream_id),
            ],
            request.dry_run,
        )
    }

    /// JSON bodies shaped like PutRecord requests, usual and not (see
    /// `scan::arbitrary`).
    fn arbitrary_body() -> impl proptest::strategy::Strategy<Value = String> {
        use crate::scan::arbitrary;
        arbitrary::object(
            &[
                "StreamName",
                "Data",
                "PartitionKey",
                "ExplicitHashKey",
                "SequenceNumberForOrdering",
                "StreamARN",
                "StreamId",
                "DryRun",
                "Other",
                "Dat\\u0061",
            ],
            arbitrary::value(),
        )
    }

    #[test]
    fn the_scanner_takes_the_usual_body() {
        let body = br#"{"StreamName":"s","PartitionKey":"k","Data":"QUJD","ExplicitHashKey":"7"}"#;
        let scanned = scan_json(body).expect("scanned");
        let serde: Request<Text<'_>> = serde_json::from_slice(body).unwrap();
        assert_eq!(contents(&scanned), contents(&serde));
        assert_eq!(scanned.data.as_ref().unwrap().0, b"ABC");
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

    #[test]
    fn the_hand_written_json_equals_serdes() {
        for encryption_type in [None, Some("KMS")] {
            let response = Response {
                shard_id: Digits(ShardId(7).text()),
                sequence_number: Digits(
                    SequenceNumber {
                        epoch: 1_795_000_000_000,
                        shard_index: 7,
                        offset: 42,
                    }
                    .text(),
                ),
                encryption_type,
            };
            assert_eq!(
                String::from_utf8(response.to_json()).unwrap(),
                serde_json::to_string(&response).unwrap()
            );
        }
    }
}
