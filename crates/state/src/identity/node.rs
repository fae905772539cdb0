//! A node's identity: the public `<node>_identity.json` every peer holds, and the node's own
//! Ed25519 private key `<node>_private.key` (hex) or `<node>_private.key.age` (age, passphrase).
//!
//! Start-up uses [`load_node_signing_key`] and [`load_peer_identities`]; the CLI uses the
//! writers. Formats are the reference's, so files made by either tool work with both.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::age_file::{self, AgeError};
use super::files::{self, FileError};
use super::peers::Peers;
use super::secret::SecretText;

/// Why a node identity or key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Reading the file failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// Decrypting an `.age` key failed.
    #[error("{}: {source}", path.display())]
    Age {
        /// The encrypted key file.
        path: PathBuf,
        /// What went wrong.
        source: AgeError,
    },
    /// The contents are malformed.
    #[error("{}: {detail}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
}

/// Public identity of one node, `<node>_identity.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// Node name, as in `peers.json`.
    pub node_name: String,
    /// Node ID, as in `peers.json`.
    pub node_id: String,
    /// Hex of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

/// A node's Ed25519 signing key; zeroized on drop, `Debug` prints `<redacted>`.
pub struct NodeSigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for NodeSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeSigningKey(<redacted>)")
    }
}

impl NodeSigningKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Parses key file text: hex of the 64-byte seed‖public key (the reference's form) or of a
    /// 32-byte seed; surrounding whitespace is ignored.
    pub fn from_key_text(text: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(text)
            .map_err(|_| "the key file is not text; expected hex".to_owned())?
            .trim();
        let bytes = Zeroizing::new(hex::decode(text).map_err(|_| {
            "the key is not hex; expected 128 hex characters (seed and public key)".to_owned()
        })?);
        match bytes.len() {
            64 => {
                let mut pair = Zeroizing::new([0u8; 64]);
                pair.copy_from_slice(&bytes);
                ed25519_dalek::SigningKey::from_keypair_bytes(&pair)
                    .map(Self)
                    .map_err(|_| "the public half does not match the private seed".to_owned())
            }
            32 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                seed.copy_from_slice(&bytes);
                Ok(Self(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
            n => Err(format!(
                "the key is {n} bytes; expected 64 (seed and public key) or 32 (seed)"
            )),
        }
    }

    /// Key file text in the reference's form: hex of seed‖public key (128 characters).
    pub fn to_key_text(&self) -> Zeroizing<String> {
        let pair = Zeroizing::new(self.0.to_keypair_bytes());
        Zeroizing::new(hex::encode(pair.as_slice()))
    }

    /// Hex of the 32-byte public key.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }

    /// The underlying signing key, for the transport layer.
    pub fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        &self.0
    }
}

/// `<node>_identity.json`.
pub fn identity_file_name(node: &str) -> String {
    format!("{node}_identity.json")
}

/// `<node>_private.key`, or `<node>_private.key.age` when `encrypted`.
pub fn private_key_file_name(node: &str, encrypted: bool) -> String {
    if encrypted {
        format!("{node}_private.key.age")
    } else {
        format!("{node}_private.key")
    }
}

impl NodeIdentity {
    /// The public identity of `key` for the node `name`/`id`, stamped now.
    pub fn new(name: &str, id: &str, key: &NodeSigningKey) -> Self {
        Self {
            node_name: name.to_owned(),
            node_id: id.to_owned(),
            public_key: key.public_key_hex(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// Pretty JSON with two-space indent, as the reference writes it.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Reads and parses an identity file, checking the public key is 32 bytes of hex.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let bytes = files::read_small_file(path)?;
        let malformed = |detail: String| IdentityError::Malformed {
            path: path.to_path_buf(),
            detail,
        };
        let identity: Self = serde_json::from_slice(&bytes).map_err(|e| {
            malformed(format!(
                "not a node identity file ({e}); regenerate it with `mpcium-cli generate-identity`"
            ))
        })?;
        identity.verifying_key().map_err(malformed)?;
        Ok(identity)
    }

    /// The public key, parsed.
    pub fn verifying_key(&self) -> Result<ed25519_dalek::VerifyingKey, String> {
        let bytes = hex::decode(&self.public_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                format!(
                    "public_key must be 64 hex characters (32 bytes), got {} characters",
                    self.public_key.len()
                )
            })?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| "public_key is not a valid Ed25519 point".to_owned())
    }
}

/// Loads node `name`'s signing key from `dir`: `<name>_private.key.age` decrypted with
/// `passphrase` when one is given, else the plain `<name>_private.key`.
pub fn load_node_signing_key(
    dir: &Path,
    name: &str,
    passphrase: Option<&SecretText>,
) -> Result<NodeSigningKey, IdentityError> {
    let path = dir.join(private_key_file_name(name, passphrase.is_some()));
    let raw = Zeroizing::new(files::read_small_file(&path)?);
    let text = match passphrase {
        Some(pass) => age_file::decrypt(&raw, pass).map_err(|source| IdentityError::Age {
            path: path.clone(),
            source,
        })?,
        None => raw,
    };
    NodeSigningKey::from_key_text(&text).map_err(|detail| IdentityError::Malformed { path, detail })
}

/// Loads every peer's `<name>_identity.json` from `dir`, checking each `node_name` and `node_id`
/// match `peers`. Returned in the order of `peers`.
pub fn load_peer_identities(dir: &Path, peers: &Peers) -> Result<Vec<NodeIdentity>, IdentityError> {
    peers
        .iter()
        .map(|peer| {
            let path = dir.join(identity_file_name(&peer.name));
            let identity = NodeIdentity::load(&path)?;
            if identity.node_name != peer.name || identity.node_id != peer.id {
                return Err(IdentityError::Malformed {
                    path,
                    detail: format!(
                        "belongs to {} ({}) but peers.json lists {} with id {}; regenerate the \
                         identity or use the matching peers.json",
                        identity.node_name, identity.node_id, peer.name, peer.id
                    ),
                });
            }
            Ok(identity)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_node_key_hides_the_seed() {
        let key = NodeSigningKey::generate();
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains(&key.to_key_text()[..16]));
    }

    #[test]
    fn key_text_round_trips_and_a_bare_seed_is_accepted() {
        let key = NodeSigningKey::generate();
        let text = key.to_key_text();
        assert_eq!(text.len(), 128);
        let again = NodeSigningKey::from_key_text(text.as_bytes()).unwrap();
        assert_eq!(again.public_key_hex(), key.public_key_hex());
        let seed_only = NodeSigningKey::from_key_text(text[..64].as_bytes()).unwrap();
        assert_eq!(seed_only.public_key_hex(), key.public_key_hex());
    }

    #[test]
    fn keypair_with_a_foreign_public_half_is_rejected() {
        let a = NodeSigningKey::generate().to_key_text();
        let b = NodeSigningKey::generate().to_key_text();
        let mixed = format!("{}{}", &a[..64], &b[64..]);
        let err = NodeSigningKey::from_key_text(mixed.as_bytes()).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
    }

    #[test]
    fn identity_with_a_short_public_key_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node0_identity.json");
        std::fs::write(
            &path,
            r#"{"node_name":"node0","node_id":"a","public_key":"abcd","created_at":"x"}"#,
        )
        .unwrap();
        let err = NodeIdentity::load(&path).unwrap_err();
        assert!(err.to_string().contains("64 hex characters"), "{err}");
    }

    #[test]
    fn encrypted_key_loads_only_with_the_right_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let key = NodeSigningKey::generate();
        let pass = SecretText::new("a-good-passphrase!".into());
        let ct = age_file::encrypt(key.to_key_text().as_bytes(), &pass, Some(4)).unwrap();
        std::fs::write(dir.path().join("node0_private.key.age"), ct).unwrap();
        let loaded = load_node_signing_key(dir.path(), "node0", Some(&pass)).unwrap();
        assert_eq!(loaded.public_key_hex(), key.public_key_hex());
        let wrong = SecretText::new("not-the-passphrase!".into());
        let err = load_node_signing_key(dir.path(), "node0", Some(&wrong)).unwrap_err();
        assert!(err.to_string().contains("wrong passphrase"), "{err}");
    }
}
