//! HTTP/1.1 byte by byte: the server's own path for everyday requests
//! (pipelined, split across reads), and the hand-over to hyper for every
//! request that path does not take, on the same connection.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::Riffle;

/// A whole request with the headers an SDK sends, `extra` added.
fn request(operation: &str, body: &str, extra: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: Kinesis_20131202.{operation}\r\n\
         Content-Type: application/x-amz-json-1.1\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0\r\n\
         X-Amz-Date: 20261122T030000Z\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One response as it came off the wire.
#[derive(Debug)]
struct Response {
    status_line: String,
    /// Names lowercased, in the order sent.
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn status(&self) -> u16 {
        self.status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads responses off a connection, keeping what arrives past one.
struct Reader {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Reader {
    async fn connect(riffle: &Riffle) -> Reader {
        let stream = TcpStream::connect(riffle.addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Reader {
            stream,
            buffer: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next response (a `Content-Length` body), within ten seconds.
    async fn next(&mut self) -> Response {
        tokio::time::timeout(Duration::from_secs(10), self.read_response())
            .await
            .expect("a response within ten seconds")
    }

    async fn read_response(&mut self) -> Response {
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buffer[..end].to_vec()).unwrap();
                let mut lines = head.split("\r\n");
                let status_line = lines.next().unwrap().to_owned();
                let headers: Vec<(String, String)> = lines
                    .map(|line| {
                        let (name, value) = line.split_once(':').unwrap();
                        (name.to_ascii_lowercase(), value.trim().to_owned())
                    })
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .map_or(0, |(_, v)| v.parse().unwrap());
                if self.buffer.len() >= end + 4 + length {
                    let body =
                        String::from_utf8(self.buffer[end + 4..end + 4 + length].to_vec()).unwrap();
                    self.buffer.drain(..end + 4 + length);
                    return Response {
                        status_line,
                        headers,
                        body,
                    };
                }
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the server closed the connection mid-response");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// Whether the server closes the connection within ten seconds.
    async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        matches!(
            tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk)).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

fn put_record(data: &str) -> Vec<u8> {
    request(
        "PutRecord",
        &format!(r#"{{"StreamName":"h1","PartitionKey":"key","Data":"{data}"}}"#),
        "",
    )
}

/// A server with one ACTIVE single-shard stream, `h1`.
async fn with_stream() -> Riffle {
    let riffle = Riffle::start();
    riffle.create_stream("h1", 1).await;
    riffle.wait_active("h1").await;
    riffle
}

fn sequence_number(response: &Response) -> String {
    let json: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    json["SequenceNumber"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_in_one_connection() {
    let riffle = with_stream().await;
    let mut connection = Reader::connect(&riffle).await;
    // Five requests in one write: four puts, then a read of the shard.
    let mut pipelined = Vec::new();
    for data in ["AA==", "AQ==", "Ag==", "Aw=="] {
        pipelined.extend(put_record(data));
    }
    pipelined.extend(request("ListShards", r#"{"StreamName":"h1"}"#, ""));
    connection.send(&pipelined).await;
    let mut sequence_numbers = Vec::new();
    for _ in 0..4 {
        let response = connection.next().await;
        assert_eq!(response.status_line, "HTTP/1.1 200 OK", "{response:?}");
        sequence_numbers.push(sequence_number(&response));
    }
    let listed = connection.next().await;
    assert_eq!(listed.status(), 200);
    assert!(
        listed.body.contains("shardId-000000000000"),
        "{}",
        listed.body
    );
    // Answered in the order sent: the puts' sequence numbers rise.
    let mut sorted = sequence_numbers.clone();
    sorted.sort_by_key(|s| (s.len(), s.clone()));
    assert_eq!(sequence_numbers, sorted);
    sorted.dedup();
    assert_eq!(sorted.len(), 4);
    let records = riffle.read_all("h1", "shardId-000000000000").await;
    let data: Vec<&[u8]> = records.iter().map(|r| r.data().as_ref()).collect();
    assert_eq!(data, [[0u8], [1], [2], [3]]);
}

#[tokio::test]
async fn answers_carry_the_headers_hyper_would_send() {
    let riffle = Riffle::start();
    let mut connection = Reader::connect(&riffle).await;
    connection
        .send(&request(
            "ListStreams",
            "{}",
            "Origin: http://example.com\r\n",
        ))
        .await;
    let answer = connection.next().await;
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.header("content-type"),
        Some("application/x-amz-json-1.1")
    );
    let request_id = answer.header("x-amzn-requestid").unwrap();
    let groups: Vec<usize> = request_id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12]);
    assert_eq!(answer.header("x-amz-id-2").map(str::len), Some(64));
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        answer.header("content-length"),
        Some(answer.body.len().to_string().as_str())
    );
    let date = answer.header("date").unwrap();
    let sent = httpdate::parse_http_date(date).expect("an HTTP date");
    let skew = std::time::SystemTime::now()
        .duration_since(sent)
        .unwrap_or_default();
    assert!(skew < Duration::from_secs(60), "date {date}");

    // The same request through hyper (a chunked body hands the connection
    // over) is answered with the same header names.
    let chunked = "POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n\
         Content-Type: application/x-amz-json-1.1\r\nOrigin: http://example.com\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0\r\n\
         X-Amz-Date: 20261122T030000Z\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    connection.send(chunked.as_bytes()).await;
    let from_hyper = connection.next().await;
    assert_eq!(from_hyper.status(), 200, "{from_hyper:?}");
    assert_eq!(from_hyper.body, answer.body);
    let names = |response: &Response| {
        let mut names: Vec<String> = response.headers.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names
    };
    assert_eq!(names(&answer), names(&from_hyper));
}

#[tokio::test]
async fn a_request_arriving_a_byte_at_a_time_is_answered() {
    let riffle = with_stream().await;
    let mut connection = Reader::connect(&riffle).await;
    for byte in put_record("AA==") {
        connection.send(&[byte]).await;
        connection.stream.flush().await.unwrap();
    }
    let answer = connection.next().await;
    assert_eq!(answer.status(), 200, "{answer:?}");
    assert!(!sequence_number(&answer).is_empty());
}

/// Requests the server's own path leaves to hyper are answered on the same
/// connection as those before them, and the connection goes on serving.
#[tokio::test]
async fn requests_for_hyper_are_answered_on_the_same_connection() {
    let riffle = with_stream().await;
    let mut connection = Reader::connect(&riffle).await;
    connection.send(&put_record("AA==")).await;
    assert_eq!(connection.next().await.status(), 200);

    // Expect: 100-continue: hyper says continue, then answers.
    let mut expecting = put_record("AQ==");
    let head_end = expecting.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body = expecting.split_off(head_end);
    let head = String::from_utf8(expecting).unwrap().replace(
        "Host: localhost\r\n",
        "Host: localhost\r\nExpect: 100-continue\r\n",
    );
    connection.send(head.as_bytes()).await;
    let go_on = connection.next().await;
    assert_eq!(go_on.status(), 100, "{go_on:?}");
    connection.send(&body).await;
    assert_eq!(connection.next().await.status(), 200);

    // Pipelined after the hand-over: hyper keeps the connection.
    let mut two = put_record("Ag==");
    two.extend(put_record("Aw=="));
    connection.send(&two).await;
    assert_eq!(connection.next().await.status(), 200);
    assert_eq!(connection.next().await.status(), 200);
    let records = riffle.read_all("h1", "shardId-000000000000").await;
    assert_eq!(records.len(), 4);
}

#[tokio::test]
async fn requests_the_server_cannot_take_get_http_errors() {
    let riffle = Riffle::start();

    // A body over the 16 MiB request limit is refused before it is sent.
    let mut connection = Reader::connect(&riffle).await;
    let oversized = String::from_utf8(request("ListStreams", "", ""))
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: 16777217");
    connection.send(oversized.as_bytes()).await;
    assert_eq!(connection.next().await.status(), 413);

    // A head that is not HTTP.
    let mut connection = Reader::connect(&riffle).await;
    connection.send(b"NOT HTTP AT ALL\r\n\r\n").await;
    assert_eq!(connection.next().await.status(), 400);
    assert!(connection.closed().await);

    // HTTP/1.0 is answered, as HTTP/1.0.
    let mut connection = Reader::connect(&riffle).await;
    let old = String::from_utf8(request("ListStreams", "{}", ""))
        .unwrap()
        .replacen("HTTP/1.1", "HTTP/1.0", 1);
    connection.send(old.as_bytes()).await;
    let answer = connection.next().await;
    assert_eq!(answer.status_line, "HTTP/1.0 200 OK");
    assert!(answer.body.contains("StreamNames"), "{answer:?}");

    // Two Content-Lengths that disagree: a request no one can frame.
    let mut connection = Reader::connect(&riffle).await;
    let ambiguous =
        String::from_utf8(request("ListStreams", "{}", "Content-Length: 5\r\n")).unwrap();
    connection.send(ambiguous.as_bytes()).await;
    assert_eq!(connection.next().await.status(), 400);
}

/// An idle keep-alive connection does not hold up shutdown, and one with a
/// request under way sees its answer before the connection closes.
#[tokio::test]
async fn shutdown_closes_idle_connections_and_finishes_requests_under_way() {
    let mut riffle = with_stream().await;
    let mut idle = Reader::connect(&riffle).await;
    idle.send(&put_record("AA==")).await;
    assert_eq!(idle.next().await.status(), 200);

    // Half a request: the head, not yet the body.
    let mut busy = Reader::connect(&riffle).await;
    let mut put = put_record("AQ==");
    let body = put.split_off(put.len() - 10);
    busy.send(&put).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let stopping = Instant::now();
    let terminate = tokio::task::spawn_blocking(move || riffle.terminate());
    assert!(idle.closed().await, "the idle connection is closed");
    busy.send(&body).await;
    assert_eq!(
        busy.next().await.status(),
        200,
        "the request under way is answered"
    );
    assert!(busy.closed().await);
    assert!(terminate.await.unwrap(), "clean shutdown exits 0");
    // Shutdown waits up to ten seconds for requests under way.
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "{:?}",
        stopping.elapsed()
    );
}

/// A browser's preflight gets each CORS header once: a browser refuses an
/// allowed origin named twice.
#[tokio::test]
async fn preflights_name_the_allowed_origin_once() {
    let riffle = Riffle::start();
    let mut connection = Reader::connect(&riffle).await;
    connection
        .send(
            b"OPTIONS / HTTP/1.1\r\nHost: localhost\r\nOrigin: http://example.com\r\n\
              Access-Control-Request-Method: POST\r\n\
              Access-Control-Request-Headers: content-type,x-amz-target\r\n\r\n",
        )
        .await;
    let preflight = connection.next().await;
    assert_eq!(preflight.status(), 200, "{preflight:?}");
    let count = |name: &str| preflight.headers.iter().filter(|(n, _)| n == name).count();
    assert_eq!(count("access-control-allow-origin"), 1, "{preflight:?}");
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("content-type,x-amz-target")
    );
}

/// A request line naming the whole URL (as to a proxy) is served as if it
/// named only the path.
#[tokio::test]
async fn absolute_form_request_targets_are_served_by_path() {
    let riffle = Riffle::start();
    let mut connection = Reader::connect(&riffle).await;
    let get = format!(
        "GET http://{}/metrics HTTP/1.1\r\nHost: {}\r\n\r\n",
        riffle.addr, riffle.addr
    );
    connection.send(get.as_bytes()).await;
    let metrics = connection.next().await;
    assert_eq!(metrics.status(), 200, "{metrics:?}");
    assert!(
        metrics.body.contains("riffle_streams 0"),
        "{}",
        metrics.body
    );
}

/// Answers too large to copy (GetRecords), and more pipelined answers than
/// are held back before a write, still arrive whole and in order.
#[tokio::test]
async fn large_answers_and_long_pipelines_are_framed_right() {
    let riffle = with_stream().await;
    for i in 0..40u8 {
        riffle
            .client
            .put_record()
            .stream_name("h1")
            .partition_key("key")
            .data(aws_sdk_kinesis::primitives::Blob::new(vec![i; 1024]))
            .send()
            .await
            .unwrap();
    }
    let iterator = riffle.trim_horizon("h1", "shardId-000000000000").await;
    let get_records = request(
        "GetRecords",
        &format!(r#"{{"ShardIterator":"{iterator}"}}"#),
        "",
    );
    let list_streams = request("ListStreams", "{}", "");
    let mut pipelined = Vec::new();
    pipelined.extend(&get_records);
    for _ in 0..300 {
        pipelined.extend(&list_streams);
    }
    pipelined.extend(&get_records);
    let mut connection = Reader::connect(&riffle).await;
    connection.send(&pipelined).await;

    let first = connection.next().await;
    assert_eq!(first.status(), 200, "{first:?}");
    let records: serde_json::Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(records["Records"].as_array().unwrap().len(), 40);
    assert!(first.body.len() > 40 * 1024, "{} bytes", first.body.len());
    for _ in 0..300 {
        let listed = connection.next().await;
        assert_eq!(listed.status(), 200);
        assert!(
            listed.body.contains(r#""StreamNames":["h1"]"#),
            "{}",
            listed.body
        );
    }
    let last = connection.next().await;
    let again: serde_json::Value = serde_json::from_str(&last.body).unwrap();
    assert_eq!(again["Records"], records["Records"]);
}
