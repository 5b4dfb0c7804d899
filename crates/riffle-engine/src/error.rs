//! Engine errors: every way a Kinesis operation can fail, with the data the
//! wire layer needs to phrase AWS's message. The wire layer maps each variant
//! to an AWS error type and message in one exhaustive `match`.

use riffle_model::{Millis, ShardId, StreamName};
use riffle_store::StoreError;

use crate::stream::StreamStatus;

#[derive(Clone, Debug, thiserror::Error)]
pub enum EngineError {
    #[error("stream {stream} not found")]
    StreamNotFound { stream: String },
    #[error("stream {stream} already exists")]
    StreamExists { stream: StreamName },
    #[error("stream {stream} is {status:?}, not ACTIVE")]
    StreamNotActive {
        stream: StreamName,
        status: StreamStatus,
    },
    /// The stream exists but the shard does not (or the stream is gone, for
    /// operations that name a shard).
    #[error("shard {shard} not found in stream {stream}")]
    ShardNotFound { stream: String, shard: ShardId },
    /// A ShardId that names no shard at all (not `shardId-<digits>`).
    #[error("unparsable shard id {raw} in stream {stream}")]
    ShardIdUnparsable { stream: StreamName, raw: String },
    /// A record without a partition key on a stream that routes by key.
    /// `record` is the PutRecords index (None for PutRecord).
    #[error("partition key required")]
    MissingPartitionKey { record: Option<usize> },
    /// A record larger than the stream's maximum record size.
    #[error("record of {len} bytes exceeds {max}")]
    RecordTooLarge {
        record: Option<usize>,
        len: usize,
        max: usize,
    },
    /// A ShardToSplit / ShardToMerge naming no shard of the stream.
    #[error("no shard {raw} in stream {stream}")]
    ShardUnknownForReshard { stream: String, raw: String },
    #[error("{0}")]
    ResourceInUse(String),
    /// A resource other than a stream or shard (a consumer) does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// A shard's throughput limit was exceeded (only when limits are enforced).
    #[error("rate exceeded for shard {shard} in stream {stream}")]
    Throttled { stream: String, shard: ShardId },
    #[error("invalid shard iterator")]
    InvalidIterator,
    #[error("shard iterator expired")]
    ExpiredIterator { issued_at: Millis, now: Millis },
    /// Bad arguments whose AWS message the engine composes (the message is
    /// the wire contract; it is pinned by tests).
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    ExpiredNextToken(String),
    /// DryRun was set and every check passed: AWS answers this, not the result.
    #[error("the request would have succeeded, but DryRun was set")]
    DryRun,
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
}

pub type EngineResult<T> = Result<T, EngineError>;
