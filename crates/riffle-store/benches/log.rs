//! Micro-benchmarks of the local log's hot paths, without fsync (so they
//! measure framing, CRC and indexing rather than the disk): appending a
//! PutRecords-sized batch, reading a page from the start, and a reader at
//! the tip reading each small batch as it is appended, with the tail cache
//! and without.
//!
//!     cargo bench -p riffle-store --bench log

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riffle_model::Millis;
use riffle_store::local::{LocalConfig, LocalLogStore};
use riffle_store::{Durability, LogStore, NewRecord, ShardKey};

fn store() -> (
    tempfile::TempDir,
    std::sync::Arc<dyn riffle_store::ShardLog>,
) {
    store_with(LocalConfig::default())
}

fn store_with(
    config: LocalConfig,
) -> (
    tempfile::TempDir,
    std::sync::Arc<dyn riffle_store::ShardLog>,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalLogStore::open(
        dir.path(),
        LocalConfig {
            durability: Durability::None,
            ..config
        },
    )
    .unwrap();
    let log = store
        .open_shard(ShardKey {
            stream_uid: 1,
            shard_index: 0,
        })
        .unwrap();
    (dir, log)
}

fn append(c: &mut Criterion) {
    let (_dir, log) = store();
    let data = vec![b'x'; 100];
    let keys: Vec<String> = (0..500).map(|i| format!("key-{i}")).collect();
    let batch: Vec<NewRecord<'_>> = keys
        .iter()
        .map(|key| NewRecord {
            partition_key: key,
            data: &data,
        })
        .collect();
    let mut group = c.benchmark_group("log");
    group.throughput(Throughput::Elements(500));
    group.bench_function("append_500x100B", |b| {
        b.iter(|| {
            log.append(black_box(&batch), Millis(1_795_000_000_000))
                .unwrap()
        })
    });
    group.finish();
}

fn read(c: &mut Criterion) {
    let (_dir, log) = store();
    let data = vec![b'x'; 100];
    let batch: Vec<NewRecord<'_>> = (0..500)
        .map(|_| NewRecord {
            partition_key: "key",
            data: &data,
        })
        .collect();
    for _ in 0..40 {
        log.append(&batch, Millis(1_795_000_000_000)).unwrap();
    }
    log.sync().unwrap();
    let mut group = c.benchmark_group("log");
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("read_10000x100B", |b| {
        b.iter(|| {
            let records = log.read(black_box(0), 10_000, 10 << 20, Millis(0)).unwrap();
            assert_eq!(records.len(), 10_000);
        })
    });
    group.finish();
}

fn read_at_tip(c: &mut Criterion) {
    let mut group = c.benchmark_group("log");
    group.throughput(Throughput::Elements(1));
    for (name, tail_cache_bytes) in [
        (
            "append_then_read_at_tip_cached",
            LocalConfig::default().tail_cache_bytes,
        ),
        ("append_then_read_at_tip_uncached", 0),
    ] {
        let (_dir, log) = store_with(LocalConfig {
            tail_cache_bytes,
            ..LocalConfig::default()
        });
        let data = vec![b'x'; 100];
        let one = [NewRecord {
            partition_key: "key",
            data: &data,
        }];
        // The reader reaches the tip once, so the shard counts as tailed.
        log.read(0, 1, 1 << 20, Millis(0)).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                let appended = log.append(&one, Millis(1_795_000_000_000)).unwrap();
                let records = log
                    .read(black_box(appended.first_offset), 100, 1 << 20, Millis(0))
                    .unwrap();
                assert_eq!(records.len(), 1);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, append, read, read_at_tip);
criterion_main!(benches);
