//! Restoring a [`Snapshot`] into a new store file, and checking that a snapshot opens with a
//! password, for backups.
//!
//! A snapshot carries the `meta` table verbatim (schema version, KDF parameters and salt,
//! key-check record), so a restored store derives the same key from the same password and every
//! sealed record is written back byte for byte. Nothing is written before the password has
//! opened the key-check record and every sealed record has been authenticated.

use std::path::Path;

use redb::Database;

use super::cipher::RecordCipher;
use super::error::storage;
use super::meta::{begin_durable_write, unlock, META_KDF, META_KEY_CHECK, META_SCHEMA};
use super::tables::{Table, META};
use super::{Inner, SecretPassword, Snapshot, Store, StoreError, StoredRecord};

/// The `'static` name of a store table (`meta` or an encrypted table), if `name` is one.
pub fn table_name(name: &str) -> Option<&'static str> {
    if name == "meta" {
        return Some("meta");
    }
    Table::from_name(name).map(Table::name)
}

impl Snapshot {
    /// Checks that `password` is the snapshot's store password and that every sealed record
    /// authenticates under the key it derives (values are decrypted and dropped at once).
    pub fn check_readable(&self, password: &SecretPassword) -> Result<(), StoreError> {
        let cipher = self.cipher(password)?;
        self.check_sealed(&cipher)
    }

    /// The record cipher derived from the snapshot's `meta` records and `password`.
    fn cipher(&self, password: &SecretPassword) -> Result<RecordCipher, StoreError> {
        if password.is_empty() {
            return Err(StoreError::EmptyPassword);
        }
        let meta = |key: &str| {
            self.records
                .iter()
                .find(|r| r.table == "meta" && r.key == key.as_bytes())
                .map(|r| r.sealed.as_slice())
        };
        let schema = meta(META_SCHEMA).ok_or(StoreError::CorruptMeta {
            what: "schema version missing",
        })?;
        unlock(schema, meta(META_KDF), meta(META_KEY_CHECK), password)
    }

    fn check_sealed(&self, cipher: &RecordCipher) -> Result<(), StoreError> {
        for record in self.records.iter().filter(|r| r.table != "meta") {
            let table = data_table(record)?;
            let opened = cipher
                .open(
                    table.name(),
                    &record.key,
                    self.schema_version,
                    &record.sealed,
                )
                .map_err(|version| StoreError::UnknownRecordVersion {
                    table: table.name(),
                    record: record_label(record),
                    version,
                })?;
            if opened.is_none() {
                return Err(StoreError::RecordTampered {
                    table: table.name(),
                    record: record_label(record),
                });
            }
        }
        Ok(())
    }
}

impl Store {
    /// Creates a new store at `path` holding exactly the records of `snapshot` and opens it
    /// with `password`. Fails with [`StoreError::RestoreTargetExists`] if `path` exists, and
    /// writes nothing unless the password opens the snapshot and every record authenticates.
    /// Presignatures are restored as they were; burn them with
    /// [`Store::burn_all_presignatures`] before the store is used.
    pub fn restore_snapshot(
        path: impl AsRef<Path>,
        password: &SecretPassword,
        snapshot: &Snapshot,
    ) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if snapshot.schema_version > super::SCHEMA_VERSION {
            return Err(StoreError::UnsupportedSchema {
                found: snapshot.schema_version,
                supported: super::SCHEMA_VERSION,
            });
        }
        let cipher = snapshot.cipher(password)?;
        snapshot.check_sealed(&cipher)?;
        if path.exists() {
            return Err(StoreError::RestoreTargetExists { path });
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let db = Database::create(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        let txn = begin_durable_write(&db)?;
        {
            let mut meta = txn.open_table(META).map_err(storage)?;
            for record in snapshot.records.iter().filter(|r| r.table == "meta") {
                let key =
                    std::str::from_utf8(&record.key).map_err(|_| StoreError::CorruptMeta {
                        what: "a meta record key is not text",
                    })?;
                meta.insert(key, record.sealed.as_slice())
                    .map_err(storage)?;
            }
        }
        for table in Table::ALL {
            let mut t = txn.open_table(table.def()).map_err(storage)?;
            for record in snapshot.records.iter().filter(|r| r.table == table.name()) {
                t.insert(record.key.as_slice(), record.sealed.as_slice())
                    .map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)?;
        Ok(Store {
            inner: std::sync::Arc::new(Inner { db, cipher, path }),
        })
    }
}

fn data_table(record: &StoredRecord) -> Result<Table, StoreError> {
    Table::from_name(record.table).ok_or_else(|| StoreError::UnknownTable {
        table: record.table.to_owned(),
    })
}

/// A record named by its key, printable: record keys are not secret (see the module docs).
fn record_label(record: &StoredRecord) -> String {
    format!("with key {}", hex::encode(&record.key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{KdfParams, KeyType, StoreOptions};

    fn must_store(dir: &Path, password: &str) -> Store {
        Store::open_with(
            dir.join("db"),
            &SecretPassword::new(password.to_owned()),
            StoreOptions {
                kdf: KdfParams::insecure_for_tests(),
            },
        )
        .unwrap()
    }

    #[test]
    fn a_restored_store_holds_identical_records_and_opens_with_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let store = must_store(dir.path(), "pw");
        store.put_share(KeyType::Ecdsa, "w1", 1, b"share").unwrap();
        store.put_keyinfo(KeyType::Ecdsa, "w1", b"info").unwrap();
        let snapshot = store.snapshot().unwrap();
        let target = dir.path().join("restored/db");
        let password = SecretPassword::new("pw".to_owned());
        let restored = Store::restore_snapshot(&target, &password, &snapshot).unwrap();
        assert_eq!(restored.snapshot().unwrap(), snapshot);
        drop(restored);
        let reopened = Store::open(&target, &password).unwrap();
        assert_eq!(
            reopened
                .share(KeyType::Ecdsa, "w1", 1)
                .unwrap()
                .unwrap()
                .expose(),
            b"share"
        );
    }

    #[test]
    fn a_wrong_password_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = must_store(dir.path(), "pw").snapshot().unwrap();
        let target = dir.path().join("restored");
        let err =
            Store::restore_snapshot(&target, &SecretPassword::new("other".to_owned()), &snapshot)
                .unwrap_err();
        assert!(matches!(err, StoreError::WrongPassword), "{err}");
        assert!(!target.exists());
    }

    #[test]
    fn a_tampered_record_is_named_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = must_store(dir.path(), "pw");
        store.put_aux("a", b"value").unwrap();
        let mut snapshot = store.snapshot().unwrap();
        let record = snapshot
            .records
            .iter_mut()
            .find(|r| r.table == "aux")
            .unwrap();
        let last = record.sealed.len() - 1;
        record.sealed[last] ^= 1;
        let password = SecretPassword::new("pw".to_owned());
        let err = snapshot.check_readable(&password).unwrap_err();
        assert!(
            matches!(err, StoreError::RecordTampered { table: "aux", .. }),
            "{err}"
        );
        let target = dir.path().join("restored");
        assert!(Store::restore_snapshot(&target, &password, &snapshot).is_err());
        assert!(!target.exists());
    }

    #[test]
    fn an_existing_target_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = must_store(dir.path(), "pw");
        let snapshot = store.snapshot().unwrap();
        let err = Store::restore_snapshot(
            store.path(),
            &SecretPassword::new("pw".to_owned()),
            &snapshot,
        )
        .unwrap_err();
        assert!(
            matches!(err, StoreError::RestoreTargetExists { .. }),
            "{err}"
        );
    }

    #[test]
    fn table_names_are_known_or_refused() {
        assert_eq!(table_name("meta"), Some("meta"));
        assert_eq!(table_name("presignatures"), Some("presignatures"));
        assert_eq!(table_name("nope"), None);
    }
}
