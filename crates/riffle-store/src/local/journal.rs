//! The write-ahead journal: group commit for every shard with one file.
//!
//! In `sync` mode an append adds its batch to the journal's pending buffer,
//! and its shard log holds a copy back for its segment (*write-behind*:
//! `shard::ShardState::unwritten`). A sync thread takes everything pending
//! as one *round*: one `pwrite` to the journal file and one `fdatasync` of
//! it make every append in the round durable, however many shards they
//! touched. Flushing the shards' own
//! files instead took one `fdatasync` per shard or a `syncfs` of the whole
//! filesystem; measured on the bench VM with four shards, a `syncfs` took
//! 0.8 ms and four `fdatasync`s 1.5 ms, one `fdatasync` of one file 0.12 ms
//! (200 B) to 0.36 ms (60 KB).
//!
//! Every `LocalConfig::writeback_pace` the checkpoint thread has the logs
//! journaled to write what they hold back to their segments (one `pwrite`
//! each, in the page cache) and starts its writeback. Segments are made
//! durable later, by a *checkpoint*: the journal moves to a new file, the
//! logs journaled to since the last pass write theirs out, one `syncfs`
//! flushes every segment, and the old journal files are retired.
//! Checkpoints run on their own thread every
//! `LocalConfig::checkpoint_interval` while there is journal to retire, and
//! as soon as a file passes [`FILE_BYTES`]. After a crash, [`replay`]
//! writes every journaled batch back into its segment before any log is
//! opened.
//!
//! The newest retired file is kept as `spare.wal` and becomes the next
//! file the checkpoint after, written over from the start: a flush that
//! does not change a file's size writes no inode. Measured here, an
//! `fdatasync` after writing 60 KB took 0.56 ms at the end of a file and
//! 0.31 ms over old bytes (200 B: 0.22 and 0.16 ms). The old bytes cannot
//! be mistaken for new ones: every round names its file's sequence. A new
//! file, or a spare shorter than the file it replaces took, is written with
//! zeros to a quarter past that length (1 to 16 MiB, and flushed) before
//! rounds use it ([`prefill`]), so a load that grows still writes over old
//! bytes.
//!
//! Writing megabytes of zeros at once holds the device from the rounds'
//! flushes (a 10 MB prefill: an 8 ms flush, and a round's flush behind it
//! 7 ms), so the checkpoint thread writes the spare ahead in pieces
//! between checkpoints instead, one each writeback pass, toward what the
//! current file will need ([`Journal::prepare_next_file`]); the
//! checkpoint's own prefill is left to top up. And when rounds have
//! outgrown the current file's zeros (the first file after a start has
//! none: making it before the first request would slow startup) and the
//! spare can take them, the checkpoint comes at once rather than at the
//! interval: flushes that extend a file took 0.2 to 0.85 ms here, those
//! over old bytes 0.08 to 0.15 ms.
//!
//! ```text
//! <data-dir>/journal/<sequence, 20 digits>.wal
//! <data-dir>/journal/spare.wal
//!
//! round: one write, then one flush
//! offset size field
//!      0    4 entries_len   bytes of entries that follow the round header (u32 LE)
//!      4    4 crc32c        CRC32C of bytes 8..16 and of entries_len (u32 LE)
//!      8    8 sequence      the file's sequence number (anything else: the end)
//!     16    … entries
//!
//! entry:
//! offset size field
//!      0    4 batch_len     length of the batch that follows the header (u32 LE)
//!      4    4 crc32c        CRC32C of bytes 8..36 (u32 LE)
//!      8    8 stream_uid    the shard log's stream incarnation
//!     16    4 shard_index
//!     20    8 segment_base  base offset of the segment written to
//!     28    8 position      where in the segment the batch starts
//!     36    … batch         the batch as the segment holds it (its own CRC covers it)
//! ```

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use riffle_model::Millis;

use super::batch::{self, BatchHeader};
use super::lock::{Condvar, Mutex, MutexGuard};
use super::shard::LocalShardLog;
use super::{segment, shard_dir};
use crate::error::StoreError;
use crate::log::{ShardKey, SyncStarter};

/// Sync threads. One, where a flush covers everything written before it
/// (a virtual disk, a drive with a volatile cache): a round taken while
/// another's flush is on the device waits for that flush anyway, so a
/// second thread only split rounds in two, with twice the flushes and the
/// CPU each costs (about 60 µs here, in the kernel and the hypervisor).
/// Alternated on the bench VM, PutRecord from 64 clients: 35.0k → 38.1k
/// requests/s (means of seven pairs); PutRecords no worse. More threads
/// still work: rounds may then be published out of order
/// (`LocalShardLog::commit_journaled` allows for it).
const ROUND_THREADS: usize = 1;

/// A round whose appends go to at most this many new logs makes their
/// directory entries durable by syncing those directories (a stream's first
/// puts: its shards' directories, the stream's and the root, each once);
/// more, and one `syncfs` does it (the first puts after an UpdateShardCount
/// to thousands of shards). A `syncfs` also writes back every other file's
/// dirty data on the filesystem: measured here with 1.2 GB of an unrelated
/// file dirty, a stream's first PutRecord took 466 ms instead of 4 ms.
pub(crate) const NEW_LOGS_SYNCED_BY_DIRECTORY: usize = 8;

/// A journal file past this size is retired by a checkpoint at once.
const FILE_BYTES: u64 = 64 << 20;

/// The least and the most a new journal file is written to before use
/// (`prefill`). The most: a load that fills more between checkpoints puts
/// more requests in each round, so extending the file costs each request
/// less, and tens of megabytes of zeros would hold the device from the
/// rounds' flushes (this disk writes about 300 MB/s).
const PREFILL_MIN: u64 = 1 << 20;
const PREFILL_MAX: u64 = 16 << 20;

/// How much of the spare a writeback pass writes ahead. Its flush took
/// 1 to 1.7 ms here, and a round's flush may wait behind it: short enough
/// not to decide a tail, where a whole prefill at once (megabytes) did.
const SPARE_PIECE: u64 = 256 << 10;

const ROUND_HEADER_LEN: usize = 16;
const ENTRY_HEADER_LEN: usize = 36;
const SPARE_FILE: &str = "spare.wal";

/// The journal of one data directory and its threads.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    /// The logs directory, kept open for the checkpoint's `syncfs`.
    logs_root: PathBuf,
    logs_root_handle: File,
    state: Mutex<JournalState>,
    /// Bytes the shard logs hold back for their segments (write-behind),
    /// all together, and how many they may.
    held_back: AtomicUsize,
    held_back_max: usize,
    /// Whether `JournalState::poisoned` is set, read without the lock:
    /// every append checks it, and a sync thread holds the lock while it
    /// writes a round.
    is_poisoned: AtomicBool,
    /// One checkpoint at a time (the timer's and a shutdown's may meet).
    checkpointing: Mutex<()>,
    /// `syncfs` calls made, by rounds and checkpoints.
    filesystem_syncs: AtomicU64,
    /// Wakes a sync thread: something is pending.
    round_wake: Condvar,
    /// Wakes the checkpoint thread early: a file is full, or stop.
    checkpoint_wake: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Debug)]
struct JournalState {
    /// Entries added since the last round took them.
    pending: Vec<u8>,
    pending_commits: Vec<Commit>,
    /// Logs journaled to since the checkpoint thread last wrote out their
    /// held-back batches (`LocalShardLog::write_behind_now`), by address.
    dirty_logs: HashMap<usize, Arc<LocalShardLog>>,
    /// Logs with batches to sync in place (too large to journal).
    in_place: Vec<Arc<LocalShardLog>>,
    /// The file rounds append to.
    file: Arc<File>,
    file_sequence: u64,
    file_len: u64,
    /// How long the file was before rounds used it (zeros or old rounds):
    /// rounds past it extend the file, and their flushes are slower.
    file_written_ahead: u64,
    /// When rounds moved to the file.
    file_started: Instant,
    /// Rounds written but not yet acknowledged, oldest first.
    in_flight: VecDeque<Round>,
    /// Set by a failed write or flush: what reached the device is unknowable
    /// (fsyncgate), so no further append is accepted.
    poisoned: Option<StoreError>,
    stopped: bool,
    checkpoint_due: bool,
}

/// What a round's completion makes visible: one append to one shard.
#[derive(Debug)]
pub(crate) struct Commit {
    pub(crate) log: Arc<LocalShardLog>,
    pub(crate) segment_base: u64,
    /// The segment's length once this batch is in it.
    pub(crate) segment_len: u64,
    pub(crate) end_offset: u64,
    pub(crate) arrival: Millis,
}

impl JournalState {
    fn has_work(&self) -> bool {
        !self.pending_commits.is_empty() || !self.in_place.is_empty()
    }
}

/// A round written to the journal, to be flushed.
struct Written {
    file: Arc<File>,
    file_sequence: u64,
    end: u64,
    /// The round's logs whose directory entries are not yet durable, once each.
    new_logs: Vec<Arc<LocalShardLog>>,
}

#[derive(Debug)]
struct Round {
    file_sequence: u64,
    /// One past the round's last byte in its file.
    end: u64,
    /// Covered by a completed flush of its file (or a checkpoint).
    flushed: bool,
    /// The directory entries of the new logs in it are durable.
    entries_durable: bool,
    commits: Vec<Commit>,
}

impl SyncStarter for Journal {
    fn start_syncs(&self) {
        self.round_wake.notify_one();
    }
}

impl Journal {
    /// Starts a journal in `dir` (which [`replay`] has emptied) and its threads.
    pub(crate) fn start(
        dir: &Path,
        logs_root: &Path,
        checkpoint_interval: Duration,
        writeback_pace: Duration,
        held_back_max: usize,
    ) -> Result<Arc<Journal>, StoreError> {
        let file = create_file(dir, 0)?;
        let journal = Arc::new(Journal {
            dir: dir.to_owned(),
            logs_root: logs_root.to_owned(),
            logs_root_handle: File::open(logs_root).map_err(|e| StoreError::io(logs_root, e))?,
            state: Mutex::new(JournalState {
                pending: Vec::new(),
                pending_commits: Vec::new(),
                dirty_logs: HashMap::new(),
                in_place: Vec::new(),
                file: Arc::new(file),
                file_sequence: 0,
                file_len: 0,
                file_written_ahead: 0,
                file_started: Instant::now(),
                in_flight: VecDeque::new(),
                poisoned: None,
                stopped: false,
                checkpoint_due: false,
            }),
            held_back: AtomicUsize::new(0),
            held_back_max,
            is_poisoned: AtomicBool::new(false),
            checkpointing: Mutex::new(()),
            filesystem_syncs: AtomicU64::new(0),
            round_wake: Condvar::new(),
            checkpoint_wake: Condvar::new(),
            threads: Mutex::new(Vec::new()),
        });
        let mut threads: Vec<_> = (0..ROUND_THREADS)
            .map(|i| {
                let journal = journal.clone();
                std::thread::Builder::new()
                    .name(format!("riffle-sync-{i}"))
                    .spawn(move || journal.run_rounds())
                    .expect("spawn sync thread")
            })
            .collect();
        let checkpointer = journal.clone();
        threads.push(
            std::thread::Builder::new()
                .name("riffle-checkpoint".to_owned())
                .spawn(move || checkpointer.run_checkpoints(checkpoint_interval, writeback_pace))
                .expect("spawn checkpoint thread"),
        );
        *journal.threads.lock() = threads;
        Ok(journal)
    }

    /// Whether the shard logs together would hold back more than they may
    /// with `bytes` more (the caller then writes its own out first).
    pub(crate) fn held_back_past_max(&self, bytes: usize) -> bool {
        self.held_back.load(Ordering::Relaxed) + bytes > self.held_back_max
    }

    #[cfg(test)]
    pub(crate) fn held_back_bytes(&self) -> usize {
        self.held_back.load(Ordering::Relaxed)
    }

    /// Counts `bytes` a shard log now holds back for its segment.
    pub(crate) fn hold_back(&self, bytes: usize) {
        self.held_back.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts `bytes` a shard log held back as written to its segment.
    pub(crate) fn written_behind(&self, bytes: usize) {
        self.held_back.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Fails if an earlier write or flush failed: nothing more is accepted.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if !self.is_poisoned.load(Ordering::Acquire) {
            return Ok(());
        }
        match &self.state.lock().poisoned {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }

    /// Journals `batch`, bound for `position` of `key`'s segment
    /// `commit.segment_base` (written there now or held back by the log,
    /// see `ShardState::unwritten`); `commit` is published once it is
    /// durable. Call under the shard's lock, so a shard's entries are
    /// journaled in the order they were appended.
    pub(crate) fn add(
        self: &Arc<Self>,
        key: ShardKey,
        position: u64,
        batch: &[u8],
        commit: Commit,
    ) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        if let Some(err) = &state.poisoned {
            return Err(err.clone());
        }
        state
            .dirty_logs
            .entry(Arc::as_ptr(&commit.log) as usize)
            .or_insert_with(|| commit.log.clone());
        if state.pending.is_empty() {
            // Filled in when a round takes it (`write_round`).
            state.pending.extend_from_slice(&[0; ROUND_HEADER_LEN]);
        }
        let start = state.pending.len();
        let pending = &mut state.pending;
        pending.extend_from_slice(&(batch.len() as u32).to_le_bytes());
        pending.extend_from_slice(&[0; 4]);
        pending.extend_from_slice(&key.stream_uid.to_le_bytes());
        pending.extend_from_slice(&key.shard_index.to_le_bytes());
        pending.extend_from_slice(&commit.segment_base.to_le_bytes());
        pending.extend_from_slice(&position.to_le_bytes());
        let crc = crc32c::crc32c(&pending[start + 8..start + ENTRY_HEADER_LEN]);
        pending[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        pending.extend_from_slice(batch);
        let start_coming = state.has_work();
        state.pending_commits.push(commit);
        drop(state);
        self.start_round_unless(start_coming);
        Ok(())
    }

    /// Queues `log`, which has batches too large to journal, for the next
    /// round to sync in place.
    pub(crate) fn enqueue_in_place(self: &Arc<Self>, log: Arc<LocalShardLog>) {
        let mut state = self.state.lock();
        let start_coming = state.has_work();
        state.in_place.push(log);
        drop(state);
        self.start_round_unless(start_coming);
    }

    /// Starts a round now, or when the caller's `AppendBatch` ends. Only
    /// the first piece of work since the last round took everything starts
    /// one: later ones find a start already coming (a woken thread that has
    /// not taken the work yet, or an `AppendBatch` that will wake one), and
    /// waking the other thread too would split the round in two.
    fn start_round_unless(self: &Arc<Self>, start_coming: bool) {
        if !start_coming {
            crate::log::start_syncs(self.clone());
        }
    }

    /// A sync thread: take everything pending, write it, flush it, publish.
    fn run_rounds(&self) {
        let mut recycled = Vec::new();
        loop {
            let mut state = self.state.lock();
            while !state.has_work() && !state.stopped {
                state = self.round_wake.wait(state);
            }
            if !state.has_work() {
                return;
            }
            let in_place = std::mem::take(&mut state.in_place);
            let commits = std::mem::take(&mut state.pending_commits);
            let mut bytes = std::mem::replace(&mut state.pending, std::mem::take(&mut recycled));
            let journaled = if commits.is_empty() {
                drop(state);
                None
            } else {
                self.write_round(state, &mut bytes, commits)
            };
            bytes.clear();
            if bytes.capacity() <= 8 << 20 {
                recycled = bytes;
            }
            match (journaled, in_place.as_slice()) {
                (None, []) => {}
                // One log alone: one `fdatasync` of its own files.
                (None, [log]) => {
                    let _ = log.sync_now();
                }
                // A round holding new logs also makes their directory
                // entries durable: by syncing those directories, or with
                // many new logs one `syncfs` that covers the journal too.
                (Some(written), []) => {
                    let by_filesystem = written.new_logs.len() > NEW_LOGS_SYNCED_BY_DIRECTORY;
                    let flushed = if by_filesystem {
                        self.sync_filesystem()
                    } else {
                        LocalShardLog::sync_entries_of(written.new_logs.iter().map(|l| &**l))
                            .and_then(|()| {
                                written.file.sync_data().map_err(|e| {
                                    StoreError::io(self.file_path(written.file_sequence), e)
                                })
                            })
                    };
                    self.publish_written(&written, flushed, by_filesystem);
                }
                // Several files: one `syncfs` for all of them.
                (written, logs) => {
                    let flushed = LocalShardLog::sync_many(logs, || self.sync_filesystem());
                    if let Some(written) = written {
                        self.publish_written(&written, flushed, true);
                    }
                }
            }
        }
    }

    /// Writes a round's entries to the journal file. Under the lock, so the
    /// file holds rounds in the order they were taken and a flush covers
    /// every earlier round in its file. `None` if the journal is poisoned
    /// (the commits are failed).
    fn write_round(
        &self,
        mut state: MutexGuard<'_, JournalState>,
        bytes: &mut [u8],
        commits: Vec<Commit>,
    ) -> Option<Written> {
        if let Some(err) = state.poisoned.clone() {
            drop(state);
            fail(commits, &err);
            return None;
        }
        let mut new_logs: Vec<Arc<LocalShardLog>> = commits
            .iter()
            .filter(|c| !c.log.entries_are_durable())
            .map(|c| c.log.clone())
            .collect();
        new_logs.sort_by_key(Arc::as_ptr);
        new_logs.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let entries_durable = new_logs.is_empty();
        let file = state.file.clone();
        let file_sequence = state.file_sequence;
        fill_round_header(bytes, file_sequence);
        if let Err(e) = file.write_all_at(bytes, state.file_len) {
            let err = StoreError::io(self.file_path(file_sequence), e);
            self.poison(state, err, commits);
            return None;
        }
        state.file_len += bytes.len() as u64;
        let end = state.file_len;
        if end >= FILE_BYTES && !state.checkpoint_due {
            state.checkpoint_due = true;
            self.checkpoint_wake.notify_one();
        }
        state.in_flight.push_back(Round {
            file_sequence,
            end,
            flushed: false,
            entries_durable,
            commits,
        });
        Some(Written {
            file,
            file_sequence,
            end,
            new_logs,
        })
    }

    /// Publishes the outcome of the flush that followed writing `written`.
    fn publish_written(
        &self,
        written: &Written,
        flushed: Result<(), StoreError>,
        filesystem_synced: bool,
    ) {
        let state = self.state.lock();
        match flushed {
            // The flush covered this round and every earlier one in its file.
            Ok(()) => self.publish_flushed(
                state,
                |round| round.file_sequence == written.file_sequence && round.end <= written.end,
                filesystem_synced,
            ),
            Err(err) => self.poison(state, err, Vec::new()),
        }
    }

    fn sync_filesystem(&self) -> Result<(), StoreError> {
        self.filesystem_syncs.fetch_add(1, Ordering::Relaxed);
        super::sync_filesystem_of(&self.logs_root_handle, &self.logs_root)
    }

    #[cfg(test)]
    pub(crate) fn filesystem_syncs(&self) -> u64 {
        self.filesystem_syncs.load(Ordering::Relaxed)
    }

    /// Marks the rounds `covered` by a completed flush as flushed, and as
    /// having durable directory entries after a `syncfs` or once each of
    /// their logs has them, then acknowledges every round at the front that
    /// is both, in order.
    fn publish_flushed(
        &self,
        mut state: MutexGuard<'_, JournalState>,
        covered: impl Fn(&Round) -> bool,
        filesystem_synced: bool,
    ) {
        for round in &mut state.in_flight {
            if covered(round) {
                round.flushed = true;
                round.entries_durable |=
                    filesystem_synced || round.commits.iter().all(|c| c.log.entries_are_durable());
            }
        }
        let mut ready = Vec::new();
        while state
            .in_flight
            .front()
            .is_some_and(|r| r.flushed && r.entries_durable)
        {
            ready.push(state.in_flight.pop_front().expect("front exists"));
        }
        drop(state);
        // Each log's commits together, in their order: one lock of each
        // shard however many of its appends the rounds held.
        let mut commits: Vec<&Commit> = ready.iter().flat_map(|r| &r.commits).collect();
        commits.sort_by_key(|c| Arc::as_ptr(&c.log));
        for same_log in commits.chunk_by(|a, b| Arc::ptr_eq(&a.log, &b.log)) {
            same_log[0].log.commit_journaled(same_log.iter().copied());
        }
    }

    /// After a failed write or flush: refuse everything from now on and
    /// fail every append not yet acknowledged.
    fn poison(
        &self,
        mut state: MutexGuard<'_, JournalState>,
        err: StoreError,
        mut commits: Vec<Commit>,
    ) {
        tracing::error!(error = %err, "journal write or flush failed; the store refuses further writes");
        state.poisoned.get_or_insert(err.clone());
        self.is_poisoned.store(true, Ordering::Release);
        for round in state.in_flight.drain(..) {
            commits.extend(round.commits);
        }
        commits.append(&mut state.pending_commits);
        state.pending.clear();
        drop(state);
        fail(commits, &err);
    }

    /// The checkpoint thread: retire the journal every `interval` while it
    /// has entries, or at once when a file is full.
    ///
    /// In between, every `writeback_pace` (20 ms by default), it writes out
    /// the batches the logs journaled to since the last pass hold back, and
    /// starts their writeback, so the device writes them as they come instead of all at
    /// the checkpoint. (Left to the checkpoint, a second's worth of
    /// PutRecords, about 50 MB here, held the device for a few hundred
    /// milliseconds, and every journal flush behind it.)
    fn run_checkpoints(&self, interval: Duration, writeback_pace: Duration) {
        let mut next_checkpoint = Instant::now() + interval;
        loop {
            let dirty = {
                let mut state = self.state.lock();
                if !state.stopped && !state.checkpoint_due {
                    let wait = next_checkpoint
                        .saturating_duration_since(Instant::now())
                        .min(writeback_pace);
                    state = self.checkpoint_wake.wait_for(state, wait);
                }
                if state.stopped {
                    return;
                }
                if !state.checkpoint_due && Instant::now() < next_checkpoint {
                    Some(())
                } else {
                    None
                }
            };
            match dirty {
                Some(()) => {
                    let move_on = {
                        // Not during a checkpoint, which must find every log
                        // whose held-back batches are in the files it retires
                        // either written or in `dirty_logs`.
                        let _one_at_a_time = self.checkpointing.lock();
                        let dirty = std::mem::take(&mut self.state.lock().dirty_logs);
                        if let Err(err) = self.write_behind(dirty.into_values(), true) {
                            tracing::error!(error = %err, "journal writeback pass failed");
                        }
                        self.prepare_next_file(interval)
                    };
                    if move_on {
                        next_checkpoint = Instant::now() + interval;
                        if let Err(err) = self.checkpoint() {
                            tracing::error!(error = %err, "journal checkpoint failed");
                        }
                    }
                }
                None => {
                    next_checkpoint = Instant::now() + interval;
                    if let Err(err) = self.checkpoint() {
                        tracing::error!(error = %err, "journal checkpoint failed");
                    }
                }
            }
        }
    }

    /// After a writeback pass: whether rounds have outgrown the current
    /// file's written-ahead part and the spare can take them, so that a
    /// checkpoint should move them now. If not, writes the spare one
    /// [`SPARE_PIECE`] further toward what the next checkpoint will want: a
    /// quarter more than the current file holds at this rate over a whole
    /// `interval`. Nothing while the journal is idle.
    fn prepare_next_file(&self, interval: Duration) -> bool {
        let (file_len, written_ahead, age) = {
            let state = self.state.lock();
            if state.poisoned.is_some() {
                return false;
            }
            (
                state.file_len,
                state.file_written_ahead,
                state.file_started.elapsed(),
            )
        };
        if file_len == 0 {
            return false;
        }
        let path = self.dir.join(SPARE_FILE);
        let spare_len = fs::metadata(&path).map_or(0, |m| m.len());
        if file_len > written_ahead && spare_len >= prefill_target(file_len) {
            return true;
        }
        let elapsed = age.as_secs_f64().max(1e-3);
        let projected = (file_len as f64 * interval.as_secs_f64() / elapsed).min(FILE_BYTES as f64);
        let target = prefill_target(projected as u64);
        if spare_len < target {
            let written = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| StoreError::io(&path, e))
                .and_then(|spare| prefill(&spare, &path, target.min(spare_len + SPARE_PIECE)));
            if let Err(err) = written {
                tracing::warn!(error = %err, "could not write the spare journal file ahead");
            }
        }
        false
    }

    /// Moves rounds to a new journal file, has the logs write out what
    /// they hold back, makes every segment durable with one `syncfs`, and
    /// deletes the old files: everything they hold is then in its segment.
    /// If a log cannot write (a full disk), nothing is retired and the
    /// journal is poisoned (`write_behind`).
    pub(crate) fn checkpoint(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.checkpointing.lock();
        let (next_sequence, retiring_len) = {
            let mut state = self.state.lock();
            state.checkpoint_due = false;
            if state.file_len == 0 || state.poisoned.is_some() {
                return Ok(());
            }
            (state.file_sequence + 1, state.file_len)
        };
        // Made (and its entry made durable) before any round uses it, and
        // written as long as the next interval is likely to need. A file
        // that could not be (a full disk) still works: rounds extend it.
        let next = next_file(&self.dir, next_sequence)?;
        let target = prefill_target(retiring_len);
        if let Err(err) = prefill(&next, &self.file_path(next_sequence), target) {
            tracing::warn!(error = %err, "could not write the next journal file ahead");
        }
        let written_ahead = next.metadata().map_or(0, |m| m.len());
        let (retired, dirty) = {
            let mut state = self.state.lock();
            state.file = Arc::new(next);
            state.file_len = 0;
            state.file_written_ahead = written_ahead;
            state.file_started = Instant::now();
            (
                std::mem::replace(&mut state.file_sequence, next_sequence),
                std::mem::take(&mut state.dirty_logs),
            )
        };
        // Every batch in the retired files is in its segment's file once
        // the logs journaled to since the last pass have written theirs.
        self.write_behind(dirty.into_values(), false)?;
        let synced = self.sync_filesystem();
        let state = self.state.lock();
        if let Err(err) = synced {
            self.poison(state, err.clone(), Vec::new());
            return Err(err);
        }
        // The syncfs covered every round written to the retired files, and
        // the directory entries of their logs.
        self.publish_flushed(state, |round| round.file_sequence <= retired, true);
        retire_files_through(&self.dir, retired);
        Ok(())
    }

    /// Has `logs` write out the batches they hold back, starting their
    /// writeback if `start_writeback`. A failure poisons the journal, as a
    /// failed journal write does: the files holding those batches can no
    /// longer be retired, so nothing more is accepted (a restart replays
    /// them) rather than the journal growing behind one full disk.
    fn write_behind(
        &self,
        logs: impl Iterator<Item = Arc<LocalShardLog>>,
        start_writeback: bool,
    ) -> Result<(), StoreError> {
        for log in logs {
            match log.write_behind_now() {
                Ok(Some(file)) if start_writeback => segment::start_writeback(&file, 0, 0),
                Ok(_) => {}
                Err(err) => {
                    self.poison(self.state.lock(), err.clone(), Vec::new());
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn file_path(&self, sequence: u64) -> PathBuf {
        self.dir.join(file_name(sequence))
    }

    /// Stops the threads after the pending appends are journaled and flushed.
    pub(crate) fn stop(&self) {
        self.state.lock().stopped = true;
        self.round_wake.notify_all();
        self.checkpoint_wake.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock());
        for thread in threads {
            let _ = thread.join();
        }
        // The logs hold the journal: without this, a store dropped without
        // a clean shutdown would keep them all (what they hold back is in
        // the journal, which the next start replays).
        self.state.lock().dirty_logs.clear();
    }
}

fn fail(commits: Vec<Commit>, err: &StoreError) {
    for commit in commits {
        commit.log.fail_journaled(err);
    }
}

fn file_name(sequence: u64) -> String {
    format!("{sequence:020}.wal")
}

fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn create_file(dir: &Path, sequence: u64) -> Result<File, StoreError> {
    let path = dir.join(file_name(sequence));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
    segment::sync_dir(dir)?;
    Ok(file)
}

/// The file for `sequence`: the spare renamed if there is one (its old
/// rounds name another sequence), else a new one.
fn next_file(dir: &Path, sequence: u64) -> Result<File, StoreError> {
    let path = dir.join(file_name(sequence));
    if fs::rename(dir.join(SPARE_FILE), &path).is_err() {
        return create_file(dir, sequence);
    }
    let file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::io(&path, e))?;
    segment::sync_dir(dir)?;
    Ok(file)
}

/// How much of the next journal file to have written before rounds use it,
/// when the file being retired took `retiring_len`: a quarter more, so a
/// load that grows a little still writes over old bytes.
fn prefill_target(retiring_len: u64) -> u64 {
    (retiring_len + retiring_len / 4).clamp(PREFILL_MIN, PREFILL_MAX)
}

/// Writes zeros over `file` from its end to `target` and flushes them, so
/// that the rounds to come write over old bytes: a flush that does not
/// change a file's size writes only the data. Measured here (`pwrite` of
/// 2 KiB then `fdatasync`, 5,000 times), at the end of a file: 228 µs and
/// 90 µs of CPU a flush; over old bytes: 139 µs and 54 µs of CPU.
/// Zeros read as the end of the file (a round header with no entries).
fn prefill(file: &File, path: &Path, target: u64) -> Result<(), StoreError> {
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    let io = |e| StoreError::io(path, e);
    let mut len = file.metadata().map_err(io)?.len();
    if len >= target {
        return Ok(());
    }
    while len < target {
        let chunk = (target - len).min(ZEROS.len() as u64) as usize;
        file.write_all_at(&ZEROS[..chunk], len).map_err(io)?;
        len += chunk as u64;
    }
    file.sync_data().map_err(io)
}

/// Stamps a round's header: its entries' length and the file's sequence.
fn fill_round_header(round: &mut [u8], sequence: u64) {
    let entries_len = (round.len() - ROUND_HEADER_LEN) as u32;
    round[0..4].copy_from_slice(&entries_len.to_le_bytes());
    round[8..16].copy_from_slice(&sequence.to_le_bytes());
    let crc = round_header_crc(&round[..ROUND_HEADER_LEN]);
    round[4..8].copy_from_slice(&crc.to_le_bytes());
}

fn round_header_crc(header: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&header[8..16]), &header[0..4])
}

/// The journal files in `dir`, oldest first.
fn list_files(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut sequences: Vec<u64> = fs::read_dir(dir)
        .map_err(|e| StoreError::io(dir, e))?
        .filter_map(|entry| entry.ok()?.file_name().to_str().and_then(parse_file_name))
        .collect();
    sequences.sort_unstable();
    Ok(sequences)
}

/// Retires the journal files up to `last`: the newest becomes the spare,
/// the others are deleted. Not made durable: a file that comes back after
/// a crash only rewrites bytes its segments already hold (segments are
/// append-only, and only recovery truncates them, after it has deleted the
/// journal durably).
fn retire_files_through(dir: &Path, last: u64) {
    let Ok(sequences) = list_files(dir) else {
        return;
    };
    let mut retired: Vec<u64> = sequences.into_iter().filter(|&s| s <= last).collect();
    if let Some(newest) = retired.pop() {
        let path = dir.join(file_name(newest));
        if fs::rename(&path, dir.join(SPARE_FILE)).is_err() {
            retired.push(newest);
        }
    }
    for sequence in retired {
        let path = dir.join(file_name(sequence));
        if let Err(err) = fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %err, "could not delete a retired journal file");
        }
    }
}

/// Replays the journal in `dir` into the segments under `logs_root`, makes
/// them durable, and deletes the journal. Run before any log is opened.
/// Returns how many batches were written back.
///
/// An entry whose segment no longer exists is skipped: its stream or shard
/// was deleted, or retention removed the segment. (The directory entries of
/// a new log are durable before anything written to it is acknowledged.)
/// A file's torn tail (a round whose flush never completed) is ignored.
pub(crate) fn replay(dir: &Path, logs_root: &Path) -> Result<usize, StoreError> {
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        // The journal's files are found through this entry.
        if let Some(parent) = dir.parent() {
            segment::sync_dir(parent)?;
        }
    }
    let sequences = list_files(dir)?;
    let mut replayed = 0;
    // Entries read, written back or skipped.
    let mut entries = 0;
    let mut segments: HashMap<PathBuf, Option<File>> = HashMap::new();
    for &sequence in &sequences {
        let path = dir.join(file_name(sequence));
        let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut header = [0u8; ENTRY_HEADER_LEN];
        let mut batch_bytes = Vec::new();
        // Entry bytes left in the current round.
        let mut round_left = 0usize;
        loop {
            if round_left == 0 {
                let mut round = [0u8; ROUND_HEADER_LEN];
                if !read_whole(&mut reader, &mut round).map_err(|e| StoreError::io(&path, e))? {
                    break;
                }
                let entries_len = u32::from_le_bytes(round[0..4].try_into().expect("4 bytes"));
                let crc = u32::from_le_bytes(round[4..8].try_into().expect("4 bytes"));
                let round_sequence = u64::from_le_bytes(round[8..16].try_into().expect("8 bytes"));
                // A torn round header, or an old round of a recycled file: the end.
                if round_header_crc(&round) != crc || round_sequence != sequence || entries_len == 0
                {
                    break;
                }
                round_left = entries_len as usize;
                continue;
            }
            match read_entry(&mut reader, &mut header, &mut batch_bytes) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(StoreError::io(&path, e)),
            }
            let Some(left) = round_left.checked_sub(ENTRY_HEADER_LEN + batch_bytes.len()) else {
                tracing::warn!(path = %path.display(), "journal entry overruns its round; ignoring the rest of the file");
                break;
            };
            round_left = left;
            let field = |at: usize, len: usize| {
                header[at..at + len]
                    .iter()
                    .rev()
                    .fold(0u64, |n, &b| (n << 8) | u64::from(b))
            };
            let crc = field(4, 4) as u32;
            if crc32c::crc32c(&header[8..]) != crc {
                tracing::warn!(path = %path.display(), "journal entry header checksum mismatch; ignoring the rest of the file");
                break;
            }
            let Some(batch_header) =
                BatchHeader::parse(&batch_bytes).filter(|h| batch::verify(&batch_bytes, h))
            else {
                tracing::warn!(path = %path.display(), "torn journal entry; ignoring the rest of the file");
                break;
            };
            let key = ShardKey {
                stream_uid: field(8, 8),
                shard_index: field(16, 4) as u32,
            };
            entries += 1;
            let segment_base = field(20, 8);
            let position = field(28, 8);
            debug_assert!(batch_header.base_offset >= segment_base);
            let segment_path = shard_dir(logs_root, key).join(segment::file_name(segment_base));
            let segment = segments
                .entry(segment_path.clone())
                .or_insert_with(|| OpenOptions::new().write(true).open(&segment_path).ok());
            let Some(segment) = segment else {
                continue;
            };
            segment
                .write_all_at(&batch_bytes, position)
                .map_err(|e| StoreError::io(&segment_path, e))?;
            replayed += 1;
        }
    }
    let spare = dir.join(SPARE_FILE);
    if entries > 0 {
        // The replayed segments, durable before the journal goes.
        super::sync_filesystem(logs_root)?;
    }
    // Files without entries (what a clean shutdown leaves) need no flush:
    // one that comes back is as empty as it went.
    if !sequences.is_empty() || spare.exists() {
        for sequence in sequences {
            let path = dir.join(file_name(sequence));
            fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
        }
        match fs::remove_file(&spare) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&spare, e)),
        }
        if entries > 0 {
            // Durably gone before recovery may truncate a segment, so an
            // old entry can never be written over newer data.
            segment::sync_dir(dir)?;
        }
    }
    if replayed > 0 {
        tracing::info!(batches = replayed, "replayed the journal");
    }
    Ok(replayed)
}

/// Reads one entry into `header` and `batch`. `Ok(false)` at the end of
/// the file or at a torn entry (too short to be whole).
fn read_entry(
    reader: &mut impl Read,
    header: &mut [u8; ENTRY_HEADER_LEN],
    batch: &mut Vec<u8>,
) -> io::Result<bool> {
    if !read_whole(reader, header)? {
        return Ok(false);
    }
    let batch_len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
    if !(batch::HEADER_LEN..=batch::PREFIX_LEN + batch::BODY_LEN_MAX).contains(&batch_len) {
        return Ok(false);
    }
    batch.resize(batch_len, 0);
    read_whole(reader, batch)
}

/// Fills `buf`; `Ok(false)` if the input ends first.
fn read_whole(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}
