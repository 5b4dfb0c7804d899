//! PutResourcePolicy, GetResourcePolicy and DeleteResourcePolicy on streams.
//!
//! Policies are stored and returned as given; Riffle does not evaluate them
//! (requests are not authorised against them yet).

use crate::error::EngineResult;
use crate::stream::StreamStatus;
use crate::{Engine, StreamRef};

const POLICY_STATES: [StreamStatus; 3] = [
    StreamStatus::Active,
    StreamStatus::Updating,
    StreamStatus::Creating,
];

impl Engine {
    /// Attaches (`Some`) or removes (`None`) a stream's resource policy.
    ///
    /// # Errors
    /// The stream is missing or being deleted.
    pub fn set_resource_policy(
        &self,
        stream: &StreamRef,
        policy: Option<String>,
    ) -> EngineResult<()> {
        self.modify_stream(stream, &POLICY_STATES, |record, _| {
            record.resource_policy = policy;
            Ok(())
        })
    }

    /// The stream's policy; `{}` when none is attached.
    ///
    /// # Errors
    /// The stream does not exist.
    pub fn resource_policy(&self, stream: &StreamRef) -> EngineResult<String> {
        let stream = self.lookup(stream)?;
        let state = stream.state.read();
        Ok(state
            .record
            .resource_policy
            .clone()
            .unwrap_or_else(|| "{}".to_owned()))
    }
}
