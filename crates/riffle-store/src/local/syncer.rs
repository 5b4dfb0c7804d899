//! The interval syncer (`--durability interval`): appends are acknowledged
//! once written, and a thread syncs every shard written since its last pass
//! once per interval. (`sync` mode commits through the journal instead.)

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::shard::LocalShardLog;

#[derive(Debug, Default)]
struct Queue {
    shards: VecDeque<Arc<LocalShardLog>>,
    stopped: bool,
}

/// The queue of shards written since the last pass, and its thread.
#[derive(Debug)]
pub struct Syncer {
    queue: Mutex<Queue>,
    wake: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Syncer {
    pub(crate) fn start(interval: Duration) -> Arc<Syncer> {
        let syncer = Arc::new(Syncer {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            thread: Mutex::new(None),
        });
        let runner = syncer.clone();
        let thread = std::thread::Builder::new()
            .name("riffle-sync".to_owned())
            .spawn(move || runner.run(interval.max(Duration::from_millis(1))))
            .expect("spawn sync thread");
        *syncer.thread.lock() = Some(thread);
        syncer
    }

    /// Queues `shard` for the next pass (once: the shard keeps a flag).
    pub(crate) fn enqueue(&self, shard: Arc<LocalShardLog>) {
        let mut queue = self.queue.lock();
        if !queue.stopped {
            queue.shards.push_back(shard);
        }
    }

    /// Syncs every queued shard once per interval.
    fn run(&self, interval: Duration) {
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
                // Failures are logged by the shard, which refuses further writes.
                let _ = shard.sync_now();
            }
        }
    }

    /// Stops the thread after it syncs what is queued.
    pub(crate) fn stop(&self) {
        self.queue.lock().stopped = true;
        self.wake.notify_all();
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}
