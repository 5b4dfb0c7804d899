//! On-demand scaling: ON_DEMAND streams split hot shards, merge cold
//! neighbours, and grow to their warm throughput, by themselves.
//!
//! Each tick (every second from [`Engine::spawn_maintenance`], or called
//! directly by tests with a manual clock) makes at most one change per
//! stream, through the same reshard path as SplitShard and MergeShards, so
//! lineage and ordering guarantees are the same as for manual resharding.

use riffle_model::HashKeyRange;

use crate::metrics::ReshardTrigger::OnDemand;
use crate::stream::StreamStatus;
use crate::traffic::{RATE_WINDOWS, WRITE_BYTES_PER_SEC};
use crate::{Engine, StreamRef};

/// A shard writing above this share of its capacity, sustained, is split.
const HOT_SHARE: f64 = 0.8;
/// Two neighbours each below this share are merged.
const COLD_SHARE: f64 = 0.05;

/// One change the scaler decided on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Change {
    Split { shard: String, at: u128 },
    Merge { shard: String, adjacent: String },
    Grow { target: u32 },
}

impl Engine {
    /// Looks at every ON_DEMAND stream once and applies at most one scaling
    /// change to each. Returns how many streams changed.
    pub fn autoscale(&self) -> usize {
        let now = self.now();
        let streams = self.all_streams();
        let mut changed = 0;
        for stream in streams {
            let change = {
                let state = stream.state.read();
                if !state.record.on_demand || state.status(now) != StreamStatus::Active {
                    continue;
                }
                let mut open: Vec<_> = state.shards.iter().filter(|s| s.is_open()).collect();
                open.sort_by_key(|s| s.range.start);
                let warm_shards = state
                    .record
                    .warm_throughput_mibps
                    .map_or(1, |mibps| mibps.max(1) as usize);
                let rates: Vec<f64> = open
                    .iter()
                    .map(|s| s.traffic.lock().sustained_write_rate(now))
                    .collect();
                // A shard needs a full window of history before it counts as cold.
                let settled =
                    |i: usize| now.saturating_sub(open[i].created) >= RATE_WINDOWS as u64 * 1000;
                let hot = rates
                    .iter()
                    .position(|&rate| rate > HOT_SHARE * WRITE_BYTES_PER_SEC);
                let splittable = |range: HashKeyRange| range.end - range.start > 3;
                if open.len() < warm_shards {
                    Some(Change::Grow {
                        target: warm_shards.min(open.len() * 2) as u32,
                    })
                } else if let Some(i) = hot.filter(|&i| splittable(open[i].range)) {
                    let range = open[i].range;
                    Some(Change::Split {
                        shard: open[i].id.to_string(),
                        at: range.start + (range.end - range.start) / 2 + 1,
                    })
                } else if open.len() > warm_shards {
                    (0..open.len().saturating_sub(1))
                        .find(|&i| {
                            settled(i)
                                && settled(i + 1)
                                && rates[i] < COLD_SHARE * WRITE_BYTES_PER_SEC
                                && rates[i + 1] < COLD_SHARE * WRITE_BYTES_PER_SEC
                        })
                        .map(|i| Change::Merge {
                            shard: open[i].id.to_string(),
                            adjacent: open[i + 1].id.to_string(),
                        })
                } else {
                    None
                }
            };
            let Some(change) = change else { continue };
            let target = StreamRef::Name(stream.name.clone());
            let result = match &change {
                Change::Split { shard, at } => self.split_shard_by(OnDemand, &target, shard, *at),
                Change::Merge { shard, adjacent } => {
                    self.merge_shards_by(OnDemand, &target, shard, adjacent)
                }
                Change::Grow { target: count } => self
                    .update_shard_count_by(OnDemand, &target, *count)
                    .map(|_| ()),
            };
            match result {
                Ok(()) => {
                    tracing::info!(stream = %stream.name, ?change, "on-demand scaling");
                    changed += 1;
                }
                Err(err) => {
                    tracing::warn!(stream = %stream.name, ?change, error = %err, "on-demand scaling skipped")
                }
            }
        }
        changed
    }
}
