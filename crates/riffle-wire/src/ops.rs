//! One file per operation: its request shape (decoded straight from JSON
//! once [`crate::checker`] has validated the body against the model), the
//! checks the model cannot express, the engine call, and its response shape.

pub mod account;
pub mod consumers;
pub mod create_stream;
pub mod delete_stream;
pub mod describe_stream;
pub mod describe_stream_summary;
pub mod get_records;
pub mod get_shard_iterator;
pub mod list_shards;
pub mod list_streams;
pub mod put_record;
pub mod put_records;
pub mod reshard;
pub mod stream_changes;
pub mod subscribe;
pub mod tags;

use riffle_engine::ops::ShardDescription;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamModeDetailsJson {
    pub(crate) stream_mode: &'static str,
}

impl StreamModeDetailsJson {
    pub(crate) fn new(on_demand: bool) -> StreamModeDetailsJson {
        StreamModeDetailsJson {
            stream_mode: if on_demand {
                "ON_DEMAND"
            } else {
                "PROVISIONED"
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EnhancedMetricsJson {
    pub(crate) shard_level_metrics: Vec<String>,
}

impl EnhancedMetricsJson {
    /// The `EnhancedMonitoring` list both describe operations report.
    pub(crate) fn of(
        summary: &riffle_engine::ops::describe_stream::StreamSummary,
    ) -> Vec<EnhancedMetricsJson> {
        vec![EnhancedMetricsJson {
            shard_level_metrics: summary.shard_level_metrics.clone(),
        }]
    }
}

/// `EncryptionType` and `KeyId` as the describe operations report them.
pub(crate) fn encryption_of(
    summary: &riffle_engine::ops::describe_stream::StreamSummary,
) -> (&'static str, Option<String>) {
    match &summary.encryption_key_id {
        Some(key) => ("KMS", Some(key.clone())),
        None => ("NONE", None),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HashKeyRangeJson {
    pub(crate) starting_hash_key: String,
    pub(crate) ending_hash_key: String,
}

impl From<riffle_model::HashKeyRange> for HashKeyRangeJson {
    fn from(range: riffle_model::HashKeyRange) -> HashKeyRangeJson {
        HashKeyRangeJson {
            starting_hash_key: range.start.to_string(),
            ending_hash_key: range.end.to_string(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SequenceNumberRangeJson {
    pub(crate) starting_sequence_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ending_sequence_number: Option<String>,
}

/// botocore's `Shard`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ShardJson {
    pub(crate) shard_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) parent_shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) adjacent_parent_shard_id: Option<String>,
    pub(crate) hash_key_range: HashKeyRangeJson,
    pub(crate) sequence_number_range: SequenceNumberRangeJson,
}

impl From<&ShardDescription> for ShardJson {
    fn from(shard: &ShardDescription) -> ShardJson {
        ShardJson {
            shard_id: shard.id.to_string(),
            parent_shard_id: shard.parent.map(|id| id.to_string()),
            adjacent_parent_shard_id: shard.adjacent_parent.map(|id| id.to_string()),
            hash_key_range: shard.hash_range.into(),
            sequence_number_range: SequenceNumberRangeJson {
                starting_sequence_number: shard.starting_sequence.to_string(),
                ending_sequence_number: shard.ending_sequence.map(|s| s.to_string()),
            },
        }
    }
}
