//! CreateStream.

use std::sync::Arc;

use rand::RngExt;
use riffle_model::{HashKeyRange, StreamName};
use riffle_store::StreamRecord;

use crate::Engine;
use crate::error::{EngineError, EngineResult};
use crate::stream::{Stream, new_shard_record};

/// A validated CreateStream request.
#[derive(Clone, Debug)]
pub struct CreateStream {
    pub name: StreamName,
    pub shard_count: u32,
    pub on_demand: bool,
    pub tags: Vec<(String, String)>,
    pub max_record_size_kib: Option<u32>,
    pub warm_throughput_mibps: Option<u32>,
    pub auto_distribution: bool,
}

impl CreateStream {
    /// A stream with AWS's defaults for everything but the name and shard count.
    pub fn new(name: StreamName, shard_count: u32) -> CreateStream {
        CreateStream {
            name,
            shard_count,
            on_demand: false,
            tags: Vec::new(),
            max_record_size_kib: None,
            warm_throughput_mibps: None,
            auto_distribution: false,
        }
    }
}

impl Engine {
    /// Creates a stream with `shard_count` shards over equal hash-key ranges.
    /// It is CREATING for the configured delay, then ACTIVE.
    ///
    /// # Errors
    /// The name is taken (`ResourceInUseException`), the account's shard limit
    /// would be exceeded (`LimitExceededException`), or storage failed.
    pub fn create_stream(&self, request: CreateStream) -> EngineResult<()> {
        let config = &self.inner.config;
        let now = self.now();
        // The name, a uid and the shards are promised here, briefly under
        // the locks; the files are then created with none held (see
        // `pending`). The promise is released when this returns.
        let (uid, _promise) = {
            let pending = &self.inner.pending;
            let mut promised = pending.lock();
            let uid = {
                let streams = self.inner.streams.read();
                if streams.by_name.contains_key(&request.name) || promised.has_name(&request.name) {
                    return Err(EngineError::StreamExists {
                        stream: request.name,
                    });
                }
                let mut rng = rand::rng();
                loop {
                    let uid: u64 = rng.random();
                    if !streams.by_uid.contains_key(&uid) && !promised.has_uid(uid) {
                        break uid;
                    }
                }
            };
            self.check_shard_limit(
                self.open_shard_count() + promised.shards,
                request.shard_count,
            )?;
            let stream = Some((request.name.clone(), uid));
            (uid, promised.promise(pending, request.shard_count, stream))
        };
        let shards = HashKeyRange::uniform(request.shard_count)
            .into_iter()
            .enumerate()
            .map(|(index, range)| new_shard_record(index as u32, range, now.0, now))
            .collect();
        let record = StreamRecord {
            name: request.name.as_str().to_owned(),
            uid,
            stream_id: random_stream_id(&mut rand::rng()),
            created_ms: now.0,
            active_at_ms: now.0 + config.create_delay_ms,
            deleting_since_ms: None,
            on_demand: request.on_demand,
            retention_hours: riffle_model::limits::RETENTION_HOURS_DEFAULT,
            shards,
            tags: {
                let mut tags = request.tags;
                tags.sort();
                tags
            },
            shard_level_metrics: Vec::new(),
            encryption_key_id: None,
            resource_policy: None,
            max_record_size_kib: request.max_record_size_kib.unwrap_or(1024),
            warm_throughput_mibps: request.warm_throughput_mibps,
            auto_distribution: request.auto_distribution,
            updating_until_ms: None,
            consumers: Vec::new(),
            shard_count_updates_ms: Vec::new(),
            mode_switches_ms: Vec::new(),
        };
        // Marked before they exist, so that a crash before the row below is
        // saved (saving clears the mark) leaves nothing behind at the next
        // start. The logs are created outside the streams lock: 10,000
        // shards' files take about 0.6 s, and every request looks streams up.
        self.inner.meta.mark_logs(uid)?;
        let created = crate::blocking_for_files(request.shard_count as usize, || {
            Stream::open(record.clone(), &self.inner.logs, true)
        })
        .and_then(|stream| {
            // Only CreateStream adds names and uids, and this one's are
            // promised: the checks above still hold. The row is saved under
            // the streams lock so that DeleteStream, which removes a row
            // under it, cannot interleave with this one (rows are keyed by
            // name).
            let mut streams = self.inner.streams.write();
            self.inner.meta.save_stream(&record)?;
            streams.insert(Arc::new(stream));
            Ok(())
        });
        if let Err(err) = created {
            // Nothing refers to these files; leave no orphan directory (the
            // mark stays if that fails, for the next start to finish).
            if let Err(cleanup) = self.remove_marked_logs(uid) {
                tracing::warn!(stream = %request.name, error = %cleanup, "could not remove a failed stream's logs");
            }
            return Err(err);
        }
        tracing::info!(stream = %request.name, shards = request.shard_count, "stream created");
        Ok(())
    }

    /// Refuses `additional` open shards if the account's `open_shards`
    /// (those promised to operations in flight included) would then pass
    /// the limit. The caller holds `Inner::pending` and promises them.
    pub(crate) fn check_shard_limit(&self, open_shards: u64, additional: u32) -> EngineResult<()> {
        let config = &self.inner.config;
        if open_shards + u64::from(additional) <= u64::from(config.account_shard_limit) {
            return Ok(());
        }
        Err(EngineError::LimitExceeded(format!(
            "This request would exceed the shard limit for the account {} in {}. Current shard count for the account: {}. Limit: {}. Number of additional shards that would have resulted from this request: {}. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
            config.account.as_str(),
            config.region.as_str(),
            open_shards,
            config.account_shard_limit,
            additional
        )))
    }
}

/// A `StreamId` as botocore's pattern `[a-z0-9]{20}-[a-z0-9]{3}` describes it.
fn random_stream_id(rng: &mut impl RngExt) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut pick = |n: usize| -> String {
        (0..n)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    };
    format!("{}-{}", pick(20), pick(3))
}
