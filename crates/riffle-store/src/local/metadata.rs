//! Stream metadata in redb: one table of streams keyed by name, one of secrets.
//!
//! Every write is one redb transaction committed with redb's default
//! durability (fsync before commit returns), so a reshard or a delete is
//! all-or-nothing across a crash.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::error::StoreError;
use crate::metadata::{AccountSettingsRecord, MetadataStore, StreamRecord};

const STREAMS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("streams");
const SECRETS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("secrets");
const SETTINGS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("settings");
/// Stream uids whose logs are to be removed unless a stream row owns them
/// (see `MetadataStore::mark_logs`); the value is unused.
const LOG_MARKS: TableDefinition<'_, u64, u8> = TableDefinition::new("log-marks");
const ACCOUNT_SETTINGS_KEY: &str = "account";

/// The redb-backed metadata store at `<data-dir>/metadata.redb`.
pub struct RedbMetadataStore {
    db: Database,
}

impl std::fmt::Debug for RedbMetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbMetadataStore").finish_non_exhaustive()
    }
}

impl RedbMetadataStore {
    /// Opens or creates the metadata database in `data_dir`.
    ///
    /// # Errors
    /// The file could not be opened, or is not a redb database.
    pub fn open(data_dir: &Path) -> Result<RedbMetadataStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::io(data_dir, e))?;
        let db = Database::create(data_dir.join("metadata.redb")).map_err(StoreError::metadata)?;
        let store = RedbMetadataStore { db };
        // Only a new database needs its tables created: a commit is a
        // device flush or two, on the way to the first answered request.
        let read = store.db.begin_read().map_err(StoreError::metadata)?;
        let missing = [STREAMS, SECRETS, SETTINGS]
            .into_iter()
            .any(|table| read.open_table(table).is_err())
            || read.open_table(LOG_MARKS).is_err();
        drop(read);
        if missing {
            let txn = store.begin_write()?;
            for table in [STREAMS, SECRETS, SETTINGS] {
                txn.open_table(table).map_err(StoreError::metadata)?;
            }
            txn.open_table(LOG_MARKS).map_err(StoreError::metadata)?;
            txn.commit().map_err(StoreError::metadata)?;
        }
        Ok(store)
    }

    /// Changes the log marks in one durable transaction.
    fn edit_marks(
        &self,
        edit: impl FnOnce(&mut redb::Table<'_, u64, u8>) -> Result<(), redb::StorageError>,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            let mut marks = txn.open_table(LOG_MARKS).map_err(StoreError::metadata)?;
            edit(&mut marks).map_err(StoreError::metadata)?;
        }
        txn.commit().map_err(StoreError::metadata)
    }

    /// A write transaction that records redb's allocator state as it
    /// commits, so that opening the file after a crash loads that state
    /// instead of walking every table to rebuild it (a "repair", and a
    /// commit, on the way to the first answered request). Metadata changes
    /// are rare; the extra flush of a two-phase commit is cheap there.
    fn begin_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write().map_err(StoreError::metadata)?;
        txn.set_quick_repair(true);
        Ok(txn)
    }
}

impl MetadataStore for RedbMetadataStore {
    fn load_streams(&self) -> Result<Vec<StreamRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::metadata)?;
        let table = txn.open_table(STREAMS).map_err(StoreError::metadata)?;
        let mut streams = Vec::new();
        for row in table.iter().map_err(StoreError::metadata)? {
            let (_, value) = row.map_err(StoreError::metadata)?;
            streams.push(serde_json::from_slice(value.value()).map_err(StoreError::metadata)?);
        }
        Ok(streams)
    }

    fn save_stream(&self, stream: &StreamRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(stream).map_err(StoreError::metadata)?;
        let txn = self.begin_write()?;
        {
            let mut table = txn.open_table(STREAMS).map_err(StoreError::metadata)?;
            table
                .insert(stream.name.as_str(), bytes.as_slice())
                .map_err(StoreError::metadata)?;
            // The row owns its logs now.
            let mut marks = txn.open_table(LOG_MARKS).map_err(StoreError::metadata)?;
            marks.remove(stream.uid).map_err(StoreError::metadata)?;
        }
        txn.commit().map_err(StoreError::metadata)
    }

    fn delete_stream(&self, name: &str, uid: u64) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            let mut table = txn.open_table(STREAMS).map_err(StoreError::metadata)?;
            table.remove(name).map_err(StoreError::metadata)?;
            let mut marks = txn.open_table(LOG_MARKS).map_err(StoreError::metadata)?;
            marks.insert(uid, 0).map_err(StoreError::metadata)?;
        }
        txn.commit().map_err(StoreError::metadata)
    }

    fn mark_logs(&self, uid: u64) -> Result<(), StoreError> {
        self.edit_marks(|marks| marks.insert(uid, 0).map(drop))
    }

    fn marked_logs(&self) -> Result<Vec<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::metadata)?;
        let marks = txn.open_table(LOG_MARKS).map_err(StoreError::metadata)?;
        let mut uids = Vec::new();
        for row in marks.iter().map_err(StoreError::metadata)? {
            uids.push(row.map_err(StoreError::metadata)?.0.value());
        }
        Ok(uids)
    }

    fn unmark_logs(&self, uids: &[u64]) -> Result<(), StoreError> {
        if uids.is_empty() {
            return Ok(());
        }
        self.edit_marks(|marks| uids.iter().try_for_each(|&uid| marks.remove(uid).map(drop)))
    }

    fn load_account_settings(&self) -> Result<AccountSettingsRecord, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::metadata)?;
        let table = txn.open_table(SETTINGS).map_err(StoreError::metadata)?;
        match table
            .get(ACCOUNT_SETTINGS_KEY)
            .map_err(StoreError::metadata)?
        {
            Some(row) => serde_json::from_slice(row.value()).map_err(StoreError::metadata),
            None => Ok(AccountSettingsRecord::default()),
        }
    }

    fn save_account_settings(&self, settings: &AccountSettingsRecord) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(settings).map_err(StoreError::metadata)?;
        let txn = self.begin_write()?;
        {
            let mut table = txn.open_table(SETTINGS).map_err(StoreError::metadata)?;
            table
                .insert(ACCOUNT_SETTINGS_KEY, bytes.as_slice())
                .map_err(StoreError::metadata)?;
        }
        txn.commit().map_err(StoreError::metadata)
    }

    fn secret(
        &self,
        name: &str,
        create: &mut dyn FnMut() -> Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        // Read first: every start asks, and only the first one writes.
        {
            let read = self.db.begin_read().map_err(StoreError::metadata)?;
            let table = read.open_table(SECRETS).map_err(StoreError::metadata)?;
            if let Some(secret) = table.get(name).map_err(StoreError::metadata)? {
                return Ok(secret.value().to_vec());
            }
        }
        let txn = self.begin_write()?;
        let secret = {
            let mut table = txn.open_table(SECRETS).map_err(StoreError::metadata)?;
            let existing = table
                .get(name)
                .map_err(StoreError::metadata)?
                .map(|v| v.value().to_vec());
            match existing {
                Some(secret) => secret,
                None => {
                    let secret = create();
                    table
                        .insert(name, secret.as_slice())
                        .map_err(StoreError::metadata)?;
                    secret
                }
            }
        };
        txn.commit().map_err(StoreError::metadata)?;
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_made_before_log_marks_gets_their_table_and_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Database::create(dir.path().join("metadata.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            for table in [STREAMS, SECRETS, SETTINGS] {
                txn.open_table(table).unwrap();
            }
            txn.commit().unwrap();
        }
        let store = RedbMetadataStore::open(dir.path()).unwrap();
        assert_eq!(store.marked_logs().unwrap(), Vec::<u64>::new());
        store.mark_logs(7).unwrap();
        store.mark_logs(u64::MAX).unwrap();
        drop(store);
        let store = RedbMetadataStore::open(dir.path()).unwrap();
        assert_eq!(store.marked_logs().unwrap(), [7, u64::MAX]);
        store.unmark_logs(&[7]).unwrap();
        assert_eq!(store.marked_logs().unwrap(), [u64::MAX]);
    }
}
