//! The engine in-process, on a temporary directory, with a clock the test
//! moves: iterator expiry, retention and time-based positions.

use riffle_engine::ops::create_stream::CreateStream;
use riffle_engine::ops::get_shard_iterator::IteratorStart;
use riffle_engine::ops::put_records::PutEntry;
use riffle_engine::{Clock, Engine, EngineConfig, EngineError, StreamRef, StreamStatus};
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

/// An engine with `config` (and no CREATING delay) on a fresh directory,
/// without fsync, holding the stream `create`.
fn open_with(config: EngineConfig, create: CreateStream) -> (tempfile::TempDir, Clock, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    let config = EngineConfig {
        create_delay_ms: 0,
        ..config
    };
    let engine = Engine::open_local(dir.path(), config, Durability::None, clock.clone()).unwrap();
    engine.create_stream(create).unwrap();
    (dir, clock, engine)
}

/// The stream's open shard count, as DescribeStreamSummary gives it.
fn open_shards(engine: &Engine, name: &str) -> usize {
    engine
        .describe_stream_summary(&stream(name))
        .unwrap()
        .open_shard_count
}

fn create(name: &str, shards: u32) -> CreateStream {
    CreateStream::new(StreamName::parse(name).unwrap(), shards)
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
            StreamStatus::Deleting
        );
    });
    drop(runtime);
    let engine = Engine::open_local(dir.path(), config, Durability::Sync, clock).unwrap();
    assert!(matches!(
        engine.describe_stream_summary(&stream("doomed")),
        Err(EngineError::StreamNotFound { .. })
    ));
    assert_eq!(
        std::fs::read_dir(dir.path().join("logs")).unwrap().count(),
        0,
        "and its logs are gone"
    );
}

/// A log store with faults: a shard that refuses every append (PutRecords
/// reports failures per record and still stores the rest), and a shard
/// whose log cannot be opened.
mod failing {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use parking_lot::{Condvar, Mutex};

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

    pub(super) const NO_SHARD: u32 = u32::MAX;

    /// While closed, holds every shard-log open, as a slow filesystem would.
    #[derive(Debug, Default)]
    pub(super) struct Gate {
        closed: Mutex<bool>,
        changed: Condvar,
        waiting: AtomicUsize,
    }

    impl Gate {
        pub(super) fn close(&self) {
            *self.closed.lock() = true;
        }

        pub(super) fn open(&self) {
            *self.closed.lock() = false;
            self.changed.notify_all();
        }

        /// Holds the first open to arrive while the gate is closed; later
        /// ones (another operation's, while the first is held) pass.
        fn pass(&self) {
            let mut closed = self.closed.lock();
            if *closed && self.waiting.load(Ordering::SeqCst) == 0 {
                self.waiting.fetch_add(1, Ordering::SeqCst);
                while *closed {
                    self.changed.wait(&mut closed);
                }
                self.waiting.fetch_sub(1, Ordering::SeqCst);
            }
        }

        /// Returns once an open is held at the gate (panics after 10 s).
        pub(super) fn wait_for_an_open(&self) {
            let give_up = Instant::now() + Duration::from_secs(10);
            while self.waiting.load(Ordering::SeqCst) == 0 {
                assert!(Instant::now() < give_up, "no log open reached the gate");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// The local store, with faults: appends to `failing_shard` fail,
    /// opening `refuse_open` fails as a damaged segment would, and an open
    /// waits while `gate` is closed. Records which shard logs it opened.
    #[derive(Debug)]
    pub(super) struct TestLogs {
        pub(super) inner: LocalLogStore,
        pub(super) failing_shard: u32,
        pub(super) refuse_open: AtomicU32,
        pub(super) gate: Gate,
        /// Shard indexes whose logs were opened, in order.
        pub(super) opened: Mutex<Vec<u32>>,
    }

    impl TestLogs {
        pub(super) fn new(inner: LocalLogStore, failing_shard: u32, refuse_open: u32) -> TestLogs {
            TestLogs {
                inner,
                failing_shard,
                refuse_open: refuse_open.into(),
                gate: Gate::default(),
                opened: Mutex::default(),
            }
        }
    }

    impl LogStore for TestLogs {
        fn open_shard(&self, key: ShardKey) -> Result<Arc<dyn ShardLog>, StoreError> {
            self.gate.pass();
            if key.shard_index == self.refuse_open.load(Ordering::SeqCst) {
                return Err(StoreError::Corrupt {
                    path: PathBuf::from("test"),
                    position: 0,
                    reason: "refused by the test",
                });
            }
            let log = self.inner.open_shard(key)?;
            self.opened.lock().push(key.shard_index);
            Ok(if key.shard_index == self.failing_shard {
                Arc::new(FailingShard(log))
            } else {
                log
            })
        }
        fn has_shard(&self, key: ShardKey) -> bool {
            self.inner.has_shard(key)
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
        fn remove_shards_from(
            &self,
            stream_uid: u64,
            first_index: u32,
        ) -> Result<usize, StoreError> {
            self.inner.remove_shards_from(stream_uid, first_index)
        }
    }
}

/// The engine on `dir` over [`failing::TestLogs`] (appends to
/// `failing_shard` fail, opening `refuse_open`'s log fails), with `config`
/// and no CREATING delay.
fn open_faulty(
    dir: &std::path::Path,
    clock: &Clock,
    config: EngineConfig,
    failing_shard: u32,
    refuse_open: u32,
) -> Result<(Engine, std::sync::Arc<failing::TestLogs>), EngineError> {
    use riffle_store::local::{LocalConfig, LocalLogStore, RedbMetadataStore};
    use std::sync::Arc;
    let logs = Arc::new(failing::TestLogs::new(
        LocalLogStore::open(dir, LocalConfig::default()).unwrap(),
        failing_shard,
        refuse_open,
    ));
    let meta = Arc::new(RedbMetadataStore::open(dir).unwrap());
    let config = EngineConfig {
        create_delay_ms: 0,
        ..config
    };
    let engine = Engine::open(config, clock.clone(), meta, logs.clone())?;
    Ok((engine, logs))
}

/// [`open_faulty`] on an existing `dir`, refusing to open shard
/// `refuse_open`'s log.
fn reopen_refusing(
    dir: &std::path::Path,
    clock: &Clock,
    refuse_open: u32,
) -> Result<(Engine, std::sync::Arc<failing::TestLogs>), EngineError> {
    open_faulty(
        dir,
        clock,
        EngineConfig::default(),
        failing::NO_SHARD,
        refuse_open,
    )
}

/// An engine on [`failing::TestLogs`] without faults, holding `streams`
/// (name, shard count) made before the test closes the gate.
fn gated(
    config: EngineConfig,
    streams: &[(&str, u32)],
) -> (tempfile::TempDir, Engine, std::sync::Arc<failing::TestLogs>) {
    let dir = tempfile::tempdir().unwrap();
    let (engine, logs) = open_faulty(
        dir.path(),
        &Clock::manual(START),
        config,
        failing::NO_SHARD,
        failing::NO_SHARD,
    )
    .unwrap();
    for &(name, shards) in streams {
        engine.create_stream(create(name, shards)).unwrap();
    }
    (dir, engine, logs)
}

/// Runs `slow` while its first shard-log open is held at the gate and, once
/// it is held, `probe` (whose own opens pass): returns what `slow` returned
/// and what `probe` answered within 5 s (`None` if it waited for `slow`).
/// The gate opens before any assertion, so a failing test cannot leave a
/// thread stuck.
fn probe_while_logs_open<T: Send, P: Send>(
    logs: &failing::TestLogs,
    slow: impl FnOnce() -> T + Send,
    probe: impl FnOnce() -> P + Send,
) -> (T, Option<P>) {
    logs.gate.close();
    std::thread::scope(|scope| {
        let slow = scope.spawn(slow);
        logs.gate.wait_for_an_open();
        let (answered, answer) = std::sync::mpsc::channel();
        scope.spawn(move || {
            let _ = answered.send(probe());
        });
        let meanwhile = answer.recv_timeout(std::time::Duration::from_secs(5)).ok();
        logs.gate.open();
        (slow.join().unwrap(), meanwhile)
    })
}

#[test]
fn other_requests_go_on_while_a_stream_creates_its_shard_logs() {
    let (_dir, engine, logs) = gated(EngineConfig::default(), &[("existing", 1)]);
    let (created, meanwhile) = probe_while_logs_open(
        &logs,
        || engine.create_stream(create("big", 3)),
        || engine.describe_stream_summary(&stream("existing")),
    );
    created.unwrap();
    let summary = meanwhile.expect("DescribeStreamSummary waited for CreateStream's files");
    assert_eq!(summary.unwrap().open_shard_count, 1);
    assert_eq!(open_shards(&engine, "big"), 3);
}

#[tokio::test]
async fn a_stream_answers_while_a_reshard_creates_its_childrens_logs() {
    let (_dir, engine, logs) = gated(EngineConfig::default(), &[("wide", 2)]);
    let to_shard_0 = PutEntry {
        partition_key: Some("k"),
        explicit_hash_key: Some(riffle_model::HashKey(0)),
        data: b"before",
    };
    engine
        .put_record(&stream("wide"), to_shard_0)
        .await
        .unwrap();
    let (rescaled, meanwhile) = probe_while_logs_open(
        &logs,
        || engine.update_shard_count(&stream("wide"), 4),
        || {
            engine
                .get_shard_iterator(
                    &stream("wide"),
                    "shardId-000000000000",
                    IteratorStart::TrimHorizon,
                )
                .and_then(|it| engine.get_records(&it, 10))
                .map(|read| read.records.len())
        },
    );
    rescaled.unwrap();
    let read = meanwhile.expect("reading the stream waited for the reshard's files");
    assert_eq!(read.unwrap(), 1);
    let summary = engine.describe_stream_summary(&stream("wide")).unwrap();
    assert_eq!(summary.open_shard_count, 4);
}

#[test]
fn a_split_while_a_stream_creates_its_logs_counts_the_new_streams_shards() {
    let config = EngineConfig {
        account_shard_limit: 4,
        ..EngineConfig::default()
    };
    let (_dir, engine, logs) = gated(config, &[("a", 1)]);
    // The create has passed its limit check (1 + 3) and waits at the gate
    // for its logs, its stream not yet in place; the split must count its
    // shards, and answer at once.
    let (created, meanwhile) = probe_while_logs_open(
        &logs,
        || engine.create_stream(create("big", 3)),
        || engine.split_shard(&stream("a"), "shardId-000000000000", 1u128 << 127),
    );
    created.unwrap();
    let split = meanwhile.expect("the split waited for CreateStream's files");
    assert!(
        matches!(split, Err(EngineError::LimitExceeded(_))),
        "the split must count the new stream's shards: {split:?}"
    );
    assert_eq!(open_shards(&engine, "a"), 1);
}

#[test]
fn reshards_of_other_streams_go_on_while_a_stream_creates_its_logs() {
    let (_dir, engine, logs) = gated(EngineConfig::default(), &[("a", 2)]);
    let (created, meanwhile) = probe_while_logs_open(
        &logs,
        || engine.create_stream(create("big", 3)),
        || {
            engine.split_shard(&stream("a"), "shardId-000000000000", 1u128 << 126)?;
            engine.merge_shards(&stream("a"), "shardId-000000000002", "shardId-000000000003")
        },
    );
    created.unwrap();
    meanwhile
        .expect("the reshards waited for CreateStream's files")
        .unwrap();
    assert_eq!(open_shards(&engine, "a"), 2);
}

#[test]
fn a_name_being_created_is_taken() {
    let (_dir, engine, logs) = gated(EngineConfig::default(), &[]);
    let (created, meanwhile) = probe_while_logs_open(
        &logs,
        || engine.create_stream(create("big", 3)),
        || engine.create_stream(create("big", 1)),
    );
    created.unwrap();
    let second = meanwhile.expect("the second CreateStream waited for the first");
    assert!(
        matches!(second, Err(EngineError::StreamExists { .. })),
        "{second:?}"
    );
    assert_eq!(open_shards(&engine, "big"), 3);
}

/// What a crash leaves between a stream's files and its row: a deletion
/// that removed the row but not yet the files, a create that made the files
/// but had not saved the row. The next start removes those files, and only
/// those: logs that were never marked (the metadata lost, say) are kept.
#[test]
fn marked_logs_no_stream_owns_are_removed_at_startup() {
    use riffle_store::local::{LocalConfig, LocalLogStore, RedbMetadataStore};
    use riffle_store::{LogStore, MetadataStore, ShardKey};
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    let engine = engine(dir.path(), &clock);
    engine.create_stream(create("kept", 1)).unwrap();
    engine.create_stream(create("deleted", 2)).unwrap();
    drop(engine);
    let meta = RedbMetadataStore::open(dir.path()).unwrap();
    assert_eq!(
        meta.marked_logs().unwrap(),
        Vec::<u64>::new(),
        "saved rows own their logs"
    );
    let deleted = meta.load_streams().unwrap();
    let deleted = deleted.iter().find(|s| s.name == "deleted").unwrap();
    meta.delete_stream("deleted", deleted.uid).unwrap();
    meta.mark_logs(0x2a).unwrap();
    drop(meta);
    let logs = LocalLogStore::open(dir.path(), LocalConfig::default()).unwrap();
    for (stream_uid, _why) in [(0x2a, "never saved"), (0x2b, "never marked")] {
        drop(
            logs.open_shard(ShardKey {
                stream_uid,
                shard_index: 0,
            })
            .unwrap(),
        );
    }
    drop(logs);
    let stream_dirs = || std::fs::read_dir(dir.path().join("logs")).unwrap().count();
    assert_eq!(stream_dirs(), 4);
    let engine = engine_on(dir.path(), &clock);
    assert_eq!(
        stream_dirs(),
        2,
        "the kept stream's logs and the unmarked ones"
    );
    assert!(
        dir.path()
            .join("logs")
            .join(format!("{:016x}", 0x2b))
            .exists()
    );
    assert_eq!(open_shards(&engine, "kept"), 1);
    // A deletion that finishes clears its mark.
    engine.create_stream(create("gone", 1)).unwrap();
    engine.delete_stream(&stream("gone"), false).unwrap();
    drop(engine);
    assert_eq!(stream_dirs(), 2);
    let meta = RedbMetadataStore::open(dir.path()).unwrap();
    assert_eq!(
        meta.marked_logs().unwrap(),
        Vec::<u64>::new(),
        "the marks are cleared once removed"
    );
}

/// A crash after a reshard made its children's logs and before the row
/// naming them was saved: the stream's mark is still set, and the next
/// start removes the logs past the row's shards, and only those. A reshard
/// that finishes leaves no mark, and its children are kept.
#[tokio::test]
async fn the_logs_of_a_reshard_interrupted_before_its_row_are_removed_at_startup() {
    use riffle_store::local::{LocalConfig, LocalLogStore, RedbMetadataStore};
    use riffle_store::{LogStore, MetadataStore, ShardKey};
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    let engine = engine(dir.path(), &clock);
    engine.create_stream(create("split", 2)).unwrap();
    engine
        .split_shard(&stream("split"), "shardId-000000000000", 1u128 << 126)
        .unwrap();
    put(&engine, "split", "kept").await;
    engine.shutdown().unwrap();
    drop(engine);
    let shard_dirs = || walk_shard_dirs(&dir.path().join("logs"));
    assert_eq!(shard_dirs(), 4, "two shards and the split's two children");
    let meta = RedbMetadataStore::open(dir.path()).unwrap();
    assert_eq!(
        meta.marked_logs().unwrap(),
        Vec::<u64>::new(),
        "the saved row owns the children"
    );
    // The next split's first steps, then the crash.
    let uid = meta.load_streams().unwrap()[0].uid;
    meta.mark_logs(uid).unwrap();
    drop(meta);
    let logs = LocalLogStore::open(dir.path(), LocalConfig::default()).unwrap();
    for shard_index in [4, 5] {
        drop(
            logs.open_shard(ShardKey {
                stream_uid: uid,
                shard_index,
            })
            .unwrap(),
        );
    }
    drop(logs);
    assert_eq!(shard_dirs(), 6);

    let engine = engine_on(dir.path(), &clock);
    assert_eq!(shard_dirs(), 4, "the unnamed children are gone");
    assert_eq!(open_shards(&engine, "split"), 3);
    // The indexes are free again: the next split's children take them.
    engine
        .split_shard(&stream("split"), "shardId-000000000001", 3u128 << 126)
        .unwrap();
    assert_eq!(open_shards(&engine, "split"), 4);
    engine.shutdown().unwrap();
    drop(engine);
    assert_eq!(shard_dirs(), 6);
    let meta = RedbMetadataStore::open(dir.path()).unwrap();
    assert_eq!(
        meta.marked_logs().unwrap(),
        Vec::<u64>::new(),
        "the mark is settled"
    );
}

#[test]
fn a_reshard_refused_by_the_shard_limit_creates_no_files() {
    let config = EngineConfig {
        account_shard_limit: 2,
        ..EngineConfig::default()
    };
    let (dir, engine, _logs) = gated(config, &[("full", 2)]);
    let shard_dirs = || walk_shard_dirs(&dir.path().join("logs"));
    assert_eq!(shard_dirs(), 2);
    assert!(matches!(
        engine.split_shard(&stream("full"), "shardId-000000000000", 1u128 << 126),
        Err(EngineError::LimitExceeded(_))
    ));
    assert_eq!(
        shard_dirs(),
        2,
        "no child log was made for a refused reshard"
    );
}

#[tokio::test]
async fn a_reshard_that_fails_after_making_its_childrens_logs_removes_them() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    {
        let engine = engine(dir.path(), &clock);
        engine.create_stream(create("parent", 2)).unwrap();
        engine.shutdown().unwrap();
    }
    // After a restart shard 0's log cannot be recovered: the split's
    // preview passes (it leaves parents' logs alone) and makes the
    // children's logs; closing the parent under the write lock fails.
    // The limit leaves room for one more shard.
    let config = EngineConfig {
        account_shard_limit: 3,
        ..EngineConfig::default()
    };
    let (engine, logs) = open_faulty(dir.path(), &clock, config, failing::NO_SHARD, 0).unwrap();
    assert!(matches!(
        engine.split_shard(&stream("parent"), "shardId-000000000000", 1u128 << 126),
        Err(EngineError::Store(_))
    ));
    assert!(
        logs.opened.lock().iter().any(|&index| index >= 2),
        "the children's logs were made before the failure"
    );
    assert_eq!(
        walk_shard_dirs(&dir.path().join("logs")),
        2,
        "and removed after it"
    );
    assert_eq!(open_shards(&engine, "parent"), 2);
    // The failed split gave back the shard it was promised.
    engine
        .split_shard(&stream("parent"), "shardId-000000000001", 3u128 << 126)
        .unwrap();
}

/// A reshard while another of the same stream is making its children's
/// logs is refused, the stream reading as UPDATING, as on AWS. Let through
/// (or queued), its children would take the first one's indexes, and the
/// first one's cleanup after a failure would delete their logs.
#[tokio::test(flavor = "multi_thread")]
async fn a_reshard_is_refused_while_another_of_its_stream_is_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    engine(dir.path(), &clock)
        .create_stream(create("parent", 2))
        .unwrap();
    // Shard 0's log cannot be recovered: splitting it fails after its
    // children's logs are made.
    let (engine, logs) = open_faulty(
        dir.path(),
        &clock,
        EngineConfig::default(),
        failing::NO_SHARD,
        0,
    )
    .unwrap();
    let split_upper =
        || engine.split_shard(&stream("parent"), "shardId-000000000001", 3u128 << 126);
    let (failed, meanwhile) = probe_while_logs_open(
        &logs,
        || engine.split_shard(&stream("parent"), "shardId-000000000000", 1u128 << 126),
        || {
            let status = engine
                .describe_stream_summary(&stream("parent"))
                .unwrap()
                .status;
            (split_upper(), status)
        },
    );
    assert!(matches!(failed, Err(EngineError::Store(_))), "{failed:?}");
    let (second, status) = meanwhile.expect("the second split waited for the first");
    assert_eq!(status, StreamStatus::Updating);
    assert!(
        matches!(
            second,
            Err(EngineError::StreamNotActive {
                status: StreamStatus::Updating,
                ..
            })
        ),
        "{second:?}"
    );
    // The first split removed its children's logs; a split now takes
    // their indexes, and its children keep their logs across a restart.
    split_upper().unwrap();
    let to_upper_child = PutEntry {
        partition_key: Some("k"),
        explicit_hash_key: Some(riffle_model::HashKey((3u128 << 126) + 1)),
        data: b"kept",
    };
    let put = engine
        .put_record(&stream("parent"), to_upper_child)
        .await
        .unwrap();
    engine.shutdown().unwrap();
    drop(engine);
    let engine = engine_on(dir.path(), &clock);
    let iterator = engine
        .get_shard_iterator(
            &stream("parent"),
            &put.shard.to_string(),
            IteratorStart::TrimHorizon,
        )
        .unwrap();
    assert_eq!(engine.get_records(&iterator, 10).unwrap().records.len(), 1);
}

/// A directory holding stream `name`, whose one shard got one record
/// (`data`) and was then split: shard 0 is closed at offset 1. The engine
/// that made it is shut down.
async fn split_after_one_record(name: &str, data: &str) -> (tempfile::TempDir, Clock) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    let engine = engine(dir.path(), &clock);
    engine.create_stream(create(name, 1)).unwrap();
    put(&engine, name, data).await;
    engine
        .split_shard(&stream(name), "shardId-000000000000", 1u128 << 127)
        .unwrap();
    engine.shutdown().unwrap();
    (dir, clock)
}

#[tokio::test]
async fn a_closed_shard_whose_log_was_emptied_and_made_again_reads_as_finished() {
    use riffle_store::local::{LocalConfig, LocalLogStore};
    use riffle_store::{LogStore, ShardKey};
    let (dir, clock) = split_after_one_record("aged", "gone").await;
    // What an older Riffle left: retention deleted the closed shard's log,
    // and its next startup made the directory again, empty.
    let stream_dir = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_dir_all(stream_dir.join("0")).unwrap();
    let uid = u64::from_str_radix(stream_dir.file_name().unwrap().to_str().unwrap(), 16).unwrap();
    {
        let store = LocalLogStore::open(dir.path(), LocalConfig::default()).unwrap();
        let log = store
            .open_shard(ShardKey {
                stream_uid: uid,
                shard_index: 0,
            })
            .unwrap();
        assert_eq!(log.bounds().end, 0);
    }
    let engine = engine(dir.path(), &clock);
    let it = engine
        .get_shard_iterator(
            &stream("aged"),
            "shardId-000000000000",
            IteratorStart::TrimHorizon,
        )
        .unwrap();
    let read = engine.get_records(&it, 10).unwrap();
    assert!(read.records.is_empty());
    assert!(
        read.next_iterator.is_none(),
        "a reader is at the closed shard's end, not waiting for its lost record"
    );
    assert_eq!(read.child_shards.len(), 2);
}

#[test]
fn a_create_whose_logs_fail_leaves_no_files_and_the_name_free() {
    use std::sync::atomic::Ordering;
    // Room for exactly one four-shard stream more: a promise the failed
    // create kept would refuse the second.
    let config = EngineConfig {
        account_shard_limit: 5,
        ..EngineConfig::default()
    };
    let (dir, engine, logs) = gated(config, &[("existing", 1)]);
    let stream_dirs = || std::fs::read_dir(dir.path().join("logs")).unwrap().count();
    let before = stream_dirs();
    logs.refuse_open.store(2, Ordering::SeqCst);
    assert!(matches!(
        engine.create_stream(create("broken", 4)),
        Err(EngineError::Store(_))
    ));
    assert_eq!(
        stream_dirs(),
        before,
        "the failed stream's directory is removed"
    );
    assert!(matches!(
        engine.describe_stream_summary(&stream("broken")),
        Err(EngineError::StreamNotFound { .. })
    ));
    logs.refuse_open.store(failing::NO_SHARD, Ordering::SeqCst);
    engine.create_stream(create("broken", 4)).unwrap();
    assert_eq!(stream_dirs(), before + 1);
    drop((engine, logs));
    let meta = riffle_store::local::RedbMetadataStore::open(dir.path()).unwrap();
    assert_eq!(
        riffle_store::MetadataStore::marked_logs(&meta).unwrap(),
        Vec::<u64>::new(),
        "the failed create cleared its mark, the second saved its row"
    );
}

/// PutRecords into `name`: which records failed with an internal error.
async fn internal_failures(engine: &Engine, name: &str, entries: &[PutEntry<'_>]) -> Vec<bool> {
    use riffle_engine::ops::put_records::RecordFailure;
    engine
        .put_records(&stream(name), entries)
        .await
        .unwrap()
        .iter()
        .map(|o| matches!(o, Err(RecordFailure::Internal(_))))
        .collect()
}

#[tokio::test]
async fn a_restart_recovers_shard_logs_at_first_use_and_a_bad_one_fails_only_its_shard() {
    use riffle_engine::ops::list_shards::ListShardsFrom;
    use riffle_model::HashKey;
    use std::sync::atomic::Ordering;

    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    // One key per shard of four equal ranges.
    let keys: Vec<u128> = (0..4u128).map(|i| (i << 126) + 1).collect();
    let entries = |data: &'static [u8]| -> Vec<PutEntry<'static>> {
        keys.iter()
            .map(|&key| PutEntry {
                partition_key: Some("k"),
                explicit_hash_key: Some(HashKey(key)),
                data,
            })
            .collect()
    };
    {
        let engine = engine(dir.path(), &clock);
        engine.create_stream(create("lazy", 4)).unwrap();
        let written = engine
            .put_records(&stream("lazy"), &entries(b"before"))
            .await
            .unwrap();
        assert!(written.iter().all(Result::is_ok));
        engine.shutdown().unwrap();
    }

    let (engine, logs) = reopen_refusing(dir.path(), &clock, 2).unwrap();
    assert!(
        logs.opened.lock().is_empty(),
        "opening the engine recovers no open shard's log"
    );
    let listed = engine
        .list_shards(
            ListShardsFrom::Stream {
                stream: stream("lazy"),
                exclusive_start: None,
                filter: None,
            },
            100,
        )
        .unwrap();
    assert_eq!(listed.shards.len(), 4, "listing needs no log");

    // Shard 2's log cannot be recovered: its records fail, the rest land.
    let failed = internal_failures(&engine, "lazy", &entries(b"after")).await;
    assert_eq!(failed, [false, false, true, false]);
    let mut opened = logs.opened.lock().clone();
    opened.sort_unstable();
    assert_eq!(opened, [0, 1, 3], "each log was recovered by its first put");
    assert!(matches!(
        engine.get_shard_iterator(
            &stream("lazy"),
            "shardId-000000000002",
            IteratorStart::TrimHorizon
        ),
        Err(EngineError::Store(_))
    ));

    // Once it can be, the background recovery opens it (and no log twice).
    logs.refuse_open.store(failing::NO_SHARD, Ordering::SeqCst);
    engine.recover_logs();
    let mut opened = logs.opened.lock().clone();
    opened.sort_unstable();
    assert_eq!(opened, [0, 1, 2, 3]);
    let read = |shard: &str| -> Vec<Vec<u8>> {
        let it = engine
            .get_shard_iterator(&stream("lazy"), shard, IteratorStart::TrimHorizon)
            .unwrap();
        engine
            .get_records(&it, 10)
            .unwrap()
            .records
            .into_iter()
            .map(|r| r.data.to_vec())
            .collect()
    };
    assert_eq!(read("shardId-000000000002"), [b"before".to_vec()]);
    assert_eq!(
        read("shardId-000000000001"),
        [b"before".to_vec(), b"after".to_vec()]
    );
}

#[tokio::test]
async fn a_closed_shard_whose_log_cannot_be_recovered_fails_only_its_own_reads() {
    use std::sync::atomic::Ordering;

    let (dir, clock) = split_after_one_record("split", "before").await;
    let (engine, logs) = reopen_refusing(dir.path(), &clock, 0)
        .expect("one damaged closed shard does not keep the server down");
    let iterator = |engine: &Engine| {
        engine.get_shard_iterator(
            &stream("split"),
            "shardId-000000000000",
            IteratorStart::TrimHorizon,
        )
    };
    assert!(matches!(iterator(&engine), Err(EngineError::Store(_))));
    put(&engine, "split", "after").await;

    // Once the log can be recovered, its records are there.
    logs.refuse_open.store(failing::NO_SHARD, Ordering::SeqCst);
    let read = engine.get_records(&iterator(&engine).unwrap(), 10).unwrap();
    let data: Vec<_> = read.records.iter().map(|r| r.data.to_vec()).collect();
    assert_eq!(data, [b"before".to_vec()]);
}

#[tokio::test]
async fn put_records_reports_failures_per_record_and_keeps_the_rest() {
    use riffle_model::HashKey;

    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(START);
    let (engine, _logs) = open_faulty(
        dir.path(),
        &clock,
        EngineConfig::default(),
        1,
        failing::NO_SHARD,
    )
    .unwrap();
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
    let failed = internal_failures(&engine, "partial", &entries).await;
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
        let mut hot = create("hot", 1);
        if let Some(value) = tag {
            hot.tags = vec![("riffle.enforce-limits".to_owned(), value.to_owned())];
        }
        let config = EngineConfig {
            enforce_limits: default,
            ..EngineConfig::default()
        };
        open_with(config, hot)
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
    use riffle_engine::metrics::ReshardTrigger;

    async fn on_demand(shards: u32) -> (tempfile::TempDir, Clock, Engine) {
        let mut od = create("od", shards);
        od.on_demand = true;
        open_with(EngineConfig::default(), od)
    }

    fn open_count(engine: &Engine) -> usize {
        open_shards(engine, "od")
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
        // The scaling shows in the metrics, attributed to on-demand scaling.
        let metrics = engine.metrics();
        let reshards = &metrics.streams[0].reshards;
        let by = |trigger| reshards.iter().find(|r| r.trigger == trigger).unwrap();
        assert_eq!(
            (
                by(ReshardTrigger::OnDemand).splits,
                by(ReshardTrigger::OnDemand).merges
            ),
            (1, 1)
        );
        assert_eq!(
            (
                by(ReshardTrigger::Api).splits,
                by(ReshardTrigger::Api).merges
            ),
            (0, 0)
        );
        assert_eq!(metrics.streams[0].open_shards, 1);
        assert_eq!(metrics.streams[0].closed_shards, 3);
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
        let (_dir, clock, engine) = open_with(EngineConfig::default(), create("od", 1));
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
    // The children's logs are created by their first records.
    for key in [0, u128::MAX] {
        let entry = PutEntry {
            partition_key: Some("k"),
            explicit_hash_key: Some(riffle_model::HashKey(key)),
            data: b"new",
        };
        engine.put_record(&stream("aging"), entry).await.unwrap();
    }
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
    engine.recover_logs();
    assert_eq!(
        shard_dirs(),
        2,
        "a restart does not re-create the deleted log"
    );
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

mod daily_quotas {
    use super::*;

    const DAY_MS: u64 = 24 * 3_600_000;

    fn limit_message(result: Result<impl std::fmt::Debug, EngineError>) -> String {
        match result {
            Err(EngineError::LimitExceeded(message)) => message,
            other => panic!("expected LimitExceeded, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn update_shard_count_allows_ten_calls_per_rolling_day() {
        let (_dir, clock, engine) = setup("q", 1).await;
        for call in 0..10 {
            let target = if call % 2 == 0 { 2 } else { 1 };
            engine.update_shard_count(&stream("q"), target).unwrap();
            clock.advance(60_000);
        }
        let message = limit_message(engine.update_shard_count(&stream("q"), 1));
        assert!(
            message.starts_with("Stream q under account 000000000000 has already been scaled 10 times with UpdateShardCount in the last 24 hours"),
            "{message}"
        );
        // Splits and merges are not UpdateShardCount calls.
        engine
            .split_shard(&stream("q"), &open_ids(&engine)[0], 1 << 100)
            .unwrap();
        // The window rolls: a day after the first call, one call is free again.
        clock.advance(DAY_MS - 10 * 60_000);
        engine.update_shard_count(&stream("q"), 1).unwrap();
        clock.advance(1);
        assert!(engine.update_shard_count(&stream("q"), 2).is_err());
    }

    #[tokio::test]
    async fn the_quota_survives_a_restart() {
        let (dir, clock, engine) = setup("q", 1).await;
        for call in 0..10 {
            engine
                .update_shard_count(&stream("q"), if call % 2 == 0 { 2 } else { 1 })
                .unwrap();
        }
        drop(engine);
        let engine = super::engine(dir.path(), &clock);
        limit_message(engine.update_shard_count(&stream("q"), 1));
    }

    #[tokio::test]
    async fn the_capacity_mode_switches_twice_per_rolling_day() {
        let (_dir, clock, engine) = setup("m", 1).await;
        engine.update_stream_mode(&stream("m"), true, None).unwrap();
        engine
            .update_stream_mode(&stream("m"), false, None)
            .unwrap();
        let message = limit_message(engine.update_stream_mode(&stream("m"), true, None));
        assert!(
            message.starts_with("Stream m under account 000000000000 has already switched capacity mode 2 times in the last 24 hours"),
            "{message}"
        );
        clock.advance(DAY_MS);
        engine.update_stream_mode(&stream("m"), true, None).unwrap();
    }

    #[tokio::test]
    async fn quotas_can_be_lifted() {
        let config = EngineConfig {
            daily_quotas: false,
            ..EngineConfig::default()
        };
        let (_dir, _clock, engine) = open_with(config, create("q", 1));
        for call in 0..12 {
            engine
                .update_shard_count(&stream("q"), if call % 2 == 0 { 2 } else { 1 })
                .unwrap();
            engine
                .update_stream_mode(&stream("q"), call % 2 == 0, None)
                .unwrap();
        }
    }

    fn open_ids(engine: &Engine) -> Vec<String> {
        use riffle_engine::ops::list_shards::{ListShardsFrom, ShardFilter};
        engine
            .list_shards(
                ListShardsFrom::Stream {
                    stream: stream("q"),
                    exclusive_start: None,
                    filter: Some(ShardFilter::AtLatest),
                },
                1000,
            )
            .unwrap()
            .shards
            .into_iter()
            .map(|s| s.id.to_string())
            .collect()
    }
}

mod metrics {
    use super::*;
    use riffle_engine::metrics::{ReshardTrigger, ShardMetric, StreamMetric};

    fn value(engine: &Engine, metric: StreamMetric) -> u64 {
        let snapshot = engine.metrics();
        snapshot.streams[0]
            .values
            .iter()
            .find(|(m, _)| *m == metric)
            .unwrap()
            .1
    }

    #[tokio::test]
    async fn puts_and_reads_are_counted_with_cloudwatch_semantics() {
        let (_dir, clock, engine) = setup("m", 2).await;
        put(&engine, "m", "hello").await;
        let entries: Vec<PutEntry<'_>> = (0..3)
            .map(|_| PutEntry {
                partition_key: Some("key"),
                explicit_hash_key: None,
                data: b"abcd",
            })
            .collect();
        engine.put_records(&stream("m"), &entries).await.unwrap();
        assert_eq!(value(&engine, StreamMetric::PutRecordSuccess), 1);
        assert_eq!(
            value(&engine, StreamMetric::PutRecordBytes),
            6,
            "data plus key"
        );
        assert_eq!(value(&engine, StreamMetric::PutRecordsSuccess), 1);
        assert_eq!(value(&engine, StreamMetric::PutRecordsTotalRecords), 3);
        assert_eq!(value(&engine, StreamMetric::PutRecordsSuccessfulRecords), 3);
        assert_eq!(value(&engine, StreamMetric::PutRecordsFailedRecords), 0);
        assert_eq!(value(&engine, StreamMetric::IncomingRecords), 4);
        assert_eq!(value(&engine, StreamMetric::IncomingBytes), 6 + 3 * 7);

        // Read every shard, wherever the keys routed.
        clock.advance(2_000);
        let mut read = 0;
        for shard in ["shardId-000000000000", "shardId-000000000001"] {
            let it = engine
                .get_shard_iterator(&stream("m"), shard, IteratorStart::TrimHorizon)
                .unwrap();
            read += engine.get_records(&it, 100).unwrap().records.len();
        }
        assert_eq!(read, 4);
        assert_eq!(value(&engine, StreamMetric::GetRecordsSuccess), 2);
        assert_eq!(value(&engine, StreamMetric::GetRecordsRecords), 4);
        assert_eq!(value(&engine, StreamMetric::GetRecordsBytes), 6 + 3 * 7);
        assert!(
            engine.metrics().streams[0].shards.is_empty(),
            "shard level is opt-in"
        );

        // Enhanced monitoring turns on exactly the shard metrics asked for.
        engine
            .set_enhanced_monitoring(
                &stream("m"),
                &["IncomingRecords".to_owned(), "OutgoingRecords".to_owned()],
                true,
            )
            .unwrap();
        let snapshot = engine.metrics();
        let shards = &snapshot.streams[0].shards;
        assert_eq!(shards.len(), 2);
        for shard in shards {
            let metrics: Vec<ShardMetric> = shard.values.iter().map(|(m, _)| *m).collect();
            assert_eq!(
                metrics,
                [ShardMetric::IncomingRecords, ShardMetric::OutgoingRecords]
            );
        }
        let total = |metric| -> u64 {
            shards
                .iter()
                .flat_map(|s| &s.values)
                .filter(|(m, _)| *m == metric)
                .map(|(_, v)| v)
                .sum()
        };
        assert_eq!(total(ShardMetric::IncomingRecords), 4);
        assert_eq!(total(ShardMetric::OutgoingRecords), 4);
    }

    #[tokio::test]
    async fn manual_resharding_is_counted_as_api() {
        let (_dir, _clock, engine) = setup("r", 2).await;
        engine.update_shard_count(&stream("r"), 4).unwrap();
        let snapshot = engine.metrics();
        let stream_metrics = &snapshot.streams[0];
        let api = stream_metrics
            .reshards
            .iter()
            .find(|r| r.trigger == ReshardTrigger::Api)
            .unwrap();
        assert_eq!((api.splits, api.merges), (2, 0));
        assert_eq!(stream_metrics.open_shards, 4);
        assert_eq!(stream_metrics.closed_shards, 2);
    }

    #[tokio::test]
    async fn throttling_is_counted() {
        let config = EngineConfig {
            enforce_limits: true,
            ..EngineConfig::default()
        };
        let (_dir, _clock, engine) = open_with(config, create("t", 1));
        let entries: Vec<PutEntry<'_>> = (0..500)
            .map(|_| PutEntry {
                partition_key: Some("k"),
                explicit_hash_key: None,
                data: b"x",
            })
            .collect();
        for _ in 0..3 {
            engine.put_records(&stream("t"), &entries).await.unwrap();
        }
        assert_eq!(value(&engine, StreamMetric::PutRecordsTotalRecords), 1500);
        assert_eq!(
            value(&engine, StreamMetric::PutRecordsSuccessfulRecords),
            1000
        );
        assert_eq!(
            value(&engine, StreamMetric::PutRecordsThrottledRecords),
            500
        );
        assert_eq!(
            value(&engine, StreamMetric::WriteProvisionedThroughputExceeded),
            500
        );
        assert_eq!(value(&engine, StreamMetric::PutRecordsFailedRecords), 0);
        let it = engine
            .get_shard_iterator(&stream("t"), "shardId-000000000000", IteratorStart::Latest)
            .unwrap();
        for _ in 0..6 {
            let _ = engine.get_records(&it, 1);
        }
        assert_eq!(
            value(&engine, StreamMetric::ReadProvisionedThroughputExceeded),
            1
        );
        assert_eq!(value(&engine, StreamMetric::GetRecordsSuccess), 5);
    }
}
