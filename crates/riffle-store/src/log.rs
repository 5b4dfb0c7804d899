//! The per-shard log traits.
//!
//! A [`LogStore`] hands out one [`ShardLog`] per shard. A shard log is an
//! append-only sequence of records, each with an offset (0, 1, 2, …) and an
//! arrival time. Offsets never repeat and never go backwards, even across
//! restarts and retention.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use riffle_model::Millis;
use tokio::sync::{oneshot, watch};

use crate::error::StoreError;
use crate::record::{NewRecord, Record};

/// Names one shard's log: the stream's incarnation id and the shard index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShardKey {
    pub stream_uid: u64,
    pub shard_index: u32,
}

/// When an append counts as done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// Acknowledge after `fdatasync`: acknowledged data survives power loss.
    /// Concurrent appends share syncs (group commit).
    #[default]
    Sync,
    /// RELAXED: acknowledge once written to the OS; sync every `interval_ms`.
    /// Survives a process crash; power loss can lose the last interval.
    Interval { interval_ms: u64 },
    /// RELAXED: acknowledge once written to the OS; never sync explicitly.
    /// Survives a process crash; power loss can lose anything not yet flushed
    /// by the OS.
    None,
}

/// The readable range of a shard log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LogBounds {
    /// The first offset still stored (the trim horizon).
    pub start: u64,
    /// One past the last committed offset: the next record will get it.
    pub end: u64,
    /// Arrival time of the last committed record, if any.
    pub last_arrival: Option<Millis>,
}

/// The result of [`ShardLog::append`].
#[derive(Debug)]
pub struct Appended {
    pub first_offset: u64,
    /// The arrival time stored with the records. It never goes backwards
    /// within a shard, so AT_TIMESTAMP can binary-search.
    pub arrival: Millis,
    /// Resolves once the records are durable (per the store's [`Durability`]).
    pub durable: Durable,
}

/// A wait for durability. Awaiting it is what makes an acknowledgement honest.
#[derive(Debug)]
pub struct Durable(Option<oneshot::Receiver<Result<(), StoreError>>>);

impl Durable {
    pub fn ready() -> Durable {
        Durable(None)
    }

    pub fn pending(receiver: oneshot::Receiver<Result<(), StoreError>>) -> Durable {
        Durable(Some(receiver))
    }

    /// Waits until the append is durable.
    ///
    /// # Errors
    /// The sync failed (the records may or may not be on disk, so the put must
    /// not be acknowledged), or the store shut down first.
    pub async fn wait(self) -> Result<(), StoreError> {
        match self.0 {
            None => Ok(()),
            Some(receiver) => receiver.await.unwrap_or(Err(StoreError::ShuttingDown)),
        }
    }
}

/// Several appends made together by one thread: one PutRecords batch
/// spreads its records over several shards. While the batch is alive a store
/// may hold back starting the syncs those appends need, and start them
/// together when it ends, so one sync round covers every shard of the
/// request. (Started at the first append, a round covered that shard alone:
/// PutRecords into 4 shards averaged 2.25 device flushes per request.)
///
/// A hint only: appends behave the same with or without it, and waiting on
/// a [`Durable`] before the batch ends would wait for nothing to start, so
/// end the batch first (it cannot cross an `.await`: it is not `Send`).
#[must_use = "the batch ends when this is dropped"]
#[derive(Debug)]
pub struct AppendBatch {
    /// The outermost batch of this thread starts the held syncs.
    outermost: bool,
    _not_send: PhantomData<*const ()>,
}

/// Something that starts syncs a store has queued.
pub(crate) trait SyncStarter: Send + Sync {
    fn start_syncs(&self);
}

thread_local! {
    /// Starters held by this thread's open [`AppendBatch`], if one is open.
    static HELD: RefCell<Option<Vec<Arc<dyn SyncStarter>>>> = const { RefCell::new(None) };
}

impl AppendBatch {
    pub fn begin() -> AppendBatch {
        let outermost = HELD.with_borrow_mut(|held| {
            let outermost = held.is_none();
            held.get_or_insert_with(Vec::new);
            outermost
        });
        AppendBatch {
            outermost,
            _not_send: PhantomData,
        }
    }
}

impl Drop for AppendBatch {
    fn drop(&mut self) {
        if self.outermost {
            for starter in HELD.with_borrow_mut(Option::take).unwrap_or_default() {
                starter.start_syncs();
            }
        }
    }
}

/// Starts `starter`'s queued syncs now, or when this thread's open
/// [`AppendBatch`] ends (once however many appends asked).
pub(crate) fn start_syncs(starter: Arc<dyn SyncStarter>) {
    let held = HELD.with_borrow_mut(|held| match held {
        Some(held) => {
            if !held
                .iter()
                .any(|h| std::ptr::addr_eq(Arc::as_ptr(h), Arc::as_ptr(&starter)))
            {
                held.push(starter.clone());
            }
            true
        }
        None => false,
    });
    if !held {
        starter.start_syncs();
    }
}

/// One shard's append-only log.
///
/// Readers only ever see *committed* records: in [`Durability::Sync`] mode a
/// record becomes visible when its sync completes, so a consumer can never
/// process a record that a crash then takes back.
pub trait ShardLog: Send + Sync + fmt::Debug {
    /// Appends `records` in order, all with one arrival time (at least
    /// `arrival`, and never earlier than the previous append's).
    ///
    /// # Errors
    /// Writing failed, or an earlier sync failed and the log is poisoned.
    fn append(&self, records: &[NewRecord<'_>], arrival: Millis) -> Result<Appended, StoreError>;

    /// Reads committed records from `from` onwards, skipping any that arrived
    /// before `not_before` (expired by retention). Returns at most
    /// `max_records`, and stops before exceeding `max_bytes` unless that would
    /// return nothing (a single record larger than `max_bytes` is returned alone).
    ///
    /// # Errors
    /// I/O failure, or stored data failed its checksum.
    fn read(
        &self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
        not_before: Millis,
    ) -> Result<Vec<Record>, StoreError>;

    /// The first committed offset whose arrival time is at or after `at`, or
    /// `bounds().end` if there is none.
    ///
    /// # Errors
    /// I/O failure while searching.
    fn offset_at_time(&self, at: Millis) -> Result<u64, StoreError>;

    fn bounds(&self) -> LogBounds;

    /// Watches the committed end: the value is `bounds().end`, and it
    /// changes whenever records become readable. Subscribers wait on this
    /// instead of polling.
    fn watch_commits(&self) -> watch::Receiver<u64>;

    /// The offset the next append will get (written, not necessarily committed).
    fn next_offset(&self) -> u64;

    /// Makes everything appended so far durable and visible before returning.
    /// Used when a shard is closed, so its end is on disk before lineage
    /// points past it.
    ///
    /// # Errors
    /// The sync failed.
    fn sync(&self) -> Result<(), StoreError>;

    /// Deletes whole sealed segments whose records all arrived before `cutoff`.
    ///
    /// # Errors
    /// A segment file could not be removed.
    fn expire_before(&self, cutoff: Millis) -> Result<(), StoreError>;
}

/// The set of shard logs.
pub trait LogStore: Send + Sync + fmt::Debug {
    /// Opens a shard's log, creating it if it does not exist. Opening an
    /// already-open shard returns the same log.
    ///
    /// # Errors
    /// The log's files could not be created or recovered.
    fn open_shard(&self, key: ShardKey) -> Result<Arc<dyn ShardLog>, StoreError>;

    /// Whether a shard's log exists: created, and not removed since. Cheap
    /// (no recovery); when it cannot tell, it answers yes, and opening the
    /// log reports the problem.
    fn has_shard(&self, key: ShardKey) -> bool;

    /// Deletes every shard log of a stream. Logs already handed out must not
    /// be used afterwards.
    ///
    /// # Errors
    /// Files could not be removed.
    fn remove_stream(&self, stream_uid: u64) -> Result<(), StoreError>;

    /// Deletes one shard's log (a closed shard past retention). The log
    /// must not be used afterwards.
    ///
    /// # Errors
    /// Files could not be removed.
    fn remove_shard(&self, key: ShardKey) -> Result<(), StoreError>;

    /// Deletes a stream's shard logs numbered `first_index` and up, and
    /// says how many there were: the children a reshard made before a
    /// crash kept its stream's row from naming them. Those logs must not be
    /// in use.
    ///
    /// # Errors
    /// The stream's logs could not be listed or removed.
    fn remove_shards_from(&self, stream_uid: u64, first_index: u32) -> Result<usize, StoreError>;

    /// Makes everything appended so far durable; used at shutdown.
    ///
    /// # Errors
    /// A sync failed.
    fn sync_all(&self) -> Result<(), StoreError>;
}
