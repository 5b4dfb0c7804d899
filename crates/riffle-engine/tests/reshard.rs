//! Resharding as a property: random splits, merges and shard-count updates
//! interleaved with puts. Afterwards the open shards tile the hash-key
//! space, and a reader that reads parents before children gets every record
//! exactly once, in order per partition key.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;
use riffle_engine::ops::create_stream::CreateStream;
use riffle_engine::ops::get_shard_iterator::IteratorStart;
use riffle_engine::ops::list_shards::ListShardsFrom;
use riffle_engine::ops::put_records::PutEntry;
use riffle_engine::{Clock, Engine, EngineConfig, StreamRef};
use riffle_model::{HashKeyRange, Millis, SequenceNumber, ShardId, StreamName};
use riffle_store::Durability;

#[derive(Clone, Debug)]
enum Step {
    Split { pick: usize, at: u64 },
    Merge { pick: usize },
    Update { toward: u32 },
    Put { keys: Vec<u8> },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (any::<usize>(), any::<u64>()).prop_map(|(pick, at)| Step::Split { pick, at }),
        any::<usize>().prop_map(|pick| Step::Merge { pick }),
        (1u32..12).prop_map(|toward| Step::Update { toward }),
        prop::collection::vec(0u8..12, 1..20).prop_map(|keys| Step::Put { keys }),
        prop::collection::vec(0u8..12, 1..20).prop_map(|keys| Step::Put { keys }),
    ]
}

fn stream() -> StreamRef {
    StreamRef::Name(StreamName::parse("lineage").unwrap())
}

/// Open shards as (id, start, end), sorted by start.
fn open_shards(engine: &Engine) -> Vec<(ShardId, u128, u128)> {
    let list = engine
        .list_shards(
            ListShardsFrom::Stream {
                stream: stream(),
                exclusive_start: None,
                filter: None,
            },
            10_000,
        )
        .unwrap();
    let mut open: Vec<_> = list
        .shards
        .iter()
        .filter(|s| s.ending_sequence.is_none())
        .map(|s| (s.id, s.hash_range.start, s.hash_range.end))
        .collect();
    open.sort_by_key(|(_, start, _)| *start);
    open
}

fn assert_tiles(open: &[(ShardId, u128, u128)]) {
    assert_eq!(
        open.first().map(|s| s.1),
        Some(0),
        "the first open shard starts at 0"
    );
    assert_eq!(
        open.last().map(|s| s.2),
        Some(u128::MAX),
        "the last open shard ends at 2^128 - 1"
    );
    for pair in open.windows(2) {
        assert_eq!(
            pair[0].2.checked_add(1),
            Some(pair[1].1),
            "open shards are contiguous: {open:?}"
        );
    }
}

/// A consumer that follows lineage as it goes: it reads a shard only once
/// all its parents are finished, and it reads between the writes, so a
/// record landing in a parent it already finished would be missed.
#[derive(Default)]
struct LineageReader {
    iterators: HashMap<ShardId, String>,
    finished: HashSet<ShardId>,
    /// The highest sequence number read from each finished shard.
    last_sequence: HashMap<ShardId, SequenceNumber>,
    per_key: BTreeMap<String, Vec<u32>>,
}

impl LineageReader {
    fn advance(&mut self, engine: &Engine) {
        loop {
            let shards = engine
                .list_shards(
                    ListShardsFrom::Stream {
                        stream: stream(),
                        exclusive_start: None,
                        filter: None,
                    },
                    10_000,
                )
                .unwrap()
                .shards;
            let mut progressed = false;
            for shard in &shards {
                let parents: Vec<ShardId> = shard
                    .parent
                    .into_iter()
                    .chain(shard.adjacent_parent)
                    .collect();
                if self.finished.contains(&shard.id)
                    || !parents.iter().all(|p| self.finished.contains(p))
                {
                    continue;
                }
                let floor = parents
                    .iter()
                    .filter_map(|p| self.last_sequence.get(p))
                    .max()
                    .copied();
                let mut iterator = match self.iterators.remove(&shard.id) {
                    Some(iterator) => iterator,
                    None => engine
                        .get_shard_iterator(
                            &stream(),
                            &shard.id.to_string(),
                            IteratorStart::TrimHorizon,
                        )
                        .unwrap(),
                };
                loop {
                    let page = engine.get_records(&iterator, 10_000).unwrap();
                    for record in &page.records {
                        assert!(
                            floor.is_none_or(|floor| record.sequence > floor),
                            "a child's numbers exceed its parents'"
                        );
                        let text = std::str::from_utf8(&record.data).unwrap();
                        let (key, n) = text.split_once(':').unwrap();
                        assert_eq!(std::str::from_utf8(&record.partition_key).unwrap(), key);
                        self.per_key
                            .entry(key.to_owned())
                            .or_default()
                            .push(n.parse().unwrap());
                        let last = self
                            .last_sequence
                            .entry(shard.id)
                            .or_insert(record.sequence);
                        *last = (*last).max(record.sequence);
                    }
                    match page.next_iterator {
                        Some(next) if !page.records.is_empty() => iterator = next,
                        Some(next) => {
                            // Caught up with an open shard; resume here next time.
                            self.iterators.insert(shard.id, next);
                            break;
                        }
                        None => {
                            let children: HashSet<_> =
                                page.child_shards.iter().map(|c| c.id).collect();
                            let expected: HashSet<_> = shards
                                .iter()
                                .filter(|s| {
                                    s.parent == Some(shard.id)
                                        || s.adjacent_parent == Some(shard.id)
                                })
                                .map(|s| s.id)
                                .collect();
                            assert_eq!(
                                children, expected,
                                "ChildShards at the end of {}",
                                shard.id
                            );
                            self.finished.insert(shard.id);
                            progressed = true;
                            break;
                        }
                    }
                }
            }
            if !progressed {
                return;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    #[test]
    fn lineage_preserves_every_record_in_order_per_key(steps in prop::collection::vec(step(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let clock = Clock::manual(Millis(1_795_000_000_000));
        // Rescaling dozens of times is the point here: lift the daily quota.
        let config = EngineConfig { create_delay_ms: 0, delete_delay_ms: 0, daily_quotas: false, ..EngineConfig::default() };
        let engine = Engine::open_local(dir.path(), config, Durability::None, clock.clone()).unwrap();
        engine.create_stream(CreateStream::new(StreamName::parse("lineage").unwrap(), 2)).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut sent: HashMap<String, u32> = HashMap::new();
        let mut reader = LineageReader::default();

        for step in steps {
            clock.advance(1);
            let open = open_shards(&engine);
            match step {
                Step::Split { pick, at } => {
                    let (id, start, end) = open[pick % open.len()];
                    let width = end - start;
                    if width > 3 {
                        let key = start + 2 + u128::from(at) * (width / u128::from(u64::MAX).max(1)) % (width - 3);
                        engine.split_shard(&stream(), &id.to_string(), key).unwrap();
                    }
                }
                Step::Merge { pick } => {
                    if open.len() > 1 {
                        let i = pick % (open.len() - 1);
                        engine.merge_shards(&stream(), &open[i].0.to_string(), &open[i + 1].0.to_string()).unwrap();
                    }
                }
                Step::Update { toward } => {
                    let current = open.len() as u32;
                    let target = toward.clamp(current.div_ceil(2), (current * 2).min(16));
                    engine.update_shard_count(&stream(), target).unwrap();
                    let mut ranges: Vec<(u128, u128)> = open_shards(&engine).iter().map(|&(_, start, end)| (start, end)).collect();
                    ranges.sort_unstable();
                    let uniform: Vec<(u128, u128)> = HashKeyRange::uniform(target).iter().map(|r| (r.start, r.end)).collect();
                    prop_assert_eq!(ranges, uniform, "UNIFORM_SCALING to {} from {:?}", target, open);
                }
                Step::Put { keys } => {
                    let payloads: Vec<(String, String)> = keys
                        .iter()
                        .map(|k| {
                            let key = format!("key{k}");
                            let n = sent.entry(key.clone()).or_default();
                            let payload = format!("{key}:{n}");
                            *n += 1;
                            (key, payload)
                        })
                        .collect();
                    let entries: Vec<_> = payloads
                        .iter()
                        .map(|(key, payload)| PutEntry { partition_key: Some(key), explicit_hash_key: None, data: payload.as_bytes() })
                        .collect();
                    let outcomes = runtime.block_on(engine.put_records(&stream(), &entries)).unwrap();
                    prop_assert!(outcomes.iter().all(Result::is_ok));
                }
            }
            assert_tiles(&open_shards(&engine));
            reader.advance(&engine);
        }

        reader.advance(&engine);
        let read = reader.per_key;
        for (key, count) in &sent {
            let expected: Vec<u32> = (0..*count).collect();
            prop_assert_eq!(read.get(key).cloned().unwrap_or_default(), expected, "records of {} in order, once each", key);
        }
        prop_assert_eq!(read.len(), sent.len());
    }
}
