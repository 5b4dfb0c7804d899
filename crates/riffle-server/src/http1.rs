//! HTTP/1.1 for the requests SDKs send most: a head, a `Content-Length`
//! body, one whole answer. Every connection starts here.
//!
//! hyper serves everything else: HTTP/2, and on HTTP/1.1 any request this
//! module does not take (chunked or `Expect` bodies, `Upgrade`, `Connection`
//! options, HTTP/1.0, bodies over the limit, SubscribeToShard's event
//! stream, heads httparse rejects). The first such request hands the whole
//! connection to hyper, with the bytes already read, and hyper keeps it.
//!
//! Why not hyper for all of it: per small request, hyper's HTTP/1 machinery
//! costs about 11 µs of CPU more than parsing with httparse and writing the
//! answer in one buffer (docs/performance.md, seventh session), a third of
//! what a durable PutRecord costs the server in all.
//!
//! Requests on one connection are answered in order. Those that arrive
//! together (pipelined) are answered with one write.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::{Buf, Bytes};
use riffle_engine::Engine;
use riffle_model::limits::REQUEST_BODY_BYTES_MAX;
use riffle_wire::Operation;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::request::{self, Head, Headers};
use crate::{BODY_READ_TIMEOUT, HEADER_READ_TIMEOUT};

/// How a connection left this module.
#[derive(Debug)]
pub(crate) enum Ended {
    /// Closed: by the client, a timeout or shutdown (I/O errors are `Err`).
    Closed,
    /// A request this module does not take arrived: hyper serves the
    /// connection from here, starting with these bytes (already read).
    HandOver(Bytes),
}

/// A head that has not ended within this many bytes goes to hyper, which
/// answers it (431) or takes it.
const HEAD_BYTES_MAX: usize = 64 << 10;
/// Headers httparse reads per request; a request with more goes to hyper.
const HEADERS_MAX: usize = 64;
/// How much to read at a time while waiting for a head.
const READ_CHUNK: usize = 8 << 10;
/// Answers to pipelined requests wait to go out together up to this many
/// bytes: past it they go at once, so a client pipelining GetRecords calls
/// does not make the server hold many 10 MiB answers.
const ANSWERS_HELD_MAX: usize = 64 << 10;
/// An answer's body longer than this is written from where it is rather
/// than copied after its head (GetRecords answers run to megabytes).
const BODY_COPIED_MAX: usize = 16 << 10;
/// A read buffer grown past this (by a large body) is let go once empty.
const BUFFER_KEPT_MAX: usize = 1 << 20;
/// How an HTTP/2 client with prior knowledge opens.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves HTTP/1.1 requests on `stream` until it closes, `shutdown` turns
/// true while no request is under way, or a request arrives that hyper
/// must take.
pub(crate) async fn serve<S>(
    stream: &mut S,
    engine: &Engine,
    shutdown: &mut watch::Receiver<bool>,
) -> io::Result<Ended>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut received: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut answers: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut date = Date::default();
    // One timer for the connection, moved as the deadline moves: the
    // header timeout from the end of one request, the body timeout from
    // the end of its head.
    let deadline = tokio::time::sleep(HEADER_READ_TIMEOUT);
    tokio::pin!(deadline);
    let mut reading_body = false;
    loop {
        // Answer every whole request received, then read for the next.
        let wanted = loop {
            let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
            let mut request = httparse::Request::new(&mut headers);
            let whole = match parse(&received, &mut request) {
                Parsed::Foreign => {
                    write_out(stream, &mut answers, &[]).await?;
                    return Ok(Ended::HandOver(Bytes::from(received)));
                }
                Parsed::Partial => break READ_CHUNK,
                Parsed::Whole { head_len, body_len } => {
                    let whole = head_len + body_len;
                    if received.len() < whole {
                        if !reading_body {
                            reading_body = true;
                            deadline.as_mut().reset(Instant::now() + BODY_READ_TIMEOUT);
                        }
                        break whole - received.len();
                    }
                    let body = &received[head_len..whole];
                    let large = answer_one(engine, &request, body, &mut date, &mut answers).await;
                    if let Some(large) = large {
                        write_out(stream, &mut answers, &large).await?;
                    } else if answers.len() >= ANSWERS_HELD_MAX {
                        // Many pipelined requests must not pile up answers.
                        write_out(stream, &mut answers, &[]).await?;
                    }
                    whole
                }
            };
            received.drain(..whole);
            if received.is_empty() && received.capacity() > BUFFER_KEPT_MAX {
                received = Vec::with_capacity(READ_CHUNK);
            }
            reading_body = false;
            deadline
                .as_mut()
                .reset(Instant::now() + HEADER_READ_TIMEOUT);
        };
        write_out(stream, &mut answers, &[]).await?;
        let idle = received.is_empty();
        if idle && *shutdown.borrow() {
            return Ok(Ended::Closed);
        }
        received.reserve(wanted);
        let read = tokio::select! {
            read = stream.read_buf(&mut received) => read?,
            () = &mut deadline => return Ok(Ended::Closed),
            // Shutdown closes an idle connection at once; a request under
            // way is finished first.
            _ = shutdown.changed(), if idle => return Ok(Ended::Closed),
        };
        if read == 0 {
            return Ok(Ended::Closed);
        }
    }
}

/// What the bytes at the front of a connection's buffer are.
enum Parsed {
    /// A request this module takes: `head_len` bytes of head, then a body
    /// of `body_len` bytes (which may not all be here yet).
    Whole { head_len: usize, body_len: usize },
    /// Not a whole head yet.
    Partial,
    /// For hyper.
    Foreign,
}

/// Parses the head at the front of `received` into `request`.
fn parse<'b>(received: &'b [u8], request: &mut httparse::Request<'_, 'b>) -> Parsed {
    let preface = received.len().min(HTTP2_PREFACE.len());
    if received[..preface] == HTTP2_PREFACE[..preface] {
        return if preface == HTTP2_PREFACE.len() {
            Parsed::Foreign
        } else {
            // Empty, or what may yet be the preface.
            Parsed::Partial
        };
    }
    let head_len = match request.parse(received) {
        Ok(httparse::Status::Complete(head_len)) => head_len,
        Ok(httparse::Status::Partial) if received.len() <= HEAD_BYTES_MAX => {
            return Parsed::Partial;
        }
        // Too long, too many headers, or malformed: hyper answers it.
        _ => return Parsed::Foreign,
    };
    match takes(request) {
        Some(body_len) => Parsed::Whole { head_len, body_len },
        None => Parsed::Foreign,
    }
}

/// The body length of a request this module takes, or None for one that
/// hyper should.
fn takes(request: &httparse::Request<'_, '_>) -> Option<usize> {
    if request.version != Some(1) || !matches!(request.method, Some("POST" | "GET" | "OPTIONS")) {
        return None;
    }
    let mut body_len = None;
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            if body_len.is_some() {
                return None;
            }
            let digits = std::str::from_utf8(header.value).ok()?.trim();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            body_len = Some(digits.parse::<usize>().ok()?);
        } else if for_hyper(header) {
            return None;
        }
    }
    // A request with neither Content-Length nor Transfer-Encoding has no body.
    let body_len = body_len.unwrap_or(0);
    (body_len <= REQUEST_BODY_BYTES_MAX).then_some(body_len)
}

/// Whether `header` asks for what hyper does and this module does not:
/// other body framings, `100 Continue`, upgrades, closing after the answer,
/// or an event stream for an answer.
fn for_hyper(header: &httparse::Header<'_>) -> bool {
    let is = |name: &str| header.name.eq_ignore_ascii_case(name);
    if is("transfer-encoding") || is("expect") || is("upgrade") {
        return true;
    }
    if is("connection") {
        // Keep-alive is what HTTP/1.1 does anyway; Node's agent says so.
        return !header.value.eq_ignore_ascii_case(b"keep-alive");
    }
    is("x-amz-target")
        && std::str::from_utf8(header.value)
            .ok()
            .and_then(Operation::from_target)
            == Some(Operation::SubscribeToShard)
}

/// Answers the request whose head is `parsed` and whose whole body is
/// `body`, appending the response to `answers`: all of it, or the head
/// alone and the answer's body returned, to be written after it uncopied.
async fn answer_one(
    engine: &Engine,
    parsed: &httparse::Request<'_, '_>,
    body: &[u8],
    date: &mut Date,
    answers: &mut Vec<u8>,
) -> Option<Vec<u8>> {
    let mut target = parsed.path.unwrap_or("/");
    // The absolute form (`http://host/path`), as sent to a proxy.
    if let Some(rest) = target.split_once("://").map(|(_, rest)| rest) {
        target = rest.find('/').map_or("/", |at| &rest[at..]);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let head = Head {
        method: parsed.method.unwrap_or(""),
        path,
        query,
        headers: Headers::Parsed(parsed.headers),
    };
    let answered = request::answer(engine, &head, std::future::ready(Ok(body))).await;

    let status = answered.status();
    answers.extend_from_slice(b"HTTP/1.1 ");
    answers.extend_from_slice(status.to_string().as_bytes());
    answers.push(b' ');
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("");
    answers.extend_from_slice(reason.as_bytes());
    answers.extend_from_slice(b"\r\n");
    answered.each_header(|name, value| {
        answers.extend_from_slice(name.as_str().as_bytes());
        answers.extend_from_slice(b": ");
        answers.extend_from_slice(value);
        answers.extend_from_slice(b"\r\n");
    });
    answers.extend_from_slice(b"content-length: ");
    answers.extend_from_slice(answered.body().len().to_string().as_bytes());
    answers.extend_from_slice(b"\r\ndate: ");
    answers.extend_from_slice(date.now());
    answers.extend_from_slice(b"\r\n\r\n");
    if answered.body().len() > BODY_COPIED_MAX {
        return Some(answered.into_body());
    }
    answers.extend_from_slice(answered.body());
    None
}

/// Writes out the answers held, then `after` (a large body, not copied).
async fn write_out<S: AsyncWrite + Unpin>(
    stream: &mut S,
    answers: &mut Vec<u8>,
    after: &[u8],
) -> io::Result<()> {
    if answers.is_empty() && after.is_empty() {
        return Ok(());
    }
    stream
        .write_all_buf(&mut Buf::chain(answers.as_slice(), after))
        .await?;
    stream.flush().await?;
    answers.clear();
    Ok(())
}

/// The `Date` header's value, formatted once a second.
#[derive(Default)]
struct Date {
    second: u64,
    text: String,
}

impl Date {
    fn now(&mut self) -> &[u8] {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        self.text.as_bytes()
    }
}

/// A stream that yields `read` before the rest of `inner`: how hyper gets a
/// connection whose first bytes this module has already read.
#[derive(Debug)]
pub(crate) struct Rewind<S> {
    read: Bytes,
    inner: S,
}

impl<S> Rewind<S> {
    pub(crate) fn new(read: Bytes, inner: S) -> Rewind<S> {
        Rewind { read, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.read.is_empty() {
            let n = self.read.len().min(buf.remaining());
            buf.put_slice(&self.read[..n]);
            self.read.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How `parse` sorts `bytes`: `Some((head_len, body_len))` for a
    /// request this module takes, `None` for hyper's, or "partial".
    fn sort(bytes: &[u8]) -> Result<Option<(usize, usize)>, &'static str> {
        let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
        let mut request = httparse::Request::new(&mut headers);
        match parse(bytes, &mut request) {
            Parsed::Whole { head_len, body_len } => Ok(Some((head_len, body_len))),
            Parsed::Foreign => Ok(None),
            Parsed::Partial => Err("partial"),
        }
    }

    fn post(extra: &str) -> Vec<u8> {
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\n{extra}\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn everyday_requests_are_taken_with_their_body_length() {
        let head = post("Content-Length: 12\r\n");
        assert_eq!(sort(&head), Ok(Some((head.len(), 12))));
        let keep_alive = post("Connection: Keep-Alive\r\ncontent-length: 0\r\n");
        assert_eq!(sort(&keep_alive), Ok(Some((keep_alive.len(), 0))));
        // Neither Content-Length nor Transfer-Encoding: no body.
        let get = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(sort(get), Ok(Some((get.len(), 0))));
        let at_limit = post(&format!("Content-Length: {REQUEST_BODY_BYTES_MAX}\r\n"));
        assert_eq!(
            sort(&at_limit),
            Ok(Some((at_limit.len(), REQUEST_BODY_BYTES_MAX)))
        );
    }

    #[test]
    fn everything_else_goes_to_hyper() {
        for extra in [
            "Transfer-Encoding: chunked\r\n",
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "Expect: 100-continue\r\nContent-Length: 5\r\n",
            "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n",
            "Connection: close\r\nContent-Length: 5\r\n",
            "Content-Length: 5\r\nContent-Length: 5\r\n",
            "Content-Length: +5\r\n",
            "Content-Length: 5, 5\r\n",
            "Content-Length: \r\n",
            "Content-Length: 99999999999999999999999\r\n",
        ] {
            assert_eq!(sort(&post(extra)), Ok(None), "{extra:?}");
        }
        let over = post(&format!(
            "Content-Length: {}\r\n",
            REQUEST_BODY_BYTES_MAX + 1
        ));
        assert_eq!(sort(&over), Ok(None));
        let subscribe = b"POST / HTTP/1.1\r\nX-Amz-Target: Kinesis_20131202.SubscribeToShard\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(sort(subscribe), Ok(None));
        let old = b"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(sort(old), Ok(None));
        let head = b"HEAD / HTTP/1.1\r\n\r\n";
        assert_eq!(sort(head), Ok(None));
        assert_eq!(sort(b"NOT HTTP\r\n\r\n"), Ok(None));
        let many = post(&"X-A: 1\r\n".repeat(HEADERS_MAX));
        assert_eq!(sort(&many), Ok(None));
        assert_eq!(sort(HTTP2_PREFACE), Ok(None));
    }

    #[test]
    fn unfinished_heads_wait_for_more_until_they_are_too_long() {
        assert_eq!(sort(b""), Err("partial"));
        assert_eq!(sort(b"PRI * HTTP/2"), Err("partial"));
        assert_eq!(sort(b"POST / HTTP/1.1\r\nHost: x\r\n"), Err("partial"));
        let mut endless = b"POST / HTTP/1.1\r\nX-Long: ".to_vec();
        endless.resize(HEAD_BYTES_MAX, b'a');
        assert_eq!(sort(&endless), Err("partial"));
        endless.push(b'a');
        assert_eq!(sort(&endless), Ok(None));
    }

    /// The connection timeouts, on one end of an in-memory pipe, with time
    /// paused: tokio moves the clock straight to the next timer whenever
    /// every task waits, so each test takes milliseconds, and a deadline
    /// that fires early or late by more than `SLACK` fails it.
    mod timeouts {
        use std::time::Duration;

        use riffle_engine::{Clock, EngineConfig};
        use riffle_store::Durability;
        use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

        use super::*;

        const SLACK: Duration = Duration::from_millis(10);

        /// The server's end of a pipe, and what it serves.
        struct Served {
            stream: DuplexStream,
            engine: Engine,
            _dir: tempfile::TempDir,
        }

        /// A client's end of a pipe, and the server's.
        fn pipe() -> (DuplexStream, Served) {
            let dir = tempfile::tempdir().unwrap();
            let engine = Engine::open_local(
                dir.path(),
                EngineConfig::default(),
                Durability::None,
                Clock::System,
            )
            .unwrap();
            let (client, stream) = tokio::io::duplex(64 << 10);
            let served = Served {
                stream,
                engine,
                _dir: dir,
            };
            (client, served)
        }

        /// Serves `served` and asserts the connection is still open
        /// `SLACK` before `open_for` and closed `SLACK` after it.
        async fn closes_after(served: &mut Served, open_for: Duration) {
            let (_stop, mut shutdown) = watch::channel(false);
            let serving = serve(&mut served.stream, &served.engine, &mut shutdown);
            tokio::pin!(serving);
            let early = tokio::time::timeout(open_for - SLACK, &mut serving).await;
            assert!(early.is_err(), "closed before {open_for:?}: {early:?}");
            let ended = tokio::time::timeout(SLACK * 2, &mut serving)
                .await
                .unwrap_or_else(|_| panic!("still open {SLACK:?} after {open_for:?}"))
                .unwrap();
            assert!(matches!(ended, Ended::Closed), "{ended:?}");
        }

        #[tokio::test(start_paused = true)]
        async fn an_unfinished_head_is_given_the_header_timeout() {
            let (mut client, mut served) = pipe();
            client
                .write_all(b"POST / HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
            closes_after(&mut served, HEADER_READ_TIMEOUT).await;
        }

        #[tokio::test(start_paused = true)]
        async fn an_unfinished_body_is_given_the_body_timeout() {
            let (mut client, mut served) = pipe();
            client
                .write_all(&post("Content-Length: 10\r\n"))
                .await
                .unwrap();
            client.write_all(b"{\"Li").await.unwrap();
            closes_after(&mut served, BODY_READ_TIMEOUT).await;
        }

        /// A head sent a byte a second does not keep the connection past
        /// the header timeout: it runs from the last answer, not from the
        /// last byte.
        #[tokio::test(start_paused = true)]
        async fn a_trickled_head_does_not_move_the_deadline() {
            let (mut client, mut served) = pipe();
            let head = post("Content-Length: 2\r\n");
            assert!(head.len() as u64 > HEADER_READ_TIMEOUT.as_secs());
            let trickle = tokio::spawn(async move {
                for byte in head {
                    client.write_all(&[byte]).await.unwrap();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
            closes_after(&mut served, HEADER_READ_TIMEOUT).await;
            trickle.abort();
        }

        /// The header timeout restarts with each answer: a connection that
        /// sends a request every 20 s stays open, and closes 30 s after its
        /// last answer.
        #[tokio::test(start_paused = true)]
        async fn each_answer_restarts_the_header_timeout() {
            let (mut client, mut served) = pipe();
            let request = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n\
                Content-Type: application/x-amz-json-1.1\r\nX-Amz-Date: 20261122T000000Z\r\n\
                Authorization: AWS4-HMAC-SHA256 Credential=a/20261122/us-east-1/kinesis/aws4_request, \
                SignedHeaders=host, Signature=0\r\nContent-Length: 2\r\n\r\n{}";
            let pause = HEADER_READ_TIMEOUT * 2 / 3;
            let requests = tokio::spawn(async move {
                let mut answers = Vec::new();
                for _ in 0..3 {
                    client.write_all(request).await.unwrap();
                    let mut chunk = [0; 4096];
                    let n = client.read(&mut chunk).await.unwrap();
                    answers.push(String::from_utf8_lossy(&chunk[..n]).into_owned());
                    tokio::time::sleep(pause).await;
                }
                (client, answers)
            });
            // Open through three requests 20 s apart, then the timeout.
            closes_after(&mut served, pause * 2 + HEADER_READ_TIMEOUT).await;
            let (_client, answers) = requests.await.unwrap();
            assert_eq!(answers.len(), 3);
            for answer in answers {
                assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            }
        }
    }
}
