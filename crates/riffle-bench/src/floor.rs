//! `riffle-bench floor`: an endpoint that does nothing, on the HTTP stack
//! Riffle's server uses (hyper's HTTP/1.1 and HTTP/2 server on tokio's
//! multi-thread runtime, TCP_NODELAY, the same read timeouts). It reads
//! each request whole and answers with a fixed body, storing nothing, so
//! what the load generator measures against it is the floor under any
//! server built on this stack on this machine: the HTTP layer, loopback TCP
//! and the load generator itself, on cores they all share. A latency the
//! floor cannot beat here is one no storage engine on this stack could.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde_json::json;
use tokio::net::TcpListener;

use crate::Report;

/// Riffle's own limits (`riffle-server`), so a request costs the same timers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
const REQUEST_BODY_BYTES_MAX: usize = 10 << 20;

/// A PutRecord answer the size of Riffle's (a 56-digit sequence number).
const PUT_RECORD_ANSWER: &[u8] = br#"{"EncryptionType":"NONE","SequenceNumber":"49671234567890123456789012345678901234567890123456789012","ShardId":"shardId-000000000002"}"#;

/// Serves on `listen` for `seconds` (or until killed), then reports how
/// many requests it answered.
pub(crate) async fn floor(listen: SocketAddr, seconds: u64) -> anyhow::Result<Report> {
    serve(TcpListener::bind(listen).await?, seconds).await
}

async fn serve(listener: TcpListener, seconds: u64) -> anyhow::Result<Report> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let builder = Arc::new(builder);
    let answered = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = tokio::time::sleep(Duration::from_secs(seconds));
    tokio::pin!(deadline);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut deadline => break,
        };
        stream.set_nodelay(true)?;
        let (builder, answered) = (builder.clone(), answered.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let answered = answered.clone();
                async move {
                    answered.fetch_add(1, Ordering::Relaxed);
                    Ok::<_, std::convert::Infallible>(answer(request).await)
                }
            });
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    let answered = answered.load(Ordering::Relaxed);
    Ok(Report {
        workload: "floor",
        params: json!({ "seconds": seconds }),
        metrics: vec![
            ("requests", answered as f64),
            ("seconds_served", started.elapsed().as_secs_f64()),
        ],
    })
}

/// The fixed answer to a request, once its body is read: what the load
/// generator needs to create a stream, see it ACTIVE and put to it.
async fn answer(request: Request<Incoming>) -> Response<Full<Bytes>> {
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|target| target.to_str().ok())
        .and_then(|target| target.rsplit('.').next())
        .unwrap_or("")
        .to_owned();
    let body = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        Limited::new(request.into_body(), REQUEST_BODY_BYTES_MAX).collect(),
    )
    .await;
    let answer: &'static [u8] = match (body, operation.as_str()) {
        (Ok(Ok(_)), "PutRecord") => PUT_RECORD_ANSWER,
        (Ok(Ok(_)), "DescribeStreamSummary") => {
            br#"{"StreamDescriptionSummary":{"StreamStatus":"ACTIVE"}}"#
        }
        (Ok(Ok(_)), "ListStreams") => br#"{"HasMoreStreams":false,"StreamNames":[]}"#,
        (Ok(Ok(_)), _) => b"{}",
        _ => br#"{"__type":"SerializationException"}"#,
    };
    let mut response = Response::new(Full::new(Bytes::from_static(answer)));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    // Riffle's two identifying headers, the same lengths.
    headers.insert(
        HeaderName::from_static("x-amzn-requestid"),
        HeaderValue::from_static("d2a0f2f8-5b8e-4a4c-9d3e-3c1f0a6b7e21"),
    );
    headers.insert(
        HeaderName::from_static("x-amz-id-2"),
        HeaderValue::from_static(
            "Zmxvb3JmbG9vcmZsb29yZmxvb3JmbG9vcmZsb29yZmxvb3JmbG9vcmZsb29yZmxv",
        ),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BareConnection, create_stream};

    /// The load generator can create a stream on the floor, see it ACTIVE
    /// and put to it, and every request is counted.
    #[tokio::test]
    async fn the_floor_answers_what_the_put_record_workload_asks() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = listener.local_addr().unwrap();
        let served = tokio::spawn(serve(listener, 2));
        let stream = create_stream(endpoint, 4).await.unwrap();
        let mut connection = BareConnection::open(endpoint, "PutRecord").await.unwrap();
        let body = format!(r#"{{"StreamName":"{stream}","PartitionKey":"k","Data":"eA=="}}"#);
        for _ in 0..3 {
            let (status, answer) = connection.call(body.as_bytes()).await.unwrap();
            assert_eq!(status, 200);
            assert_eq!(answer, PUT_RECORD_ANSWER);
        }
        let report = served.await.unwrap().unwrap();
        let requests = report
            .metrics
            .iter()
            .find(|(name, _)| *name == "requests")
            .unwrap()
            .1;
        // CreateStream, at least one DescribeStreamSummary, three PutRecords.
        assert!(requests >= 5.0, "{requests} requests counted");
    }
}
