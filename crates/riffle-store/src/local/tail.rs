//! The newest batches of a shard, kept in memory while someone reads at its tip.
//!
//! Subscribers and GetRecords pollers that keep up read each batch just
//! after it is committed. Each of them used to read it back from the page
//! cache, check its CRC and slice it: with 300 subscribers on one shard
//! that was 300 `pread`s and checksums of every batch, about 7% of the
//! server's time. A shard now keeps its newest batches, as the bytes it
//! wrote, while a reader has reached its tip recently; readers get shared
//! slices of them. A shard nobody tails keeps nothing, and every shard
//! together keeps at most the store's budget.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;

use super::batch::BatchHeader;

/// A shard keeps at most this much: a second of a shard's full write rate.
const SHARD_BYTES_MAX: usize = 1 << 20;

/// A shard stops caching this long after a reader last reached its tip.
/// (Consumers that keep up poll several times a second, or are pushed to.)
const WARM_FOR_MS: u64 = 10_000;

/// What all of a store's tail caches may hold together.
#[derive(Debug)]
pub(crate) struct TailBudget {
    limit: usize,
    used: AtomicUsize,
}

impl TailBudget {
    pub(crate) fn new(limit: usize) -> Arc<TailBudget> {
        Arc::new(TailBudget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    fn try_take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + bytes <= self.limit).then_some(used + bytes)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// When a reader last reached a shard's tip, read and written without the
/// shard's lock (readers mark it after they have let go of it).
#[derive(Debug, Default)]
pub(crate) struct TipReads(AtomicU64);

impl TipReads {
    /// A reader has everything committed so far.
    pub(crate) fn mark(&self) {
        self.0.store(now_ms() + 1, Ordering::Relaxed);
    }

    fn warm(&self) -> bool {
        match self.0.load(Ordering::Relaxed) {
            0 => false,
            // Another thread may have marked a later time than this one read.
            marked => (now_ms() + 1).saturating_sub(marked) < WARM_FOR_MS,
        }
    }
}

/// Milliseconds since the first call: a clock only for [`TipReads`].
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// A shard's newest batches, contiguous and ending where the log ends: every
/// append is either added or empties the cache.
#[derive(Debug)]
pub(crate) struct TailCache {
    budget: Arc<TailBudget>,
    batches: VecDeque<(BatchHeader, Bytes)>,
    bytes: usize,
}

impl TailCache {
    pub(crate) fn new(budget: Arc<TailBudget>) -> TailCache {
        TailCache {
            budget,
            batches: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Takes the batch just appended (`encoded`, as written) if the shard
    /// is being tailed and the budget allows; otherwise empties the cache,
    /// which then starts again at a later append.
    pub(crate) fn appended(&mut self, tip: &TipReads, header: &BatchHeader, encoded: &[u8]) {
        if !tip.warm() || encoded.len() > SHARD_BYTES_MAX {
            self.clear();
            return;
        }
        while self.bytes + encoded.len() > SHARD_BYTES_MAX {
            self.pop_oldest();
        }
        if !self.budget.try_take(encoded.len()) {
            self.clear();
            return;
        }
        self.bytes += encoded.len();
        self.batches
            .push_back((*header, Bytes::copy_from_slice(encoded)));
    }

    /// Empties the cache of a shard nobody has tailed for a while.
    pub(crate) fn clear_if_cold(&mut self, tip: &TipReads) {
        if !tip.warm() {
            self.clear();
        }
    }

    /// The cached batches that hold offsets from `from` up to `end`, if the
    /// cache reaches back to `from`. Shared slices: nothing is copied.
    pub(crate) fn batches_from(&self, from: u64, end: u64) -> Option<Vec<(BatchHeader, Bytes)>> {
        let (first, _) = self.batches.front()?;
        if from < first.base_offset {
            return None;
        }
        let skip = self
            .batches
            .partition_point(|(h, _)| h.end_offset() <= from);
        Some(
            self.batches
                .iter()
                .skip(skip)
                .take_while(|(h, _)| h.base_offset < end)
                .cloned()
                .collect(),
        )
    }

    fn pop_oldest(&mut self) {
        if let Some((_, bytes)) = self.batches.pop_front() {
            self.bytes -= bytes.len();
            self.budget.give_back(bytes.len());
        }
    }

    fn clear(&mut self) {
        // Every append of a shard nobody tails comes here: keep it off the
        // budget's shared counter.
        if self.batches.is_empty() {
            return;
        }
        self.budget.give_back(self.bytes);
        self.batches.clear();
        self.bytes = 0;
    }
}

impl Drop for TailCache {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::batch;
    use crate::record::NewRecord;
    use riffle_model::Millis;

    fn encoded(base: u64, count: usize, data_len: usize) -> (BatchHeader, Vec<u8>) {
        let data = vec![7u8; data_len];
        let records: Vec<_> = (0..count)
            .map(|_| NewRecord {
                partition_key: "k",
                data: &data,
            })
            .collect();
        let mut buf = Vec::new();
        batch::encode(&records, base, Millis(1), &mut buf);
        (BatchHeader::parse(&buf).unwrap(), buf)
    }

    #[test]
    fn a_cold_shard_keeps_nothing_and_a_warm_one_its_newest_batches() {
        let budget = TailBudget::new(usize::MAX);
        let tip = TipReads::default();
        let mut cache = TailCache::new(budget.clone());
        let (h0, b0) = encoded(0, 2, 10);
        cache.appended(&tip, &h0, &b0);
        assert!(cache.batches_from(0, 2).is_none(), "nobody tails it yet");
        tip.mark();
        let (h1, b1) = encoded(2, 3, 10);
        let (h2, b2) = encoded(5, 1, 10);
        cache.appended(&tip, &h1, &b1);
        cache.appended(&tip, &h2, &b2);
        assert!(cache.batches_from(1, 6).is_none(), "offset 1 is not cached");
        let bases = |from, end| -> Vec<u64> {
            cache
                .batches_from(from, end)
                .unwrap()
                .iter()
                .map(|(h, _)| h.base_offset)
                .collect()
        };
        assert_eq!(bases(2, 6), [2, 5]);
        assert_eq!(bases(4, 6), [2, 5], "from inside a batch");
        assert_eq!(bases(3, 5), [2], "only up to the end asked for");
        assert_eq!(bases(6, 6), Vec::<u64>::new());
        assert_eq!(budget.used(), b1.len() + b2.len());
        drop(cache);
        assert_eq!(budget.used(), 0, "a dropped cache returns its budget");
    }

    #[test]
    fn the_shard_and_store_limits_hold() {
        let budget = TailBudget::new(SHARD_BYTES_MAX + SHARD_BYTES_MAX / 2);
        let tip = TipReads::default();
        tip.mark();
        let mut a = TailCache::new(budget.clone());
        let mut b = TailCache::new(budget.clone());
        let mut base = 0;
        for _ in 0..40 {
            let (h, buf) = encoded(base, 1, 64 * 1024);
            base += 1;
            a.appended(&tip, &h, &buf);
            assert!(a.bytes <= SHARD_BYTES_MAX);
        }
        assert_eq!(
            a.batches.back().unwrap().0.base_offset,
            base - 1,
            "the newest batch is kept, the oldest evicted"
        );
        let held = budget.used();
        assert_eq!(held, a.bytes);
        // The second shard can only get what is left of the budget; past
        // that it keeps nothing rather than a gap.
        for _ in 0..20 {
            let (h, buf) = encoded(base, 1, 64 * 1024);
            base += 1;
            b.appended(&tip, &h, &buf);
            assert!(budget.used() <= SHARD_BYTES_MAX + SHARD_BYTES_MAX / 2);
        }
        let b_first = b.batches.front().map(|(h, _)| h.base_offset);
        if let Some(first) = b_first {
            assert_eq!(
                b.batches.back().unwrap().0.end_offset() - first,
                b.batches.len() as u64,
                "contiguous"
            );
        }
        a.clear();
        b.clear();
        assert_eq!(budget.used(), 0);
    }
}
