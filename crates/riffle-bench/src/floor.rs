//! `riffle-bench floor`: an endpoint that does nothing, on the HTTP stack
//! Riffle's server used for every request until it parsed HTTP/1.1 itself,
//! and still uses for HTTP/2 (hyper on tokio's multi-thread runtime,
//! TCP_NODELAY, the same read timeouts). It reads
//! each request whole and answers with a fixed body, storing nothing, so
//! what the load generator measures against it is the floor under any
//! server built on this stack on this machine: the HTTP layer, loopback TCP
//! and the load generator itself, on cores they all share. A latency the
//! floor cannot beat here is one no storage engine on this stack could.
//! `--bare` serves the same answers without hyper (one single-threaded
//! runtime a core, requests parsed with httparse, as riffle-server's own
//! HTTP/1.1 path parses them): the floor of a leaner HTTP stack, with
//! little left but loopback TCP and the load generator.

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
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{Report, content_length, header_value};

/// Riffle's own limits (`riffle-server`), so a request costs the same timers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
const REQUEST_BODY_BYTES_MAX: usize = 10 << 20;

/// A PutRecord answer the size of Riffle's (a 56-digit sequence number).
const PUT_RECORD_ANSWER: &[u8] = br#"{"EncryptionType":"NONE","SequenceNumber":"49671234567890123456789012345678901234567890123456789012","ShardId":"shardId-000000000002"}"#;

/// The body answering `operation`: what the load generator needs to create
/// a stream, see it ACTIVE and put to it.
fn fixed_answer(operation: &str) -> &'static [u8] {
    match operation {
        "PutRecord" => PUT_RECORD_ANSWER,
        "DescribeStreamSummary" => br#"{"StreamDescriptionSummary":{"StreamStatus":"ACTIVE"}}"#,
        "ListStreams" => br#"{"HasMoreStreams":false,"StreamNames":[]}"#,
        _ => b"{}",
    }
}

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

/// The fixed answer to a request, once its body is read.
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
    let answer = match body {
        Ok(Ok(_)) => fixed_answer(&operation),
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

/// The floor without hyper: one current-thread runtime a core, each owning
/// the connections handed to it in turn, requests parsed with httparse and
/// answered with the same bytes. It answers only what the load generator
/// sends (requests with a Content-Length); anything else ends the
/// connection. Against it, what is left is loopback TCP and the load
/// generator.
pub(crate) async fn bare_floor(listen: SocketAddr, seconds: u64) -> anyhow::Result<Report> {
    serve_bare(TcpListener::bind(listen).await?, seconds).await
}

async fn serve_bare(listener: TcpListener, seconds: u64) -> anyhow::Result<Report> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let answered = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::with_capacity(threads);
    let mut handoffs = Vec::with_capacity(threads);
    for _ in 0..threads {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (handoff, mut connections) =
            tokio::sync::mpsc::unbounded_channel::<std::net::TcpStream>();
        let answered = answered.clone();
        handoffs.push(handoff);
        workers.push(std::thread::spawn(move || {
            runtime.block_on(async move {
                while let Some(stream) = connections.recv().await {
                    let Ok(stream) = TcpStream::from_std(stream) else {
                        continue;
                    };
                    let answered = answered.clone();
                    tokio::spawn(async move {
                        let _ = serve_bare_connection(stream, &answered).await;
                    });
                }
            });
        }));
    }
    let started = Instant::now();
    let deadline = tokio::time::sleep(Duration::from_secs(seconds));
    tokio::pin!(deadline);
    for next in 0.. {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut deadline => break,
        };
        stream.set_nodelay(true)?;
        let _ = handoffs[next % threads].send(stream.into_std()?);
    }
    // The workers stop once they have no more connections to take.
    drop(handoffs);
    for worker in workers {
        let _ = tokio::task::spawn_blocking(move || worker.join()).await;
    }
    Ok(Report {
        workload: "floor",
        params: json!({ "seconds": seconds, "bare": true }),
        metrics: vec![
            ("requests", answered.load(Ordering::Relaxed) as f64),
            ("seconds_served", started.elapsed().as_secs_f64()),
        ],
    })
}

async fn serve_bare_connection(mut stream: TcpStream, answered: &AtomicU64) -> anyhow::Result<()> {
    let mut received: Vec<u8> = Vec::with_capacity(8192);
    let mut answers: Vec<u8> = Vec::with_capacity(2048);
    loop {
        // Every whole request received, answered in one write.
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            let httparse::Status::Complete(head_len) = request.parse(&received)? else {
                break;
            };
            let Some(length) = content_length(request.headers)? else {
                anyhow::bail!("a request without a Content-Length");
            };
            anyhow::ensure!(
                length <= REQUEST_BODY_BYTES_MAX,
                "a request body over the limit"
            );
            let operation = header_value(request.headers, "x-amz-target")
                .and_then(|target| target.rsplit(|&b| b == b'.').next())
                .unwrap_or_default();
            if received.len() < head_len + length {
                break;
            }
            let body = fixed_answer(std::str::from_utf8(operation).unwrap_or(""));
            answers.extend_from_slice(BARE_ANSWER_HEAD);
            answers.extend_from_slice(body.len().to_string().as_bytes());
            answers.extend_from_slice(b"\r\n\r\n");
            answers.extend_from_slice(body);
            received.drain(..head_len + length);
            answered.fetch_add(1, Ordering::Relaxed);
        }
        if !answers.is_empty() {
            stream.write_all(&answers).await?;
            answers.clear();
        }
        received.reserve(4096);
        if stream.read_buf(&mut received).await? == 0 {
            return Ok(());
        }
    }
}

/// What hyper writes for `answer`'s response, up to the length's value.
const BARE_ANSWER_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\n\
x-amzn-requestid: d2a0f2f8-5b8e-4a4c-9d3e-3c1f0a6b7e21\r\n\
x-amz-id-2: Zmxvb3JmbG9vcmZsb29yZmxvb3JmbG9vcmZsb29yZmxvb3JmbG9vcmZsb29yZmxv\r\n\
date: Mon, 07 Dec 2026 17:00:00 GMT\r\ncontent-length: ";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BareConnection, create_stream};

    /// The load generator can create a stream on either floor, see it
    /// ACTIVE and put to it, and every request is counted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_floor_answers_what_the_put_record_workload_asks() {
        for bare in [false, true] {
            answers_the_put_record_workload(bare).await;
        }
    }

    async fn answers_the_put_record_workload(bare: bool) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = listener.local_addr().unwrap();
        let served = if bare {
            tokio::spawn(serve_bare(listener, 2))
        } else {
            tokio::spawn(serve(listener, 2))
        };
        let stream = create_stream(endpoint, 4).await.unwrap();
        let mut connection = BareConnection::open(endpoint, "PutRecord").await.unwrap();
        let body = format!(r#"{{"StreamName":"{stream}","PartitionKey":"k","Data":"eA=="}}"#);
        for _ in 0..3 {
            let (status, answer) = connection.call(body.as_bytes()).await.unwrap();
            assert_eq!(status, 200, "bare: {bare}");
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
        assert!(requests >= 5.0, "bare: {bare}: {requests} requests counted");
    }
}
