//! The control plane beyond create/describe/delete: tags, retention, enhanced
//! monitoring, encryption, resource policies, limits, account settings and
//! the per-stream settings (record size, capacity mode, warm throughput,
//! record distribution), and addressing streams by StreamId.
//!
//! The pinned `aws-sdk-kinesis` predates UpdateStreamRecordDistributionStrategy
//! and still requires a PartitionKey in `PutRecordsRequestEntry`, so those two
//! calls go over raw HTTP/1.1 JSON; everything else uses the SDK.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_kinesis::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    EncryptionType, MetricsName, MinimumThroughputBillingCommitmentInput,
    MinimumThroughputBillingCommitmentInputStatus as InputStatus,
    MinimumThroughputBillingCommitmentOutputStatus as OutputStatus, PutRecordsRequestEntry,
    ShardIteratorType, StreamMode, StreamModeDetails, StreamStatus, Tag,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::support::{Riffle, aws_error};

const ACCOUNT: &str = "000000000000";

fn arn(stream: &str) -> String {
    format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{stream}")
}

fn keys(tags: &[Tag]) -> Vec<&str> {
    tags.iter().map(Tag::key).collect()
}

fn pairs(tags: &[Tag]) -> Vec<(&str, &str)> {
    tags.iter()
        .map(|t| (t.key(), t.value().unwrap_or("<none>")))
        .collect()
}

fn entry(key: &str, data: &str) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(key)
        .data(Blob::new(data.as_bytes()))
        .build()
        .unwrap()
}

/// A signed-looking (never verified) JSON 1.1 call the SDK cannot make.
async fn raw_json(riffle: &Riffle, operation: &str, body: &str) -> (u16, String) {
    let stream = TcpStream::connect(riffle.addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::builder()
        .method("POST")
        .uri(format!("http://{}/", riffle.addr))
        .header("x-amz-target", format!("Kinesis_20131202.{operation}"))
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0",
        )
        .header("x-amz-date", "20261122T030000Z")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn set_distribution(riffle: &Riffle, stream: &str, strategy: &str) {
    let (status, body) = raw_json(
        riffle,
        "UpdateStreamRecordDistributionStrategy",
        &format!(
            r#"{{"StreamARN":"{}","RecordDistributionStrategy":"{strategy}"}}"#,
            arn(stream)
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn summary(
    riffle: &Riffle,
    stream: &str,
) -> aws_sdk_kinesis::types::StreamDescriptionSummary {
    riffle
        .client
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap()
}

async fn first_iterator(riffle: &Riffle, stream: &str, shard: &str) -> String {
    riffle
        .client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap()
}

#[tokio::test]
async fn stream_tags_are_sorted_paginated_overwritten_and_removed() {
    let riffle = Riffle::start();
    riffle.create_stream("tags", 1).await;
    let c = &riffle.client;

    let listed = c
        .list_tags_for_stream()
        .stream_name("tags")
        .send()
        .await
        .unwrap();
    assert!(listed.tags().is_empty());
    assert!(!listed.has_more_tags());

    c.add_tags_to_stream()
        .stream_name("tags")
        .tags("team", "data")
        .tags("env", "prod")
        .tags("cost center", "42")
        .tags("app/owner", "ops@example.com")
        .tags("empty", "")
        .send()
        .await
        .unwrap();
    let listed = c
        .list_tags_for_stream()
        .stream_name("tags")
        .send()
        .await
        .unwrap();
    assert_eq!(
        pairs(listed.tags()),
        [
            ("app/owner", "ops@example.com"),
            ("cost center", "42"),
            ("empty", ""),
            ("env", "prod"),
            ("team", "data"),
        ]
    );
    assert!(!listed.has_more_tags());

    // Limit + ExclusiveStartTagKey walk the keys in order.
    let mut walked = Vec::new();
    let mut start: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = c
            .list_tags_for_stream()
            .stream_name("tags")
            .limit(2)
            .set_exclusive_start_tag_key(start.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.tags().len() <= 2);
        walked.extend(keys(page.tags()).into_iter().map(str::to_owned));
        if !page.has_more_tags() {
            break;
        }
        start = page.tags().last().map(|t| t.key().to_owned());
    }
    assert_eq!(pages, 3);
    assert_eq!(walked, ["app/owner", "cost center", "empty", "env", "team"]);

    // A start key that is not a tag still starts after it.
    let page = c
        .list_tags_for_stream()
        .stream_name("tags")
        .exclusive_start_tag_key("ep")
        .send()
        .await
        .unwrap();
    assert_eq!(keys(page.tags()), ["team"]);
    assert!(!page.has_more_tags());
    // Exactly `limit` left: no more tags.
    let page = c
        .list_tags_for_stream()
        .stream_name("tags")
        .exclusive_start_tag_key("empty")
        .limit(2)
        .send()
        .await
        .unwrap();
    assert_eq!(keys(page.tags()), ["env", "team"]);
    assert!(!page.has_more_tags());

    // Adding an existing key overwrites its value.
    c.add_tags_to_stream()
        .stream_name("tags")
        .tags("env", "staging")
        .send()
        .await
        .unwrap();
    // Unknown keys are ignored on removal.
    c.remove_tags_from_stream()
        .stream_name("tags")
        .tag_keys("team")
        .tag_keys("never-set")
        .send()
        .await
        .unwrap();
    let listed = c
        .list_tags_for_stream()
        .stream_arn(arn("tags"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        pairs(listed.tags()),
        [
            ("app/owner", "ops@example.com"),
            ("cost center", "42"),
            ("empty", ""),
            ("env", "staging"),
        ]
    );
}

#[tokio::test]
async fn tag_errors_match_aws() {
    let riffle = Riffle::start();
    riffle.create_stream("tagerr", 1).await;
    let c = &riffle.client;
    c.add_tags_to_stream()
        .stream_name("tagerr")
        .tags("keep", "me")
        .send()
        .await
        .unwrap();

    let invalid = "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.";
    for (key, value) in [("bad*key", "v"), ("ok", "bad!value"), ("semi;colon", "v")] {
        let (code, message) = aws_error(
            c.add_tags_to_stream()
                .stream_name("tagerr")
                .tags(key, value)
                .tags("fine", "fine")
                .send()
                .await,
        );
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("InvalidArgumentException", invalid),
            "{key}={value}"
        );
    }
    let (code, message) = aws_error(
        c.remove_tags_from_stream()
            .stream_name("tagerr")
            .tag_keys("bad*key")
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidArgumentException", invalid)
    );
    // Unicode letters and digits are fine.
    c.add_tags_to_stream()
        .stream_name("tagerr")
        .tags("équipe", "données 2")
        .send()
        .await
        .unwrap();
    // Rejected requests changed nothing.
    let listed = c
        .list_tags_for_stream()
        .stream_name("tagerr")
        .send()
        .await
        .unwrap();
    assert_eq!(keys(listed.tags()), ["keep", "équipe"]);

    // Up to 50 tags; one more is refused and nothing from that call is kept.
    let mut fill = c.add_tags_to_stream().stream_name("tagerr");
    for i in 0..48 {
        fill = fill.tags(format!("k{i:02}"), "v");
    }
    fill.send().await.unwrap();
    let limit = format!(
        "Failed to add tags to stream tagerr under account {ACCOUNT} because a given stream cannot have more than 50 tags associated with it."
    );
    let (code, message) = aws_error(
        c.add_tags_to_stream()
            .stream_name("tagerr")
            .tags("one-too-many", "v")
            .tags("keep", "changed")
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("LimitExceededException", limit.as_str())
    );
    // 51 distinct keys in one call (the model allows up to 200 per call).
    let mut many = c.add_tags_to_stream().stream_name("tagerr");
    for i in 0..51 {
        many = many.tags(format!("m{i:02}"), "v");
    }
    let (code, _) = aws_error(many.send().await);
    assert_eq!(code, "LimitExceededException");
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = c
            .list_tags_for_stream()
            .stream_name("tagerr")
            .limit(50)
            .set_exclusive_start_tag_key(start.take())
            .send()
            .await
            .unwrap();
        seen.extend(
            pairs(page.tags())
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        if !page.has_more_tags() {
            break;
        }
        start = seen.last().map(|(k, _)| k.clone());
    }
    assert_eq!(seen.len(), 50);
    assert!(seen.contains(&("keep".to_owned(), "me".to_owned())));
    // Overwriting at the limit is not adding.
    c.add_tags_to_stream()
        .stream_name("tagerr")
        .tags("keep", "still")
        .send()
        .await
        .unwrap();

    // Model-driven validation.
    let (code, message) = aws_error(
        c.list_tags_for_stream()
            .stream_name("tagerr")
            .limit(51)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50"
    );
    let (code, message) = aws_error(
        c.list_tags_for_stream()
            .stream_name("tagerr")
            .limit(0)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    let (code, message) = aws_error(
        c.list_tags_for_stream()
            .stream_name("tagerr")
            .exclusive_start_tag_key("")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value '' at 'exclusiveStartTagKey' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );
    let mut too_many_keys = c.remove_tags_from_stream().stream_name("tagerr");
    for i in 0..51 {
        too_many_keys = too_many_keys.tag_keys(format!("k{i}"));
    }
    let (code, message) = aws_error(too_many_keys.send().await);
    assert_eq!(code, "ValidationException");
    assert!(
        message.starts_with("1 validation error detected: Value '[k0, k1, "),
        "{message}"
    );
    assert!(
        message.ends_with(
            "' at 'tagKeys' failed to satisfy constraint: Member must have length less than or equal to 50"
        ),
        "{message}"
    );

    // A missing stream.
    let not_found = format!("Stream nope under account {ACCOUNT} not found.");
    for (code, message) in [
        aws_error(c.list_tags_for_stream().stream_name("nope").send().await),
        aws_error(
            c.add_tags_to_stream()
                .stream_name("nope")
                .tags("a", "b")
                .send()
                .await,
        ),
        aws_error(
            c.remove_tags_from_stream()
                .stream_name("nope")
                .tag_keys("a")
                .send()
                .await,
        ),
    ] {
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("ResourceNotFoundException", not_found.as_str())
        );
    }
}

#[tokio::test]
async fn resource_tags_by_stream_arn_share_the_stream_tags() {
    let riffle = Riffle::start();
    riffle.create_stream("byarn", 1).await;
    let c = &riffle.client;
    c.tag_resource()
        .resource_arn(arn("byarn"))
        .tags("b", "2")
        .tags("a", "1")
        .send()
        .await
        .unwrap();
    c.add_tags_to_stream()
        .stream_name("byarn")
        .tags("c", "3")
        .send()
        .await
        .unwrap();
    let listed = c
        .list_tags_for_resource()
        .resource_arn(arn("byarn"))
        .send()
        .await
        .unwrap();
    assert_eq!(pairs(listed.tags()), [("a", "1"), ("b", "2"), ("c", "3")]);

    c.untag_resource()
        .resource_arn(arn("byarn"))
        .tag_keys("a")
        .tag_keys("c")
        .send()
        .await
        .unwrap();
    let listed = c
        .list_tags_for_stream()
        .stream_name("byarn")
        .send()
        .await
        .unwrap();
    assert_eq!(pairs(listed.tags()), [("b", "2")]);

    let (code, message) = aws_error(
        c.tag_resource()
            .resource_arn(arn("byarn"))
            .tags("x", "no#hash")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert!(
        message.starts_with("Some tags contain invalid characters."),
        "{message}"
    );

    let mut many = c.tag_resource().resource_arn(arn("byarn"));
    for i in 0..50 {
        many = many.tags(format!("t{i:02}"), "v");
    }
    let (code, message) = aws_error(many.send().await);
    assert_eq!(code, "LimitExceededException");
    assert_eq!(
        message,
        format!(
            "Failed to add tags to stream byarn under account {ACCOUNT} because a given stream cannot have more than 50 tags associated with it."
        )
    );

    let (code, message) = aws_error(
        c.list_tags_for_resource()
            .resource_arn(arn("gone"))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            format!("Stream gone under account {ACCOUNT} not found.").as_str()
        )
    );
}

#[tokio::test]
async fn retention_moves_only_in_the_named_direction_within_24_to_8760_hours() {
    let riffle = Riffle::start();
    riffle.create_stream("ret", 1).await;
    let c = &riffle.client;
    assert_eq!(summary(&riffle, "ret").await.retention_period_hours(), 24);

    c.increase_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(72)
        .send()
        .await
        .unwrap();
    assert_eq!(summary(&riffle, "ret").await.retention_period_hours(), 72);
    let described = c
        .describe_stream()
        .stream_name("ret")
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap();
    assert_eq!(described.retention_period_hours(), 72);

    // Setting the current value is allowed either way.
    c.increase_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(72)
        .send()
        .await
        .unwrap();
    c.decrease_stream_retention_period()
        .stream_arn(arn("ret"))
        .retention_period_hours(48)
        .send()
        .await
        .unwrap();
    assert_eq!(summary(&riffle, "ret").await.retention_period_hours(), 48);
    c.increase_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(8760)
        .send()
        .await
        .unwrap();
    assert_eq!(summary(&riffle, "ret").await.retention_period_hours(), 8760);
    c.decrease_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(24)
        .send()
        .await
        .unwrap();

    let cases = [
        (
            aws_error(
                c.increase_stream_retention_period()
                    .stream_name("ret")
                    .retention_period_hours(12)
                    .send()
                    .await,
            ),
            "Minimum allowed retention period is 24 hours. Requested retention period (12 hours) is too short.",
        ),
        (
            aws_error(
                c.decrease_stream_retention_period()
                    .stream_name("ret")
                    .retention_period_hours(23)
                    .send()
                    .await,
            ),
            "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short.",
        ),
        (
            aws_error(
                c.increase_stream_retention_period()
                    .stream_name("ret")
                    .retention_period_hours(8761)
                    .send()
                    .await,
            ),
            "Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long.",
        ),
    ];
    for ((code, message), expected) in cases {
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("InvalidArgumentException", expected)
        );
    }

    c.increase_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(100)
        .send()
        .await
        .unwrap();
    let (code, message) = aws_error(
        c.increase_stream_retention_period()
            .stream_name("ret")
            .retention_period_hours(50)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "InvalidArgumentException",
            "Requested retention period (50 hours) for stream ret can not be shorter than existing retention period (100 hours). Use DecreaseRetentionPeriod API."
        )
    );
    let (code, message) = aws_error(
        c.decrease_stream_retention_period()
            .stream_name("ret")
            .retention_period_hours(200)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "InvalidArgumentException",
            "Requested retention period (200 hours) for stream ret can not be longer than existing retention period (100 hours). Use IncreaseRetentionPeriod API."
        )
    );
    assert_eq!(summary(&riffle, "ret").await.retention_period_hours(), 100);

    let (code, message) = aws_error(
        c.increase_stream_retention_period()
            .stream_name("nope")
            .retention_period_hours(48)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            format!("Stream nope under account {ACCOUNT} not found.").as_str()
        )
    );
}

#[tokio::test]
async fn enhanced_monitoring_reports_current_and_desired_metrics() {
    let riffle = Riffle::start();
    riffle.create_stream("mon", 1).await;
    let c = &riffle.client;
    let described = c
        .describe_stream()
        .stream_name("mon")
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap();
    assert_eq!(described.enhanced_monitoring().len(), 1);
    assert!(
        described.enhanced_monitoring()[0]
            .shard_level_metrics()
            .is_empty()
    );

    let enabled = c
        .enable_enhanced_monitoring()
        .stream_name("mon")
        .shard_level_metrics(MetricsName::IncomingBytes)
        .shard_level_metrics(MetricsName::OutgoingRecords)
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.stream_name(), Some("mon"));
    assert_eq!(enabled.stream_arn(), Some(arn("mon").as_str()));
    assert!(enabled.current_shard_level_metrics().is_empty());
    assert_eq!(
        enabled.desired_shard_level_metrics(),
        [MetricsName::IncomingBytes, MetricsName::OutgoingRecords]
    );

    let all = [
        MetricsName::IncomingBytes,
        MetricsName::IncomingRecords,
        MetricsName::OutgoingBytes,
        MetricsName::OutgoingRecords,
        MetricsName::WriteProvisionedThroughputExceeded,
        MetricsName::ReadProvisionedThroughputExceeded,
        MetricsName::IteratorAgeMilliseconds,
    ];
    let enabled = c
        .enable_enhanced_monitoring()
        .stream_arn(arn("mon"))
        .shard_level_metrics(MetricsName::All)
        .send()
        .await
        .unwrap();
    assert_eq!(
        enabled.current_shard_level_metrics(),
        [MetricsName::IncomingBytes, MetricsName::OutgoingRecords]
    );
    assert_eq!(enabled.desired_shard_level_metrics(), all);
    let described = c
        .describe_stream()
        .stream_name("mon")
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap();
    assert_eq!(
        described.enhanced_monitoring()[0].shard_level_metrics(),
        all
    );
    assert_eq!(
        summary(&riffle, "mon").await.enhanced_monitoring()[0].shard_level_metrics(),
        all
    );

    let disabled = c
        .disable_enhanced_monitoring()
        .stream_name("mon")
        .shard_level_metrics(MetricsName::IteratorAgeMilliseconds)
        .shard_level_metrics(MetricsName::IncomingRecords)
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.current_shard_level_metrics(), all);
    assert_eq!(
        disabled.desired_shard_level_metrics(),
        [
            MetricsName::IncomingBytes,
            MetricsName::OutgoingBytes,
            MetricsName::OutgoingRecords,
            MetricsName::WriteProvisionedThroughputExceeded,
            MetricsName::ReadProvisionedThroughputExceeded,
        ]
    );
    let disabled = c
        .disable_enhanced_monitoring()
        .stream_name("mon")
        .shard_level_metrics(MetricsName::All)
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.current_shard_level_metrics().len(), 5);
    assert!(disabled.desired_shard_level_metrics().is_empty());
    let described = c
        .describe_stream()
        .stream_name("mon")
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap();
    assert!(
        described.enhanced_monitoring()[0]
            .shard_level_metrics()
            .is_empty()
    );

    let (code, message) = aws_error(
        c.enable_enhanced_monitoring()
            .stream_name("nope")
            .shard_level_metrics(MetricsName::All)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            format!("Stream nope under account {ACCOUNT} not found.").as_str()
        )
    );
    let (code, message) = aws_error(
        c.enable_enhanced_monitoring()
            .stream_name("mon")
            .shard_level_metrics(MetricsName::from("Bogus"))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value 'Bogus' at 'shardLevelMetrics.1.member' failed to satisfy constraint: Member must satisfy enum value set: [IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL]"
    );
}

#[tokio::test]
async fn encryption_shows_in_describe_puts_and_records() {
    let riffle = Riffle::start();
    riffle.create_stream("enc", 1).await;
    let c = &riffle.client;
    let key = "arn:aws:kms:us-east-1:000000000000:key/12345678-1234-1234-1234-123456789012";

    let plain = summary(&riffle, "enc").await;
    assert_eq!(plain.encryption_type(), Some(&EncryptionType::None));
    assert_eq!(plain.key_id(), None);

    let (code, message) = aws_error(
        c.start_stream_encryption()
            .stream_name("enc")
            .encryption_type(EncryptionType::None)
            .key_id(key)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("InvalidArgumentException", "EncryptionType must be KMS.")
    );
    let (code, message) = aws_error(
        c.start_stream_encryption()
            .stream_name("enc")
            .encryption_type(EncryptionType::Kms)
            .key_id("")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1"
    );

    c.start_stream_encryption()
        .stream_name("enc")
        .encryption_type(EncryptionType::Kms)
        .key_id(key)
        .send()
        .await
        .unwrap();
    let encrypted = summary(&riffle, "enc").await;
    assert_eq!(encrypted.encryption_type(), Some(&EncryptionType::Kms));
    assert_eq!(encrypted.key_id(), Some(key));
    let described = c
        .describe_stream()
        .stream_name("enc")
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap();
    assert_eq!(described.encryption_type(), Some(&EncryptionType::Kms));
    assert_eq!(described.key_id(), Some(key));

    let put = c
        .put_record()
        .stream_name("enc")
        .partition_key("k")
        .data(Blob::new("secret-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.encryption_type(), Some(&EncryptionType::Kms));
    let puts = c
        .put_records()
        .stream_name("enc")
        .records(entry("k", "secret-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(puts.encryption_type(), Some(&EncryptionType::Kms));
    assert_eq!(puts.failed_record_count(), Some(0));
    let records = riffle.read_all("enc", "shardId-000000000000").await;
    assert_eq!(records.len(), 2);
    for (record, data) in records.iter().zip(["secret-1", "secret-2"]) {
        assert_eq!(record.data().as_ref(), data.as_bytes());
        assert_eq!(record.encryption_type(), Some(&EncryptionType::Kms));
    }

    c.stop_stream_encryption()
        .stream_name("enc")
        .encryption_type(EncryptionType::Kms)
        .key_id(key)
        .send()
        .await
        .unwrap();
    let stopped = summary(&riffle, "enc").await;
    assert_eq!(stopped.encryption_type(), Some(&EncryptionType::None));
    assert_eq!(stopped.key_id(), None);
    let put = c
        .put_record()
        .stream_name("enc")
        .partition_key("k")
        .data(Blob::new("plain"))
        .send()
        .await
        .unwrap();
    assert_ne!(put.encryption_type(), Some(&EncryptionType::Kms));

    let (code, message) = aws_error(
        c.stop_stream_encryption()
            .stream_name("nope")
            .encryption_type(EncryptionType::Kms)
            .key_id(key)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            format!("Stream nope under account {ACCOUNT} not found.").as_str()
        )
    );
}

#[tokio::test]
async fn an_encryption_change_makes_the_stream_updating_for_the_transition() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough that the next request surely lands inside the transition.
    let riffle = Riffle::start_in(dir.path(), &["--create-delay-ms", "1500"]);
    riffle
        .client
        .create_stream()
        .stream_name("slow")
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let c = &riffle.client;
    let (code, message) = aws_error(
        c.start_stream_encryption()
            .stream_name("slow")
            .encryption_type(EncryptionType::Kms)
            .key_id("alias/aws/kinesis")
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceInUseException",
            format!("Stream slow under account {ACCOUNT} not ACTIVE, instead in state CREATING")
                .as_str()
        )
    );
    riffle.wait_active("slow").await;

    c.start_stream_encryption()
        .stream_name("slow")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap();
    let updating = summary(&riffle, "slow").await;
    assert_eq!(updating.stream_status(), &StreamStatus::Updating);
    let (code, message) = aws_error(
        c.stop_stream_encryption()
            .stream_name("slow")
            .encryption_type(EncryptionType::Kms)
            .key_id("alias/aws/kinesis")
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceInUseException",
            format!("Stream slow under account {ACCOUNT} not ACTIVE, instead in state UPDATING")
                .as_str()
        )
    );
    // An UPDATING stream still takes writes.
    let put = c
        .put_record()
        .stream_name("slow")
        .partition_key("k")
        .data(Blob::new("during"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.shard_id(), "shardId-000000000000");

    riffle.wait_active("slow").await;
    let done = summary(&riffle, "slow").await;
    assert_eq!(done.encryption_type(), Some(&EncryptionType::Kms));
    assert_eq!(done.key_id(), Some("alias/aws/kinesis"));
    c.stop_stream_encryption()
        .stream_name("slow")
        .encryption_type(EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap();
    riffle.wait_active("slow").await;
    assert_eq!(
        summary(&riffle, "slow").await.encryption_type(),
        Some(&EncryptionType::None)
    );
}

#[tokio::test]
async fn resource_policies_are_stored_returned_and_deleted() {
    let riffle = Riffle::start();
    riffle.create_stream("pol", 1).await;
    let c = &riffle.client;

    let none = c
        .get_resource_policy()
        .resource_arn(arn("pol"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.policy(), "{}");

    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kinesis:GetRecords","Resource":"arn:aws:kinesis:us-east-1:000000000000:stream/pol"}]}"#;
    c.put_resource_policy()
        .resource_arn(arn("pol"))
        .policy(policy)
        .send()
        .await
        .unwrap();
    let got = c
        .get_resource_policy()
        .resource_arn(arn("pol"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.policy(), policy);

    for bad in ["not json", "[1,2]", "\"a string\"", "{\"unterminated\":"] {
        let (code, message) = aws_error(
            c.put_resource_policy()
                .resource_arn(arn("pol"))
                .policy(bad)
                .send()
                .await,
        );
        assert_eq!(
            (code.as_str(), message.as_str()),
            (
                "InvalidArgumentException",
                "Policy is not a valid JSON document."
            ),
            "{bad}"
        );
    }
    // The rejected puts left the policy alone.
    let got = c
        .get_resource_policy()
        .resource_arn(arn("pol"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.policy(), policy);

    c.delete_resource_policy()
        .resource_arn(arn("pol"))
        .send()
        .await
        .unwrap();
    let gone = c
        .get_resource_policy()
        .resource_arn(arn("pol"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.policy(), "{}");

    let missing = format!("Stream nope under account {ACCOUNT} not found.");
    for (code, message) in [
        aws_error(
            c.get_resource_policy()
                .resource_arn(arn("nope"))
                .send()
                .await,
        ),
        aws_error(
            c.put_resource_policy()
                .resource_arn(arn("nope"))
                .policy("{}")
                .send()
                .await,
        ),
        aws_error(
            c.delete_resource_policy()
                .resource_arn(arn("nope"))
                .send()
                .await,
        ),
    ] {
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("ResourceNotFoundException", missing.as_str())
        );
    }
}

#[tokio::test]
async fn describe_limits_counts_open_shards_and_on_demand_streams() {
    let riffle = Riffle::start();
    let c = &riffle.client;
    let limits = c.describe_limits().send().await.unwrap();
    assert_eq!(limits.shard_limit(), 10_000);
    assert_eq!(limits.open_shard_count(), 0);
    assert_eq!(limits.on_demand_stream_count(), 0);
    assert_eq!(limits.on_demand_stream_count_limit(), 50);

    riffle.create_stream("two", 2).await;
    riffle.create_stream("three", 3).await;
    // One shard: on-demand scaling neither merges nor grows it (no warm throughput).
    riffle.create_stream("od", 1).await;
    let limits = c.describe_limits().send().await.unwrap();
    assert_eq!(limits.open_shard_count(), 6);
    assert_eq!(limits.on_demand_stream_count(), 0);

    c.update_stream_mode()
        .stream_arn(arn("od"))
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    riffle.wait_active("od").await;
    let limits = c.describe_limits().send().await.unwrap();
    assert_eq!(limits.open_shard_count(), 6);
    assert_eq!(limits.on_demand_stream_count(), 1);

    c.delete_stream().stream_name("two").send().await.unwrap();
    for _ in 0..200 {
        if c.describe_stream_summary()
            .stream_name("two")
            .send()
            .await
            .is_err()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let limits = c.describe_limits().send().await.unwrap();
    assert_eq!(limits.open_shard_count(), 4);
    assert_eq!(limits.on_demand_stream_count(), 1);
}

#[tokio::test]
async fn a_billing_commitment_lasts_at_least_24_hours() {
    let riffle = Riffle::start();
    let c = &riffle.client;
    let day_ms = 24 * 3_600_000;
    let settings = c.describe_account_settings().send().await.unwrap();
    let commitment = settings.minimum_throughput_billing_commitment().unwrap();
    assert_eq!(commitment.status(), &OutputStatus::Disabled);
    assert_eq!(commitment.started_at(), None);

    let before_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let status = |status: InputStatus| {
        MinimumThroughputBillingCommitmentInput::builder()
            .status(status)
            .build()
            .unwrap()
    };
    let enabled = c
        .update_account_settings()
        .minimum_throughput_billing_commitment(status(InputStatus::Enabled))
        .send()
        .await
        .unwrap();
    let enabled = enabled.minimum_throughput_billing_commitment().unwrap();
    assert_eq!(enabled.status(), &OutputStatus::Enabled);
    let started = enabled.started_at().unwrap().to_millis().unwrap();
    // Timestamps may be truncated to the second on the wire.
    assert!(started >= before_ms - 1000, "{started} < {before_ms}");
    assert_eq!(
        enabled
            .earliest_allowed_end_at()
            .unwrap()
            .to_millis()
            .unwrap(),
        started + day_ms
    );
    assert_eq!(enabled.ended_at(), None);
    let described = c.describe_account_settings().send().await.unwrap();
    assert_eq!(
        described.minimum_throughput_billing_commitment(),
        Some(enabled)
    );

    // Disabling inside the first 24 hours runs the commitment to its earliest end.
    let disabling = c
        .update_account_settings()
        .minimum_throughput_billing_commitment(status(InputStatus::Disabled))
        .send()
        .await
        .unwrap();
    let disabling = disabling.minimum_throughput_billing_commitment().unwrap();
    assert_eq!(
        disabling.status(),
        &OutputStatus::EnabledUntilEarliestAllowedEnd
    );
    assert_eq!(
        disabling.started_at().unwrap().to_millis().unwrap(),
        started
    );
    assert_eq!(
        disabling
            .earliest_allowed_end_at()
            .unwrap()
            .to_millis()
            .unwrap(),
        started + day_ms
    );
    let described = c.describe_account_settings().send().await.unwrap();
    assert_eq!(
        described
            .minimum_throughput_billing_commitment()
            .unwrap()
            .status(),
        &OutputStatus::EnabledUntilEarliestAllowedEnd
    );

    // Enabling again cancels the pending end and keeps the original start.
    let again = c
        .update_account_settings()
        .minimum_throughput_billing_commitment(status(InputStatus::Enabled))
        .send()
        .await
        .unwrap();
    let again = again.minimum_throughput_billing_commitment().unwrap();
    assert_eq!(again.status(), &OutputStatus::Enabled);
    assert_eq!(again.started_at().unwrap().to_millis().unwrap(), started);

    let (code, message) = aws_error(
        c.update_account_settings()
            .minimum_throughput_billing_commitment(status(InputStatus::from("SOMETIMES")))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value 'SOMETIMES' at 'minimumThroughputBillingCommitment.status' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
    );
}

#[tokio::test]
async fn update_max_record_size_allows_10_mib_records() {
    let riffle = Riffle::start();
    riffle.create_stream("big", 1).await;
    let c = &riffle.client;
    assert_eq!(
        summary(&riffle, "big").await.max_record_size_in_kib(),
        Some(1024)
    );

    let (code, message) = aws_error(
        c.put_record()
            .stream_name("big")
            .partition_key("k")
            .data(Blob::new(vec![0u8; 1024 * 1024 + 1]))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576"
    );

    for (kib, bound) in [
        (1023, "greater than or equal to 1024"),
        (10241, "less than or equal to 10240"),
    ] {
        let (code, message) = aws_error(
            c.update_max_record_size()
                .stream_arn(arn("big"))
                .max_record_size_in_kib(kib)
                .send()
                .await,
        );
        assert_eq!(code, "ValidationException");
        assert_eq!(
            message,
            format!(
                "1 validation error detected: Value '{kib}' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value {bound}"
            )
        );
    }

    c.update_max_record_size()
        .stream_arn(arn("big"))
        .max_record_size_in_kib(10240)
        .send()
        .await
        .unwrap();
    assert_eq!(
        summary(&riffle, "big").await.max_record_size_in_kib(),
        Some(10240)
    );

    let data: Vec<u8> = (0..10 * 1024 * 1024)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let put = c
        .put_record()
        .stream_name("big")
        .partition_key("big-key")
        .data(Blob::new(data.clone()))
        .send()
        .await
        .unwrap();
    let records = riffle.read_all("big", "shardId-000000000000").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].sequence_number(), put.sequence_number());
    assert_eq!(records[0].partition_key(), "big-key");
    assert!(
        records[0].data().as_ref() == data.as_slice(),
        "10 MiB record differs"
    );

    let (code, message) = aws_error(
        c.put_record()
            .stream_name("big")
            .partition_key("k")
            .data(Blob::new(vec![0u8; 10 * 1024 * 1024 + 1]))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 10485760"
    );

    let (code, message) = aws_error(
        c.update_max_record_size()
            .stream_arn(arn("nope"))
            .max_record_size_in_kib(2048)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            format!("Stream nope under account {ACCOUNT} not found.").as_str()
        )
    );
}

#[tokio::test]
async fn stream_mode_and_warm_throughput() {
    let riffle = Riffle::start();
    // One shard, so on-demand scaling has nothing to merge.
    riffle.create_stream("mode", 1).await;
    let c = &riffle.client;
    let mode = |mode: StreamMode| {
        StreamModeDetails::builder()
            .stream_mode(mode)
            .build()
            .unwrap()
    };
    assert_eq!(
        summary(&riffle, "mode")
            .await
            .stream_mode_details()
            .map(StreamModeDetails::stream_mode),
        Some(&StreamMode::Provisioned)
    );
    assert_eq!(summary(&riffle, "mode").await.warm_throughput(), None);

    let (code, message) = aws_error(
        c.update_stream_warm_throughput()
            .stream_name("mode")
            .warm_throughput_mibps(100)
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "InvalidArgumentException",
            "Warm throughput can only be set on ON_DEMAND streams; stream mode is PROVISIONED."
        )
    );
    let (code, message) = aws_error(
        c.update_stream_mode()
            .stream_arn(arn("mode"))
            .stream_mode_details(mode(StreamMode::Provisioned))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "InvalidArgumentException",
            format!("Stream mode under account {ACCOUNT} is already in PROVISIONED mode.").as_str()
        )
    );

    c.update_stream_mode()
        .stream_arn(arn("mode"))
        .stream_mode_details(mode(StreamMode::OnDemand))
        .send()
        .await
        .unwrap();
    riffle.wait_active("mode").await;
    let on_demand = summary(&riffle, "mode").await;
    assert_eq!(
        on_demand
            .stream_mode_details()
            .map(StreamModeDetails::stream_mode),
        Some(&StreamMode::OnDemand)
    );
    assert_eq!(on_demand.open_shard_count(), 1);
    let described = c
        .describe_stream()
        .stream_name("mode")
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap();
    assert_eq!(
        described
            .stream_mode_details()
            .map(StreamModeDetails::stream_mode),
        Some(&StreamMode::OnDemand)
    );
    let (code, message) = aws_error(
        c.update_stream_mode()
            .stream_arn(arn("mode"))
            .stream_mode_details(mode(StreamMode::OnDemand))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "InvalidArgumentException",
            format!("Stream mode under account {ACCOUNT} is already in ON_DEMAND mode.").as_str()
        )
    );

    let warm = c
        .update_stream_warm_throughput()
        .stream_name("mode")
        .warm_throughput_mibps(100)
        .send()
        .await
        .unwrap();
    assert_eq!(warm.stream_name(), Some("mode"));
    assert_eq!(warm.stream_arn(), Some(arn("mode").as_str()));
    let object = warm.warm_throughput().unwrap();
    assert_eq!(object.target_mibps(), Some(100));
    assert_eq!(object.current_mibps(), Some(100));
    let shown = summary(&riffle, "mode").await;
    let object = shown.warm_throughput().unwrap();
    assert_eq!(object.target_mibps(), Some(100));
    assert_eq!(object.current_mibps(), Some(100));

    let (code, message) = aws_error(
        c.update_stream_warm_throughput()
            .stream_name("mode")
            .warm_throughput_mibps(-1)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value '-1' at 'warmThroughputMiBps' failed to satisfy constraint: Member must have value greater than or equal to 0"
    );

    // Back to PROVISIONED: the warm throughput goes with ON_DEMAND.
    c.update_stream_mode()
        .stream_arn(arn("mode"))
        .stream_mode_details(mode(StreamMode::Provisioned))
        .send()
        .await
        .unwrap();
    riffle.wait_active("mode").await;
    let back = summary(&riffle, "mode").await;
    assert_eq!(
        back.stream_mode_details()
            .map(StreamModeDetails::stream_mode),
        Some(&StreamMode::Provisioned)
    );
    assert_eq!(back.warm_throughput(), None);

    let (code, message) = aws_error(
        c.update_stream_mode()
            .stream_arn(arn("nope"))
            .stream_mode_details(mode(StreamMode::OnDemand))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            format!("Stream nope under account {ACCOUNT} not found.").as_str()
        )
    );
}

#[tokio::test]
async fn auto_distribution_takes_records_without_partition_keys() {
    let riffle = Riffle::start();
    riffle.create_stream("auto", 4).await;
    let c = &riffle.client;
    let null_key = "1 validation error detected: Value null at 'partitionKey' failed to satisfy constraint: Member must not be null";

    // USER_PARTITION_KEY (the default) needs a key.
    let (code, message) = aws_error(
        c.put_record()
            .stream_name("auto")
            .data(Blob::new("keyless"))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ValidationException", null_key)
    );
    let (status, body) = raw_json(
        &riffle,
        "PutRecords",
        r#"{"StreamName":"auto","Records":[{"Data":"YQ==","PartitionKey":"k"},{"Data":"Yg=="}]}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains(r#""__type":"ValidationException""#), "{body}");
    assert!(
        body.contains("1 validation error detected: Value null at 'records.2.member.partitionKey' failed to satisfy constraint: Member must not be null"),
        "{body}"
    );

    set_distribution(&riffle, "auto", "AUTO").await;
    let (_, described) =
        raw_json(&riffle, "DescribeStreamSummary", r#"{"StreamName":"auto"}"#).await;
    assert!(
        described.contains(r#""RecordDistributionStrategy":"AUTO""#),
        "{described}"
    );

    let mut shards = HashSet::new();
    for i in 0..40 {
        let put = c
            .put_record()
            .stream_name("auto")
            .data(Blob::new(format!("single-{i}")))
            .send()
            .await
            .unwrap();
        shards.insert(put.shard_id().to_owned());
    }
    let entries: Vec<String> = (0..40)
        .map(|i| {
            // base64 of "batch-NN": build it from the bytes.
            format!(
                r#"{{"Data":"{}"}}"#,
                base64(format!("batch-{i:02}").as_bytes())
            )
        })
        .collect();
    let (status, body) = raw_json(
        &riffle,
        "PutRecords",
        &format!(
            r#"{{"StreamName":"auto","Records":[{}]}}"#,
            entries.join(",")
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""FailedRecordCount":0"#), "{body}");
    for shard in 0..4 {
        if body.contains(&format!("shardId-00000000000{shard}")) {
            shards.insert(format!("shardId-00000000000{shard}"));
        }
    }
    assert!(
        shards.len() >= 2,
        "80 keyless records all went to {shards:?}"
    );

    let mut seen = Vec::new();
    for shard in riffle.shard_ids("auto").await {
        for record in riffle.read_all("auto", &shard).await {
            // The SDK fills the absent (model-required) key with "".
            assert_eq!(record.partition_key(), "");
            seen.push(String::from_utf8(record.data().as_ref().to_vec()).unwrap());
        }
        let iterator = first_iterator(&riffle, "auto", &shard).await;
        let (status, body) = raw_json(
            &riffle,
            "GetRecords",
            &format!(r#"{{"ShardIterator":"{iterator}"}}"#),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains("PartitionKey"), "{body}");
    }
    seen.sort();
    let mut expected: Vec<String> = (0..40)
        .map(|i| format!("single-{i}"))
        .chain((0..40).map(|i| format!("batch-{i:02}")))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);

    // Keys given under AUTO are accepted (and kept).
    c.put_record()
        .stream_name("auto")
        .partition_key("given")
        .data(Blob::new("with-key"))
        .send()
        .await
        .unwrap();

    // Back to USER_PARTITION_KEY: keys are required again.
    set_distribution(&riffle, "auto", "USER_PARTITION_KEY").await;
    let (code, message) = aws_error(
        c.put_record()
            .stream_name("auto")
            .data(Blob::new("keyless"))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ValidationException", null_key)
    );

    let (status, body) = raw_json(
        &riffle,
        "UpdateStreamRecordDistributionStrategy",
        &format!(
            r#"{{"StreamARN":"{}","RecordDistributionStrategy":"RANDOM"}}"#,
            arn("auto")
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains(r#""__type":"ValidationException""#), "{body}");
    assert!(
        body.contains("Value 'RANDOM' at 'recordDistributionStrategy' failed to satisfy constraint: Member must satisfy enum value set: ["),
        "{body}"
    );
}

/// Always the test server, whatever the request carries.
#[derive(Debug)]
struct FixedEndpoint(String);

impl ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(&'a self, _params: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::ready(Ok(Endpoint::builder().url(self.0.clone()).build()))
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn streams_are_addressable_by_stream_id() {
    let riffle = Riffle::start();
    riffle.create_stream("byid", 1).await;
    riffle.create_stream("other", 1).await;
    // The SDK sends StreamId requests to `https://{id}.{control|data}-kinesis…`
    // even with `endpoint_url` set, so pin the endpoint with a resolver.
    let by_id_client = aws_sdk_kinesis::Client::from_conf(
        riffle
            .client
            .config()
            .to_builder()
            .endpoint_resolver(FixedEndpoint(format!("http://{}", riffle.addr)))
            .build(),
    );
    let c = &by_id_client;
    let id = summary(&riffle, "byid")
        .await
        .stream_id()
        .expect("StreamId")
        .to_owned();
    let other_id = summary(&riffle, "other")
        .await
        .stream_id()
        .unwrap()
        .to_owned();
    assert_ne!(id, other_id);
    let (prefix, suffix) = id.split_once('-').expect("a dash");
    assert_eq!(prefix.len(), 20, "{id}");
    assert_eq!(suffix.len(), 3, "{id}");
    assert!(
        id.chars()
            .all(|ch| ch == '-' || ch.is_ascii_lowercase() || ch.is_ascii_digit()),
        "{id}"
    );

    let described = c
        .describe_stream()
        .stream_id(&id)
        .send()
        .await
        .unwrap()
        .stream_description
        .unwrap();
    assert_eq!(described.stream_name(), "byid");
    let by_id = c
        .describe_stream_summary()
        .stream_id(&id)
        .send()
        .await
        .unwrap()
        .stream_description_summary
        .unwrap();
    assert_eq!(by_id.stream_name(), "byid");
    assert_eq!(by_id.stream_id(), Some(id.as_str()));

    let put = c
        .put_record()
        .stream_id(&id)
        .partition_key("k")
        .data(Blob::new("by-id"))
        .send()
        .await
        .unwrap();
    let puts = c
        .put_records()
        .stream_id(&id)
        .records(entry("k", "by-id-batch"))
        .send()
        .await
        .unwrap();
    assert_eq!(puts.failed_record_count(), Some(0));
    c.add_tags_to_stream()
        .stream_id(&id)
        .tags("via", "id")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_for_stream()
        .stream_name("byid")
        .send()
        .await
        .unwrap();
    assert_eq!(pairs(tags.tags()), [("via", "id")]);

    let records = riffle.read_all("byid", "shardId-000000000000").await;
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].sequence_number(), put.sequence_number());
    assert_eq!(records[1].data().as_ref(), b"by-id-batch");
    assert!(
        riffle
            .read_all("other", "shardId-000000000000")
            .await
            .is_empty()
    );

    let unknown = "abcdefghij0123456789-xyz";
    let (code, message) = aws_error(c.describe_stream().stream_id(unknown).send().await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            format!("Stream {unknown} under account {ACCOUNT} not found.").as_str()
        )
    );
    let (code, message) = aws_error(
        c.describe_stream_summary()
            .stream_id("NOT-AN-ID")
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value 'NOT-AN-ID' at 'streamId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z0-9]{20}-[a-z0-9]{3}"
    );
}
