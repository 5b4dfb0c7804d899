//! GetRecords.

use bytes::Bytes;
use riffle_model::limits::{GET_RECORDS_BYTES_MAX, ITERATOR_TTL_MS};
use riffle_model::{HashKeyRange, IteratorToken, Millis, SequenceNumber, ShardId};

use crate::Engine;
use crate::error::{EngineError, EngineResult};
use crate::metrics::{ShardCounters, ShardMetric, StreamCounters, StreamMetric};

/// A record as GetRecords returns it.
#[derive(Clone, Debug)]
pub struct ReadRecord {
    pub sequence: SequenceNumber,
    pub arrival: Millis,
    pub partition_key: Bytes,
    pub data: Bytes,
}

/// A child of a fully-read closed shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildShard {
    pub id: ShardId,
    pub parents: Vec<ShardId>,
    pub hash_range: HashKeyRange,
}

#[derive(Clone, Debug)]
pub struct GetRecordsOutput {
    pub records: Vec<ReadRecord>,
    /// `None` once a closed shard has been read to its end.
    pub next_iterator: Option<String>,
    pub millis_behind_latest: u64,
    /// Set when `next_iterator` is `None`: where to continue reading.
    pub child_shards: Vec<ChildShard>,
    /// Records of an encrypted stream report EncryptionType KMS.
    pub encrypted: bool,
}

impl Engine {
    /// Reads up to `limit` records (and at most 10 MiB) from an iterator.
    ///
    /// # Errors
    /// The iterator is not one Riffle issued (`InvalidArgumentException`), is
    /// older than five minutes (`ExpiredIteratorException`), or its stream or
    /// shard is gone (`ResourceNotFoundException`).
    pub fn get_records(&self, iterator: &str, limit: usize) -> EngineResult<GetRecordsOutput> {
        self.read_records(iterator, limit, false)
    }

    /// What GetRecords with DryRun set answers: the error the call would
    /// fail with, else [`EngineError::DryRun`]. Nothing is read or charged.
    pub fn dry_run_get_records(&self, iterator: &str) -> EngineError {
        match self.read_records(iterator, 1, true) {
            Ok(_) => unreachable!("a dry run stops before reading"),
            Err(err) => err,
        }
    }

    fn read_records(
        &self,
        iterator: &str,
        limit: usize,
        dry_run: bool,
    ) -> EngineResult<GetRecordsOutput> {
        let token = IteratorToken::decode(iterator, &self.inner.iterator_key)
            .map_err(|_| EngineError::InvalidIterator)?;
        let now = self.now();
        if now.saturating_sub(token.issued_at) > ITERATOR_TTL_MS {
            return Err(EngineError::ExpiredIterator {
                issued_at: token.issued_at,
                now,
            });
        }
        let shard_id = ShardId(token.shard_index);
        let stream = self
            .inner
            .streams
            .read()
            .by_uid
            .get(&token.stream_uid)
            .cloned();
        let Some(stream) = stream else {
            // The stream was deleted; its name is no longer known.
            return Err(EngineError::ShardNotFound {
                stream: String::new(),
                shard: shard_id,
            });
        };
        let state = stream.state.read();
        let not_found = || EngineError::ShardNotFound {
            stream: stream.name.to_string(),
            shard: shard_id,
        };
        if !state.status(now).accepts_data() {
            return Err(not_found());
        }
        let shard = state.shard(shard_id, now).ok_or_else(not_found)?;
        if dry_run {
            return Err(EngineError::DryRun);
        }
        let enforce = state.enforce_limits(self.inner.config.enforce_limits);
        if enforce && !shard.traffic.lock().admit_read(now) {
            shard
                .counters
                .add(ShardMetric::ReadProvisionedThroughputExceeded, 1);
            stream
                .counters
                .add(StreamMetric::ReadProvisionedThroughputExceeded, 1);
            return Err(EngineError::Throttled {
                stream: stream.name.to_string(),
                shard: shard_id,
            });
        }
        let cutoff = state.retention_cutoff(now);
        let log = shard.log()?;
        let stored = log.read(token.offset, limit, GET_RECORDS_BYTES_MAX, cutoff)?;
        let bytes: usize = stored.iter().map(riffle_store::Record::size_bytes).sum();
        if enforce {
            shard.traffic.lock().charge_read(now, bytes);
        }
        let bounds = log.bounds();
        // Everything left has expired (or nothing is left): skip to the end,
        // so a closed shard's reader still reaches its ChildShards.
        let all_expired = bounds.last_arrival.is_none_or(|last| last < cutoff);
        let next_offset = stored.last().map_or(
            if all_expired {
                bounds.end.max(token.offset)
            } else {
                token.offset.max(bounds.start)
            },
            |r| r.offset + 1,
        );
        let millis_behind_latest = if next_offset >= bounds.end {
            0
        } else {
            let behind_from = stored
                .last()
                .map(|r| r.arrival)
                .or(bounds.last_arrival)
                .unwrap_or(now);
            now.saturating_sub(behind_from)
        };
        count_read(
            &stream.counters,
            &shard.counters,
            stored.len(),
            bytes,
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

        let shard_finished = shard
            .closed
            .is_some_and(|closed| next_offset >= closed.end_offset);
        if shard_finished {
            let child_shards = state
                .children_of(shard_id)
                .map(|child| ChildShard {
                    id: child.id,
                    parents: child
                        .parent
                        .into_iter()
                        .chain(child.adjacent_parent)
                        .collect(),
                    hash_range: child.range,
                })
                .collect();
            return Ok(GetRecordsOutput {
                records,
                next_iterator: None,
                millis_behind_latest: 0,
                child_shards,
                encrypted: state.record.encryption_key_id.is_some(),
            });
        }
        let next = IteratorToken {
            stream_uid: stream.uid,
            shard_index: shard_id.0,
            offset: next_offset,
            issued_at: now,
        };
        Ok(GetRecordsOutput {
            records,
            next_iterator: Some(next.encode(&self.inner.iterator_key)),
            millis_behind_latest,
            child_shards: Vec::new(),
            encrypted: state.record.encryption_key_id.is_some(),
        })
    }
}

/// Adds one successful GetRecords call to the stream's and shard's metrics.
fn count_read(
    stream: &StreamCounters,
    shard: &ShardCounters,
    records: usize,
    bytes: usize,
    millis_behind_latest: u64,
) {
    stream.add(StreamMetric::GetRecordsSuccess, 1);
    stream.add(StreamMetric::GetRecordsRecords, records as u64);
    stream.add(StreamMetric::GetRecordsBytes, bytes as u64);
    stream.set(
        StreamMetric::GetRecordsIteratorAgeMilliseconds,
        millis_behind_latest,
    );
    shard.add(ShardMetric::OutgoingRecords, records as u64);
    shard.add(ShardMetric::OutgoingBytes, bytes as u64);
    shard.set(ShardMetric::IteratorAgeMilliseconds, millis_behind_latest);
}
