//! One HTTP request in, one HTTP response out.
//!
//! The checks run in AWS's order: method, content type, operation, then
//! authentication; the body itself is checked by `riffle_wire::dispatch`.
//! Every response, errors included, carries `x-amzn-RequestId` and `x-amz-id-2`.
//! `GET /metrics` is the one request that is not a Kinesis call.

use std::cell::Cell;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use rand::RngExt;
use riffle_engine::Engine;
use riffle_model::limits::REQUEST_BODY_BYTES_MAX;
use riffle_wire::auth::{self, Credentials};
use riffle_wire::{AwsError, Format, Operation};
use tracing::Instrument;

use crate::BODY_READ_TIMEOUT;
use crate::body::ResponseBody;

/// What a request is answered with, before the common headers go on.
struct Answer {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    extra_headers: Vec<(HeaderName, HeaderValue)>,
    /// Event-stream frames that follow (SubscribeToShard).
    events: Option<tokio::sync::mpsc::Receiver<Bytes>>,
}

impl Answer {
    fn error(err: &AwsError, format: Format) -> Answer {
        Answer {
            status: err.status,
            content_type: format.content_type(),
            body: err.body(format),
            extra_headers: Vec::new(),
            events: None,
        }
    }

    /// AWS answers requests it cannot attribute to an operation with XML.
    fn xml(status: u16, error_type: &str, message: &str) -> Answer {
        let body = format!("<{error_type}>\n  <Message>{message}</Message>\n</{error_type}>\n");
        Answer {
            status,
            content_type: "application/xml",
            body: body.into_bytes(),
            extra_headers: Vec::new(),
            events: None,
        }
    }
}

/// Names made once: one built from a `&str` at each insert is copied.
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-amzn-requestid");
const ID_2_HEADER: HeaderName = HeaderName::from_static("x-amz-id-2");

/// What answering needs of a request's head, whichever HTTP stack parsed it:
/// hyper (HTTP/2, and HTTP/1.1 requests [`crate::http1`] hands over) or
/// [`crate::http1`]'s own parser.
pub(crate) struct Head<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) headers: Headers<'a>,
}

/// A request's headers, in either parser's form.
#[derive(Clone, Copy)]
pub(crate) enum Headers<'a> {
    Hyper(&'a HeaderMap),
    Parsed(&'a [httparse::Header<'a>]),
}

impl<'a> Headers<'a> {
    /// The first value named `name` (case-insensitive), as bytes.
    pub(crate) fn bytes(self, name: &str) -> Option<&'a [u8]> {
        match self {
            Headers::Hyper(map) => map.get(name).map(HeaderValue::as_bytes),
            Headers::Parsed(parsed) => parsed
                .iter()
                .find(|header| header.name.eq_ignore_ascii_case(name))
                .map(|header| header.value),
        }
    }

    /// The first value named `name`, if it is visible ASCII (what
    /// `HeaderValue::to_str` accepts).
    pub(crate) fn str(self, name: &str) -> Option<&'a str> {
        // Without an early exit the check compiles to a few vector compares
        // (a byte at a time it was 1,900 instructions for a signed request's
        // `Authorization`).
        self.bytes(name)
            .filter(|value| {
                value.iter().fold(true, |visible, &b| {
                    visible & ((b == b'\t') | (0x20..0x7f).contains(&b))
                })
            })
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    fn contains(self, name: &str) -> bool {
        self.bytes(name).is_some()
    }
}

/// A request answered: what goes back, and the headers every response
/// carries. Each HTTP stack writes it its own way.
pub(crate) struct Answered {
    request_id: RequestId,
    /// The request came from a browser (it sent `Origin`).
    cors: bool,
    answer: Answer,
}

/// Why a request body could not be had.
pub(crate) type BodyRejected = Box<dyn std::error::Error + Send + Sync>;

/// Answers one request whose head is `head`; `body` yields its body once
/// the head has passed the checks that come before it. Never fails: every
/// problem is an AWS error response.
pub(crate) async fn answer<B: AsRef<[u8]>>(
    engine: &Engine,
    head: &Head<'_>,
    body: impl Future<Output = Result<B, BodyRejected>>,
) -> Answered {
    let request_id = RequestId::new();
    let operation = Operation::from_target(head.headers.str("x-amz-target").unwrap_or(""));
    let span = tracing::debug_span!("request", request_id = %request_id.as_str(), operation = operation.map_or("?", Operation::name));
    let answer = respond(engine, head, body, operation)
        .instrument(span)
        .await;
    Answered {
        request_id,
        cors: head.headers.contains(header::ORIGIN.as_str()),
        answer,
    }
}

impl Answered {
    pub(crate) fn status(&self) -> u16 {
        self.answer.status
    }

    pub(crate) fn body(&self) -> &[u8] {
        &self.answer.body
    }

    pub(crate) fn into_body(self) -> Vec<u8> {
        self.answer.body
    }

    /// SubscribeToShard's stream of events, which follows the head.
    pub(crate) fn take_events(&mut self) -> Option<tokio::sync::mpsc::Receiver<Bytes>> {
        self.answer.events.take()
    }

    /// Visits every response header but the framing ones (`content-length`,
    /// `date`, `transfer-encoding`), which each HTTP stack adds itself.
    pub(crate) fn each_header(&self, mut visit: impl FnMut(&HeaderName, &[u8])) {
        visit(&header::CONTENT_TYPE, self.answer.content_type.as_bytes());
        visit(&REQUEST_ID_HEADER, self.request_id.as_str().as_bytes());
        let mut random = [0u8; 48];
        for chunk in random.chunks_exact_mut(8) {
            chunk.copy_from_slice(&request_random().to_le_bytes());
        }
        let mut id2 = [0u8; 64];
        let id2 = base64_simd::STANDARD.encode(&random, base64_simd::Out::from_slice(&mut id2));
        visit(&ID_2_HEADER, id2);
        // A browser refuses an answer that names its allowed origin twice,
        // so where the answer sets a CORS header itself (a preflight),
        // the common one gives way.
        let extra = |name: &HeaderName| self.answer.extra_headers.iter().any(|(n, _)| n == name);
        if self.cors {
            for (name, value) in [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, &b"*"[..]),
                (
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    b"x-amzn-RequestId,x-amz-id-2",
                ),
            ] {
                if !extra(&name) {
                    visit(&name, value);
                }
            }
        }
        for (name, value) in &self.answer.extra_headers {
            visit(name, value.as_bytes());
        }
    }
}

/// Handles one request that hyper parsed.
pub async fn handle(engine: &Engine, request: Request<Incoming>) -> Response<ResponseBody> {
    let (parts, body) = request.into_parts();
    let head = Head {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: Headers::Hyper(&parts.headers),
    };
    let collect = async {
        use hyper::body::Body as _;
        // A declared length over the limit is refused before any of it is read.
        if body.size_hint().lower() > REQUEST_BODY_BYTES_MAX as u64 {
            return Err("the request body is over the limit".into());
        }
        let collected = tokio::time::timeout(
            BODY_READ_TIMEOUT,
            Limited::new(body, REQUEST_BODY_BYTES_MAX).collect(),
        )
        .await
        .unwrap_or_else(|_| Err("timed out reading the request body".into()))?;
        Ok(collected.to_bytes())
    };
    let mut answered = answer(engine, &head, collect).await;

    let body = match answered.take_events() {
        Some(events) => ResponseBody::Events(events),
        None => ResponseBody::full(std::mem::take(&mut answered.answer.body)),
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(answered.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    answered.each_header(|name, value| {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(name.clone(), value);
        }
    });
    response
}

async fn respond<B: AsRef<[u8]>>(
    engine: &Engine,
    head: &Head<'_>,
    body: impl Future<Output = Result<B, BodyRejected>>,
    operation: Option<Operation>,
) -> Answer {
    if head.method == "OPTIONS" {
        return cors_preflight(head.headers);
    }
    if head.method == "GET" && head.path == "/metrics" {
        return Answer {
            status: 200,
            content_type: crate::metrics::CONTENT_TYPE,
            body: crate::metrics::render(&engine.metrics()).into_bytes(),
            extra_headers: Vec::new(),
            events: None,
        };
    }
    if head.method != "POST" {
        return Answer::xml(
            403,
            "AccessDeniedException",
            "Unable to determine service/operation name to be authorized",
        );
    }
    let content_type = head.headers.str("content-type").unwrap_or("");
    let Some(format) = Format::from_content_type(content_type) else {
        return Answer::xml(
            403,
            "AccessDeniedException",
            "Unable to determine service/operation name to be authorized",
        );
    };
    let Some(operation) = operation else {
        return Answer::error(&AwsError::unknown_operation(), format);
    };
    let headers = head.headers;
    let query = head.query;
    let credentials = Credentials {
        authorization: headers.str("authorization"),
        has_date: headers.contains("x-amz-date") || headers.contains(header::DATE.as_str()),
        query_algorithm: query
            .split('&')
            .find_map(|pair| pair.strip_prefix("X-Amz-Algorithm=")),
        query,
    };
    if let Err(err) = auth::check(credentials) {
        tracing::debug!(error_type = err.type_name, "request not authenticated");
        return Answer::error(&err, format);
    }
    let body = match body.await {
        Ok(body) => body,
        Err(err) => {
            tracing::debug!(error = %err, "request body rejected");
            return Answer {
                status: 413,
                content_type: format.content_type(),
                body: Vec::new(),
                extra_headers: Vec::new(),
                events: None,
            };
        }
    };
    let reply = riffle_wire::dispatch(engine, operation, body.as_ref(), format).await;
    if let Some(error_type) = reply.error_type {
        tracing::debug!(status = reply.status, error_type, "request failed");
    }
    let content_type = if reply.events.is_some() {
        riffle_wire::eventstream::CONTENT_TYPE
    } else {
        format.content_type()
    };
    Answer {
        status: reply.status,
        content_type,
        body: reply.body,
        extra_headers: Vec::new(),
        events: reply.events,
    }
}

/// A browser's CORS preflight: allow any origin to POST with the headers it asks for.
fn cors_preflight(headers: Headers<'_>) -> Answer {
    let requested = headers
        .bytes(header::ACCESS_CONTROL_REQUEST_HEADERS.as_str())
        .and_then(|value| HeaderValue::from_bytes(value).ok());
    let mut extra_headers = vec![
        (
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ),
        (
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
        ),
        (
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("172800"),
        ),
    ];
    if let Some(requested) = requested {
        extra_headers.push((header::ACCESS_CONTROL_ALLOW_HEADERS, requested));
    }
    Answer {
        status: 200,
        content_type: "text/plain",
        body: Vec::new(),
        extra_headers,
        events: None,
    }
}

/// A UUID-shaped request id, as AWS sends in `x-amzn-RequestId`, built on
/// the stack (every request needs one).
struct RequestId([u8; 36]);

impl RequestId {
    fn new() -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [0u8; 32];
        for (half, random) in digits
            .chunks_exact_mut(16)
            .zip([request_random(), request_random()])
        {
            for (i, digit) in half.iter_mut().enumerate() {
                *digit = HEX[(random >> (60 - 4 * i)) as usize & 0xf];
            }
        }
        let mut out = [b'-'; 36];
        // 8-4-4-4-12
        for (group, range) in [
            (0..8, 0..8),
            (9..13, 8..12),
            (14..18, 12..16),
            (19..23, 16..20),
            (24..36, 20..32),
        ] {
            out[group].copy_from_slice(&digits[range]);
        }
        RequestId(out)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits and dashes")
    }
}

/// 64 random bits for a request's ids. They need to be unique, not
/// unpredictable: a per-thread wyrand, seeded from the operating system's
/// generator, costs a few instructions where `rand::rng()` (ChaCha) cost
/// about 1,000 a request.
fn request_random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(rand::rng().random());
    }
    STATE.with(|state| {
        let next = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(next);
        let product = u128::from(next) * u128::from(next ^ 0xe703_7ed1_a0b4_28db);
        (product >> 64) as u64 ^ product as u64
    })
}

#[cfg(test)]
mod tests {
    use super::RequestId;

    #[test]
    fn request_ids_are_shaped_like_uuids() {
        let id = RequestId::new();
        let groups: Vec<usize> = id.as_str().split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(
            id.as_str()
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_hexdigit())
        );
        let ids: std::collections::HashSet<[u8; 36]> =
            (0..10_000).map(|_| RequestId::new().0).collect();
        assert_eq!(ids.len(), 10_000, "request ids repeat");
    }
}
