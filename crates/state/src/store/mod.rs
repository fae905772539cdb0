//! The node's local store: one embedded, crash-safe, ACID database per node (`redb`), every value
//! encrypted under a key derived from the database password.
//!
//! # What is stored
//! * key shares, versioned per wallet and key type ([`Store::put_share`], [`Store::share`],
//!   [`Store::latest_share_version`]); a version is written once and never overwritten;
//! * the wallet's key info ([`Store::put_keyinfo`]); write it with the share in one [`Batch`];
//! * named auxiliary data ([`Store::put_aux`]) and a pool of primes ([`Store::push_primes`],
//!   [`Store::take_primes`]);
//! * presignature pools, by push order ([`Store::push_presignature`]) or by an id every holder
//!   of a presignature shares ([`Store::put_presignature`]): [`Store::take_presignature`] and
//!   [`Store::take_presignature_id`] read and delete in one write transaction, so a
//!   presignature can never be handed out twice, even across restarts;
//! * a `results` table, kept in the format for stores and backups written by earlier builds;
//!   the node's result cache lives in the shared registry (`mpc_results/`), so any node can answer
//!   a repeated request.
//!
//! For backups, [`Store::snapshot`] reads every record as stored from one read transaction and
//! [`Store::restore_snapshot`] writes such a snapshot into a new store file.
//!
//! # Encryption
//! The key is Argon2id(password, 16-byte random salt) with the parameters in [`KdfParams`]
//! (default 64 MiB, 3 passes, 1 lane); salt and parameters live unencrypted in the `meta` table,
//! fixed when the store is created. Any non-empty password length works. Each value is sealed with
//! XChaCha20-Poly1305 under a random nonce, with `table ‖ 0x00 ‖ record key ‖ schema version` as
//! associated data, so a value copied to another key fails to open ([`StoreError::RecordTampered`]).
//! A sealed known constant in `meta` (the key-check record) makes a wrong password fail at
//! [`Store::open`] with [`StoreError::WrongPassword`]. Record keys (wallet ids, pool names, request
//! keys) are not encrypted.
//!
//! # Durability and threads
//! Every write commits with `Durability::Immediate` (fsync) before returning. All methods block
//! (an fsync is a few ms, opening runs Argon2id); async callers use `spawn_blocking`. `Store` is
//! a cheap `Clone` handle; one process may hold the file at a time.

mod batch;
mod cipher;
mod error;
mod meta;
mod pools;
mod restore;
mod secret;
mod tables;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};
use zeroize::Zeroizing;

pub use batch::Batch;
pub use cipher::KdfParams;
pub use error::{StoreError, StoreErrorKind};
pub use restore::table_name;
pub use secret::{SecretBytes, SecretPassword};
pub use tables::KeyType;

use batch::{OnConflict, Op};
use cipher::RecordCipher;
use error::storage;
use meta::{begin_durable_write, unlock_or_initialise};
use tables::{Table, META};

/// Version of the table layout and record binding; bound into every record's associated data.
pub const SCHEMA_VERSION: u32 = 1;

/// Settings for creating a store; ignored for a store that already exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// Argon2id cost parameters for a new store.
    pub kdf: KdfParams,
}

/// One record as stored on disk, for backups: `sealed` is ciphertext (for the `meta` table it is
/// the public metadata itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// Table name.
    pub table: &'static str,
    /// Record key bytes.
    pub key: Vec<u8>,
    /// The value exactly as stored.
    pub sealed: Vec<u8>,
}

/// Every record of a store, read from one consistent read transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The store's schema version.
    pub schema_version: u32,
    /// All records of all tables, `meta` first.
    pub records: Vec<StoredRecord>,
}

/// Handle to an open store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    cipher: RecordCipher,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Store {
    /// Opens the store at `path`, creating it (and its directory) with default KDF parameters if
    /// missing. Fails with [`StoreError::WrongPassword`] if `password` is not the store's password.
    pub fn open(path: impl AsRef<Path>, password: &SecretPassword) -> Result<Store, StoreError> {
        Self::open_with(path, password, StoreOptions::default())
    }

    /// [`Store::open`] with explicit creation options (e.g. cheap KDF parameters in tests).
    pub fn open_with(
        path: impl AsRef<Path>,
        password: &SecretPassword,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if password.is_empty() {
            return Err(StoreError::EmptyPassword);
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
        let cipher = unlock_or_initialise(&txn, password, options)?;
        for table in Table::ALL {
            txn.open_table(table.def()).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        Ok(Store {
            inner: Arc::new(Inner { db, cipher, path }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Commits every write in `batch` in one durable transaction, or none of them.
    pub fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        if let Some(error) = batch.error {
            return Err(error);
        }
        let txn = begin_durable_write(&self.inner.db)?;
        for op in batch.ops {
            self.apply(&txn, op)?;
        }
        txn.commit().map_err(storage)
    }

    fn apply(&self, txn: &WriteTransaction, op: Op) -> Result<(), StoreError> {
        match op {
            Op::Put {
                table,
                key,
                label,
                value,
                on_conflict,
            } => {
                let mut t = txn.open_table(table.def()).map_err(storage)?;
                if on_conflict == OnConflict::Fail
                    && t.get(key.as_slice()).map_err(storage)?.is_some()
                {
                    return Err(StoreError::ShareVersionExists { record: label });
                }
                let sealed = self.seal(table, &key, &value)?;
                t.insert(key.as_slice(), sealed.as_slice())
                    .map_err(storage)?;
            }
            Op::Delete { table, key } => {
                let mut t = txn.open_table(table.def()).map_err(storage)?;
                t.remove(key.as_slice()).map_err(storage)?;
            }
            Op::Push {
                table,
                prefix,
                value,
            } => {
                let mut t = txn.open_table(table.def()).map_err(storage)?;
                let (low, high) = tables::pool_bounds(&prefix);
                let last = t
                    .range(low.as_slice()..=high.as_slice())
                    .map_err(storage)?
                    .next_back()
                    .transpose()
                    .map_err(storage)?
                    .map(|(k, _)| tables::trailing_u64(k.value()))
                    .transpose()?;
                let seq = match last {
                    None => 0,
                    Some(last) => last.checked_add(1).ok_or(StoreError::PoolExhausted {
                        table: table.name(),
                    })?,
                };
                let mut key = prefix;
                key.extend_from_slice(&seq.to_be_bytes());
                let sealed = self.seal(table, &key, &value)?;
                t.insert(key.as_slice(), sealed.as_slice())
                    .map_err(storage)?;
            }
        }
        Ok(())
    }

    fn seal(&self, table: Table, key: &[u8], value: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.inner
            .cipher
            .seal(table.name(), key, SCHEMA_VERSION, value)
    }

    fn unseal(
        &self,
        table: Table,
        key: &[u8],
        sealed: &[u8],
        label: impl FnOnce() -> String,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        match self
            .inner
            .cipher
            .open(table.name(), key, SCHEMA_VERSION, sealed)
        {
            Ok(Some(plaintext)) => Ok(plaintext),
            Ok(None) => Err(StoreError::RecordTampered {
                table: table.name(),
                record: label(),
            }),
            Err(version) => Err(StoreError::UnknownRecordVersion {
                table: table.name(),
                record: label(),
                version,
            }),
        }
    }

    /// Reads and decrypts one record.
    fn read(
        &self,
        table: Table,
        key: &[u8],
        label: impl FnOnce() -> String,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let txn = self.inner.db.begin_read().map_err(storage)?;
        let t = txn.open_table(table.def()).map_err(storage)?;
        let Some(sealed) = t.get(key).map_err(storage)? else {
            return Ok(None);
        };
        self.unseal(table, key, sealed.value(), label).map(Some)
    }

    /// Stores version `version` of a wallet's key share; a version is never overwritten.
    pub fn put_share(
        &self,
        key_type: KeyType,
        wallet_id: &str,
        version: u64,
        share: &[u8],
    ) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.put_share(key_type, wallet_id, version, share);
        self.commit(batch)
    }

    /// Version `version` of a wallet's key share, if stored.
    pub fn share(
        &self,
        key_type: KeyType,
        wallet_id: &str,
        version: u64,
    ) -> Result<Option<SecretBytes>, StoreError> {
        let key = tables::share_key(key_type, wallet_id, version)?;
        self.read(Table::Shares, &key, || {
            batch::share_label(key_type, wallet_id, version)
        })
        .map(|v| v.map(SecretBytes::new))
    }

    /// The highest stored share version of a wallet, if any.
    pub fn latest_share_version(
        &self,
        key_type: KeyType,
        wallet_id: &str,
    ) -> Result<Option<u64>, StoreError> {
        let prefix = tables::share_prefix(key_type, wallet_id)?;
        let (low, high) = tables::pool_bounds(&prefix);
        let txn = self.inner.db.begin_read().map_err(storage)?;
        let t = txn.open_table(Table::Shares.def()).map_err(storage)?;
        let last = t
            .range(low.as_slice()..=high.as_slice())
            .map_err(storage)?
            .next_back()
            .transpose()
            .map_err(storage)?;
        last.map(|(k, _)| tables::trailing_u64(k.value()))
            .transpose()
    }

    /// Stores (replaces) a wallet's key info bytes.
    pub fn put_keyinfo(
        &self,
        key_type: KeyType,
        wallet_id: &str,
        keyinfo: &[u8],
    ) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.put_keyinfo(key_type, wallet_id, keyinfo);
        self.commit(batch)
    }

    /// A wallet's key info bytes, if stored.
    pub fn keyinfo(
        &self,
        key_type: KeyType,
        wallet_id: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let key = tables::keyinfo_key(key_type, wallet_id);
        self.read(Table::KeyInfo, &key, || {
            batch::keyinfo_label(key_type, wallet_id)
        })
        .map(|v| v.map(|plaintext| plaintext.to_vec()))
    }

    /// Stores (replaces) a named piece of auxiliary data.
    pub fn put_aux(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.put_aux(name, value);
        self.commit(batch)
    }

    /// A named piece of auxiliary data, if stored.
    pub fn aux(&self, name: &str) -> Result<Option<SecretBytes>, StoreError> {
        self.read(Table::Aux, name.as_bytes(), || batch::aux_label(name))
            .map(|v| v.map(SecretBytes::new))
    }

    /// Names of the auxiliary records that start with `prefix`, in order.
    pub fn aux_names(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let txn = self.inner.db.begin_read().map_err(storage)?;
        let t = txn.open_table(Table::Aux.def()).map_err(storage)?;
        let mut names = Vec::new();
        for entry in t.range(prefix.as_bytes()..).map_err(storage)? {
            let (key, _) = entry.map_err(storage)?;
            let Ok(name) = std::str::from_utf8(key.value()) else {
                continue;
            };
            if !name.starts_with(prefix) {
                break;
            }
            names.push(name.to_owned());
        }
        Ok(names)
    }

    /// Every record as stored (sealed), from one read transaction, for backups.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let txn = self.inner.db.begin_read().map_err(storage)?;
        let mut records = Vec::new();
        let meta = txn.open_table(META).map_err(storage)?;
        for entry in meta.iter().map_err(storage)? {
            let (k, v) = entry.map_err(storage)?;
            records.push(StoredRecord {
                table: "meta",
                key: k.value().as_bytes().to_vec(),
                sealed: v.value().to_vec(),
            });
        }
        for table in Table::ALL {
            let t = txn.open_table(table.def()).map_err(storage)?;
            for entry in t.iter().map_err(storage)? {
                let (k, v) = entry.map_err(storage)?;
                records.push(StoredRecord {
                    table: table.name(),
                    key: k.value().to_vec(),
                    sealed: v.value().to_vec(),
                });
            }
        }
        Ok(Snapshot {
            schema_version: SCHEMA_VERSION,
            records,
        })
    }
}
