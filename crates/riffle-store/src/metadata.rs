//! The metadata store: streams, their shards and lineage, and server secrets.
//!
//! These rows are the store's own types, kept apart from the engine's runtime
//! state and the wire shapes, so the on-disk format changes only on purpose.

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// A persisted stream. Written whole, in one transaction, on every change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamRecord {
    pub name: String,
    /// The incarnation id: new for every CreateStream, even of the same name.
    pub uid: u64,
    /// The `StreamId` shape (`[a-z0-9]{20}-[a-z0-9]{3}`).
    pub stream_id: String,
    pub created_ms: u64,
    /// The stream is CREATING until this time, then ACTIVE.
    pub active_at_ms: u64,
    /// Set when DeleteStream was accepted; the stream is DELETING until its
    /// data is removed.
    pub deleting_since_ms: Option<u64>,
    pub on_demand: bool,
    pub retention_hours: u32,
    pub shards: Vec<ShardRecord>,
    pub tags: Vec<(String, String)>,
}

/// A persisted shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub index: u32,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    /// Inclusive hash-key range, as decimal strings (serde has no u128 in JSON).
    pub hash_start: String,
    pub hash_end: String,
    /// The sequence-number epoch of this shard (see `riffle_model::sequence`).
    pub epoch: u64,
    pub created_ms: u64,
    /// For a closed shard: the offset one past its last record, and when it closed.
    pub closed: Option<ClosedShard>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedShard {
    pub end_offset: u64,
    pub closed_ms: u64,
}

/// Durable, transactional storage for stream metadata.
pub trait MetadataStore: Send + Sync + std::fmt::Debug {
    /// Every stream, in name order.
    ///
    /// # Errors
    /// The store could not be read or a row did not decode.
    fn load_streams(&self) -> Result<Vec<StreamRecord>, StoreError>;

    /// Inserts or replaces a stream, durably, before returning.
    ///
    /// # Errors
    /// The transaction failed; nothing was changed.
    fn save_stream(&self, stream: &StreamRecord) -> Result<(), StoreError>;

    /// Removes a stream's row, durably.
    ///
    /// # Errors
    /// The transaction failed; nothing was changed.
    fn delete_stream(&self, name: &str) -> Result<(), StoreError>;

    /// Returns the named secret, creating it with `create` on first use.
    ///
    /// # Errors
    /// The store could not be read or written.
    fn secret(
        &self,
        name: &str,
        create: &mut dyn FnMut() -> Vec<u8>,
    ) -> Result<Vec<u8>, StoreError>;
}
