//! Control-plane operations: create, describe, list, delete.

use std::time::Duration;

use aws_sdk_kinesis::types::{
    ShardFilter, ShardFilterType, StreamMode, StreamModeDetails, StreamStatus,
};

use crate::support::{Riffle, aws_error};

#[tokio::test]
async fn create_stream_defaults_to_four_shards_tiling_the_hash_space() {
    let riffle = Riffle::start();
    riffle
        .client
        .create_stream()
        .stream_name("default")
        .send()
        .await
        .unwrap();
    riffle.wait_active("default").await;
    let description = riffle
        .client
        .describe_stream()
        .stream_name("default")
        .send()
        .await
        .unwrap();
    let description = description.stream_description().unwrap();
    assert_eq!(description.stream_name(), "default");
    assert_eq!(
        description.stream_arn(),
        "arn:aws:kinesis:us-east-1:000000000000:stream/default"
    );
    assert_eq!(description.retention_period_hours(), 24);
    assert!(!description.has_more_shards());
    assert_eq!(
        description.stream_mode_details().unwrap().stream_mode(),
        &StreamMode::Provisioned
    );
    let shards = description.shards();
    assert_eq!(shards.len(), 4);
    let mut next_start: u128 = 0;
    for (i, shard) in shards.iter().enumerate() {
        assert_eq!(shard.shard_id(), format!("shardId-{i:012}"));
        let range = shard.hash_key_range().unwrap();
        let start: u128 = range.starting_hash_key().parse().unwrap();
        let end: u128 = range.ending_hash_key().parse().unwrap();
        assert_eq!(start, next_start, "ranges are contiguous");
        next_start = end.wrapping_add(1);
        let starting = shard
            .sequence_number_range()
            .unwrap()
            .starting_sequence_number();
        assert_eq!(starting.len(), 56);
        assert!(
            shard
                .sequence_number_range()
                .unwrap()
                .ending_sequence_number()
                .is_none(),
            "open shard"
        );
    }
    assert_eq!(next_start, 0, "the last range ends at 2^128 - 1");
    assert_eq!(
        shards[1].hash_key_range().unwrap().starting_hash_key(),
        "85070591730234615865843651857942052864"
    );
}

#[tokio::test]
async fn on_demand_streams_report_their_mode() {
    let riffle = Riffle::start();
    riffle
        .client
        .create_stream()
        .stream_name("od")
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
    let summary = riffle
        .client
        .describe_stream_summary()
        .stream_name("od")
        .send()
        .await
        .unwrap();
    let summary = summary.stream_description_summary().unwrap();
    assert_eq!(
        summary.stream_mode_details().unwrap().stream_mode(),
        &StreamMode::OnDemand
    );
    assert_eq!(summary.open_shard_count(), 4);
}

#[tokio::test]
async fn streams_pass_through_creating_and_deleting() {
    let dir = tempfile::tempdir().unwrap();
    let riffle = Riffle::start_in(
        dir.path(),
        &["--create-delay-ms", "400", "--delete-delay-ms", "400"],
    );
    riffle
        .client
        .create_stream()
        .stream_name("slow")
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let status = |riffle: &Riffle| {
        let client = riffle.client.clone();
        async move {
            client
                .describe_stream_summary()
                .stream_name("slow")
                .send()
                .await
                .map(|out| {
                    out.stream_description_summary()
                        .unwrap()
                        .stream_status()
                        .clone()
                })
        }
    };
    assert_eq!(status(&riffle).await.unwrap(), StreamStatus::Creating);
    // Writes to a CREATING stream are refused as on AWS.
    let (code, _) = aws_error(
        riffle
            .client
            .put_record()
            .stream_name("slow")
            .partition_key("k")
            .data(b"x".to_vec().into())
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    riffle.wait_active("slow").await;

    riffle
        .client
        .delete_stream()
        .stream_name("slow")
        .send()
        .await
        .unwrap();
    assert_eq!(status(&riffle).await.unwrap(), StreamStatus::Deleting);
    let mut gone = false;
    for _ in 0..100 {
        if status(&riffle).await.is_err() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "a DELETING stream disappears after the delay");
}

#[tokio::test]
async fn create_of_an_existing_stream_is_resource_in_use() {
    let riffle = Riffle::start();
    riffle.create_stream("dup", 1).await;
    let (code, message) = aws_error(
        riffle
            .client
            .create_stream()
            .stream_name("dup")
            .shard_count(1)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException");
    assert_eq!(
        message,
        "Stream dup under account 000000000000 already exists."
    );
}

#[tokio::test]
async fn deleted_streams_are_gone_and_their_names_reusable() {
    let riffle = Riffle::start();
    riffle.create_stream("gone", 2).await;
    riffle
        .client
        .delete_stream()
        .stream_name("gone")
        .send()
        .await
        .unwrap();
    let (code, message) = aws_error(
        riffle
            .client
            .describe_stream()
            .stream_name("gone")
            .send()
            .await,
    );
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(message, "Stream gone under account 000000000000 not found.");
    riffle.create_stream("gone", 1).await;
    assert_eq!(riffle.shard_ids("gone").await.len(), 1);
}

#[tokio::test]
async fn list_streams_pages_in_name_order_with_summaries() {
    let riffle = Riffle::start();
    for name in ["e", "a", "c", "b", "d"] {
        riffle.create_stream(name, 1).await;
    }
    let first = riffle.client.list_streams().limit(2).send().await.unwrap();
    assert_eq!(first.stream_names(), ["a", "b"]);
    assert!(first.has_more_streams());
    assert_eq!(first.stream_summaries().len(), 2);
    assert_eq!(
        first.stream_summaries()[0].stream_arn(),
        "arn:aws:kinesis:us-east-1:000000000000:stream/a"
    );
    let second = riffle
        .client
        .list_streams()
        .limit(2)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(second.stream_names(), ["c", "d"]);
    let third = riffle
        .client
        .list_streams()
        .exclusive_start_stream_name("d")
        .send()
        .await
        .unwrap();
    assert_eq!(third.stream_names(), ["e"]);
    assert!(!third.has_more_streams());
    assert!(third.next_token().is_none());
}

#[tokio::test]
async fn list_shards_paginates_filters_and_accepts_arns() {
    let riffle = Riffle::start();
    riffle.create_stream("shards", 5).await;
    let first = riffle
        .client
        .list_shards()
        .stream_name("shards")
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.shards().len(), 2);
    let mut ids: Vec<String> = first
        .shards()
        .iter()
        .map(|s| s.shard_id().to_owned())
        .collect();
    let mut token = first.next_token().map(str::to_owned);
    while let Some(next) = token {
        let page = riffle
            .client
            .list_shards()
            .next_token(next)
            .max_results(2)
            .send()
            .await
            .unwrap();
        ids.extend(page.shards().iter().map(|s| s.shard_id().to_owned()));
        token = page.next_token().map(str::to_owned);
    }
    assert_eq!(
        ids,
        (0..5)
            .map(|i| format!("shardId-{i:012}"))
            .collect::<Vec<_>>()
    );

    let after = riffle
        .client
        .list_shards()
        .stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/shards")
        .exclusive_start_shard_id("shardId-000000000002")
        .send()
        .await
        .unwrap();
    assert_eq!(after.shards().len(), 2);
    assert_eq!(after.shards()[0].shard_id(), "shardId-000000000003");

    let filtered = riffle
        .client
        .list_shards()
        .stream_name("shards")
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::AfterShardId)
                .shard_id("shardId-000000000003")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.shards().len(), 1);
    let latest = riffle
        .client
        .list_shards()
        .stream_name("shards")
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::AtLatest)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(latest.shards().len(), 5);

    let (code, message) = aws_error(
        riffle
            .client
            .list_shards()
            .stream_name("shards")
            .next_token("abc")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert_eq!(
        message,
        "NextToken and StreamName cannot be provided together."
    );
}

#[tokio::test]
async fn every_operation_accepts_a_stream_arn() {
    let riffle = Riffle::start();
    riffle.create_stream("by-arn", 2).await;
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/by-arn";
    riffle
        .client
        .describe_stream()
        .stream_arn(arn)
        .send()
        .await
        .unwrap();
    riffle
        .client
        .describe_stream_summary()
        .stream_arn(arn)
        .send()
        .await
        .unwrap();
    let put = riffle
        .client
        .put_record()
        .stream_arn(arn)
        .partition_key("k")
        .data(b"v".to_vec().into())
        .send()
        .await
        .unwrap();
    riffle
        .client
        .put_records()
        .stream_arn(arn)
        .records(
            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                .partition_key("k")
                .data(b"w".to_vec().into())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let iterator = riffle
        .client
        .get_shard_iterator()
        .stream_arn(arn)
        .shard_id(put.shard_id())
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let records = riffle
        .client
        .get_records()
        .stream_arn(arn)
        .shard_iterator(iterator.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(records.records().len(), 2);
    riffle
        .client
        .delete_stream()
        .stream_arn(arn)
        .send()
        .await
        .unwrap();
    let (code, _) = aws_error(
        riffle
            .client
            .describe_stream()
            .stream_arn("arn:aws:kinesis:us-east-1:111111111111:stream/by-arn")
            .send()
            .await,
    );
    assert_eq!(
        code, "ResourceNotFoundException",
        "another account's ARN names no stream here"
    );
}
