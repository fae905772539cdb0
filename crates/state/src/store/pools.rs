//! Pools whose entries are handed out once each: pre-generated primes and presignatures.
//!
//! An entry is read and deleted in the same durable write transaction, so it cannot be handed
//! out twice, even by concurrent callers or across a crash and restart.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::error::storage;
use super::meta::begin_durable_write;
use super::tables::{self, Table};
use super::{Batch, SecretBytes, Store, StoreError};

impl Store {
    /// Appends a set of primes to the primes pool.
    pub fn push_primes(&self, primes: &[u8]) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.push_primes(primes);
        self.commit(batch)
    }

    /// Removes and returns the oldest set of primes; `None` if the pool is empty.
    pub fn take_primes(&self) -> Result<Option<SecretBytes>, StoreError> {
        self.take_first(Table::Primes, &[], |seq| format!("primes #{seq}"))
    }

    /// Number of sets of primes in the pool.
    pub fn primes_count(&self) -> Result<u64, StoreError> {
        self.count(Table::Primes, &[])
    }

    /// Appends a presignature to the pool `pool`.
    pub fn push_presignature(&self, pool: &str, presignature: &[u8]) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.push_presignature(pool, presignature);
        self.commit(batch)
    }

    /// Removes and returns the oldest presignature of `pool`, deleting it in the same durable
    /// transaction that reads it; `None` if the pool is empty. A presignature is never returned
    /// twice.
    pub fn take_presignature(&self, pool: &str) -> Result<Option<SecretBytes>, StoreError> {
        let prefix = tables::pool_prefix(pool)?;
        self.take_first(Table::Presignatures, &prefix, |seq| {
            format!("presignature #{seq} of pool {pool:?}")
        })
    }

    /// Stores a presignature under `id` in the pool `pool` (see [`Batch::put_presignature`]).
    pub fn put_presignature(
        &self,
        pool: &str,
        id: u64,
        presignature: &[u8],
    ) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.put_presignature(pool, id, presignature);
        self.commit(batch)
    }

    /// Removes and returns presignature `id` of `pool`, deleting it in the same durable
    /// transaction that reads it; `None` if this store does not hold it. Never returns the same
    /// presignature twice.
    pub fn take_presignature_id(
        &self,
        pool: &str,
        id: u64,
    ) -> Result<Option<SecretBytes>, StoreError> {
        let mut key = tables::pool_prefix(pool)?;
        key.extend_from_slice(&id.to_be_bytes());
        let txn = begin_durable_write(&self.inner.db)?;
        let plaintext = {
            let mut t = txn
                .open_table(Table::Presignatures.def())
                .map_err(storage)?;
            let Some(sealed) = t
                .get(key.as_slice())
                .map_err(storage)?
                .map(|v| v.value().to_vec())
            else {
                return Ok(None);
            };
            // A record that fails authentication is left in place (the transaction is dropped).
            let plaintext = self.unseal(Table::Presignatures, &key, &sealed, || {
                super::batch::presignature_label(pool, id)
            })?;
            t.remove(key.as_slice()).map_err(storage)?;
            plaintext
        };
        txn.commit().map_err(storage)?;
        Ok(Some(SecretBytes::new(plaintext)))
    }

    /// The ids of the presignatures in `pool`, ascending.
    pub fn presignature_ids(&self, pool: &str) -> Result<Vec<u64>, StoreError> {
        let prefix = tables::pool_prefix(pool)?;
        let txn = self.inner.db.begin_read().map_err(storage)?;
        let t = txn
            .open_table(Table::Presignatures.def())
            .map_err(storage)?;
        let (low, high) = tables::pool_bounds(&prefix);
        let mut ids = Vec::new();
        for entry in t.range(low.as_slice()..=high.as_slice()).map_err(storage)? {
            let (key, _) = entry.map_err(storage)?;
            ids.push(tables::trailing_u64(key.value())?);
        }
        Ok(ids)
    }

    /// Every presignature pool that holds at least one presignature, with how many, by name.
    pub fn presignature_pools(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let txn = self.inner.db.begin_read().map_err(storage)?;
        let t = txn
            .open_table(Table::Presignatures.def())
            .map_err(storage)?;
        let mut pools: Vec<(String, u64)> = Vec::new();
        for entry in t.iter().map_err(storage)? {
            let (key, _) = entry.map_err(storage)?;
            let Some(name) = tables::pool_name(key.value()) else {
                continue;
            };
            // Keys sort by pool, so a pool's entries are adjacent.
            match pools.last_mut() {
                Some((last, n)) if last == name => *n += 1,
                _ => pools.push((name.to_owned(), 1)),
            }
        }
        Ok(pools)
    }

    /// Deletes, in one durable transaction, every presignature of every pool whose name `burn`
    /// selects (e.g. the pools of a wallet whose key was reshared); returns how many.
    pub fn burn_presignature_pools(&self, burn: impl Fn(&str) -> bool) -> Result<u64, StoreError> {
        let txn = begin_durable_write(&self.inner.db)?;
        let burned = {
            let mut t = txn
                .open_table(Table::Presignatures.def())
                .map_err(storage)?;
            let mut doomed = Vec::new();
            for entry in t.iter().map_err(storage)? {
                let (key, _) = entry.map_err(storage)?;
                if tables::pool_name(key.value()).is_some_and(&burn) {
                    doomed.push(key.value().to_vec());
                }
            }
            for key in &doomed {
                t.remove(key.as_slice()).map_err(storage)?;
            }
            doomed.len() as u64
        };
        txn.commit().map_err(storage)?;
        Ok(burned)
    }

    /// Number of presignatures in the pool `pool`.
    pub fn presignature_count(&self, pool: &str) -> Result<u64, StoreError> {
        self.count(Table::Presignatures, &tables::pool_prefix(pool)?)
    }

    /// Deletes every presignature of every pool (after a restore, a presignature may already
    /// have been used); returns how many were deleted.
    pub fn burn_all_presignatures(&self) -> Result<u64, StoreError> {
        let txn = begin_durable_write(&self.inner.db)?;
        let burned = {
            let mut t = txn
                .open_table(Table::Presignatures.def())
                .map_err(storage)?;
            let n = t.len().map_err(storage)?;
            t.retain(|_, _| false).map_err(storage)?;
            n
        };
        txn.commit().map_err(storage)?;
        Ok(burned)
    }

    /// Removes and returns the oldest entry of a pool, in one durable write transaction.
    fn take_first(
        &self,
        table: Table,
        prefix: &[u8],
        label: impl FnOnce(u64) -> String,
    ) -> Result<Option<SecretBytes>, StoreError> {
        let txn = begin_durable_write(&self.inner.db)?;
        let plaintext = {
            let mut t = txn.open_table(table.def()).map_err(storage)?;
            let (low, high) = tables::pool_bounds(prefix);
            let first = t
                .range(low.as_slice()..=high.as_slice())
                .map_err(storage)?
                .next()
                .transpose()
                .map_err(storage)?
                .map(|(k, v)| (k.value().to_vec(), v.value().to_vec()));
            let Some((key, sealed)) = first else {
                return Ok(None);
            };
            let seq = tables::trailing_u64(&key)?;
            // A record that fails authentication is left in place (the transaction is dropped).
            let plaintext = self.unseal(table, &key, &sealed, || label(seq))?;
            t.remove(key.as_slice()).map_err(storage)?;
            plaintext
        };
        txn.commit().map_err(storage)?;
        Ok(Some(SecretBytes::new(plaintext)))
    }

    fn count(&self, table: Table, prefix: &[u8]) -> Result<u64, StoreError> {
        let txn = self.inner.db.begin_read().map_err(storage)?;
        let t = txn.open_table(table.def()).map_err(storage)?;
        let (low, high) = tables::pool_bounds(prefix);
        let mut n = 0u64;
        for entry in t.range(low.as_slice()..=high.as_slice()).map_err(storage)? {
            entry.map_err(storage)?;
            n += 1;
        }
        Ok(n)
    }
}
