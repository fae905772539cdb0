//! The store's tables and how record keys are laid out in them.
//!
//! Every data table maps bytes to a sealed record. Keys are built so that byte order groups what
//! is read together: a wallet's share versions sort by version, a pool's entries by push order.
//! Variable-length parts are length-prefixed, so no id can be chosen to collide with another.

use std::fmt;

use redb::TableDefinition;

use super::error::StoreError;

/// Unencrypted metadata: schema version, KDF parameters and salt, key-check record.
pub(crate) const META: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("meta");

/// The curve family a key share belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// ECDSA over secp256k1.
    Ecdsa,
    /// EdDSA over Ed25519.
    Eddsa,
}

impl KeyType {
    /// The reference's spelling, used in record and registry keys: `ecdsa` / `eddsa`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Ecdsa => "ecdsa",
            KeyType::Eddsa => "eddsa",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The encrypted tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    /// Key shares, versioned per wallet and key type.
    Shares,
    /// Wallet key info (participants, threshold, version).
    KeyInfo,
    /// Named auxiliary data (e.g. aux info of the node).
    Aux,
    /// A pool of pre-generated primes, consumed once each.
    Primes,
    /// Pools of presignatures, consumed once each.
    Presignatures,
    /// Cached results of requests, for exactly-once replies.
    Results,
}

impl Table {
    /// Every encrypted table, in snapshot order.
    pub(crate) const ALL: [Table; 6] = [
        Table::Shares,
        Table::KeyInfo,
        Table::Aux,
        Table::Primes,
        Table::Presignatures,
        Table::Results,
    ];

    /// The table's name on disk (also bound into every record's associated data).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Shares => "shares",
            Table::KeyInfo => "keyinfo",
            Table::Aux => "aux",
            Table::Primes => "primes",
            Table::Presignatures => "presignatures",
            Table::Results => "results",
        }
    }

    /// The table called `name`, if it is an encrypted table.
    pub(crate) fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The redb definition of the table.
    pub(crate) fn def(self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        TableDefinition::new(self.name())
    }
}

/// Appends `u32 length ‖ bytes`.
fn push_prefixed(out: &mut Vec<u8>, what: &'static str, bytes: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(bytes.len()).map_err(|_| StoreError::KeyTooLong {
        what,
        len: bytes.len(),
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

/// `key type ‖ 0x00 ‖ u32 len ‖ wallet id`: the common prefix of one wallet's share versions.
pub(crate) fn share_prefix(key_type: KeyType, wallet_id: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = Vec::with_capacity(6 + 4 + wallet_id.len() + 8);
    key.extend_from_slice(key_type.as_str().as_bytes());
    key.push(0);
    push_prefixed(&mut key, "wallet id", wallet_id.as_bytes())?;
    Ok(key)
}

/// `share prefix ‖ u64 version`, so versions sort numerically.
pub(crate) fn share_key(
    key_type: KeyType,
    wallet_id: &str,
    version: u64,
) -> Result<Vec<u8>, StoreError> {
    let mut key = share_prefix(key_type, wallet_id)?;
    key.extend_from_slice(&version.to_be_bytes());
    Ok(key)
}

/// `<key type>:<wallet id>`, as in the reference's registry key.
pub(crate) fn keyinfo_key(key_type: KeyType, wallet_id: &str) -> Vec<u8> {
    format!("{key_type}:{wallet_id}").into_bytes()
}

/// `u32 len ‖ pool name`: the common prefix of one presignature pool.
pub(crate) fn pool_prefix(pool: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = Vec::with_capacity(4 + pool.len() + 8);
    push_prefixed(&mut key, "presignature pool name", pool.as_bytes())?;
    Ok(key)
}

/// The pool name of a presignature key (`u32 len ‖ pool name ‖ u64`); `None` if malformed.
pub(crate) fn pool_name(key: &[u8]) -> Option<&str> {
    let (len, rest) = key.split_first_chunk::<4>()?;
    let name = rest.get(..u32::from_be_bytes(*len) as usize)?;
    std::str::from_utf8(name).ok()
}

/// The range of keys `prefix ‖ u64` covers.
pub(crate) fn pool_bounds(prefix: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut low = prefix.to_vec();
    low.extend_from_slice(&0u64.to_be_bytes());
    let mut high = prefix.to_vec();
    high.extend_from_slice(&u64::MAX.to_be_bytes());
    (low, high)
}

/// The trailing big-endian u64 of a pool or share key.
pub(crate) fn trailing_u64(key: &[u8]) -> Result<u64, StoreError> {
    let tail = key
        .len()
        .checked_sub(8)
        .and_then(|start| key.get(start..))
        .ok_or(StoreError::Bug {
            what: "a pool or share key is shorter than its sequence number",
        })?;
    let bytes: [u8; 8] = tail.try_into().map_err(|_| StoreError::Bug {
        what: "a pool or share key is shorter than its sequence number",
    })?;
    Ok(u64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_keys_sort_by_version_within_a_wallet() {
        let v2 = share_key(KeyType::Ecdsa, "w", 2).unwrap();
        let v10 = share_key(KeyType::Ecdsa, "w", 10).unwrap();
        assert!(v2 < v10);
        assert_eq!(trailing_u64(&v10).unwrap(), 10);
    }

    #[test]
    fn a_wallet_id_cannot_reach_into_another_wallets_prefix() {
        // Without the length prefix, "w" ‖ version bytes could equal another wallet's id.
        let crafted = format!("w{}", String::from_utf8_lossy(&1u64.to_be_bytes()));
        let prefix = share_prefix(KeyType::Ecdsa, "w").unwrap();
        let other = share_key(KeyType::Ecdsa, &crafted, 1).unwrap();
        assert!(!other.starts_with(&prefix));
    }

    #[test]
    fn key_types_use_the_reference_spelling() {
        assert_eq!(keyinfo_key(KeyType::Eddsa, "w1"), b"eddsa:w1".to_vec());
    }
}
