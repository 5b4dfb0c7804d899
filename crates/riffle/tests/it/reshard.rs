//! SplitShard, MergeShards and UpdateShardCount through the Rust SDK:
//! lineage, reading across a reshard, and every rejection path.

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{ScalingType, ShardFilter, ShardFilterType, ShardIteratorType};

use crate::support::{Riffle, aws_error};

const HALF: u128 = 1 << 127;

async fn shards(riffle: &Riffle, stream: &str) -> Vec<aws_sdk_kinesis::types::Shard> {
    riffle
        .client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap()
        .shards()
        .to_vec()
}

async fn put(riffle: &Riffle, stream: &str, hash_key: u128, data: &str) -> (String, String) {
    let out = riffle
        .client
        .put_record()
        .stream_name(stream)
        .partition_key("k")
        .explicit_hash_key(hash_key.to_string())
        .data(Blob::new(data))
        .send()
        .await
        .unwrap();
    (out.shard_id().to_owned(), out.sequence_number().to_owned())
}

#[tokio::test]
async fn split_closes_the_parent_and_reads_continue_in_the_children() {
    let riffle = Riffle::start();
    riffle.create_stream("split", 1).await;
    let (_, before) = put(&riffle, "split", HALF + 5, "before").await;
    riffle
        .client
        .split_shard()
        .stream_name("split")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key(HALF.to_string())
        .send()
        .await
        .unwrap();
    let all = shards(&riffle, "split").await;
    assert_eq!(all.len(), 3);
    let parent = &all[0];
    let ending = parent
        .sequence_number_range()
        .unwrap()
        .ending_sequence_number()
        .expect("the parent is closed");
    assert_eq!(ending, before, "the parent ends at its last record");
    let (low, high) = (&all[1], &all[2]);
    assert_eq!(
        (low.parent_shard_id(), high.parent_shard_id()),
        (Some("shardId-000000000000"), Some("shardId-000000000000"))
    );
    assert_eq!(
        low.hash_key_range().unwrap().ending_hash_key(),
        (HALF - 1).to_string()
    );
    assert_eq!(
        high.hash_key_range().unwrap().starting_hash_key(),
        HALF.to_string()
    );

    let (shard, after) = put(&riffle, "split", HALF + 5, "after").await;
    assert_eq!(
        shard, "shardId-000000000002",
        "new writes go to the child that owns the key"
    );
    assert!(
        after > before,
        "a child's sequence numbers exceed its parent's"
    );

    // Reading the parent to its end yields ChildShards and no next iterator.
    let iterator = riffle
        .client
        .get_shard_iterator()
        .stream_name("split")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let page = riffle
        .client
        .get_records()
        .shard_iterator(iterator)
        .send()
        .await
        .unwrap();
    assert_eq!(page.records().len(), 1);
    assert!(
        page.next_shard_iterator().is_none(),
        "a finished closed shard has no next iterator"
    );
    let children: Vec<_> = page
        .child_shards()
        .iter()
        .map(|c| c.shard_id().to_owned())
        .collect();
    assert_eq!(children, ["shardId-000000000001", "shardId-000000000002"]);
    assert_eq!(
        page.child_shards()[0].parent_shards(),
        ["shardId-000000000000"]
    );
    let child_records = riffle.read_all("split", "shardId-000000000002").await;
    assert_eq!(child_records.len(), 1);
    assert_eq!(child_records[0].data().as_ref(), b"after");

    let open = riffle
        .client
        .list_shards()
        .stream_name("split")
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::AtLatest)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(open.shards().len(), 2, "AT_LATEST lists only open shards");
}

#[tokio::test]
async fn merge_joins_adjacent_shards_into_one_child() {
    let riffle = Riffle::start();
    riffle.create_stream("merge", 2).await;
    riffle
        .client
        .merge_shards()
        .stream_name("merge")
        .shard_to_merge("shardId-000000000001")
        .adjacent_shard_to_merge("shardId-000000000000")
        .send()
        .await
        .unwrap();
    let all = shards(&riffle, "merge").await;
    let child = &all[2];
    assert_eq!(child.parent_shard_id(), Some("shardId-000000000001"));
    assert_eq!(
        child.adjacent_parent_shard_id(),
        Some("shardId-000000000000")
    );
    assert_eq!(child.hash_key_range().unwrap().starting_hash_key(), "0");
    assert_eq!(
        child.hash_key_range().unwrap().ending_hash_key(),
        u128::MAX.to_string()
    );
    let summary = riffle
        .client
        .describe_stream_summary()
        .stream_name("merge")
        .send()
        .await
        .unwrap();
    assert_eq!(
        summary
            .stream_description_summary()
            .unwrap()
            .open_shard_count(),
        1
    );
}

#[tokio::test]
async fn update_shard_count_scales_uniformly() {
    let riffle = Riffle::start();
    riffle.create_stream("scale", 2).await;
    let out = riffle
        .client
        .update_shard_count()
        .stream_name("scale")
        .target_shard_count(3)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (out.current_shard_count(), out.target_shard_count()),
        (Some(2), Some(3))
    );
    let open: Vec<_> = shards(&riffle, "scale")
        .await
        .into_iter()
        .filter(|s| {
            s.sequence_number_range()
                .unwrap()
                .ending_sequence_number()
                .is_none()
        })
        .collect();
    assert_eq!(open.len(), 3);
    let starts: Vec<_> = open
        .iter()
        .map(|s| s.hash_key_range().unwrap().starting_hash_key().to_owned())
        .collect();
    assert!(
        starts.contains(&"113427455640312821154458202477256070485".to_owned()),
        "AWS's uniform boundary: {starts:?}"
    );
    for shard in &open {
        let parents = shard
            .parent_shard_id()
            .into_iter()
            .chain(shard.adjacent_parent_shard_id())
            .count();
        assert!((1..=2).contains(&parents), "at most two parents");
    }
}

#[tokio::test]
async fn rejected_reshards_get_aws_errors() {
    let riffle = Riffle::start();
    riffle.create_stream("bad", 3).await;
    let c = &riffle.client;
    let split = |shard: &str, key: String| {
        c.split_shard()
            .stream_name("bad")
            .shard_to_split(shard)
            .new_starting_hash_key(key)
            .send()
    };

    let (code, message) = aws_error(split("shardId-000000000000", "1".into()).await);
    assert_eq!(code, "InvalidArgumentException");
    assert_eq!(
        message,
        "NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream bad under account 000000000000 is not both greater than one plus the shard's StartingHashKey 0 and less than the shard's EndingHashKey 113427455640312821154458202477256070484."
    );
    let (code, message) = aws_error(split("shardId-000000000009", "100".into()).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ResourceNotFoundException",
            "Could not find shard shardId-000000000009 in stream bad under account 000000000000."
        )
    );

    let (code, message) = aws_error(
        c.merge_shards()
            .stream_name("bad")
            .shard_to_merge("shardId-000000000000")
            .adjacent_shard_to_merge("shardId-000000000002")
            .send()
            .await,
    );
    assert_eq!(code, "InvalidArgumentException");
    assert_eq!(
        message,
        "Shards shardId-000000000000 and shardId-000000000002 in stream bad under account 000000000000 are not an adjacent pair of shards eligible for merging"
    );

    split("shardId-000000000000", "1000".into()).await.unwrap();
    let (code, message) = aws_error(split("shardId-000000000000", "2000".into()).await);
    assert_eq!(code, "ResourceInUseException");
    assert_eq!(
        message,
        "Shard shardId-000000000000 in stream bad under account 000000000000 has already been merged or split, and thus is not eligible for merging or splitting."
    );

    let (code, message) = aws_error(
        c.update_shard_count()
            .stream_name("bad")
            .target_shard_count(9)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await,
    );
    assert_eq!(code, "LimitExceededException");
    assert_eq!(
        message,
        "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 4, Target shard count: 9"
    );
    let (code, message) = aws_error(
        c.update_shard_count()
            .stream_name("bad")
            .target_shard_count(1)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await,
    );
    assert_eq!(code, "LimitExceededException");
    assert_eq!(
        message,
        "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: 4, Target shard count: 1"
    );

    let (code, message) = aws_error(
        split(
            "shardId-000000000001",
            "340282366920938463463374607431768211456".into(),
        )
        .await,
    );
    assert_eq!(code, "InvalidArgumentException", "{message}");
}

#[tokio::test]
async fn a_stream_being_resharded_is_updating_and_refuses_another_change() {
    let dir = tempfile::tempdir().unwrap();
    let riffle = Riffle::start_in(dir.path(), &["--create-delay-ms", "0"]);
    riffle.create_stream("busy", 2).await;
    drop(riffle);
    let riffle = Riffle::start_in(dir.path(), &["--create-delay-ms", "2000"]);
    riffle
        .client
        .merge_shards()
        .stream_name("busy")
        .shard_to_merge("shardId-000000000000")
        .adjacent_shard_to_merge("shardId-000000000001")
        .send()
        .await
        .unwrap();
    let summary = riffle
        .client
        .describe_stream_summary()
        .stream_name("busy")
        .send()
        .await
        .unwrap();
    assert_eq!(
        summary
            .stream_description_summary()
            .unwrap()
            .stream_status()
            .as_str(),
        "UPDATING"
    );
    let (code, message) = aws_error(
        riffle
            .client
            .update_shard_count()
            .stream_name("busy")
            .target_shard_count(2)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await,
    );
    assert_eq!(code, "ResourceInUseException");
    assert_eq!(
        message,
        "Stream busy under account 000000000000 not ACTIVE, instead in state UPDATING"
    );
    // Writes still work while UPDATING, as on AWS.
    put(&riffle, "busy", 7, "still writable").await;
}

#[tokio::test]
async fn update_shard_count_is_limited_to_ten_calls_a_day_unless_lifted() {
    for lifted in [false, true] {
        let temp = tempfile::tempdir().unwrap();
        let extra: &[&str] = if lifted { &["--no-daily-quotas"] } else { &[] };
        let riffle = Riffle::start_in(temp.path(), extra);
        riffle.create_stream("daily", 1).await;
        let update = |target: i32| {
            riffle
                .client
                .update_shard_count()
                .stream_name("daily")
                .target_shard_count(target)
                .scaling_type(ScalingType::UniformScaling)
                .send()
        };
        for call in 0..10 {
            update(if call % 2 == 0 { 2 } else { 1 }).await.unwrap();
        }
        if lifted {
            update(2).await.expect("--no-daily-quotas lifts the quota");
        } else {
            let (code, message) = aws_error(update(2).await);
            assert_eq!(code, "LimitExceededException");
            assert!(
                message.contains(
                    "has already been scaled 10 times with UpdateShardCount in the last 24 hours"
                ),
                "{message}"
            );
        }
    }
}
