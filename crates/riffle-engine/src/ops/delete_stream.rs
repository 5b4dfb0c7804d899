//! DeleteStream.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{EngineError, EngineResult};
use crate::stream::Stream;
use crate::{Engine, StreamRef};

impl Engine {
    /// Deletes a stream. It shows as DELETING for the configured delay, then
    /// disappears along with its data. Deleting a stream that is still
    /// CREATING is allowed, as on AWS; deleting one already DELETING is a no-op.
    ///
    /// # Errors
    /// The stream does not exist, has consumers and `enforce_consumer_deletion`
    /// is false, or storage failed.
    pub fn delete_stream(
        &self,
        stream: &StreamRef,
        enforce_consumer_deletion: bool,
    ) -> EngineResult<()> {
        let stream = self.lookup(stream)?;
        let delay_ms = self.inner.config.delete_delay_ms;
        {
            let state = stream.state.read();
            if !enforce_consumer_deletion && self.live_consumer_count(&state.record, self.now()) > 0
            {
                return Err(EngineError::ResourceInUse(format!(
                    "Stream {} under account {} has registered consumers. Deregister them or set EnforceConsumerDeletion.",
                    stream.name,
                    self.inner.config.account.as_str()
                )));
            }
            for consumer in &state.record.consumers {
                self.end_subscriptions_of(&format!(
                    "{}/consumer/{}:{}",
                    self.arn(&stream.name),
                    consumer.name,
                    consumer.created_ms / 1000
                ));
            }
        }
        {
            let mut state = stream.state.write();
            if state.record.deleting_since_ms.is_some() {
                return Ok(());
            }
            // Persist the intent first: if the process dies before the data is
            // gone, startup finishes the deletion rather than resurrecting it.
            // Memory follows only once it is saved.
            let mut record = state.record.clone();
            record.deleting_since_ms = Some(self.now().0);
            self.inner.meta.save_stream(&record)?;
            state.record = record;
        }
        tracing::info!(stream = %stream.name, "stream deleting");
        if delay_ms == 0 {
            return self.finish_delete(&stream);
        }
        let engine = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            if let Err(err) = engine.finish_delete(&stream) {
                tracing::error!(stream = %stream.name, error = %err, "stream deletion failed; it completes on restart");
            }
        });
        Ok(())
    }

    /// Removes a DELETING stream's metadata, then its data. If the process
    /// dies in between, startup removes the rest (see [`Engine::open`]).
    fn finish_delete(&self, stream: &Arc<Stream>) -> EngineResult<()> {
        // A reshard under way is creating its children's logs with no other
        // lock held: let it finish, so that none are made after the removal
        // below (they would belong to no row, and carry no mark).
        let _no_reshard = stream.resharding.lock();
        // Lock order is always streams, then a stream's state. Holding both
        // while the row is deleted means no change to this stream is
        // mid-flight, and no CreateStream of the same name can save its row
        // in between (a row is keyed by name).
        let mut streams = self.inner.streams.write();
        let state = stream.state.write();
        // The row goes first (marking the logs, which the next start removes
        // should the removal below not finish). If that fails the stream
        // stays, DELETING, and its name taken: a new stream of that name
        // would otherwise replace the row and leave these logs unmarked.
        self.inner
            .meta
            .delete_stream(stream.name.as_str(), stream.uid)?;
        stream
            .removed
            .store(true, std::sync::atomic::Ordering::Release);
        streams.remove(stream);
        let shards = state.shards.len();
        drop(state);
        drop(streams);
        crate::blocking_for_files(shards, || self.remove_marked_logs(stream.uid))?;
        tracing::info!(stream = %stream.name, "stream deleted");
        Ok(())
    }

    /// Removes stream `uid`'s logs, then their mark (see
    /// `MetadataStore::mark_logs`). A mark left behind because clearing it
    /// failed only makes the next start try the (done) removal again.
    pub(crate) fn remove_marked_logs(&self, uid: u64) -> EngineResult<()> {
        self.inner.logs.remove_stream(uid)?;
        if let Err(err) = self.inner.meta.unmark_logs(&[uid]) {
            tracing::warn!(uid = %format_args!("{uid:016x}"), error = %err, "could not clear the mark of removed logs");
        }
        Ok(())
    }
}
