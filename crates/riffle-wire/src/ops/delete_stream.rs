//! DeleteStream.

use riffle_engine::Engine;
use serde::Deserialize;

use crate::dispatch::{decode, engine_error, stream_ref};
use crate::error::AwsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    enforce_consumer_deletion: Option<bool>,
}

pub(crate) fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = stream_ref(
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )?;
    engine
        .delete_stream(&stream, request.enforce_consumer_deletion.unwrap_or(false))
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}
