//! One request body in, one response out: decode → validate → execute → encode.

use riffle_engine::{Engine, EngineError, StreamRef};
use riffle_model::{StreamArn, StreamName};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AwsError;
use crate::json::serialization_message;
use crate::operation::Operation;
use crate::ops;

/// A response: HTTP status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The AWS error type, for logging; `None` on success.
    pub error_type: Option<&'static str>,
}

impl Reply {
    fn error(err: &AwsError) -> Reply {
        Reply {
            status: err.status,
            body: err.body(),
            error_type: Some(err.type_name),
        }
    }
}

/// Runs one operation on a JSON body.
pub async fn dispatch(engine: &Engine, operation: Operation, body: &[u8]) -> Reply {
    if let Err(err) = crate::checker::check_json(operation.name(), body) {
        return Reply::error(&err);
    }
    let result = match operation {
        Operation::CreateStream => ops::create_stream::handle(engine, body),
        Operation::DeleteStream => ops::delete_stream::handle(engine, body),
        Operation::DescribeStream => ops::describe_stream::handle(engine, body),
        Operation::DescribeStreamSummary => ops::describe_stream_summary::handle(engine, body),
        Operation::GetRecords => ops::get_records::handle(engine, body),
        Operation::GetShardIterator => ops::get_shard_iterator::handle(engine, body),
        Operation::ListShards => ops::list_shards::handle(engine, body),
        Operation::ListStreams => ops::list_streams::handle(engine, body),
        Operation::PutRecord => ops::put_record::handle(engine, body).await,
        Operation::PutRecords => ops::put_records::handle(engine, body).await,
    };
    match result {
        Ok(body) => Reply {
            status: 200,
            body,
            error_type: None,
        },
        Err(err) => Reply::error(&err),
    }
}

/// Decodes a request body, already checked against the model, into its
/// typed shape.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, AwsError> {
    serde_json::from_slice(body).map_err(|err| AwsError::serialization(serialization_message(&err)))
}

/// Encodes a response shape.
pub(crate) fn encode<T: Serialize>(response: &T) -> Result<Vec<u8>, AwsError> {
    serde_json::to_vec(response).map_err(|_| AwsError::internal_failure())
}

/// Maps an engine error using the engine's account id.
pub(crate) fn engine_error(engine: &Engine, err: EngineError) -> AwsError {
    // Storage failures are the server's problem, not the client's: the client
    // gets a bare InternalFailure and the detail goes to the operator's log.
    if let EngineError::Store(store) = &err {
        tracing::error!(error = %store, "internal failure");
    }
    AwsError::from_engine(&err, engine.config().account.as_str())
}

/// Resolves the StreamName / StreamARN pair every stream operation takes,
/// after validation has checked their shapes.
pub(crate) fn stream_ref(name: Option<&str>, arn: Option<&str>) -> Result<StreamRef, AwsError> {
    let name = name.map(|n| StreamName::parse(n).expect("validated against the StreamName shape"));
    let arn = match arn {
        Some(text) => Some(
            StreamArn::parse(text)
                .ok_or_else(|| AwsError::invalid_argument(format!("Invalid StreamARN {text}.")))?,
        ),
        None => None,
    };
    match (name, arn) {
        (Some(name), Some(arn)) if arn.stream != name => Err(AwsError::invalid_argument(
            "StreamARN and StreamName must refer to the same stream.",
        )),
        (_, Some(arn)) => Ok(StreamRef::Arn(arn)),
        (Some(name), None) => Ok(StreamRef::Name(name)),
        (None, None) => Err(AwsError::invalid_argument(
            "Either StreamName or StreamARN should be provided.",
        )),
    }
}
