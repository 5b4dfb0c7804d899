//! Storage for Riffle: the traits every backend implements, and the local
//! durable backend.
//!
//! - [`log`]: the [`LogStore`] / [`ShardLog`] traits, one append-only log per
//!   shard, and the [`Durable`] handle a put waits on before it is acknowledged.
//! - [`metadata`]: the [`MetadataStore`] trait and the rows it persists
//!   (streams, shards and their lineage, server secrets).
//! - [`record`]: records as they are appended and read back.
//! - [`local`]: the default backend: segment files with CRC-framed batches and
//!   group commit ([`local::LocalLogStore`]), and redb for metadata
//!   ([`local::RedbMetadataStore`]).
//! - [`conformance`]: scenarios every backend must pass, written once.
//!
//! Start with [`log::ShardLog`]: its contract is the durability contract.

pub mod conformance;
pub mod error;
pub mod local;
pub mod log;
pub mod metadata;
pub mod record;

pub use error::StoreError;
pub use log::{
    AppendBatch, Appended, Durability, Durable, LogBounds, LogStore, ShardKey, ShardLog,
};
pub use metadata::{
    AccountSettingsRecord, ClosedShard, ConsumerRecord, MetadataStore, ShardRecord, StreamRecord,
};
pub use record::{NewRecord, Record};
