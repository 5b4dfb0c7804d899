//! RegisterStreamConsumer, DeregisterStreamConsumer, DescribeStreamConsumer
//! and ListStreamConsumers.

use riffle_engine::Engine;
use riffle_engine::ops::consumers::{ConsumerRef, ConsumerView};
use riffle_model::Millis;
use serde::{Deserialize, Serialize};

use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::AwsError;
use crate::json::serialize_millis;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    consumer_name: Option<String>,
    #[serde(rename = "ConsumerARN")]
    consumer_arn: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

impl Request {
    /// The consumer a request names: by ARN, or by stream and name.
    fn consumer(&self) -> Result<ConsumerRef, AwsError> {
        match (&self.consumer_arn, &self.consumer_name) {
            (Some(arn), _) => Ok(ConsumerRef::Arn(arn.clone())),
            (None, Some(name)) => Ok(ConsumerRef::Name {
                stream: stream_ref(None, self.stream_arn.as_deref(), self.stream_id.as_deref())?,
                name: name.clone(),
            }),
            (None, None) => Err(AwsError::invalid_argument(
                "Either ConsumerARN or both StreamARN and ConsumerName must be provided.",
            )),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConsumerJson {
    consumer_name: String,
    #[serde(rename = "ConsumerARN")]
    consumer_arn: String,
    consumer_status: &'static str,
    #[serde(serialize_with = "serialize_millis")]
    consumer_creation_timestamp: Millis,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    stream_arn: Option<String>,
}

impl ConsumerJson {
    fn new(view: ConsumerView, with_stream: bool) -> ConsumerJson {
        ConsumerJson {
            consumer_name: view.name,
            consumer_arn: view.arn,
            consumer_status: view.status.as_str(),
            consumer_creation_timestamp: view.created,
            stream_arn: with_stream.then_some(view.stream_arn),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RegisterOutput {
    consumer: ConsumerJson,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeOutput {
    consumer_description: ConsumerJson,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListOutput {
    consumers: Vec<ConsumerJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// Consumers listed by one ListStreamConsumers page by default.
const LIST_CONSUMERS_DEFAULT: usize = 100;

pub(crate) fn register(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = stream_ref(
        None,
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )?;
    let name = request
        .consumer_name
        .as_deref()
        .expect("the model requires ConsumerName");
    let view = engine
        .register_consumer(&stream, name)
        .map_err(|err| engine_error(engine, err))?;
    encode(&RegisterOutput {
        consumer: ConsumerJson::new(view, false),
    })
}

pub(crate) fn deregister(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    engine
        .deregister_consumer(&request.consumer()?)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

pub(crate) fn describe(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let view = engine
        .describe_consumer(&request.consumer()?)
        .map_err(|err| engine_error(engine, err))?;
    encode(&DescribeOutput {
        consumer_description: ConsumerJson::new(view, true),
    })
}

pub(crate) fn list(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let stream = stream_ref(
        None,
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )?;
    let max = request
        .max_results
        .map_or(LIST_CONSUMERS_DEFAULT, |n| n as usize);
    let (consumers, next_token) = engine
        .list_consumers(&stream, request.next_token.as_deref(), max)
        .map_err(|err| engine_error(engine, err))?;
    encode(&ListOutput {
        consumers: consumers
            .into_iter()
            .map(|c| ConsumerJson::new(c, false))
            .collect(),
        next_token,
    })
}
