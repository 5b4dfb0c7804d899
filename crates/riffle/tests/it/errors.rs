//! Bad input gets AWS's error type and message.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::support::{Riffle, aws_error};

fn entry(key: &str, data: Vec<u8>) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(key)
        .data(Blob::new(data))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_missing_stream_is_resource_not_found_everywhere() {
    let riffle = Riffle::start();
    let expected = "Stream nope under account 000000000000 not found.";
    let c = &riffle.client;
    for (code, message) in [
        aws_error(c.describe_stream().stream_name("nope").send().await),
        aws_error(c.describe_stream_summary().stream_name("nope").send().await),
        aws_error(c.delete_stream().stream_name("nope").send().await),
        aws_error(c.list_shards().stream_name("nope").send().await),
        aws_error(
            c.put_record()
                .stream_name("nope")
                .partition_key("k")
                .data(Blob::new("x"))
                .send()
                .await,
        ),
        aws_error(
            c.put_records()
                .stream_name("nope")
                .records(entry("k", b"x".to_vec()))
                .send()
                .await,
        ),
    ] {
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("ResourceNotFoundException", expected)
        );
    }
    let (code, message) = aws_error(
        c.get_shard_iterator()
            .stream_name("nope")
            .shard_id("shardId-000000000000")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(
        message,
        "Shard shardId-000000000000 in stream nope under account 000000000000 does not exist"
    );
}

#[tokio::test]
async fn shard_arguments_are_checked_like_aws() {
    let riffle = Riffle::start();
    riffle.create_stream("sh", 1).await;
    let c = &riffle.client;
    let iterator = |shard: &str, kind: ShardIteratorType, sequence: Option<&str>| {
        c.get_shard_iterator()
            .stream_name("sh")
            .shard_id(shard)
            .shard_iterator_type(kind)
            .set_starting_sequence_number(sequence.map(str::to_owned))
            .send()
    };
    let (code, message) =
        aws_error(iterator("shardId-000000000007", ShardIteratorType::TrimHorizon, None).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            "Shard shardId-000000000007 in stream sh under account 000000000000 does not exist"
        )
    );
    let (code, message) = aws_error(iterator("bogus", ShardIteratorType::TrimHorizon, None).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            "Could not find shard bogus in stream sh under account 000000000000."
        )
    );
    let (code, message) = aws_error(
        iterator(
            "shardId-000000000000",
            ShardIteratorType::AtSequenceNumber,
            None,
        )
        .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert_eq!(
        message,
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber."
    );
    let (code, message) =
        aws_error(iterator("shardId-000000000000", ShardIteratorType::Latest, Some("1")).await);
    assert_eq!(code, "InvalidArgumentException");
    assert!(
        message.ends_with("Request specified LATEST and also a StartingSequenceNumber."),
        "{message}"
    );
    let (code, message) = aws_error(
        iterator(
            "shardId-000000000000",
            ShardIteratorType::AtSequenceNumber,
            Some("12345"),
        )
        .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert_eq!(
        message,
        "StartingSequenceNumber 12345 used in GetShardIterator on shard shardId-000000000000 in stream sh under account 000000000000 is invalid."
    );
    let (code, message) = aws_error(
        iterator(
            "shardId-000000000000",
            ShardIteratorType::AtSequenceNumber,
            Some("x1"),
        )
        .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value 'x1' at 'startingSequenceNumber' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(0|([1-9]\\d{0,128}))$"
    );
    let (code, message) =
        aws_error(iterator("shardId-000000000000", ShardIteratorType::AtTimestamp, None).await);
    assert_eq!(code, "InvalidArgumentException");
    assert_eq!(
        message,
        "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter."
    );
}

#[tokio::test]
async fn a_sequence_number_from_another_shard_is_rejected() {
    let riffle = Riffle::start();
    riffle.create_stream("two", 2).await;
    let put = riffle
        .client
        .put_record()
        .stream_name("two")
        .partition_key("k")
        .explicit_hash_key("0")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap();
    let (code, message) = aws_error(
        riffle
            .client
            .get_shard_iterator()
            .stream_name("two")
            .shard_id("shardId-000000000001")
            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
            .starting_sequence_number(put.sequence_number())
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert_eq!(
        message,
        "Invalid StartingSequenceNumber. It encodes shardId-000000000000, while it was used in a call to a shard with shardId-000000000001"
    );
}

#[tokio::test]
async fn invalid_iterators_are_invalid_arguments() {
    let riffle = Riffle::start();
    riffle.create_stream("it", 1).await;
    for bad in [
        "not-an-iterator",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let (code, message) =
            aws_error(riffle.client.get_records().shard_iterator(bad).send().await);
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("InvalidArgumentException", "Invalid ShardIterator.")
        );
    }
    let (code, message) = aws_error(
        riffle
            .client
            .get_records()
            .shard_iterator("x")
            .limit(10_001)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"
    );
}

#[tokio::test]
async fn iterators_of_a_deleted_stream_find_nothing() {
    let riffle = Riffle::start();
    riffle.create_stream("ephemeral", 1).await;
    let it = riffle
        .client
        .get_shard_iterator()
        .stream_name("ephemeral")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    riffle
        .client
        .delete_stream()
        .stream_name("ephemeral")
        .send()
        .await
        .unwrap();
    riffle.create_stream("ephemeral", 1).await;
    let (code, _) = aws_error(
        riffle
            .client
            .get_records()
            .shard_iterator(it.shard_iterator().unwrap())
            .send()
            .await,
    );
    assert_eq!(
        code, "ResourceNotFoundException",
        "an old incarnation's iterator does not read the new stream"
    );
}

#[tokio::test]
async fn record_and_request_size_limits_hold() {
    let riffle = Riffle::start();
    riffle.create_stream("limits", 1).await;
    let c = &riffle.client;
    let (code, message) = aws_error(
        c.put_record()
            .stream_name("limits")
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

    let (code, message) = aws_error(
        c.put_records()
            .stream_name("limits")
            .records(entry("k", vec![1]))
            .records(entry("k", vec![0u8; 1024 * 1024 + 1]))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.starts_with("1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'records.2.member.data'"), "{message}");

    let many: Vec<_> = (0..501).map(|i| entry(&format!("k{i}"), vec![1])).collect();
    let (code, message) = aws_error(
        c.put_records()
            .stream_name("limits")
            .set_records(Some(many))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.starts_with("1 validation error detected: Value '[com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@"), "{message}");
    assert!(message.ends_with("at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"), "{message}");

    let heavy: Vec<_> = (0..6)
        .map(|i| entry(&format!("k{i}"), vec![7u8; 900 * 1024]))
        .collect();
    let (code, message) = aws_error(
        c.put_records()
            .stream_name("limits")
            .set_records(Some(heavy))
            .send()
            .await,
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "InvalidArgumentException",
            "Records size exceeds 5 MB limit"
        )
    );

    let (code, message) = aws_error(
        c.put_record()
            .stream_name("limits")
            .partition_key("x".repeat(257))
            .data(Blob::new("d"))
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert!(message.ends_with("at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256"), "{message}");

    let (code, message) = aws_error(
        c.put_record()
            .stream_name("limits")
            .partition_key("k")
            .explicit_hash_key("340282366920938463463374607431768211456")
            .data(Blob::new("d"))
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert_eq!(
        message,
        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was 340282366920938463463374607431768211456"
    );

    // Nothing rejected was stored.
    assert!(
        riffle
            .read_all("limits", "shardId-000000000000")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn stream_names_are_validated_with_aws_messages() {
    let riffle = Riffle::start();
    let (code, message) = aws_error(
        riffle
            .client
            .create_stream()
            .stream_name("bad name!")
            .shard_count(0)
            .send()
            .await,
    );
    assert_eq!(code, "ValidationException");
    assert_eq!(
        message,
        // Model member order; AWS has been seen listing shardCount first (docs/aws-errors.md).
        "2 validation errors detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
}
