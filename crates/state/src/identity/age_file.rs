//! Passphrase encryption of key files in the `age` format (scrypt recipient), byte-compatible
//! with the `age`/`rage` command-line tools and with files the reference CLI writes.

use zeroize::Zeroizing;

use super::secret::SecretText;

/// Highest scrypt work factor (log2 N) accepted when decrypting: the default maximum of Go age.
pub const MAX_DECRYPT_WORK_FACTOR: u8 = 22;

/// Why encryption or decryption failed.
#[derive(Debug, thiserror::Error)]
pub enum AgeError {
    /// The passphrase does not open the file.
    #[error("wrong passphrase: it does not decrypt this file")]
    WrongPassphrase,
    /// The file was made with a work factor above [`MAX_DECRYPT_WORK_FACTOR`].
    #[error(
        "the file needs scrypt work factor {required}, above the accepted maximum \
         {MAX_DECRYPT_WORK_FACTOR}; re-encrypt it with default settings"
    )]
    ExcessiveWork {
        /// Work factor the file requires.
        required: u8,
    },
    /// The file is not an age file protected by a passphrase.
    #[error(
        "not a passphrase-encrypted age file ({detail}); encrypt it with `age -p` or `--encrypt`"
    )]
    Format {
        /// What the age library reported.
        detail: String,
    },
    /// Encryption failed.
    #[error("age encryption failed: {detail}")]
    Encrypt {
        /// What the age library reported.
        detail: String,
    },
}

/// Encrypts `plaintext` under `passphrase`. `work_factor` (log2 of scrypt N) overrides the
/// self-calibrating default of about one second; only tests should set it.
pub fn encrypt(
    plaintext: &[u8],
    passphrase: &SecretText,
    work_factor: Option<u8>,
) -> Result<Vec<u8>, AgeError> {
    let mut recipient = age::scrypt::Recipient::new(passphrase.to_age_secret());
    if let Some(log_n) = work_factor {
        recipient.set_work_factor(log_n);
    }
    age::encrypt(&recipient, plaintext).map_err(|e| AgeError::Encrypt {
        detail: e.to_string(),
    })
}

/// Decrypts an age file made with a passphrase (by this crate, `age -p` or `rage -p`).
pub fn decrypt(ciphertext: &[u8], passphrase: &SecretText) -> Result<Zeroizing<Vec<u8>>, AgeError> {
    let mut identity = age::scrypt::Identity::new(passphrase.to_age_secret());
    identity.set_max_work_factor(MAX_DECRYPT_WORK_FACTOR);
    age::decrypt(&identity, ciphertext)
        .map(Zeroizing::new)
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed
            | age::DecryptError::KeyDecryptionFailed
            | age::DecryptError::NoMatchingKeys => AgeError::WrongPassphrase,
            age::DecryptError::ExcessiveWork { required, .. } => {
                AgeError::ExcessiveWork { required }
            }
            other => AgeError::Format {
                detail: other.to_string(),
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(s: &str) -> SecretText {
        SecretText::new(s.to_owned())
    }

    #[test]
    fn encrypted_text_decrypts_with_the_same_passphrase() {
        let ct = encrypt(b"deadbeef", &pass("right-passphrase!"), Some(4)).unwrap();
        assert!(ct.starts_with(b"age-encryption.org/v1\n"));
        let pt = decrypt(&ct, &pass("right-passphrase!")).unwrap();
        assert_eq!(pt.as_slice(), b"deadbeef");
    }

    #[test]
    fn wrong_passphrase_is_reported_as_such() {
        let ct = encrypt(b"deadbeef", &pass("right-passphrase!"), Some(4)).unwrap();
        let err = decrypt(&ct, &pass("wrong-passphrase!")).unwrap_err();
        assert!(matches!(err, AgeError::WrongPassphrase), "{err:?}");
    }

    #[test]
    fn plain_text_is_not_mistaken_for_an_age_file() {
        let err = decrypt(b"0123abcd", &pass("whatever-pass!")).unwrap_err();
        assert!(matches!(err, AgeError::Format { .. }), "{err:?}");
    }
}
