//! Per-shard traffic: AWS's throughput limits as token buckets, and the
//! recent write rate the on-demand scaler watches.
//!
//! All arithmetic uses the engine's [`Clock`](crate::Clock) time passed in
//! by the caller, so tests drive it with a manual clock and never sleep.

use riffle_model::Millis;

/// AWS's per-shard quotas.
pub const WRITE_BYTES_PER_SEC: f64 = 1024.0 * 1024.0;
pub const WRITE_RECORDS_PER_SEC: f64 = 1000.0;
pub const READ_BYTES_PER_SEC: f64 = 2.0 * 1024.0 * 1024.0;
pub const READ_CALLS_PER_SEC: f64 = 5.0;

/// How many one-second windows of write history the scaler looks at.
pub const RATE_WINDOWS: usize = 10;

/// A token bucket holding one second of its rate. Tokens are counted in
/// thousandths so that refilling by whole milliseconds is exact.
#[derive(Clone, Debug)]
pub struct Bucket {
    /// Units per second = thousandths of a unit per millisecond.
    rate_per_sec: i64,
    capacity_milli: i64,
    tokens_milli: i64,
    updated: Millis,
}

impl Bucket {
    pub fn new(rate_per_sec: f64, capacity: f64, now: Millis) -> Bucket {
        let capacity_milli = (capacity * 1000.0) as i64;
        Bucket {
            rate_per_sec: rate_per_sec as i64,
            capacity_milli,
            tokens_milli: capacity_milli,
            updated: now,
        }
    }

    fn refill(&mut self, now: Millis) {
        let elapsed_ms = i64::try_from(now.saturating_sub(self.updated)).unwrap_or(i64::MAX);
        let refill = elapsed_ms.saturating_mul(self.rate_per_sec);
        self.tokens_milli = self
            .tokens_milli
            .saturating_add(refill)
            .min(self.capacity_milli);
        self.updated = self.updated.max(now);
    }

    /// Whether `n` tokens are there (without taking them).
    pub fn has(&mut self, now: Millis, n: f64) -> bool {
        self.refill(now);
        self.tokens_milli >= (n * 1000.0) as i64
    }

    pub fn take(&mut self, now: Millis, n: f64) {
        self.refill(now);
        self.tokens_milli -= (n * 1000.0) as i64;
    }

    /// Whether the bucket is in debt (a large read borrowed ahead).
    pub fn in_debt(&mut self, now: Millis) -> bool {
        self.refill(now);
        self.tokens_milli < 0
    }
}

/// Traffic state of one shard.
#[derive(Clone, Debug)]
pub struct ShardTraffic {
    write_bytes: Bucket,
    write_records: Bucket,
    read_bytes: Bucket,
    read_calls: Bucket,
    /// Bytes written in each of the last [`RATE_WINDOWS`] whole seconds,
    /// newest last, and the second they end at.
    windows: [u64; RATE_WINDOWS],
    window_second: u64,
}

impl ShardTraffic {
    /// `record_bytes_max` lets one maximum-size record through a full bucket.
    pub fn new(now: Millis, record_bytes_max: usize) -> ShardTraffic {
        ShardTraffic {
            write_bytes: Bucket::new(
                WRITE_BYTES_PER_SEC,
                WRITE_BYTES_PER_SEC.max(record_bytes_max as f64),
                now,
            ),
            write_records: Bucket::new(WRITE_RECORDS_PER_SEC, WRITE_RECORDS_PER_SEC, now),
            read_bytes: Bucket::new(READ_BYTES_PER_SEC, READ_BYTES_PER_SEC, now),
            read_calls: Bucket::new(READ_CALLS_PER_SEC, READ_CALLS_PER_SEC, now),
            windows: [0; RATE_WINDOWS],
            window_second: now.0 / 1000,
        }
    }

    /// Admits one record of `bytes` if the write limits allow (when
    /// `enforce`), and counts it for the scaler either way.
    pub fn admit_write(&mut self, now: Millis, bytes: usize, enforce: bool) -> bool {
        if enforce {
            if !(self.write_records.has(now, 1.0) && self.write_bytes.has(now, bytes as f64)) {
                return false;
            }
            self.write_records.take(now, 1.0);
            self.write_bytes.take(now, bytes as f64);
        }
        self.count_written(now, bytes);
        true
    }

    /// Admits a GetRecords call: at most 5 a second, and none while a large
    /// read is still being paid for (AWS's follow-on throttle).
    pub fn admit_read(&mut self, now: Millis) -> bool {
        if self.read_bytes.in_debt(now) || !self.read_calls.has(now, 1.0) {
            return false;
        }
        self.read_calls.take(now, 1.0);
        true
    }

    /// Charges the bytes a GetRecords call returned; up to 10 MiB may be
    /// borrowed, which blocks reads until the 2 MiB/s refill repays it.
    pub fn charge_read(&mut self, now: Millis, bytes: usize) {
        self.read_bytes.take(now, bytes as f64);
    }

    fn roll_windows(&mut self, now: Millis) {
        let second = now.0 / 1000;
        let elapsed = second
            .saturating_sub(self.window_second)
            .min(RATE_WINDOWS as u64) as usize;
        if elapsed > 0 {
            self.windows.rotate_left(elapsed);
            for slot in &mut self.windows[RATE_WINDOWS - elapsed..] {
                *slot = 0;
            }
            self.window_second = second;
        }
    }

    fn count_written(&mut self, now: Millis, bytes: usize) {
        self.roll_windows(now);
        self.windows[RATE_WINDOWS - 1] += bytes as u64;
    }

    /// Average write rate over the last [`RATE_WINDOWS`] whole seconds
    /// (the current, partial second excluded), in bytes per second.
    pub fn sustained_write_rate(&mut self, now: Millis) -> f64 {
        self.roll_windows(now);
        let whole = &self.windows[..RATE_WINDOWS - 1];
        whole.iter().sum::<u64>() as f64 / whole.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn writes_are_capped_at_a_thousand_records_a_second_and_recover() {
        let mut traffic = ShardTraffic::new(Millis(0), MIB);
        let admitted = (0..1500)
            .filter(|_| traffic.admit_write(Millis(0), 10, true))
            .count();
        assert_eq!(admitted, 1000);
        let after_half_second = (0..1000)
            .filter(|_| traffic.admit_write(Millis(500), 10, true))
            .count();
        assert_eq!(
            after_half_second, 500,
            "half a second refills half the records"
        );
    }

    #[test]
    fn writes_are_capped_at_one_mib_a_second() {
        let mut traffic = ShardTraffic::new(Millis(0), MIB);
        assert!(traffic.admit_write(Millis(0), MIB, true));
        assert!(!traffic.admit_write(Millis(0), 1, true));
        assert!(
            traffic.admit_write(Millis(1000), MIB, true),
            "a second later the bucket is full again"
        );
    }

    #[test]
    fn limits_are_not_enforced_unless_asked() {
        let mut traffic = ShardTraffic::new(Millis(0), MIB);
        assert!((0..5000).all(|_| traffic.admit_write(Millis(0), MIB, false)));
    }

    #[test]
    fn reads_are_five_calls_a_second_with_a_follow_on_throttle() {
        let mut traffic = ShardTraffic::new(Millis(0), MIB);
        assert_eq!((0..10).filter(|_| traffic.admit_read(Millis(0))).count(), 5);
        // A 10 MiB read borrows 8 MiB: reads wait four seconds to repay it.
        let mut traffic = ShardTraffic::new(Millis(0), MIB);
        assert!(traffic.admit_read(Millis(0)));
        traffic.charge_read(Millis(0), 10 * MIB);
        assert!(!traffic.admit_read(Millis(3900)));
        assert!(traffic.admit_read(Millis(4000)));
    }

    #[test]
    fn sustained_rate_averages_whole_seconds() {
        let mut traffic = ShardTraffic::new(Millis(0), MIB);
        for second in 0..10u64 {
            traffic.admit_write(Millis(second * 1000), 900, false);
        }
        assert_eq!(traffic.sustained_write_rate(Millis(10_000)), 900.0);
        assert_eq!(
            traffic.sustained_write_rate(Millis(30_000)),
            0.0,
            "old windows age out"
        );
    }
}
