//! One HTTP request in, one HTTP response out.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use rand::RngExt;
use riffle_engine::Engine;
use riffle_model::limits::REQUEST_BODY_BYTES_MAX;
use riffle_wire::{AwsError, JSON_CONTENT_TYPE, Operation};
use tracing::Instrument;

/// Handles one request. Never fails: every problem is an AWS error response.
pub async fn handle(engine: &Engine, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let request_id = new_request_id();
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let operation = Operation::from_target(target);
    let span = tracing::debug_span!("request", %request_id, operation = operation.map_or("?", Operation::name));
    let (status, body) = respond(engine, request, operation).instrument(span).await;
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-amzn-requestid", value);
    }
    let id2 = STANDARD.encode(rand::rng().random::<[u8; 48]>());
    if let Ok(value) = HeaderValue::from_str(&id2) {
        headers.insert("x-amz-id-2", value);
    }
    response
}

async fn respond(
    engine: &Engine,
    request: Request<Incoming>,
    operation: Option<Operation>,
) -> (u16, Vec<u8>) {
    if request.method() != Method::POST {
        return access_denied();
    }
    let Some(operation) = operation else {
        return error(&AwsError::unknown_operation());
    };
    let body = match Limited::new(request.into_body(), REQUEST_BODY_BYTES_MAX)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            tracing::debug!(error = %err, "request body rejected");
            return (413, Vec::new());
        }
    };
    let reply = riffle_wire::dispatch(engine, operation, &body).await;
    if let Some(error_type) = reply.error_type {
        tracing::debug!(status = reply.status, error_type, "request failed");
    }
    (reply.status, reply.body)
}

fn error(err: &AwsError) -> (u16, Vec<u8>) {
    (err.status, err.body())
}

/// What AWS answers when it cannot tell which operation a request is for
/// (a method other than POST): 403 with an XML body.
fn access_denied() -> (u16, Vec<u8>) {
    let body = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n";
    (403, body.as_bytes().to_vec())
}

/// A UUID-shaped request id, as AWS sends in `x-amzn-RequestId`.
fn new_request_id() -> String {
    let n: u128 = rand::rng().random();
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
