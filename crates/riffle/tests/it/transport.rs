//! The transport and the protocol edge: h2c with prior knowledge, HTTP/1.1,
//! CBOR, authentication and content-type checks, CORS, the framework
//! errors no SDK will produce on purpose, and `GET /metrics`.

use bytes::Bytes;
use ciborium::Value as Cbor;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::support::Riffle;

const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0";

struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn cbor(&self) -> Cbor {
        ciborium::de::from_reader(self.body.as_slice()).expect("a CBOR body")
    }
}

/// A request to send; signed and JSON unless changed.
struct Call<'a> {
    http2: bool,
    method: &'a str,
    path: &'a str,
    target: Option<&'a str>,
    content_type: Option<&'a str>,
    authorization: Option<&'a str>,
    extra: Vec<(&'a str, &'a str)>,
    body: Vec<u8>,
}

impl<'a> Call<'a> {
    fn json(target: &'a str, body: &str) -> Call<'a> {
        Call {
            http2: false,
            method: "POST",
            path: "/",
            target: Some(target),
            content_type: Some("application/x-amz-json-1.1"),
            authorization: Some(SIGNED),
            extra: vec![("x-amz-date", "20261122T030000Z")],
            body: body.as_bytes().to_vec(),
        }
    }

    fn cbor(target: &'a str, body: Vec<u8>) -> Call<'a> {
        Call {
            content_type: Some("application/x-amz-cbor-1.1"),
            body,
            ..Call::json(target, "")
        }
    }

    /// Sends it over a fresh connection.
    async fn send(self, riffle: &Riffle) -> Answer {
        let stream = TcpStream::connect(riffle.addr).await.unwrap();
        let mut builder = Request::builder()
            .method(self.method)
            .uri(format!("http://{}{}", riffle.addr, self.path));
        for (name, value) in [
            ("x-amz-target", self.target),
            ("content-type", self.content_type),
            ("authorization", self.authorization),
        ] {
            if let Some(value) = value {
                builder = builder.header(name, value);
            }
        }
        for (name, value) in self.extra {
            builder = builder.header(name, value);
        }
        let request = builder.body(Full::new(Bytes::from(self.body))).unwrap();
        let response = if self.http2 {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .unwrap();
            tokio::spawn(connection);
            sender.send_request(request).await.unwrap()
        } else {
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .unwrap();
            tokio::spawn(connection);
            sender.send_request(request).await.unwrap()
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }
}

fn cbor_bytes(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

fn map(entries: Vec<(&str, Cbor)>) -> Cbor {
    Cbor::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Cbor::Text(k.to_owned()), v))
            .collect(),
    )
}

fn field<'v>(value: &'v Cbor, name: &str) -> &'v Cbor {
    value
        .as_map()
        .and_then(|entries| {
            entries
                .iter()
                .find(|(k, _)| k.as_text() == Some(name))
                .map(|(_, v)| v)
        })
        .unwrap_or_else(|| panic!("no {name} in {value:?}"))
}

#[tokio::test]
async fn h2c_with_prior_knowledge_and_http1_serve_the_same_api() {
    let riffle = Riffle::start();
    riffle.create_stream("h2", 1).await;
    for http2 in [true, false] {
        let call = Call {
            http2,
            ..Call::json(
                "Kinesis_20131202.PutRecord",
                r#"{"StreamName":"h2","PartitionKey":"k","Data":"aGk="}"#,
            )
        };
        let put = call.send(&riffle).await;
        assert_eq!(put.status, 200, "{}", put.text());
        assert!(
            put.text().contains(r#""ShardId":"shardId-000000000000""#),
            "{}",
            put.text()
        );
        assert_eq!(put.headers["content-type"], "application/x-amz-json-1.1");
        assert_eq!(
            put.headers["x-amzn-requestid"].to_str().unwrap().len(),
            36,
            "a UUID-shaped request id"
        );
        assert!(put.headers.contains_key("x-amz-id-2"));
    }
    assert_eq!(riffle.read_all("h2", "shardId-000000000000").await.len(), 2);
}

#[tokio::test]
async fn framework_errors_look_like_aws() {
    let riffle = Riffle::start();
    let unknown = Call::json("Kinesis_20131202.Frobnicate", "{}")
        .send(&riffle)
        .await;
    assert_eq!(
        (unknown.status, unknown.text().as_str()),
        (400, r#"{"__type":"UnknownOperationException"}"#)
    );
    assert!(
        unknown.headers.contains_key("x-amzn-requestid"),
        "errors carry request ids too"
    );

    let not_json = Call::json("Kinesis_20131202.ListStreams", "{not json")
        .send(&riffle)
        .await;
    assert_eq!(
        (not_json.status, not_json.text().as_str()),
        (400, r#"{"__type":"SerializationException"}"#)
    );

    let wrong_type = Call {
        http2: true,
        ..Call::json("Kinesis_20131202.DescribeStream", r#"{"StreamName": 5}"#)
    }
    .send(&riffle)
    .await;
    assert_eq!(wrong_type.status, 400);
    assert_eq!(
        wrong_type.text(),
        r#"{"__type":"SerializationException","Message":"class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"}"#
    );

    let get = Call {
        method: "GET",
        ..Call::json("Kinesis_20131202.ListStreams", "")
    }
    .send(&riffle)
    .await;
    assert_eq!(get.status, 403);
    assert!(
        get.text().contains("<AccessDeniedException>"),
        "{}",
        get.text()
    );
    assert!(
        get.text()
            .contains("Unable to determine service/operation name to be authorized")
    );

    let wrong_content = Call {
        content_type: Some("text/plain"),
        ..Call::json("Kinesis_20131202.ListStreams", "{}")
    }
    .send(&riffle)
    .await;
    assert_eq!(wrong_content.status, 403, "{}", wrong_content.text());

    let neither = Call::json("Kinesis_20131202.DescribeStream", "{}")
        .send(&riffle)
        .await;
    assert_eq!(neither.status, 400);
    assert!(
        neither.text().contains("InvalidArgumentException"),
        "{}",
        neither.text()
    );
}

#[tokio::test]
async fn unsigned_and_half_signed_requests_are_refused_like_aws() {
    let riffle = Riffle::start();
    let unsigned = Call {
        authorization: None,
        ..Call::json("Kinesis_20131202.ListStreams", "{}")
    }
    .send(&riffle)
    .await;
    assert_eq!(unsigned.status, 400);
    assert_eq!(
        unsigned.text(),
        r#"{"__type":"MissingAuthenticationTokenException","message":"Missing Authentication Token"}"#
    );

    let half = Call {
        authorization: Some("AWS4- Signature=b Credential=a"),
        ..Call::json("Kinesis_20131202.ListStreams", "{}")
    }
    .send(&riffle)
    .await;
    assert_eq!(half.status, 400);
    assert_eq!(
        half.text(),
        r#"{"__type":"IncompleteSignatureException","message":"Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4- Signature=b Credential=a"}"#
    );
    let undated = Call {
        extra: Vec::new(),
        ..Call::json("Kinesis_20131202.ListStreams", "{}")
    }
    .send(&riffle)
    .await;
    assert_eq!(undated.status, 400);
    assert!(
        undated
            .text()
            .contains("requires existence of either a 'X-Amz-Date' or a 'Date' header."),
        "{}",
        undated.text()
    );
}

#[tokio::test]
async fn cors_preflight_allows_browsers() {
    let riffle = Riffle::start();
    let preflight = Call {
        method: "OPTIONS",
        extra: vec![
            ("origin", "http://localhost:3000"),
            (
                "access-control-request-headers",
                "x-amz-target,content-type",
            ),
        ],
        ..Call::json("Kinesis_20131202.ListStreams", "")
    }
    .send(&riffle)
    .await;
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.headers["access-control-allow-origin"], "*");
    assert_eq!(
        preflight.headers["access-control-allow-headers"],
        "x-amz-target,content-type"
    );
    let listed = Call {
        extra: vec![
            ("x-amz-date", "20261122T030000Z"),
            ("origin", "http://localhost:3000"),
        ],
        ..Call::json("Kinesis_20131202.ListStreams", "{}")
    }
    .send(&riffle)
    .await;
    assert_eq!(listed.headers["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn cbor_requests_get_cbor_answers_with_byte_strings_and_millisecond_timestamps() {
    let riffle = Riffle::start();
    riffle.create_stream("cbor", 1).await;
    let payload = vec![0u8, 1, 2, 255, 254];
    let put = Call::cbor(
        "Kinesis_20131202.PutRecord",
        cbor_bytes(&map(vec![
            ("StreamName", Cbor::Text("cbor".into())),
            ("PartitionKey", Cbor::Text("k".into())),
            ("Data", Cbor::Bytes(payload.clone())),
        ])),
    )
    .send(&riffle)
    .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.headers["content-type"], "application/x-amz-cbor-1.1");
    let sequence = field(&put.cbor(), "SequenceNumber")
        .as_text()
        .unwrap()
        .to_owned();
    assert_eq!(sequence.len(), 56);

    // Indefinite-length map and text, as streaming encoders (Jackson) write them:
    // {_ "StreamName": (_ "cb", "or"), "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}
    let mut indefinite = vec![0xbf];
    indefinite.extend(cbor_bytes(&Cbor::Text("StreamName".into())));
    indefinite.push(0x7f);
    indefinite.extend(cbor_bytes(&Cbor::Text("cb".into())));
    indefinite.extend(cbor_bytes(&Cbor::Text("or".into())));
    indefinite.push(0xff);
    for (k, v) in [
        ("ShardId", "shardId-000000000000"),
        ("ShardIteratorType", "TRIM_HORIZON"),
    ] {
        indefinite.extend(cbor_bytes(&Cbor::Text(k.into())));
        indefinite.extend(cbor_bytes(&Cbor::Text(v.into())));
    }
    indefinite.push(0xff);
    let iterator = Call::cbor("Kinesis_20131202.GetShardIterator", indefinite)
        .send(&riffle)
        .await;
    assert_eq!(iterator.status, 200, "{:?}", iterator.cbor());
    let shard_iterator = field(&iterator.cbor(), "ShardIterator")
        .as_text()
        .unwrap()
        .to_owned();

    let records = Call::cbor(
        "Kinesis_20131202.GetRecords",
        cbor_bytes(&map(vec![("ShardIterator", Cbor::Text(shard_iterator))])),
    )
    .send(&riffle)
    .await;
    assert_eq!(records.status, 200);
    let answer = records.cbor();
    let record = &field(&answer, "Records").as_array().unwrap()[0];
    assert_eq!(
        field(record, "Data"),
        &Cbor::Bytes(payload),
        "blobs are byte strings"
    );
    assert_eq!(
        field(record, "SequenceNumber").as_text(),
        Some(sequence.as_str())
    );
    match field(record, "ApproximateArrivalTimestamp") {
        Cbor::Tag(1, inner) => {
            let millis: u64 = inner.as_integer().unwrap().try_into().unwrap();
            assert!(
                millis > 1_700_000_000_000,
                "epoch milliseconds under tag 1, got {millis}"
            );
        }
        other => panic!("expected tag 1, got {other:?}"),
    }

    // AT_TIMESTAMP with tag 1 milliseconds, as the Java SDK sends it.
    let at = Call::cbor(
        "Kinesis_20131202.GetShardIterator",
        cbor_bytes(&map(vec![
            ("StreamName", Cbor::Text("cbor".into())),
            ("ShardId", Cbor::Text("shardId-000000000000".into())),
            ("ShardIteratorType", Cbor::Text("AT_TIMESTAMP".into())),
            (
                "Timestamp",
                Cbor::Tag(1, Box::new(Cbor::Integer(1_000_000_000_000u64.into()))),
            ),
        ])),
    )
    .send(&riffle)
    .await;
    assert_eq!(at.status, 200, "{:?}", at.cbor());
}

#[tokio::test]
async fn cbor_errors_are_cbor_with_aws_types_and_messages() {
    let riffle = Riffle::start();
    let missing = Call::cbor(
        "Kinesis_20131202.DescribeStream",
        cbor_bytes(&map(vec![("StreamName", Cbor::Text("nope".into()))])),
    )
    .send(&riffle)
    .await;
    assert_eq!(missing.status, 400);
    let body = missing.cbor();
    assert_eq!(
        field(&body, "__type").as_text(),
        Some("ResourceNotFoundException")
    );
    assert_eq!(
        field(&body, "message").as_text(),
        Some("Stream nope under account 000000000000 not found.")
    );

    let invalid = Call::cbor(
        "Kinesis_20131202.ListShards",
        cbor_bytes(&map(vec![("MaxResults", Cbor::Integer(0.into()))])),
    )
    .send(&riffle)
    .await;
    assert_eq!(
        field(&invalid.cbor(), "__type").as_text(),
        Some("ValidationException")
    );
    assert_eq!(
        field(&invalid.cbor(), "message").as_text(),
        Some(
            "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )
    );

    let wrong_type = Call::cbor(
        "Kinesis_20131202.PutRecord",
        cbor_bytes(&map(vec![("Data", Cbor::Bool(true))])),
    )
    .send(&riffle)
    .await;
    assert_eq!(
        field(&wrong_type.cbor(), "__type").as_text(),
        Some("SerializationException")
    );
    assert_eq!(
        field(&wrong_type.cbor(), "Message").as_text(),
        Some("class java.lang.Boolean can not be converted to a Blob")
    );

    let not_a_map = Call::cbor("Kinesis_20131202.ListStreams", vec![0x83, 1, 2, 3])
        .send(&riffle)
        .await;
    assert_eq!(
        field(&not_a_map.cbor(), "__type").as_text(),
        Some("SerializationException")
    );
}

/// Splits complete event-stream messages off the front of `buffer`,
/// checking both CRCs, as (headers, payload).
/// An event-stream message: its string headers and its payload.
type Message = (Vec<(String, String)>, Vec<u8>);

fn take_messages(buffer: &mut Vec<u8>) -> Vec<Message> {
    let mut messages = Vec::new();
    while buffer.len() >= 12 {
        let total = u32::from_be_bytes(buffer[0..4].try_into().unwrap()) as usize;
        if buffer.len() < total {
            break;
        }
        let message: Vec<u8> = buffer.drain(..total).collect();
        let headers_len = u32::from_be_bytes(message[4..8].try_into().unwrap()) as usize;
        assert_eq!(
            u32::from_be_bytes(message[8..12].try_into().unwrap()),
            crc32(&message[..8]),
            "prelude CRC"
        );
        assert_eq!(
            u32::from_be_bytes(message[total - 4..].try_into().unwrap()),
            crc32(&message[..total - 4]),
            "message CRC"
        );
        let mut headers = Vec::new();
        let mut at = 12;
        while at < 12 + headers_len {
            let name_len = message[at] as usize;
            let name = String::from_utf8(message[at + 1..at + 1 + name_len].to_vec()).unwrap();
            at += 1 + name_len;
            assert_eq!(message[at], 7, "string header");
            let value_len = u16::from_be_bytes([message[at + 1], message[at + 2]]) as usize;
            let value = String::from_utf8(message[at + 3..at + 3 + value_len].to_vec()).unwrap();
            at += 3 + value_len;
            headers.push((name, value));
        }
        messages.push((headers, message[12 + headers_len..total - 4].to_vec()));
    }
    messages
}

/// CRC-32 (IEEE), bit by bit: an independent check of the server's framing.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> &'h str {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

#[tokio::test]
async fn subscribe_to_shard_streams_cbor_events_over_h2c() {
    let riffle = Riffle::start();
    riffle.create_stream("h2sub", 1).await;
    for i in 0..3u8 {
        riffle
            .client
            .put_record()
            .stream_name("h2sub")
            .partition_key("k")
            .data(vec![i].into())
            .send()
            .await
            .unwrap();
    }
    let consumer = riffle
        .client
        .register_stream_consumer()
        .stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/h2sub")
        .consumer_name("raw")
        .send()
        .await
        .unwrap()
        .consumer()
        .unwrap()
        .consumer_arn()
        .to_owned();
    let body = cbor_bytes(&map(vec![
        ("ConsumerARN", Cbor::Text(consumer)),
        ("ShardId", Cbor::Text("shardId-000000000000".into())),
        (
            "StartingPosition",
            map(vec![("Type", Cbor::Text("TRIM_HORIZON".into()))]),
        ),
    ]));
    let stream = TcpStream::connect(riffle.addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = Request::builder()
        .method("POST")
        .uri(format!("http://{}/", riffle.addr))
        .header("x-amz-target", "Kinesis_20131202.SubscribeToShard")
        .header("content-type", "application/x-amz-cbor-1.1")
        .header("authorization", SIGNED)
        .header("x-amz-date", "20261122T030000Z")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let mut body = response.into_body();
    let mut buffer = Vec::new();
    let mut messages = Vec::new();
    let mut records = Vec::new();
    while records.len() < 3 {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(20), body.frame())
            .await
            .expect("a frame")
            .unwrap()
            .unwrap();
        buffer.extend_from_slice(frame.data_ref().expect("data"));
        for (headers, payload) in take_messages(&mut buffer) {
            if header(&headers, ":event-type") == "SubscribeToShardEvent" {
                let event: Cbor = ciborium::de::from_reader(payload.as_slice()).unwrap();
                for record in field(&event, "Records").as_array().unwrap() {
                    records.push(field(record, "Data").as_bytes().unwrap().clone());
                }
                assert!(
                    field(&event, "ContinuationSequenceNumber")
                        .as_text()
                        .is_some()
                );
            }
            messages.push(headers);
        }
    }
    assert_eq!(
        header(&messages[0], ":event-type"),
        "initial-response",
        "the initial response comes first"
    );
    assert!(
        messages
            .iter()
            .all(|h| header(h, ":message-type") == "event"
                && header(h, ":content-type") == "application/x-amz-cbor-1.1")
    );
    assert_eq!(records, [vec![0u8], vec![1], vec![2]]);
}

#[tokio::test]
async fn metrics_show_traffic_scaling_and_enhanced_monitoring_in_prometheus_format() {
    let riffle = Riffle::start();
    riffle.create_stream("watched", 1).await;
    let client = &riffle.client;
    for i in 0..3 {
        client
            .put_record()
            .stream_name("watched")
            .partition_key("k")
            .data(aws_sdk_kinesis::primitives::Blob::new(format!(
                "record {i}"
            )))
            .send()
            .await
            .unwrap();
    }
    client
        .split_shard()
        .stream_name("watched")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key((1u128 << 127).to_string())
        .send()
        .await
        .unwrap();
    client
        .enable_enhanced_monitoring()
        .stream_name("watched")
        .shard_level_metrics(aws_sdk_kinesis::types::MetricsName::IncomingRecords)
        .send()
        .await
        .unwrap();

    let metrics = Call {
        method: "GET",
        path: "/metrics",
        ..Call::json("", "")
    }
    .send(&riffle)
    .await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text();
    for line in [
        "riffle_streams 1",
        "riffle_stream_open_shards{stream=\"watched\"} 2",
        "riffle_stream_closed_shards{stream=\"watched\"} 1",
        "riffle_stream_shard_splits_total{stream=\"watched\",trigger=\"api\"} 1",
        "riffle_stream_shard_splits_total{stream=\"watched\",trigger=\"on_demand\"} 0",
        "riffle_stream_put_record_success_total{stream=\"watched\"} 3",
        "riffle_stream_incoming_records_total{stream=\"watched\"} 3",
        "riffle_stream_status{stream=\"watched\",status=\"ACTIVE\"} 1",
        "# TYPE riffle_stream_get_records_iterator_age_milliseconds gauge",
        "riffle_shard_incoming_records_total{stream=\"watched\",shard=\"shardId-000000000000\"} 3",
        "riffle_shard_incoming_records_total{stream=\"watched\",shard=\"shardId-000000000002\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
    assert!(
        !text.contains("riffle_shard_outgoing_records"),
        "only the enabled shard metrics appear"
    );
    // Every sample line parses as `name{labels} value`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<u64>().is_ok(), "{line}");
        assert!(series.starts_with("riffle_"), "{line}");
    }
}

#[tokio::test]
async fn dry_runs_check_everything_and_change_nothing() {
    let riffle = Riffle::start();
    riffle.create_stream("dry", 1).await;
    let riffle = &riffle;
    let call = |target: &'static str, body: String| async move {
        let answer = Call::json(target, &body).send(riffle).await;
        let value: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        (answer.status, value)
    };
    let dry_run_error = |(status, value): (u16, serde_json::Value)| {
        assert_eq!(status, 400, "{value}");
        assert_eq!(value["__type"], "DryRunOperationException", "{value}");
    };
    dry_run_error(
        call(
            "Kinesis_20131202.PutRecords",
            r#"{"StreamName":"dry","DryRun":true,"Records":[{"Data":"AAAA","PartitionKey":"k"}]}"#
                .into(),
        )
        .await,
    );
    dry_run_error(
        call(
            "Kinesis_20131202.PutRecord",
            r#"{"StreamName":"dry","DryRun":true,"Data":"AAAA","PartitionKey":"k"}"#.into(),
        )
        .await,
    );
    // A dry run still reports what the real call would fail with.
    let (status, missing) = call(
        "Kinesis_20131202.PutRecord",
        r#"{"StreamName":"nope","DryRun":true,"Data":"AAAA","PartitionKey":"k"}"#.into(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(missing["__type"], "ResourceNotFoundException");
    let (_, invalid) = call(
        "Kinesis_20131202.PutRecords",
        r#"{"StreamName":"dry","DryRun":true,"Records":[]}"#.into(),
    )
    .await;
    assert_eq!(invalid["__type"], "ValidationException");

    let (status, iterator) = call(
        "Kinesis_20131202.GetShardIterator",
        r#"{"StreamName":"dry","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}"#.into(),
    )
    .await;
    assert_eq!(status, 200);
    let iterator = iterator["ShardIterator"].as_str().unwrap().to_owned();
    dry_run_error(
        call(
            "Kinesis_20131202.GetShardIterator",
            r#"{"StreamName":"dry","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON","DryRun":true}"#.into(),
        )
        .await,
    );
    dry_run_error(
        call(
            "Kinesis_20131202.GetRecords",
            format!(r#"{{"ShardIterator":"{iterator}","DryRun":true}}"#),
        )
        .await,
    );
    let (_, bad_iterator) = call(
        "Kinesis_20131202.GetRecords",
        r#"{"ShardIterator":"not-an-iterator","DryRun":true}"#.into(),
    )
    .await;
    assert_eq!(bad_iterator["__type"], "InvalidArgumentException");
    let (_, registered) = call(
        "Kinesis_20131202.RegisterStreamConsumer",
        r#"{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/dry","ConsumerName":"c"}"#
            .into(),
    )
    .await;
    let consumer = registered["Consumer"]["ConsumerARN"]
        .as_str()
        .unwrap()
        .to_owned();
    dry_run_error(
        call(
            "Kinesis_20131202.SubscribeToShard",
            format!(r#"{{"ConsumerARN":"{consumer}","ShardId":"shardId-000000000000","StartingPosition":{{"Type":"LATEST"}},"DryRun":true}}"#),
        )
        .await,
    );
    // Nothing was written by the dry runs; a real put is the only record.
    let (status, _) = call(
        "Kinesis_20131202.PutRecord",
        r#"{"StreamName":"dry","DryRun":false,"Data":"AAAA","PartitionKey":"k"}"#.into(),
    )
    .await;
    assert_eq!(status, 200);
    let (_, read) = call(
        "Kinesis_20131202.GetRecords",
        format!(r#"{{"ShardIterator":"{iterator}"}}"#),
    )
    .await;
    assert_eq!(read["Records"].as_array().unwrap().len(), 1, "{read}");
}
