//! SplitShard, MergeShards and UpdateShardCount.
//!
//! Every reshard is planned on a copy of the stream's record, persisted in
//! one metadata transaction, then published: parents close at the offset
//! their log has reached (synced first, so the end is on disk), children
//! open with a sequence-number epoch above every parent's. Writes hold the
//! stream state's read lock and a reshard takes its write lock to install,
//! so no record lands in a parent after its end was taken.

use riffle_model::limits::{QUOTA_WINDOW_MS, SHARD_COUNT_UPDATES_PER_DAY};
use riffle_model::{HashKeyRange, Millis, ShardId, StreamArn, StreamName};
use riffle_store::{ClosedShard, ShardKey, StreamRecord};

use crate::error::{EngineError, EngineResult};
use crate::metrics::ReshardTrigger;
use crate::pending::Promise;
use crate::stream::{StreamState, StreamStatus, new_shard_record};
use crate::{Engine, StreamRef};

/// A reshard being planned on a copy of a stream's record.
struct Plan<'a> {
    record: StreamRecord,
    state: &'a StreamState,
    now: Millis,
    account: &'a str,
    /// Who asked; UpdateShardCount's daily quota binds clients only.
    trigger: ReshardTrigger,
    /// Only finding which shards the reshard adds: parents' logs are left
    /// alone (their end offsets are taken under the write lock).
    preview: bool,
    splits: u64,
    merges: u64,
}

impl Plan<'_> {
    fn stream_name(&self) -> &str {
        &self.record.name
    }

    /// An open shard by the id a client gave.
    fn open_shard(&self, raw: &str) -> EngineResult<u32> {
        let id = crate::ops::get_shard_iterator::resolve_shard_id(raw)
            .filter(|id| id.index() < self.record.shards.len())
            .ok_or_else(|| EngineError::ShardUnknownForReshard {
                stream: self.stream_name().to_owned(),
                raw: raw.to_owned(),
            })?;
        if self.record.shards[id.index()].closed.is_some() {
            return Err(EngineError::ResourceInUse(format!(
                "Shard {id} in stream {} under account {} has already been merged or split, and thus is not eligible for merging or splitting.",
                self.stream_name(),
                self.account
            )));
        }
        Ok(id.0)
    }

    fn range(&self, index: u32) -> HashKeyRange {
        let shard = &self.record.shards[index as usize];
        HashKeyRange {
            start: shard
                .hash_start
                .parse()
                .expect("stored hash keys are decimal"),
            end: shard
                .hash_end
                .parse()
                .expect("stored hash keys are decimal"),
        }
    }

    /// Closes a shard at the end of what it holds.
    fn close(&mut self, index: u32) -> EngineResult<()> {
        let end_offset = match self.state.shards.get(index as usize) {
            Some(_) if self.preview => 0,
            Some(shard) => {
                let log = shard.log()?;
                log.sync()?;
                log.next_offset()
            }
            // A shard created earlier in this same plan has never been written.
            None => 0,
        };
        self.record.shards[index as usize].closed = Some(ClosedShard {
            end_offset,
            closed_ms: self.now.0,
        });
        Ok(())
    }

    /// Opens a child of `parent` (and `adjacent`) covering `range`.
    fn open_child(&mut self, range: HashKeyRange, parent: u32, adjacent: Option<u32>) -> u32 {
        let epoch_above = |index: u32| self.record.shards[index as usize].epoch + 1;
        let epoch = self
            .now
            .0
            .max(epoch_above(parent))
            .max(adjacent.map_or(0, epoch_above));
        let index = self.record.shards.len() as u32;
        let mut child = new_shard_record(index, range, epoch, self.now);
        child.parent = Some(parent);
        child.adjacent_parent = adjacent;
        self.record.shards.push(child);
        index
    }

    /// Splits an open shard so the second child starts at `at`.
    fn split(&mut self, index: u32, at: u128) -> EngineResult<(u32, u32)> {
        let range = self.range(index);
        debug_assert!(range.start < at && at <= range.end);
        self.close(index)?;
        self.splits += 1;
        let low = self.open_child(
            HashKeyRange {
                start: range.start,
                end: at - 1,
            },
            index,
            None,
        );
        let high = self.open_child(
            HashKeyRange {
                start: at,
                end: range.end,
            },
            index,
            None,
        );
        Ok((low, high))
    }

    /// Merges two open, adjacent shards; the child's parent is `shard`.
    fn merge(&mut self, shard: u32, adjacent: u32) -> EngineResult<u32> {
        let (a, b) = (self.range(shard), self.range(adjacent));
        let range = HashKeyRange {
            start: a.start.min(b.start),
            end: a.end.max(b.end),
        };
        self.close(shard)?;
        self.close(adjacent)?;
        self.merges += 1;
        Ok(self.open_child(range, shard, Some(adjacent)))
    }

    /// Open shards, sorted by the start of their range.
    fn open_shards(&self) -> Vec<(u32, HashKeyRange)> {
        let mut open: Vec<_> = self
            .record
            .shards
            .iter()
            .filter(|s| s.closed.is_none())
            .map(|s| (s.index, self.range(s.index)))
            .collect();
        open.sort_by_key(|(_, range)| range.start);
        open
    }
}

/// UpdateShardCount's answer.
#[derive(Clone, Debug)]
pub struct ShardCountChange {
    pub name: StreamName,
    pub arn: StreamArn,
    pub current: u32,
    pub target: u32,
}

impl Engine {
    /// Plans, persists and publishes a reshard. The stream is UPDATING for
    /// the transition delay afterwards, and refuses another change meanwhile.
    fn reshard<T>(
        &self,
        stream_ref: &StreamRef,
        trigger: ReshardTrigger,
        change: impl Fn(&mut Plan<'_>) -> EngineResult<T>,
    ) -> EngineResult<T> {
        let stream = self.lookup(stream_ref)?;
        let config = &self.inner.config;
        // One reshard of a stream at a time (its children take the next
        // shard indexes, and their logs are made before the plan is made for
        // real). As on AWS, a stream that is resharding is UPDATING and
        // refuses another, instead of queueing it.
        let Some(_one_at_a_time) = stream.resharding.try_lock() else {
            return Err(EngineError::StreamNotActive {
                stream: stream.name.clone(),
                status: StreamStatus::Updating,
            });
        };
        let now = self.now();
        let plan = |state: &StreamState, preview: bool| -> EngineResult<_> {
            if stream.removed.load(std::sync::atomic::Ordering::Acquire) {
                return Err(EngineError::StreamNotFound {
                    stream: stream.name.to_string(),
                });
            }
            let status = state.status(now);
            if status != StreamStatus::Active {
                return Err(EngineError::StreamNotActive {
                    stream: stream.name.clone(),
                    status,
                });
            }
            let mut plan = Plan {
                record: state.record.clone(),
                state,
                now,
                account: config.account.as_str(),
                trigger,
                preview,
                splits: 0,
                merges: 0,
            };
            let result = change(&mut plan)?;
            let open_after = plan
                .record
                .shards
                .iter()
                .filter(|s| s.closed.is_none())
                .count();
            let added = open_after.saturating_sub(state.open_shard_count()) as u32;
            Ok((result, plan.record, plan.splits, plan.merges, added))
        };
        // The children's logs are created before the write lock is taken
        // (once the plan has passed every check and the shards it adds are
        // promised): doubling a stream of thousands of shards creates
        // thousands of files, and its writers and readers wait for that
        // lock. Under it, the plan is made again for real and finds them open.
        let (new_shards, added) = {
            let state = stream.state.read();
            let (_, record, _, _, added) = plan(&state, true)?;
            (state.shards.len() as u32..record.shards.len() as u32, added)
        };
        // A merge adds no shard, and waits for no other operation here.
        let promise = if added > 0 {
            Some(self.promise_shards(added)?)
        } else {
            None
        };
        // Marked while the children's logs exist and the row does not name
        // them; saving the row clears the mark. After a crash between the
        // two, startup removes the logs past the row's shards.
        if !new_shards.is_empty() {
            self.inner.meta.mark_logs(stream.uid)?;
        }
        let logs = &self.inner.logs;
        let key = |shard_index| ShardKey {
            stream_uid: stream.uid,
            shard_index,
        };
        let created = crate::blocking_for_files(new_shards.len(), || {
            new_shards
                .clone()
                .map(|index| logs.open_shard(key(index)))
                .collect::<Result<Vec<_>, _>>()
        });
        let outcome = created.map_err(EngineError::from).and_then(|_created| {
            let mut state = stream.state.write();
            let (result, mut record, splits, merges, added) = plan(&state, false)?;
            // Nothing else changes the stream's shards while `resharding`
            // is held; were that broken, refuse rather than pass the limit.
            if u64::from(added) > promise.as_ref().map_or(0, |p| p.shards()) {
                return Err(EngineError::ResourceInUse(format!(
                    "Stream {} under account {} changed while it was being resharded.",
                    stream.name, config.account.as_str()
                )));
            }
            record.updating_until_ms =
                (config.create_delay_ms > 0).then_some(now.0 + config.create_delay_ms);
            // Open the children's logs first: if that fails, nothing was persisted.
            let children = state.open_new_shards(&record, logs, &stream.removed)?;
            self.inner.meta.save_stream(&record)?;
            state.install(record, children);
            stream.reshards.record(trigger, splits, merges);
            tracing::info!(stream = %stream.name, open_shards = state.open_shard_count(), splits, merges, trigger = trigger.as_str(), "stream resharded");
            Ok(result)
        });
        if outcome.is_err() {
            // Nothing refers to the children's logs made above, and while
            // `resharding` is held no other reshard can take their indexes:
            // remove them. If the stream was deleted meanwhile its files may
            // have gone before these were made: remove them all again.
            let cleanup = if stream.removed.load(std::sync::atomic::Ordering::Acquire) {
                logs.remove_stream(stream.uid)
            } else {
                new_shards
                    .into_iter()
                    .try_for_each(|index| logs.remove_shard(key(index)))
            };
            if let Err(err) = cleanup {
                tracing::warn!(stream = %stream.name, error = %err, "could not remove the logs of a failed reshard");
            }
        }
        outcome
    }

    /// Promises `added` open shards to a reshard in flight, if the
    /// account's limit allows them (see `pending`).
    fn promise_shards(&self, added: u32) -> EngineResult<Promise<'_>> {
        let pending = &self.inner.pending;
        let mut promised = pending.lock();
        self.check_shard_limit(self.open_shard_count() + promised.shards, added)?;
        Ok(promised.promise(pending, added, None))
    }

    /// Splits an open shard at `new_starting_hash_key`: the first child
    /// keeps the lower part of the range, the second starts at the key.
    ///
    /// # Errors
    /// The shard is unknown or closed, the key is not strictly inside the
    /// range (above start + 1, below end), the stream is not ACTIVE, or the
    /// account's shard limit would be exceeded.
    pub fn split_shard(
        &self,
        stream: &StreamRef,
        shard: &str,
        new_starting_hash_key: u128,
    ) -> EngineResult<()> {
        self.split_shard_by(ReshardTrigger::Api, stream, shard, new_starting_hash_key)
    }

    pub(crate) fn split_shard_by(
        &self,
        trigger: ReshardTrigger,
        stream: &StreamRef,
        shard: &str,
        new_starting_hash_key: u128,
    ) -> EngineResult<()> {
        self.reshard(stream, trigger, |plan| {
            let index = plan.open_shard(shard)?;
            let range = plan.range(index);
            if new_starting_hash_key <= range.start.saturating_add(1) || new_starting_hash_key >= range.end {
                return Err(EngineError::InvalidArgument(format!(
                    "NewStartingHashKey {new_starting_hash_key} used in SplitShard() on shard {} in stream {} under account {} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                    ShardId(index),
                    plan.stream_name(),
                    plan.account,
                    range.start,
                    range.end
                )));
            }
            plan.split(index, new_starting_hash_key).map(|_| ())
        })
    }

    /// Merges two adjacent open shards into one child.
    ///
    /// # Errors
    /// A shard is unknown or closed, they are not adjacent, or the stream is
    /// not ACTIVE.
    pub fn merge_shards(
        &self,
        stream: &StreamRef,
        shard: &str,
        adjacent: &str,
    ) -> EngineResult<()> {
        self.merge_shards_by(ReshardTrigger::Api, stream, shard, adjacent)
    }

    pub(crate) fn merge_shards_by(
        &self,
        trigger: ReshardTrigger,
        stream: &StreamRef,
        shard: &str,
        adjacent: &str,
    ) -> EngineResult<()> {
        self.reshard(stream, trigger, |plan| {
            let first = plan.open_shard(shard)?;
            let second = plan.open_shard(adjacent)?;
            let (a, b) = (plan.range(first), plan.range(second));
            let touching = a.end.checked_add(1) == Some(b.start) || b.end.checked_add(1) == Some(a.start);
            if first == second || !touching {
                return Err(EngineError::InvalidArgument(format!(
                    "Shards {} and {} in stream {} under account {} are not an adjacent pair of shards eligible for merging",
                    ShardId(first),
                    ShardId(second),
                    plan.stream_name(),
                    plan.account
                )));
            }
            plan.merge(first, second).map(|_| ())
        })
    }

    /// UNIFORM_SCALING: reshards to `target` open shards of equal width,
    /// by splitting at the new boundaries and merging the pieces between
    /// them, as AWS does (so lineage always has at most two parents).
    ///
    /// # Errors
    /// The target is more than double or less than half the open shards,
    /// over the account limit, the stream was already rescaled ten times in
    /// the last 24 hours, or the stream is not ACTIVE.
    pub fn update_shard_count(
        &self,
        stream: &StreamRef,
        target: u32,
    ) -> EngineResult<ShardCountChange> {
        self.update_shard_count_by(ReshardTrigger::Api, stream, target)
    }

    pub(crate) fn update_shard_count_by(
        &self,
        trigger: ReshardTrigger,
        stream: &StreamRef,
        target: u32,
    ) -> EngineResult<ShardCountChange> {
        let limit = self.inner.config.account_shard_limit;
        let daily_quotas = self.inner.config.daily_quotas;
        let (name, current) = self.reshard(stream, trigger, |plan| {
            let current = plan.open_shards().len() as u32;
            let counts = format!("Current open shard count: {current}, Target shard count: {target}");
            if plan.trigger == ReshardTrigger::Api {
                let calls = recent_calls(&mut plan.record.shard_count_updates_ms, plan.now);
                if daily_quotas && calls.len() >= SHARD_COUNT_UPDATES_PER_DAY {
                    return Err(EngineError::LimitExceeded(format!(
                        "Stream {} under account {} has already been scaled {SHARD_COUNT_UPDATES_PER_DAY} times with UpdateShardCount in the last 24 hours; the next scaling is allowed at {}.",
                        plan.record.name,
                        plan.account,
                        Millis(calls[0] + QUOTA_WINDOW_MS).java_date()
                    )));
                }
                calls.push(plan.now.0);
            }
            if target > limit {
                return Err(EngineError::LimitExceeded(format!(
                    "Target shard count or number of open shards cannot be greater than {limit}. {counts}"
                )));
            }
            if u64::from(target) > 2 * u64::from(current) {
                return Err(EngineError::LimitExceeded(format!(
                    "UpdateShardCount cannot scale up over double your current open shard count. {counts}"
                )));
            }
            if u64::from(target) * 2 < u64::from(current) {
                return Err(EngineError::LimitExceeded(format!(
                    "UpdateShardCount cannot scale down below half your current open shard count. {counts}"
                )));
            }
            let targets = HashKeyRange::uniform(target);
            // One sweep over the open shards in key order (the target
            // boundaries are in key order too): split wherever a boundary
            // falls inside a shard, keeping the pieces in key order.
            let mut boundaries = targets.iter().skip(1).map(|r| r.start).peekable();
            let mut pieces = Vec::new();
            for (index, range) in plan.open_shards() {
                let mut rest = index;
                while let Some(&boundary) = boundaries.peek() {
                    if boundary > range.end {
                        break;
                    }
                    if boundary > plan.range(rest).start {
                        let (low, high) = plan.split(rest, boundary)?;
                        pieces.push(low);
                        rest = high;
                    }
                    boundaries.next();
                }
                pieces.push(rest);
            }
            // Each target range is now tiled by consecutive pieces: merge them.
            let mut pieces = pieces.into_iter().peekable();
            for wanted in &targets {
                let mut merged = pieces.next().expect("the pieces tile every target range");
                while let Some(&piece) = pieces.peek()
                    && plan.range(piece).end <= wanted.end
                {
                    merged = plan.merge(merged, piece)?;
                    pieces.next();
                }
            }
            Ok((plan.record.name.clone(), current))
        })?;
        let name = StreamName::parse(&name).expect("stored names are valid");
        Ok(ShardCountChange {
            arn: self.arn(&name),
            name,
            current,
            target,
        })
    }
}

/// Drops the calls older than the quota window from `calls` (kept in call
/// order) and returns the rest.
pub(crate) fn recent_calls(calls: &mut Vec<u64>, now: Millis) -> &mut Vec<u64> {
    calls.retain(|&at| now.0.saturating_sub(at) < QUOTA_WINDOW_MS);
    calls
}
