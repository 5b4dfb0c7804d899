//! Acknowledged data survives kill -9.
//!
//! Concurrent producers write records whose payload names the producer and a
//! counter. The server is killed with SIGKILL mid-load and restarted on the
//! same directory. Every acknowledged record must be there exactly once, with
//! the sequence number it was acknowledged with; each producer's records must
//! be in order; nothing may appear that was never sent. The same holds when
//! the disk fills up.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use crate::support::{Riffle, aws_error, client_for};

const PRODUCERS: usize = 8;
/// Each producer stops after this many records even if the kill is late.
const RECORDS_PER_PRODUCER_MAX: usize = 20_000;
const LOAD_BEFORE_KILL: Duration = Duration::from_millis(1500);

#[derive(Default)]
struct Ledger {
    /// payload → (shard, sequence number) for every acknowledged record.
    acknowledged: HashMap<String, (String, String)>,
    /// Every payload ever sent, acknowledged or not.
    sent: HashSet<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..2 {
        let mut riffle = Riffle::start_in(dir.path(), &[]);
        if round == 0 {
            riffle.create_stream("crash", 4).await;
        }
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let deadline = Instant::now() + LOAD_BEFORE_KILL * 4;
        let mut producers = Vec::new();
        for producer in 0..PRODUCERS {
            let client = client_for(riffle.addr);
            let ledger = ledger.clone();
            producers.push(tokio::spawn(async move {
                for i in 0..RECORDS_PER_PRODUCER_MAX {
                    if Instant::now() > deadline {
                        break;
                    }
                    let key = format!("round{round}-producer{producer}");
                    // Alternate single puts and small batches.
                    let payloads: Vec<String> = if i % 2 == 0 {
                        vec![format!("{key}:{i}:0")]
                    } else {
                        (0..5).map(|j| format!("{key}:{i}:{j}")).collect()
                    };
                    ledger.lock().unwrap().sent.extend(payloads.iter().cloned());
                    let acked: Vec<(String, String, String)> = if payloads.len() == 1 {
                        match client
                            .put_record()
                            .stream_name("crash")
                            .partition_key(&key)
                            .data(Blob::new(payloads[0].clone()))
                            .send()
                            .await
                        {
                            Ok(out) => vec![(
                                payloads[0].clone(),
                                out.shard_id().to_owned(),
                                out.sequence_number().to_owned(),
                            )],
                            Err(_) => break,
                        }
                    } else {
                        let entries = payloads
                            .iter()
                            .map(|p| {
                                PutRecordsRequestEntry::builder()
                                    .partition_key(&key)
                                    .data(Blob::new(p.clone()))
                                    .build()
                                    .unwrap()
                            })
                            .collect();
                        match client
                            .put_records()
                            .stream_name("crash")
                            .set_records(Some(entries))
                            .send()
                            .await
                        {
                            Ok(out) => payloads
                                .iter()
                                .zip(out.records())
                                .filter_map(|(p, r)| {
                                    Some((
                                        p.clone(),
                                        r.shard_id()?.to_owned(),
                                        r.sequence_number()?.to_owned(),
                                    ))
                                })
                                .collect(),
                            Err(_) => break,
                        }
                    };
                    let mut ledger = ledger.lock().unwrap();
                    for (payload, shard, sequence) in acked {
                        ledger.acknowledged.insert(payload, (shard, sequence));
                    }
                }
            }));
        }
        tokio::time::sleep(LOAD_BEFORE_KILL).await;
        riffle.kill9();
        for producer in producers {
            producer.await.unwrap();
        }
        let ledger = Arc::try_unwrap(ledger).ok().unwrap().into_inner().unwrap();
        assert!(
            ledger.acknowledged.len() > 100,
            "the load ran (acknowledged {})",
            ledger.acknowledged.len()
        );

        let riffle = Riffle::start_in(dir.path(), &[]);
        let mut found: HashMap<String, (String, String)> = HashMap::new();
        for shard in riffle.shard_ids("crash").await {
            let records = riffle.read_all("crash", &shard).await;
            assert!(
                records
                    .windows(2)
                    .all(|w| w[0].sequence_number() < w[1].sequence_number()),
                "sequence numbers increase"
            );
            let mut last_counter: HashMap<String, (usize, usize)> = HashMap::new();
            for record in records {
                let payload = String::from_utf8(record.data().as_ref().to_vec())
                    .expect("no half-written record");
                let mut parts = payload.rsplitn(3, ':');
                let (j, i, key) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                );
                assert_eq!(
                    record.partition_key(),
                    key,
                    "payload and key belong together"
                );
                let position = (i.parse::<usize>().unwrap(), j.parse::<usize>().unwrap());
                if let Some(previous) = last_counter.insert(key.to_owned(), position) {
                    assert!(previous < position, "{key}: {previous:?} then {position:?}");
                }
                if key.starts_with(&format!("round{round}-")) {
                    assert!(ledger.sent.contains(&payload), "{payload} was never sent");
                }
                let previous = found.insert(
                    payload.clone(),
                    (shard.clone(), record.sequence_number().to_owned()),
                );
                assert!(previous.is_none(), "{payload} appears twice");
            }
        }
        for (payload, acked) in &ledger.acknowledged {
            assert_eq!(
                found.get(payload),
                Some(acked),
                "acknowledged record {payload} must survive with its sequence number"
            );
        }
        drop(riffle);
    }
}

/// kill -9 while a CreateStream makes its shards' files, then while a
/// DeleteStream removes them: after each restart every stream directory on
/// disk belongs to a stream the server lists (none is left behind for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_a_create_or_delete_killed_midway_are_removed_at_restart() {
    const SHARDS: i32 = 3000;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let stream_dirs = || std::fs::read_dir(&logs).map_or(0, Iterator::count);
    let shard_dirs = || {
        std::fs::read_dir(&logs).map_or(0, |streams| {
            streams
                .filter_map(|s| std::fs::read_dir(s.ok()?.path()).ok())
                .map(Iterator::count)
                .sum::<usize>()
        })
    };
    let wait_for = |what: &str, ready: &dyn Fn() -> bool| {
        let give_up = Instant::now() + Duration::from_secs(30);
        while !ready() {
            assert!(Instant::now() < give_up, "{what} never happened");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    let listed = |riffle: &Riffle| {
        let client = riffle.client.clone();
        async move {
            client
                .list_streams()
                .send()
                .await
                .unwrap()
                .stream_names
                .len()
        }
    };

    let mut riffle = Riffle::start_in(dir.path(), &[]);
    let client = riffle.client.clone();
    let create = tokio::spawn(async move {
        client
            .create_stream()
            .stream_name("big")
            .shard_count(SHARDS)
            .send()
            .await
    });
    wait_for("the create's first file", &|| stream_dirs() > 0);
    riffle.kill9();
    let _ = create.await;
    let mut riffle = Riffle::start_in(dir.path(), &[]);
    assert_eq!(
        stream_dirs(),
        listed(&riffle).await,
        "after a create was killed"
    );

    riffle.create_stream("doomed", SHARDS).await;
    let before = shard_dirs();
    let client = riffle.client.clone();
    let delete =
        tokio::spawn(async move { client.delete_stream().stream_name("doomed").send().await });
    wait_for("the deletion's first removal", &|| shard_dirs() < before);
    riffle.kill9();
    let _ = delete.await;
    let riffle = Riffle::start_in(dir.path(), &[]);
    let streams = riffle
        .client
        .list_streams()
        .send()
        .await
        .unwrap()
        .stream_names;
    assert!(!streams.contains(&"doomed".to_owned()), "{streams:?}");
    assert_eq!(stream_dirs(), streams.len(), "after a deletion was killed");
}

/// The disk fills up while the shard's journaled batches wait in memory for
/// their segment (write-behind): writing them out fails, the store refuses
/// further writes instead of acknowledging what it cannot keep, and a
/// restart with room again brings back every acknowledged record, with its
/// sequence number, from the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_writes_and_loses_no_acknowledged_record() {
    /// No file may grow past this: the segment reaches it, the journal
    /// (retired every second) does not.
    const FILE_LIMIT: u64 = 4 << 20;
    /// Batches over 32 KiB are written in place, not journaled: these fill
    /// most of the segment quickly.
    const BIG_RECORD: usize = 100 << 10;
    const BIG_BATCHES: usize = 3;
    /// Journaled batches of this many 1 KiB records, paced so the journal
    /// stays far below the limit.
    const SMALL_BATCH: usize = 10;
    const SMALL_BATCHES_MAX: usize = 1000;

    let dir = tempfile::tempdir().unwrap();
    let riffle = Riffle::start_with_file_size_limit(dir.path(), FILE_LIMIT);
    riffle.create_stream("full", 1).await;
    let record = |batch: usize, i: usize, size: usize| {
        let mut data = format!("{batch}:{i}:").into_bytes();
        data.resize(size, b'.');
        data
    };
    let mut sent: HashSet<Vec<u8>> = HashSet::new();
    // In acknowledgement order, with the sequence number each was given.
    let mut acknowledged: Vec<(Vec<u8>, String)> = Vec::new();
    let mut refused = None;
    for batch in 0..BIG_BATCHES + SMALL_BATCHES_MAX {
        let (count, size) = if batch < BIG_BATCHES {
            (10, BIG_RECORD)
        } else {
            (SMALL_BATCH, 1024)
        };
        let payloads: Vec<Vec<u8>> = (0..count).map(|i| record(batch, i, size)).collect();
        sent.extend(payloads.iter().cloned());
        let entries = payloads
            .iter()
            .map(|data| {
                PutRecordsRequestEntry::builder()
                    .partition_key("key")
                    .data(Blob::new(data.clone()))
                    .build()
                    .unwrap()
            })
            .collect();
        let result = riffle
            .client
            .put_records()
            .stream_name("full")
            .set_records(Some(entries))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(err) => {
                refused = Some(format!("{err:?}"));
                break;
            }
        };
        for (data, entry) in payloads.iter().zip(out.records()) {
            match (entry.sequence_number(), entry.error_code()) {
                (Some(sequence), None) => acknowledged.push((data.clone(), sequence.to_owned())),
                (_, code) => refused = Some(format!("{code:?}: {:?}", entry.error_message())),
            }
        }
        if refused.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let refused = refused.expect("the disk filled up before the load's bound");
    assert!(refused.contains("InternalFailure"), "{refused}");
    assert!(
        riffle.logged("writing journaled batches to their segment failed"),
        "the write-behind, not some other write, met the full disk"
    );
    assert!(
        acknowledged.len() > BIG_BATCHES * 10 + SMALL_BATCH,
        "journaled batches were acknowledged before the disk filled ({})",
        acknowledged.len()
    );
    let (code, _) = aws_error(
        riffle
            .client
            .put_record()
            .stream_name("full")
            .partition_key("key")
            .data(Blob::new("after"))
            .send()
            .await,
    );
    assert_eq!(code, "InternalFailure", "writes stay refused");
    let shard = riffle.shard_ids("full").await.remove(0);
    let readable: Vec<(Vec<u8>, String)> = riffle
        .read_all("full", &shard)
        .await
        .iter()
        .map(|r| (r.data().as_ref().to_vec(), r.sequence_number().to_owned()))
        .collect();
    assert!(
        acknowledged.starts_with(&readable),
        "reads still answer, with acknowledged records only"
    );

    // Checkpoints come and go (one a second) while the operator makes room.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(riffle);
    let riffle = Riffle::start_in(dir.path(), &[]);
    let records = riffle.read_all("full", &shard).await;
    assert!(
        records
            .windows(2)
            .all(|w| w[0].sequence_number() < w[1].sequence_number()),
        "sequence numbers increase"
    );
    let mut found: HashMap<Vec<u8>, String> = HashMap::new();
    for r in &records {
        let data = r.data().as_ref().to_vec();
        assert!(sent.contains(&data), "a record that was never sent");
        let previous = found.insert(data, r.sequence_number().to_owned());
        assert!(previous.is_none(), "a record appears twice");
    }
    for (i, (data, sequence)) in acknowledged.iter().enumerate() {
        assert_eq!(
            found.get(data),
            Some(sequence),
            "acknowledged record {i} of {} must survive with its sequence number",
            acknowledged.len()
        );
    }
    riffle
        .client
        .put_record()
        .stream_name("full")
        .partition_key("key")
        .data(Blob::new("with room again"))
        .send()
        .await
        .expect("writes are accepted again after the restart");
}
