//! The engine's only source of wall-clock time, so tests can move it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use riffle_model::Millis;

/// Wall-clock time in epoch milliseconds.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    /// A clock that moves only when told; for tests of expiry and retention.
    Manual(Arc<AtomicU64>),
}

impl Clock {
    pub fn manual(start: Millis) -> Clock {
        Clock::Manual(Arc::new(AtomicU64::new(start.0)))
    }

    pub fn now(&self) -> Millis {
        match self {
            Clock::System => {
                let since_epoch = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                Millis(since_epoch.as_millis() as u64)
            }
            Clock::Manual(now) => Millis(now.load(Ordering::Relaxed)),
        }
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, by_ms: u64) {
        if let Clock::Manual(now) = self {
            now.fetch_add(by_ms, Ordering::Relaxed);
        }
    }
}
