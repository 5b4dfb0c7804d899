//! A stream at run time: its persisted record, its shards' logs and the
//! routing table from hash keys to open shards.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};
use riffle_model::{HashKey, HashKeyRange, Millis, SequenceNumber, ShardId, StreamName};
use riffle_store::{
    Appended, ClosedShard, LogBounds, LogStore, NewRecord, Record, ShardKey, ShardLog, ShardRecord,
    StoreError, StreamRecord,
};

use crate::error::EngineResult;
use crate::metrics::{ReshardCounters, ShardCounters, StreamCounters};
use crate::traffic::ShardTraffic;

/// The tag that switches throughput-limit enforcement for one stream.
pub const ENFORCE_LIMITS_TAG: &str = "riffle.enforce-limits";

/// The lifecycle states of botocore's `StreamStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamStatus {
    Creating,
    Deleting,
    Active,
    Updating,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Deleting => "DELETING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
        }
    }

    /// Whether records can be written and read (AWS allows both while UPDATING).
    pub fn accepts_data(self) -> bool {
        matches!(self, StreamStatus::Active | StreamStatus::Updating)
    }
}

/// One shard at run time.
#[derive(Debug)]
pub(crate) struct Shard {
    pub(crate) id: ShardId,
    pub(crate) epoch: u64,
    pub(crate) range: HashKeyRange,
    pub(crate) parent: Option<ShardId>,
    pub(crate) adjacent_parent: Option<ShardId>,
    pub(crate) created: Millis,
    pub(crate) closed: Option<ClosedShard>,
    /// Use [`Shard::log`].
    pub(crate) log_slot: LogSlot,
    /// Throughput buckets and recent write rate; not persisted.
    pub(crate) traffic: Mutex<ShardTraffic>,
    /// Shard-level metrics; not persisted.
    pub(crate) counters: ShardCounters,
    /// Set once the log of an expired closed shard has been deleted.
    pub(crate) log_removed: bool,
}

/// A shard's log, or what is needed to open it at first use.
///
/// After a restart a shard's log is recovered when a request first needs
/// it, or by [`crate::Engine::recover_logs`], which `riffle serve` runs in
/// the background once it is listening: the server answers before it has
/// recovered every log (with 1,000 shards that was most of startup, about
/// 50 µs of system calls each). A closed shard whose log retention deleted
/// is known by the log's absence ([`LogStore::has_shard`]) and reads as
/// finished; opening it would create it again. New logs (CreateStream, the
/// children of a split) are created at once: created at first use, a
/// 10,000-shard stream's first PutRecords paid for making its files, up to
/// seconds at p99 on a filesystem that had just deleted many files.
///
/// A request that is first to use a log after a restart recovers it (a
/// scan of the active segment) through [`crate::blocking`], so the runtime
/// worker's other requests move to another thread meanwhile; the
/// background recovery usually gets there first.
#[derive(Debug)]
pub(crate) enum LogSlot {
    Open(Arc<dyn ShardLog>),
    Deferred {
        key: ShardKey,
        logs: Arc<dyn LogStore>,
        /// The stream's [`Stream::removed`]: a deleted stream's logs must
        /// not be created again.
        stream_removed: Arc<AtomicBool>,
        /// A closed shard's end offset.
        closed_end: Option<u64>,
        log: OnceLock<Arc<dyn ShardLog>>,
    },
}

impl LogSlot {
    /// The log if it has been opened: what the retention sweep looks at
    /// (a log not opened since the start has nothing new to expire, and
    /// opening it to look would create every unused shard's files).
    fn opened(&self) -> Option<&Arc<dyn ShardLog>> {
        match self {
            LogSlot::Open(log) => Some(log),
            LogSlot::Deferred { log, .. } => log.get(),
        }
    }

    /// The log, recovered first if this is its first use. A failure (say,
    /// a damaged segment) fails this request and is retried by the next.
    /// Called under the stream's state lock (a `Shard` lives behind it),
    /// which the deletion of the stream takes to set `stream_removed`.
    fn get(&self) -> Result<&Arc<dyn ShardLog>, StoreError> {
        if let Some(log) = self.opened() {
            return Ok(log);
        }
        match self {
            LogSlot::Open(log) => Ok(log),
            LogSlot::Deferred {
                key,
                logs,
                stream_removed,
                closed_end,
                log,
            } => {
                if stream_removed.load(Ordering::Acquire) {
                    return Err(StoreError::StreamDeleted);
                }
                // The store shares one log between concurrent opens, so a
                // race here only wastes a lookup.
                let mut opened = crate::blocking(|| logs.open_shard(*key))?;
                // A closed shard's log that ends short of the shard was
                // emptied by retention, its directory made again by an older
                // Riffle's startup: it reads as finished, not as waiting for
                // records that will never come.
                if let Some(end_offset) = *closed_end
                    && opened.bounds().end < end_offset
                {
                    opened = Arc::new(RemovedLog { end_offset });
                }
                Ok(log.get_or_init(|| opened))
            }
        }
    }
}

/// The log of a closed shard whose data passed retention and was deleted:
/// it holds nothing, and releases the deleted files' handles.
#[derive(Debug)]
pub(crate) struct RemovedLog {
    /// The closed shard's end: readers positioned anywhere are at its end.
    pub(crate) end_offset: u64,
}

impl ShardLog for RemovedLog {
    fn append(&self, _: &[NewRecord<'_>], _: Millis) -> Result<Appended, StoreError> {
        unreachable!("closed shards are never routed to")
    }
    fn read(&self, _: u64, _: usize, _: usize, _: Millis) -> Result<Vec<Record>, StoreError> {
        Ok(Vec::new())
    }
    fn offset_at_time(&self, _: Millis) -> Result<u64, StoreError> {
        Ok(0)
    }
    fn bounds(&self) -> LogBounds {
        LogBounds {
            start: self.end_offset,
            end: self.end_offset,
            last_arrival: None,
        }
    }
    fn next_offset(&self) -> u64 {
        self.end_offset
    }
    fn watch_commits(&self) -> tokio::sync::watch::Receiver<u64> {
        // Nothing will ever be committed here: the sender is gone at once.
        tokio::sync::watch::channel(0).1
    }
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn expire_before(&self, _: Millis) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Shard {
    /// The shard's log, recovering it first if this is its first use.
    ///
    /// # Errors
    /// The log could not be recovered.
    pub(crate) fn log(&self) -> Result<&Arc<dyn ShardLog>, StoreError> {
        self.log_slot.get()
    }

    /// The shard's log if it has been opened (see [`LogSlot::opened`]).
    pub(crate) fn opened_log(&self) -> Option<&Arc<dyn ShardLog>> {
        self.log_slot.opened()
    }

    /// The sequence number of the record at log offset `offset`. Numbers
    /// count from 1 so that the shard's StartingSequenceNumber (offset field
    /// 0) precedes every record: "after the start" is then the first record,
    /// which is what resuming an empty shard needs.
    pub(crate) fn sequence_number(&self, offset: u64) -> SequenceNumber {
        SequenceNumber {
            epoch: self.epoch,
            shard_index: self.id.0,
            offset: offset + 1,
        }
    }

    /// The number just before the record at `offset`: the shard's starting
    /// number for offset 0.
    pub(crate) fn sequence_before(&self, offset: u64) -> SequenceNumber {
        SequenceNumber {
            epoch: self.epoch,
            shard_index: self.id.0,
            offset,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.closed.is_none()
    }

    /// A closed shard whose records have all passed retention: it no longer
    /// exists for clients, and its log is deleted.
    pub(crate) fn expired(&self, cutoff: Millis) -> bool {
        // Once its log is deleted a shard stays gone, even if retention is
        // raised afterwards: there is nothing left to read in it.
        self.log_removed
            || self
                .closed
                .is_some_and(|closed| Millis(closed.closed_ms) < cutoff)
    }

    /// Whether the shard was open at time `at`.
    pub(crate) fn open_at(&self, at: Millis) -> bool {
        self.created <= at
            && self
                .closed
                .is_none_or(|closed| Millis(closed.closed_ms) > at)
    }
}

/// A stream: fixed identity plus mutable state behind one lock. Data-plane
/// operations take the read lock briefly to route and to clone a log handle;
/// control-plane changes take the write lock.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) uid: u64,
    pub(crate) name: StreamName,
    pub(crate) stream_id: String,
    pub(crate) state: RwLock<StreamState>,
    /// Set (under both locks) when the stream's row is deleted: a handle
    /// looked up before then must not save anything for it again.
    pub(crate) removed: Arc<AtomicBool>,
    /// Held for the whole of a reshard, from its checks to its install.
    /// Another reshard meanwhile is refused, and the stream reads as
    /// UPDATING (see [`Stream::status`]), as a resharding stream does on AWS.
    pub(crate) resharding: Mutex<()>,
    /// Stream-level metrics; not persisted.
    pub(crate) counters: StreamCounters,
    pub(crate) reshards: ReshardCounters,
}

#[derive(Debug)]
pub(crate) struct StreamState {
    pub(crate) record: StreamRecord,
    /// Indexed by shard index.
    pub(crate) shards: Vec<Shard>,
    /// Open shards sorted by the start of their hash-key range; they tile the
    /// whole hash-key space.
    routes: Vec<(u128, u32)>,
}

impl Stream {
    /// The status callers see: [`StreamState::status`], but UPDATING while
    /// a reshard is under way (its children's logs are being made).
    pub(crate) fn status(&self, state: &StreamState, now: Millis) -> StreamStatus {
        match state.status(now) {
            StreamStatus::Active if self.resharding.is_locked() => StreamStatus::Updating,
            status => status,
        }
    }

    /// Builds the run-time stream from its record. A new stream's logs are
    /// created now; loaded at startup, its open shards' logs are recovered
    /// at first use (see [`LogSlot`]).
    pub(crate) fn open(
        record: StreamRecord,
        logs: &Arc<dyn LogStore>,
        new: bool,
    ) -> EngineResult<Stream> {
        let name = StreamName::parse(&record.name)
            .expect("stored stream names were validated on creation");
        let uid = record.uid;
        let stream_id = record.stream_id.clone();
        let mut state = StreamState {
            record: record.clone(),
            shards: Vec::new(),
            routes: Vec::new(),
        };
        let removed = Arc::new(AtomicBool::new(false));
        let shards = record
            .shards
            .iter()
            .map(|shard| open_shard(&record, shard, logs, &removed, new))
            .collect::<EngineResult<_>>()?;
        state.install(record, shards);
        Ok(Stream {
            uid,
            name,
            stream_id,
            state: RwLock::new(state),
            removed,
            resharding: Mutex::new(()),
            counters: StreamCounters::default(),
            reshards: ReshardCounters::default(),
        })
    }
}

/// The run-time form of a persisted shard. Its log is created now if it is
/// `new`, else recovered at first use (see [`LogSlot`]).
fn open_shard(
    stream: &StreamRecord,
    shard: &ShardRecord,
    logs: &Arc<dyn LogStore>,
    stream_removed: &Arc<AtomicBool>,
    new: bool,
) -> EngineResult<Shard> {
    let key = ShardKey {
        stream_uid: stream.uid,
        shard_index: shard.index,
    };
    let mut removed = false;
    let log_slot = match shard.closed {
        _ if new => LogSlot::Open(logs.open_shard(key)?),
        Some(closed) if !logs.has_shard(key) => {
            // Retention deleted this closed shard's log before the restart:
            // it reads as finished (opening it would create it again). An
            // empty one may simply never have been synced (a shard a
            // reshard made and closed at once): the same, but still listed.
            removed = closed.end_offset > 0;
            LogSlot::Open(Arc::new(RemovedLog {
                end_offset: closed.end_offset,
            }))
        }
        _ => LogSlot::Deferred {
            key,
            logs: logs.clone(),
            stream_removed: stream_removed.clone(),
            closed_end: shard.closed.map(|closed| closed.end_offset),
            log: OnceLock::new(),
        },
    };
    Ok(Shard {
        id: ShardId(shard.index),
        epoch: shard.epoch,
        range: HashKeyRange {
            start: shard
                .hash_start
                .parse()
                .expect("stored hash keys are decimal u128"),
            end: shard
                .hash_end
                .parse()
                .expect("stored hash keys are decimal u128"),
        },
        parent: shard.parent.map(ShardId),
        adjacent_parent: shard.adjacent_parent.map(ShardId),
        created: Millis(shard.created_ms),
        closed: shard.closed,
        log_slot,
        traffic: Mutex::new(ShardTraffic::new(
            Millis(0),
            stream.max_record_size_kib as usize * 1024,
        )),
        counters: ShardCounters::default(),
        log_removed: removed,
    })
}

impl StreamState {
    /// Creates the logs of the shards `record` has beyond the current ones.
    /// Done before `record` is persisted, so a failure changes nothing.
    pub(crate) fn open_new_shards(
        &self,
        record: &StreamRecord,
        logs: &Arc<dyn LogStore>,
        stream_removed: &Arc<AtomicBool>,
    ) -> EngineResult<Vec<Shard>> {
        debug_assert!(
            record.shards.len() >= self.shards.len(),
            "shards are never removed"
        );
        record.shards[self.shards.len()..]
            .iter()
            .map(|shard| open_shard(record, shard, logs, stream_removed, true))
            .collect()
    }

    /// Makes `record` (already persisted) the stream's state, with the new
    /// shards' logs from [`StreamState::open_new_shards`]: closed shards stop
    /// taking writes and the routing table is rebuilt.
    pub(crate) fn install(&mut self, record: StreamRecord, new_shards: Vec<Shard>) {
        self.shards.extend(new_shards);
        for (shard, persisted) in self.shards.iter_mut().zip(&record.shards) {
            shard.closed = persisted.closed;
        }
        self.record = record;
        self.rebuild_routes();
    }

    pub(crate) fn status(&self, now: Millis) -> StreamStatus {
        if self.record.deleting_since_ms.is_some() {
            StreamStatus::Deleting
        } else if now.0 < self.record.active_at_ms {
            StreamStatus::Creating
        } else if self
            .record
            .updating_until_ms
            .is_some_and(|until| now.0 < until)
        {
            StreamStatus::Updating
        } else {
            StreamStatus::Active
        }
    }

    pub(crate) fn rebuild_routes(&mut self) {
        self.routes = self
            .shards
            .iter()
            .filter(|s| s.is_open())
            .map(|s| (s.range.start, s.id.0))
            .collect();
        self.routes.sort_unstable();
    }

    /// The open shard whose range holds `key`.
    pub(crate) fn route(&self, key: HashKey) -> &Shard {
        let idx = self.routes.partition_point(|(start, _)| *start <= key.0);
        let (_, shard_index) = self.routes[idx
            .checked_sub(1)
            .expect("open shards tile the hash space from 0")];
        &self.shards[shard_index as usize]
    }

    /// A shard clients can still address: not past retention after closing.
    pub(crate) fn shard(&self, id: ShardId, now: Millis) -> Option<&Shard> {
        let cutoff = self.retention_cutoff(now);
        self.shards.get(id.index()).filter(|s| !s.expired(cutoff))
    }

    pub(crate) fn open_shard_count(&self) -> usize {
        self.routes.len()
    }

    /// Whether AWS's per-shard throughput limits apply: the stream's
    /// `riffle.enforce-limits` tag (`true`/`false`) wins over the server default.
    pub(crate) fn enforce_limits(&self, server_default: bool) -> bool {
        self.record
            .tags
            .iter()
            .find(|(key, _)| key == ENFORCE_LIMITS_TAG)
            .map_or(server_default, |(_, value)| {
                value.eq_ignore_ascii_case("true")
            })
    }

    pub(crate) fn retention_ms(&self) -> u64 {
        u64::from(self.record.retention_hours) * 3_600_000
    }

    /// Records that arrived before this time are expired.
    pub(crate) fn retention_cutoff(&self, now: Millis) -> Millis {
        Millis(now.0.saturating_sub(self.retention_ms()))
    }

    /// The shards whose parent (or adjacent parent) is `id`.
    pub(crate) fn children_of(&self, id: ShardId) -> impl Iterator<Item = &Shard> {
        self.shards
            .iter()
            .filter(move |s| s.parent == Some(id) || s.adjacent_parent == Some(id))
    }
}

/// The persisted form of a brand-new shard.
pub(crate) fn new_shard_record(
    index: u32,
    range: HashKeyRange,
    epoch: u64,
    created: Millis,
) -> ShardRecord {
    ShardRecord {
        index,
        parent: None,
        adjacent_parent: None,
        hash_start: range.start.to_string(),
        hash_end: range.end.to_string(),
        epoch,
        created_ms: created.0,
        closed: None,
    }
}

#[cfg(test)]
mod tests {
    use riffle_model::{Millis, StreamName};
    use riffle_store::{Durability, StoreError};

    use crate::ops::create_stream::CreateStream;
    use crate::{Clock, Engine, EngineConfig, StreamRef};

    #[tokio::test]
    async fn after_a_restart_logs_open_at_first_use_and_never_for_a_deleted_stream() {
        let dir = tempfile::tempdir().unwrap();
        let config = EngineConfig {
            create_delay_ms: 0,
            delete_delay_ms: 0,
            ..EngineConfig::default()
        };
        let clock = Clock::manual(Millis(1_795_000_000_000));
        let open = || {
            Engine::open_local(dir.path(), config.clone(), Durability::None, clock.clone()).unwrap()
        };
        let name = StreamName::parse("lazy").unwrap();
        open()
            .create_stream(CreateStream::new(name.clone(), 2))
            .unwrap();

        let engine = open();
        let stream = engine.inner.streams.read().by_name[&name].clone();
        let opened = |index: usize| stream.state.read().shards[index].opened_log().is_some();
        assert!(
            !opened(0) && !opened(1),
            "a restart opens no open shard's log"
        );
        engine.enforce_retention();
        assert!(!opened(0) && !opened(1), "nor does the retention sweep");
        stream.state.read().shards[0].log().unwrap();
        assert!(opened(0) && !opened(1), "first use opens the log");

        let stream_dir = dir.path().join("logs").join(format!("{:016x}", stream.uid));
        assert!(stream_dir.is_dir());
        engine.delete_stream(&StreamRef::Name(name), false).unwrap();
        assert!(!stream_dir.exists());
        // A handle taken before the deletion cannot bring the logs back.
        let state = stream.state.read();
        assert!(matches!(
            state.shards[1].log(),
            Err(StoreError::StreamDeleted)
        ));
        assert!(!stream_dir.exists());
    }
}
