//! IncreaseStreamRetentionPeriod and DecreaseStreamRetentionPeriod.
//!
//! Retention is enforced, not just recorded: reads skip records older than
//! the period at once, and the retention sweep reclaims their segments.

use riffle_model::limits::{RETENTION_HOURS_MAX, RETENTION_HOURS_MIN};

use crate::error::{EngineError, EngineResult};
use crate::stream::StreamStatus;
use crate::{Engine, StreamRef};

/// Which way a retention change may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionChange {
    Increase,
    Decrease,
}

impl Engine {
    /// Sets the retention period, which may only move in the named direction
    /// (setting the current value is allowed either way).
    ///
    /// # Errors
    /// Out of 24–8760 hours, the wrong direction, or the stream is not ACTIVE.
    pub fn change_retention(
        &self,
        stream: &StreamRef,
        change: RetentionChange,
        hours: i64,
    ) -> EngineResult<()> {
        if hours < i64::from(RETENTION_HOURS_MIN) {
            return Err(EngineError::InvalidArgument(format!(
                "Minimum allowed retention period is {RETENTION_HOURS_MIN} hours. Requested retention period ({hours} hours) is too short."
            )));
        }
        if hours > i64::from(RETENTION_HOURS_MAX) {
            return Err(EngineError::InvalidArgument(format!(
                "Maximum allowed retention period is {RETENTION_HOURS_MAX} hours. Requested retention period ({hours} hours) is too long."
            )));
        }
        let hours = hours as u32;
        self.modify_stream(stream, &[StreamStatus::Active], |record, _| {
            let current = record.retention_hours;
            let wrong_way = match change {
                RetentionChange::Increase => (hours < current).then_some(("shorter", "DecreaseRetentionPeriod")),
                RetentionChange::Decrease => (hours > current).then_some(("longer", "IncreaseRetentionPeriod")),
            };
            if let Some((direction, api)) = wrong_way {
                return Err(EngineError::InvalidArgument(format!(
                    "Requested retention period ({hours} hours) for stream {} can not be {direction} than existing retention period ({current} hours). Use {api} API.",
                    record.name
                )));
            }
            record.retention_hours = hours;
            Ok(())
        })?;
        // Reclaim what a shorter period expired now, not at the next sweep.
        if change == RetentionChange::Decrease {
            self.enforce_retention();
        }
        Ok(())
    }
}
