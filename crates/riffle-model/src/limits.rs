//! Every numeric limit Riffle enforces, named once.
//!
//! Values are AWS's documented quotas unless a comment says otherwise. Code
//! that bounds a queue, loop or buffer by client input takes its bound from here.

/// Longest stream name (botocore `StreamName.max`).
pub const STREAM_NAME_LEN_MAX: usize = 128;
/// Longest partition key, in Unicode characters (botocore `PartitionKey.max`).
pub const PARTITION_KEY_CHARS_MAX: usize = 256;
/// Default largest record payload plus partition key: 1 MiB.
pub const RECORD_BYTES_MAX_DEFAULT: usize = 1024 * 1024;
/// Records in one PutRecords request.
pub const PUT_RECORDS_ENTRIES_MAX: usize = 500;
/// Payload plus partition keys of one PutRecords request: 5 MiB.
pub const PUT_RECORDS_BYTES_MAX: usize = 5 * 1024 * 1024;
/// Records returned by one GetRecords call.
pub const GET_RECORDS_LIMIT_MAX: usize = 10_000;
/// Bytes returned by one GetRecords call: 10 MiB.
pub const GET_RECORDS_BYTES_MAX: usize = 10 * 1024 * 1024;
/// A shard iterator is valid for five minutes after it is issued.
pub const ITERATOR_TTL_MS: u64 = 300_000;
/// Shards in a new stream when CreateStream gives no ShardCount.
pub const DEFAULT_SHARD_COUNT: u32 = 4;
/// Account-wide open-shard quota (AWS: 500 in most regions by default; Riffle
/// is generous because the shard count costs little here).
pub const ACCOUNT_SHARD_LIMIT_DEFAULT: u32 = 10_000;
/// ON_DEMAND streams per account (AWS's default quota).
pub const ON_DEMAND_STREAM_LIMIT_DEFAULT: u32 = 50;
/// Default and bounds for retention, in hours (24 hours to 365 days).
pub const RETENTION_HOURS_DEFAULT: u32 = 24;
pub const RETENTION_HOURS_MIN: u32 = 24;
pub const RETENTION_HOURS_MAX: u32 = 8760;
/// Tags on one stream.
pub const STREAM_TAGS_MAX: usize = 50;
/// Tags returned by one ListTagsForStream page, by default.
pub const LIST_TAGS_LIMIT_DEFAULT: usize = 10;
/// Largest record a stream can be configured for (UpdateMaxRecordSize): 10 MiB.
pub const RECORD_BYTES_MAX_CONFIGURABLE: usize = 10 * 1024 * 1024;
/// A PutRecords request on a stream allowing records over 1 MiB may carry 10 MiB.
pub const PUT_RECORDS_BYTES_MAX_LARGE: usize = 10 * 1024 * 1024;
/// A minimum throughput billing commitment lasts at least 24 hours.
pub const BILLING_COMMITMENT_MIN_MS: u64 = 24 * 3_600_000;
/// Shards described by one DescribeStream page, by default and at most.
pub const DESCRIBE_STREAM_LIMIT_DEFAULT: usize = 100;
pub const DESCRIBE_STREAM_LIMIT_MAX: usize = 10_000;
/// Streams listed by one ListStreams page, by default and at most.
pub const LIST_STREAMS_LIMIT_DEFAULT: usize = 100;
pub const LIST_STREAMS_LIMIT_MAX: usize = 10_000;
/// Shards listed by one ListShards page, by default and at most.
pub const LIST_SHARDS_LIMIT_DEFAULT: usize = 1_000;
pub const LIST_SHARDS_LIMIT_MAX: usize = 10_000;
/// A ListShards / ListStreams NextToken is valid for 300 seconds.
pub const NEXT_TOKEN_TTL_MS: u64 = 300_000;
/// Largest request body the server reads. A 10 MiB record (UpdateMaxRecordSize)
/// is about 14 MiB once base64-encoded in JSON.
pub const REQUEST_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;

/// UpdateShardCount calls allowed per stream in a rolling 24 hours.
pub const SHARD_COUNT_UPDATES_PER_DAY: usize = 10;
/// Capacity-mode switches (UpdateStreamMode) allowed per stream in a rolling 24 hours.
pub const STREAM_MODE_SWITCHES_PER_DAY: usize = 2;
/// The window of the two quotas above.
pub const QUOTA_WINDOW_MS: u64 = 24 * 3_600_000;
