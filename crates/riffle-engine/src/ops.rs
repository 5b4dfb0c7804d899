//! One file per Kinesis operation, each an `impl Engine` block with the
//! operation's input and output types.

pub mod account;
pub mod autoscale;
pub mod consumers;
pub mod create_stream;
pub mod delete_stream;
pub mod describe_stream;
pub mod encryption;
pub mod get_records;
pub mod get_shard_iterator;
pub mod list_shards;
pub mod list_streams;
pub mod monitoring;
pub mod put_records;
pub mod reshard;
pub mod resource_policy;
pub mod retention;
pub mod stream_settings;
pub mod subscribe;
pub mod tags;

use riffle_model::{HashKeyRange, SequenceNumber, ShardId};

use crate::stream::Shard;

/// A shard as DescribeStream and ListShards report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardDescription {
    pub id: ShardId,
    pub parent: Option<ShardId>,
    pub adjacent_parent: Option<ShardId>,
    pub hash_range: HashKeyRange,
    pub starting_sequence: SequenceNumber,
    /// Set once the shard is closed: the last sequence number it can hold.
    pub ending_sequence: Option<SequenceNumber>,
}

impl From<&Shard> for ShardDescription {
    fn from(shard: &Shard) -> ShardDescription {
        ShardDescription {
            id: shard.id,
            parent: shard.parent,
            adjacent_parent: shard.adjacent_parent,
            hash_range: shard.range,
            starting_sequence: shard.sequence_before(0),
            ending_sequence: shard
                .closed
                .map(|closed| shard.sequence_before(closed.end_offset)),
        }
    }
}
