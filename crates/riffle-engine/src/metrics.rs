//! Counters behind the metrics endpoint.
//!
//! They carry the names of Kinesis's CloudWatch metrics (`IncomingBytes`,
//! `PutRecords.ThrottledRecords`, …), so an alarm or dashboard built for AWS
//! maps one to one. Stream-level metrics are always kept; shard-level ones
//! are reported only for the metrics EnableEnhancedMonitoring switched on,
//! as on AWS. Counting is a relaxed atomic add per request and shard, never
//! per record.
//!
//! Counters live as long as the stream does in this process: they start
//! at zero on every server start (the Prometheus convention for counters).

use std::sync::atomic::{AtomicU64, Ordering};

use riffle_model::{ShardId, StreamName};

use crate::Engine;
use crate::stream::StreamStatus;

/// Declares a metric enum with its CloudWatch names, in AWS's order, and a
/// matching fixed-size block of counters.
macro_rules! metric_set {
    ($(#[$doc:meta])* $name:ident, $counters:ident { $($variant:ident => $cloudwatch:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The CloudWatch metric name.
            pub fn cloudwatch_name(self) -> &'static str {
                match self {
                    $($name::$variant => $cloudwatch,)*
                }
            }
        }

        #[derive(Debug, Default)]
        pub(crate) struct $counters([AtomicU64; $name::ALL.len()]);

        impl $counters {
            pub(crate) fn add(&self, metric: $name, n: u64) {
                if n > 0 {
                    self.0[metric as usize].fetch_add(n, Ordering::Relaxed);
                }
            }

            /// For gauges (the latest value wins).
            pub(crate) fn set(&self, metric: $name, value: u64) {
                self.0[metric as usize].store(value, Ordering::Relaxed);
            }

            fn get(&self, metric: $name) -> u64 {
                self.0[metric as usize].load(Ordering::Relaxed)
            }
        }
    };
}

metric_set!(
    /// Kinesis's stream-level metrics.
    StreamMetric, StreamCounters {
        IncomingBytes => "IncomingBytes",
        IncomingRecords => "IncomingRecords",
        PutRecordSuccess => "PutRecord.Success",
        PutRecordBytes => "PutRecord.Bytes",
        PutRecordsSuccess => "PutRecords.Success",
        PutRecordsBytes => "PutRecords.Bytes",
        PutRecordsTotalRecords => "PutRecords.TotalRecords",
        PutRecordsSuccessfulRecords => "PutRecords.SuccessfulRecords",
        PutRecordsFailedRecords => "PutRecords.FailedRecords",
        PutRecordsThrottledRecords => "PutRecords.ThrottledRecords",
        WriteProvisionedThroughputExceeded => "WriteProvisionedThroughputExceeded",
        GetRecordsSuccess => "GetRecords.Success",
        GetRecordsRecords => "GetRecords.Records",
        GetRecordsBytes => "GetRecords.Bytes",
        GetRecordsIteratorAgeMilliseconds => "GetRecords.IteratorAgeMilliseconds",
        ReadProvisionedThroughputExceeded => "ReadProvisionedThroughputExceeded",
        SubscribeToShardSuccess => "SubscribeToShard.Success",
        SubscribeToShardEventSuccess => "SubscribeToShardEvent.Success",
        SubscribeToShardEventRecords => "SubscribeToShardEvent.Records",
        SubscribeToShardEventBytes => "SubscribeToShardEvent.Bytes",
        SubscribeToShardEventMillisBehindLatest => "SubscribeToShardEvent.MillisBehindLatest",
    }
);

metric_set!(
    /// Kinesis's shard-level (enhanced monitoring) metrics.
    ShardMetric, ShardCounters {
        IncomingBytes => "IncomingBytes",
        IncomingRecords => "IncomingRecords",
        OutgoingBytes => "OutgoingBytes",
        OutgoingRecords => "OutgoingRecords",
        WriteProvisionedThroughputExceeded => "WriteProvisionedThroughputExceeded",
        ReadProvisionedThroughputExceeded => "ReadProvisionedThroughputExceeded",
        IteratorAgeMilliseconds => "IteratorAgeMilliseconds",
    }
);

impl StreamMetric {
    /// Whether the value is a level (the latest observation) rather than a
    /// running total.
    pub fn is_gauge(self) -> bool {
        matches!(
            self,
            StreamMetric::GetRecordsIteratorAgeMilliseconds
                | StreamMetric::SubscribeToShardEventMillisBehindLatest
        )
    }
}

impl ShardMetric {
    pub fn is_gauge(self) -> bool {
        self == ShardMetric::IteratorAgeMilliseconds
    }

    pub fn from_cloudwatch_name(name: &str) -> Option<ShardMetric> {
        ShardMetric::ALL
            .iter()
            .copied()
            .find(|m| m.cloudwatch_name() == name)
    }
}

/// What caused a reshard: a client's call, or on-demand scaling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReshardTrigger {
    Api,
    OnDemand,
}

impl ReshardTrigger {
    pub const ALL: [ReshardTrigger; 2] = [ReshardTrigger::Api, ReshardTrigger::OnDemand];

    pub fn as_str(self) -> &'static str {
        match self {
            ReshardTrigger::Api => "api",
            ReshardTrigger::OnDemand => "on_demand",
        }
    }
}

/// Splits and merges done, by trigger; the visible side of scaling.
#[derive(Debug, Default)]
pub(crate) struct ReshardCounters {
    splits: [AtomicU64; 2],
    merges: [AtomicU64; 2],
}

impl ReshardCounters {
    pub(crate) fn record(&self, trigger: ReshardTrigger, splits: u64, merges: u64) {
        self.splits[trigger as usize].fetch_add(splits, Ordering::Relaxed);
        self.merges[trigger as usize].fetch_add(merges, Ordering::Relaxed);
    }
}

/// Reshards of one stream by one trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReshardCount {
    pub trigger: ReshardTrigger,
    pub splits: u64,
    pub merges: u64,
}

/// One stream's metrics at one moment.
#[derive(Clone, Debug)]
pub struct StreamMetrics {
    pub name: StreamName,
    pub status: StreamStatus,
    pub on_demand: bool,
    pub open_shards: usize,
    /// Closed shards still within retention (listed by ListShards).
    pub closed_shards: usize,
    pub consumers: usize,
    /// Every [`StreamMetric`], in [`StreamMetric::ALL`] order.
    pub values: Vec<(StreamMetric, u64)>,
    pub reshards: Vec<ReshardCount>,
    /// Shard-level metrics enabled by enhanced monitoring, per listed shard.
    pub shards: Vec<ShardMetrics>,
}

#[derive(Clone, Debug)]
pub struct ShardMetrics {
    pub id: ShardId,
    pub values: Vec<(ShardMetric, u64)>,
}

/// Every stream's metrics, for the metrics endpoint.
#[derive(Clone, Debug)]
pub struct MetricsSnapshot {
    pub streams: Vec<StreamMetrics>,
    pub active_subscriptions: usize,
}

impl Engine {
    /// The current value of every metric.
    pub fn metrics(&self) -> MetricsSnapshot {
        let now = self.now();
        let streams = self
            .all_streams()
            .iter()
            .map(|stream| {
                let state = stream.state.read();
                let cutoff = state.retention_cutoff(now);
                let listed = || state.shards.iter().filter(|s| !s.expired(cutoff));
                let enabled: Vec<ShardMetric> = state
                    .record
                    .shard_level_metrics
                    .iter()
                    .filter_map(|name| ShardMetric::from_cloudwatch_name(name))
                    .collect();
                let shards = if enabled.is_empty() {
                    Vec::new()
                } else {
                    listed()
                        .map(|shard| ShardMetrics {
                            id: shard.id,
                            values: enabled
                                .iter()
                                .map(|&m| (m, shard.counters.get(m)))
                                .collect(),
                        })
                        .collect()
                };
                StreamMetrics {
                    name: stream.name.clone(),
                    status: stream.status(&state, now),
                    on_demand: state.record.on_demand,
                    open_shards: state.open_shard_count(),
                    closed_shards: listed().filter(|s| !s.is_open()).count(),
                    consumers: state.record.consumers.len(),
                    values: StreamMetric::ALL
                        .iter()
                        .map(|&m| (m, stream.counters.get(m)))
                        .collect(),
                    reshards: ReshardTrigger::ALL
                        .iter()
                        .map(|&trigger| ReshardCount {
                            trigger,
                            splits: stream.reshards.splits[trigger as usize]
                                .load(Ordering::Relaxed),
                            merges: stream.reshards.merges[trigger as usize]
                                .load(Ordering::Relaxed),
                        })
                        .collect(),
                    shards,
                }
            })
            .collect();
        MetricsSnapshot {
            streams,
            active_subscriptions: self.inner.subscriptions.active(),
        }
    }
}
