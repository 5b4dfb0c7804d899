//! A shard's log on local disk: its segments, appends, reads and recovery.

use std::collections::VecDeque;
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use riffle_model::Millis;
use tokio::sync::{oneshot, watch};

use super::batch::{self, BatchHeader, Take};
use super::journal::Commit;
use super::lock::Mutex;
use super::segment::{self, BatchCursor, Segment, SegmentView, Tail};
use super::tail::{TailBudget, TailCache, TipReads};
use super::{Committer, LocalConfig};
use crate::error::StoreError;
use crate::log::{Appended, Durability, Durable, LogBounds, ShardKey, ShardLog};
use crate::record::{NewRecord, Record};

/// In-place appends of at least this many bytes start their writeback at
/// once (see `segment::start_writeback`).
const EARLY_WRITEBACK_BYTES: usize = 4096;

/// `sync` mode journals batches up to this size and syncs larger ones in
/// place. Measured on the bench VM (a device that writes about 300 MB/s):
/// PutRecords of 500 × 100 B into 4 shards (16 KB per shard) did 460k
/// records/s synced in place and 520k journaled; 500 × 1 KiB (130 KB per
/// shard) fell from 183 to 139–152 MB/s journaled, the device writing every
/// byte twice.
const JOURNAL_BATCH_BYTES_MAX: usize = 32 * 1024;

/// Journaled batches held back from the segment file (`ShardState::unwritten`)
/// are written out by the append that would take them past this size (or
/// all shards' past `LocalConfig::held_back_bytes`), if the journal's
/// writeback pass (`LocalConfig::writeback_pace`) has not written them first.
const WRITE_BEHIND_BYTES_MAX: usize = 256 * 1024;

/// A shard log stored as segment files in one directory.
#[derive(Debug)]
pub struct LocalShardLog {
    key: ShardKey,
    dir: PathBuf,
    config: LocalConfig,
    /// What makes appends durable: the journal (`sync`), the interval
    /// syncer, or nothing.
    committer: Committer,
    /// Lets `append` hand the journal or the syncer an `Arc` of this log.
    this: Weak<LocalShardLog>,
    /// Set while the log waits for a sync of its own files, so it is queued
    /// once however many appends arrive before the next sync.
    queued_for_sync: AtomicBool,
    /// Whether the directory entries of a newly created log (its directory
    /// and first segment) are durable. Syncing them is left to the log's
    /// first sync, which must precede any acknowledgement anyway: creating
    /// a 10,000-shard stream then costs no directory fsyncs (it took 3 s of
    /// them, three per shard).
    entries_durable: AtomicBool,
    state: Mutex<ShardState>,
    /// When a reader last had everything committed: while recent, the
    /// newest batches are kept in memory (`ShardState::tail`).
    tip_reads: TipReads,
    /// Publishes the committed end to readers waiting for new records.
    commits: watch::Sender<u64>,
    /// Serialises syncs of this log (see `sync_now`).
    sync_lock: Mutex<()>,
}

#[derive(Debug)]
struct ShardState {
    /// Oldest first; the last one is the active segment being appended to.
    segments: Vec<Segment>,
    /// One past the last committed record: readers stop here.
    committed_end: u64,
    committed_last_arrival: Option<Millis>,
    /// End of the last batch synced in place rather than journaled (see
    /// `JOURNAL_BATCH_BYTES_MAX`).
    in_place_end: u64,
    /// Appends waiting for a sync that covers `end_offset`.
    waiters: VecDeque<(u64, oneshot::Sender<Result<(), StoreError>>)>,
    /// Set after a failed sync: what the kernel did with those pages is
    /// unknowable (fsyncgate), so the log refuses further writes.
    poisoned: bool,
    encode_buf: Vec<u8>,
    /// Journaled batches not yet written to the active segment, where they
    /// start at `unwritten_at`: *write-behind*. A journaled batch is durable
    /// once the journal is flushed, so its segment copy may wait, and the
    /// journal's writeback pass (or the next checkpoint, which must write it
    /// before it retires the journal) writes a shard's batches out with one
    /// `pwrite` instead of one per append under this lock. Anything that
    /// reads the segment file or seals it writes them first
    /// (`write_behind`). PutRecords, 4 connections: 11–18% more records a
    /// second (docs/performance.md, "Write-behind").
    unwritten: Vec<u8>,
    unwritten_at: u64,
    /// How many bytes the log held back last time: the next buffer starts
    /// with that much room, so a busy shard's does not grow by doubling
    /// (a `realloc` copy of everything held so far, each time).
    unwritten_last_len: usize,
    /// The newest batches, for readers at the tip.
    tail: TailCache,
}

impl ShardState {
    fn active(&mut self) -> &mut Segment {
        self.segments
            .last_mut()
            .expect("a shard log always has an active segment")
    }

    fn next_offset(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.end_offset)
    }

    fn last_arrival(&self) -> Option<Millis> {
        self.segments.iter().rev().find_map(|s| s.last_arrival)
    }
}

impl LocalShardLog {
    /// Opens the log in `dir`, creating it if needed, and recovers it. A
    /// sealed segment opens from the index it left beside itself when it was
    /// sealed; without a valid one it is scanned and checked. The active
    /// segment is always scanned, and a torn tail (a batch that was being
    /// written when the process died) is cut off. So startup reads about one
    /// segment per shard, however much data the log retains.
    pub(crate) fn open(
        key: ShardKey,
        dir: PathBuf,
        config: LocalConfig,
        committer: Committer,
        tail_budget: Arc<TailBudget>,
    ) -> Result<Arc<LocalShardLog>, StoreError> {
        // An existing log is listed straight away (startup opens thousands);
        // a new one is created, its directory entries made durable by its
        // first sync (`entries_durable`).
        let mut entries_durable = true;
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
                entries_durable = false;
                fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))?
            }
            Err(e) => return Err(StoreError::io(&dir, e)),
        };
        let mut bases: Vec<u64> = entries
            .filter_map(|entry| {
                entry
                    .ok()?
                    .file_name()
                    .to_str()
                    .and_then(segment::parse_file_name)
            })
            .collect();
        bases.sort_unstable();

        let mut segments: Vec<Segment> = Vec::with_capacity(bases.len().max(1));
        let last_base = bases.last().copied();
        for base in bases {
            let path = dir.join(segment::file_name(base));
            let sealed = Some(base) != last_base;
            let segment = match sealed
                .then(|| Segment::open_sealed(path.clone(), base))
                .flatten()
            {
                Some(indexed) => indexed,
                None => recover_segment(path, base, sealed)?,
            };
            if segments
                .last()
                .is_some_and(|previous| base < previous.end_offset)
            {
                return Err(StoreError::Corrupt {
                    path: segment.path,
                    position: 0,
                    reason: "segments overlap",
                });
            }
            segments.push(segment);
        }
        // What a crashed process wrote may have been only in the page cache;
        // `LocalLogStore::open` synced the whole filesystem before any log is
        // opened, so readers never see what a power loss could take back.
        if segments.is_empty() {
            segments.push(Segment::create(&dir, 0)?);
            entries_durable = false;
        }
        let committed_end = segments.last().map_or(0, |s| s.end_offset);
        let committed_last_arrival = segments.iter().rev().find_map(|s| s.last_arrival);
        let state = ShardState {
            segments,
            committed_end,
            committed_last_arrival,
            in_place_end: 0,
            waiters: VecDeque::new(),
            poisoned: false,
            encode_buf: Vec::new(),
            unwritten: Vec::new(),
            unwritten_at: 0,
            unwritten_last_len: 0,
            tail: TailCache::new(tail_budget),
        };
        Ok(Arc::new_cyclic(|this| LocalShardLog {
            key,
            dir,
            config,
            committer,
            this: this.clone(),
            queued_for_sync: AtomicBool::new(false),
            entries_durable: AtomicBool::new(entries_durable),
            tip_reads: TipReads::default(),
            commits: watch::Sender::new(committed_end),
            sync_lock: Mutex::new(()),
            state: Mutex::new(state),
        }))
    }

    fn poisoned_error(&self) -> StoreError {
        StoreError::Poisoned {
            path: self.dir.clone(),
        }
    }

    /// Seals the active segment and starts a new one. The sealed segment is
    /// synced first, so only the active segment can ever have a torn tail.
    fn roll(&self, state: &mut ShardState) -> Result<(), StoreError> {
        self.write_behind(state)?;
        let next_offset = state.next_offset();
        let active = state.active();
        let sealed_len = active.len;
        if self.config.durability != Durability::None
            && let Err(e) = active.file.sync_data()
        {
            // After a failed sync the kernel may have dropped the dirty pages;
            // a later "successful" sync would prove nothing (fsyncgate).
            let err = StoreError::io(&active.path, e);
            tracing::error!(error = %err, "fdatasync failed while sealing a segment; shard log refuses further writes");
            poison(state, &err);
            return Err(err);
        }
        if self.config.durability != Durability::None {
            state.active().synced_len = sealed_len;
            // Only a synced segment may be described by an index: after a
            // crash, an unsynced one could hold less than its index says.
            state.active().write_index();
        }
        tracing::info!(dir = %self.dir.display(), base_offset = next_offset, "rolling segment");
        let segment = Segment::create(&self.dir, next_offset)?;
        if self.config.durability != Durability::None {
            segment::sync_dir(&self.dir)?;
        }
        state.segments.push(segment);
        Ok(())
    }

    /// Makes everything written so far durable and visible, and answers the
    /// appends waiting on it. Called by the syncer, and at shutdown.
    pub(crate) fn sync_now(&self) -> Result<(), StoreError> {
        // One sync of this log at a time: a writeback error is reported to
        // only one of two concurrent fsyncs of a file, and the other must not
        // acknowledge what may have been lost.
        let _syncing = self.sync_lock.lock();
        let plan = self.plan_sync()?;
        let synced = self.sync_entries().and_then(|()| {
            plan.to_sync.iter().try_for_each(|(file, path, _, _)| {
                file.sync_data().map_err(|e| StoreError::io(path, e))
            })
        });
        self.finish_sync(plan, synced)
    }

    /// Makes a new log's directory entries durable (once): its directory in
    /// the stream's, the stream's in the root, and the first segment's.
    fn sync_entries(&self) -> Result<(), StoreError> {
        LocalShardLog::sync_entries_of([self])
    }

    /// [`sync_entries`](Self::sync_entries) for several logs, each
    /// directory synced once (a stream's shards share two of their three).
    pub(crate) fn sync_entries_of<'l>(
        logs: impl IntoIterator<Item = &'l LocalShardLog> + Clone,
    ) -> Result<(), StoreError> {
        let mut dirs = std::collections::BTreeSet::new();
        for log in logs.clone() {
            if !log.entries_durable.load(Ordering::Acquire) {
                dirs.extend(log.dir.ancestors().take(3));
            }
        }
        for dir in dirs {
            segment::sync_dir(dir)?;
        }
        for log in logs {
            log.entries_durable.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Syncs many logs with one filesystem-wide `flush` (a `syncfs`) instead
    /// of one `fdatasync` each, and returns its outcome. Logs whose sync is
    /// already under way elsewhere are synced on their own afterwards.
    pub(crate) fn sync_many(
        logs: &[Arc<LocalShardLog>],
        flush: impl FnOnce() -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut busy = Vec::new();
        let mut batch = Vec::with_capacity(logs.len());
        for log in logs {
            match log.sync_lock.try_lock() {
                Some(guard) => batch.push((log, guard)),
                None => busy.push(log),
            }
        }
        let plans: Vec<_> = batch.iter().map(|(log, _)| log.plan_sync()).collect();
        let flushed = flush();
        for ((log, _guard), plan) in batch.iter().zip(plans) {
            if flushed.is_ok() {
                // A filesystem-wide flush made the directory entries durable too.
                log.entries_durable.store(true, Ordering::Release);
            }
            // Failures are logged and reported to the waiting appends.
            if let Ok(plan) = plan {
                let _ = log.finish_sync(plan, flushed.clone());
            }
        }
        drop(batch);
        for log in busy {
            let _ = log.sync_now();
        }
        flushed
    }

    /// Whether the log's directory entries are durable (see `entries_durable`).
    pub(crate) fn entries_are_durable(&self) -> bool {
        self.entries_durable.load(Ordering::Acquire)
    }

    /// Publishes appends to this log that the journal made durable, oldest
    /// first: their records become visible and the appends up to the last
    /// are acknowledged. The journal acknowledges a round only once its
    /// logs' directory entries are durable too. One call per log per
    /// acknowledgement, so the sync thread takes the shard's lock once
    /// however many of its appends the rounds held (appends wait for that
    /// lock).
    pub(crate) fn commit_journaled<'c>(&self, commits: impl IntoIterator<Item = &'c Commit>) {
        self.entries_durable.store(true, Ordering::Release);
        let mut state = self.state.lock();
        if state.poisoned {
            return;
        }
        let mut last = None;
        for commit in commits {
            for segment in &mut state.segments {
                if segment.base_offset < commit.segment_base {
                    // Sealed (and synced) before this batch was appended:
                    // all of it may be read. Several sync threads can
                    // publish consecutive rounds in either order, so the
                    // round that ends this segment may not be applied yet;
                    // without this a reader would skip its records.
                    segment.committed_len = segment.len;
                } else if segment.base_offset == commit.segment_base {
                    segment.committed_len = segment.committed_len.max(commit.segment_len);
                }
            }
            last = Some(commit);
        }
        if let Some(last) = last {
            let answered = self.publish(&mut state, last.end_offset, Some(last.arrival));
            drop(state);
            answer(answered);
        }
    }

    /// Fails the appends waiting on a journal round that failed, and
    /// refuses further writes.
    pub(crate) fn fail_journaled(&self, err: &StoreError) {
        poison(&mut self.state.lock(), err);
    }

    /// Writes the journaled batches held back in memory to the active
    /// segment (see `ShardState::unwritten`). A failure (a full disk)
    /// poisons the log, as a failed sync does: the batches stay in memory
    /// and in the journal, which the journal's next pass or checkpoint
    /// finds it cannot retire (it then refuses further writes too, and a
    /// restart replays them).
    fn write_behind(&self, state: &mut ShardState) -> Result<(), StoreError> {
        if state.unwritten.is_empty() {
            return Ok(());
        }
        let active = state
            .segments
            .last()
            .expect("a shard log always has an active segment");
        if let Err(e) = active
            .file
            .write_all_at(&state.unwritten, state.unwritten_at)
        {
            let err = StoreError::io(&active.path, e);
            tracing::error!(error = %err, "writing journaled batches to their segment failed; shard log refuses further writes");
            poison(state, &err);
            return Err(err);
        }
        if let Committer::Journal(journal) = &self.committer {
            journal.written_behind(state.unwritten.len());
        }
        // Freed rather than kept: a stream of 10,000 shards would otherwise
        // keep a buffer per shard.
        state.unwritten_last_len = state.unwritten.len();
        state.unwritten = Vec::new();
        Ok(())
    }

    /// Before a read of the segment files: writes out what the log holds
    /// back, unless the log is poisoned (a write failed already). A read
    /// does not fail for it: `views_from` stops the active segment's view
    /// where the held-back bytes begin, so the reader gets what is in the
    /// file and the rest later.
    fn write_behind_for_read(&self, state: &mut ShardState) {
        if !state.poisoned {
            let _ = self.write_behind(state);
        }
    }

    /// Writes the journaled batches held back in memory to the segment, and
    /// returns the active segment's file if there were any (the journal
    /// then starts their writeback).
    pub(crate) fn write_behind_now(&self) -> Result<Option<Arc<fs::File>>, StoreError> {
        let mut state = self.state.lock();
        if state.unwritten.is_empty() {
            return Ok(None);
        }
        self.write_behind(&mut state)?;
        Ok(state.segments.last().map(|s| s.file.clone()))
    }

    /// Makes everything up to `end` visible and takes the appends it
    /// covers, to be answered (`answer`) once the lock is released: waking
    /// their tasks is not work to hold the shard's lock for.
    #[must_use]
    fn publish(&self, state: &mut ShardState, end: u64, last_arrival: Option<Millis>) -> Answered {
        if end > state.committed_end {
            state.committed_end = end;
            state.committed_last_arrival = last_arrival;
            self.commits.send_replace(end);
        }
        let covered = state.waiters.partition_point(|(e, _)| *e <= end);
        state
            .waiters
            .drain(..covered)
            .map(|(_, waiter)| waiter)
            .collect()
    }

    /// What a sync must cover: the files with unsynced bytes, and the end
    /// that becomes visible once they are synced. Call under `sync_lock`.
    fn plan_sync(&self) -> Result<SyncPlan, StoreError> {
        self.queued_for_sync.store(false, Ordering::Release);
        let mut state = self.state.lock();
        if state.poisoned {
            return Err(self.poisoned_error());
        }
        // The sync must cover them, or it would acknowledge batches it did
        // not make durable.
        self.write_behind(&mut state)?;
        let to_sync = state
            .segments
            .iter()
            .filter(|s| s.synced_len < s.len)
            .map(|s| (s.file.clone(), s.path.clone(), s.base_offset, s.len))
            .collect();
        Ok(SyncPlan {
            target_end: state.next_offset(),
            target_arrival: state.last_arrival(),
            to_sync,
        })
    }

    /// Publishes a sync's outcome: on success the planned end becomes
    /// visible and its appends are acknowledged; on failure the log is
    /// poisoned and its waiting appends fail. Call under `sync_lock`.
    fn finish_sync(
        &self,
        plan: SyncPlan,
        synced: Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        if state.poisoned {
            return Err(self.poisoned_error());
        }
        if let Err(err) = synced {
            tracing::error!(error = %err, "sync failed; shard log refuses further writes");
            poison(&mut state, &err);
            return Err(err);
        }
        for (_, _, base_offset, len) in plan.to_sync {
            if let Some(segment) = state
                .segments
                .iter_mut()
                .find(|s| s.base_offset == base_offset)
            {
                segment.synced_len = segment.synced_len.max(len);
            }
        }
        // Whatever is on disk may be read (a segment sealed since the last
        // round was synced when it rolled).
        for segment in &mut state.segments {
            segment.committed_len = segment.committed_len.max(segment.synced_len);
        }
        let answered = self.publish(&mut state, plan.target_end, plan.target_arrival);
        drop(state);
        answer(answered);
        Ok(())
    }

    /// Queues the log for a sync of its own files: by the journal's next
    /// round (`sync`), or the interval syncer's next pass.
    fn request_sync(&self) {
        if !self.queued_for_sync.swap(true, Ordering::AcqRel)
            && let Some(this) = self.this.upgrade()
        {
            match &self.committer {
                Committer::Journal(journal) => journal.enqueue_in_place(this),
                Committer::Interval(syncer) => syncer.enqueue(this),
                Committer::Immediate => {}
            }
        }
    }

    /// Views of the segments that may hold offsets from `from` on.
    fn views_from(
        &self,
        state: &ShardState,
        position_of: impl Fn(&Segment) -> u64,
        first: usize,
    ) -> Vec<SegmentView> {
        let active_base = state.segments.last().map(|s| s.base_offset);
        state.segments[first..]
            .iter()
            .map(|s| SegmentView {
                path: s.path.clone(),
                file: s.file.clone(),
                start_position: position_of(s),
                // Held-back bytes are not in the file (a write of them failed).
                committed_len: if Some(s.base_offset) == active_base && !state.unwritten.is_empty()
                {
                    s.committed_len.min(state.unwritten_at)
                } else {
                    s.committed_len
                },
            })
            .collect()
    }
}

/// After a failed write or sync: what the kernel did with the log's pages
/// is unknowable (fsyncgate), so the log refuses further writes and fails
/// the appends waiting on it.
fn poison(state: &mut ShardState, err: &StoreError) {
    state.poisoned = true;
    for (_, waiter) in state.waiters.drain(..) {
        let _ = waiter.send(Err(err.clone()));
    }
}

/// Appends made durable, to be told so.
type Answered = Vec<oneshot::Sender<Result<(), StoreError>>>;

fn answer(answered: Answered) {
    for waiter in answered {
        let _ = waiter.send(Ok(()));
    }
}

/// Scans a segment that has no usable index. A torn tail is cut off the
/// active segment; in a sealed one (synced when it rolled) it is corruption,
/// not a crash to repair silently. A sealed segment gets an index for next time.
fn recover_segment(path: PathBuf, base: u64, sealed: bool) -> Result<Segment, StoreError> {
    let (mut recovered, tail) = Segment::recover(path, base)?;
    match tail {
        Tail::Torn { valid_len, reason } if sealed => {
            tracing::error!(path = %recovered.path.display(), valid_len, reason, "sealed segment is corrupt");
            return Err(StoreError::Corrupt {
                path: recovered.path,
                position: valid_len,
                reason,
            });
        }
        Tail::Torn { valid_len, reason } => {
            tracing::warn!(path = %recovered.path.display(), valid_len, reason, "truncating torn segment tail");
            recovered.truncate(valid_len)?;
        }
        Tail::Clean if sealed => recovered.write_index(),
        Tail::Clean => {}
    }
    Ok(recovered)
}

/// Where a read finds its batches.
enum Source {
    /// The shard's tail cache, which reaches back to the read's start.
    Tail(Vec<(BatchHeader, Bytes)>),
    /// The segment files.
    Segments(Vec<SegmentView>),
}

/// One planned sync: see [`LocalShardLog::plan_sync`].
struct SyncPlan {
    target_end: u64,
    target_arrival: Option<Millis>,
    /// (file, path, base offset, length to cover) per segment with unsynced bytes.
    to_sync: Vec<(Arc<fs::File>, PathBuf, u64, u64)>,
}

impl ShardLog for LocalShardLog {
    fn append(&self, records: &[NewRecord<'_>], arrival: Millis) -> Result<Appended, StoreError> {
        let mut state = self.state.lock();
        if state.poisoned {
            return Err(self.poisoned_error());
        }
        if let Committer::Journal(journal) = &self.committer {
            journal.check()?;
        }
        let arrival = state
            .last_arrival()
            .map_or(arrival, |last| last.max(arrival));
        if state.active().len >= self.config.segment_bytes {
            self.roll(&mut state)?;
        }
        let first_offset = state.next_offset();
        let end_offset = first_offset + records.len() as u64;
        let in_place_pending = state.in_place_end > state.committed_end;
        let mut buf = std::mem::take(&mut state.encode_buf);
        batch::encode(records, first_offset, arrival, &mut buf);
        let header = BatchHeader::parse(&buf).expect("freshly encoded header is valid");
        // Small batches are journaled: one flush of the journal covers every
        // shard's. Large ones are synced in place (the journal would write
        // their bytes twice), and so are the small ones that follow until
        // that sync completes, so the journal never makes a later batch
        // visible before an earlier one is durable.
        let journal = match &self.committer {
            Committer::Journal(journal)
                if buf.len() <= JOURNAL_BATCH_BYTES_MAX && !in_place_pending =>
            {
                Some(journal)
            }
            _ => None,
        };
        let position = state.active().len;
        if let Some(journal) = journal {
            // Written to the segment later (`ShardState::unwritten`), unless
            // this shard, or all of them together, hold back too much.
            if state.unwritten.len() + buf.len() > WRITE_BEHIND_BYTES_MAX
                || journal.held_back_past_max(buf.len())
            {
                self.write_behind(&mut state)?;
            }
            if state.unwritten.is_empty() {
                state.unwritten_at = position;
                let room = state.unwritten_last_len + buf.len();
                state.unwritten.reserve_exact(room);
            }
            state.unwritten.extend_from_slice(&buf);
            journal.hold_back(buf.len());
        } else {
            // The file holds a log's batches in order: held-back ones first.
            self.write_behind(&mut state)?;
            let active = state.active();
            active
                .file
                .write_all_at(&buf, position)
                .map_err(|e| StoreError::io(&active.path, e))?;
        }
        let active = state.active();
        active.note_batch(&header, position);
        let (segment_base, segment_len) = (active.base_offset, active.len);
        // An in-place batch of a page or more starts on its way to the
        // device now, while the request's other shards are written and the
        // round gathers; the round's flush then has less to wait for.
        let writeback = (matches!(self.committer, Committer::Journal(_))
            && journal.is_none()
            && buf.len() >= EARLY_WRITEBACK_BYTES)
            .then(|| (active.file.clone(), position, buf.len()));
        // Every append is cached or empties the cache, which so stays
        // contiguous up to the end of the log.
        state.tail.appended(&self.tip_reads, &header, &buf);

        let durable = match &self.committer {
            Committer::Journal(_) => {
                let (sender, receiver) = oneshot::channel();
                state.waiters.push_back((end_offset, sender));
                if let Some(journal) = journal {
                    let commit = Commit {
                        log: self
                            .this
                            .upgrade()
                            .expect("a log being appended to is alive"),
                        segment_base,
                        segment_len,
                        end_offset,
                        arrival,
                    };
                    // Under the shard's lock: the journal holds a shard's
                    // batches in the order they were appended.
                    if let Err(err) = journal.add(self.key, position, &buf, commit) {
                        state.waiters.pop_back();
                        return Err(err);
                    }
                } else {
                    state.in_place_end = end_offset;
                }
                Durable::pending(receiver)
            }
            Committer::Interval(_) | Committer::Immediate => {
                let active = state.active();
                active.committed_len = active.len;
                state.committed_end = end_offset;
                state.committed_last_arrival = Some(arrival);
                self.commits.send_replace(end_offset);
                Durable::ready()
            }
        };
        // Not journaled: the log's own files need a sync (`interval`: later).
        let needs_own_sync = journal.is_none();
        // Keep a modest buffer for the next append rather than a 5 MiB one forever.
        if buf.capacity() <= 1 << 20 {
            state.encode_buf = buf;
        }
        drop(state);
        if let Some((file, position, len)) = writeback {
            segment::start_writeback(&file, position, len);
        }
        if needs_own_sync {
            self.request_sync();
        }
        Ok(Appended {
            first_offset,
            arrival,
            durable,
        })
    }

    fn read(
        &self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
        not_before: Millis,
    ) -> Result<Vec<Record>, StoreError> {
        let (source, from, committed_end) = {
            let mut state = self.state.lock();
            let start = state.segments.first().map_or(0, |s| s.base_offset);
            let from = from.max(start);
            if from >= state.committed_end || max_records == 0 {
                if from >= state.committed_end {
                    self.tip_reads.mark();
                }
                return Ok(Vec::new());
            }
            let source = match state.tail.batches_from(from, state.committed_end) {
                Some(batches) => Source::Tail(batches),
                None => {
                    self.write_behind_for_read(&mut state);
                    let first = state
                        .segments
                        .partition_point(|s| s.base_offset <= from)
                        .saturating_sub(1);
                    Source::Segments(self.views_from(
                        &state,
                        |s| s.position_for_offset(from),
                        first,
                    ))
                }
            };
            (source, from, state.committed_end)
        };
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut taken = 0usize;
        // Takes what the request wants of one batch; true once it has all.
        let mut take_batch = |header: &BatchHeader, batch_bytes: &Bytes, path: &PathBuf| {
            if header.end_offset() <= from || header.arrival < not_before {
                return Ok(false);
            }
            let stopped = batch::decode_records(
                batch_bytes,
                header,
                |record| {
                    if record.offset < from {
                        Take::Skip
                    } else if record.offset >= committed_end
                        || taken >= max_records
                        || out_len_reached(bytes, record.size_bytes(), max_bytes)
                    {
                        Take::Stop
                    } else {
                        bytes += record.size_bytes();
                        taken += 1;
                        Take::Yes
                    }
                },
                &mut out,
            )
            .ok_or_else(|| StoreError::Corrupt {
                path: path.clone(),
                position: 0,
                reason: "record framing",
            })?;
            Ok::<_, StoreError>(stopped || out.len() >= max_records)
        };
        match &source {
            Source::Tail(batches) => {
                for (header, batch_bytes) in batches {
                    if take_batch(header, batch_bytes, &self.dir)? {
                        break;
                    }
                }
            }
            Source::Segments(views) => {
                'views: for view in views {
                    let mut cursor = BatchCursor::new(view);
                    while let Some((header, batch_bytes)) = cursor.next_batch()? {
                        if take_batch(&header, &batch_bytes, &view.path)? {
                            break 'views;
                        }
                    }
                }
            }
        }
        if out
            .last()
            .is_some_and(|last| last.offset + 1 >= committed_end)
        {
            self.tip_reads.mark();
        }
        Ok(out)
    }

    fn offset_at_time(&self, at: Millis) -> Result<u64, StoreError> {
        let (views, committed_end) = {
            let mut state = self.state.lock();
            self.write_behind_for_read(&mut state);
            let first = state
                .segments
                .iter()
                .position(|s| s.last_arrival.is_some_and(|last| last >= at));
            let Some(first) = first else {
                return Ok(state.committed_end);
            };
            (
                self.views_from(&state, |s| s.position_for_time(at), first),
                state.committed_end,
            )
        };
        for view in &views {
            let mut cursor = BatchCursor::new(view);
            while let Some((header, _)) = cursor.next_batch()? {
                if header.arrival >= at {
                    return Ok(header.base_offset.min(committed_end));
                }
            }
        }
        Ok(committed_end)
    }

    fn bounds(&self) -> LogBounds {
        let state = self.state.lock();
        LogBounds {
            start: state.segments.first().map_or(0, |s| s.base_offset),
            end: state.committed_end,
            last_arrival: state.committed_last_arrival,
        }
    }

    fn next_offset(&self) -> u64 {
        self.state.lock().next_offset()
    }

    fn sync(&self) -> Result<(), StoreError> {
        // In sync mode what is committed is durable already (journaled, or
        // synced in place): a log with nothing uncommitted needs no flush.
        // UpdateShardCount closes every parent this way under the stream's
        // write lock; 2,000 parents were 2,000 `fdatasync`s of segments
        // whose records the journal already held.
        if self.config.durability == Durability::Sync {
            let state = self.state.lock();
            if state.poisoned {
                return Err(self.poisoned_error());
            }
            if state.committed_end == state.next_offset() {
                return Ok(());
            }
        }
        self.sync_now()
    }

    fn watch_commits(&self) -> watch::Receiver<u64> {
        self.commits.subscribe()
    }

    fn expire_before(&self, cutoff: Millis) -> Result<(), StoreError> {
        let mut state = self.state.lock();
        // Runs every minute or so: a good time to let go of a cold tail.
        state.tail.clear_if_cold(&self.tip_reads);
        let sealed = state.segments.len() - 1;
        let expired = state.segments[..sealed]
            .iter()
            .take_while(|s| s.last_arrival.is_none_or(|last| last < cutoff))
            .count();
        for segment in state.segments.drain(..expired) {
            tracing::info!(path = %segment.path.display(), "deleting segment past retention");
            segment.remove()?;
        }
        Ok(())
    }
}

/// Whether adding a record of `size` bytes would pass `max_bytes`; the first
/// record is always taken, so one oversized record is still delivered.
fn out_len_reached(bytes: usize, size: usize, max_bytes: usize) -> bool {
    bytes > 0 && bytes + size > max_bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalLogStore;
    use crate::local::journal::Journal;
    use crate::{LogStore, ShardKey};

    fn entries_durable(store: &LocalLogStore, key: ShardKey) -> bool {
        store
            .local_shard(key)
            .entries_durable
            .load(Ordering::Acquire)
    }

    /// A new log's directory entries are synced by its first sync, before
    /// the first acknowledgement, whether that sync is an fdatasync round
    /// (one shard) or a syncfs round (several).
    #[tokio::test]
    async fn a_new_logs_directory_entries_are_durable_before_its_first_acknowledgement() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalLogStore::open(dir.path(), LocalConfig::default()).unwrap();
        let record = [NewRecord {
            partition_key: "k",
            data: b"x",
        }];
        let key = |shard_index| ShardKey {
            stream_uid: 1,
            shard_index,
        };
        // One shard: its own round.
        let log = store.open_shard(key(0)).unwrap();
        assert!(!entries_durable(&store, key(0)));
        log.append(&record, Millis(1))
            .unwrap()
            .durable
            .wait()
            .await
            .unwrap();
        assert!(entries_durable(&store, key(0)));
        // Several shards in one round.
        let appended: Vec<_> = {
            let _together = crate::AppendBatch::begin();
            (1..4)
                .map(|i| {
                    store
                        .open_shard(key(i))
                        .unwrap()
                        .append(&record, Millis(1))
                        .unwrap()
                })
                .collect()
        };
        for appended in appended {
            appended.durable.wait().await.unwrap();
        }
        assert!((1..4).all(|i| entries_durable(&store, key(i))));
        // Reopened, an existing log needs nothing more.
        drop(log);
        drop(store);
        let store = LocalLogStore::open(dir.path(), LocalConfig::default()).unwrap();
        store.open_shard(key(0)).unwrap();
        assert!(entries_durable(&store, key(0)));
    }

    const KEY: ShardKey = ShardKey {
        stream_uid: 1,
        shard_index: 0,
    };

    /// A `sync`-mode config whose journal does nothing on a timer, so a
    /// test decides when it checkpoints and writes held-back batches.
    fn without_timers() -> LocalConfig {
        LocalConfig {
            checkpoint_interval: std::time::Duration::from_secs(3600),
            writeback_pace: std::time::Duration::from_secs(3600),
            ..LocalConfig::default()
        }
    }

    /// Appends one record to `log` and waits until it is durable.
    async fn append_durably(log: &dyn ShardLog, data: &[u8]) {
        log.append(
            &[NewRecord {
                partition_key: "k",
                data,
            }],
            Millis(1),
        )
        .unwrap()
        .durable
        .wait()
        .await
        .unwrap();
    }

    fn journal_of(store: &LocalLogStore) -> &Journal {
        match &store.committer {
            Committer::Journal(journal) => journal,
            _ => panic!("sync mode journals"),
        }
    }

    /// A round with appends to a few new logs makes their directory entries
    /// durable by syncing those directories; one with many, by a `syncfs`
    /// (which would also write back every other file's dirty data).
    #[tokio::test]
    async fn a_round_syncs_a_few_new_logs_directories_and_the_filesystem_for_many() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalLogStore::open(dir.path(), without_timers()).unwrap();
        let journal = journal_of(&store);
        let record = [NewRecord {
            partition_key: "k",
            data: b"x",
        }];
        let append_to_new_logs = |shards: std::ops::Range<u32>| {
            let _together = crate::AppendBatch::begin();
            shards
                .map(|shard_index| {
                    let key = ShardKey {
                        stream_uid: 1,
                        shard_index,
                    };
                    let log = store.open_shard(key).unwrap();
                    assert!(!entries_durable(&store, key));
                    log.append(&record, Millis(1)).unwrap()
                })
                .collect::<Vec<_>>()
        };
        for appended in append_to_new_logs(0..4) {
            appended.durable.wait().await.unwrap();
        }
        assert_eq!(journal.filesystem_syncs(), 0);
        let many = crate::local::journal::NEW_LOGS_SYNCED_BY_DIRECTORY as u32 + 1;
        for appended in append_to_new_logs(100..100 + many) {
            appended.durable.wait().await.unwrap();
        }
        assert_eq!(journal.filesystem_syncs(), 1);
    }

    /// Journaled batches wait in memory for their segment (write-behind).
    /// A read of the segment and a checkpoint write them out first, so
    /// neither a reader nor a retired journal misses them.
    #[tokio::test]
    async fn held_back_batches_are_written_before_a_read_or_a_checkpoint_needs_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalLogStore::open(dir.path(), without_timers()).unwrap();
        let log = store.open_shard(KEY).unwrap();
        let segment = store.local_shard(KEY).dir.join(segment::file_name(0));
        let segment_len = || fs::metadata(&segment).unwrap().len();
        let data = |i: usize| format!("record-{i}").into_bytes();
        for i in 0..3 {
            append_durably(&*log, &data(i)).await;
        }
        assert_eq!(segment_len(), 0, "durable in the journal, held back");

        journal_of(&store).checkpoint().unwrap();
        let checkpointed = segment_len();
        assert!(checkpointed > 0, "the checkpoint wrote them out");

        for i in 3..5 {
            append_durably(&*log, &data(i)).await;
        }
        // No reader is at the tip, so this read goes to the segment file.
        let read = log.read(0, 100, usize::MAX, Millis(0)).unwrap();
        assert_eq!(read.len(), 5);
        assert!(segment_len() > checkpointed, "the read wrote them out");

        // A crash: no clean shutdown. The retired journal no longer holds
        // the first three; the segment does.
        drop(log);
        drop(store);
        let store = LocalLogStore::open(dir.path(), without_timers()).unwrap();
        let read = store
            .open_shard(KEY)
            .unwrap()
            .read(0, 100, usize::MAX, Millis(0))
            .unwrap();
        let read: Vec<_> = read.iter().map(|r| r.data.to_vec()).collect();
        let expected: Vec<_> = (0..5).map(data).collect();
        assert_eq!(read, expected);
    }

    /// Several sync threads can publish consecutive rounds in either order.
    /// A round in a later segment published first must not leave a sealed
    /// segment before it readable only up to a stale length: a reader would
    /// skip that segment's newest records without an error.
    #[tokio::test]
    async fn a_later_segments_commit_makes_the_sealed_segments_before_it_readable() {
        let dir = tempfile::tempdir().unwrap();
        // Every append after the first starts a new segment.
        let config = LocalConfig {
            segment_bytes: 1,
            ..LocalConfig::default()
        };
        let store = LocalLogStore::open(dir.path(), config).unwrap();
        let log = store.open_shard(KEY).unwrap();
        for data in [b"zero", b"one_", b"two_"] {
            append_durably(&*log, data).await;
        }
        let local = store.local_shard(KEY);
        let commit = {
            let mut state = local.state.lock();
            assert_eq!(state.segments.len(), 3);
            // As if the rounds that ended the sealed segments were not
            // applied yet.
            for sealed in &mut state.segments[..2] {
                sealed.committed_len = 0;
            }
            let active = state.segments.last().unwrap();
            Commit {
                log: local.clone(),
                segment_base: active.base_offset,
                segment_len: active.len,
                end_offset: state.committed_end,
                arrival: Millis(1),
            }
        };
        local.commit_journaled([&commit]);
        let read = log.read(0, 100, usize::MAX, Millis(0)).unwrap();
        let read: Vec<_> = read.iter().map(|r| r.offset).collect();
        assert_eq!(read, [0, 1, 2]);
    }

    /// Past the store's budget for held-back bytes, an append writes its
    /// shard's held-back batches out first instead of adding to them.
    #[tokio::test]
    async fn appends_past_the_held_back_budget_write_their_shards_batches_out() {
        let dir = tempfile::tempdir().unwrap();
        let config = LocalConfig {
            held_back_bytes: 0,
            ..without_timers()
        };
        let store = LocalLogStore::open(dir.path(), config).unwrap();
        let log = store.open_shard(KEY).unwrap();
        let segment = store.local_shard(KEY).dir.join(segment::file_name(0));
        let mut lens = Vec::new();
        for data in [b"first", b"other"] {
            append_durably(&*log, data).await;
            lens.push(fs::metadata(&segment).unwrap().len());
        }
        // The first is held back; the second append writes it out.
        assert_eq!(lens[0], 0);
        assert!(lens[1] > 0);
        assert_eq!(
            journal_of(&store).held_back_bytes(),
            store.local_shard(KEY).state.lock().unwritten.len(),
            "the count follows what is held back"
        );
    }
}
