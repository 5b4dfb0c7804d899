//! DescribeStream and DescribeStreamSummary.

use riffle_model::{Millis, ShardId, StreamArn, StreamName};

use super::ShardDescription;
use crate::error::EngineResult;
use crate::stream::StreamStatus;
use crate::{Engine, StreamRef};

/// What both describe operations report about a stream.
#[derive(Clone, Debug)]
pub struct StreamSummary {
    pub name: StreamName,
    pub arn: StreamArn,
    pub stream_id: String,
    pub status: StreamStatus,
    pub on_demand: bool,
    pub retention_hours: u32,
    pub created: Millis,
    pub open_shard_count: usize,
    pub shard_level_metrics: Vec<String>,
    /// Set when the stream is encrypted (EncryptionType KMS).
    pub encryption_key_id: Option<String>,
    pub max_record_size_kib: u32,
    pub warm_throughput_mibps: Option<u32>,
    pub auto_distribution: bool,
    /// Consumers registered and not being deleted.
    pub consumer_count: usize,
}

/// DescribeStream's answer: the summary plus one page of shards.
#[derive(Clone, Debug)]
pub struct StreamDescription {
    pub summary: StreamSummary,
    pub shards: Vec<ShardDescription>,
    pub has_more_shards: bool,
}

impl Engine {
    /// # Errors
    /// The stream does not exist.
    pub fn describe_stream_summary(&self, stream: &StreamRef) -> EngineResult<StreamSummary> {
        let stream = self.lookup(stream)?;
        let state = stream.state.read();
        Ok(StreamSummary {
            name: stream.name.clone(),
            arn: self.arn(&stream.name),
            stream_id: state.record.stream_id.clone(),
            status: stream.status(&state, self.now()),
            on_demand: state.record.on_demand,
            retention_hours: state.record.retention_hours,
            created: Millis(state.record.created_ms),
            open_shard_count: state.open_shard_count(),
            shard_level_metrics: state.record.shard_level_metrics.clone(),
            encryption_key_id: state.record.encryption_key_id.clone(),
            max_record_size_kib: state.record.max_record_size_kib,
            warm_throughput_mibps: state.record.warm_throughput_mibps,
            auto_distribution: state.record.auto_distribution,
            consumer_count: self.live_consumer_count(&state.record, self.now()),
        })
    }

    /// Describes a stream with up to `limit` shards after `exclusive_start`.
    /// Closed shards past retention are left out, as on AWS.
    ///
    /// # Errors
    /// The stream does not exist.
    pub fn describe_stream(
        &self,
        stream: &StreamRef,
        limit: usize,
        exclusive_start: Option<ShardId>,
    ) -> EngineResult<StreamDescription> {
        let summary = self.describe_stream_summary(stream)?;
        let stream = self.lookup(stream)?;
        let state = stream.state.read();
        let cutoff = state.retention_cutoff(self.now());
        let mut shards = state
            .shards
            .iter()
            .filter(|s| exclusive_start.is_none_or(|start| s.id > start))
            .filter(|s| !s.expired(cutoff))
            .map(ShardDescription::from);
        let page: Vec<_> = shards.by_ref().take(limit).collect();
        let has_more_shards = shards.next().is_some();
        Ok(StreamDescription {
            summary,
            shards: page,
            has_more_shards,
        })
    }
}
