//! What operations in flight have been promised: shards, stream names, uids.
//!
//! CreateStream, and a reshard that adds shards, create their logs with no
//! lock held: thousands of files can take seconds on a busy disk, and
//! lookups, writes and other control-plane operations must go on meanwhile.
//! Before that, under [`Pending`]'s lock (and the streams lock, to count),
//! each checks the account's shard limit against the open shards *plus*
//! those already promised to others in flight, and takes a [`Promise`] of
//! its own; a CreateStream also promises its name and uid, so that two
//! creates of one name cannot both proceed.
//!
//! A promise is released when dropped, once its shards are in place or the
//! operation failed and removed its files. Between the two a check counts
//! those shards twice (open, and promised), never zero times: the limit can
//! refuse a request near it a moment early, never let one pass it.
//!
//! Lock order: a stream's `resharding`, then `Pending`, then `streams`, then
//! a stream's state. A promise is dropped holding none of the last three
//! (its drop takes `Pending`'s lock).

use std::collections::HashSet;

use parking_lot::{Mutex, MutexGuard};
use riffle_model::StreamName;

/// The account's outstanding promises.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    promised: Mutex<Promised>,
}

#[derive(Debug, Default)]
pub(crate) struct Promised {
    /// Open shards that operations in flight will add.
    pub(crate) shards: u64,
    /// Names and uids of streams being created.
    names: HashSet<StreamName>,
    uids: HashSet<u64>,
}

/// Shards (and, for CreateStream, a stream's name and uid) held for an
/// operation in flight; released when dropped.
#[derive(Debug)]
#[must_use = "a promise is released when dropped"]
pub(crate) struct Promise<'a> {
    pending: &'a Pending,
    shards: u64,
    stream: Option<(StreamName, u64)>,
}

impl Pending {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Promised> {
        self.promised.lock()
    }
}

impl Promised {
    pub(crate) fn has_name(&self, name: &StreamName) -> bool {
        self.names.contains(name)
    }

    pub(crate) fn has_uid(&self, uid: u64) -> bool {
        self.uids.contains(&uid)
    }

    /// Promises `shards` more open shards, and a new stream's name and uid.
    /// `pending` must be the owner of this guard.
    pub(crate) fn promise<'a>(
        &mut self,
        pending: &'a Pending,
        shards: u32,
        stream: Option<(StreamName, u64)>,
    ) -> Promise<'a> {
        self.shards += u64::from(shards);
        if let Some((name, uid)) = &stream {
            self.names.insert(name.clone());
            self.uids.insert(*uid);
        }
        Promise {
            pending,
            shards: u64::from(shards),
            stream,
        }
    }
}

impl Promise<'_> {
    /// The open shards this promise holds.
    pub(crate) fn shards(&self) -> u64 {
        self.shards
    }
}

impl Drop for Promise<'_> {
    fn drop(&mut self) {
        let mut promised = self.pending.lock();
        promised.shards -= self.shards;
        if let Some((name, uid)) = self.stream.take() {
            promised.names.remove(&name);
            promised.uids.remove(&uid);
        }
    }
}
