//! Pending imports in a node's store: `mpcium-cli import-mpcium` writes each [`ImportedShare`]
//! as a named auxiliary record of the node's encrypted store ([`pending_name`]); the node
//! confirms it with the other holders, converts it into engine shares and deletes it. A wallet
//! is usable only once that has happened — until then the store holds no share or keyinfo of it.

use crate::record::KeyType;

/// The prefix of every pending-import record name.
pub const PENDING_PREFIX: &str = "mpcium-import-pending/";

/// The record name of the pending import of `wallet_id`'s `key_type` key:
/// `mpcium-import-pending/<ecdsa|eddsa>/<wallet id>`.
pub fn pending_name(key_type: KeyType, wallet_id: &str) -> String {
    format!("{PENDING_PREFIX}{}/{wallet_id}", key_type.store_prefix())
}

/// Reads a [`pending_name`] back: `None` for names that are not pending imports.
pub fn parse_pending_name(name: &str) -> Option<(KeyType, &str)> {
    let rest = name.strip_prefix(PENDING_PREFIX)?;
    let (prefix, wallet) = rest.split_once('/')?;
    let key_type = match prefix {
        "ecdsa" => KeyType::Secp256k1,
        "eddsa" => KeyType::Ed25519,
        _ => return None,
    };
    (!wallet.is_empty()).then_some((key_type, wallet))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_not_pending_imports() {
        let name = pending_name(KeyType::Ed25519, "w/1");
        assert_eq!(name, "mpcium-import-pending/eddsa/w/1");
        assert_eq!(parse_pending_name(&name), Some((KeyType::Ed25519, "w/1")));
        assert_eq!(parse_pending_name("ecdsa-aux/x"), None);
        assert_eq!(parse_pending_name("mpcium-import-pending/rsa/w"), None);
        assert_eq!(parse_pending_name("mpcium-import-pending/ecdsa/"), None);
    }
}
