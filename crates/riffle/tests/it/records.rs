//! The data plane: PutRecord(s), GetShardIterator, GetRecords.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};

use crate::support::Riffle;

fn entry(key: &str, data: &str) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(key)
        .data(Blob::new(data.as_bytes()))
        .build()
        .unwrap()
}

async fn iterator(
    riffle: &Riffle,
    stream: &str,
    shard: &str,
    kind: ShardIteratorType,
    sequence: Option<&str>,
) -> String {
    riffle
        .client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .set_starting_sequence_number(sequence.map(str::to_owned))
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap()
}

#[tokio::test]
async fn put_record_round_trips_with_56_digit_increasing_sequence_numbers() {
    let riffle = Riffle::start();
    riffle.create_stream("rt", 1).await;
    let mut sequences = Vec::new();
    for i in 0..5 {
        let put = riffle
            .client
            .put_record()
            .stream_name("rt")
            .partition_key("k")
            .data(Blob::new(format!("v{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(put.shard_id(), "shardId-000000000000");
        assert_eq!(put.sequence_number().len(), 56);
        sequences.push(put.sequence_number().to_owned());
    }
    assert!(
        sequences.windows(2).all(|w| w[0] < w[1]),
        "strictly increasing: {sequences:?}"
    );
    let records = riffle.read_all("rt", "shardId-000000000000").await;
    let data: Vec<_> = records
        .iter()
        .map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap())
        .collect();
    assert_eq!(data, ["v0", "v1", "v2", "v3", "v4"]);
    let read_sequences: Vec<_> = records
        .iter()
        .map(|r| r.sequence_number().to_owned())
        .collect();
    assert_eq!(read_sequences, sequences);
    assert!(
        records
            .iter()
            .all(|r| r.partition_key() == "k" && r.approximate_arrival_timestamp().is_some())
    );
}

#[tokio::test]
async fn records_keep_their_order_per_partition_key_across_shards() {
    let riffle = Riffle::start();
    riffle.create_stream("order", 4).await;
    let keys: Vec<String> = (0..16).map(|k| format!("key-{k}")).collect();
    // Interleave keys within each PutRecords call, over several calls.
    let mut shard_of_key = HashMap::new();
    for round in 0..10 {
        let entries: Vec<_> = keys
            .iter()
            .map(|k| entry(k, &format!("{k}:{round}")))
            .collect();
        let out = riffle
            .client
            .put_records()
            .stream_name("order")
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_record_count(), Some(0));
        for (key, result) in keys.iter().zip(out.records()) {
            let shard = result.shard_id().unwrap().to_owned();
            let previous = shard_of_key.insert(key.clone(), shard.clone());
            assert!(
                previous.is_none_or(|p| p == shard),
                "a key always routes to one shard"
            );
        }
    }
    let mut used_shards = 0;
    for shard in riffle.shard_ids("order").await {
        let records = riffle.read_all("order", &shard).await;
        used_shards += usize::from(!records.is_empty());
        let mut next_round: HashMap<String, u32> = HashMap::new();
        for record in &records {
            let text = String::from_utf8(record.data().as_ref().to_vec()).unwrap();
            let (key, round) = text.split_once(':').unwrap();
            assert_eq!(record.partition_key(), key);
            assert_eq!(shard_of_key[key], shard);
            let expected = next_round.entry(key.to_owned()).or_default();
            assert_eq!(
                round.parse::<u32>().unwrap(),
                *expected,
                "records of {key} arrive in order"
            );
            *expected += 1;
        }
        assert!(
            records
                .windows(2)
                .all(|w| w[0].sequence_number() < w[1].sequence_number())
        );
    }
    assert!(
        used_shards >= 3,
        "16 keys spread over the 4 shards (used {used_shards})"
    );
    let total: usize = {
        let mut n = 0;
        for shard in riffle.shard_ids("order").await {
            n += riffle.read_all("order", &shard).await.len();
        }
        n
    };
    assert_eq!(total, 160);
}

#[tokio::test]
async fn explicit_hash_keys_override_partition_keys() {
    let riffle = Riffle::start();
    riffle.create_stream("ehk", 2).await;
    let low = riffle
        .client
        .put_record()
        .stream_name("ehk")
        .partition_key("same")
        .explicit_hash_key("0")
        .data(Blob::new("a"))
        .send()
        .await
        .unwrap();
    let high = riffle
        .client
        .put_record()
        .stream_name("ehk")
        .partition_key("same")
        .explicit_hash_key("340282366920938463463374607431768211455")
        .data(Blob::new("b"))
        .send()
        .await
        .unwrap();
    assert_eq!(low.shard_id(), "shardId-000000000000");
    assert_eq!(high.shard_id(), "shardId-000000000001");
}

#[tokio::test]
async fn iterator_types_start_where_aws_says() {
    let riffle = Riffle::start();
    riffle.create_stream("its", 1).await;
    let shard = "shardId-000000000000";
    let mut sequences = Vec::new();
    for i in 0..3 {
        let put = riffle
            .client
            .put_record()
            .stream_name("its")
            .partition_key("k")
            .data(Blob::new(format!("r{i}")))
            .send()
            .await
            .unwrap();
        sequences.push(put.sequence_number().to_owned());
    }
    let data = |out: &aws_sdk_kinesis::operation::get_records::GetRecordsOutput| -> Vec<String> {
        out.records()
            .iter()
            .map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap())
            .collect()
    };
    let at = iterator(
        &riffle,
        "its",
        shard,
        ShardIteratorType::AtSequenceNumber,
        Some(&sequences[1]),
    )
    .await;
    assert_eq!(
        data(
            &riffle
                .client
                .get_records()
                .shard_iterator(at)
                .send()
                .await
                .unwrap()
        ),
        ["r1", "r2"]
    );
    let after = iterator(
        &riffle,
        "its",
        shard,
        ShardIteratorType::AfterSequenceNumber,
        Some(&sequences[1]),
    )
    .await;
    assert_eq!(
        data(
            &riffle
                .client
                .get_records()
                .shard_iterator(after)
                .send()
                .await
                .unwrap()
        ),
        ["r2"]
    );

    let latest = iterator(&riffle, "its", shard, ShardIteratorType::Latest, None).await;
    let empty = riffle
        .client
        .get_records()
        .shard_iterator(&latest)
        .send()
        .await
        .unwrap();
    assert!(empty.records().is_empty());
    assert_eq!(empty.millis_behind_latest(), Some(0));
    riffle
        .client
        .put_record()
        .stream_name("its")
        .partition_key("k")
        .data(Blob::new("r3"))
        .send()
        .await
        .unwrap();
    let next = empty.next_shard_iterator().unwrap();
    assert_eq!(
        data(
            &riffle
                .client
                .get_records()
                .shard_iterator(next)
                .send()
                .await
                .unwrap()
        ),
        ["r3"]
    );

    // AT_TIMESTAMP: records that arrived at or after the time.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let cut = DateTime::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    tokio::time::sleep(Duration::from_millis(30)).await;
    riffle
        .client
        .put_record()
        .stream_name("its")
        .partition_key("k")
        .data(Blob::new("r4"))
        .send()
        .await
        .unwrap();
    let by_time = riffle
        .client
        .get_shard_iterator()
        .stream_name("its")
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(cut)
        .send()
        .await
        .unwrap();
    let out = riffle
        .client
        .get_records()
        .shard_iterator(by_time.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(data(&out), ["r4"]);
}

#[tokio::test]
async fn get_records_honours_limit_and_reports_millis_behind() {
    let riffle = Riffle::start();
    riffle.create_stream("limit", 1).await;
    let entries: Vec<_> = (0..25).map(|i| entry("k", &format!("{i}"))).collect();
    riffle
        .client
        .put_records()
        .stream_name("limit")
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let it = iterator(
        &riffle,
        "limit",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let first = riffle
        .client
        .get_records()
        .shard_iterator(it)
        .limit(10)
        .send()
        .await
        .unwrap();
    assert_eq!(first.records().len(), 10);
    assert!(
        first.millis_behind_latest().unwrap() >= 50,
        "behind by at least the 50 ms slept"
    );
    let second = riffle
        .client
        .get_records()
        .shard_iterator(first.next_shard_iterator().unwrap())
        .limit(100)
        .send()
        .await
        .unwrap();
    assert_eq!(second.records().len(), 15);
    assert_eq!(second.millis_behind_latest(), Some(0));
    assert_eq!(
        String::from_utf8(second.records()[0].data().as_ref().to_vec()).unwrap(),
        "10"
    );
}

#[tokio::test]
async fn large_records_up_to_one_mib_round_trip() {
    let riffle = Riffle::start();
    riffle.create_stream("big", 1).await;
    let payload: Vec<u8> = (0..1024 * 1024 - 1).map(|i| (i % 251) as u8).collect();
    riffle
        .client
        .put_record()
        .stream_name("big")
        .partition_key("k")
        .data(Blob::new(payload.clone()))
        .send()
        .await
        .unwrap();
    let records = riffle.read_all("big", "shardId-000000000000").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].data().as_ref(), payload.as_slice());
}

#[tokio::test]
async fn records_iterators_and_sequence_numbers_survive_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut riffle = Riffle::start_in(dir.path(), &[]);
    riffle.create_stream("durable", 2).await;
    let entries: Vec<_> = (0..20)
        .map(|i| entry(&format!("k{i}"), &format!("d{i}")))
        .collect();
    let put = riffle
        .client
        .put_records()
        .stream_name("durable")
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    let before: HashMap<String, String> = put
        .records()
        .iter()
        .enumerate()
        .map(|(i, r)| (r.sequence_number().unwrap().to_owned(), format!("d{i}")))
        .collect();
    let shard_of: HashMap<String, String> = put
        .records()
        .iter()
        .map(|r| {
            (
                r.sequence_number().unwrap().to_owned(),
                r.shard_id().unwrap().to_owned(),
            )
        })
        .collect();
    let old_iterator = iterator(
        &riffle,
        "durable",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    assert!(riffle.terminate(), "clean shutdown exits 0");

    let riffle = Riffle::start_in(dir.path(), &[]);
    let mut after = HashMap::new();
    for shard in riffle.shard_ids("durable").await {
        for record in riffle.read_all("durable", &shard).await {
            after.insert(
                record.sequence_number().to_owned(),
                String::from_utf8(record.data().as_ref().to_vec()).unwrap(),
            );
        }
    }
    assert_eq!(after, before);
    // An iterator issued before the restart still reads.
    let out = riffle
        .client
        .get_records()
        .shard_iterator(old_iterator)
        .send()
        .await
        .unwrap();
    assert!(!out.records().is_empty());
    // New records continue after the old ones.
    let next = riffle
        .client
        .put_record()
        .stream_name("durable")
        .partition_key("k0")
        .data(Blob::new("new"))
        .send()
        .await
        .unwrap();
    let same_shard: Vec<_> = before
        .keys()
        .filter(|s| shard_of[*s] == next.shard_id())
        .collect();
    assert!(!same_shard.is_empty());
    assert!(
        same_shard
            .iter()
            .all(|s| s.as_str() < next.sequence_number())
    );
}
