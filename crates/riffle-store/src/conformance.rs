//! Scenarios every [`LogStore`] backend must pass, written once.
//!
//! Each scenario takes a function that opens the backend on a directory (so
//! scenarios can "restart" it) and panics on a failed expectation. Backends
//! call them from their own tests; see `tests/local_conformance.rs`.

use std::path::Path;

use riffle_model::Millis;

use crate::log::{LogStore, ShardKey};
use crate::record::NewRecord;

const KEY: ShardKey = ShardKey {
    stream_uid: 7,
    shard_index: 0,
};

fn records(prefix: &str, n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                format!("{prefix}-{i}"),
                format!("{prefix}-data-{i}").into_bytes(),
            )
        })
        .collect()
}

fn as_new(records: &[(String, Vec<u8>)]) -> Vec<NewRecord<'_>> {
    records
        .iter()
        .map(|(pk, data)| NewRecord {
            partition_key: pk,
            data,
        })
        .collect()
}

/// Appended records read back in order, with consecutive offsets, and
/// survive reopening the store.
pub async fn append_read_reopen<S: LogStore>(dir: &Path, open: impl Fn(&Path) -> S) {
    let batch_a = records("a", 3);
    let batch_b = records("b", 2);
    {
        let store = open(dir);
        let log = store.open_shard(KEY).unwrap();
        let first = log.append(&as_new(&batch_a), Millis(1000)).unwrap();
        first.durable.wait().await.unwrap();
        let second = log.append(&as_new(&batch_b), Millis(900)).unwrap();
        second.durable.wait().await.unwrap();
        assert_eq!(first.first_offset, 0);
        assert_eq!(second.first_offset, 3);
        assert_eq!(second.arrival, Millis(1000), "arrival never goes backwards");
        store.sync_all().unwrap();
    }
    let store = open(dir);
    let log = store.open_shard(KEY).unwrap();
    let bounds = log.bounds();
    assert_eq!((bounds.start, bounds.end), (0, 5));
    let all = log.read(0, 100, usize::MAX, Millis(0)).unwrap();
    let keys: Vec<_> = all
        .iter()
        .map(|r| r.partition_key_str().to_owned())
        .collect();
    assert_eq!(keys, ["a-0", "a-1", "a-2", "b-0", "b-1"]);
    assert!(all.iter().enumerate().all(|(i, r)| r.offset == i as u64));
    assert_eq!(&all[4].data[..], b"b-data-1");
}

/// Reads honour the start offset, the record limit and the byte limit, and
/// always return at least one record when any is available.
pub async fn read_limits<S: LogStore>(dir: &Path, open: impl Fn(&Path) -> S) {
    let store = open(dir);
    let log = store.open_shard(KEY).unwrap();
    let batch = records("r", 10);
    log.append(&as_new(&batch), Millis(5))
        .unwrap()
        .durable
        .wait()
        .await
        .unwrap();
    assert_eq!(
        log.read(4, 3, usize::MAX, Millis(0))
            .unwrap()
            .iter()
            .map(|r| r.offset)
            .collect::<Vec<_>>(),
        [4, 5, 6]
    );
    let one_record_bytes = batch[0].0.len() + batch[0].1.len();
    assert_eq!(
        log.read(0, 100, one_record_bytes * 2, Millis(0))
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        log.read(0, 100, 1, Millis(0)).unwrap().len(),
        1,
        "an oversized first record is still returned"
    );
    assert!(log.read(10, 100, usize::MAX, Millis(0)).unwrap().is_empty());
    assert!(
        log.read(0, 100, usize::MAX, Millis(6)).unwrap().is_empty(),
        "expired records are skipped"
    );
}

/// `offset_at_time` finds the first record at or after a time.
pub async fn seek_by_time<S: LogStore>(dir: &Path, open: impl Fn(&Path) -> S) {
    let store = open(dir);
    let log = store.open_shard(KEY).unwrap();
    for (i, at) in [100u64, 200, 300].into_iter().enumerate() {
        let batch = records(&format!("t{i}"), 2);
        log.append(&as_new(&batch), Millis(at))
            .unwrap()
            .durable
            .wait()
            .await
            .unwrap();
    }
    assert_eq!(log.offset_at_time(Millis(0)).unwrap(), 0);
    assert_eq!(log.offset_at_time(Millis(150)).unwrap(), 2);
    assert_eq!(log.offset_at_time(Millis(300)).unwrap(), 4);
    assert_eq!(log.offset_at_time(Millis(301)).unwrap(), 6);
}

/// Removing a stream removes its logs; reopening starts empty.
pub async fn remove_stream<S: LogStore>(dir: &Path, open: impl Fn(&Path) -> S) {
    let store = open(dir);
    let log = store.open_shard(KEY).unwrap();
    log.append(&as_new(&records("x", 1)), Millis(1))
        .unwrap()
        .durable
        .wait()
        .await
        .unwrap();
    drop(log);
    store.remove_stream(KEY.stream_uid).unwrap();
    let log = store.open_shard(KEY).unwrap();
    assert_eq!(log.bounds().end, 0);
}

/// A log exists from its creation until it is removed, across a restart,
/// and asking does not create it.
pub fn shard_existence<S: LogStore>(dir: &Path, open: impl Fn(&Path) -> S) {
    let other = ShardKey {
        shard_index: KEY.shard_index + 1,
        ..KEY
    };
    let store = open(dir);
    assert!(!store.has_shard(KEY));
    assert!(!store.has_shard(KEY), "asking does not create it");
    drop(store.open_shard(KEY).unwrap());
    drop(store.open_shard(other).unwrap());
    assert!(store.has_shard(KEY));
    drop(store);
    let store = open(dir);
    assert!(store.has_shard(KEY), "after a restart, before any open");
    store.remove_shard(KEY).unwrap();
    assert!(!store.has_shard(KEY));
    assert!(store.has_shard(other));
    store.remove_stream(other.stream_uid).unwrap();
    assert!(!store.has_shard(other));
}
