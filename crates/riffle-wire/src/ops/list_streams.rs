//! ListStreams.

use riffle_engine::Engine;
use riffle_engine::ops::list_streams::ListStreamsFrom;
use riffle_model::limits::LIST_STREAMS_LIMIT_DEFAULT;
use riffle_model::{Millis, StreamName};
use serde::{Deserialize, Serialize};

use super::StreamModeDetailsJson;
use crate::dispatch::{decode, encode, engine_error};
use crate::error::AwsError;
use crate::json::serialize_millis;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    limit: Option<i64>,
    exclusive_start_stream_name: Option<String>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    stream_names: Vec<String>,
    has_more_streams: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    stream_summaries: Vec<StreamSummaryJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StreamSummaryJson {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_status: &'static str,
    stream_mode_details: StreamModeDetailsJson,
    #[serde(serialize_with = "serialize_millis")]
    stream_creation_timestamp: Millis,
}

pub(crate) fn handle(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: Request = decode(body)?;
    let from = match (request.next_token, request.exclusive_start_stream_name) {
        (Some(_), Some(_)) => {
            return Err(AwsError::invalid_argument(
                "NextToken and ExclusiveStartStreamName cannot be provided together.",
            ));
        }
        (Some(token), None) => ListStreamsFrom::Token(token),
        (None, Some(name)) => {
            ListStreamsFrom::AfterName(StreamName::parse(&name).expect("validated"))
        }
        (None, None) => ListStreamsFrom::Start,
    };
    let limit = request
        .limit
        .map_or(LIST_STREAMS_LIMIT_DEFAULT, |n| n as usize);
    let list = engine
        .list_streams(from, limit)
        .map_err(|err| engine_error(engine, err))?;
    encode(&Response {
        stream_names: list.streams.iter().map(|s| s.name.to_string()).collect(),
        has_more_streams: list.has_more,
        next_token: list.next_token,
        stream_summaries: list
            .streams
            .iter()
            .map(|s| StreamSummaryJson {
                stream_name: s.name.to_string(),
                stream_arn: s.arn.to_string(),
                stream_status: s.status.as_str(),
                stream_mode_details: StreamModeDetailsJson::new(s.on_demand),
                stream_creation_timestamp: s.created,
            })
            .collect(),
    })
}
