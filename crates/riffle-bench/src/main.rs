//! `riffle-bench`: drives any Kinesis endpoint on loopback with a bounded
//! workload and reports throughput and latency percentiles, as a table and
//! as one JSON line (for `bench/compare.sh`).
//!
//! It speaks raw AWS JSON 1.1 over pooled HTTP/1.1 keep-alive connections,
//! so the client costs little next to the server being measured (for
//! `put-record`, whose requests are smallest, over a `BareConnection`).
//!
//! Workloads:
//! - `put-records`: PutRecords batches from several connections.
//! - `put-record`: single PutRecord calls from many concurrent clients.
//! - `read`: catch-up reading of everything in the stream from TRIM_HORIZON.
//! - `tail`: puts at a fixed rate while a reader polls the tip; reports
//!   put-acknowledged → record-visible latency.
//! - `fanout`: the same with enhanced fan-out subscribers (SubscribeToShard,
//!   one or hundreds on one shard) instead of polling.
//! - `floor`: not a workload but a server: an endpoint that does nothing on
//!   Riffle's HTTP stack, to measure the others against (`floor.rs`).

mod floor;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
#[command(
    name = "riffle-bench",
    about = "Benchmark a Kinesis endpoint on loopback"
)]
struct Cli {
    /// The endpoint, e.g. 127.0.0.1:4567 (loopback only unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:4567")]
    endpoint: SocketAddr,
    /// Permit a non-loopback endpoint.
    #[arg(long)]
    allow_remote: bool,
    /// Speak CBOR (`application/x-amz-cbor-1.1`, as the Java SDK and the
    /// KCL do) instead of JSON. put-records, put-record and read only.
    #[arg(long)]
    cbor: bool,
    /// A label for the JSON line (e.g. the server's name).
    #[arg(long, default_value = "riffle")]
    label: String,
    /// The server's process id: its resident memory after the run is
    /// reported as `server_rss_mib` (Linux).
    #[arg(long)]
    server_pid: Option<u32>,
    #[command(subcommand)]
    workload: Workload,
}

#[derive(clap::Args, Debug)]
struct PutRecordsArgs {
    #[arg(long, default_value_t = 4)]
    shards: u32,
    #[arg(long, default_value_t = 4)]
    connections: usize,
    #[arg(long, default_value_t = 500)]
    batch: usize,
    #[arg(long, default_value_t = 100)]
    record_bytes: usize,
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    #[arg(long, default_value_t = 20_000)]
    batches_max: u64,
    /// Leave the stream and its data in place (to fill a data directory).
    #[arg(long)]
    keep: bool,
}

#[derive(clap::Args, Debug)]
struct PutRecordArgs {
    #[arg(long, default_value_t = 4)]
    shards: u32,
    #[arg(long, default_value_t = 64)]
    clients: usize,
    #[arg(long, default_value_t = 100)]
    record_bytes: usize,
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    #[arg(long, default_value_t = 2_000_000)]
    requests_max: u64,
    /// Requests a second from all clients together, each client sending
    /// on its own schedule (still one request in flight per client).
    /// A request sent late because the server had not yet answered the
    /// client's last one has its latency counted from when it was due,
    /// so a server that falls behind is not excused by the clients
    /// waiting for it (no coordinated omission). Without it,
    /// every client sends its next request as soon as the last is
    /// answered: the server's maximum rate, with the queueing that
    /// saturation brings.
    #[arg(long)]
    rate: Option<u64>,
    /// Requests sent before the measurement starts, for this long (on the
    /// same schedule with --rate): a stream created a moment ago answers
    /// its first puts slower (new files, the first flush making their
    /// directory entries durable), and in a paced run one such stall
    /// makes every later request of its client late, enough to decide
    /// p99. Steady state is what is reported.
    #[arg(long, default_value_t = 1)]
    warmup_seconds: u64,
}

#[derive(Subcommand, Debug)]
enum Workload {
    /// PutRecords batches from `connections` connections.
    PutRecords(PutRecordsArgs),
    /// Creates `streams` streams of `shards` shards and puts `records`
    /// records in each; leaves them (for startup and scale measurements).
    Populate {
        #[arg(long, default_value_t = 100)]
        streams: u32,
        #[arg(long, default_value_t = 10)]
        shards: u32,
        #[arg(long, default_value_t = 100)]
        records: u64,
        #[arg(long, default_value_t = 100)]
        record_bytes: usize,
    },
    /// Starts the server command `runs` times and times each start to its
    /// first answered ListStreams on --endpoint (polling every 0.5 ms).
    Startup {
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// The server command line, after `--`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Single PutRecord calls from `clients` concurrent clients.
    PutRecord(PutRecordArgs),
    /// Fills a stream with `records` records, then reads them all back from TRIM_HORIZON.
    Read {
        #[arg(long, default_value_t = 4)]
        shards: u32,
        #[arg(long, default_value_t = 200_000)]
        records: u64,
        #[arg(long, default_value_t = 100)]
        record_bytes: usize,
    },
    /// Puts `rate` records a second for `seconds` while `subscribers`
    /// enhanced fan-out consumers are subscribed to the one shard
    /// (SubscribeToShard over HTTP/1.1 chunked). More than 20 needs the
    /// server's --consumer-limit raised.
    Fanout {
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        record_bytes: usize,
        #[arg(long, default_value_t = 1)]
        subscribers: usize,
    },
    /// Times `syncs` appends of 200 bytes each followed by `fdatasync`, in a
    /// scratch file under `dir`: the device's flush latency, which bounds
    /// any durable server's latency on this machine. Sends no requests.
    Disk {
        #[arg(long, default_value = ".")]
        dir: std::path::PathBuf,
        #[arg(long, default_value_t = 2000)]
        syncs: u32,
    },
    /// Serves on --endpoint for `seconds` an endpoint that stores nothing and
    /// answers every request with a fixed body, on the HTTP stack Riffle's
    /// server uses: the floor under the latency of any server on that stack
    /// on this machine.
    Floor {
        #[arg(long, default_value_t = 3600)]
        seconds: u64,
        /// Without hyper: one single-threaded runtime a core, requests
        /// parsed with httparse (the floor of a leaner HTTP stack).
        #[arg(long)]
        bare: bool,
    },
    /// Puts `rate` records a second for `seconds` while a reader polls the tip.
    Tail {
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        record_bytes: usize,
    },
}

/// One pooled HTTP/1.1 connection speaking AWS JSON 1.1.
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    /// Built once: the load generator shares the machine with the server.
    uri: http::Uri,
    host: http::HeaderValue,
}

impl Connection {
    async fn open(endpoint: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(endpoint)
            .await
            .with_context(|| format!("connecting to {endpoint}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Connection {
            sender,
            uri: format!("http://{endpoint}/").parse()?,
            host: endpoint.to_string().parse()?,
        })
    }

    /// Sends an operation and returns the response with its body unread
    /// (SubscribeToShard streams it).
    async fn send(
        &mut self,
        operation: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
        self.sender.ready().await?;
        let request = Request::builder()
            .method("POST")
            .uri(self.uri.clone())
            .header("host", self.host.clone())
            .header("content-type", content_type())
            .header("x-amz-target", format!("Kinesis_20131202.{operation}"))
            .header("x-amz-date", "20261122T000000Z")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0",
            )
            .body(Full::new(Bytes::from(body)))?;
        Ok(self.sender.send_request(request).await?)
    }

    /// Calls an operation; returns the status and body.
    async fn call(&mut self, operation: &str, body: Vec<u8>) -> anyhow::Result<(u16, Bytes)> {
        let response = self.send(operation, body).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    async fn call_ok(&mut self, operation: &str, body: serde_json::Value) -> anyhow::Result<Bytes> {
        let (status, answer) = self.call(operation, encode_body(&body)?).await?;
        if status != 200 {
            bail!(
                "{operation} failed with {status}: {}",
                String::from_utf8_lossy(&answer)
            );
        }
        Ok(answer)
    }
}

/// A bare HTTP/1.1 keep-alive connection for the one-request-per-call loop
/// (`put-record`), where the client's own cost is most of what it shares
/// the machine's cores with: a request leaves in one `write` and its answer
/// usually arrives in one `read`, in the calling task, where the hyper
/// client hands each exchange between two tasks. Answers must carry a
/// `Content-Length` (every peer's do); the connection is opened again after
/// a `Connection: close`.
struct BareConnection {
    endpoint: SocketAddr,
    stream: Option<TcpStream>,
    /// The request head up to the value of `content-length`.
    head: Vec<u8>,
    request: Vec<u8>,
    answer: Vec<u8>,
}

impl BareConnection {
    async fn open(endpoint: SocketAddr, operation: &str) -> anyhow::Result<BareConnection> {
        let head = format!(
            "POST / HTTP/1.1\r\nhost: {endpoint}\r\ncontent-type: {}\r\n\
             x-amz-target: Kinesis_20131202.{operation}\r\nx-amz-date: 20261122T000000Z\r\n\
             authorization: AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/kinesis/aws4_request, \
             SignedHeaders=host;x-amz-date;x-amz-target, Signature=0\r\ncontent-length: ",
            content_type()
        );
        Ok(BareConnection {
            endpoint,
            stream: Some(BareConnection::connect(endpoint).await?),
            head: head.into_bytes(),
            request: Vec::with_capacity(1024),
            answer: Vec::with_capacity(4096),
        })
    }

    async fn connect(endpoint: SocketAddr) -> anyhow::Result<TcpStream> {
        let stream = TcpStream::connect(endpoint)
            .await
            .with_context(|| format!("connecting to {endpoint}"))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// Sends `body`; returns the status and the answer's body.
    async fn call(&mut self, body: &[u8]) -> anyhow::Result<(u16, &[u8])> {
        self.request.clear();
        self.request.extend_from_slice(&self.head);
        self.request
            .extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        self.request.extend_from_slice(body);
        let mut stream = match self.stream.take() {
            Some(stream) => stream,
            None => BareConnection::connect(self.endpoint).await?,
        };
        stream.write_all(&self.request).await?;
        self.answer.clear();
        let (status, body_start, body_len, close) = loop {
            self.answer.reserve(4096);
            if stream.read_buf(&mut self.answer).await? == 0 {
                bail!("{} closed the connection before answering", self.endpoint);
            }
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            let httparse::Status::Complete(head_len) = response.parse(&self.answer)? else {
                continue;
            };
            let Some(length) = content_length(response.headers)? else {
                bail!("{} answered without a Content-Length", self.endpoint);
            };
            let close = header_value(response.headers, "connection")
                .is_some_and(|v| v.eq_ignore_ascii_case(b"close"));
            break (response.code.unwrap_or(0), head_len, length, close);
        };
        while self.answer.len() < body_start + body_len {
            self.answer
                .reserve(body_start + body_len - self.answer.len());
            if stream.read_buf(&mut self.answer).await? == 0 {
                bail!("{} closed the connection mid-answer", self.endpoint);
            }
        }
        if !close {
            self.stream = Some(stream);
        }
        Ok((status, &self.answer[body_start..body_start + body_len]))
    }
}

/// The value of the header `name` (any case) among parsed `headers`.
fn header_value<'h>(headers: &[httparse::Header<'h>], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// The Content-Length among parsed `headers`, if there is one.
fn content_length(headers: &[httparse::Header<'_>]) -> anyhow::Result<Option<usize>> {
    header_value(headers, "content-length")
        .map(|length| Ok(std::str::from_utf8(length)?.trim().parse()?))
        .transpose()
}

/// Latencies in microseconds, in an HDR histogram (three significant
/// digits, any range): constant memory however long a run is.
struct Latencies(hdrhistogram::Histogram<u64>);

impl Default for Latencies {
    fn default() -> Latencies {
        // 1 µs to one hour: anything longer is clamped, and no run is that long.
        Latencies(
            hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("valid bounds and precision"),
        )
    }
}

/// Waits for every client's task, then adds up their counts and merges
/// their latencies. Merging a client's histogram (about 190 KB)
/// while others are still sending would hold up the thread they share.
async fn gather(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<(u64, Latencies)>>>,
) -> anyhow::Result<(u64, Latencies)> {
    let mut done = Vec::with_capacity(tasks.len());
    for task in tasks {
        done.push(task.await??);
    }
    let mut latencies = Latencies::default();
    for (_, client) in &done {
        latencies.merge(client);
    }
    Ok((done.iter().map(|(count, _)| count).sum(), latencies))
}

impl Latencies {
    fn record(&mut self, elapsed: Duration) {
        self.record_micros(elapsed.as_micros() as u64);
    }

    fn record_micros(&mut self, micros: u64) {
        self.0.saturating_record(micros);
    }

    fn merge(&mut self, other: &Latencies) {
        self.0
            .add(&other.0)
            .expect("auto-resizing histograms always merge");
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(p / 100.0) as f64 / 1000.0
    }
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{prefix}-{nanos}")
}

/// Creates a stream and waits (bounded) until it is ACTIVE.
async fn create_stream(endpoint: SocketAddr, shards: u32) -> anyhow::Result<String> {
    let name = unique("bench");
    let mut connection = Connection::open(endpoint).await?;
    connection
        .call_ok(
            "CreateStream",
            json!({"StreamName": name, "ShardCount": shards}),
        )
        .await?;
    wait_active(&mut connection, &name).await?;
    Ok(name)
}

/// Waits (bounded) until a stream is ACTIVE.
async fn wait_active(connection: &mut Connection, name: &str) -> anyhow::Result<()> {
    for _ in 0..600 {
        let body = connection
            .call_ok("DescribeStreamSummary", json!({"StreamName": name}))
            .await?;
        let described: SummaryAnswer = decode(&body)?;
        if described.stream_description_summary.stream_status == "ACTIVE" {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("stream {name} never became ACTIVE")
}

/// Puts `records` records of `data` into a stream, 500 per PutRecords.
async fn fill(
    connection: &mut Connection,
    stream: &str,
    records: u64,
    data: &str,
    salt: u64,
) -> anyhow::Result<()> {
    let mut written = 0;
    while written < records {
        let batch = (records - written).min(500) as usize;
        let (status, answer) = connection
            .call(
                "PutRecords",
                put_records_body(stream, batch, data, salt + written),
            )
            .await?;
        if status != 200 {
            bail!(
                "PutRecords failed with {status}: {}",
                String::from_utf8_lossy(&answer)
            );
        }
        written += batch as u64;
    }
    Ok(())
}

/// Deletes a benchmark's stream so the next workload starts within the
/// peers' shard limits (kinesalite allows 10 shards by default).
async fn delete_stream(endpoint: SocketAddr, name: &str) {
    if let Ok(mut connection) = Connection::open(endpoint).await {
        let _ = connection
            .call_ok("DeleteStream", json!({"StreamName": name}))
            .await;
        // Give DELETING time to pass on servers that keep it briefly.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn payload(record_bytes: usize) -> String {
    STANDARD.encode(vec![b'x'; record_bytes])
}

/// Whether requests and responses are CBOR (`--cbor`) rather than JSON.
static CBOR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn cbor() -> bool {
    CBOR.load(Ordering::Relaxed)
}

fn content_type() -> &'static str {
    if cbor() {
        "application/x-amz-cbor-1.1"
    } else {
        "application/x-amz-json-1.1"
    }
}

/// A request body in the chosen encoding. In CBOR, `Data` members (base64
/// in the JSON form) become byte strings, as the Java SDK sends them.
fn encode_body(body: &serde_json::Value) -> anyhow::Result<Vec<u8>> {
    if !cbor() {
        return Ok(serde_json::to_vec(body)?);
    }
    fn convert(value: &serde_json::Value, key: Option<&str>) -> anyhow::Result<ciborium::Value> {
        use ciborium::Value as C;
        use serde_json::Value as J;
        Ok(match value {
            J::String(text) if key == Some("Data") => C::Bytes(STANDARD.decode(text)?),
            J::String(text) => C::Text(text.clone()),
            J::Null => C::Null,
            J::Bool(b) => C::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => C::Integer(i.into()),
                None => C::Float(n.as_f64().unwrap_or_default()),
            },
            J::Array(items) => C::Array(
                items
                    .iter()
                    .map(|item| convert(item, None))
                    .collect::<anyhow::Result<_>>()?,
            ),
            J::Object(map) => C::Map(
                map.iter()
                    .map(|(k, v)| Ok((C::Text(k.clone()), convert(v, Some(k))?)))
                    .collect::<anyhow::Result<_>>()?,
            ),
        })
    }
    let mut out = Vec::new();
    ciborium::ser::into_writer(&convert(body, None)?, &mut out)?;
    Ok(out)
}

/// A response body in the chosen encoding.
fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> anyhow::Result<T> {
    if cbor() {
        Ok(ciborium::de::from_reader(body)?)
    } else {
        Ok(serde_json::from_slice(body)?)
    }
}

/// A CBOR item head: major type and length (definite lengths only).
fn cbor_head(out: &mut Vec<u8>, major: u8, len: u64) {
    let major = major << 5;
    match len {
        0..=23 => out.push(major | len as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, len as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    cbor_head(out, 3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// A PutRecords body with `batch` records over varied partition keys.
fn put_records_body(stream: &str, batch: usize, data: &str, salt: u64) -> Vec<u8> {
    if cbor() {
        // Written directly, like the JSON form below: the client shares the
        // machine with the server, so it must cost little.
        let data = STANDARD.decode(data).expect("payloads are valid base64");
        let mut body = Vec::with_capacity(batch * (data.len() + 40) + 64);
        cbor_head(&mut body, 5, 2);
        cbor_text(&mut body, "StreamName");
        cbor_text(&mut body, stream);
        cbor_text(&mut body, "Records");
        cbor_head(&mut body, 4, batch as u64);
        for i in 0..batch {
            cbor_head(&mut body, 5, 2);
            cbor_text(&mut body, "PartitionKey");
            cbor_text(
                &mut body,
                &format!("k{}", salt.wrapping_mul(7919).wrapping_add(i as u64)),
            );
            cbor_text(&mut body, "Data");
            cbor_head(&mut body, 2, data.len() as u64);
            body.extend_from_slice(&data);
        }
        return body;
    }
    let mut body = String::with_capacity(batch * (data.len() + 48) + stream.len() + 32);
    let _ = write!(body, "{{\"StreamName\":\"{stream}\",\"Records\":[");
    for i in 0..batch {
        if i > 0 {
            body.push(',');
        }
        let _ = write!(
            body,
            "{{\"PartitionKey\":\"k{}\",\"Data\":\"{data}\"}}",
            salt.wrapping_mul(7919).wrapping_add(i as u64)
        );
    }
    body.push_str("]}");
    body.into_bytes()
}

struct Report {
    workload: &'static str,
    params: serde_json::Value,
    metrics: Vec<(&'static str, f64)>,
}

async fn put_records(endpoint: SocketAddr, args: PutRecordsArgs) -> anyhow::Result<Report> {
    let PutRecordsArgs {
        shards,
        connections,
        batch,
        record_bytes,
        seconds,
        batches_max,
        keep,
    } = args;
    let stream = Arc::new(create_stream(endpoint, shards).await?);
    let data = Arc::new(payload(record_bytes));
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let (stream, data, sent, failed) =
            (stream.clone(), data.clone(), sent.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(endpoint).await?;
            let mut latencies = Latencies::default();
            let mut n = 0u64;
            while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < batches_max {
                let body = put_records_body(&stream, batch, &data, worker as u64 * 1_000_003 + n);
                let start = Instant::now();
                let (status, answer) = connection.call("PutRecords", body).await?;
                latencies.record(start.elapsed());
                if status != 200 {
                    bail!(
                        "PutRecords failed with {status}: {}",
                        String::from_utf8_lossy(&answer)
                    );
                }
                failed.fetch_add(failed_record_count(&answer)?, Ordering::Relaxed);
                n += 1;
            }
            anyhow::Ok((n, latencies))
        }));
    }
    let (batches, latencies) = gather(tasks).await?;
    let elapsed = started.elapsed().as_secs_f64();
    if !keep {
        delete_stream(endpoint, &stream).await;
    }
    let records = (batches * batch as u64).saturating_sub(failed.load(Ordering::Relaxed)) as f64;
    Ok(Report {
        workload: "put-records",
        params: json!({"shards": shards, "connections": connections, "batch": batch, "record_bytes": record_bytes, "seconds": seconds}),
        metrics: vec![
            ("records_per_sec", records / elapsed),
            (
                "payload_mb_per_sec",
                records * record_bytes as f64 / elapsed / 1e6,
            ),
            ("failed_records", failed.load(Ordering::Relaxed) as f64),
            ("p50_ms", latencies.percentile_ms(50.0)),
            ("p99_ms", latencies.percentile_ms(99.0)),
        ],
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SummaryAnswer {
    stream_description_summary: StatusOnly,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StatusOnly {
    stream_status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FailedCount {
    failed_record_count: Option<u64>,
}

/// FailedRecordCount of a PutRecords answer. A JSON answer is searched for
/// the member instead of parsed whole: 500 results are about 60 KB, and the
/// client shares the machine with the server. (The key cannot occur inside
/// any other member: sequence numbers, shard ids and error codes have no
/// quotes.)
fn failed_record_count(answer: &[u8]) -> anyhow::Result<u64> {
    const KEY: &[u8] = b"\"FailedRecordCount\"";
    if cbor() {
        // The key as a CBOR text string of 17 bytes, then an unsigned integer.
        const CBOR_KEY: &[u8] = b"\x71FailedRecordCount";
        if let Some(at) = memchr::memmem::find(answer, CBOR_KEY) {
            let rest = &answer[at + CBOR_KEY.len()..];
            let width = match rest.first() {
                Some(&n @ 0..=0x17) => return Ok(u64::from(n)),
                Some(0x18) => 1,
                Some(0x19) => 2,
                Some(0x1a) => 4,
                Some(0x1b) => 8,
                _ => 0,
            };
            if width > 0 && rest.len() > width {
                return Ok(rest[1..=width]
                    .iter()
                    .fold(0, |n, &b| (n << 8) | u64::from(b)));
            }
        }
        let parsed: FailedCount = decode(answer)?;
        return Ok(parsed.failed_record_count.unwrap_or(0));
    }
    let Some(at) = memchr::memmem::find(answer, KEY) else {
        bail!(
            "no FailedRecordCount in {}",
            String::from_utf8_lossy(answer)
        );
    };
    let rest = answer[at + KEY.len()..]
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || **b == b':');
    let mut count = None;
    for &b in rest {
        if !b.is_ascii_digit() {
            break;
        }
        count = Some(count.unwrap_or(0u64) * 10 + u64::from(b - b'0'));
    }
    count.with_context(|| {
        format!(
            "FailedRecordCount is not a number in {}",
            String::from_utf8_lossy(answer)
        )
    })
}

async fn put_record(endpoint: SocketAddr, args: PutRecordArgs) -> anyhow::Result<Report> {
    let PutRecordArgs {
        shards,
        clients,
        record_bytes,
        seconds,
        requests_max,
        rate,
        warmup_seconds,
    } = args;
    let stream = Arc::new(create_stream(endpoint, shards).await?);
    let data = Arc::new(payload(record_bytes));
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    // Every client connects, and has its histogram, before the clock
    // starts: a paced schedule must not begin with its first requests
    // already late.
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        let connection = BareConnection::open(endpoint, "PutRecord").await?;
        connections.push((connection, Latencies::default()));
    }
    let started = Instant::now();
    let measured_from = started + Duration::from_secs(warmup_seconds);
    let deadline = measured_from + Duration::from_secs(seconds);
    // Client `c`'s request `n` is due at (n × clients + c) / rate seconds.
    let spacing = rate.map(|rate| Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    for (client, (mut connection, mut latencies)) in connections.into_iter().enumerate() {
        let (stream, data, sent) = (stream.clone(), data.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            // Requests sent, and those of them measured (past the warm-up).
            let (mut n, mut measured) = (0u64, 0u64);
            loop {
                let due = spacing.map(|spacing| {
                    started + spacing.mul_f64((n * clients as u64 + client as u64) as f64)
                });
                // A server slower than the schedule is not waited for past
                // the deadline either.
                if due.is_some_and(|due| due >= deadline)
                    || Instant::now() >= deadline
                    || sent.fetch_add(1, Ordering::Relaxed) >= requests_max
                {
                    break;
                }
                // Ahead of the schedule, the clock starts when the client
                // wakes (tokio's timer is 1 ms coarse: its lateness is the
                // client's, not the server's). Behind it, because the server
                // took long to answer the last request, it starts when the
                // request was due.
                let start = match due {
                    Some(due) if due > Instant::now() => {
                        tokio::time::sleep_until(due.into()).await;
                        Instant::now()
                    }
                    Some(due) => due,
                    None => Instant::now(),
                };
                let body = if cbor() {
                    encode_body(&json!({"StreamName": *stream, "PartitionKey": format!("c{client}-{n}"), "Data": *data}))?
                } else {
                    format!("{{\"StreamName\":\"{stream}\",\"PartitionKey\":\"c{client}-{n}\",\"Data\":\"{data}\"}}").into_bytes()
                };
                // Measured if sent after the warm-up, from when it was due:
                // a server that fell behind during the warm-up still shows
                // its backlog, and one that never keeps up is still measured.
                let measure = Instant::now() >= measured_from;
                let (status, answer) = connection.call(&body).await?;
                if measure {
                    latencies.record(start.elapsed());
                    measured += 1;
                }
                if status != 200 {
                    bail!("PutRecord failed with {status}: {}", String::from_utf8_lossy(answer));
                }
                n += 1;
            }
            anyhow::Ok((measured, latencies))
        }));
    }
    let (requests, latencies) = gather(tasks).await?;
    let elapsed = measured_from.elapsed().as_secs_f64();
    delete_stream(endpoint, &stream).await;
    Ok(Report {
        workload: "put-record",
        params: json!({"shards": shards, "clients": clients, "record_bytes": record_bytes, "seconds": seconds, "rate": rate, "warmup_seconds": warmup_seconds}),
        metrics: vec![
            ("requests_per_sec", requests as f64 / elapsed),
            ("p50_ms", latencies.percentile_ms(50.0)),
            ("p99_ms", latencies.percentile_ms(99.0)),
            ("p999_ms", latencies.percentile_ms(99.9)),
            ("max_ms", latencies.percentile_ms(100.0)),
        ],
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ShardList {
    shards: Vec<ShardEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ShardEntry {
    shard_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IteratorAnswer {
    shard_iterator: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecordsPage {
    records: Vec<serde::de::IgnoredAny>,
    next_shard_iterator: Option<String>,
    millis_behind_latest: Option<u64>,
}

async fn shard_ids(connection: &mut Connection, stream: &str) -> anyhow::Result<Vec<String>> {
    let body = connection
        .call_ok("ListShards", json!({"StreamName": stream}))
        .await?;
    Ok(decode::<ShardList>(&body)?
        .shards
        .into_iter()
        .map(|s| s.shard_id)
        .collect())
}

async fn iterator(
    connection: &mut Connection,
    stream: &str,
    shard: &str,
    kind: &str,
) -> anyhow::Result<String> {
    let body = connection
        .call_ok(
            "GetShardIterator",
            json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": kind}),
        )
        .await?;
    Ok(decode::<IteratorAnswer>(&body)?.shard_iterator)
}

async fn read(
    endpoint: SocketAddr,
    shards: u32,
    records: u64,
    record_bytes: usize,
) -> anyhow::Result<Report> {
    let stream = create_stream(endpoint, shards).await?;
    let data = payload(record_bytes);
    let mut connection = Connection::open(endpoint).await?;
    fill(&mut connection, &stream, records, &data, 0).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for shard in shard_ids(&mut connection, &stream).await? {
        let stream = stream.clone();
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(endpoint).await?;
            let mut it = iterator(&mut connection, &stream, &shard, "TRIM_HORIZON").await?;
            let mut count = 0u64;
            loop {
                let body = connection
                    .call_ok("GetRecords", json!({"ShardIterator": it, "Limit": 10000}))
                    .await?;
                let page: RecordsPage = decode(&body)?;
                count += page.records.len() as u64;
                match page.next_shard_iterator {
                    Some(next)
                        if !page.records.is_empty()
                            || page.millis_behind_latest.unwrap_or(0) > 0 =>
                    {
                        it = next
                    }
                    _ => break,
                }
            }
            anyhow::Ok(count)
        }));
    }
    let mut read = 0;
    for task in tasks {
        read += task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    delete_stream(endpoint, &stream).await;
    if read < records {
        bail!("read {read} of {records} records");
    }
    Ok(Report {
        workload: "read",
        params: json!({"shards": shards, "records": records, "record_bytes": record_bytes}),
        metrics: vec![
            ("records_per_sec", read as f64 / elapsed),
            (
                "payload_mb_per_sec",
                read as f64 * record_bytes as f64 / elapsed / 1e6,
            ),
        ],
    })
}

async fn tail(
    endpoint: SocketAddr,
    rate: u64,
    seconds: u64,
    record_bytes: usize,
) -> anyhow::Result<Report> {
    let stream = create_stream(endpoint, 1).await?;
    let mut reader = Connection::open(endpoint).await?;
    let mut it = iterator(&mut reader, &stream, "shardId-000000000000", "LATEST").await?;
    let total = rate * seconds;
    // acked[i] = when record i's put was acknowledged.
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let origin = Instant::now();
    let writer = spawn_paced_writer(
        endpoint,
        stream.clone(),
        rate,
        total,
        record_bytes,
        acked.clone(),
        origin,
    );
    let mut latencies = Latencies::default();
    let mut seen = 0u64;
    let give_up = readers_give_up(seconds);
    while seen < total && Instant::now() < give_up {
        let body = reader
            .call_ok("GetRecords", json!({"ShardIterator": it}))
            .await?;
        let page: TailPage = serde_json::from_slice(&body)?;
        let now = origin.elapsed().as_micros() as u64;
        for record in &page.records {
            let i: usize = record.partition_key.parse()?;
            let acked_at = acked[i].load(Ordering::Acquire);
            // Visible before its ack reached the writer counts as zero.
            latencies.record_micros(if acked_at == 0 {
                0
            } else {
                now.saturating_sub(acked_at - 1)
            });
            seen += 1;
        }
        it = page
            .next_shard_iterator
            .context("no next iterator on an open shard")?;
    }
    let puts_per_sec = writer.await??;
    delete_stream(endpoint, &stream).await;
    Ok(Report {
        workload: "tail",
        params: json!({"rate": rate, "seconds": seconds, "record_bytes": record_bytes}),
        metrics: vec![
            ("records_seen", seen as f64),
            ("puts_per_sec", puts_per_sec),
            ("visible_p50_ms", latencies.percentile_ms(50.0)),
            ("visible_p99_ms", latencies.percentile_ms(99.0)),
        ],
    })
}

/// Puts `total` records at `rate` a second, noting when each was acknowledged
/// (microseconds since `origin`, plus one so that 0 means "not yet").
fn spawn_paced_writer(
    endpoint: SocketAddr,
    stream: String,
    rate: u64,
    total: u64,
    record_bytes: usize,
    acked: Arc<Vec<AtomicU64>>,
    origin: Instant,
) -> tokio::task::JoinHandle<anyhow::Result<f64>> {
    tokio::spawn(async move {
        let mut connection = Connection::open(endpoint).await?;
        let started = Instant::now();
        let data = payload(record_bytes.saturating_sub(8).max(1));
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        for i in 0..total {
            let due = origin + interval.mul_f64(i as f64);
            tokio::time::sleep_until(due.into()).await;
            let body = format!(
                "{{\"StreamName\":\"{stream}\",\"PartitionKey\":\"{i}\",\"Data\":\"{data}\"}}"
            );
            connection
                .call_ok("PutRecord", serde_json::from_str(&body)?)
                .await?;
            acked[i as usize].store(origin.elapsed().as_micros() as u64 + 1, Ordering::Release);
        }
        // One put at a time: on a busy server it falls behind `rate`.
        anyhow::Ok(total as f64 / started.elapsed().as_secs_f64())
    })
}

/// How long readers wait for every record the paced writer puts. Generous:
/// the writer puts one record at a time and falls behind its rate when the
/// server is busy (300 subscribers), and a reader that stopped early would
/// report records as missing that were simply put late.
fn readers_give_up(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds * 4 + 60)
}

/// Milliseconds from acknowledgement to arrival; 0 if the record arrived first.
fn arrival_latency(acked: &[AtomicU64], index: usize, now_micros: u64) -> u64 {
    match acked[index].load(Ordering::Acquire) {
        0 => 0,
        acked_at => now_micros.saturating_sub(acked_at - 1),
    }
}

async fn fanout(
    endpoint: SocketAddr,
    rate: u64,
    seconds: u64,
    record_bytes: usize,
    subscribers: usize,
) -> anyhow::Result<Report> {
    let stream = create_stream(endpoint, 1).await?;
    let arn = format!("arn:aws:kinesis:us-east-1:000000000000:stream/{stream}");
    let mut control = Connection::open(endpoint).await?;
    let mut consumer_arns = Vec::with_capacity(subscribers);
    for i in 0..subscribers {
        let registered = control
            .call_ok(
                "RegisterStreamConsumer",
                json!({"StreamARN": arn, "ConsumerName": format!("bench-{i}")}),
            )
            .await?;
        consumer_arns.push(
            serde_json::from_slice::<serde_json::Value>(&registered)?["Consumer"]["ConsumerARN"]
                .as_str()
                .context("no ConsumerARN")?
                .to_owned(),
        );
    }
    for consumer_arn in &consumer_arns {
        wait_consumer_active(&mut control, consumer_arn).await?;
    }
    let mut event_streams = Vec::with_capacity(subscribers);
    for consumer_arn in &consumer_arns {
        let mut subscriber = Connection::open(endpoint).await?;
        let body = json!({"ConsumerARN": consumer_arn, "ShardId": "shardId-000000000000", "StartingPosition": {"Type": "LATEST"}});
        let response = subscriber
            .send("SubscribeToShard", serde_json::to_vec(&body)?)
            .await?;
        if response.status() != 200 {
            bail!("SubscribeToShard failed with {}", response.status());
        }
        event_streams.push(response.into_body());
    }

    let total = rate * seconds;
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..total).map(|_| AtomicU64::new(0)).collect());
    let origin = Instant::now();
    let give_up = readers_give_up(seconds);
    let receivers: Vec<_> = event_streams
        .into_iter()
        .map(|events| {
            let acked = acked.clone();
            tokio::spawn(receive_events(events, acked, total, origin, give_up))
        })
        .collect();
    let writer = spawn_paced_writer(
        endpoint,
        stream.clone(),
        rate,
        total,
        record_bytes,
        acked.clone(),
        origin,
    );
    let mut latencies = Latencies::default();
    let mut seen = 0u64;
    let mut fewest_seen = u64::MAX;
    for receiver in receivers {
        let (received, own) = receiver.await??;
        seen += received;
        fewest_seen = fewest_seen.min(received);
        latencies.merge(&own);
    }
    let puts_per_sec = writer.await??;
    delete_stream(endpoint, &stream).await;
    Ok(Report {
        workload: "fanout",
        params: json!({"rate": rate, "seconds": seconds, "record_bytes": record_bytes, "subscribers": subscribers}),
        metrics: vec![
            ("records_seen", seen as f64),
            ("fewest_seen_by_one", fewest_seen as f64),
            ("puts_per_sec", puts_per_sec),
            ("visible_p50_ms", latencies.percentile_ms(50.0)),
            ("visible_p99_ms", latencies.percentile_ms(99.0)),
            ("visible_max_ms", latencies.percentile_ms(100.0)),
        ],
    })
}

async fn wait_consumer_active(control: &mut Connection, consumer_arn: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        let described = control
            .call_ok(
                "DescribeStreamConsumer",
                json!({"ConsumerARN": consumer_arn}),
            )
            .await?;
        if serde_json::from_slice::<serde_json::Value>(&described)?["ConsumerDescription"]["ConsumerStatus"]
            == "ACTIVE"
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("consumer {consumer_arn} never became ACTIVE")
}

/// Reads one subscription's event stream until `total` records arrived (or
/// `give_up`), timing each record from its put's acknowledgement.
async fn receive_events(
    mut events: hyper::body::Incoming,
    acked: Arc<Vec<AtomicU64>>,
    total: u64,
    origin: Instant,
    give_up: Instant,
) -> anyhow::Result<(u64, Latencies)> {
    let mut latencies = Latencies::default();
    let mut seen = 0u64;
    let mut buffer: Vec<u8> = Vec::new();
    while seen < total && Instant::now() < give_up {
        let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(10), events.frame()).await
        else {
            break;
        };
        let Some(chunk) = frame?.into_data().ok() else {
            continue;
        };
        buffer.extend_from_slice(&chunk);
        let now = origin.elapsed().as_micros() as u64;
        // Event-stream messages: total length (u32 BE) first; payload ends 4 bytes before the end.
        let mut consumed = 0;
        while buffer.len() - consumed >= 12 {
            let message = &buffer[consumed..];
            let total_len = u32::from_be_bytes(message[0..4].try_into()?) as usize;
            if message.len() < total_len {
                break;
            }
            let headers_len = u32::from_be_bytes(message[4..8].try_into()?) as usize;
            let payload = &message[12 + headers_len..total_len - 4];
            if let Ok(event) = serde_json::from_slice::<TailPage>(payload) {
                for record in &event.records {
                    let i: usize = record.partition_key.parse()?;
                    latencies.record_micros(arrival_latency(&acked, i, now));
                    seen += 1;
                }
            }
            consumed += total_len;
        }
        buffer.drain(..consumed);
    }
    Ok((seen, latencies))
}

async fn populate(
    endpoint: SocketAddr,
    streams: u32,
    shards: u32,
    records: u64,
    record_bytes: usize,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut connection = Connection::open(endpoint).await?;
    let prefix = unique("populate");
    let names: Vec<String> = (0..streams).map(|i| format!("{prefix}-{i}")).collect();
    for name in &names {
        connection
            .call_ok(
                "CreateStream",
                json!({"StreamName": name, "ShardCount": shards}),
            )
            .await?;
    }
    for name in &names {
        wait_active(&mut connection, name).await?;
    }
    let created = started.elapsed().as_secs_f64();
    let data = payload(record_bytes);
    for (n, name) in names.iter().enumerate() {
        fill(&mut connection, name, records, &data, n as u64 * 1_000_003).await?;
    }
    Ok(Report {
        workload: "populate",
        params: json!({"streams": streams, "shards": shards, "records": records, "record_bytes": record_bytes}),
        metrics: vec![
            ("create_seconds", created),
            ("total_seconds", started.elapsed().as_secs_f64()),
        ],
    })
}

async fn startup(endpoint: SocketAddr, runs: usize, command: &[String]) -> anyhow::Result<Report> {
    let (program, args) = command.split_first().context("no server command")?;
    if let Ok(mut connection) = Connection::open(endpoint).await
        && connection.call("ListStreams", b"{}".to_vec()).await.is_ok()
    {
        bail!("something already answers on {endpoint}; stop it first");
    }
    let mut times = Latencies::default();
    let mut rss_mib = 0.0;
    for _ in 0..runs {
        let mut child = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let started = Instant::now();
        let give_up = started + Duration::from_secs(120);
        let answered = loop {
            if Instant::now() > give_up {
                break false;
            }
            if let Ok(Some(status)) = child.try_wait() {
                bail!("the server exited ({status}) before answering");
            }
            if let Ok(mut connection) = Connection::open(endpoint).await
                && let Ok((200, _)) = connection.call("ListStreams", b"{}".to_vec()).await
            {
                break true;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        };
        times.record(started.elapsed());
        rss_mib = process_rss_mib(child.id()).unwrap_or(0.0);
        let _ = child.kill();
        let _ = child.wait();
        if !answered {
            bail!("the server did not answer within 120 s");
        }
    }
    Ok(Report {
        workload: "startup",
        params: json!({"runs": runs}),
        metrics: vec![
            ("startup_p50_ms", times.percentile_ms(50.0)),
            ("startup_max_ms", times.percentile_ms(100.0)),
            ("rss_after_start_mib", rss_mib),
        ],
    })
}

/// A process's resident memory (Linux).
/// The machine's CPU time by state, from the first line of `/proc/stat` (Linux).
struct CpuTimes {
    idle: u64,
    steal: u64,
    total: u64,
}

impl CpuTimes {
    fn now() -> Option<CpuTimes> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|field| field.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal (guest time is
        // already counted in user).
        let (idle, iowait, steal) = (*fields.get(3)?, *fields.get(4)?, *fields.get(7)?);
        Some(CpuTimes {
            idle: idle + iowait,
            steal,
            total: fields.iter().take(8).sum(),
        })
    }

    /// Percentages of the machine's CPU time since `before` that was idle
    /// and that the hypervisor stole.
    fn since(&self, before: &CpuTimes) -> Vec<(&'static str, f64)> {
        let total = self.total.saturating_sub(before.total).max(1) as f64;
        vec![
            (
                "machine_idle_pct",
                (self.idle.saturating_sub(before.idle)) as f64 * 100.0 / total,
            ),
            (
                "machine_steal_pct",
                (self.steal.saturating_sub(before.steal)) as f64 * 100.0 / total,
            ),
        ]
    }
}

fn disk(dir: &std::path::Path, syncs: u32) -> anyhow::Result<Report> {
    use std::os::unix::fs::FileExt;
    let path = dir.join(format!(".riffle-bench-disk-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let result = (|| {
        let record = [b'x'; 200];
        let mut latencies = Latencies::default();
        for i in 0..u64::from(syncs) {
            file.write_all_at(&record, i * record.len() as u64)?;
            let start = Instant::now();
            file.sync_data()?;
            latencies.record(start.elapsed());
        }
        anyhow::Ok(latencies)
    })();
    let _ = std::fs::remove_file(&path);
    let latencies = result?;
    Ok(Report {
        workload: "disk",
        params: json!({"syncs": syncs, "append_bytes": 200}),
        metrics: vec![
            ("fdatasync_p50_ms", latencies.percentile_ms(50.0)),
            ("fdatasync_p99_ms", latencies.percentile_ms(99.0)),
            ("fdatasync_p999_ms", latencies.percentile_ms(99.9)),
        ],
    })
}

fn process_rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading the memory of process {pid}"))?;
    let rss_kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")?;
    Ok(rss_kib / 1024.0)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TailPage {
    records: Vec<TailRecord>,
    #[serde(default)]
    next_shard_iterator: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TailRecord {
    partition_key: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !cli.endpoint.ip().is_loopback() && !cli.allow_remote {
        bail!(
            "{} is not a loopback address; pass --allow-remote to benchmark it",
            cli.endpoint
        );
    }
    if cli.cbor {
        if matches!(
            cli.workload,
            Workload::Tail { .. } | Workload::Fanout { .. }
        ) {
            bail!("tail and fanout speak JSON only; drop --cbor");
        }
        CBOR.store(true, Ordering::Relaxed);
    }
    // PutRecord's clients share one thread: per request, the load generator
    // then costs 12 µs of CPU instead of 14 (alternated runs against Riffle,
    // 64 clients), the server gets those cores, and at that cost one
    // thread has room for some 80,000 requests a second. The other workloads parse large
    // answers or pace writers and readers apart: they keep a thread a core.
    let runtime = if matches!(cli.workload, Workload::PutRecord(_)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    let endpoint = cli.endpoint;
    let machine_before = CpuTimes::now();
    let report = runtime.block_on(async move {
        match cli.workload {
            Workload::PutRecords(args) => put_records(endpoint, args).await,
            Workload::Populate {
                streams,
                shards,
                records,
                record_bytes,
            } => populate(endpoint, streams, shards, records, record_bytes).await,
            Workload::Startup { runs, command } => startup(endpoint, runs, &command).await,
            Workload::PutRecord(args) => put_record(endpoint, args).await,
            Workload::Read {
                shards,
                records,
                record_bytes,
            } => read(endpoint, shards, records, record_bytes).await,
            Workload::Tail {
                rate,
                seconds,
                record_bytes,
            } => tail(endpoint, rate, seconds, record_bytes).await,
            Workload::Fanout {
                rate,
                seconds,
                record_bytes,
                subscribers,
            } => fanout(endpoint, rate, seconds, record_bytes, subscribers).await,
            Workload::Disk { dir, syncs } => disk(&dir, syncs),
            Workload::Floor {
                seconds,
                bare: false,
            } => floor::floor(endpoint, seconds).await,
            Workload::Floor {
                seconds,
                bare: true,
            } => floor::bare_floor(endpoint, seconds).await,
        }
    })?;
    let mut report = report;
    // What else the machine was doing: on a shared VM, time stolen by the
    // hypervisor moves every figure.
    if let (Some(before), Some(after)) = (machine_before, CpuTimes::now()) {
        report.metrics.extend(after.since(&before));
    }
    if let Some(pid) = cli.server_pid {
        report
            .metrics
            .push(("server_rss_mib", process_rss_mib(pid)?));
    }
    let mut line = serde_json::Map::new();
    line.insert("label".into(), json!(cli.label));
    line.insert("workload".into(), json!(report.workload));
    line.insert(
        "encoding".into(),
        json!(if cli.cbor { "cbor" } else { "json" }),
    );
    line.insert("params".into(), report.params.clone());
    for (name, value) in &report.metrics {
        line.insert((*name).into(), json!((value * 1000.0).round() / 1000.0));
    }
    eprintln!("{} {} {}", cli.label, report.workload, report.params);
    for (name, value) in &report.metrics {
        eprintln!("  {name:<20} {value:>14.3}");
    }
    #[allow(
        clippy::print_stdout,
        reason = "the JSON result line is the tool's output"
    )]
    {
        println!("{}", serde_json::Value::Object(line));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server on loopback that reads one request per answer in
    /// `answers` and writes each answer in pieces of `piece` bytes, as a
    /// slow or chunking peer would; returns its address.
    async fn answering(answers: Vec<&'static str>, piece: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut answers = answers.into_iter();
            while let Ok((mut stream, _)) = listener.accept().await {
                for answer in answers.by_ref() {
                    let mut request = vec![0; 4096];
                    if stream.read(&mut request).await.unwrap_or(0) == 0 {
                        break;
                    }
                    for chunk in answer.as_bytes().chunks(piece) {
                        stream.write_all(chunk).await.unwrap();
                        stream.flush().await.unwrap();
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    if answer.contains("connection: close") {
                        break;
                    }
                }
            }
        });
        address
    }

    #[tokio::test]
    async fn a_bare_connection_reads_answers_that_arrive_in_pieces() {
        let endpoint = answering(
            vec![
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst",
                "HTTP/1.1 400 Bad Request\r\ncontent-length: 6\r\n\r\nsecond",
            ],
            3,
        )
        .await;
        let mut connection = BareConnection::open(endpoint, "PutRecord").await.unwrap();
        let (status, body) = connection.call(b"{}").await.unwrap();
        assert_eq!((status, body), (200, &b"first"[..]));
        let (status, body) = connection.call(b"{}").await.unwrap();
        assert_eq!((status, body), (400, &b"second"[..]));
    }

    #[tokio::test]
    async fn a_bare_connection_reconnects_after_connection_close() {
        let endpoint = answering(
            vec![
                "HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\na",
                "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb",
            ],
            64,
        )
        .await;
        let mut connection = BareConnection::open(endpoint, "PutRecord").await.unwrap();
        assert_eq!(connection.call(b"{}").await.unwrap().1, b"a");
        assert_eq!(connection.call(b"{}").await.unwrap().1, b"b");
    }

    #[tokio::test]
    async fn a_bare_connection_refuses_an_answer_without_a_length() {
        let endpoint = answering(
            vec!["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"],
            64,
        )
        .await;
        let mut connection = BareConnection::open(endpoint, "PutRecord").await.unwrap();
        let err = connection.call(b"{}").await.unwrap_err();
        assert!(err.to_string().contains("Content-Length"), "{err}");
    }
}
