//! [`LocalSigner`]: an initiator or authorizer key read from a key file, plain hex or
//! age-encrypted with a passphrase (the files `mpcium-cli generate-initiator` and the reference
//! CLI write), and [`Passphrase`].
//!
//! Key text: Ed25519 — hex of the 32-byte seed, or of 64 bytes seed ‖ public key; P-256 — hex
//! of the SEC1 DER private key (PKCS#8 DER is accepted too). Surrounding whitespace is ignored.
//! Decrypted text and key bytes are zeroized; `Debug` never shows them.

use std::fmt;
use std::path::{Path, PathBuf};

use ed25519_dalek::Signer as _;
use mpcium_protocol::{InitiatorAlgorithm, PublicKey};
use p256::pkcs8::DecodePrivateKey as _;
use zeroize::Zeroizing;

use crate::signer::{Signer, SignerError};

/// Highest scrypt work factor (log2 N) accepted when decrypting, as Go age's default limit.
pub const MAX_AGE_WORK_FACTOR: u8 = 22;

/// Key file names looked for by [`LocalSigner::find_in`], in order: the seed's names, then the
/// reference's.
pub const INITIATOR_KEY_FILES: [&str; 4] = [
    "initiator_private.key",
    "initiator_private.key.age",
    "event_initiator.key",
    "event_initiator.key.age",
];

/// Largest key file read (a hex key is well under 1 KiB; an age file a little more).
const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;

/// Why a key file could not be turned into a signer.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS reason.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than any key file.
    #[error("key file {path} is {len} bytes; a key file is at most {max} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// None of [`INITIATOR_KEY_FILES`] exists in the directory.
    #[error("no initiator key file in {dir}; expected one of {expected}")]
    NotFound {
        /// The directory searched.
        dir: PathBuf,
        /// The names looked for.
        expected: String,
    },
    /// An `.age` file was given without a passphrase.
    #[error("key file {path} is age-encrypted; supply its passphrase")]
    PassphraseRequired {
        /// The file.
        path: PathBuf,
    },
    /// Decryption failed: wrong passphrase, not an age file, or too expensive.
    #[error("cannot decrypt key file {path}: {reason}")]
    Decrypt {
        /// The file.
        path: PathBuf,
        /// What age reported (never contains key material).
        reason: String,
    },
    /// The (decrypted) text is not a key of the expected algorithm.
    #[error("key file does not hold a {algorithm} private key: {reason}")]
    Format {
        /// Expected algorithm.
        algorithm: InitiatorAlgorithm,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A passphrase, zeroized on drop; `Debug` prints `<redacted>`.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self(Zeroizing::new(text.into()))
    }

    fn to_age_secret(&self) -> age::secrecy::SecretString {
        age::secrecy::SecretString::from(self.0.as_str().to_owned())
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// The private key; both dalek and RustCrypto keys zeroize themselves on drop.
enum SecretKey {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// A signer holding its private key in memory.
pub struct LocalSigner {
    key: SecretKey,
    public: PublicKey,
}

impl fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSigner")
            .field("algorithm", &self.algorithm())
            .field("public_key", &self.public.to_text())
            .field("private_key", &format_args!("<redacted>"))
            .finish()
    }
}

impl LocalSigner {
    /// An Ed25519 signer from its 32-byte seed.
    pub fn ed25519_from_seed(seed: &[u8; 32]) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let public = PublicKey::Ed25519(key.verifying_key());
        Self {
            key: SecretKey::Ed25519(key),
            public,
        }
    }

    /// A P-256 signer from its 32-byte big-endian scalar.
    pub fn p256_from_scalar(scalar: &[u8; 32]) -> Result<Self, KeyFileError> {
        p256::ecdsa::SigningKey::from_slice(scalar)
            .map(Self::p256)
            .map_err(|_| format_error(InitiatorAlgorithm::P256, "not a valid p-256 scalar"))
    }

    fn p256(key: p256::ecdsa::SigningKey) -> Self {
        let public = PublicKey::P256(*key.verifying_key());
        Self {
            key: SecretKey::P256(key),
            public,
        }
    }

    /// Parses key file text (see the module documentation for the formats).
    pub fn from_key_text(algorithm: InitiatorAlgorithm, text: &[u8]) -> Result<Self, KeyFileError> {
        let text = std::str::from_utf8(text)
            .map_err(|_| format_error(algorithm, "the key is not text; expected hex"))?
            .trim();
        let bytes = Zeroizing::new(
            hex::decode(text).map_err(|_| format_error(algorithm, "the key is not hex"))?,
        );
        match algorithm {
            InitiatorAlgorithm::Ed25519 => ed25519_from_bytes(&bytes),
            InitiatorAlgorithm::P256 => p256::SecretKey::from_sec1_der(&bytes)
                .or_else(|_| p256::SecretKey::from_pkcs8_der(&bytes))
                .map(|k| Self::p256(k.into()))
                .map_err(|_| format_error(algorithm, "expected hex of a sec1 or pkcs#8 der key")),
        }
    }

    /// Reads a key file; a path ending in `.age` is decrypted with `passphrase`.
    pub fn from_file(
        algorithm: InitiatorAlgorithm,
        path: &Path,
        passphrase: Option<&Passphrase>,
    ) -> Result<Self, KeyFileError> {
        let contents = Zeroizing::new(read_key_file(path)?);
        if path.extension().is_some_and(|ext| ext == "age") {
            let passphrase = passphrase.ok_or_else(|| KeyFileError::PassphraseRequired {
                path: path.to_owned(),
            })?;
            let plain = decrypt(&contents, passphrase).map_err(|reason| KeyFileError::Decrypt {
                path: path.to_owned(),
                reason,
            })?;
            Self::from_key_text(algorithm, &plain)
        } else {
            Self::from_key_text(algorithm, &contents)
        }
    }

    /// Loads the first of [`INITIATOR_KEY_FILES`] present in `dir`.
    pub fn find_in(
        dir: &Path,
        algorithm: InitiatorAlgorithm,
        passphrase: Option<&Passphrase>,
    ) -> Result<Self, KeyFileError> {
        let path = INITIATOR_KEY_FILES
            .iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file())
            .ok_or_else(|| KeyFileError::NotFound {
                dir: dir.to_owned(),
                expected: INITIATOR_KEY_FILES.join(", "),
            })?;
        Self::from_file(algorithm, &path, passphrase)
    }

    /// The public key, for configuring nodes or verifying locally.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

impl Signer for LocalSigner {
    fn algorithm(&self) -> InitiatorAlgorithm {
        self.public.algorithm()
    }

    fn public_key_hex(&self) -> String {
        self.public.to_text()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignerError> {
        Ok(match &self.key {
            SecretKey::Ed25519(key) => key.sign(msg).to_bytes().to_vec(),
            SecretKey::P256(key) => {
                let sig: p256::ecdsa::Signature = key.sign(msg);
                sig.to_der().as_bytes().to_vec()
            }
        })
    }
}

fn format_error(algorithm: InitiatorAlgorithm, reason: &'static str) -> KeyFileError {
    KeyFileError::Format { algorithm, reason }
}

fn ed25519_from_bytes(bytes: &[u8]) -> Result<LocalSigner, KeyFileError> {
    let alg = InitiatorAlgorithm::Ed25519;
    let (seed, public) = match bytes.len() {
        32 => (bytes, None),
        64 => (bytes.get(..32).unwrap_or_default(), bytes.get(32..)),
        _ => {
            return Err(format_error(
                alg,
                "expected hex of a 32-byte seed or 64 bytes seed and public key",
            ))
        }
    };
    let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
        seed.try_into()
            .map_err(|_| format_error(alg, "expected a 32-byte seed"))?,
    );
    let signer = LocalSigner::ed25519_from_seed(&seed);
    match (public, &signer.public) {
        (Some(public), PublicKey::Ed25519(derived)) if public != derived.as_bytes() => Err(
            format_error(alg, "the public half does not belong to the seed"),
        ),
        _ => Ok(signer),
    }
}

fn read_key_file(path: &Path) -> Result<Vec<u8>, KeyFileError> {
    let read_error = |source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_error)?.len();
    if len > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge {
            path: path.to_owned(),
            len,
            max: MAX_KEY_FILE_BYTES,
        });
    }
    std::fs::read(path).map_err(read_error)
}

fn decrypt(ciphertext: &[u8], passphrase: &Passphrase) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut identity = age::scrypt::Identity::new(passphrase.to_age_secret());
    identity.set_max_work_factor(MAX_AGE_WORK_FACTOR);
    age::decrypt(&identity, ciphertext)
        .map(Zeroizing::new)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_HEX: &str = "0707070707070707070707070707070707070707070707070707070707070707";

    fn must_encrypt(plain: &[u8], pass: &str) -> Vec<u8> {
        let mut recipient = age::scrypt::Recipient::new(Passphrase::new(pass).to_age_secret());
        recipient.set_work_factor(10);
        age::encrypt(&recipient, plain).unwrap()
    }

    fn must_p256_der_hex(scalar: u8) -> String {
        let key = p256::SecretKey::from_slice(&[scalar; 32]).unwrap();
        hex::encode(key.to_sec1_der().unwrap().as_slice())
    }

    fn must_verify(signer: &LocalSigner) {
        let sig = signer.sign(b"msg").unwrap();
        let key = PublicKey::parse(signer.algorithm(), &signer.public_key_hex()).unwrap();
        assert_eq!(key.verify(b"msg", &sig), Ok(()));
    }

    #[test]
    fn an_ed25519_seed_and_the_64_byte_form_give_the_same_key() {
        let short =
            LocalSigner::from_key_text(InitiatorAlgorithm::Ed25519, SEED_HEX.as_bytes()).unwrap();
        let public = hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&[7; 32])
                .verifying_key()
                .as_bytes(),
        );
        let long_text = format!("  {SEED_HEX}{public}\n");
        let long =
            LocalSigner::from_key_text(InitiatorAlgorithm::Ed25519, long_text.as_bytes()).unwrap();
        assert_eq!(short.public_key_hex(), public);
        assert_eq!(long.public_key_hex(), public);
        must_verify(&short);
    }

    #[test]
    fn a_64_byte_ed25519_key_with_a_foreign_public_half_is_refused() {
        let text = format!("{SEED_HEX}{}", "11".repeat(32));
        let err =
            LocalSigner::from_key_text(InitiatorAlgorithm::Ed25519, text.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("does not belong"), "{err}");
    }

    #[test]
    fn a_p256_sec1_der_key_signs_der_signatures_the_nodes_verify() {
        let signer =
            LocalSigner::from_key_text(InitiatorAlgorithm::P256, must_p256_der_hex(3).as_bytes())
                .unwrap();
        assert_eq!(signer.algorithm(), InitiatorAlgorithm::P256);
        assert!(signer.public_key_hex().starts_with("3059"));
        must_verify(&signer);
    }

    #[test]
    fn malformed_key_text_names_the_problem() {
        for (alg, text) in [
            (InitiatorAlgorithm::Ed25519, "zz"),
            (InitiatorAlgorithm::Ed25519, "0011"),
            (InitiatorAlgorithm::P256, SEED_HEX),
        ] {
            let err = LocalSigner::from_key_text(alg, text.as_bytes()).unwrap_err();
            assert!(matches!(err, KeyFileError::Format { .. }), "{err:?}");
            assert!(!err.to_string().contains(SEED_HEX));
        }
    }

    #[test]
    fn an_age_key_file_decrypts_with_its_passphrase_and_not_without() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event_initiator.key.age");
        std::fs::write(&path, must_encrypt(SEED_HEX.as_bytes(), "correct horse!")).unwrap();
        let good = Passphrase::new("correct horse!");
        let signer =
            LocalSigner::find_in(dir.path(), InitiatorAlgorithm::Ed25519, Some(&good)).unwrap();
        assert_eq!(
            signer.public_key_hex(),
            LocalSigner::ed25519_from_seed(&[7; 32]).public_key_hex()
        );
        assert!(matches!(
            LocalSigner::from_file(InitiatorAlgorithm::Ed25519, &path, None),
            Err(KeyFileError::PassphraseRequired { .. })
        ));
        let wrong = Passphrase::new("wrong");
        assert!(matches!(
            LocalSigner::from_file(InitiatorAlgorithm::Ed25519, &path, Some(&wrong)),
            Err(KeyFileError::Decrypt { .. })
        ));
    }

    #[test]
    fn the_seed_file_name_is_preferred_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalSigner::find_in(dir.path(), InitiatorAlgorithm::Ed25519, None).unwrap_err();
        assert!(err.to_string().contains("initiator_private.key"), "{err}");
        std::fs::write(dir.path().join("event_initiator.key"), "11".repeat(32)).unwrap();
        std::fs::write(dir.path().join("initiator_private.key"), SEED_HEX).unwrap();
        let signer = LocalSigner::find_in(dir.path(), InitiatorAlgorithm::Ed25519, None).unwrap();
        assert_eq!(
            signer.public_key_hex(),
            LocalSigner::ed25519_from_seed(&[7; 32]).public_key_hex()
        );
    }

    #[test]
    fn debug_output_hides_private_keys_and_passphrases() {
        let signer =
            LocalSigner::from_key_text(InitiatorAlgorithm::Ed25519, SEED_HEX.as_bytes()).unwrap();
        let shown = format!("{signer:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(
            !shown.contains(SEED_HEX) && !shown.contains("07070707"),
            "{shown}"
        );
        let p256 =
            LocalSigner::from_key_text(InitiatorAlgorithm::P256, must_p256_der_hex(3).as_bytes())
                .unwrap();
        assert!(!format!("{p256:?}").contains("0303030303"));
        assert_eq!(
            format!("{:?}", Passphrase::new("hunter2 secret")),
            "Passphrase(<redacted>)"
        );
    }
}
