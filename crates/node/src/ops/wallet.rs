//! A node's wallets in its local store: key shares (sealed by the engine, encrypted by the
//! store) and the keyinfo the node recorded when it took part in keygen. The local keyinfo is
//! what a node trusts when asked to sign — never the shared registry.

use mpcium_protocol::KeyType;
use mpcium_tss::ecdsa::{EcdsaPublicKey, KeyShare};
use mpcium_tss::eddsa::EddsaKeyShare;

use mpcium_state::registry::KeyInfo;
use mpcium_state::store::{self, Batch, Store};

use crate::error::{BadRequest, Io, NodeError, ProtocolFault};
use crate::session::control::Output;

/// The store's name for a key type.
pub fn store_key_type(key_type: KeyType) -> store::KeyType {
    match key_type {
        KeyType::Secp256k1 => store::KeyType::Ecdsa,
        KeyType::Ed25519 => store::KeyType::Eddsa,
    }
}

fn storage_failure(what: &str, error: impl std::fmt::Display) -> NodeError {
    NodeError::io(Io::StorageRead, format!("{what}: {error}"))
}

/// Keygen indices of `nodes` in a wallet's committee, in the order given.
pub trait CommitteeIndices {
    /// Maps each node id to its keygen index; fails for a node outside the committee or a
    /// node listed twice.
    fn keygen_indices(&self, nodes: &[String]) -> Result<Vec<u16>, NodeError>;

    /// [`CommitteeIndices::keygen_indices`] of a signing set, which must be exactly the
    /// wallet's threshold of committee members; `what` names the protocol in the error.
    fn signer_indices(&self, nodes: &[String], what: &str) -> Result<Vec<u16>, NodeError>;
}

impl CommitteeIndices for KeyInfo {
    fn keygen_indices(&self, nodes: &[String]) -> Result<Vec<u16>, NodeError> {
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            let index = self
                .participant_peer_ids
                .iter()
                .position(|p| p == node)
                .and_then(|i| u16::try_from(i).ok())
                .ok_or_else(|| {
                    NodeError::bad_request(
                        BadRequest::IncompatiblePeers,
                        format!("node {node} does not hold a share of this wallet"),
                    )
                })?;
            if out.contains(&index) {
                return Err(NodeError::bad_request(
                    BadRequest::IncompatiblePeers,
                    format!("node {node} is listed twice"),
                ));
            }
            out.push(index);
        }
        Ok(out)
    }

    fn signer_indices(&self, nodes: &[String], what: &str) -> Result<Vec<u16>, NodeError> {
        let signers = self.keygen_indices(nodes)?;
        if signers.len() != self.threshold as usize {
            return Err(NodeError::bad_request(
                BadRequest::WrongParticipantCount,
                format!(
                    "{what} needs exactly {} participants, got {}",
                    self.threshold,
                    signers.len()
                ),
            ));
        }
        Ok(signers)
    }
}

/// The keyinfo this node stored for a wallet's key, if any.
pub fn load_keyinfo(
    store: &Store,
    key_type: KeyType,
    wallet: &str,
) -> Result<Option<KeyInfo>, NodeError> {
    let Some(bytes) = store
        .keyinfo(store_key_type(key_type), wallet)
        .map_err(|e| storage_failure("cannot read keyinfo", e))?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| NodeError::io(Io::Corrupt, format!("stored keyinfo of {wallet}: {e}")))
}

/// Loads version `version` of a wallet's ECDSA share.
pub fn load_ecdsa_share(store: &Store, wallet: &str, version: u64) -> Result<KeyShare, NodeError> {
    let sealed = store
        .share(store::KeyType::Ecdsa, wallet, version)
        .map_err(|e| storage_failure("cannot read key share", e))?
        .ok_or_else(|| {
            NodeError::bad_request(
                BadRequest::UnknownKey,
                format!("ecdsa share v{version} of {wallet} is missing"),
            )
        })?;
    KeyShare::open(sealed.expose()).map_err(|e| NodeError::io(Io::KeyLoad, e.to_string()))
}

/// Loads version `version` of a wallet's EdDSA share.
pub fn load_eddsa_share(
    store: &Store,
    wallet: &str,
    version: u64,
) -> Result<EddsaKeyShare, NodeError> {
    let sealed = store
        .share(store::KeyType::Eddsa, wallet, version)
        .map_err(|e| storage_failure("cannot read key share", e))?
        .ok_or_else(|| {
            NodeError::bad_request(
                BadRequest::UnknownKey,
                format!("eddsa share v{version} of {wallet} is missing"),
            )
        })?;
    let (secret, public) = unpack(sealed.expose()).ok_or_else(|| {
        NodeError::io(
            Io::Corrupt,
            format!("stored eddsa share of {wallet} is truncated"),
        )
    })?;
    EddsaKeyShare::open(secret, public).map_err(|e| NodeError::io(Io::KeyLoad, e.to_string()))
}

/// Stores both shares of a new wallet and its keyinfo in one transaction, and returns the
/// public keys as a keygen [`Output`].
pub fn store_new_wallet(
    store: &Store,
    wallet: &str,
    info: &KeyInfo,
    ecdsa: &KeyShare,
    eddsa: &EddsaKeyShare,
) -> Result<Output, NodeError> {
    let save = |e: &dyn std::fmt::Display| NodeError::io(Io::KeySave, e.to_string());
    let ecdsa_sealed = ecdsa.seal().map_err(|e| save(&e))?;
    let eddsa_sealed = eddsa.seal().map_err(|e| save(&e))?;
    let eddsa_blob = pack(&eddsa_sealed.secret, &eddsa_sealed.public);
    let info_json = serde_json::to_vec(info).map_err(|e| save(&e))?;
    let mut batch = Batch::new();
    batch.put_share(store::KeyType::Ecdsa, wallet, info.version, &ecdsa_sealed);
    batch.put_share(store::KeyType::Eddsa, wallet, info.version, &eddsa_blob);
    batch.put_keyinfo(store::KeyType::Ecdsa, wallet, &info_json);
    batch.put_keyinfo(store::KeyType::Eddsa, wallet, &info_json);
    store
        .commit(batch)
        .map_err(|e| NodeError::io(Io::StorageWrite, e.to_string()))?;
    keygen_output(&ecdsa.public_key(), eddsa)
}

/// The keygen [`Output`] of a wallet this node already holds.
pub fn stored_public_keys(store: &Store, wallet: &str) -> Result<Output, NodeError> {
    // Each key has its own version: a reshare moves one key at a time.
    let version = |key_type| {
        load_keyinfo(store, key_type, wallet)?
            .map(|info| info.version)
            .ok_or_else(|| {
                NodeError::bad_request(
                    BadRequest::UnknownKey,
                    format!("wallet {wallet} is not stored"),
                )
            })
    };
    let ecdsa = load_ecdsa_share(store, wallet, version(KeyType::Secp256k1)?)?;
    let eddsa = load_eddsa_share(store, wallet, version(KeyType::Ed25519)?)?;
    keygen_output(&ecdsa.public_key(), &eddsa)
}

fn keygen_output(ecdsa: &EcdsaPublicKey, eddsa: &EddsaKeyShare) -> Result<Output, NodeError> {
    let eddsa = eddsa
        .public_key()
        .map_err(|e| NodeError::protocol(ProtocolFault::MalformedOutput, e.to_string()))?;
    Ok(Output::Keygen {
        ecdsa: hex::encode(ecdsa.compressed()),
        eddsa: hex::encode(eddsa),
    })
}

/// `u32 len(a) ‖ a ‖ b`: the EdDSA share is two engine envelopes stored as one record.
pub(crate) fn pack(a: &[u8], b: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(4 + a.len() + b.len()));
    // Envelopes are kilobytes; u32 cannot overflow.
    out.extend_from_slice(&(a.len() as u32).to_be_bytes());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

pub(crate) fn unpack(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    rest.split_at_checked(u32::from_be_bytes(*len) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_envelopes_unpack_to_the_same_parts() {
        let packed = pack(b"secret", b"public");
        assert_eq!(unpack(&packed), Some((&b"secret"[..], &b"public"[..])));
        assert_eq!(unpack(&packed[..3]), None);
        assert_eq!(unpack(&packed[..6]), None);
    }

    #[test]
    fn committee_indices_follow_keygen_order_and_reject_strangers() {
        let info = KeyInfo {
            participant_peer_ids: vec!["a".into(), "b".into(), "c".into()],
            threshold: 2,
            version: 1,
        };
        assert_eq!(
            info.keygen_indices(&["c".into(), "a".into()]).unwrap(),
            vec![2, 0]
        );
        assert!(info.keygen_indices(&["d".into()]).is_err());
        assert!(info.keygen_indices(&["a".into(), "a".into()]).is_err());
    }
}
