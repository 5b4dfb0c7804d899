//! StartStreamEncryption and StopStreamEncryption.
//!
//! Riffle records the encryption state and reports it as AWS does (the
//! stream is UPDATING for the transition delay, then describes as KMS with
//! its key, and records carry EncryptionType KMS). At-rest encryption of the
//! segment files comes with the security work; no KMS is consulted.

use crate::error::{EngineError, EngineResult};
use crate::stream::StreamStatus;
use crate::{Engine, StreamRef};

impl Engine {
    /// Starts (`Some(key)`) or stops (`None`) server-side encryption.
    ///
    /// # Errors
    /// The stream is missing or not ACTIVE.
    pub fn set_encryption(&self, stream: &StreamRef, key_id: Option<String>) -> EngineResult<()> {
        let delay_ms = self.inner.config.create_delay_ms;
        self.modify_stream(stream, &[StreamStatus::Active], |record, now| {
            record.encryption_key_id = key_id;
            record.updating_until_ms = (delay_ms > 0).then_some(now.0 + delay_ms);
            Ok(())
        })
    }

    /// Whether records put now are reported as encrypted (a cheap check for
    /// every put response; `false` for a stream that does not exist).
    pub fn is_encrypted(&self, stream: &StreamRef) -> bool {
        self.lookup(stream)
            .is_ok_and(|stream| stream.state.read().record.encryption_key_id.is_some())
    }
}

/// The error AWS gives for an EncryptionType other than KMS.
pub fn encryption_type_must_be_kms() -> EngineError {
    EngineError::InvalidArgument("EncryptionType must be KMS.".to_owned())
}
