//! SubscribeToShard: records pushed to an enhanced fan-out consumer.
//!
//! A [`Subscription`] is a pull-driven stream of events: the transport asks
//! for the next event only when it has sent the last one, so a slow
//! subscriber holds at most one event in memory and never slows writers or
//! other subscribers. Between records it waits on the shard's commit watch
//! (no polling), with a heartbeat so an idle subscription still gets events.
//! It ends after five minutes, when a newer subscription for the same
//! consumer and shard takes over, or after delivering a closed shard's end.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use riffle_model::limits::GET_RECORDS_LIMIT_MAX;
use riffle_model::{Millis, SequenceNumber, ShardId};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::consumers::{ConsumerRef, ConsumerStatus};
use super::get_records::{ChildShard, ReadRecord};
use super::get_shard_iterator::{IteratorStart, resolve_shard_id};
use crate::error::{EngineError, EngineResult};
use crate::metrics::StreamMetric;
use crate::stream::Stream;
use crate::{Engine, StreamRef};

/// How long one subscription lives (AWS: five minutes).
pub const SUBSCRIPTION_LIFETIME: Duration = Duration::from_secs(300);
/// An idle subscription gets an empty event at least this often.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A consumer may not resubscribe to a shard sooner than this after its
/// last subscription started; later, the new subscription takes over.
pub const RESUBSCRIBE_AFTER_MS: u64 = 5_000;
/// Bytes of records in one event, at most.
pub const EVENT_BYTES_MAX: usize = 1024 * 1024;

/// One SubscribeToShardEvent.
#[derive(Clone, Debug)]
pub struct SubscribeEvent {
    pub records: Vec<ReadRecord>,
    /// Resume with AFTER_SEQUENCE_NUMBER of this to continue exactly here.
    pub continuation: SequenceNumber,
    pub millis_behind_latest: u64,
    /// Set on the last event of a closed shard.
    pub child_shards: Vec<ChildShard>,
    pub encrypted: bool,
}

/// The live subscriptions, one per consumer and shard.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    leases: parking_lot::Mutex<HashMap<(String, u32), Lease>>,
    next_id: AtomicU64,
}

#[derive(Debug, Clone)]
struct Lease {
    id: u64,
    started: Millis,
    ended: Arc<Ending>,
}

/// Tells a subscription it has been replaced or its consumer removed.
#[derive(Debug, Default)]
struct Ending {
    ended: AtomicBool,
    notify: Notify,
}

impl Ending {
    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }
}

/// A running subscription; see the module docs.
#[derive(Debug)]
pub struct Subscription {
    engine: Engine,
    stream: Arc<Stream>,
    shard: ShardId,
    consumer_arn: String,
    lease_id: u64,
    ended: Arc<Ending>,
    offset: u64,
    commits: watch::Receiver<u64>,
    deadline: Instant,
    finished: bool,
}

impl Engine {
    /// Starts a subscription for an ACTIVE consumer on one shard.
    ///
    /// # Errors
    /// The consumer, stream or shard does not exist; the consumer is not
    /// ACTIVE or already subscribed to the shard within the last five
    /// seconds (ResourceInUseException); the starting position is invalid.
    pub fn subscribe_to_shard(
        &self,
        consumer_arn: &str,
        shard_raw: &str,
        start: IteratorStart,
    ) -> EngineResult<Subscription> {
        self.subscribe(consumer_arn, shard_raw, start, false)
    }

    /// What SubscribeToShard with DryRun set answers: the error the call
    /// would fail with, else [`EngineError::DryRun`]. No lease is taken.
    pub fn dry_run_subscribe(
        &self,
        consumer_arn: &str,
        shard_raw: &str,
        start: IteratorStart,
    ) -> EngineError {
        match self.subscribe(consumer_arn, shard_raw, start, true) {
            Ok(_) => unreachable!("a dry run stops before subscribing"),
            Err(err) => err,
        }
    }

    fn subscribe(
        &self,
        consumer_arn: &str,
        shard_raw: &str,
        start: IteratorStart,
        dry_run: bool,
    ) -> EngineResult<Subscription> {
        let consumer = self.describe_consumer(&ConsumerRef::Arn(consumer_arn.to_owned()))?;
        let account = self.inner.config.account.as_str();
        if consumer.status != ConsumerStatus::Active {
            return Err(EngineError::ResourceInUse(format!(
                "Consumer {consumer_arn} under account {account} is not ACTIVE, instead in state {}.",
                consumer.status.as_str()
            )));
        }
        let stream_arn = riffle_model::StreamArn::parse(&consumer.stream_arn)
            .expect("consumers name their stream");
        let stream = self.lookup(&StreamRef::Arn(stream_arn))?;
        let now = self.now();
        let not_found = |shard: ShardId| EngineError::ShardNotFound {
            stream: stream.name.to_string(),
            shard,
        };
        let shard_id =
            resolve_shard_id(shard_raw).ok_or_else(|| EngineError::ShardUnknownForReshard {
                stream: stream.name.to_string(),
                raw: shard_raw.to_owned(),
            })?;
        let (offset, commits) = {
            let state = stream.state.read();
            let shard = state
                .shard(shard_id, now)
                .ok_or_else(|| not_found(shard_id))?;
            (
                self.start_offset(&stream, shard, &start, now, "SubscribeToShard")?,
                shard.log()?.watch_commits(),
            )
        };

        if dry_run {
            return Err(EngineError::DryRun);
        }
        let subscriptions = &self.inner.subscriptions;
        let key = (consumer.arn.clone(), shard_id.0);
        let ended = Arc::new(Ending::default());
        let lease_id = subscriptions.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut leases = subscriptions.leases.lock();
            if let Some(current) = leases.get(&key) {
                if !current.ended.ended.load(Ordering::Acquire)
                    && now.saturating_sub(current.started) < RESUBSCRIBE_AFTER_MS
                {
                    return Err(EngineError::ResourceInUse(format!(
                        "Another active subscription exists for consumer {} on shard {shard_id}; retry after {} seconds.",
                        consumer.arn,
                        RESUBSCRIBE_AFTER_MS / 1000
                    )));
                }
                // Takeover: the older subscription ends.
                current.ended.end();
            }
            leases.insert(
                key,
                Lease {
                    id: lease_id,
                    started: now,
                    ended: ended.clone(),
                },
            );
        }
        stream
            .counters
            .add(StreamMetric::SubscribeToShardSuccess, 1);
        Ok(Subscription {
            engine: self.clone(),
            stream,
            shard: shard_id,
            consumer_arn: consumer.arn,
            lease_id,
            ended,
            offset,
            commits,
            deadline: Instant::now() + SUBSCRIPTION_LIFETIME,
            finished: false,
        })
    }

    /// Ends every subscription of a consumer (it was deregistered).
    pub(crate) fn end_subscriptions_of(&self, consumer_arn: &str) {
        let leases = self.inner.subscriptions.leases.lock();
        for ((arn, _), lease) in leases.iter() {
            if arn == consumer_arn {
                lease.ended.end();
            }
        }
    }
}

impl Subscriptions {
    /// Subscriptions currently running (not yet ended or dropped).
    pub(crate) fn active(&self) -> usize {
        self.leases
            .lock()
            .values()
            .filter(|lease| !lease.ended.ended.load(Ordering::Acquire))
            .count()
    }
}

impl Subscription {
    /// The next event, waiting for records or the heartbeat. `None` when the
    /// subscription is over (lifetime reached, taken over, or a closed shard
    /// fully delivered).
    ///
    /// # Errors
    /// The stream or shard went away, or storage failed.
    pub async fn next_event(&mut self) -> Option<EngineResult<SubscribeEvent>> {
        if self.finished {
            return None;
        }
        // The heartbeat counts from the previous event, not from each wake-up,
        // so commits that bring nothing readable cannot postpone it forever.
        let heartbeat_at = (Instant::now() + HEARTBEAT).min(self.deadline);
        let mut heartbeat_due = false;
        let ended = self.ended.clone();
        loop {
            // Register for the end signal before checking it, so an end()
            // between the check and the wait is not missed.
            let end_signal = ended.notify.notified();
            tokio::pin!(end_signal);
            end_signal.as_mut().enable();
            if ended.ended.load(Ordering::Acquire) || Instant::now() >= self.deadline {
                self.finished = true;
                return None;
            }
            match self.poll_records(heartbeat_due) {
                Ok(Some(event)) => {
                    if !event.child_shards.is_empty() {
                        self.finished = true;
                    }
                    return Some(Ok(event));
                }
                Ok(None) => {}
                Err(err) => {
                    self.finished = true;
                    return Some(Err(err));
                }
            }
            tokio::select! {
                changed = self.commits.changed() => {
                    if changed.is_err() {
                        // The shard's log is gone (deleted or expired): wait out the heartbeat.
                        tokio::time::sleep_until(heartbeat_at).await;
                        heartbeat_due = true;
                    }
                }
                () = tokio::time::sleep_until(heartbeat_at) => heartbeat_due = true,
                () = &mut end_signal => {}
            }
        }
    }

    /// Reads what is there; an event if there are records, if the shard's
    /// end was reached, or if a heartbeat is due.
    fn poll_records(&mut self, heartbeat_due: bool) -> EngineResult<Option<SubscribeEvent>> {
        let now = self.engine.now();
        let state = self.stream.state.read();
        let not_found = || EngineError::ShardNotFound {
            stream: self.stream.name.to_string(),
            shard: self.shard,
        };
        if !state.status(now).accepts_data() {
            return Err(not_found());
        }
        let shard = state.shard(self.shard, now).ok_or_else(not_found)?;
        let cutoff = state.retention_cutoff(now);
        let log = shard.log()?;
        let stored = log.read(self.offset, GET_RECORDS_LIMIT_MAX, EVENT_BYTES_MAX, cutoff)?;
        let bounds = log.bounds();
        if let Some(last) = stored.last() {
            self.offset = last.offset + 1;
        } else if bounds.last_arrival.is_none_or(|last| last < cutoff) {
            // Everything left has expired: move to the end (see GetRecords).
            self.offset = self.offset.max(bounds.end);
        } else {
            self.offset = self.offset.max(bounds.start);
        }
        let finished = shard
            .closed
            .is_some_and(|closed| self.offset >= closed.end_offset);
        if stored.is_empty() && !finished && !heartbeat_due {
            return Ok(None);
        }
        let millis_behind_latest = if self.offset >= bounds.end {
            0
        } else {
            now.saturating_sub(stored.last().map_or(now, |r| r.arrival))
        };
        let child_shards = if finished {
            state
                .children_of(self.shard)
                .map(|child| ChildShard {
                    id: child.id,
                    parents: child
                        .parent
                        .into_iter()
                        .chain(child.adjacent_parent)
                        .collect(),
                    hash_range: child.range,
                })
                .collect()
        } else {
            Vec::new()
        };
        let counters = &self.stream.counters;
        counters.add(StreamMetric::SubscribeToShardEventSuccess, 1);
        counters.add(
            StreamMetric::SubscribeToShardEventRecords,
            stored.len() as u64,
        );
        counters.add(
            StreamMetric::SubscribeToShardEventBytes,
            stored.iter().map(|r| r.size_bytes() as u64).sum(),
        );
        counters.set(
            StreamMetric::SubscribeToShardEventMillisBehindLatest,
            millis_behind_latest,
        );
        let records = stored
            .into_iter()
            .map(|r| ReadRecord {
                sequence: shard.sequence_number(r.offset),
                arrival: r.arrival,
                partition_key: r.partition_key,
                data: r.data,
            })
            .collect();
        Ok(Some(SubscribeEvent {
            records,
            continuation: shard.sequence_before(self.offset),
            millis_behind_latest,
            child_shards,
            encrypted: state.record.encryption_key_id.is_some(),
        }))
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut leases = self.engine.inner.subscriptions.leases.lock();
        let key = (self.consumer_arn.clone(), self.shard.0);
        if leases
            .get(&key)
            .is_some_and(|lease| lease.id == self.lease_id)
        {
            leases.remove(&key);
        }
    }
}
