//! DescribeLimits, DescribeAccountSettings and UpdateAccountSettings.

use riffle_model::Millis;
use riffle_model::limits::BILLING_COMMITMENT_MIN_MS;

use crate::Engine;
use crate::error::EngineResult;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub shard_limit: u32,
    pub open_shard_count: u32,
    pub on_demand_stream_count: u32,
    pub on_demand_stream_count_limit: u32,
}

/// botocore's `MinimumThroughputBillingCommitmentOutputStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitmentStatus {
    Enabled,
    Disabled,
    EnabledUntilEarliestAllowedEnd,
}

impl CommitmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitmentStatus::Enabled => "ENABLED",
            CommitmentStatus::Disabled => "DISABLED",
            CommitmentStatus::EnabledUntilEarliestAllowedEnd => {
                "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
            }
        }
    }
}

/// The minimum throughput billing commitment as DescribeAccountSettings reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Commitment {
    pub status: CommitmentStatus,
    pub started_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub earliest_allowed_end_at: Option<Millis>,
}

impl Engine {
    /// # Errors
    /// None today; the signature leaves room for per-account throttling.
    pub fn describe_limits(&self) -> EngineResult<Limits> {
        let streams = self.inner.streams.read();
        let mut open_shard_count = 0;
        let mut on_demand_stream_count = 0;
        for stream in streams.by_name.values() {
            let state = stream.state.read();
            open_shard_count += state.open_shard_count() as u32;
            on_demand_stream_count += u32::from(state.record.on_demand);
        }
        Ok(Limits {
            shard_limit: self.inner.config.account_shard_limit,
            open_shard_count,
            on_demand_stream_count,
            on_demand_stream_count_limit: self.inner.config.on_demand_stream_limit,
        })
    }

    /// # Errors
    /// The settings could not be read.
    pub fn account_settings(&self) -> EngineResult<Commitment> {
        let settings = self.inner.meta.load_account_settings()?;
        Ok(commitment(&settings, self.now()))
    }

    /// Enables or disables the minimum throughput billing commitment. A
    /// commitment lasts at least 24 hours: disabling earlier schedules the end
    /// for the earliest allowed time, and enabling again cancels that.
    ///
    /// # Errors
    /// The settings could not be saved.
    pub fn update_account_settings(&self, enable: bool) -> EngineResult<Commitment> {
        let now = self.now();
        let mut settings = self.inner.meta.load_account_settings()?;
        let current = commitment(&settings, now);
        match (enable, current.status) {
            (true, CommitmentStatus::Disabled) => {
                settings.commitment_started_ms = Some(now.0);
                settings.commitment_disable_requested_ms = None;
            }
            (true, _) => settings.commitment_disable_requested_ms = None,
            (false, CommitmentStatus::Enabled) => {
                settings.commitment_disable_requested_ms = Some(now.0)
            }
            (false, _) => {}
        }
        self.inner.meta.save_account_settings(&settings)?;
        Ok(commitment(&settings, now))
    }
}

/// Derives the commitment's state at `now` from what was requested and when.
fn commitment(settings: &riffle_store::AccountSettingsRecord, now: Millis) -> Commitment {
    let Some(started) = settings.commitment_started_ms.map(Millis) else {
        return Commitment {
            status: CommitmentStatus::Disabled,
            started_at: None,
            ended_at: None,
            earliest_allowed_end_at: None,
        };
    };
    let earliest_end = Millis(started.0 + BILLING_COMMITMENT_MIN_MS);
    match settings.commitment_disable_requested_ms.map(Millis) {
        None => Commitment {
            status: CommitmentStatus::Enabled,
            started_at: Some(started),
            ended_at: None,
            earliest_allowed_end_at: Some(earliest_end),
        },
        Some(requested) => {
            let ends = requested.max(earliest_end);
            let status = if now >= ends {
                CommitmentStatus::Disabled
            } else {
                CommitmentStatus::EnabledUntilEarliestAllowedEnd
            };
            let ended_at = (now >= ends).then_some(ends);
            Commitment {
                status,
                started_at: Some(started),
                ended_at,
                earliest_allowed_end_at: Some(earliest_end),
            }
        }
    }
}
