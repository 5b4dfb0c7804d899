//! Group commit: the threads that make shard logs durable.
//!
//! An append writes its batch and queues its shard here (once, however many
//! appends arrive meanwhile), then waits. A sync thread takes every queued
//! shard as one round, syncs them (one `fdatasync`, or one `syncfs` for
//! several) for everything written so far, and answers every waiting
//! append. Under load many appends share one device flush, which is what
//! makes durable acknowledgement cheap.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::shard::LocalShardLog;
use crate::error::StoreError;
use crate::log::{Durability, SyncStarter};

/// Sync threads. Each takes everything queued as one round, so the busier
/// the server the more appends each device flush covers. Two let a round
/// start while the previous one waits on the device. Measured on the 2-core
/// bench VM (flushes of 0.1–1 ms, each costing 20–40 µs of kernel CPU): with
/// a thread per busy shard, PutRecord averaged 1.5 requests per flush and
/// the sync threads took a quarter of the server's CPU; two threads taking
/// whole rounds did 1.5–2× the requests/s of four taking a shard at a time.
const SYNC_THREADS: usize = 2;

/// With at least this many shards waiting, a round syncs them with one
/// `syncfs` (one journal commit and device flush) instead of one
/// `fdatasync` each. Measured on the bench VM: four shard files cost
/// 121 µs of CPU and 432 µs wall as four `fdatasync`s, 53 µs and 185 µs as
/// one `syncfs`. Streams with thousands of shards spread every PutRecords
/// batch over hundreds of files.
const SYNCFS_FROM_SHARDS: usize = 2;

#[derive(Debug, Default)]
struct Queue {
    shards: VecDeque<Arc<LocalShardLog>>,
    stopped: bool,
}

impl SyncStarter for Syncer {
    fn start_syncs(&self) {
        // One thread takes everything queued as one round.
        self.wake.notify_one();
    }
}

/// The shared queue of shards waiting for a sync, and its threads.
#[derive(Debug)]
pub struct Syncer {
    /// Sync as soon as a shard is queued (Sync mode), rather than on a timer.
    on_demand: bool,
    /// The directory every log lives under, kept open for `syncfs`.
    root: PathBuf,
    root_handle: File,
    queue: Mutex<Queue>,
    wake: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Syncer {
    pub(crate) fn start(durability: Durability, root: &Path) -> Result<Arc<Syncer>, StoreError> {
        let syncer = Arc::new(Syncer {
            on_demand: durability == Durability::Sync,
            root: root.to_owned(),
            root_handle: File::open(root).map_err(|e| StoreError::io(root, e))?,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            threads: Mutex::new(Vec::new()),
        });
        let threads = match durability {
            Durability::Sync => (0..SYNC_THREADS)
                .map(|i| {
                    let syncer = syncer.clone();
                    std::thread::Builder::new()
                        .name(format!("riffle-sync-{i}"))
                        .spawn(move || syncer.run_on_demand())
                        .expect("spawn sync thread")
                })
                .collect(),
            Durability::Interval { interval_ms } => {
                let syncer = syncer.clone();
                vec![
                    std::thread::Builder::new()
                        .name("riffle-sync".to_owned())
                        .spawn(move || {
                            syncer.run_on_interval(Duration::from_millis(interval_ms.max(1)))
                        })
                        .expect("spawn sync thread"),
                ]
            }
            Durability::None => Vec::new(),
        };
        *syncer.threads.lock() = threads;
        Ok(syncer)
    }

    /// Queues `shard` for the next round; in Sync mode the round starts at
    /// once, or when the caller's [`AppendBatch`](crate::AppendBatch) ends.
    pub(crate) fn enqueue(self: &Arc<Self>, shard: Arc<LocalShardLog>) {
        let mut queue = self.queue.lock();
        if queue.stopped {
            return;
        }
        // A queue that already holds shards has a start coming: a thread was
        // woken for them and has not drained it yet, or an `AppendBatch`
        // holding them will wake one when it ends. Waking the other thread
        // too would split the round in two.
        let start_coming = !queue.shards.is_empty();
        queue.shards.push_back(shard);
        drop(queue);
        if self.on_demand && !start_coming {
            crate::log::start_syncs(self.clone());
        }
    }

    /// Sync mode: sync everything queued, as one round, as soon as it is queued.
    fn run_on_demand(&self) {
        loop {
            let shards: Vec<_> = {
                let mut queue = self.queue.lock();
                loop {
                    if !queue.shards.is_empty() {
                        break queue.shards.drain(..).collect();
                    }
                    if queue.stopped {
                        return;
                    }
                    self.wake.wait(&mut queue);
                }
            };
            // Failures are logged and reported to the waiting appends by the shard.
            if shards.len() >= SYNCFS_FROM_SHARDS {
                LocalShardLog::sync_many(&shards, &self.root_handle, &self.root);
            } else {
                for shard in &shards {
                    let _ = shard.sync_now();
                }
            }
        }
    }

    /// Interval mode: sync every queued shard once per interval.
    fn run_on_interval(&self, interval: Duration) {
        loop {
            let shards = {
                let mut queue = self.queue.lock();
                if !queue.stopped {
                    self.wake.wait_for(&mut queue, interval);
                }
                if queue.stopped && queue.shards.is_empty() {
                    return;
                }
                std::mem::take(&mut queue.shards)
            };
            for shard in shards {
                let _ = shard.sync_now();
            }
        }
    }

    /// Stops the threads after they drain the queue.
    pub(crate) fn stop(&self) {
        self.queue.lock().stopped = true;
        self.wake.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock());
        for thread in threads {
            let _ = thread.join();
        }
    }
}
