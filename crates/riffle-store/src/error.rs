//! Storage errors.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// A storage failure. `Clone` because one failed group commit answers every
/// put that was waiting on it; the I/O source is shared through an `Arc`.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: Arc<io::Error>,
    },
    #[error("metadata store error: {0}")]
    Metadata(Arc<str>),
    #[error("corrupt data in {path} at byte {position}: {reason}")]
    Corrupt {
        path: PathBuf,
        position: u64,
        reason: &'static str,
    },
    /// A write or sync of the shard's files failed (a full disk, a failing
    /// device): nothing more is accepted until a restart recovers.
    #[error("a previous write to {path} failed; the shard refuses writes until restart")]
    Poisoned { path: PathBuf },
    #[error("the store is shutting down")]
    ShuttingDown,
    #[error("the shard's stream was deleted")]
    StreamDeleted,
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> StoreError {
        StoreError::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn metadata(err: impl std::fmt::Display) -> StoreError {
        StoreError::Metadata(err.to_string().into())
    }
}
