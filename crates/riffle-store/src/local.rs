//! The local backend: everything in one data directory.
//!
//! ```text
//! <data-dir>/
//!   metadata.redb                 streams, shards, secrets (redb, ACID)
//!   logs/<stream uid, hex>/<shard index>/<base offset, 20 digits>.log
//!   journal/<sequence, 20 digits>.wal    recent appends, until a checkpoint
//! ```
//!
//! - [`batch`]: the on-disk framing of one append (length, CRC32C, records).
//! - [`segment`]: one segment file and its in-memory sparse index.
//! - [`shard`]: a shard's segments, appends, reads and recovery.
//! - [`journal`]: group commit in `sync` mode: one file flush per round for
//!   every shard, checkpoints, and replay after a crash.
//! - [`syncer`]: the `interval` mode's sync thread.
//! - [`tail`]: the newest batches of shards being read at their tip, in memory.
//! - [`metadata`]: the redb metadata store.
//!
//! See `docs/storage.md` for the format and the durability argument.

pub mod batch;
mod journal;
mod lock;
pub mod metadata;
pub mod segment;
pub mod shard;
pub mod syncer;
mod tail;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::error::StoreError;
use crate::log::{Durability, LogStore, ShardKey, ShardLog};

use journal::Journal;
pub use metadata::RedbMetadataStore;
pub use shard::LocalShardLog;
use syncer::Syncer;
use tail::TailBudget;

/// What makes a log's appends durable, per [`Durability`].
#[derive(Clone, Debug)]
pub(crate) enum Committer {
    /// `sync`: acknowledged once a journal round is flushed.
    Journal(Arc<Journal>),
    /// `interval`: acknowledged at once, synced every interval.
    Interval(Arc<Syncer>),
    /// `none`: acknowledged at once, never synced.
    Immediate,
}

impl Committer {
    fn stop(&self) {
        match self {
            Committer::Journal(journal) => journal.stop(),
            Committer::Interval(syncer) => syncer.stop(),
            Committer::Immediate => {}
        }
    }
}

/// The directory of one shard's log under the logs root.
pub(crate) fn shard_dir(logs_root: &Path, key: ShardKey) -> PathBuf {
    logs_root
        .join(format!("{:016x}", key.stream_uid))
        .join(key.shard_index.to_string())
}

/// Tunables of the local log store.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    pub durability: Durability,
    /// A segment is sealed and a new one started past this size.
    pub segment_bytes: u64,
    /// `sync` mode: how often the journal is retired into the segments
    /// while it has entries (a restart after a crash replays at most about
    /// this much traffic). A journal file that passes 64 MiB is retired at once.
    pub checkpoint_interval: Duration,
    /// `sync` mode: how often, between checkpoints, the batches shards
    /// journaled and held back are written to their segments and their
    /// writeback started (see `shard::ShardState::unwritten`).
    pub writeback_pace: Duration,
    /// `sync` mode: what all shards together may hold back for their
    /// segments between writeback passes; past it an append writes its
    /// shard's out at once.
    pub held_back_bytes: usize,
    /// What all shards together may keep of their newest batches for
    /// readers at the tip (each shard at most 1 MiB, and only while it is
    /// being tailed). 0 turns the tail cache off.
    pub tail_cache_bytes: usize,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            durability: Durability::Sync,
            segment_bytes: 64 * 1024 * 1024,
            checkpoint_interval: Duration::from_secs(1),
            writeback_pace: Duration::from_millis(20),
            held_back_bytes: 64 << 20,
            tail_cache_bytes: 32 << 20,
        }
    }
}

/// Segment-file logs under `<data-dir>/logs`.
#[derive(Debug)]
pub struct LocalLogStore {
    root: PathBuf,
    config: LocalConfig,
    committer: Committer,
    tail_budget: Arc<TailBudget>,
    /// Open shard logs, so two opens of one shard share one writer.
    open: Mutex<HashMap<ShardKey, Slot>>,
    /// Signalled when a log being opened is open (or failed to open).
    opened: Condvar,
}

/// A shard log in the open map.
#[derive(Debug)]
enum Slot {
    Open(Arc<LocalShardLog>),
    /// Being opened (recovered) by one thread, outside the map's lock, so
    /// that many logs can be recovered at once (startup).
    Opening,
}

impl Slot {
    fn log(&self) -> Option<&Arc<LocalShardLog>> {
        match self {
            Slot::Open(log) => Some(log),
            Slot::Opening => None,
        }
    }
}

impl LocalLogStore {
    /// Opens (creating if needed) the logs under `data_dir`.
    ///
    /// # Errors
    /// The directory could not be created.
    pub fn open(data_dir: &Path, config: LocalConfig) -> Result<LocalLogStore, StoreError> {
        let root = data_dir.join("logs");
        fs::create_dir_all(&root).map_err(|e| StoreError::io(&root, e))?;
        // Whatever the mode now, a journal left by a `sync`-mode run holds
        // acknowledged appends its segments may have lost.
        let journal_dir = data_dir.join("journal");
        journal::replay(&journal_dir, &root)?;
        // What a crashed process wrote but never synced may still be only
        // in the page cache. One syncfs makes all of it durable before any
        // log is opened and read, instead of one device flush per shard
        // (1,000 shards: about 100 ms of startup).
        sync_filesystem(&root)?;
        let committer = match config.durability {
            Durability::Sync => Committer::Journal(Journal::start(
                &journal_dir,
                &root,
                config.checkpoint_interval,
                config.writeback_pace,
                config.held_back_bytes,
            )?),
            Durability::Interval { interval_ms } => {
                Committer::Interval(Syncer::start(Duration::from_millis(interval_ms)))
            }
            Durability::None => Committer::Immediate,
        };
        Ok(LocalLogStore {
            root,
            tail_budget: TailBudget::new(config.tail_cache_bytes),
            config,
            committer,
            open: Mutex::new(HashMap::new()),
            opened: Condvar::new(),
        })
    }

    fn stream_dir(&self, stream_uid: u64) -> PathBuf {
        self.root.join(format!("{stream_uid:016x}"))
    }

    /// An open log as its concrete type, for tests of its internals.
    #[cfg(test)]
    pub(crate) fn local_shard(&self, key: ShardKey) -> Arc<LocalShardLog> {
        self.open.lock()[&key]
            .log()
            .expect("the log is open")
            .clone()
    }
}

/// Settles an opening log's slot when dropped: open, or removed (after an
/// error or a panic); then wakes the opens waiting for it.
struct Settle<'a> {
    store: &'a LocalLogStore,
    key: ShardKey,
    log: Option<Arc<LocalShardLog>>,
}

impl Drop for Settle<'_> {
    fn drop(&mut self) {
        let mut open = self.store.open.lock();
        match self.log.take() {
            Some(log) => open.insert(self.key, Slot::Open(log)),
            None => open.remove(&self.key),
        };
        drop(open);
        self.store.opened.notify_all();
    }
}

impl LogStore for LocalLogStore {
    fn open_shard(&self, key: ShardKey) -> Result<Arc<dyn ShardLog>, StoreError> {
        let mut open = self.open.lock();
        loop {
            match open.get(&key) {
                Some(Slot::Open(log)) => return Ok(log.clone()),
                Some(Slot::Opening) => self.opened.wait(&mut open),
                None => break,
            }
        }
        open.insert(key, Slot::Opening);
        drop(open);
        // Whatever happens below, even a panic, the marker goes and the
        // waiters wake: a marker left behind would block every later open
        // of the shard, in requests that hold their stream's lock.
        let mut settle = Settle {
            store: self,
            key,
            log: None,
        };
        let dir = shard_dir(&self.root, key);
        let log = LocalShardLog::open(
            key,
            dir,
            self.config.clone(),
            self.committer.clone(),
            self.tail_budget.clone(),
        )?;
        settle.log = Some(log.clone());
        Ok(log)
    }

    fn has_shard(&self, key: ShardKey) -> bool {
        self.open.lock().contains_key(&key)
            || shard_dir(&self.root, key).try_exists().unwrap_or(true)
    }

    fn remove_stream(&self, stream_uid: u64) -> Result<(), StoreError> {
        self.open
            .lock()
            .retain(|key, _| key.stream_uid != stream_uid);
        let dir = self.stream_dir(stream_uid);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(dir, e)),
        }
    }

    fn remove_shard(&self, key: ShardKey) -> Result<(), StoreError> {
        self.open.lock().remove(&key);
        let dir = shard_dir(&self.root, key);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(dir, e)),
        }
    }

    fn remove_shards_from(&self, stream_uid: u64, first_index: u32) -> Result<usize, StoreError> {
        let dir = self.stream_dir(stream_uid);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(StoreError::io(dir, e)),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(&dir, e))?;
            let index = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok());
            if let Some(shard_index) = index.filter(|&i| i >= first_index) {
                self.remove_shard(ShardKey {
                    stream_uid,
                    shard_index,
                })?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn sync_all(&self) -> Result<(), StoreError> {
        // Sync every log even if one fails, then report the first failure.
        let logs: Vec<_> = self
            .open
            .lock()
            .values()
            .filter_map(Slot::log)
            .cloned()
            .collect();
        let mut first_error = None;
        for log in logs {
            if let Err(err) = log.sync_now() {
                first_error.get_or_insert(err);
            }
        }
        if let (None, Committer::Journal(journal)) = (&first_error, &self.committer) {
            // Every log is synced: a restart need not replay anything (a
            // poisoned journal is not retired: the restart replays it).
            journal.checkpoint()?;
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Flushes every dirty page of the filesystem holding `dir` to disk.
pub(crate) fn sync_filesystem(dir: &Path) -> Result<(), StoreError> {
    let handle = fs::File::open(dir).map_err(|e| StoreError::io(dir, e))?;
    sync_filesystem_of(&handle, dir)
}

/// Flushes every dirty page of the filesystem holding the open file or
/// directory `handle` (named `path` in errors) to disk.
pub(crate) fn sync_filesystem_of(handle: &fs::File, path: &Path) -> Result<(), StoreError> {
    use std::os::fd::AsRawFd;
    // SAFETY: syncfs only reads the descriptor, which `handle` keeps open
    // for the duration of the call. Measured: it replaces 1,000 fdatasyncs
    // (one per shard, each a device flush) at startup, and four per
    // group-commit round with four busy shards (syncer.rs).
    #[allow(unsafe_code)]
    let result = unsafe { libc::syncfs(handle.as_raw_fd()) };
    if result != 0 {
        return Err(StoreError::io(path, std::io::Error::last_os_error()));
    }
    Ok(())
}

impl Drop for LocalLogStore {
    fn drop(&mut self) {
        self.committer.stop();
    }
}
