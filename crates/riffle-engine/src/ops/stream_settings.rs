//! UpdateMaxRecordSize, UpdateStreamMode, UpdateStreamWarmThroughput and
//! UpdateStreamRecordDistributionStrategy.

use riffle_model::limits::{QUOTA_WINDOW_MS, STREAM_MODE_SWITCHES_PER_DAY};
use riffle_model::{Millis, StreamArn, StreamName};

use crate::error::{EngineError, EngineResult};
use crate::ops::reshard::recent_calls;
use crate::stream::StreamStatus;
use crate::{Engine, StreamRef};

#[derive(Clone, Debug)]
pub struct WarmThroughput {
    pub name: StreamName,
    pub arn: StreamArn,
    pub target_mibps: u32,
    pub current_mibps: u32,
}

impl Engine {
    /// Sets the largest record the stream accepts (1024–10240 KiB, checked
    /// by the model).
    ///
    /// # Errors
    /// The stream is missing or not ACTIVE.
    pub fn update_max_record_size(&self, stream: &StreamRef, kib: u32) -> EngineResult<()> {
        self.modify_stream(stream, &[StreamStatus::Active], |record, _| {
            record.max_record_size_kib = kib;
            Ok(())
        })
    }

    /// Switches between PROVISIONED and ON_DEMAND; the stream is UPDATING
    /// for the transition delay.
    ///
    /// # Errors
    /// Already in that mode, the ON_DEMAND stream quota is reached, or the
    /// stream is missing or not ACTIVE.
    pub fn update_stream_mode(
        &self,
        stream: &StreamRef,
        on_demand: bool,
        warm_throughput_mibps: Option<u32>,
    ) -> EngineResult<()> {
        let limits = self.describe_limits()?;
        let account = self.inner.config.account.as_str().to_owned();
        let delay_ms = self.inner.config.create_delay_ms;
        let daily_quotas = self.inner.config.daily_quotas;
        self.modify_stream(stream, &[StreamStatus::Active], |record, now| {
            if record.on_demand == on_demand {
                return Err(EngineError::InvalidArgument(format!(
                    "Stream {} under account {account} is already in {} mode.",
                    record.name,
                    if on_demand { "ON_DEMAND" } else { "PROVISIONED" }
                )));
            }
            let switches = recent_calls(&mut record.mode_switches_ms, now);
            if daily_quotas && switches.len() >= STREAM_MODE_SWITCHES_PER_DAY {
                return Err(EngineError::LimitExceeded(format!(
                    "Stream {} under account {account} has already switched capacity mode {STREAM_MODE_SWITCHES_PER_DAY} times in the last 24 hours; the next switch is allowed at {}.",
                    record.name,
                    Millis(switches[0] + QUOTA_WINDOW_MS).java_date()
                )));
            }
            switches.push(now.0);
            if on_demand && limits.on_demand_stream_count >= limits.on_demand_stream_count_limit {
                return Err(EngineError::LimitExceeded(format!(
                    "This request would exceed the limit of {} ON_DEMAND streams for the account {account}.",
                    limits.on_demand_stream_count_limit
                )));
            }
            record.on_demand = on_demand;
            record.warm_throughput_mibps = if on_demand { warm_throughput_mibps.or(record.warm_throughput_mibps) } else { None };
            record.updating_until_ms = (delay_ms > 0).then_some(now.0 + delay_ms);
            Ok(())
        })
    }

    /// Sets the warm throughput of an ON_DEMAND stream.
    ///
    /// # Errors
    /// The stream is PROVISIONED, missing or not ACTIVE.
    pub fn update_warm_throughput(
        &self,
        stream: &StreamRef,
        mibps: u32,
    ) -> EngineResult<WarmThroughput> {
        let name = self.modify_stream(stream, &[StreamStatus::Active], |record, _| {
            if !record.on_demand {
                return Err(EngineError::InvalidArgument(format!(
                    "Warm throughput can only be set on ON_DEMAND streams; stream {} is PROVISIONED.",
                    record.name
                )));
            }
            record.warm_throughput_mibps = Some(mibps);
            Ok(record.name.clone())
        })?;
        let name = StreamName::parse(&name).expect("stored names are valid");
        Ok(WarmThroughput {
            arn: self.arn(&name),
            name,
            target_mibps: mibps,
            current_mibps: mibps,
        })
    }

    /// AUTO ignores partition keys and spreads records evenly;
    /// USER_PARTITION_KEY routes by partition key (the default).
    ///
    /// # Errors
    /// The stream is missing or not ACTIVE.
    pub fn update_record_distribution(&self, stream: &StreamRef, auto: bool) -> EngineResult<()> {
        self.modify_stream(stream, &[StreamStatus::Active], |record, _| {
            record.auto_distribution = auto;
            Ok(())
        })
    }
}
