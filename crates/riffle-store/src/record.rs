//! Records as the store sees them: opaque partition key and data bytes.

use bytes::Bytes;
use riffle_model::Millis;

/// A record handed to [`ShardLog::append`](crate::ShardLog::append).
#[derive(Clone, Copy, Debug)]
pub struct NewRecord<'a> {
    pub partition_key: &'a str,
    pub data: &'a [u8],
}

/// A stored record, read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Position in the shard's log; with the shard's epoch it forms the
    /// sequence number.
    pub offset: u64,
    pub arrival: Millis,
    /// UTF-8 partition key (validated before it was appended).
    pub partition_key: Bytes,
    pub data: Bytes,
}

impl Record {
    /// The bytes this record counts against GetRecords' 10 MiB cap: AWS
    /// counts data plus partition key.
    pub fn size_bytes(&self) -> usize {
        self.data.len() + self.partition_key.len()
    }

    pub fn partition_key_str(&self) -> &str {
        std::str::from_utf8(&self.partition_key).unwrap_or_default()
    }
}
