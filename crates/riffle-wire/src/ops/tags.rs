//! AddTagsToStream, RemoveTagsFromStream, ListTagsForStream, and the
//! ARN-addressed TagResource, UntagResource and ListTagsForResource.

use std::collections::BTreeMap;

use riffle_engine::{Engine, StreamRef};
use riffle_model::StreamArn;
use riffle_model::limits::LIST_TAGS_LIMIT_DEFAULT;
use serde::{Deserialize, Serialize};

use crate::dispatch::{decode, encode, engine_error, stream_ref};
use crate::error::AwsError;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamTagsRequest {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    stream_id: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    tag_keys: Option<Vec<String>>,
    exclusive_start_tag_key: Option<String>,
    limit: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceTagsRequest {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    tag_keys: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TagJson {
    key: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListTagsForStreamResponse {
    tags: Vec<TagJson>,
    has_more_tags: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListTagsForResourceResponse {
    tags: Vec<TagJson>,
}

fn tag_json(tags: Vec<(String, String)>) -> Vec<TagJson> {
    tags.into_iter()
        .map(|(key, value)| TagJson { key, value })
        .collect()
}

fn stream_of(request: &StreamTagsRequest) -> Result<StreamRef, AwsError> {
    stream_ref(
        request.stream_name.as_deref(),
        request.stream_arn.as_deref(),
        request.stream_id.as_deref(),
    )
}

/// The stream a ResourceARN names. Consumers, channels and queues are not
/// taggable here yet, so their ARNs name nothing.
pub(crate) fn resource_stream(arn: Option<&str>) -> Result<StreamRef, AwsError> {
    let arn = arn.expect("the model requires ResourceARN");
    StreamArn::parse(arn)
        .map(StreamRef::Arn)
        .ok_or_else(|| AwsError::resource_not_found(format!("Resource {arn} not found.")))
}

pub(crate) fn add_tags_to_stream(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: StreamTagsRequest = decode(body)?;
    let stream = stream_of(&request)?;
    let tags = request
        .tags
        .expect("the model requires Tags")
        .into_iter()
        .collect();
    engine
        .add_tags(&stream, tags)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

pub(crate) fn remove_tags_from_stream(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: StreamTagsRequest = decode(body)?;
    let stream = stream_of(&request)?;
    let keys = request.tag_keys.expect("the model requires TagKeys");
    engine
        .remove_tags(&stream, &keys)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

pub(crate) fn list_tags_for_stream(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: StreamTagsRequest = decode(body)?;
    let stream = stream_of(&request)?;
    let limit = request
        .limit
        .map_or(LIST_TAGS_LIMIT_DEFAULT, |n| n as usize);
    let page = engine
        .list_tags(&stream, request.exclusive_start_tag_key.as_deref(), limit)
        .map_err(|err| engine_error(engine, err))?;
    encode(&ListTagsForStreamResponse {
        tags: tag_json(page.tags),
        has_more_tags: page.has_more,
    })
}

pub(crate) fn tag_resource(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: ResourceTagsRequest = decode(body)?;
    let stream = resource_stream(request.resource_arn.as_deref())?;
    let tags = request
        .tags
        .expect("the model requires Tags")
        .into_iter()
        .collect();
    engine
        .add_tags(&stream, tags)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

pub(crate) fn untag_resource(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: ResourceTagsRequest = decode(body)?;
    let stream = resource_stream(request.resource_arn.as_deref())?;
    let keys = request.tag_keys.expect("the model requires TagKeys");
    engine
        .remove_tags(&stream, &keys)
        .map_err(|err| engine_error(engine, err))?;
    Ok(Vec::new())
}

pub(crate) fn list_tags_for_resource(engine: &Engine, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    let request: ResourceTagsRequest = decode(body)?;
    let stream = resource_stream(request.resource_arn.as_deref())?;
    let page = engine
        .list_tags(&stream, None, usize::MAX)
        .map_err(|err| engine_error(engine, err))?;
    encode(&ListTagsForResourceResponse {
        tags: tag_json(page.tags),
    })
}
