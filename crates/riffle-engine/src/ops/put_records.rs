//! PutRecord and PutRecords.

use std::collections::BTreeMap;

use riffle_model::limits::PUT_RECORDS_BYTES_MAX;
use riffle_model::{HashKey, SequenceNumber, ShardId};
use riffle_store::{NewRecord, StoreError};

use crate::error::{EngineError, EngineResult};
use crate::{Engine, StreamRef};

/// One record to put, already validated by the wire layer.
#[derive(Clone, Copy, Debug)]
pub struct PutEntry<'a> {
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<HashKey>,
    pub data: &'a [u8],
}

impl PutEntry<'_> {
    fn hash_key(&self) -> HashKey {
        self.explicit_hash_key
            .unwrap_or_else(|| HashKey::of_partition_key(self.partition_key))
    }

    /// Bytes counted against the record and request size limits.
    pub fn size_bytes(&self) -> usize {
        self.data.len() + self.partition_key.len()
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
        let request_bytes: usize = entries.iter().map(PutEntry::size_bytes).sum();
        if request_bytes > PUT_RECORDS_BYTES_MAX {
            return Err(EngineError::InvalidArgument(
                "Records size exceeds 5 MB limit".to_owned(),
            ));
        }
        let stream = self.lookup(stream)?;
        let now = self.now();
        let mut outcomes: Vec<Result<PutResult, RecordFailure>> = Vec::with_capacity(entries.len());
        let mut pending = Vec::new();
        {
            let state = stream.state.read();
            if !state.status(now).accepts_data() {
                return Err(EngineError::StreamNotFound {
                    stream: stream.name.to_string(),
                });
            }
            // Group entries by shard, keeping request order within each group.
            let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
            for (i, entry) in entries.iter().enumerate() {
                groups
                    .entry(state.route(entry.hash_key()).id.0)
                    .or_default()
                    .push(i);
            }
            outcomes.resize_with(entries.len(), || {
                Err(RecordFailure::Internal(StoreError::ShuttingDown))
            });
            let mut batch = Vec::new();
            for (shard_index, members) in groups {
                let shard = &state.shards[shard_index as usize];
                batch.clear();
                batch.extend(members.iter().map(|&i| NewRecord {
                    partition_key: entries[i].partition_key,
                    data: entries[i].data,
                }));
                match shard.log.append(&batch, now) {
                    Ok(appended) => {
                        for (k, &i) in members.iter().enumerate() {
                            let sequence = shard.sequence_number(appended.first_offset + k as u64);
                            outcomes[i] = Ok(PutResult {
                                shard: shard.id,
                                sequence,
                            });
                        }
                        pending.push((appended.durable, members));
                    }
                    Err(err) => {
                        tracing::error!(stream = %stream.name, shard = %shard.id, error = %err, "append failed");
                        for &i in &members {
                            outcomes[i] = Err(RecordFailure::Internal(err.clone()));
                        }
                    }
                }
            }
        }
        // Acknowledge only what is durable.
        for (durable, members) in pending {
            if let Err(err) = durable.wait().await {
                for i in members {
                    outcomes[i] = Err(RecordFailure::Internal(err.clone()));
                }
            }
        }
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
            .put_records(stream, &[entry])
            .await?
            .pop()
            .expect("one outcome per entry");
        outcome.map_err(|RecordFailure::Internal(err)| EngineError::Store(err))
    }
}
