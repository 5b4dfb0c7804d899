//! PutRecord and PutRecords.

use std::ops::Range;

use riffle_model::limits::{
    PUT_RECORDS_BYTES_MAX, PUT_RECORDS_BYTES_MAX_LARGE, RECORD_BYTES_MAX_DEFAULT,
};
use riffle_model::{HashKey, SequenceNumber, ShardId};
use riffle_store::{AppendBatch, NewRecord, StoreError};

use crate::error::{EngineError, EngineResult};
use crate::metrics::{ShardMetric, StreamMetric};
use crate::stream::Stream;
use crate::{Engine, StreamRef};

/// One record to put, already checked against the model by the wire layer.
#[derive(Clone, Copy, Debug)]
pub struct PutEntry<'a> {
    /// Required unless the stream distributes records automatically (AUTO).
    pub partition_key: Option<&'a str>,
    pub explicit_hash_key: Option<HashKey>,
    pub data: &'a [u8],
}

impl<'a> PutEntry<'a> {
    /// Where each entry routes: its explicit hash key, else the MD5 of its
    /// partition key; under AUTO distribution, anywhere (keys are ignored).
    /// The partition keys are hashed together, which is faster.
    fn hash_keys(entries: &[PutEntry<'a>], auto: bool) -> Vec<HashKey> {
        let to_hash = |entry: &PutEntry<'a>| match (auto, entry.explicit_hash_key) {
            (false, None) => entry.partition_key,
            _ => None,
        };
        let route = |entry: &PutEntry<'a>, hash: &mut dyn FnMut(&str) -> HashKey| match (
            to_hash(entry),
            entry.explicit_hash_key,
        ) {
            (Some(key), _) => hash(key),
            (None, Some(key)) if !auto => key,
            _ => HashKey(rand::random()),
        };
        // PutRecord: one key, hashed alone, one allocation.
        if let [entry] = entries {
            return vec![route(entry, &mut HashKey::of_partition_key)];
        }
        // Sized for all: a filtered iterator's collect would grow it a push at a time.
        let mut partition_keys: Vec<&str> = Vec::with_capacity(entries.len());
        partition_keys.extend(entries.iter().filter_map(to_hash));
        let mut hashed = Vec::with_capacity(entries.len());
        HashKey::of_partition_keys(&partition_keys, &mut hashed);
        if hashed.len() == entries.len() {
            // Every entry routes by its partition key (the usual request).
            return hashed;
        }
        let mut hashed = hashed.into_iter();
        entries
            .iter()
            .map(|entry| {
                route(entry, &mut |_| {
                    hashed.next().expect("one hash a partition key")
                })
            })
            .collect()
    }

    /// Bytes counted against the request size limit.
    pub fn size_bytes(&self) -> usize {
        self.data.len() + self.partition_key.map_or(0, str::len)
    }
}

/// Where a record was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutResult {
    pub shard: ShardId,
    pub sequence: SequenceNumber,
}

/// Why one record of a PutRecords request was not stored.
#[derive(Clone, Debug)]
pub enum RecordFailure {
    /// Storage failed for this record's shard; AWS's `InternalFailure`.
    Internal(StoreError),
    /// The shard's write limit was exceeded (limits enforced only).
    Throttled { shard: ShardId },
}

impl Engine {
    /// Stores each entry in the open shard its hash key routes to, in request
    /// order within each shard, and returns once every stored record is
    /// durable. Entries fail individually (the others still succeed).
    ///
    /// # Errors
    /// The stream does not exist or is not accepting writes, or the request
    /// exceeds 5 MiB.
    pub async fn put_records(
        &self,
        stream: &StreamRef,
        entries: &[PutEntry<'_>],
    ) -> EngineResult<Vec<Result<PutResult, RecordFailure>>> {
        self.put(stream, entries, true).await
    }

    /// What a PutRecord (`batch` false) or PutRecords call with DryRun set
    /// answers: the error the call would fail with, else
    /// [`EngineError::DryRun`]. Nothing is written.
    pub fn dry_run_put(
        &self,
        stream: &StreamRef,
        entries: &[PutEntry<'_>],
        batch: bool,
    ) -> EngineError {
        match self.admit_put(stream, entries, batch) {
            Ok(stream) if !stream.state.read().status(self.now()).accepts_data() => {
                EngineError::StreamNotFound {
                    stream: stream.name.to_string(),
                }
            }
            Ok(_) => EngineError::DryRun,
            Err(err) => err,
        }
    }

    /// The checks a put passes before anything is written: the stream
    /// exists, and every record and the request are within its limits.
    fn admit_put(
        &self,
        stream: &StreamRef,
        entries: &[PutEntry<'_>],
        batch: bool,
    ) -> EngineResult<std::sync::Arc<Stream>> {
        let stream = self.lookup(stream)?;
        let (auto, record_bytes_max) = {
            let state = stream.state.read();
            (
                state.record.auto_distribution,
                state.record.max_record_size_kib as usize * 1024,
            )
        };
        for (i, entry) in entries.iter().enumerate() {
            let record = batch.then_some(i);
            if entry.partition_key.is_none() && !auto {
                return Err(EngineError::MissingPartitionKey { record });
            }
            if entry.data.len() > record_bytes_max {
                return Err(EngineError::RecordTooLarge {
                    record,
                    len: entry.data.len(),
                    max: record_bytes_max,
                });
            }
        }
        // The request limit is PutRecords'; a lone PutRecord is bounded by the
        // record size alone (a 10 MiB record plus its key must still go in).
        // Streams allowing records over 1 MiB accept 10 MiB requests.
        let request_bytes_max = if record_bytes_max > RECORD_BYTES_MAX_DEFAULT {
            PUT_RECORDS_BYTES_MAX_LARGE
        } else {
            PUT_RECORDS_BYTES_MAX
        };
        let request_bytes: usize = entries.iter().map(PutEntry::size_bytes).sum();
        if batch && request_bytes > request_bytes_max {
            return Err(EngineError::InvalidArgument(format!(
                "Records size exceeds {} MB limit",
                request_bytes_max / (1024 * 1024)
            )));
        }
        Ok(stream)
    }

    async fn put(
        &self,
        stream: &StreamRef,
        entries: &[PutEntry<'_>],
        batch: bool,
    ) -> EngineResult<Vec<Result<PutResult, RecordFailure>>> {
        let stream = self.admit_put(stream, entries, batch)?;
        let auto = stream.state.read().record.auto_distribution;
        let hash_keys = PutEntry::hash_keys(entries, auto);
        let now = self.now();
        let mut outcomes: Vec<Result<PutResult, RecordFailure>> = Vec::with_capacity(entries.len());
        let mut pending = Vec::new();
        let mut admitted: Vec<usize> = Vec::with_capacity(entries.len());
        {
            let state = stream.state.read();
            if !state.status(now).accepts_data() {
                return Err(EngineError::StreamNotFound {
                    stream: stream.name.to_string(),
                });
            }
            // Group entries by shard, keeping request order within each
            // group: one sort of `shard << 32 | entry` keys (integers sort
            // faster than pairs), then runs of one shard. The entries stored
            // go to `admitted`, shard by shard, each shard's run a range of
            // it, rather than a list a shard (PutRecord allocated four lists
            // for its one record).
            let mut routed: Vec<u64> = hash_keys
                .iter()
                .enumerate()
                .map(|(i, &hash_key)| u64::from(state.route(hash_key).id.0) << 32 | i as u64)
                .collect();
            routed.sort_unstable();
            outcomes.resize_with(entries.len(), || {
                Err(RecordFailure::Internal(StoreError::ShuttingDown))
            });
            let mut batch = Vec::new();
            let enforce = state.enforce_limits(self.inner.config.enforce_limits);
            // One sync round for every shard this request touches.
            let _syncs_together = AppendBatch::begin();
            for group in routed.chunk_by(|a, b| a >> 32 == b >> 32) {
                let shard_index = (group[0] >> 32) as u32;
                let shard = &state.shards[shard_index as usize];
                // Throughput: records over the shard's limits fail on their own.
                let first = admitted.len();
                {
                    let mut traffic = shard.traffic.lock();
                    for &key in group {
                        let i = key as u32 as usize;
                        if traffic.admit_write(now, entries[i].size_bytes(), enforce) {
                            admitted.push(i);
                        } else {
                            outcomes[i] = Err(RecordFailure::Throttled { shard: shard.id });
                        }
                    }
                }
                let members = first..admitted.len();
                if members.is_empty() {
                    continue;
                }
                batch.clear();
                batch.extend(admitted[members.clone()].iter().map(|&i| NewRecord {
                    partition_key: entries[i].partition_key.unwrap_or_default(),
                    data: entries[i].data,
                }));
                match shard.log().and_then(|log| log.append(&batch, now)) {
                    Ok(appended) => {
                        for (k, &i) in admitted[members.clone()].iter().enumerate() {
                            let sequence = shard.sequence_number(appended.first_offset + k as u64);
                            outcomes[i] = Ok(PutResult {
                                shard: shard.id,
                                sequence,
                            });
                        }
                        pending.push((appended.durable, shard_index, members));
                    }
                    Err(err) => {
                        tracing::error!(stream = %stream.name, shard = %shard.id, error = %err, "append failed");
                        for &i in &admitted[members] {
                            outcomes[i] = Err(RecordFailure::Internal(err.clone()));
                        }
                    }
                }
            }
        }
        // Acknowledge only what is durable.
        let mut stored = Vec::with_capacity(pending.len());
        for (durable, shard_index, members) in pending {
            match durable.wait().await {
                Ok(()) => stored.push((shard_index, members)),
                Err(err) => {
                    for &i in &admitted[members] {
                        outcomes[i] = Err(RecordFailure::Internal(err.clone()));
                    }
                }
            }
        }
        count_puts(&stream, entries, &outcomes, &admitted, &stored, batch);
        Ok(outcomes)
    }

    /// Stores one record; a storage failure is the whole call's error.
    ///
    /// # Errors
    /// As [`Engine::put_records`], or storage failed.
    pub async fn put_record(
        &self,
        stream: &StreamRef,
        entry: PutEntry<'_>,
    ) -> EngineResult<PutResult> {
        let outcome = self
            .put(stream, &[entry], false)
            .await?
            .pop()
            .expect("one outcome per entry");
        outcome.map_err(|failure| match failure {
            RecordFailure::Internal(err) => EngineError::Store(err),
            RecordFailure::Throttled { shard } => EngineError::Throttled {
                stream: self
                    .lookup(stream)
                    .map(|s| s.name.to_string())
                    .unwrap_or_default(),
                shard,
            },
        })
    }
}

/// Adds one put request to the stream's and its shards' metrics.
fn count_puts(
    stream: &Stream,
    entries: &[PutEntry<'_>],
    outcomes: &[Result<PutResult, RecordFailure>],
    admitted: &[usize],
    stored: &[(u32, Range<usize>)],
    batch: bool,
) {
    let mut throttled = 0;
    let (mut records, mut bytes) = (0, 0);
    {
        let state = stream.state.read();
        for (shard_index, members) in stored {
            let shard = &state.shards[*shard_index as usize];
            let members = &admitted[members.clone()];
            let shard_bytes: u64 = members
                .iter()
                .map(|&i| entries[i].size_bytes() as u64)
                .sum();
            shard
                .counters
                .add(ShardMetric::IncomingRecords, members.len() as u64);
            shard.counters.add(ShardMetric::IncomingBytes, shard_bytes);
            records += members.len() as u64;
            bytes += shard_bytes;
        }
        for outcome in outcomes {
            if let Err(RecordFailure::Throttled { shard }) = outcome {
                throttled += 1;
                state.shards[shard.index()]
                    .counters
                    .add(ShardMetric::WriteProvisionedThroughputExceeded, 1);
            }
        }
    }
    let counters = &stream.counters;
    counters.add(StreamMetric::IncomingRecords, records);
    counters.add(StreamMetric::IncomingBytes, bytes);
    counters.add(StreamMetric::WriteProvisionedThroughputExceeded, throttled);
    if batch {
        counters.add(StreamMetric::PutRecordsSuccess, 1);
        counters.add(StreamMetric::PutRecordsBytes, bytes);
        counters.add(StreamMetric::PutRecordsTotalRecords, entries.len() as u64);
        counters.add(StreamMetric::PutRecordsSuccessfulRecords, records);
        counters.add(StreamMetric::PutRecordsThrottledRecords, throttled);
        let failed = outcomes.iter().filter(|o| o.is_err()).count() as u64 - throttled;
        counters.add(StreamMetric::PutRecordsFailedRecords, failed);
    } else if records == 1 {
        counters.add(StreamMetric::PutRecordSuccess, 1);
        counters.add(StreamMetric::PutRecordBytes, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_keys_keep_each_entry_its_own_route() {
        let entry = |partition_key, explicit_hash_key| PutEntry {
            partition_key,
            explicit_hash_key,
            data: b"",
        };
        // Explicit keys between partition keys, and more than one lane's worth.
        let names: Vec<String> = (0..11).map(|i| format!("key-{i}")).collect();
        let mut entries: Vec<PutEntry<'_>> = names
            .iter()
            .map(|n| entry(Some(n.as_str()), None))
            .collect();
        entries.insert(3, entry(Some("ignored"), Some(HashKey(5))));
        entries.insert(7, entry(None, Some(HashKey(9))));
        let expected: Vec<HashKey> = entries
            .iter()
            .map(|e| {
                e.explicit_hash_key
                    .unwrap_or_else(|| HashKey::of_partition_key(e.partition_key.unwrap()))
            })
            .collect();
        assert_eq!(PutEntry::hash_keys(&entries, false), expected);
        // AUTO distribution ignores keys: random positions, not the keys' hashes.
        let auto = PutEntry::hash_keys(&entries, true);
        assert_eq!(auto.len(), entries.len());
        assert!(auto.iter().zip(&expected).all(|(a, e)| a != e));
        // Only partition keys (the usual request), and one entry alone (PutRecord).
        let keyed = &entries[..3];
        assert_eq!(PutEntry::hash_keys(keyed, false), expected[..3]);
        for (one, expected) in entries.iter().zip(&expected) {
            let one = std::slice::from_ref(one);
            assert_eq!(PutEntry::hash_keys(one, false), [*expected]);
            assert_ne!(PutEntry::hash_keys(one, true), [*expected]);
        }
    }
}
