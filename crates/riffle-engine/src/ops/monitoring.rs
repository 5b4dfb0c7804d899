//! EnableEnhancedMonitoring and DisableEnhancedMonitoring.

use riffle_model::{StreamArn, StreamName};

use crate::error::EngineResult;
use crate::metrics::ShardMetric;
use crate::stream::StreamStatus;
use crate::{Engine, StreamRef};

#[derive(Clone, Debug)]
pub struct MonitoringChange {
    pub name: StreamName,
    pub arn: StreamArn,
    pub current: Vec<String>,
    pub desired: Vec<String>,
}

impl Engine {
    /// Enables (`enable`) or disables shard-level metrics; `ALL` names them all.
    ///
    /// # Errors
    /// The stream is missing or not ACTIVE.
    pub fn set_enhanced_monitoring(
        &self,
        stream: &StreamRef,
        metrics: &[String],
        enable: bool,
    ) -> EngineResult<MonitoringChange> {
        let named = |metric: &str| metrics.iter().any(|m| m == metric || m == "ALL");
        let (name, current, desired) =
            self.modify_stream(stream, &[StreamStatus::Active], |record, _| {
                let current = record.shard_level_metrics.clone();
                record.shard_level_metrics = ShardMetric::ALL
                    .iter()
                    .map(|metric| metric.cloudwatch_name())
                    .filter(|metric| {
                        if enable {
                            current.iter().any(|c| c == *metric) || named(metric)
                        } else {
                            current.iter().any(|c| c == *metric) && !named(metric)
                        }
                    })
                    .map(|metric| (*metric).to_owned())
                    .collect();
                Ok((
                    record.name.clone(),
                    current,
                    record.shard_level_metrics.clone(),
                ))
            })?;
        let name = StreamName::parse(&name).expect("stored names are valid");
        Ok(MonitoringChange {
            arn: self.arn(&name),
            name,
            current,
            desired,
        })
    }
}
