//! Pure Kinesis domain types. No I/O, no async, no serialization frameworks.
//!
//! Everything the wire layer parses from a request ends up as one of these
//! types, and the engine and stores trust them from then on:
//!
//! - [`name`]: validated stream names.
//! - [`arn`]: stream ARNs and the account/region they live in.
//! - [`shard_id`]: `shardId-000000000000` identifiers.
//! - [`hash_key`]: the 128-bit routing space and partition-key hashing.
//! - [`sequence`]: 56-digit sequence numbers, built without a bignum.
//! - [`iterator`]: opaque, authenticated, expiring shard-iterator tokens.
//! - [`limits`]: every numeric limit AWS documents, in one place.
//! - [`time`]: epoch milliseconds and AWS-style date formatting.
//! - [`text`]: allocation-free decimal renderings for the hot path.
//!
//! Start with [`sequence`]: it explains how ordering across shards works.

pub mod arn;
pub mod hash_key;
pub mod iterator;
pub mod limits;
pub mod name;
pub mod sequence;
pub mod shard_id;
pub mod text;
pub mod time;

pub use arn::{AccountId, Region, StreamArn};
pub use hash_key::{HashKey, HashKeyRange};
pub use iterator::{IteratorKey, IteratorToken, TokenError};
pub use name::StreamName;
pub use sequence::{SequenceNumber, SequenceTexts};
pub use shard_id::ShardId;
pub use text::FixedText;
pub use time::Millis;
