//! Event-initiator and authorizer key pairs and their public identity files.
//!
//! Initiator: `initiator_identity.json` + `initiator_private.key[.age]` (the seed's names; the
//! reference's `event_initiator.identity.json` / `event_initiator.key[.age]` are read too).
//! Authorizer: `<name>.authorizer.identity.json` + `<name>.authorizer.key[.age]`.
//! Ed25519 private = hex 32-byte seed, public = hex 32 bytes; P-256 private = hex SEC1 DER,
//! public = hex PKIX (SubjectPublicKeyInfo) DER.

use std::path::{Path, PathBuf};

use p256::pkcs8::EncodePublicKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use mpcium_protocol::InitiatorAlgorithm;

/// An initiator or authorizer private key; zeroized on drop, `Debug` prints `<redacted>`.
pub enum InitiatorSigningKey {
    /// Ed25519 key.
    Ed25519(ed25519_dalek::SigningKey),
    /// P-256 ECDSA key.
    P256(p256::ecdsa::SigningKey),
}

impl std::fmt::Debug for InitiatorSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InitiatorSigningKey({}, <redacted>)", self.algorithm())
    }
}

impl InitiatorSigningKey {
    /// A fresh random key of `algorithm`.
    pub fn generate(algorithm: InitiatorAlgorithm) -> Self {
        match algorithm {
            InitiatorAlgorithm::Ed25519 => {
                Self::Ed25519(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
            }
            InitiatorAlgorithm::P256 => {
                Self::P256(p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng))
            }
        }
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> InitiatorAlgorithm {
        match self {
            Self::Ed25519(_) => InitiatorAlgorithm::Ed25519,
            Self::P256(_) => InitiatorAlgorithm::P256,
        }
    }

    /// Key file text: hex seed (Ed25519) or hex SEC1 DER (P-256).
    pub fn to_key_text(&self) -> Result<Zeroizing<String>, String> {
        match self {
            Self::Ed25519(k) => Ok(Zeroizing::new(hex::encode(k.as_bytes()))),
            Self::P256(k) => {
                let der = p256::SecretKey::from(k)
                    .to_sec1_der()
                    .map_err(|e| format!("cannot encode the P-256 key: {e}"))?;
                Ok(Zeroizing::new(hex::encode(der.as_slice())))
            }
        }
    }

    /// Parses key file text for `algorithm` (whitespace around it is ignored).
    pub fn from_key_text(algorithm: InitiatorAlgorithm, text: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(text)
            .map_err(|_| "the key file is not text; expected hex".to_owned())?
            .trim();
        let bytes = Zeroizing::new(hex::decode(text).map_err(|_| "the key is not hex".to_owned())?);
        match algorithm {
            InitiatorAlgorithm::Ed25519 => {
                let seed = <[u8; 32]>::try_from(bytes.as_slice())
                    .map_err(|_| format!("an ed25519 key must be 32 bytes, got {}", bytes.len()))?;
                let seed = Zeroizing::new(seed);
                Ok(Self::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
            InitiatorAlgorithm::P256 => p256::SecretKey::from_sec1_der(&bytes)
                .map(|k| Self::P256(k.into()))
                .map_err(|_| "not a P-256 private key in SEC1 DER".to_owned()),
        }
    }

    /// Public key text: hex of 32 bytes (Ed25519) or hex PKIX DER (P-256).
    pub fn public_key_hex(&self) -> Result<String, String> {
        match self {
            Self::Ed25519(k) => Ok(hex::encode(k.verifying_key().as_bytes())),
            Self::P256(k) => k
                .verifying_key()
                .to_public_key_der()
                .map(|der| hex::encode(der.as_bytes()))
                .map_err(|e| format!("cannot encode the P-256 public key: {e}")),
        }
    }
}

/// Who made a key, where: recorded in initiator and authorizer identity files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// RFC 3339 creation time.
    pub created_at: String,
    /// User name.
    pub created_by: String,
    /// Operating system, as Go's `runtime.GOOS` names it.
    pub machine_os: String,
    /// Host name.
    pub machine_name: String,
}

impl Provenance {
    /// The current time, user and machine.
    pub fn current() -> Self {
        let created_by = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(user_from_passwd)
            .unwrap_or_else(|| "unknown".to_owned());
        let machine_name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned());
        let machine_os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        Self {
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            created_by,
            machine_os: machine_os.to_owned(),
            machine_name,
        }
    }
}

/// The current user's name from `/etc/passwd`, as Go's `user.Current` finds it without `$USER`.
fn user_from_passwd() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    })
}

/// `initiator_identity.json` (or the reference's `event_initiator.identity.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiatorIdentity {
    /// Name given with `--node-name`.
    pub node_name: String,
    /// `ed25519` or `p256`.
    pub algorithm: String,
    /// Public key text (hex).
    pub public_key: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// User who made it.
    pub created_by: String,
    /// Operating system it was made on.
    pub machine_os: String,
    /// Host it was made on.
    pub machine_name: String,
}

/// `<name>.authorizer.identity.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizerIdentity {
    /// Authorizer name (`^[a-zA-Z0-9_-]+$`).
    pub name: String,
    /// `ed25519` or `p256`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub algorithm: String,
    /// Public key text (hex).
    pub public_key: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// User who made it.
    pub created_by: String,
    /// Operating system it was made on.
    pub machine_os: String,
    /// Host it was made on.
    pub machine_name: String,
}

/// File names of the initiator's identity and key for `name` (seed naming), plain key name.
pub fn initiator_file_names(name: &str) -> (String, String) {
    (
        format!("{name}_identity.json"),
        format!("{name}_private.key"),
    )
}

/// File names of an authorizer's identity and plain key.
pub fn authorizer_file_names(name: &str) -> (String, String) {
    (
        format!("{name}.authorizer.identity.json"),
        format!("{name}.authorizer.key"),
    )
}

/// Identity and key file candidates in `dir`, seed names first, then the reference's.
fn initiator_candidates(dir: &Path) -> [(PathBuf, PathBuf); 2] {
    [
        (
            dir.join("initiator_identity.json"),
            dir.join("initiator_private.key"),
        ),
        (
            dir.join("event_initiator.identity.json"),
            dir.join("event_initiator.key"),
        ),
    ]
}

/// Finds the initiator identity file in `dir` under either naming; `None` if neither exists.
pub fn find_initiator_identity(dir: &Path) -> Option<PathBuf> {
    initiator_candidates(dir)
        .into_iter()
        .map(|(identity, _)| identity)
        .find(|p| p.is_file())
}

/// Finds the initiator private key in `dir` (`.age` variant when `encrypted`) under either naming.
pub fn find_initiator_key(dir: &Path, encrypted: bool) -> Option<PathBuf> {
    initiator_candidates(dir)
        .into_iter()
        .map(|(_, key)| {
            if encrypted {
                let mut s = key.into_os_string();
                s.push(".age");
                PathBuf::from(s)
            } else {
                key
            }
        })
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_an_initiator_key_hides_the_secret() {
        for alg in [InitiatorAlgorithm::Ed25519, InitiatorAlgorithm::P256] {
            let key = InitiatorSigningKey::generate(alg);
            let text = key.to_key_text().unwrap();
            let shown = format!("{key:?}");
            assert!(shown.contains("<redacted>"));
            assert!(!shown.contains(&text[..16]));
        }
    }

    #[test]
    fn ed25519_key_texts_have_the_reference_sizes() {
        let key = InitiatorSigningKey::generate(InitiatorAlgorithm::Ed25519);
        assert_eq!(key.to_key_text().unwrap().len(), 64);
        assert_eq!(key.public_key_hex().unwrap().len(), 64);
    }

    #[test]
    fn p256_private_key_round_trips_through_sec1_der() {
        let key = InitiatorSigningKey::generate(InitiatorAlgorithm::P256);
        let text = key.to_key_text().unwrap();
        let again =
            InitiatorSigningKey::from_key_text(InitiatorAlgorithm::P256, text.as_bytes()).unwrap();
        assert_eq!(
            again.public_key_hex().unwrap(),
            key.public_key_hex().unwrap()
        );
        // PKIX DER of an uncompressed P-256 point is 91 bytes.
        assert_eq!(key.public_key_hex().unwrap().len(), 182);
    }

    #[test]
    fn reference_file_names_are_found_when_seed_names_are_absent() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find_initiator_identity(dir.path()).is_none());
        std::fs::write(dir.path().join("event_initiator.identity.json"), "{}").unwrap();
        std::fs::write(dir.path().join("event_initiator.key.age"), "x").unwrap();
        assert!(find_initiator_identity(dir.path())
            .unwrap()
            .ends_with("event_initiator.identity.json"));
        assert!(find_initiator_key(dir.path(), true)
            .unwrap()
            .ends_with("event_initiator.key.age"));
        assert!(find_initiator_key(dir.path(), false).is_none());
    }

    #[test]
    fn p256_public_key_text_is_accepted_by_the_protocol_parser() {
        let key = InitiatorSigningKey::generate(InitiatorAlgorithm::P256);
        let text = key.public_key_hex().unwrap();
        assert!(mpcium_protocol::PublicKey::parse(InitiatorAlgorithm::P256, &text).is_ok());
    }
}
