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
    /// Sorted by key.
    pub tags: Vec<(String, String)>,
    /// Shard-level metrics enabled by EnableEnhancedMonitoring.
    #[serde(default)]
    pub shard_level_metrics: Vec<String>,
    /// The KMS key of a stream encrypted with StartStreamEncryption.
    #[serde(default)]
    pub encryption_key_id: Option<String>,
    #[serde(default)]
    pub resource_policy: Option<String>,
    #[serde(default = "default_max_record_size_kib")]
    pub max_record_size_kib: u32,
    #[serde(default)]
    pub warm_throughput_mibps: Option<u32>,
    /// RecordDistributionStrategy AUTO: partition keys are ignored for routing.
    #[serde(default)]
    pub auto_distribution: bool,
    /// The stream is UPDATING until this time (an encryption or mode change).
    #[serde(default)]
    pub updating_until_ms: Option<u64>,
    /// Enhanced fan-out consumers registered on the stream.
    #[serde(default)]
    pub consumers: Vec<ConsumerRecord>,
    /// When UpdateShardCount was called, within the last 24 hours (AWS's
    /// per-day quota survives restarts).
    #[serde(default)]
    pub shard_count_updates_ms: Vec<u64>,
    /// When UpdateStreamMode switched modes, within the last 24 hours.
    #[serde(default)]
    pub mode_switches_ms: Vec<u64>,
}

/// A registered stream consumer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerRecord {
    pub name: String,
    /// Registration time; its whole seconds end the consumer's ARN.
    pub created_ms: u64,
    /// CREATING until this time, then ACTIVE.
    pub active_at_ms: u64,
    /// Set by DeregisterStreamConsumer: DELETING until the delay passes.
    pub deleting_since_ms: Option<u64>,
}

fn default_max_record_size_kib() -> u32 {
    1024
}

/// Account-wide settings (DescribeAccountSettings / UpdateAccountSettings).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSettingsRecord {
    /// When the minimum throughput billing commitment was last enabled.
    pub commitment_started_ms: Option<u64>,
    /// When disabling was requested (takes effect at the earliest allowed end).
    pub commitment_disable_requested_ms: Option<u64>,
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

    /// Inserts or replaces a stream, durably, before returning. The row
    /// owns its logs: a mark on its uid (see [`MetadataStore::mark_logs`])
    /// is cleared in the same transaction.
    ///
    /// # Errors
    /// The transaction failed; nothing was changed.
    fn save_stream(&self, stream: &StreamRecord) -> Result<(), StoreError>;

    /// Removes a stream's row and, in the same transaction, marks its logs
    /// (stream `uid`'s) for removal, durably.
    ///
    /// # Errors
    /// The transaction failed; nothing was changed.
    fn delete_stream(&self, name: &str, uid: u64) -> Result<(), StoreError>;

    /// Marks stream `uid`'s logs for removal, durably: a CreateStream does so
    /// before it makes them, and saving its row clears the mark. A stream's
    /// files and its row cannot change in one step; after a crash between
    /// the two, the marked logs that no row owns are removed at startup.
    /// Logs never marked are never removed that way, whatever the rows say
    /// (a lost or older metadata file must not delete data).
    ///
    /// # Errors
    /// The transaction failed; nothing was changed.
    fn mark_logs(&self, uid: u64) -> Result<(), StoreError>;

    /// Every marked uid, in no order.
    ///
    /// # Errors
    /// The store could not be read.
    fn marked_logs(&self) -> Result<Vec<u64>, StoreError>;

    /// Clears the marks of `uids` (their logs are removed, or owned).
    ///
    /// # Errors
    /// The transaction failed; nothing was changed.
    fn unmark_logs(&self, uids: &[u64]) -> Result<(), StoreError>;

    /// The account-wide settings, or the defaults if never saved.
    ///
    /// # Errors
    /// The store could not be read or the row did not decode.
    fn load_account_settings(&self) -> Result<AccountSettingsRecord, StoreError>;

    /// Replaces the account-wide settings, durably.
    ///
    /// # Errors
    /// The transaction failed; nothing was changed.
    fn save_account_settings(&self, settings: &AccountSettingsRecord) -> Result<(), StoreError>;

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
