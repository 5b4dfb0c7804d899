//! One HTTP request in, one HTTP response out.
//!
//! The checks run in AWS's order: method, content type, operation, then
//! authentication; the body itself is checked by `riffle_wire::dispatch`.
//! Every response, errors included, carries `x-amzn-RequestId` and `x-amz-id-2`.
//! `GET /metrics` is the one request that is not a Kinesis call.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use rand::RngExt;
use riffle_engine::Engine;
use riffle_model::limits::REQUEST_BODY_BYTES_MAX;
use riffle_wire::auth::{self, Credentials};
use riffle_wire::{AwsError, Format, Operation};
use tracing::Instrument;

use crate::body::ResponseBody;

/// A client has this long to send a whole request body.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

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

/// Handles one request. Never fails: every problem is an AWS error response.
pub async fn handle(engine: &Engine, request: Request<Incoming>) -> Response<ResponseBody> {
    let request_id = RequestId::new();
    let request_id = request_id.as_str();
    let target = header_str(request.headers(), "x-amz-target").unwrap_or("");
    let operation = Operation::from_target(target);
    let cors = request.headers().contains_key(header::ORIGIN);
    let span = tracing::debug_span!("request", %request_id, operation = operation.map_or("?", Operation::name));
    let answer = respond(engine, request, operation).instrument(span).await;

    let body = match answer.events {
        Some(events) => ResponseBody::Events(events),
        None => ResponseBody::full(answer.body),
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    let mut id2 = [0u8; 64];
    let len = STANDARD
        .encode_slice(rand::rng().random::<[u8; 48]>(), &mut id2)
        .expect("48 bytes encode to 64");
    if let Ok(value) = HeaderValue::from_bytes(&id2[..len]) {
        headers.insert(ID_2_HEADER, value);
    }
    if cors {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-amzn-RequestId,x-amz-id-2"),
        );
    }
    for (name, value) in answer.extra_headers {
        headers.insert(name, value);
    }
    response
}

async fn respond(
    engine: &Engine,
    request: Request<Incoming>,
    operation: Option<Operation>,
) -> Answer {
    if request.method() == Method::OPTIONS {
        return cors_preflight(request.headers());
    }
    if request.method() == Method::GET && request.uri().path() == "/metrics" {
        return Answer {
            status: 200,
            content_type: crate::metrics::CONTENT_TYPE,
            body: crate::metrics::render(&engine.metrics()).into_bytes(),
            extra_headers: Vec::new(),
            events: None,
        };
    }
    if request.method() != Method::POST {
        return Answer::xml(
            403,
            "AccessDeniedException",
            "Unable to determine service/operation name to be authorized",
        );
    }
    let content_type = header_str(request.headers(), "content-type").unwrap_or("");
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
    let headers = request.headers();
    let query = request.uri().query().unwrap_or("");
    let credentials = Credentials {
        authorization: header_str(headers, "authorization"),
        has_date: headers.contains_key("x-amz-date") || headers.contains_key(header::DATE),
        query_algorithm: query
            .split('&')
            .find_map(|pair| pair.strip_prefix("X-Amz-Algorithm=")),
        query,
    };
    if let Err(err) = auth::check(credentials) {
        tracing::debug!(error_type = err.type_name, "request not authenticated");
        return Answer::error(&err, format);
    }
    let collected = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        Limited::new(request.into_body(), REQUEST_BODY_BYTES_MAX).collect(),
    )
    .await
    .unwrap_or_else(|_| Err("timed out reading the request body".into()));
    let body = match collected {
        Ok(collected) => collected.to_bytes(),
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
    let reply = riffle_wire::dispatch(engine, operation, &body, format).await;
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
fn cors_preflight(headers: &HeaderMap) -> Answer {
    let requested = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
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

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A UUID-shaped request id, as AWS sends in `x-amzn-RequestId`, built on
/// the stack (every request needs one).
struct RequestId([u8; 36]);

impl RequestId {
    fn new() -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let random: u128 = rand::rng().random();
        let mut out = [b'-'; 36];
        let mut digits = (0..32)
            .rev()
            .map(|i| HEX[((random >> (i * 4)) & 0xf) as usize]);
        for (at, byte) in out.iter_mut().enumerate() {
            if !matches!(at, 8 | 13 | 18 | 23) {
                *byte = digits.next().expect("32 digits for 32 places");
            }
        }
        RequestId(out)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits and dashes")
    }
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
        assert_ne!(id.as_str(), RequestId::new().as_str());
    }
}
