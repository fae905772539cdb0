//! Getting a new passphrase for `--encrypt`: from `--password-file`, else one line of stdin
//! when it is not a terminal, else a masked terminal prompt asked twice. The strength rule is
//! checked in every case.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use mpcium_state::identity::files;
use mpcium_state::identity::{check_passphrase_strength, SecretText, WeakPassphrase};
use zeroize::Zeroizing;

/// Test-only: log2 of the scrypt work factor used when encrypting.
pub const WORK_FACTOR_ENV: &str = "MPCIUM_AGE_WORK_FACTOR";

/// Why no usable passphrase was obtained.
#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    /// The two terminal entries differ.
    #[error("passphrases do not match; nothing was written")]
    Mismatch,
    /// The passphrase breaks the strength rule.
    #[error("{0}; nothing was written")]
    Weak(#[from] WeakPassphrase),
    /// The password file could not be read.
    #[error("cannot read password file {}: {detail}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// Nothing was read from stdin.
    #[error(
        "no passphrase given: stdin is not a terminal and is empty; pass --password-file <file> \
         or pipe the passphrase on stdin"
    )]
    EmptyStdin,
    /// Reading stdin or the terminal failed.
    #[error("cannot read the passphrase: {0}")]
    Io(std::io::Error),
    /// The test-only work factor variable is malformed.
    #[error("{WORK_FACTOR_ENV} must be a number from 1 to 22 (test-only setting), got {0:?}")]
    WorkFactor(String),
}

/// Obtains a new passphrase for encrypting a key and checks its strength.
pub fn new_passphrase(password_file: Option<&Path>) -> Result<SecretText, PassphraseError> {
    let passphrase = match password_file {
        Some(path) => read_file(path)?,
        None if !std::io::stdin().is_terminal() => read_stdin_line()?,
        None => prompt_twice()?,
    };
    check_passphrase_strength(&passphrase)?;
    Ok(passphrase)
}

/// The scrypt work factor override from [`WORK_FACTOR_ENV`], if set.
pub fn work_factor() -> Result<Option<u8>, PassphraseError> {
    match std::env::var(WORK_FACTOR_ENV) {
        Err(_) => Ok(None),
        Ok(text) => match text.trim().parse::<u8>() {
            Ok(n) if (1..=22).contains(&n) => Ok(Some(n)),
            _ => Err(PassphraseError::WorkFactor(text)),
        },
    }
}

fn read_file(path: &Path) -> Result<SecretText, PassphraseError> {
    let bytes =
        Zeroizing::new(
            files::read_small_file(path).map_err(|e| PassphraseError::File {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?,
        );
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| PassphraseError::File {
        path: path.to_path_buf(),
        detail: "it is not UTF-8 text".to_owned(),
    })?;
    Ok(SecretText::from_file_text(text))
}

fn read_stdin_line() -> Result<SecretText, PassphraseError> {
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(PassphraseError::Io)?;
    let secret = SecretText::from_file_text(line);
    if read == 0 || secret.is_empty() {
        return Err(PassphraseError::EmptyStdin);
    }
    Ok(secret)
}

fn prompt_twice() -> Result<SecretText, PassphraseError> {
    let first = SecretText::new(
        rpassword::prompt_password("Enter passphrase to encrypt the private key: ")
            .map_err(PassphraseError::Io)?,
    );
    let second = SecretText::new(
        rpassword::prompt_password("Confirm passphrase: ").map_err(PassphraseError::Io)?,
    );
    if first != second {
        return Err(PassphraseError::Mismatch);
    }
    Ok(first)
}
