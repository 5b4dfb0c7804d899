//! The transport: h2c with prior knowledge, HTTP/1.1, headers, and the
//! framework errors no SDK will produce on purpose.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::support::Riffle;

struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

/// Sends one request over a fresh connection, HTTP/2 (prior knowledge) or HTTP/1.1.
async fn send(
    riffle: &Riffle,
    http2: bool,
    method: &str,
    target: Option<&str>,
    body: &str,
) -> Answer {
    let stream = TcpStream::connect(riffle.addr).await.unwrap();
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("http://{}/", riffle.addr))
        .header("content-type", "application/x-amz-json-1.1");
    if let Some(target) = target {
        builder = builder.header("x-amz-target", target);
    }
    let request = builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = if http2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        sender.send_request(request).await.unwrap()
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        sender.send_request(request).await.unwrap()
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn h2c_with_prior_knowledge_and_http1_serve_the_same_api() {
    let riffle = Riffle::start();
    riffle.create_stream("h2", 1).await;
    for http2 in [true, false] {
        let put = send(
            &riffle,
            http2,
            "POST",
            Some("Kinesis_20131202.PutRecord"),
            r#"{"StreamName":"h2","PartitionKey":"k","Data":"aGk="}"#,
        )
        .await;
        assert_eq!(put.status, 200, "{}", put.body);
        assert!(
            put.body.contains(r#""ShardId":"shardId-000000000000""#),
            "{}",
            put.body
        );
        assert_eq!(put.headers["content-type"], "application/x-amz-json-1.1");
        let request_id = put.headers["x-amzn-requestid"].to_str().unwrap();
        assert_eq!(request_id.len(), 36, "a UUID-shaped request id");
        assert!(put.headers.contains_key("x-amz-id-2"));
    }
    assert_eq!(riffle.read_all("h2", "shardId-000000000000").await.len(), 2);
}

#[tokio::test]
async fn framework_errors_look_like_aws() {
    let riffle = Riffle::start();
    let unknown = send(
        &riffle,
        false,
        "POST",
        Some("Kinesis_20131202.Frobnicate"),
        "{}",
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.body.as_str()),
        (400, r#"{"__type":"UnknownOperationException"}"#)
    );
    assert!(
        unknown.headers.contains_key("x-amzn-requestid"),
        "errors carry request ids too"
    );

    let not_json = send(
        &riffle,
        false,
        "POST",
        Some("Kinesis_20131202.ListStreams"),
        "{not json",
    )
    .await;
    assert_eq!(
        (not_json.status, not_json.body.as_str()),
        (400, r#"{"__type":"SerializationException"}"#)
    );

    let wrong_type = send(
        &riffle,
        true,
        "POST",
        Some("Kinesis_20131202.DescribeStream"),
        r#"{"StreamName": 5}"#,
    )
    .await;
    assert_eq!(wrong_type.status, 400);
    assert_eq!(
        wrong_type.body,
        r#"{"__type":"SerializationException","Message":"class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"}"#
    );

    let get = send(&riffle, false, "GET", None, "").await;
    assert_eq!(get.status, 403);
    assert!(
        get.body
            .contains("Unable to determine service/operation name to be authorized"),
        "{}",
        get.body
    );

    let neither = send(
        &riffle,
        false,
        "POST",
        Some("Kinesis_20131202.DescribeStream"),
        "{}",
    )
    .await;
    assert_eq!(neither.status, 400);
    assert!(
        neither.body.contains("InvalidArgumentException"),
        "{}",
        neither.body
    );
}
