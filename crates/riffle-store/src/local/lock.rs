//! The shard and journal locks, which every append shares with the sync threads.
//!
//! `parking_lot`'s mutex, when it finds the lock taken, spins a little and
//! then calls `sched_yield` up to seven times before it sleeps. With more
//! runnable threads than cores (two runtime workers, the sync threads and
//! the clients on a 2-core machine) a yield gives the core away for the
//! rest of another thread's slice: `perf trace` of PutRecord with 64
//! clients showed runtime workers spending about a fifth of their time in
//! `sched_yield` (0.24 ms a call) waiting for shard and journal locks held
//! for one `pwrite`, every connection on that worker waiting with them.
//! The standard library's mutex spins briefly, then sleeps on a futex until
//! the holder's unlock wakes it.

use std::sync::{PoisonError, TryLockError};
use std::time::Duration;

pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

/// A mutex that sleeps rather than yields when contended. No poisoning: a
/// panic while it is held leaves the value as the panic left it, as with
/// `parking_lot`.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T>(std::sync::Mutex<T>);

impl<T> Mutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        Mutex(std::sync::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The guard, or `None` if the lock is held.
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        match self.0.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// A condition variable for [`Mutex`].
#[derive(Debug, Default)]
pub(crate) struct Condvar(std::sync::Condvar);

impl Condvar {
    pub(crate) const fn new() -> Self {
        Condvar(std::sync::Condvar::new())
    }

    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.0.wait(guard).unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn wait_for<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> MutexGuard<'a, T> {
        self.0
            .wait_timeout(guard, timeout)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    pub(crate) fn notify_one(&self) {
        self.0.notify_one();
    }

    pub(crate) fn notify_all(&self) {
        self.0.notify_all();
    }
}
