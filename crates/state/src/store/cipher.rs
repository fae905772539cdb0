//! Record encryption: Argon2id key derivation from the database password and per-record
//! XChaCha20-Poly1305 sealing with the record's location bound as associated data.
//!
//! Sealed record layout (version 1): `0x01 ‖ nonce (24 bytes, random) ‖ ciphertext ‖ tag (16)`.
//! Associated data: `table name ‖ 0x00 ‖ record key ‖ schema version (u32, big-endian)`, so a
//! value moved to another key or table, or a byte flipped anywhere, fails authentication.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use super::error::StoreError;
use super::secret::SecretPassword;

/// Version byte of the sealed record layout.
const RECORD_VERSION: u8 = 1;
/// XChaCha20 nonce length.
const NONCE_LEN: usize = 24;
/// Length of the random per-database KDF salt.
pub(crate) const SALT_LEN: usize = 16;
/// Length of the encoded [`KdfParams`] plus salt in the `meta` table.
const KDF_RECORD_LEN: usize = 12 + SALT_LEN;

/// Argon2id cost parameters, fixed when a store is created and stored beside its salt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism (lanes).
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: about 0.2 s on the reference machine, paid once per start.
    fn default() -> Self {
        Self {
            memory_kib: 64 * 1024,
            iterations: 3,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    /// The cheapest parameters Argon2 accepts; for tests only, never for real key material.
    pub fn insecure_for_tests() -> Self {
        Self {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }
}

/// The KDF parameters and salt a store was created with (stored in its `meta` table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KdfRecord {
    pub(crate) params: KdfParams,
    pub(crate) salt: [u8; SALT_LEN],
}

impl KdfRecord {
    /// Fresh parameters with a random salt, for a new store.
    pub(crate) fn generate(params: KdfParams) -> Self {
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        Self { params, salt }
    }

    /// `memory_kib ‖ iterations ‖ parallelism` (u32 big-endian each) `‖ salt`.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(KDF_RECORD_LEN);
        out.extend_from_slice(&self.params.memory_kib.to_be_bytes());
        out.extend_from_slice(&self.params.iterations.to_be_bytes());
        out.extend_from_slice(&self.params.parallelism.to_be_bytes());
        out.extend_from_slice(&self.salt);
        out
    }

    /// Parses [`KdfRecord::encode`] output.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let bad = || StoreError::CorruptMeta {
            what: "kdf parameters",
        };
        let bytes: &[u8; KDF_RECORD_LEN] = bytes.try_into().map_err(|_| bad())?;
        let (params, salt) = bytes.split_at(12);
        let word = |i: usize| -> Result<u32, StoreError> {
            let chunk = params.get(i * 4..i * 4 + 4).ok_or_else(bad)?;
            Ok(u32::from_be_bytes(chunk.try_into().map_err(|_| bad())?))
        };
        Ok(Self {
            params: KdfParams {
                memory_kib: word(0)?,
                iterations: word(1)?,
                parallelism: word(2)?,
            },
            salt: salt.try_into().map_err(|_| bad())?,
        })
    }

    /// Runs Argon2id over the password; CPU- and memory-heavy by design.
    pub(crate) fn derive(&self, password: &SecretPassword) -> Result<RecordCipher, StoreError> {
        let invalid = |e: argon2::Error| StoreError::InvalidKdfParams {
            reason: e.to_string(),
        };
        let params = Params::new(
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
            Some(32),
        )
        .map_err(invalid)?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(password.as_bytes(), &self.salt, key.as_mut())
            .map_err(invalid)?;
        Ok(RecordCipher::new(&key))
    }
}

/// Seals and opens records under the store key. The AEAD state holds the key and is zeroized on
/// drop (the `chacha20poly1305` crate's `zeroize` support).
pub(crate) struct RecordCipher {
    aead: XChaCha20Poly1305,
}

impl RecordCipher {
    fn new(key: &Zeroizing<[u8; 32]>) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key.as_slice())),
        }
    }

    /// Encrypts `plaintext` for the record at `table`/`key`.
    pub(crate) fn seal(
        &self,
        table: &str,
        key: &[u8],
        schema: u32,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let aad = associated_data(table, key, schema);
        let ciphertext = self
            .aead
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Bug {
                what: "xchacha20poly1305 refused to encrypt a record",
            })?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(RECORD_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts the record at `table`/`key`; `None` if it fails authentication.
    pub(crate) fn open(
        &self,
        table: &str,
        key: &[u8],
        schema: u32,
        sealed: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, u8> {
        let Some((&version, rest)) = sealed.split_first() else {
            return Ok(None);
        };
        if version != RECORD_VERSION {
            return Err(version);
        }
        if rest.len() < NONCE_LEN {
            return Ok(None);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = associated_data(table, key, schema);
        Ok(self
            .aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()
            .map(Zeroizing::new))
    }
}

fn associated_data(table: &str, key: &[u8], schema: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(table.len() + 1 + key.len() + 4);
    aad.extend_from_slice(table.as_bytes());
    aad.push(0);
    aad.extend_from_slice(key);
    aad.extend_from_slice(&schema.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn must_cipher(password: &str) -> RecordCipher {
        let record = KdfRecord {
            params: KdfParams::insecure_for_tests(),
            salt: [7u8; SALT_LEN],
        };
        match record.derive(&SecretPassword::new(password.to_owned())) {
            Ok(cipher) => cipher,
            Err(e) => panic!("derive failed: {e}"),
        }
    }

    #[test]
    fn a_sealed_record_opens_only_at_its_own_table_key_and_schema() {
        let cipher = must_cipher("pw");
        let sealed = cipher.seal("shares", b"k1", 1, b"secret").unwrap();
        assert_eq!(
            cipher.open("shares", b"k1", 1, &sealed).unwrap().as_deref(),
            Some(&b"secret".to_vec())
        );
        assert_eq!(cipher.open("shares", b"k2", 1, &sealed).unwrap(), None);
        assert_eq!(cipher.open("aux", b"k1", 1, &sealed).unwrap(), None);
        assert_eq!(cipher.open("shares", b"k1", 2, &sealed).unwrap(), None);
        assert_eq!(
            must_cipher("other")
                .open("shares", b"k1", 1, &sealed)
                .unwrap(),
            None
        );
    }

    #[test]
    fn an_unknown_record_version_is_reported_not_guessed() {
        let cipher = must_cipher("pw");
        let mut sealed = cipher.seal("shares", b"k", 1, b"v").unwrap();
        sealed[0] = 9;
        assert_eq!(cipher.open("shares", b"k", 1, &sealed), Err(9));
    }

    #[test]
    fn kdf_record_encoding_round_trips_and_rejects_wrong_lengths() {
        let record = KdfRecord::generate(KdfParams::default());
        assert_eq!(KdfRecord::decode(&record.encode()).unwrap(), record);
        assert!(KdfRecord::decode(&record.encode()[1..]).is_err());
    }

    #[test]
    fn the_same_password_and_salt_derive_the_same_key() {
        let a = must_cipher("same");
        let sealed = a.seal("t", b"k", 1, b"x").unwrap();
        assert!(must_cipher("same")
            .open("t", b"k", 1, &sealed)
            .unwrap()
            .is_some());
    }

    /// Pins the on-disk format: KDF (Argon2id v1.3), AEAD, record layout and associated data.
    /// Generated once by this code; if it stops opening, stores written earlier stop opening too.
    #[test]
    fn a_record_sealed_by_an_earlier_build_still_opens() {
        const SEALED: &str = "012c990b285f68e7de681f40624d943b883f468b7fe06840558564292c834892\
                              d5df99632b319925388aca9e80be902ca929dea357f2ecae3e";
        let record = KdfRecord {
            params: KdfParams::insecure_for_tests(),
            salt: *b"mpcium-golden-16",
        };
        let cipher = record
            .derive(&SecretPassword::new("golden password".to_owned()))
            .unwrap();
        let sealed = hex::decode(SEALED).unwrap();
        let plaintext = cipher.open("shares", b"golden-key", 1, &sealed).unwrap();
        assert_eq!(plaintext.as_deref(), Some(&b"golden plaintext".to_vec()));
    }
}
