//! Micro-benchmarks of the codec hot paths: decoding and checking a
//! PutRecords body (the hot one-pass path and the general checker), in JSON
//! and CBOR, routing a request's partition keys, rendering sequence numbers,
//! and framing an event.
//!
//!     cargo bench -p riffle-wire --bench codec

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use riffle_model::{HashKey, SequenceNumber, SequenceTexts};
use riffle_wire::Format;

/// A PutRecords body of `records` records of `bytes` bytes, as JSON.
fn put_records_json(records: usize, bytes: usize) -> Vec<u8> {
    let data = STANDARD.encode(vec![b'x'; bytes]);
    let entries: Vec<String> = (0..records)
        .map(|i| format!(r#"{{"PartitionKey":"key-{i}","Data":"{data}"}}"#))
        .collect();
    format!(
        r#"{{"StreamName":"bench","Records":[{}]}}"#,
        entries.join(",")
    )
    .into_bytes()
}

/// The same body as CBOR, with the data as byte strings.
fn put_records_cbor(records: usize, bytes: usize) -> Vec<u8> {
    use ciborium::Value;
    let entries = (0..records)
        .map(|i| {
            Value::Map(vec![
                (
                    Value::Text("PartitionKey".into()),
                    Value::Text(format!("key-{i}")),
                ),
                (Value::Text("Data".into()), Value::Bytes(vec![b'x'; bytes])),
            ])
        })
        .collect();
    let body = Value::Map(vec![
        (
            Value::Text("StreamName".into()),
            Value::Text("bench".into()),
        ),
        (Value::Text("Records".into()), Value::Array(entries)),
    ]);
    let mut out = Vec::new();
    ciborium::ser::into_writer(&body, &mut out).unwrap();
    out
}

fn put_records(c: &mut Criterion) {
    let mut group = c.benchmark_group("put_records_500x100B");
    group.throughput(Throughput::Elements(500));
    let json = put_records_json(500, 100);
    let cbor = put_records_cbor(500, 100);
    group.bench_function("json_hot_decode_and_check", |b| {
        b.iter(|| {
            assert!(riffle_wire::hot::accepts(
                "PutRecords",
                black_box(&json),
                Format::Json
            ))
        })
    });
    group.bench_function("json_checker", |b| {
        b.iter(|| {
            riffle_wire::checker::check("PutRecords", black_box(&json), Format::Json).unwrap()
        })
    });
    group.bench_function("cbor_hot_decode_and_check", |b| {
        b.iter(|| {
            assert!(riffle_wire::hot::accepts(
                "PutRecords",
                black_box(&cbor),
                Format::Cbor
            ))
        })
    });
    group.bench_function("cbor_checker", |b| {
        b.iter(|| {
            riffle_wire::checker::check("PutRecords", black_box(&cbor), Format::Cbor).unwrap()
        })
    });
    group.finish();
}

/// The MD5 routing of a 500-record request's partition keys, one at a time
/// and eight at a time.
fn routing(c: &mut Criterion) {
    let keys: Vec<String> = (0..500).map(|i| format!("partition-key-{i}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut group = c.benchmark_group("hash_500_partition_keys");
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("one_at_a_time", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| HashKey::of_partition_key(black_box(k)))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("together", |b| {
        let mut out = Vec::with_capacity(keys.len());
        b.iter(|| {
            out.clear();
            HashKey::of_partition_keys(black_box(&keys), &mut out);
        })
    });
    group.finish();
}

fn rendering(c: &mut Criterion) {
    let sequence = SequenceNumber {
        epoch: 1_795_000_000_000,
        shard_index: 3,
        offset: 123_456,
    };
    c.bench_function("sequence_number_text", |b| {
        b.iter(|| black_box(black_box(sequence).text()))
    });
    // A response's worth from one shard, rendered in a row.
    c.bench_function("sequence_number_texts_500", |b| {
        b.iter(|| {
            let mut texts = SequenceTexts::default();
            for offset in 0..500 {
                black_box(texts.text(&SequenceNumber {
                    offset: sequence.offset + offset,
                    ..sequence
                }));
            }
        })
    });
    // A PutRecords response's worth: records in request order, so their
    // shards interleave.
    c.bench_function("sequence_number_texts_500_over_4_shards", |b| {
        b.iter(|| {
            let mut texts = SequenceTexts::default();
            for offset in 0..500u64 {
                black_box(texts.text(&SequenceNumber {
                    shard_index: (offset.wrapping_mul(2_654_435_761) >> 7) as u32 % 4,
                    offset: sequence.offset + offset,
                    ..sequence
                }));
            }
        })
    });
    let payload = vec![b'x'; 64 * 1024];
    c.bench_function("event_frame_64KiB", |b| {
        b.iter(|| {
            riffle_wire::eventstream::event(
                "SubscribeToShardEvent",
                "application/x-amz-json-1.1",
                black_box(&payload),
            )
        })
    });
}

criterion_group!(benches, put_records, routing, rendering);
criterion_main!(benches);
