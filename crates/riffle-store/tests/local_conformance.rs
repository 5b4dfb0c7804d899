//! The shared store scenarios, run against the local backend in every
//! durability mode, plus recovery tests specific to segment files.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use riffle_model::Millis;
use riffle_store::conformance;
use riffle_store::local::{LocalConfig, LocalLogStore};
use riffle_store::{Durability, LogStore, NewRecord, ShardKey, ShardLog};

fn opener(durability: Durability, segment_bytes: u64) -> impl Fn(&Path) -> LocalLogStore {
    move |dir| {
        LocalLogStore::open(
            dir,
            LocalConfig {
                durability,
                segment_bytes,
                ..LocalConfig::default()
            },
        )
        .unwrap()
    }
}

const MODES: [Durability; 3] = [
    Durability::Sync,
    Durability::Interval { interval_ms: 5 },
    Durability::None,
];

#[tokio::test]
async fn scenarios_pass_in_every_durability_mode() {
    for mode in MODES {
        // Tiny segments exercise rolling and cross-segment reads too.
        for segment_bytes in [64 * 1024 * 1024, 64] {
            let open = opener(mode, segment_bytes);
            conformance::append_read_reopen(tempfile::tempdir().unwrap().path(), &open).await;
            conformance::read_limits(tempfile::tempdir().unwrap().path(), &open).await;
            conformance::seek_by_time(tempfile::tempdir().unwrap().path(), &open).await;
            conformance::remove_stream(tempfile::tempdir().unwrap().path(), &open).await;
            conformance::shard_existence(tempfile::tempdir().unwrap().path(), &open);
        }
    }
}

const KEY: ShardKey = ShardKey {
    stream_uid: 1,
    shard_index: 3,
};

/// Appends `n` one-record batches to `KEY`, each waited on, and returns the store.
async fn append_n(store: LocalLogStore, n: usize) -> LocalLogStore {
    let log = store.open_shard(KEY).unwrap();
    for i in 0..n {
        let data = format!("record-{i}");
        let appended = log
            .append(
                &[NewRecord {
                    partition_key: "pk",
                    data: data.as_bytes(),
                }],
                Millis(i as u64),
            )
            .unwrap();
        appended.durable.wait().await.unwrap();
    }
    store
}

/// Appends one record and waits for it to be durable; returns its offset.
async fn append_one(log: &dyn ShardLog, data: &[u8]) -> u64 {
    let appended = log
        .append(
            &[NewRecord {
                partition_key: "pk",
                data,
            }],
            Millis(9),
        )
        .unwrap();
    appended.durable.wait().await.unwrap();
    appended.first_offset
}

/// A clean shutdown syncs every log and retires the journal, so damage
/// done to a segment afterwards is the segment's alone (no journal copy
/// repairs it).
fn shut_down_cleanly(store: LocalLogStore) {
    store.sync_all().unwrap();
}

fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let shard_dir = dir
        .join("logs")
        .join(format!("{:016x}", KEY.stream_uid))
        .join(KEY.shard_index.to_string());
    let mut files: Vec<_> = std::fs::read_dir(shard_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn torn_tail_is_truncated_and_earlier_records_survive() {
    let dir = tempfile::tempdir().unwrap();
    let open = opener(Durability::Sync, 64 * 1024 * 1024);
    // The five batches in the segment and no journal to repair it, then a
    // crash mid-write: half a batch of garbage at the end.
    shut_down_cleanly(append_n(open(dir.path()), 5).await);
    let file = segment_files(dir.path()).pop().unwrap();
    let good_len = std::fs::metadata(&file).unwrap().len();
    OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(&[0x2a; 19])
        .unwrap();

    let store = open(dir.path());
    let log = store.open_shard(KEY).unwrap();
    assert_eq!(log.bounds().end, 5);
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        good_len,
        "the torn tail was cut off"
    );
    let records = log.read(0, 100, usize::MAX, Millis(0)).unwrap();
    assert_eq!(records.len(), 5);
    assert_eq!(&records[4].data[..], b"record-4");
    // New appends continue the offsets and are readable.
    assert_eq!(append_one(&*log, b"after").await, 5);
    assert_eq!(
        &log.read(5, 1, usize::MAX, Millis(0)).unwrap()[0].data[..],
        b"after"
    );
}

#[tokio::test]
async fn corrupted_last_batch_is_dropped_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let open = opener(Durability::Sync, 64 * 1024 * 1024);
    shut_down_cleanly(append_n(open(dir.path()), 3).await);
    let file = segment_files(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();

    let store = open(dir.path());
    let log = store.open_shard(KEY).unwrap();
    assert_eq!(
        log.bounds().end,
        2,
        "the batch with a bad CRC is not trusted"
    );
    assert_eq!(log.read(0, 100, usize::MAX, Millis(0)).unwrap().len(), 2);
}

#[tokio::test]
async fn expired_sealed_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = opener(Durability::Sync, 1)(dir.path());
    let store = append_n(store, 6).await;
    let log = store.open_shard(KEY).unwrap();
    let before = segment_files(dir.path()).len();
    assert!(before > 2, "tiny segments roll on every batch");
    log.expire_before(Millis(3)).unwrap();
    let bounds = log.bounds();
    assert_eq!(bounds.start, 3);
    assert_eq!(bounds.end, 6);
    assert_eq!(
        log.read(0, 100, usize::MAX, Millis(0)).unwrap()[0].offset,
        3
    );
    assert_eq!(segment_files(dir.path()).len(), before - 3);
}

#[tokio::test]
async fn damage_inside_a_sealed_segment_is_reported_not_silently_truncated() {
    let dir = tempfile::tempdir().unwrap();
    // One batch per segment: every segment but the last is sealed.
    shut_down_cleanly(append_n(opener(Durability::Sync, 1)(dir.path()), 4).await);
    let files = segment_files(dir.path());
    assert!(files.len() >= 3);
    let sealed = &files[0];
    let mut bytes = std::fs::read(sealed).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(sealed, bytes).unwrap();
    // The sealed segment opens from its index without being read; the damage
    // is found, and reported, when the records are read.
    let store = opener(Durability::Sync, 1)(dir.path());
    let log = store
        .open_shard(KEY)
        .expect("sealed segments open from their index");
    match log.read(0, 100, usize::MAX, Millis(0)) {
        Err(riffle_store::StoreError::Corrupt { .. }) => {}
        other => panic!("expected a corruption error, got {other:?}"),
    }
    assert_eq!(
        log.read(1, 100, usize::MAX, Millis(0)).unwrap()[0].offset,
        1,
        "the other segments still read"
    );
    drop((log, store));
    // Without its index the segment is scanned at open, and the damage is
    // reported there.
    std::fs::remove_file(sealed.with_extension("index")).unwrap();
    let store = opener(Durability::Sync, 1)(dir.path());
    match store.open_shard(KEY) {
        Err(riffle_store::StoreError::Corrupt { .. }) => {}
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

#[tokio::test]
async fn sealed_segments_leave_an_index_and_reopen_without_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    append_n(opener(Durability::Sync, 1)(dir.path()), 5).await;
    let files = segment_files(dir.path());
    let (sealed, active) = files.split_at(files.len() - 1);
    for segment in sealed {
        assert!(segment.with_extension("index").exists(), "{segment:?}");
    }
    assert!(!active[0].with_extension("index").exists());
    // A missing index is rebuilt by the scan at the next open.
    std::fs::remove_file(sealed[0].with_extension("index")).unwrap();
    let store = opener(Durability::Sync, 1)(dir.path());
    let log = store.open_shard(KEY).unwrap();
    assert_eq!(log.read(0, 100, usize::MAX, Millis(0)).unwrap().len(), 5);
    assert!(sealed[0].with_extension("index").exists());
}

/// Appends made under an `AppendBatch` wait for it to end before their sync
/// starts, then one round makes all of them durable and visible.
#[tokio::test]
async fn syncs_of_an_append_batch_start_when_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let store = opener(Durability::Sync, 64 * 1024 * 1024)(dir.path());
    let logs: Vec<_> = (0..3)
        .map(|shard_index| {
            store
                .open_shard(ShardKey {
                    stream_uid: 9,
                    shard_index,
                })
                .unwrap()
        })
        .collect();
    let record = [NewRecord {
        partition_key: "pk",
        data: b"x",
    }];
    // A round first, so the sync threads are parked, waiting to be started
    // (a thread that has just finished a round looks at the queue itself:
    // the batch is a hint, not a lock).
    let warm_up = store
        .open_shard(ShardKey {
            stream_uid: 8,
            shard_index: 0,
        })
        .unwrap();
    warm_up
        .append(&record, Millis(1))
        .unwrap()
        .durable
        .wait()
        .await
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let batch = riffle_store::AppendBatch::begin();
    let nested = riffle_store::AppendBatch::begin();
    let appended: Vec<_> = logs
        .iter()
        .map(|log| log.append(&record, Millis(1)).unwrap())
        .collect();
    drop(nested);
    // Held: nothing was started, so nothing becomes visible.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(logs.iter().all(|log| log.bounds().end == 0));
    drop(batch);
    for appended in appended {
        tokio::time::timeout(std::time::Duration::from_secs(10), appended.durable.wait())
            .await
            .expect("the sync starts when the batch ends")
            .unwrap();
    }
    assert!(logs.iter().all(|log| log.bounds().end == 1));
}

/// A `sync`-mode store whose journal is never checkpointed by time, so a
/// test decides what the journal holds.
fn open_without_timed_checkpoints(dir: &Path) -> LocalLogStore {
    LocalLogStore::open(
        dir,
        LocalConfig {
            durability: Durability::Sync,
            checkpoint_interval: std::time::Duration::from_secs(3600),
            // Writeback passes may checkpoint too (`Journal::prepare_next_file`).
            writeback_pace: std::time::Duration::from_secs(3600),
            ..LocalConfig::default()
        },
    )
    .unwrap()
}

/// The live journal files (not the spare kept for reuse).
fn journal_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| path.file_name().unwrap() != "spare.wal")
        .collect();
    files.sort();
    files
}

/// Bytes of the live journal files up to their last nonzero byte: a new
/// file is written full of zeros before rounds use it. A file the
/// checkpoint thread retires between the listing and the read counts as
/// empty, which is what it now is.
fn journal_bytes(dir: &Path) -> u64 {
    journal_files(dir)
        .iter()
        .map(|f| {
            let bytes = match std::fs::read(f) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => panic!("reading {}: {e}", f.display()),
            };
            bytes
                .iter()
                .rposition(|&b| b != 0)
                .map_or(0, |last| last as u64 + 1)
        })
        .sum()
}

fn read_all(store: &LocalLogStore) -> Vec<String> {
    store
        .open_shard(KEY)
        .unwrap()
        .read(0, 100, usize::MAX, Millis(0))
        .unwrap()
        .iter()
        .map(|r| String::from_utf8(r.data.to_vec()).unwrap())
        .collect()
}

/// Power loss: a segment's pages that were never flushed are gone (here:
/// zeroed), but every acknowledged append was in a flushed journal round,
/// and the next start writes it back.
#[tokio::test]
async fn acknowledged_appends_survive_losing_the_segments_unflushed_pages() {
    let dir = tempfile::tempdir().unwrap();
    // Dropped without a clean shutdown: no checkpoint.
    append_n(open_without_timed_checkpoints(dir.path()), 5).await;
    assert!(journal_bytes(dir.path()) > 0, "the appends are journaled");
    let segment = segment_files(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&segment).unwrap().len();
    std::fs::write(&segment, vec![0u8; len as usize]).unwrap();

    let store = open_without_timed_checkpoints(dir.path());
    let expected: Vec<String> = (0..5).map(|i| format!("record-{i}")).collect();
    assert_eq!(read_all(&store), expected);
    assert_eq!(
        journal_bytes(dir.path()),
        0,
        "a replayed journal is deleted once its segments are synced"
    );
    // A truncated segment (its size never reached the disk) is restored too.
    drop(append_n(store, 0).await);
    OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(0)
        .unwrap();
    // Nothing was journaled since the replay, and the replay synced the
    // segment: an empty segment now is damage no journal can repair.
    let store = open_without_timed_checkpoints(dir.path());
    assert!(read_all(&store).is_empty());
}

/// A round whose write never finished leaves a torn entry at the journal's
/// end: replay keeps everything before it and ignores it.
#[tokio::test]
async fn a_torn_journal_tail_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    append_n(open_without_timed_checkpoints(dir.path()), 3).await;
    let journal = journal_files(dir.path()).pop().unwrap();
    let whole = std::fs::read(&journal).unwrap();
    // Half of the first entry again, as if a fourth round were cut short.
    OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap()
        .write_all(&whole[..whole.len() / 6])
        .unwrap();
    let segment = segment_files(dir.path()).pop().unwrap();
    std::fs::write(&segment, b"").unwrap();

    let store = open_without_timed_checkpoints(dir.path());
    assert_eq!(read_all(&store), ["record-0", "record-1", "record-2"]);
    let log = store.open_shard(KEY).unwrap();
    assert_eq!(
        append_one(&*log, b"after").await,
        3,
        "offsets continue after replay"
    );
}

/// Entries of a stream deleted since they were journaled are skipped: the
/// stream does not come back.
#[tokio::test]
async fn journal_entries_of_a_deleted_stream_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = append_n(open_without_timed_checkpoints(dir.path()), 3).await;
    store.remove_stream(KEY.stream_uid).unwrap();
    drop(store);
    assert!(journal_bytes(dir.path()) > 0);
    let _store = open_without_timed_checkpoints(dir.path());
    let stream_dir = dir
        .path()
        .join("logs")
        .join(format!("{:016x}", KEY.stream_uid));
    assert!(!stream_dir.exists(), "the deleted stream stays deleted");
    assert_eq!(journal_bytes(dir.path()), 0);
}

/// While it has entries, the journal is retired every checkpoint interval.
#[tokio::test]
async fn the_journal_is_checkpointed_on_a_timer() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalLogStore::open(
        dir.path(),
        LocalConfig {
            durability: Durability::Sync,
            checkpoint_interval: std::time::Duration::from_millis(20),
            ..LocalConfig::default()
        },
    )
    .unwrap();
    let store = append_n(store, 3).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while journal_bytes(dir.path()) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the journal was not checkpointed"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(
        journal_files(dir.path()).len(),
        1,
        "retired files are deleted or kept as the spare"
    );
    assert!(dir.path().join("journal/spare.wal").exists());
    drop(store);
    let store = open_without_timed_checkpoints(dir.path());
    assert_eq!(read_all(&store).len(), 3);
}

/// The first journal file after a start is empty (making one full of zeros
/// would slow the start), so rounds extend it. Between checkpoints the
/// spare is written ahead a piece at a time, not in one long write the
/// rounds' flushes would queue behind, and once it can take the rounds they
/// move to it without waiting for the checkpoint interval. What they wrote
/// to the first file survives a crash.
#[tokio::test]
async fn rounds_move_off_the_first_file_once_the_spare_is_written_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let spare = dir.path().join("journal/spare.wal");
    let pass = std::time::Duration::from_millis(100);
    let store = LocalLogStore::open(
        dir.path(),
        LocalConfig {
            durability: Durability::Sync,
            checkpoint_interval: std::time::Duration::from_secs(3600),
            writeback_pace: pass,
            ..LocalConfig::default()
        },
    )
    .unwrap();
    std::thread::sleep(3 * pass);
    assert!(!spare.exists(), "an idle journal writes nothing ahead");
    let store = append_n(store, 3).await;
    let first = journal_files(dir.path());
    assert_eq!(first.len(), 1);
    assert!(first[0].ends_with("00000000000000000000.wal"));

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let spare_len = || std::fs::metadata(&spare).map_or(0, |m| m.len());
    while spare_len() == 0 {
        assert!(std::time::Instant::now() < deadline, "no spare was written");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let first_piece = spare_len();
    assert!(
        first_piece < 1 << 20,
        "the spare is written in pieces, not all at once ({first_piece} bytes)"
    );
    // The checkpoint makes the next file before it retires the first.
    while first[0].exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the rounds never left the first file"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let files = journal_files(dir.path());
    assert_eq!(files.len(), 1, "the first file was retired: {files:?}");
    let written_ahead = std::fs::metadata(&files[0]).unwrap().len();
    assert!(
        written_ahead >= 1 << 20,
        "rounds moved to a file written ahead ({written_ahead} bytes)"
    );
    let log = store.open_shard(KEY).unwrap();
    append_one(&*log, b"after").await;
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().len(),
        written_ahead,
        "rounds write over the zeros"
    );
    // A crash: no clean shutdown, so the next start replays the journal.
    drop(log);
    drop(store);
    let store = open_without_timed_checkpoints(dir.path());
    assert_eq!(
        read_all(&store),
        ["record-0", "record-1", "record-2", "after"]
    );
}

/// A checkpoint writes the next journal file (here a new one: there is no
/// spare yet) full of zeros before rounds use it, so that their flushes
/// write over old bytes; the zeros read as the end of the file, and rounds
/// written over them are replayed after a crash.
#[tokio::test]
async fn rounds_written_over_a_prefilled_journal_file_are_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let store = append_n(open_without_timed_checkpoints(dir.path()), 1).await;
    store.sync_all().unwrap();
    let files = journal_files(dir.path());
    assert_eq!(files.len(), 1);
    let prefilled = std::fs::metadata(&files[0]).unwrap().len();
    assert!(prefilled >= 1 << 20, "the new file holds {prefilled} bytes");
    assert_eq!(journal_bytes(dir.path()), 0, "and only zeros");
    let segment = segment_files(dir.path()).pop().unwrap();
    let checkpointed = std::fs::metadata(&segment).unwrap().len();

    let log = store.open_shard(KEY).unwrap();
    for data in [b"after-1", b"after-2"] {
        append_one(&*log, data).await;
    }
    assert!(journal_bytes(dir.path()) > 0);
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().len(),
        prefilled,
        "rounds write over the zeros"
    );
    // Power loss: no shutdown, no checkpoint, and the segment's pages
    // written since the checkpoint are gone.
    drop(log);
    drop(store);
    OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(checkpointed)
        .unwrap();
    let store = open_without_timed_checkpoints(dir.path());
    assert_eq!(read_all(&store), ["record-0", "after-1", "after-2"]);
}

/// Batches too large to journal are synced in place, and so is a small
/// batch that follows one before its sync completes: the journal must not
/// make the small batch visible while the large one before it may still
/// be lost.
#[tokio::test]
async fn a_small_batch_behind_a_large_one_waits_for_its_sync_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_without_timed_checkpoints(dir.path());
    let log = store.open_shard(KEY).unwrap();
    let large = vec![7u8; 64 * 1024];
    let append = |data: &[u8]| {
        log.append(
            &[NewRecord {
                partition_key: "pk",
                data,
            }],
            Millis(1),
        )
        .unwrap()
    };
    // Together, so the large batch's sync cannot start (and finish) before
    // the small one is appended: the sync threads are parked until the
    // batch ends.
    let (first, second) = {
        let _together = riffle_store::AppendBatch::begin();
        (append(&large), append(b"small"))
    };
    first.durable.wait().await.unwrap();
    second.durable.wait().await.unwrap();
    assert_eq!(journal_bytes(dir.path()), 0, "both were synced in place");
    assert_eq!(log.bounds().end, 2);
    append(b"small").durable.wait().await.unwrap();
    assert!(
        journal_bytes(dir.path()) > 0,
        "with nothing in place pending, a small batch is journaled"
    );
    assert_eq!(log.read(0, 10, usize::MAX, Millis(0)).unwrap().len(), 3);
}

/// A retired journal file is reused, written over from its start; the
/// rounds it held before name another file and are never replayed. (Here
/// they would write a deleted incarnation's records over a new log's.)
#[tokio::test]
async fn old_rounds_in_a_reused_journal_file_are_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_without_timed_checkpoints(dir.path());
    let append = |key: ShardKey, data: &'static [u8]| {
        let log = store.open_shard(key).unwrap();
        async move { append_one(&*log, data).await }
    };
    let other = ShardKey {
        stream_uid: 2,
        shard_index: 0,
    };
    // File 0: three rounds for KEY; retired, it becomes the spare.
    for data in [b"record-0", b"record-1", b"record-2"] {
        append(KEY, data).await;
    }
    store.sync_all().unwrap();
    // File 1: one round elsewhere; the next checkpoint reuses file 0 as file 2.
    append(other, b"elsewhere").await;
    store.sync_all().unwrap();
    // A new log where KEY's was; its one round, the same size as each old
    // one, is written over the first of them in file 2.
    store.remove_stream(KEY.stream_uid).unwrap();
    append(KEY, b"record-9").await;
    drop(store);

    let store = open_without_timed_checkpoints(dir.path());
    assert_eq!(read_all(&store), ["record-9"]);
}

/// Logs are recovered outside the store's lock (startup opens many at
/// once), yet concurrent opens of one shard still share one log: two
/// writers of one segment would corrupt it.
#[test]
fn concurrent_opens_of_one_shard_share_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = opener(Durability::Sync, 64 * 1024 * 1024)(dir.path());
    let together = std::sync::Barrier::new(8);
    let logs: Vec<_> = std::thread::scope(|scope| {
        let opening: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    together.wait();
                    store.open_shard(KEY).unwrap()
                })
            })
            .collect();
        opening.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for log in &logs[1..] {
        assert!(std::ptr::addr_eq(
            std::sync::Arc::as_ptr(&logs[0]),
            std::sync::Arc::as_ptr(log)
        ));
    }
}

/// Once a reader has caught up with a shard, the batches appended next are
/// kept in memory and served from there. Shown by damaging the segment under
/// them: the tip still reads (from memory) while an older offset, and a
/// store with the cache off, report the damage.
#[tokio::test]
async fn readers_at_the_tip_are_served_from_memory_and_others_from_the_segment() {
    for mode in MODES {
        for tail_cache_bytes in [32 << 20, 0] {
            let dir = tempfile::tempdir().unwrap();
            let store = LocalLogStore::open(
                dir.path(),
                LocalConfig {
                    durability: mode,
                    tail_cache_bytes,
                    ..LocalConfig::default()
                },
            )
            .unwrap();
            let log = store.open_shard(KEY).unwrap();
            append_one(&*log, b"before anyone tails").await;
            // Nobody had read the tip, so offset 0 was not kept; this read
            // reaches the tip.
            assert_eq!(log.read(0, 10, usize::MAX, Millis(0)).unwrap().len(), 1);
            append_one(&*log, b"while tailed").await;

            let segment = &segment_files(dir.path())[0];
            let damaged: Vec<u8> = std::fs::read(segment)
                .unwrap()
                .iter()
                .map(|b| b ^ 0xff)
                .collect();
            std::fs::write(segment, damaged).unwrap();

            let tip = log.read(1, 10, usize::MAX, Millis(0));
            if tail_cache_bytes > 0 {
                let tip = tip.unwrap();
                assert_eq!(tip.len(), 1, "{mode:?}");
                assert_eq!(&tip[0].data[..], b"while tailed");
                assert_eq!(tip[0].offset, 1);
            } else {
                assert!(
                    matches!(tip, Err(riffle_store::StoreError::Corrupt { .. })),
                    "{mode:?}: without the cache the tip comes from the segment: {tip:?}"
                );
            }
            assert!(
                matches!(
                    log.read(0, 10, usize::MAX, Millis(0)),
                    Err(riffle_store::StoreError::Corrupt { .. })
                ),
                "{mode:?}: offset 0 was never cached"
            );
        }
    }
}
