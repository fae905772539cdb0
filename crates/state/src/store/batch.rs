//! A group of writes committed in one durable transaction: all of them or none.
//!
//! Plaintext values wait in zeroizing buffers until [`super::Store::commit`] seals them; records
//! are sealed at commit time because a pool entry's key (its sequence number) is only known then.

use zeroize::Zeroizing;

use super::error::StoreError;
use super::tables::{self, KeyType, Table};

/// What to do when a put meets an existing record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnConflict {
    /// Replace it.
    Overwrite,
    /// Fail the whole batch with [`StoreError::ShareVersionExists`].
    Fail,
}

/// One write in a batch.
pub(crate) enum Op {
    /// Write `value` at `key`.
    Put {
        table: Table,
        key: Vec<u8>,
        label: String,
        value: Zeroizing<Vec<u8>>,
        on_conflict: OnConflict,
    },
    /// Remove the record at `key`, if any.
    Delete { table: Table, key: Vec<u8> },
    /// Append `value` to the pool whose keys start with `prefix`.
    Push {
        table: Table,
        prefix: Vec<u8>,
        value: Zeroizing<Vec<u8>>,
    },
}

/// Writes to commit together with [`super::Store::commit`]; e.g. a new key share and the
/// wallet's key info, so a crash never leaves one without the other.
#[derive(Default)]
pub struct Batch {
    pub(crate) ops: Vec<Op>,
    /// The first error met while building (a key too long); reported by `commit`.
    pub(crate) error: Option<StoreError>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Batch({} ops, values <redacted>)", self.ops.len())
    }
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of writes queued.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether no write is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn record_error(&mut self, error: StoreError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    fn put(
        &mut self,
        table: Table,
        key: Vec<u8>,
        label: String,
        value: &[u8],
        on_conflict: OnConflict,
    ) -> &mut Self {
        self.ops.push(Op::Put {
            table,
            key,
            label,
            value: Zeroizing::new(value.to_vec()),
            on_conflict,
        });
        self
    }

    /// Stores version `version` of a wallet's key share; fails the batch if that version exists.
    pub fn put_share(
        &mut self,
        key_type: KeyType,
        wallet_id: &str,
        version: u64,
        share: &[u8],
    ) -> &mut Self {
        match tables::share_key(key_type, wallet_id, version) {
            Ok(key) => self.put(
                Table::Shares,
                key,
                share_label(key_type, wallet_id, version),
                share,
                OnConflict::Fail,
            ),
            Err(e) => {
                self.record_error(e);
                self
            }
        }
    }

    /// Deletes version `version` of a wallet's key share (nothing if it is absent). The record is
    /// removed from the B-tree in the same transaction; redb reuses its pages.
    pub fn delete_share(&mut self, key_type: KeyType, wallet_id: &str, version: u64) -> &mut Self {
        match tables::share_key(key_type, wallet_id, version) {
            Ok(key) => self.ops.push(Op::Delete {
                table: Table::Shares,
                key,
            }),
            Err(e) => self.record_error(e),
        }
        self
    }

    /// Deletes a named piece of auxiliary data (nothing if it is absent).
    pub fn delete_aux(&mut self, name: &str) -> &mut Self {
        self.ops.push(Op::Delete {
            table: Table::Aux,
            key: name.as_bytes().to_vec(),
        });
        self
    }

    /// Stores (replaces) a wallet's key info.
    pub fn put_keyinfo(&mut self, key_type: KeyType, wallet_id: &str, keyinfo: &[u8]) -> &mut Self {
        self.put(
            Table::KeyInfo,
            tables::keyinfo_key(key_type, wallet_id),
            keyinfo_label(key_type, wallet_id),
            keyinfo,
            OnConflict::Overwrite,
        )
    }

    /// Stores (replaces) a named piece of auxiliary data.
    pub fn put_aux(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.put(
            Table::Aux,
            name.as_bytes().to_vec(),
            aux_label(name),
            value,
            OnConflict::Overwrite,
        )
    }

    /// Appends a set of primes to the primes pool.
    pub fn push_primes(&mut self, primes: &[u8]) -> &mut Self {
        self.ops.push(Op::Push {
            table: Table::Primes,
            prefix: Vec::new(),
            value: Zeroizing::new(primes.to_vec()),
        });
        self
    }

    /// Stores a presignature under `id` in the pool `pool` (replacing one stored under the same
    /// id), so that every holder of a presignature can name it by the same id.
    pub fn put_presignature(&mut self, pool: &str, id: u64, presignature: &[u8]) -> &mut Self {
        match tables::pool_prefix(pool) {
            Ok(mut key) => {
                key.extend_from_slice(&id.to_be_bytes());
                self.put(
                    Table::Presignatures,
                    key,
                    presignature_label(pool, id),
                    presignature,
                    OnConflict::Overwrite,
                )
            }
            Err(e) => {
                self.record_error(e);
                self
            }
        }
    }

    /// Appends a presignature to the pool `pool`.
    pub fn push_presignature(&mut self, pool: &str, presignature: &[u8]) -> &mut Self {
        match tables::pool_prefix(pool) {
            Ok(prefix) => {
                self.ops.push(Op::Push {
                    table: Table::Presignatures,
                    prefix,
                    value: Zeroizing::new(presignature.to_vec()),
                });
                self
            }
            Err(e) => {
                self.record_error(e);
                self
            }
        }
    }
}

/// Words for a share record in errors.
pub(crate) fn share_label(key_type: KeyType, wallet_id: &str, version: u64) -> String {
    format!("{key_type} share of wallet {wallet_id:?} version {version}")
}

/// Words for a key info record in errors.
pub(crate) fn keyinfo_label(key_type: KeyType, wallet_id: &str) -> String {
    format!("{key_type} keyinfo of wallet {wallet_id:?}")
}

/// Words for an aux record in errors.
pub(crate) fn aux_label(name: &str) -> String {
    format!("aux {name:?}")
}

/// Words for a presignature record in errors.
pub(crate) fn presignature_label(pool: &str, id: u64) -> String {
    format!("presignature #{id} of pool {pool:?}")
}
