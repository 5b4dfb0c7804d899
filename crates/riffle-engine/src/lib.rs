//! Kinesis semantics without HTTP: streams, shards, routing, iterators and
//! records, on top of the storage traits.
//!
//! - [`Engine`] is the entry point; each operation lives in its own file
//!   under [`ops`] as an `impl Engine` block (`ops/put_records.rs`, …).
//! - [`stream`]: a stream at run time (status, shards, routing table).
//! - `pending`: shards, names and uids promised to operations in flight.
//! - [`error`]: [`EngineError`], which the wire layer maps to AWS errors.
//! - [`clock`]: the only source of wall-clock time.
//! - [`page_token`]: NextToken encoding for the paginated list operations.
//! - [`traffic`]: per-shard throughput limits and write rates.
//! - [`metrics`]: CloudWatch-named counters for the metrics endpoint.
//!
//! The engine never sees JSON or HTTP: inputs are parsed `riffle-model`
//! types, outputs are plain structs.

pub mod clock;
pub mod error;
pub mod metrics;
pub mod ops;
pub mod page_token;
mod pending;
pub mod stream;
pub mod traffic;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use rand::RngExt;
use riffle_model::limits::{ACCOUNT_SHARD_LIMIT_DEFAULT, ON_DEMAND_STREAM_LIMIT_DEFAULT};
use riffle_model::{AccountId, IteratorKey, Millis, Region, StreamArn, StreamName};
use riffle_store::local::{LocalConfig, LocalLogStore, RedbMetadataStore};
use riffle_store::{Durability, LogStore, MetadataStore, ShardKey, StreamRecord};

pub use clock::Clock;
pub use error::{EngineError, EngineResult};
pub use stream::StreamStatus;

use pending::Pending;
use stream::Stream;

/// Engine settings that AWS fixes but Riffle lets the operator choose.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub account: AccountId,
    pub region: Region,
    /// How long a new stream stays CREATING (AWS: about 0.5 s to a few s).
    pub create_delay_ms: u64,
    /// How long a deleted stream stays DELETING.
    pub delete_delay_ms: u64,
    /// Open shards allowed across all streams.
    pub account_shard_limit: u32,
    /// ON_DEMAND streams allowed in the account.
    pub on_demand_stream_limit: u32,
    /// Enforce AWS's per-shard throughput limits (1 MiB/s and 1,000 records/s
    /// written, 2 MiB/s and 5 calls/s read). Off by default; a stream's
    /// `riffle.enforce-limits` tag overrides it.
    pub enforce_limits: bool,
    /// Enforce AWS's per-stream daily quotas on control-plane calls (10
    /// UpdateShardCount calls and 2 capacity-mode switches per rolling 24
    /// hours). On by default, as on AWS.
    pub daily_quotas: bool,
    /// Enhanced fan-out consumers allowed per stream (AWS: 20).
    pub consumers_per_stream_max: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            account: AccountId::default(),
            region: Region::default(),
            create_delay_ms: 500,
            delete_delay_ms: 500,
            account_shard_limit: ACCOUNT_SHARD_LIMIT_DEFAULT,
            on_demand_stream_limit: ON_DEMAND_STREAM_LIMIT_DEFAULT,
            enforce_limits: false,
            daily_quotas: true,
            consumers_per_stream_max: ops::consumers::CONSUMERS_PER_STREAM_MAX,
        }
    }
}

/// How a request names a stream: AWS accepts either form on every operation.
#[derive(Clone, Debug)]
pub enum StreamRef {
    Name(StreamName),
    Arn(StreamArn),
    /// botocore's `StreamId` (`[a-z0-9]{20}-[a-z0-9]{3}`).
    Id(String),
}

impl StreamRef {
    /// The name as a client would recognise it in an error message.
    pub fn display_name(&self) -> &str {
        match self {
            StreamRef::Name(name) => name.as_str(),
            StreamRef::Arn(arn) => arn.stream.as_str(),
            StreamRef::Id(id) => id,
        }
    }
}

/// The Kinesis engine. Cheap to clone; all clones share one state.
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: EngineConfig,
    clock: Clock,
    meta: Arc<dyn MetadataStore>,
    logs: Arc<dyn LogStore>,
    iterator_key: IteratorKey,
    streams: RwLock<Streams>,
    /// Shards, names and uids promised to CreateStreams and reshards still
    /// creating their logs (see [`pending`]). Lock order: a stream's
    /// `resharding`, then this, then `streams`, then a stream's state.
    pending: Pending,
    /// SubscribeToShard leases, one per consumer and shard.
    subscriptions: ops::subscribe::Subscriptions,
}

/// Every stream, by name (ordered, for ListStreams) and by incarnation id
/// (for iterators).
#[derive(Debug, Default)]
struct Streams {
    by_name: BTreeMap<StreamName, Arc<Stream>>,
    by_uid: HashMap<u64, Arc<Stream>>,
    by_stream_id: HashMap<String, Arc<Stream>>,
}

impl Streams {
    fn insert(&mut self, stream: Arc<Stream>) {
        self.by_uid.insert(stream.uid, stream.clone());
        self.by_stream_id
            .insert(stream.stream_id.clone(), stream.clone());
        self.by_name.insert(stream.name.clone(), stream);
    }

    fn remove(&mut self, stream: &Stream) {
        self.by_uid.remove(&stream.uid);
        self.by_stream_id.remove(&stream.stream_id);
        if self
            .by_name
            .get(&stream.name)
            .is_some_and(|s| s.uid == stream.uid)
        {
            self.by_name.remove(&stream.name);
        }
    }
}

/// Removes the marked logs (see [`MetadataStore::mark_logs`]) that no row
/// names: a crash came between a stream's files and its row (a CreateStream
/// before its row was saved, a deletion after its row was removed, a
/// reshard's children before the row naming them), or a deletion was
/// interrupted. Only disk space is at stake, so a failure is logged, the
/// mark kept for the next start, and startup goes on.
fn sweep_marked_logs(streams: &Streams, meta: &dyn MetadataStore, logs: &dyn LogStore) {
    let marked = match meta.marked_logs() {
        Ok(marked) => marked,
        Err(err) => {
            tracing::warn!(error = %err, "could not read which logs are marked for removal");
            return;
        }
    };
    let mut settled = Vec::with_capacity(marked.len());
    for uid in marked {
        let uid_hex = format_args!("{uid:016x}");
        match streams.by_uid.get(&uid) {
            None => {
                if let Err(err) = logs.remove_stream(uid) {
                    tracing::warn!(uid = %uid_hex, error = %err, "could not remove the logs of a deleted stream");
                    continue;
                }
                tracing::info!(uid = %uid_hex, "removed the logs of a stream deleted or never created");
            }
            Some(stream) => {
                let named = stream.state.read().shards.len() as u32;
                match logs.remove_shards_from(uid, named) {
                    Ok(0) => {}
                    Ok(removed) => {
                        tracing::info!(stream = %stream.name, removed, "removed the shard logs of an interrupted reshard");
                    }
                    Err(err) => {
                        tracing::warn!(stream = %stream.name, error = %err, "could not remove the shard logs of an interrupted reshard");
                        continue;
                    }
                }
            }
        }
        settled.push(uid);
    }
    if let Err(err) = meta.unmark_logs(&settled) {
        tracing::warn!(error = %err, "could not clear the marks of removed logs");
    }
}

/// Runs `work`, which may wait on the disk for a while (creating or
/// deleting thousands of files, recovering a log), without stalling the
/// other tasks of the Tokio worker it is called on: on a multi-threaded
/// runtime the worker hands them to another thread meanwhile. Elsewhere (a
/// plain thread, a single-threaded test runtime) it simply runs `work`.
///
/// The hand-off starts a thread, which gets an allocator arena of its own:
/// around every control-plane change it added 6–8 MiB of RSS over a
/// benchmark sequence and no throughput, so it is kept for work that is
/// long (see [`blocking_for_files`]).
pub(crate) fn blocking<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// Shard logs an operation must create or delete before its file work is
/// long enough to run through [`blocking`]: about 1 ms a shard on a
/// filesystem that has just deleted many files (docs/storage.md).
const MANY_LOGS: usize = 256;

/// [`blocking`] if `logs` shard logs are created or deleted, else inline.
pub(crate) fn blocking_for_files<T>(logs: usize, work: impl FnOnce() -> T) -> T {
    if logs >= MANY_LOGS {
        blocking(work)
    } else {
        work()
    }
}

/// How often ON_DEMAND streams are considered for scaling.
const AUTOSCALE_INTERVAL: Duration = Duration::from_secs(1);
/// Retention is enforced every this many scaling ticks (once a minute).
const RETENTION_SWEEP_EVERY_TICKS: u64 = 60;

impl Engine {
    /// Opens the engine on the given stores, loading every stream.
    /// Streams whose deletion was under way when the server stopped are
    /// finished off now. Shard logs are recovered at first use, or by
    /// [`Engine::recover_logs`]; the retention sweep run here deletes the
    /// logs of closed shards that expired while the server was down, and
    /// `recover_logs` sweeps the rest once it has opened them.
    ///
    /// A shard log that cannot be recovered (a damaged segment) fails only
    /// its shard's requests, and is retried at each use.
    ///
    /// # Errors
    /// The metadata could not be read, or finishing an interrupted deletion
    /// failed.
    pub fn open(
        config: EngineConfig,
        clock: Clock,
        meta: Arc<dyn MetadataStore>,
        logs: Arc<dyn LogStore>,
    ) -> EngineResult<Engine> {
        let secret = meta.secret("iterator-key", &mut || {
            rand::rng().random::<[u8; 32]>().to_vec()
        })?;
        let iterator_key = IteratorKey::from_bytes(secret.try_into().unwrap_or_else(|_| {
            tracing::warn!(
                "stored iterator key has the wrong length; existing iterators become invalid"
            );
            rand::rng().random()
        }));
        let mut live = Vec::new();
        for record in meta.load_streams()? {
            if record.deleting_since_ms.is_some() {
                // Marks its logs, which the sweep below removes.
                meta.delete_stream(&record.name, record.uid)?;
                continue;
            }
            live.push(record);
        }
        let mut streams = Streams::default();
        for record in live {
            streams.insert(Arc::new(Stream::open(record, &logs, false)?));
        }
        sweep_marked_logs(&streams, meta.as_ref(), logs.as_ref());
        tracing::info!(streams = streams.by_name.len(), "engine opened");
        let engine = Engine {
            inner: Arc::new(Inner {
                config,
                clock,
                meta,
                logs,
                iterator_key,
                streams: RwLock::new(streams),
                pending: Pending::default(),
                subscriptions: ops::subscribe::Subscriptions::default(),
            }),
        };
        // Reclaim what expired while the server was down.
        engine.enforce_retention();
        Ok(engine)
    }

    /// Opens the engine on the local backend in `data_dir`.
    ///
    /// # Errors
    /// As [`Engine::open`], or the data directory is unusable.
    pub fn open_local(
        data_dir: &Path,
        config: EngineConfig,
        durability: Durability,
        clock: Clock,
    ) -> EngineResult<Engine> {
        let meta = Arc::new(RedbMetadataStore::open(data_dir)?);
        let logs = Arc::new(LocalLogStore::open(
            data_dir,
            LocalConfig {
                durability,
                ..LocalConfig::default()
            },
        )?);
        Engine::open(config, clock, meta, logs)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub fn now(&self) -> Millis {
        self.inner.clock.now()
    }

    fn arn(&self, name: &StreamName) -> StreamArn {
        StreamArn::new(&self.inner.config.region, &self.inner.config.account, name)
    }

    /// Every stream, in name order, taken out of the streams lock so that
    /// long work on each (scaling, retention, metrics) does not hold it.
    fn all_streams(&self) -> Vec<Arc<Stream>> {
        self.inner
            .streams
            .read()
            .by_name
            .values()
            .cloned()
            .collect()
    }

    /// Open shards in every stream: the account's count for its shard
    /// limit. Counted on a copy of the stream list, so that no lookup queues
    /// behind this while it waits for a stream's state (a reshard holds the
    /// write lock while it installs). The caller holds `pending`: a stream
    /// inserted after the copy is still counted through its promise.
    fn open_shard_count(&self) -> u64 {
        self.all_streams()
            .iter()
            .map(|s| s.state.read().open_shard_count() as u64)
            .sum()
    }

    /// Finds a stream by name or ARN. An ARN for another account or region
    /// names a stream this server does not have.
    fn lookup(&self, stream: &StreamRef) -> EngineResult<Arc<Stream>> {
        let not_found = || EngineError::StreamNotFound {
            stream: stream.display_name().to_owned(),
        };
        let name = match stream {
            StreamRef::Name(name) => name,
            StreamRef::Id(id) => {
                return self
                    .inner
                    .streams
                    .read()
                    .by_stream_id
                    .get(id)
                    .cloned()
                    .ok_or_else(not_found);
            }
            StreamRef::Arn(arn) => {
                let config = &self.inner.config;
                if arn.account != config.account.as_str() || arn.region != config.region.as_str() {
                    return Err(not_found());
                }
                &arn.stream
            }
        };
        self.inner
            .streams
            .read()
            .by_name
            .get(name)
            .cloned()
            .ok_or_else(not_found)
    }

    /// Applies a control-plane change to a stream's record: checks the
    /// stream's state, applies `change` to a copy, persists it, then publishes
    /// it. A failed change or a failed save leaves the stream untouched.
    ///
    /// # Errors
    /// The stream does not exist, is in a state that forbids the change
    /// (`ResourceInUseException`), `change` refused, or storage failed.
    fn modify_stream<T>(
        &self,
        stream_ref: &StreamRef,
        allowed: &[StreamStatus],
        change: impl FnOnce(&mut StreamRecord, Millis) -> EngineResult<T>,
    ) -> EngineResult<T> {
        let stream = self.lookup(stream_ref)?;
        let now = self.now();
        let mut state = stream.state.write();
        if stream.removed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(EngineError::StreamNotFound {
                stream: stream.name.to_string(),
            });
        }
        let status = stream.status(&state, now);
        if !allowed.contains(&status) {
            return Err(EngineError::StreamNotActive {
                stream: stream.name.clone(),
                status,
            });
        }
        let mut record = state.record.clone();
        let result = change(&mut record, now)?;
        if record != state.record {
            self.inner.meta.save_stream(&record)?;
            state.record = record;
        }
        Ok(result)
    }

    /// Starts background upkeep (on-demand scaling, retention). Call once,
    /// inside a Tokio runtime.
    pub fn spawn_maintenance(&self) {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(AUTOSCALE_INTERVAL);
            let mut ticks: u64 = 0;
            loop {
                ticker.tick().await;
                // Scaling and retention fsync and delete files: keep that off
                // the runtime's worker threads.
                let sweep = ticks.is_multiple_of(RETENTION_SWEEP_EVERY_TICKS);
                let worker = engine.clone();
                let upkeep = tokio::task::spawn_blocking(move || {
                    worker.autoscale();
                    if sweep {
                        worker.enforce_retention();
                    }
                });
                if let Err(err) = upkeep.await {
                    tracing::error!(error = %err, "maintenance task failed");
                }
                ticks += 1;
            }
        });
    }

    /// Deletes stored data older than each stream's retention period:
    /// expired segments of every shard whose log is open, and the whole log
    /// of a closed shard whose records have all expired.
    pub fn enforce_retention(&self) {
        let now = self.now();
        let streams = self.all_streams();
        for stream in streams {
            let newly_expired: Vec<usize> = {
                let state = stream.state.read();
                let cutoff = state.retention_cutoff(now);
                for shard in state.shards.iter().filter(|s| !s.expired(cutoff)) {
                    let Some(log) = shard.opened_log() else {
                        continue;
                    };
                    if let Err(err) = log.expire_before(cutoff) {
                        tracing::error!(stream = %stream.name, shard = %shard.id, error = %err, "retention sweep failed");
                    }
                }
                state
                    .shards
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.expired(cutoff) && !s.log_removed)
                    .map(|(i, _)| i)
                    .collect()
            };
            if newly_expired.is_empty() {
                continue;
            }
            let mut state = stream.state.write();
            for index in newly_expired {
                let shard = &mut state.shards[index];
                // Another sweep (the one after startup's log recovery, say)
                // may have got here first.
                if shard.log_removed {
                    continue;
                }
                let key = ShardKey {
                    stream_uid: stream.uid,
                    shard_index: shard.id.0,
                };
                // Drop our handles first so the files' space is really freed.
                shard.log_slot = stream::LogSlot::Open(Arc::new(stream::RemovedLog {
                    end_offset: shard.closed.map_or(0, |c| c.end_offset),
                }));
                shard.log_removed = true;
                match self.inner.logs.remove_shard(key) {
                    Ok(()) => {
                        tracing::info!(stream = %stream.name, shard = %shard.id, "closed shard passed retention; log deleted")
                    }
                    Err(err) => {
                        tracing::error!(stream = %stream.name, shard = %shard.id, error = %err, "could not delete expired shard log")
                    }
                }
            }
        }
    }

    /// Runs [`Engine::recover_logs`] on a thread of its own, unless there
    /// is no stream (an empty server then starts no thread, and keeps no
    /// allocator arena for one).
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn recover_logs_in_background(&self) -> std::io::Result<()> {
        if self.inner.streams.read().by_uid.is_empty() {
            return Ok(());
        }
        let engine = self.clone();
        std::thread::Builder::new()
            .name("riffle-recover".to_owned())
            .spawn(move || engine.recover_logs())?;
        Ok(())
    }

    /// Recovers every shard log not used yet, on every core, then reclaims
    /// what expired in them while the server was down. `riffle serve` runs this in
    /// the background once it is listening: requests are answered at once,
    /// and a request that needs a log first recovers that one itself.
    /// A log that cannot be recovered is logged; requests for its shard
    /// fail with an internal error until it can be.
    pub fn recover_logs(&self) {
        let shards: Vec<(Arc<Stream>, usize)> = self
            .all_streams()
            .into_iter()
            .flat_map(|stream| {
                let count = stream.state.read().shards.len();
                (0..count).map(move |index| (stream.clone(), index))
            })
            .collect();
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let per_thread = shards.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for chunk in shards.chunks(per_thread) {
                scope.spawn(move || {
                    for (stream, index) in chunk {
                        // One shard per lock hold: a writer waiting on this
                        // stream waits for one recovery, not for all of them.
                        let state = stream.state.read();
                        let shard = &state.shards[*index];
                        // An expired closed shard is deleted, not read.
                        if stream.removed.load(std::sync::atomic::Ordering::Acquire)
                            || shard.expired(state.retention_cutoff(self.now()))
                        {
                            continue;
                        }
                        if let Err(err) = shard.log() {
                            tracing::error!(stream = %stream.name, shard = %shard.id, error = %err, "could not recover the shard's log");
                        }
                    }
                });
            }
        });
        tracing::info!(shards = shards.len(), "shard logs recovered");
        self.enforce_retention();
    }

    /// Makes every acknowledged and in-flight write durable. Call on shutdown.
    ///
    /// # Errors
    /// A final sync failed.
    pub fn shutdown(&self) -> EngineResult<()> {
        self.inner.logs.sync_all()?;
        Ok(())
    }
}
