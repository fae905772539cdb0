//! Writing a public identity file and its private key (plain hex or age-encrypted) as one
//! step: everything is checked before the passphrase is asked, and a failure leaves no
//! partial set of files behind.

use std::path::{Path, PathBuf};

use mpcium_state::identity::files::{self, Overwrite};
use mpcium_state::identity::{age_file, SecretText};
use zeroize::Zeroizing;

use crate::args::KeyOutputArgs;
use crate::error::CliError;
use crate::passphrase;

/// Where a key pair goes: the identity file and the plain key file (`.age` is appended when
/// encrypting).
pub struct KeyPairPaths {
    /// Public identity JSON.
    pub identity: PathBuf,
    /// Private key, without the `.age` suffix.
    pub plain_key: PathBuf,
}

impl KeyPairPaths {
    fn encrypted_key(&self) -> PathBuf {
        let mut s = self.plain_key.clone().into_os_string();
        s.push(".age");
        PathBuf::from(s)
    }
}

/// The overwrite mode chosen by `--overwrite`.
pub fn overwrite_mode(opts: &KeyOutputArgs) -> Overwrite {
    if opts.overwrite {
        Overwrite::Allow
    } else {
        Overwrite::Refuse
    }
}

/// Refuses early (before any prompt or key generation) when a target exists.
pub fn preflight(paths: &KeyPairPaths, opts: &KeyOutputArgs) -> Result<(), CliError> {
    let mode = overwrite_mode(opts);
    files::ensure_writable(&paths.identity, mode)?;
    files::ensure_writable(&paths.plain_key, mode)?;
    files::ensure_writable(&paths.encrypted_key(), mode)?;
    Ok(())
}

/// Obtains the passphrase when `--encrypt` is set.
pub fn passphrase_for(opts: &KeyOutputArgs) -> Result<Option<SecretText>, CliError> {
    if !opts.encrypt {
        return Ok(None);
    }
    Ok(Some(passphrase::new_passphrase(
        opts.password_file.as_deref(),
    )?))
}

/// Writes the key (encrypted when `passphrase` is given) then the identity; returns the key
/// path. With `--overwrite`, the other variant of the key (plain vs `.age`) is removed so the
/// node never picks up a stale key.
pub fn write_key_pair(
    paths: &KeyPairPaths,
    identity_json: &str,
    key_text: &Zeroizing<String>,
    passphrase: Option<&SecretText>,
    opts: &KeyOutputArgs,
) -> Result<PathBuf, CliError> {
    let mode = overwrite_mode(opts);
    let (key_path, other_key, key_bytes) = match passphrase {
        Some(pass) => (
            paths.encrypted_key(),
            paths.plain_key.clone(),
            Zeroizing::new(age_file::encrypt(
                key_text.as_bytes(),
                pass,
                passphrase::work_factor()?,
            )?),
        ),
        None => (
            paths.plain_key.clone(),
            paths.encrypted_key(),
            Zeroizing::new(key_text.as_bytes().to_vec()),
        ),
    };
    files::write_private_file(&key_path, &key_bytes, mode)?;
    if let Err(e) = files::write_private_file(&paths.identity, identity_json.as_bytes(), mode) {
        // Best effort: the key without its identity is useless, and half a result confuses.
        let _ = std::fs::remove_file(&key_path);
        return Err(e.into());
    }
    if opts.overwrite {
        remove_if_present(&other_key)?;
    }
    Ok(key_path)
}

fn remove_if_present(path: &Path) -> Result<(), CliError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CliError::Usage(format!(
            "cannot remove the stale key {}: {e}; delete it by hand",
            path.display()
        ))),
    }
}

/// Creates `dir` (and parents) if missing.
pub fn ensure_dir(dir: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::Usage(format!("cannot create directory {}: {e}", dir.display())))
}
