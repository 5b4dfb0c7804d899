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

/// Shard directories under the logs root, of every stream.
fn count_shard_dirs(logs: &std::path::Path) -> usize {
    std::fs::read_dir(logs).map_or(0, |streams| {
        streams
            .filter_map(|s| std::fs::read_dir(s.ok()?.path()).ok())
            .map(Iterator::count)
            .sum()
    })
}

/// Polls `ready` every millisecond, for at most 30 s.
fn wait_for(what: &str, ready: &dyn Fn() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < give_up, "{what} never happened");
        std::thread::sleep(Duration::from_millis(1));
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
    let shard_dirs = || count_shard_dirs(&logs);
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

/// kill -9 while an UpdateShardCount makes its children's logs, before the
/// stream's row names them: after the restart the stream's shard
/// directories are exactly the shards it lists, and it can be resharded
/// again (the children's indexes are free).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_a_reshard_killed_midway_are_removed_at_restart() {
    const SHARDS: i32 = 2000;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let shard_dirs = || count_shard_dirs(&logs);
    let mut riffle = Riffle::start_in(dir.path(), &[]);
    riffle.create_stream("wide", SHARDS).await;
    let before = shard_dirs();
    assert_eq!(before, SHARDS as usize);
    let client = riffle.client.clone();
    let reshard = tokio::spawn(async move {
        client
            .update_shard_count()
            .stream_name("wide")
            .target_shard_count(2 * SHARDS)
            .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
            .send()
            .await
    });
    wait_for("the reshard's first child log", &|| shard_dirs() > before);
    riffle.kill9();
    let _ = reshard.await;
    let at_kill = shard_dirs();
    assert!(
        at_kill < before + 2 * SHARDS as usize,
        "the kill came after the reshard had made all its children ({at_kill} directories), so nothing was interrupted"
    );

    let riffle = Riffle::start_in(dir.path(), &[]);
    let listed = |riffle: &Riffle| {
        let client = riffle.client.clone();
        async move {
            client
                .list_shards()
                .stream_name("wide")
                .max_results(10_000)
                .send()
                .await
                .unwrap()
                .shards
                .unwrap_or_default()
                .len()
        }
    };
    assert_eq!(
        listed(&riffle).await,
        SHARDS as usize,
        "the reshard never happened"
    );
    assert_eq!(
        shard_dirs(),
        SHARDS as usize,
        "its children's logs are gone"
    );
    riffle
        .client
        .split_shard()
        .stream_name("wide")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("1000")
        .send()
        .await
        .unwrap();
    riffle.wait_active("wide").await;
    assert_eq!(listed(&riffle).await, SHARDS as usize + 2);
    assert_eq!(shard_dirs(), SHARDS as usize + 2);
}

/// The disk fills up while the shard's journaled batches wait in memory for
/// their segment (write-behind): writing them out fails, the store refuses
/// further writes instead of acknowledging what it cannot keep, and a
/// restart with room again brings back every acknowledged record, with its
/// sequence number, from the journal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_write_behind_stops_writes_and_loses_no_acknowledged_record() {
    let filled = DiskFiller {
        // The segment reaches it; the journal (retired every second) does not.
        file_limit: 4 << 20,
        shards: 1,
        // Most of the segment at once, in place (not journaled)...
        big_batches: 3,
        // ...then journaled batches, paced so the journal stays small.
        small_batch: 10,
        small_record: 1024,
        pace: Duration::from_millis(10),
    }
    .fill()
    .await;
    assert!(
        filled.acknowledged.len() > 3 * 10,
        "journaled batches were acknowledged before the disk filled"
    );
    filled.assert_refused("writing journaled batches to their segment failed");
    filled.assert_writes_stay_refused().await;
    filled.assert_reads_answer_with_acknowledged_records().await;
    filled.restart_with_room().await;
}

/// The journal's file fills up first (sixteen shards' batches go to one
/// journal, each to its own segment): the round fails, the store refuses
/// writes, and a restart brings back every acknowledged record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_journal_stops_writes_and_loses_no_acknowledged_record() {
    let filled = DiskFiller {
        file_limit: 4 << 20,
        shards: 16,
        big_batches: 0,
        // About 17 KB a shard: journaled.
        small_batch: 500,
        small_record: 512,
        pace: Duration::ZERO,
    }
    .fill()
    .await;
    filled.assert_refused("journal write or flush failed");
    filled.assert_writes_stay_refused().await;
    filled.assert_reads_answer_with_acknowledged_records().await;
    filled.restart_with_room().await;
}

/// A batch written in place that does not fit fails on its own: a failed
/// `pwrite`, unlike a failed sync, leaves the page cache telling the truth,
/// so the shard goes on taking batches that fit, and a restart (which drops
/// the half-written batch as a torn tail) keeps every acknowledged one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_does_not_fit_on_the_disk_fails_alone() {
    let mut filled = DiskFiller {
        file_limit: 4 << 20,
        shards: 1,
        big_batches: 10,
        small_batch: 0,
        small_record: 0,
        pace: Duration::ZERO,
    }
    .fill()
    .await;
    filled.assert_refused("append failed");
    let small = b"small enough".to_vec();
    let out = filled
        .riffle
        .client
        .put_record()
        .stream_name(DiskFiller::STREAM)
        .partition_key("key")
        .data(Blob::new(small.clone()))
        .send()
        .await
        .expect("a record that fits is accepted");
    filled.sent.insert(small.clone());
    filled.acknowledged.push((
        small,
        out.shard_id().to_owned(),
        out.sequence_number().to_owned(),
    ));
    filled.assert_reads_answer_with_acknowledged_records().await;
    filled.restart_with_room().await;
}

/// Loads a server whose files may not grow past `file_limit` until it
/// refuses a record.
struct DiskFiller {
    file_limit: u64,
    shards: i32,
    /// First, this many batches of ten 100 KiB records: over 32 KiB, so
    /// written to their segment in place rather than journaled.
    big_batches: usize,
    /// Then batches of `small_batch` records of `small_record` bytes
    /// (journaled if a shard's part is 32 KiB or less), `pace` apart.
    small_batch: usize,
    small_record: usize,
    pace: Duration,
}

/// A server that has refused a record for lack of room.
struct Filled {
    riffle: Riffle,
    dir: tempfile::TempDir,
    sent: HashSet<Vec<u8>>,
    /// In acknowledgement order: data, shard and sequence number.
    acknowledged: Vec<(Vec<u8>, String, String)>,
    /// What the first refused record (or request) was answered.
    refused: String,
}

impl DiskFiller {
    const STREAM: &str = "full";
    /// Bounds the load if the disk never fills.
    const BATCHES_MAX: usize = 1000;

    async fn fill(self) -> Filled {
        let dir = tempfile::tempdir().unwrap();
        let riffle = Riffle::start_with_file_size_limit(dir.path(), self.file_limit);
        riffle.create_stream(Self::STREAM, self.shards).await;
        let mut sent = HashSet::new();
        let mut acknowledged = Vec::new();
        for batch in 0..Self::BATCHES_MAX {
            let (count, size) = if batch < self.big_batches {
                (10, 100 << 10)
            } else {
                (self.small_batch, self.small_record)
            };
            let payloads: Vec<Vec<u8>> = (0..count)
                .map(|i| {
                    let mut data = format!("{batch}:{i}:").into_bytes();
                    data.resize(size, b'.');
                    data
                })
                .collect();
            sent.extend(payloads.iter().cloned());
            let entries = payloads
                .iter()
                .map(|data| {
                    PutRecordsRequestEntry::builder()
                        // Spread over the shards.
                        .partition_key(String::from_utf8_lossy(&data[..data.len().min(12)]))
                        .data(Blob::new(data.clone()))
                        .build()
                        .unwrap()
                })
                .collect();
            let result = riffle
                .client
                .put_records()
                .stream_name(Self::STREAM)
                .set_records(Some(entries))
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                Err(err) => {
                    return self.filled(riffle, dir, sent, acknowledged, format!("{err:?}"));
                }
            };
            let mut refused = None;
            for (data, entry) in payloads.iter().zip(out.records()) {
                match (
                    entry.shard_id(),
                    entry.sequence_number(),
                    entry.error_code(),
                ) {
                    (Some(shard), Some(sequence), None) => {
                        acknowledged.push((data.clone(), shard.to_owned(), sequence.to_owned()))
                    }
                    (_, _, code) => {
                        refused.get_or_insert(format!("{code:?}: {:?}", entry.error_message()));
                    }
                }
            }
            if let Some(refused) = refused {
                return self.filled(riffle, dir, sent, acknowledged, refused);
            }
            tokio::time::sleep(self.pace).await;
        }
        panic!("the disk never filled up");
    }

    fn filled(
        &self,
        riffle: Riffle,
        dir: tempfile::TempDir,
        sent: HashSet<Vec<u8>>,
        acknowledged: Vec<(Vec<u8>, String, String)>,
        refused: String,
    ) -> Filled {
        assert!(
            acknowledged.len() >= 10,
            "records were acknowledged before the disk filled ({})",
            acknowledged.len()
        );
        Filled {
            riffle,
            dir,
            sent,
            acknowledged,
            refused,
        }
    }
}

impl Filled {
    /// The record was refused as AWS refuses a record it failed to store,
    /// and `cause` is what the server logged.
    fn assert_refused(&self, cause: &str) {
        assert!(self.refused.contains("InternalFailure"), "{}", self.refused);
        assert!(
            self.riffle.logged(cause),
            "the full disk showed as {cause:?}"
        );
    }

    async fn assert_writes_stay_refused(&self) {
        let (code, _) = aws_error(
            self.riffle
                .client
                .put_record()
                .stream_name(DiskFiller::STREAM)
                .partition_key("key")
                .data(Blob::new("after"))
                .send()
                .await,
        );
        assert_eq!(code, "InternalFailure", "writes stay refused");
    }

    /// Reads still answer, each shard with a prefix of its acknowledged
    /// records (what was never acknowledged is never visible).
    async fn assert_reads_answer_with_acknowledged_records(&self) {
        for shard in self.riffle.shard_ids(DiskFiller::STREAM).await {
            let acknowledged: Vec<(&[u8], &str)> = self
                .acknowledged
                .iter()
                .filter(|(_, s, _)| *s == shard)
                .map(|(data, _, sequence)| (data.as_slice(), sequence.as_str()))
                .collect();
            let records = self.riffle.read_all(DiskFiller::STREAM, &shard).await;
            let readable: Vec<(&[u8], &str)> = records
                .iter()
                .map(|r| (r.data().as_ref(), r.sequence_number()))
                .collect();
            assert!(
                acknowledged.starts_with(&readable),
                "{shard}: {} readable, not a prefix of the {} acknowledged",
                readable.len(),
                acknowledged.len()
            );
        }
    }

    /// Leaves the server refusing for two checkpoint intervals (nothing may
    /// be retired that is not in a segment), kills it, restarts it without
    /// the limit, and checks that every acknowledged record is back once,
    /// with its sequence number, and that writes are accepted again.
    async fn restart_with_room(self) {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let Filled {
            riffle,
            dir,
            sent,
            acknowledged,
            ..
        } = self;
        drop(riffle);
        let riffle = Riffle::start_in(dir.path(), &[]);
        let mut found: HashMap<Vec<u8>, (String, String)> = HashMap::new();
        for shard in riffle.shard_ids(DiskFiller::STREAM).await {
            let records = riffle.read_all(DiskFiller::STREAM, &shard).await;
            assert!(
                records
                    .windows(2)
                    .all(|w| w[0].sequence_number() < w[1].sequence_number()),
                "sequence numbers increase"
            );
            for r in &records {
                let data = r.data().as_ref().to_vec();
                assert!(sent.contains(&data), "a record that was never sent");
                let previous = found.insert(data, (shard.clone(), r.sequence_number().to_owned()));
                assert!(previous.is_none(), "a record appears twice");
            }
        }
        for (i, (data, shard, sequence)) in acknowledged.iter().enumerate() {
            assert_eq!(
                found.get(data),
                Some(&(shard.clone(), sequence.clone())),
                "acknowledged record {i} of {} must survive with its sequence number",
                acknowledged.len()
            );
        }
        riffle
            .client
            .put_record()
            .stream_name(DiskFiller::STREAM)
            .partition_key("key")
            .data(Blob::new("with room again"))
            .send()
            .await
            .expect("writes are accepted again after the restart");
    }
}
