//! One request body in, one response out: decode → validate → execute → encode
//! (for the hot operations, decode and validate are one pass: see [`crate::hot`]).

use riffle_engine::ops::retention::RetentionChange;
use riffle_engine::{Engine, EngineError, StreamRef};
use riffle_model::{StreamArn, StreamName};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AwsError;
use crate::json::serialization_message;
use crate::operation::Operation;
use crate::ops;
use crate::protocol::Format;

/// A response: HTTP status and body (in the request's encoding).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The AWS error type, for logging; `None` on success.
    pub error_type: Option<&'static str>,
    /// For SubscribeToShard: event-stream frames to send after the headers
    /// (with `Content-Type: application/vnd.amazon.eventstream`).
    pub events: Option<tokio::sync::mpsc::Receiver<bytes::Bytes>>,
}

impl Reply {
    fn from_result(result: Result<Vec<u8>, AwsError>) -> Reply {
        match result {
            Ok(body) => Reply {
                status: 200,
                body,
                error_type: None,
                events: None,
            },
            Err(err) => Reply::error(&err),
        }
    }

    fn error(err: &AwsError) -> Reply {
        Reply {
            status: err.status,
            body: err.body(crate::protocol::current()),
            error_type: Some(err.type_name),
            events: None,
        }
    }
}

/// Runs one operation on a body in `format`, answering in the same format.
pub async fn dispatch(engine: &Engine, operation: Operation, body: &[u8], format: Format) -> Reply {
    crate::protocol::CURRENT
        .scope(format, run(engine, operation, body))
        .await
}

async fn run(engine: &Engine, operation: Operation, body: &[u8]) -> Reply {
    // The hot operations try one typed pass first; whatever it does not
    // take goes through the checker, which phrases the error.
    let hot = match operation {
        Operation::PutRecords => ops::put_records::handle_hot(engine, body).await,
        Operation::PutRecord => ops::put_record::handle_hot(engine, body).await,
        Operation::GetRecords => ops::get_records::handle_hot(engine, body),
        _ => None,
    };
    if let Some(result) = hot {
        return Reply::from_result(result);
    }
    if let Err(err) = crate::checker::check(operation.name(), body, crate::protocol::current()) {
        return Reply::error(&err);
    }
    if operation == Operation::SubscribeToShard {
        return match ops::subscribe::handle(engine, body) {
            Ok(events) => Reply {
                status: 200,
                body: Vec::new(),
                error_type: None,
                events: Some(events),
            },
            Err(err) => Reply::error(&err),
        };
    }
    use ops::stream_changes as change;
    let result = match operation {
        Operation::AddTagsToStream => ops::tags::add_tags_to_stream(engine, body),
        Operation::DeregisterStreamConsumer => ops::consumers::deregister(engine, body),
        Operation::DescribeStreamConsumer => ops::consumers::describe(engine, body),
        Operation::ListStreamConsumers => ops::consumers::list(engine, body),
        Operation::RegisterStreamConsumer => ops::consumers::register(engine, body),
        Operation::SubscribeToShard => unreachable!("answered above as a stream"),
        Operation::CreateStream => ops::create_stream::handle(engine, body),
        Operation::DecreaseStreamRetentionPeriod => {
            change::retention(engine, body, RetentionChange::Decrease)
        }
        Operation::DeleteResourcePolicy => change::delete_resource_policy(engine, body),
        Operation::DeleteStream => ops::delete_stream::handle(engine, body),
        Operation::DescribeAccountSettings => ops::account::describe_account_settings(engine, body),
        Operation::DescribeLimits => ops::account::describe_limits(engine, body),
        Operation::DescribeStream => ops::describe_stream::handle(engine, body),
        Operation::DescribeStreamSummary => ops::describe_stream_summary::handle(engine, body),
        Operation::DisableEnhancedMonitoring => change::enhanced_monitoring(engine, body, false),
        Operation::EnableEnhancedMonitoring => change::enhanced_monitoring(engine, body, true),
        Operation::GetRecords => ops::get_records::handle(engine, body),
        Operation::GetResourcePolicy => change::get_resource_policy(engine, body),
        Operation::GetShardIterator => ops::get_shard_iterator::handle(engine, body),
        Operation::IncreaseStreamRetentionPeriod => {
            change::retention(engine, body, RetentionChange::Increase)
        }
        Operation::MergeShards => ops::reshard::merge_shards(engine, body),
        Operation::SplitShard => ops::reshard::split_shard(engine, body),
        Operation::UpdateShardCount => ops::reshard::update_shard_count(engine, body),
        Operation::ListShards => ops::list_shards::handle(engine, body),
        Operation::ListStreams => ops::list_streams::handle(engine, body),
        Operation::ListTagsForResource => ops::tags::list_tags_for_resource(engine, body),
        Operation::ListTagsForStream => ops::tags::list_tags_for_stream(engine, body),
        Operation::PutRecord => ops::put_record::handle(engine, body).await,
        Operation::PutRecords => ops::put_records::handle(engine, body).await,
        Operation::PutResourcePolicy => change::put_resource_policy(engine, body),
        Operation::RemoveTagsFromStream => ops::tags::remove_tags_from_stream(engine, body),
        Operation::StartStreamEncryption => change::encryption(engine, body, true),
        Operation::StopStreamEncryption => change::encryption(engine, body, false),
        Operation::TagResource => ops::tags::tag_resource(engine, body),
        Operation::UntagResource => ops::tags::untag_resource(engine, body),
        Operation::UpdateAccountSettings => ops::account::update_account_settings(engine, body),
        Operation::UpdateMaxRecordSize => change::update_max_record_size(engine, body),
        Operation::UpdateStreamMode => change::update_stream_mode(engine, body),
        Operation::UpdateStreamRecordDistributionStrategy => {
            change::update_record_distribution(engine, body)
        }
        Operation::UpdateStreamWarmThroughput => {
            change::update_stream_warm_throughput(engine, body)
        }
    };
    Reply::from_result(result)
}

/// Decodes a request body, already checked against the model, into its
/// typed shape.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, AwsError> {
    match crate::protocol::current() {
        Format::Json => serde_json::from_slice(body)
            .map_err(|err| AwsError::serialization(serialization_message(&err))),
        Format::Cbor => ciborium::de::from_reader(body)
            .map_err(|err| AwsError::serialization(Some(err.to_string()))),
    }
}

/// Encodes a response shape.
pub(crate) fn encode<T: Serialize>(response: &T) -> Result<Vec<u8>, AwsError> {
    encode_as(crate::protocol::current(), response)
}

/// Encodes a value in a given format (for event payloads sent after the
/// request's task has moved on).
pub(crate) fn encode_as<T: Serialize>(format: Format, response: &T) -> Result<Vec<u8>, AwsError> {
    match format {
        Format::Json => serde_json::to_vec(response).map_err(|_| AwsError::internal_failure()),
        Format::Cbor => {
            let mut body = Vec::new();
            ciborium::ser::into_writer(response, &mut body)
                .map_err(|_| AwsError::internal_failure())?;
            Ok(body)
        }
    }
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

/// Resolves the StreamName / StreamARN / StreamId members every stream
/// operation takes, after the model check has validated their shapes.
pub(crate) fn stream_ref(
    name: Option<&str>,
    arn: Option<&str>,
    id: Option<&str>,
) -> Result<StreamRef, AwsError> {
    let name = name.map(|n| StreamName::parse(n).expect("validated against the StreamName shape"));
    let arn = match arn {
        Some(text) => Some(
            StreamArn::parse(text)
                .ok_or_else(|| AwsError::invalid_argument(format!("Invalid StreamARN {text}.")))?,
        ),
        None => None,
    };
    match (name, arn, id) {
        (Some(name), Some(arn), _) if arn.stream != name => Err(AwsError::invalid_argument(
            "StreamARN and StreamName must refer to the same stream.",
        )),
        (_, Some(arn), _) => Ok(StreamRef::Arn(arn)),
        (Some(name), None, _) => Ok(StreamRef::Name(name)),
        (None, None, Some(id)) => Ok(StreamRef::Id(id.to_owned())),
        (None, None, None) => Err(AwsError::invalid_argument(
            "Either StreamName or StreamARN should be provided.",
        )),
    }
}
