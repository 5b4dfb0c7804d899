//! The engine in-process, on a temporary directory, with a clock the test
//! moves: iterator expiry, retention and time-based positions.

use riffle_engine::ops::create_stream::CreateStream;
use riffle_engine::ops::get_shard_iterator::IteratorStart;
use riffle_engine::ops::put_records::PutEntry;
use riffle_engine::{Clock, Engine, EngineConfig, EngineError, StreamRef};
use riffle_model::{Millis, StreamName};
use riffle_store::Durability;

const START: Millis = Millis(1_795_000_000_000);

fn engine(dir: &std::path::Path, clock: &Clock) -> Engine {
    let config = EngineConfig {
        create_delay_ms: 0,
        delete_delay_ms: 0,
        ..EngineConfig::default()
    };
    Engine::open_local(dir, config, Durability::Sync, clock.clone()).unwrap()
}

/// The same as [`engine`], for tests whose locals shadow that name.
fn engine_on(dir: &std::path::Path, clock: &Clock) -> Engine {
    engine(dir, clock)
}

fn stream(name: &str) -> StreamRef {
    StreamRef::Name(StreamName::parse(name).unwrap())
}

async fn setup(name: &str, shards: u32) -> (tempfile::TempDir, Clock, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    let engine = engine(dir.path(), &clock);
    let name = StreamName::parse(name).unwrap();
    engine
        .create_stream(CreateStream::new(name, shards))
        .unwrap();
    (dir, clock, engine)
}

async fn put(engine: &Engine, name: &str, data: &str) {
    let entry = PutEntry {
        partition_key: Some("k"),
        explicit_hash_key: None,
        data: data.as_bytes(),
    };
    engine.put_record(&stream(name), entry).await.unwrap();
}

#[tokio::test]
async fn iterators_expire_after_five_minutes() {
    let (_dir, clock, engine) = setup("exp", 1).await;
    let iterator = engine
        .get_shard_iterator(
            &stream("exp"),
            "shardId-000000000000",
            IteratorStart::TrimHorizon,
        )
        .unwrap();
    clock.advance(300_000);
    let fresh = engine
        .get_records(&iterator, 10)
        .expect("valid for exactly five minutes");
    clock.advance(1);
    match engine.get_records(&iterator, 10) {
        Err(EngineError::ExpiredIterator { issued_at, now }) => {
            assert_eq!(issued_at, START);
            assert_eq!(now, Millis(START.0 + 300_001));
        }
        other => panic!("expected ExpiredIterator, got {other:?}"),
    }
    // The NextShardIterator is a fresh one.
    assert!(
        engine
            .get_records(fresh.next_iterator.as_deref().unwrap(), 10)
            .is_ok()
    );
}

#[tokio::test]
async fn at_timestamp_finds_the_first_record_at_or_after_the_time_and_rejects_the_future() {
    let (_dir, clock, engine) = setup("ts", 1).await;
    for label in ["a", "b", "c"] {
        put(&engine, "ts", label).await;
        clock.advance(1000);
    }
    let at = |ms: u64| {
        engine.get_shard_iterator(
            &stream("ts"),
            "shardId-000000000000",
            IteratorStart::AtTimestamp(Millis(START.0 + ms)),
        )
    };
    let read = |it: String| {
        engine
            .get_records(&it, 10)
            .unwrap()
            .records
            .iter()
            .map(|r| String::from_utf8(r.data.to_vec()).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(read(at(0).unwrap()), ["a", "b", "c"]);
    assert_eq!(read(at(1).unwrap()), ["b", "c"]);
    assert_eq!(read(at(2000).unwrap()), ["c"]);
    assert!(read(at(2001).unwrap()).is_empty());
    match at(10_000) {
        Err(EngineError::InvalidArgument(message)) => assert_eq!(
            message,
            format!(
                "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {}, currentTimestampInMillis: {}",
                START.0 + 10_000,
                START.0 + 3000
            )
        ),
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[tokio::test]
async fn records_past_retention_are_not_returned() {
    let (_dir, clock, engine) = setup("ret", 1).await;
    put(&engine, "ret", "old").await;
    clock.advance(23 * 3_600_000);
    put(&engine, "ret", "new").await;
    let trim = || {
        engine
            .get_shard_iterator(
                &stream("ret"),
                "shardId-000000000000",
                IteratorStart::TrimHorizon,
            )
            .unwrap()
    };
    assert_eq!(engine.get_records(&trim(), 10).unwrap().records.len(), 2);
    clock.advance(3_600_001);
    let records = engine.get_records(&trim(), 10).unwrap().records;
    assert_eq!(records.len(), 1, "the 24-hour-old record expired");
    assert_eq!(&records[0].data[..], b"new");
    engine.enforce_retention();
    assert_eq!(engine.get_records(&trim(), 10).unwrap().records.len(), 1);
}

#[tokio::test]
async fn millis_behind_latest_measures_from_the_last_returned_record() {
    let (_dir, clock, engine) = setup("behind", 1).await;
    put(&engine, "behind", "1").await;
    clock.advance(5000);
    put(&engine, "behind", "2").await;
    clock.advance(1000);
    let it = engine
        .get_shard_iterator(
            &stream("behind"),
            "shardId-000000000000",
            IteratorStart::TrimHorizon,
        )
        .unwrap();
    let first = engine.get_records(&it, 1).unwrap();
    assert_eq!(first.millis_behind_latest, 6000);
    let second = engine
        .get_records(first.next_iterator.as_deref().unwrap(), 1)
        .unwrap();
    assert_eq!(second.millis_behind_latest, 0, "caught up");
}

#[test]
fn a_stream_being_deleted_when_the_server_stopped_is_gone_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    let config = EngineConfig {
        create_delay_ms: 0,
        delete_delay_ms: 60_000,
        ..EngineConfig::default()
    };
    // Dropping the runtime stands in for the process stopping mid-deletion:
    // the pending deletion task dies with it.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let engine =
            Engine::open_local(dir.path(), config.clone(), Durability::Sync, clock.clone())
                .unwrap();
        let name = StreamName::parse("doomed").unwrap();
        engine.create_stream(CreateStream::new(name, 2)).unwrap();
        engine.delete_stream(&stream("doomed"), false).unwrap();
        assert_eq!(
            engine
                .describe_stream_summary(&stream("doomed"))
                .unwrap()
                .status,
            riffle_engine::StreamStatus::Deleting
        );
    });
    drop(runtime);
    let engine = Engine::open_local(dir.path(), config, Durability::Sync, clock).unwrap();
    assert!(matches!(
        engine.describe_stream_summary(&stream("doomed")),
        Err(EngineError::StreamNotFound { .. })
    ));
}

/// A log store whose one shard refuses every append, to show that
/// PutRecords reports failures per record and still stores the rest.
mod failing {
    use std::path::PathBuf;
    use std::sync::Arc;

    use riffle_model::Millis;
    use riffle_store::local::LocalLogStore;
    use riffle_store::{
        Appended, LogBounds, LogStore, NewRecord, Record, ShardKey, ShardLog, StoreError,
    };

    #[derive(Debug)]
    pub(super) struct FailingShard(pub(super) Arc<dyn ShardLog>);

    impl ShardLog for FailingShard {
        fn append(&self, _: &[NewRecord<'_>], _: Millis) -> Result<Appended, StoreError> {
            Err(StoreError::Poisoned {
                path: PathBuf::from("test"),
            })
        }
        fn read(
            &self,
            from: u64,
            max_records: usize,
            max_bytes: usize,
            not_before: Millis,
        ) -> Result<Vec<Record>, StoreError> {
            self.0.read(from, max_records, max_bytes, not_before)
        }
        fn offset_at_time(&self, at: Millis) -> Result<u64, StoreError> {
            self.0.offset_at_time(at)
        }
        fn bounds(&self) -> LogBounds {
            self.0.bounds()
        }
        fn expire_before(&self, cutoff: Millis) -> Result<(), StoreError> {
            self.0.expire_before(cutoff)
        }
        fn next_offset(&self) -> u64 {
            self.0.next_offset()
        }
        fn watch_commits(&self) -> tokio::sync::watch::Receiver<u64> {
            self.0.watch_commits()
        }
        fn sync(&self) -> Result<(), StoreError> {
            self.0.sync()
        }
    }

    #[derive(Debug)]
    pub(super) struct FailingLogs {
        pub(super) inner: LocalLogStore,
        pub(super) failing_shard: u32,
    }

    impl LogStore for FailingLogs {
        fn open_shard(&self, key: ShardKey) -> Result<Arc<dyn ShardLog>, StoreError> {
            let log = self.inner.open_shard(key)?;
            Ok(if key.shard_index == self.failing_shard {
                Arc::new(FailingShard(log))
            } else {
                log
            })
        }
        fn remove_stream(&self, stream_uid: u64) -> Result<(), StoreError> {
            self.inner.remove_stream(stream_uid)
        }
        fn sync_all(&self) -> Result<(), StoreError> {
            self.inner.sync_all()
        }
        fn remove_shard(&self, key: ShardKey) -> Result<(), StoreError> {
            self.inner.remove_shard(key)
        }
    }
}

#[tokio::test]
async fn put_records_reports_failures_per_record_and_keeps_the_rest() {
    use riffle_engine::ops::put_records::RecordFailure;
    use riffle_model::HashKey;
    use riffle_store::local::{LocalConfig, LocalLogStore, RedbMetadataStore};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let meta = Arc::new(RedbMetadataStore::open(dir.path()).unwrap());
    let inner = LocalLogStore::open(dir.path(), LocalConfig::default()).unwrap();
    let logs = Arc::new(failing::FailingLogs {
        inner,
        failing_shard: 1,
    });
    let config = EngineConfig {
        create_delay_ms: 0,
        ..EngineConfig::default()
    };
    let engine = Engine::open(config, Clock::manual(START), meta, logs).unwrap();
    let name = StreamName::parse("partial").unwrap();
    engine.create_stream(CreateStream::new(name, 2)).unwrap();

    let entries: Vec<_> = [0u128, u128::MAX, 1, u128::MAX - 1]
        .iter()
        .map(|&key| PutEntry {
            partition_key: Some("k"),
            explicit_hash_key: Some(HashKey(key)),
            data: b"d",
        })
        .collect();
    let outcomes = engine
        .put_records(&stream("partial"), &entries)
        .await
        .unwrap();
    let failed: Vec<bool> = outcomes
        .iter()
        .map(|o| matches!(o, Err(RecordFailure::Internal(_))))
        .collect();
    assert_eq!(
        failed,
        [false, true, false, true],
        "records routed to the failing shard fail, the others succeed"
    );
    let it = engine
        .get_shard_iterator(
            &stream("partial"),
            "shardId-000000000000",
            IteratorStart::TrimHorizon,
        )
        .unwrap();
    assert_eq!(engine.get_records(&it, 10).unwrap().records.len(), 2);
    // PutRecord turns the per-record failure into the call's error.
    let single = PutEntry {
        partition_key: Some("k"),
        explicit_hash_key: Some(HashKey(u128::MAX)),
        data: b"d",
    };
    assert!(matches!(
        engine.put_record(&stream("partial"), single).await,
        Err(EngineError::Store(_))
    ));
}

mod limits {
    use super::*;
    use riffle_engine::ops::put_records::RecordFailure;

    async fn limited(default: bool, tag: Option<&str>) -> (tempfile::TempDir, Clock, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(START);
        let config = EngineConfig {
            create_delay_ms: 0,
            enforce_limits: default,
            ..EngineConfig::default()
        };
        let engine =
            Engine::open_local(dir.path(), config, Durability::None, clock.clone()).unwrap();
        let mut create = CreateStream::new(StreamName::parse("hot").unwrap(), 1);
        if let Some(value) = tag {
            create.tags = vec![("riffle.enforce-limits".to_owned(), value.to_owned())];
        }
        engine.create_stream(create).unwrap();
        (dir, clock, engine)
    }

    fn entries(n: usize, data: &[u8]) -> Vec<PutEntry<'_>> {
        (0..n)
            .map(|_| PutEntry {
                partition_key: Some("k"),
                explicit_hash_key: None,
                data,
            })
            .collect()
    }

    #[tokio::test]
    async fn writes_past_a_thousand_records_a_second_fail_per_record_until_the_next_second() {
        let (_dir, clock, engine) = limited(false, Some("true")).await;
        let outcomes = engine
            .put_records(&stream("hot"), &entries(500, b"x"))
            .await
            .unwrap();
        assert!(outcomes.iter().all(Result::is_ok));
        let outcomes = engine
            .put_records(&stream("hot"), &entries(500, b"x"))
            .await
            .unwrap();
        assert!(outcomes.iter().all(Result::is_ok));
        let outcomes = engine
            .put_records(&stream("hot"), &entries(10, b"x"))
            .await
            .unwrap();
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Err(RecordFailure::Throttled { .. }))),
            "the 1001st record in a second is throttled"
        );
        let single = PutEntry {
            partition_key: Some("k"),
            explicit_hash_key: None,
            data: b"x",
        };
        assert!(matches!(
            engine.put_record(&stream("hot"), single).await,
            Err(EngineError::Throttled { .. })
        ));
        clock.advance(1000);
        assert!(
            engine.put_record(&stream("hot"), single).await.is_ok(),
            "the limit lifts a second later"
        );
    }

    #[tokio::test]
    async fn writes_past_one_mib_a_second_are_throttled() {
        let (_dir, clock, engine) = limited(true, None).await;
        let big = vec![0u8; 600 * 1024];
        let first = PutEntry {
            partition_key: Some("k"),
            explicit_hash_key: None,
            data: &big,
        };
        assert!(engine.put_record(&stream("hot"), first).await.is_ok());
        assert!(matches!(
            engine.put_record(&stream("hot"), first).await,
            Err(EngineError::Throttled { .. })
        ));
        clock.advance(600);
        assert!(engine.put_record(&stream("hot"), first).await.is_ok());
    }

    #[tokio::test]
    async fn reads_past_five_calls_a_second_are_throttled() {
        let (_dir, clock, engine) = limited(true, None).await;
        let iterator = engine
            .get_shard_iterator(
                &stream("hot"),
                "shardId-000000000000",
                IteratorStart::TrimHorizon,
            )
            .unwrap();
        for _ in 0..5 {
            engine.get_records(&iterator, 10).unwrap();
        }
        assert!(matches!(
            engine.get_records(&iterator, 10),
            Err(EngineError::Throttled { .. })
        ));
        clock.advance(200);
        assert!(
            engine.get_records(&iterator, 10).is_ok(),
            "one call's worth refills in 200 ms"
        );
    }

    #[tokio::test]
    async fn a_stream_tag_overrides_the_server_default() {
        let (_dir, _clock, engine) = limited(true, Some("false")).await;
        let outcomes = engine
            .put_records(&stream("hot"), &entries(500, b"x"))
            .await
            .unwrap();
        let more = engine
            .put_records(&stream("hot"), &entries(500, b"x"))
            .await
            .unwrap();
        let again = engine
            .put_records(&stream("hot"), &entries(500, b"x"))
            .await
            .unwrap();
        assert!(
            outcomes
                .iter()
                .chain(&more)
                .chain(&again)
                .all(Result::is_ok),
            "limits off for this stream"
        );

        let (_dir, _clock, engine) = limited(false, None).await;
        for _ in 0..4 {
            let outcomes = engine
                .put_records(&stream("hot"), &entries(500, b"x"))
                .await
                .unwrap();
            assert!(outcomes.iter().all(Result::is_ok), "no limits unless asked");
        }
    }
}

mod on_demand {
    use super::*;

    async fn on_demand(shards: u32) -> (tempfile::TempDir, Clock, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(START);
        let config = EngineConfig {
            create_delay_ms: 0,
            ..EngineConfig::default()
        };
        let engine =
            Engine::open_local(dir.path(), config, Durability::None, clock.clone()).unwrap();
        let mut create = CreateStream::new(StreamName::parse("od").unwrap(), shards);
        create.on_demand = true;
        engine.create_stream(create).unwrap();
        (dir, clock, engine)
    }

    fn open_count(engine: &Engine) -> usize {
        engine
            .describe_stream_summary(&stream("od"))
            .unwrap()
            .open_shard_count
    }

    #[tokio::test]
    async fn a_hot_shard_splits_and_cold_neighbours_merge_back() {
        let (_dir, clock, engine) = on_demand(1).await;
        let chunk = vec![7u8; 900 * 1024];
        for _ in 0..10 {
            let entry = PutEntry {
                partition_key: Some("k"),
                explicit_hash_key: None,
                data: &chunk,
            };
            engine.put_record(&stream("od"), entry).await.unwrap();
            clock.advance(1000);
        }
        assert_eq!(engine.autoscale(), 1);
        assert_eq!(
            open_count(&engine),
            2,
            "900 KB/s sustained on a 1 MiB/s shard splits it"
        );
        assert_eq!(engine.autoscale(), 0, "the children are not hot");
        clock.advance(5_000);
        assert_eq!(
            engine.autoscale(),
            0,
            "new shards are not merged before a full window of history"
        );
        clock.advance(10_000);
        assert_eq!(engine.autoscale(), 1);
        assert_eq!(open_count(&engine), 1, "idle neighbours merge");
        // Every record is still readable through the lineage.
        let it = engine
            .get_shard_iterator(
                &stream("od"),
                "shardId-000000000000",
                IteratorStart::TrimHorizon,
            )
            .unwrap();
        assert_eq!(engine.get_records(&it, 100).unwrap().records.len(), 10);
    }

    #[tokio::test]
    async fn warm_throughput_provisions_shards_ahead_of_traffic() {
        let (_dir, _clock, engine) = on_demand(2).await;
        engine.update_warm_throughput(&stream("od"), 8).unwrap();
        engine.autoscale();
        assert_eq!(open_count(&engine), 4, "at most doubling per step");
        engine.autoscale();
        assert_eq!(open_count(&engine), 8);
        assert_eq!(
            engine.autoscale(),
            0,
            "idle shards are not merged below the warm throughput"
        );
    }

    #[tokio::test]
    async fn provisioned_streams_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(START);
        let config = EngineConfig {
            create_delay_ms: 0,
            ..EngineConfig::default()
        };
        let engine =
            Engine::open_local(dir.path(), config, Durability::None, clock.clone()).unwrap();
        engine
            .create_stream(CreateStream::new(StreamName::parse("od").unwrap(), 1))
            .unwrap();
        let chunk = vec![7u8; 900 * 1024];
        for _ in 0..10 {
            let entry = PutEntry {
                partition_key: Some("k"),
                explicit_hash_key: None,
                data: &chunk,
            };
            engine.put_record(&stream("od"), entry).await.unwrap();
            clock.advance(1000);
        }
        assert_eq!(engine.autoscale(), 0);
        assert_eq!(open_count(&engine), 1);
    }
}

#[tokio::test]
async fn closed_shards_disappear_after_retention_and_their_logs_are_deleted() {
    use riffle_engine::ops::list_shards::ListShardsFrom;
    let (dir, clock, engine) = setup("aging", 1).await;
    put(&engine, "aging", "old").await;
    engine
        .split_shard(&stream("aging"), "shardId-000000000000", 1u128 << 127)
        .unwrap();
    let listed = |engine: &Engine| {
        engine
            .list_shards(
                ListShardsFrom::Stream {
                    stream: stream("aging"),
                    exclusive_start: None,
                    filter: None,
                },
                100,
            )
            .unwrap()
            .shards
            .len()
    };
    assert_eq!(listed(&engine), 3);
    let logs_dir = dir.path().join("logs");
    let shard_dirs = || walk_shard_dirs(&logs_dir);
    assert_eq!(shard_dirs(), 3);

    clock.advance(24 * 3_600_000 + 1);
    engine.enforce_retention();
    assert_eq!(listed(&engine), 2, "the parent is gone from listings");
    assert!(matches!(
        engine.get_shard_iterator(
            &stream("aging"),
            "shardId-000000000000",
            IteratorStart::TrimHorizon
        ),
        Err(EngineError::ShardNotFound { .. })
    ));
    assert_eq!(shard_dirs(), 2, "its log was deleted");

    // Raising retention afterwards does not bring back what was deleted.
    use riffle_engine::ops::retention::RetentionChange;
    engine
        .change_retention(&stream("aging"), RetentionChange::Increase, 72)
        .unwrap();
    assert_eq!(listed(&engine), 2, "the deleted parent stays gone");
    assert!(
        engine
            .get_shard_iterator(
                &stream("aging"),
                "shardId-000000000000",
                IteratorStart::TrimHorizon
            )
            .is_err()
    );
    // Nor does a restart.
    drop(engine);
    let engine = engine_on(dir.path(), &clock);
    assert_eq!(listed(&engine), 2, "after a restart too");
}

fn walk_shard_dirs(logs: &std::path::Path) -> usize {
    std::fs::read_dir(logs)
        .unwrap()
        .map(|stream| std::fs::read_dir(stream.unwrap().path()).unwrap().count())
        .sum()
}

mod fan_out {
    use super::*;
    use riffle_engine::ops::subscribe::HEARTBEAT;

    #[tokio::test(start_paused = true)]
    async fn an_idle_subscription_gets_heartbeats_and_a_slow_one_never_blocks_writers() {
        let (_dir, _clock, engine) = setup("fan", 1).await;
        let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/fan";
        let consumer = engine
            .register_consumer(
                &StreamRef::Arn(riffle_model::StreamArn::parse(arn).unwrap()),
                "slow",
            )
            .unwrap();
        let mut subscription = engine
            .subscribe_to_shard(&consumer.arn, "shardId-000000000000", IteratorStart::Latest)
            .unwrap();
        // Idle: the (paused) clock jumps to the heartbeat and an empty event arrives.
        let event = tokio::time::timeout(HEARTBEAT * 2, subscription.next_event())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(event.records.is_empty());
        // Never polled while thousands of records are written: writers do not wait for it.
        for i in 0..2_000 {
            put(&engine, "fan", &format!("r{i}")).await;
        }
        let mut received = 0;
        while received < 2_000 {
            let event = subscription.next_event().await.unwrap().unwrap();
            for (k, record) in event.records.iter().enumerate() {
                assert_eq!(
                    &record.data[..],
                    format!("r{}", received + k).as_bytes(),
                    "in order, once each"
                );
            }
            received += event.records.len();
        }
        assert_eq!(received, 2_000);
    }
}
