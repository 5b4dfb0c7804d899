//! Group commit: the threads that `fdatasync` shard logs.
//!
//! An append writes its batch and queues its shard here (once, however many
//! appends arrive meanwhile), then waits. A sync thread takes the shard,
//! syncs its file once for everything written so far and answers every
//! waiting append. Under load many appends share one sync, which is what
//! makes durable acknowledgement cheap.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::shard::LocalShardLog;
use crate::log::Durability;

/// Sync threads. Syncs of different files proceed in parallel in the kernel
/// and the device, so a few threads keep many busy shards from queueing
/// behind one slow sync.
const SYNC_THREADS: usize = 4;

/// With more shards than this waiting, one thread takes them all and syncs
/// them with a single `syncfs` (one device flush) instead of one
/// `fdatasync` each: streams with thousands of shards spread every
/// PutRecords batch over hundreds of files.
const SYNCFS_FROM_SHARDS: usize = 8;

#[derive(Debug, Default)]
struct Queue {
    shards: VecDeque<Arc<LocalShardLog>>,
    stopped: bool,
}

/// The shared queue of shards waiting for a sync, and its threads.
#[derive(Debug)]
pub struct Syncer {
    /// Sync as soon as a shard is queued (Sync mode), rather than on a timer.
    on_demand: bool,
    /// The directory every log lives under (for `syncfs`).
    root: PathBuf,
    queue: Mutex<Queue>,
    wake: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Syncer {
    pub(crate) fn start(durability: Durability, root: PathBuf) -> Arc<Syncer> {
        let syncer = Arc::new(Syncer {
            on_demand: durability == Durability::Sync,
            root,
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
        syncer
    }

    pub(crate) fn enqueue(&self, shard: Arc<LocalShardLog>) {
        let mut queue = self.queue.lock();
        if queue.stopped {
            return;
        }
        queue.shards.push_back(shard);
        drop(queue);
        if self.on_demand {
            self.wake.notify_one();
        }
    }

    /// Sync mode: sync each shard as soon as it is queued.
    fn run_on_demand(&self) {
        loop {
            let shards: Vec<_> = {
                let mut queue = self.queue.lock();
                loop {
                    if queue.shards.len() > SYNCFS_FROM_SHARDS {
                        break queue.shards.drain(..).collect();
                    }
                    if let Some(shard) = queue.shards.pop_front() {
                        break vec![shard];
                    }
                    if queue.stopped {
                        return;
                    }
                    self.wake.wait(&mut queue);
                }
            };
            // Failures are logged and reported to the waiting appends by the shard.
            match shards.as_slice() {
                [shard] => {
                    let _ = shard.sync_now();
                }
                many => LocalShardLog::sync_many(many, &self.root),
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
