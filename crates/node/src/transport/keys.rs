//! Long-term keys for node-to-node messages.
//!
//! A node's Ed25519 identity key (from `identity/<name>_private.key`) signs every envelope. For
//! confidentiality, each pair of nodes shares a symmetric key derived from an X25519 agreement
//! between their identity keys, converted to Montgomery form (the libsodium
//! `ed25519_sk_to_curve25519` construction), then HKDF-SHA256 with both node ids as context. The
//! keys are therefore authenticated by the identities themselves: there is no key-exchange round
//! to race against or to forge (the reference exchanges unauthenticated-at-rest ephemeral keys at
//! start-up and has known races around it).
//!
//! Not covered: forward secrecy. Whoever steals a node's identity key can decrypt recorded traffic
//! to and from that node; protocol secrets in that traffic are per-session and useless once the
//! session has ended, but key shares move only in resharing, which therefore also deserves TLS on
//! the NATS connection.

use std::collections::HashMap;

use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::Zeroizing;

/// Why peer keys could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The peer's public key is a low-order point: no shared secret can be agreed with it.
    #[error("peer {node_id} has a degenerate public key; regenerate its identity")]
    DegeneratePeerKey {
        /// The peer's node id.
        node_id: String,
    },
    /// HKDF refused to derive the pairwise key (cannot happen for 32-byte outputs).
    #[error("cannot derive the key shared with {node_id}")]
    Derivation {
        /// The peer's node id.
        node_id: String,
    },
    /// The same node id appears twice.
    #[error("peer {node_id} is listed twice")]
    DuplicatePeer {
        /// The duplicated node id.
        node_id: String,
    },
}

/// This node's identity for the transport: its id and signing key.
pub struct LocalKeys {
    node_id: String,
    signing: SigningKey,
}

impl std::fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeys")
            .field("node_id", &self.node_id)
            .field("signing", &"<redacted>")
            .finish()
    }
}

impl LocalKeys {
    /// Wraps this node's id and identity key.
    pub fn new(node_id: String, signing: SigningKey) -> Self {
        Self { node_id, signing }
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The identity signing key.
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    fn dh_secret(&self) -> StaticSecret {
        StaticSecret::from(*Zeroizing::new(self.signing.to_scalar_bytes()))
    }
}

/// What this node knows about one peer: how to verify it and the key it shares with us.
pub struct PeerKeys {
    verifying: VerifyingKey,
    shared: XChaCha20Poly1305,
}

impl std::fmt::Debug for PeerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerKeys")
            .field("verifying", &hex::encode(self.verifying.as_bytes()))
            .field("shared", &"<redacted>")
            .finish()
    }
}

impl PeerKeys {
    /// The peer's identity key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    /// The AEAD keyed with the secret this node and the peer share.
    pub(crate) fn cipher(&self) -> &XChaCha20Poly1305 {
        &self.shared
    }
}

/// Keys for every peer of the cluster, including this node itself (so a node can address itself
/// through the same path as everyone else).
#[derive(Debug)]
pub struct KeyRing {
    local: LocalKeys,
    peers: HashMap<String, PeerKeys>,
}

impl KeyRing {
    /// Derives the pairwise keys with every peer in `peers` (node id → identity key).
    pub fn new(
        local: LocalKeys,
        peers: impl IntoIterator<Item = (String, VerifyingKey)>,
    ) -> Result<Self, KeyError> {
        let secret = local.dh_secret();
        let mut map = HashMap::new();
        for (node_id, verifying) in peers {
            let their = XPublicKey::from(verifying.to_montgomery().to_bytes());
            let dh = secret.diffie_hellman(&their);
            if !dh.was_contributory() {
                return Err(KeyError::DegeneratePeerKey { node_id });
            }
            let shared =
                pairwise_cipher(dh.as_bytes(), local.node_id(), &node_id).ok_or_else(|| {
                    KeyError::Derivation {
                        node_id: node_id.clone(),
                    }
                })?;
            if map
                .insert(node_id.clone(), PeerKeys { verifying, shared })
                .is_some()
            {
                return Err(KeyError::DuplicatePeer { node_id });
            }
        }
        Ok(Self { local, peers: map })
    }

    /// This node's keys.
    pub fn local(&self) -> &LocalKeys {
        &self.local
    }

    /// Keys for `node_id`, if it is a known peer.
    pub fn peer(&self, node_id: &str) -> Option<&PeerKeys> {
        self.peers.get(node_id)
    }
}

fn pairwise_cipher(dh: &[u8; 32], a: &str, b: &str) -> Option<XChaCha20Poly1305> {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut info = Vec::with_capacity(lo.len() + hi.len() + 1);
    info.extend_from_slice(lo.as_bytes());
    info.push(0);
    info.extend_from_slice(hi.as_bytes());
    let hk = Hkdf::<Sha256>::new(Some(b"mpcium-rs/p2p/v1"), dh);
    let mut key = Zeroizing::new([0u8; 32]);
    hk.expand(&info, key.as_mut()).ok()?;
    Some(XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(
        key.as_ref(),
    )))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::rngs::OsRng;

    pub(crate) fn must_ring(ids: &[&str]) -> Vec<KeyRing> {
        let keys: Vec<SigningKey> = ids
            .iter()
            .map(|_| SigningKey::generate(&mut OsRng))
            .collect();
        let publics: Vec<(String, VerifyingKey)> = ids
            .iter()
            .zip(&keys)
            .map(|(id, k)| (id.to_string(), k.verifying_key()))
            .collect();
        ids.iter()
            .zip(keys)
            .map(|(id, k)| {
                KeyRing::new(LocalKeys::new(id.to_string(), k), publics.clone()).unwrap()
            })
            .collect()
    }

    #[test]
    fn both_sides_of_a_pair_derive_the_same_key() {
        use chacha20poly1305::aead::Aead;
        let rings = must_ring(&["a", "b"]);
        let nonce = [7u8; 24];
        let ct = rings[0]
            .peer("b")
            .unwrap()
            .cipher()
            .encrypt(&nonce.into(), &b"hi"[..])
            .unwrap();
        let pt = rings[1]
            .peer("a")
            .unwrap()
            .cipher()
            .decrypt(&nonce.into(), &ct[..])
            .unwrap();
        assert_eq!(pt, b"hi");
    }

    #[test]
    fn debug_output_hides_key_material() {
        let rings = must_ring(&["a", "b"]);
        let text = format!("{:?}", rings[0]);
        assert!(text.contains("<redacted>"));
        let secret = hex::encode(rings[0].local().signing_key().to_bytes());
        assert!(!text.contains(&secret));
    }
}
