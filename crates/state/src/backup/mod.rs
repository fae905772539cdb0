//! Encrypted backups of the node's store: periodic online snapshots written to `backup_dir`,
//! verification, and recovery into a new store.
//!
//! # What a backup holds
//! Every record of the store as [`Store::snapshot`] returns it from one read transaction (a
//! consistent online snapshot), `meta` table included: values stay sealed under the store key,
//! and the file as a whole is sealed again under a backup key (see [`format`] for the layout).
//! Restoring writes the records back byte for byte, so the restored store opens with the same
//! database password and holds identical shares, key info, aux data and cached results.
//!
//! # Keys
//! The backup key is Argon2id(password, random per-file salt) with the parameters in
//! [`BackupSettings::kdf`] (the store's defaults: 64 MiB, 3 passes). The password is the
//! database password (`badger_password`); a separate backup password is a possible later
//! extension (it would need the database password too, to check the records on restore).
//!
//! # Files and schedule
//! The node takes a backup at start and then every `backup_period_seconds` ([`backup_now`]), skips it when
//! the record stream's digest equals the newest backup's, writes the file atomically (see
//! [`files`]) and keeps the newest `backup_retention` files of this node.
//!
//! # Restore
//! [`recover`] decrypts a backup, checks its digest, record count and that every record opens
//! with the password, and writes a new store at the target path. Presignatures are **never**
//! restored: one may have been used after the backup was taken, and using it again would leak
//! the key. They are dropped before anything is written, so their bytes never reach the new file.

mod error;
pub mod files;
pub mod format;
mod restore;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::store::{KdfParams, SecretPassword, Store};

pub use error::{BackupError, BackupErrorKind};
pub use restore::{recover, verify, BackupSummary, RecoverReport, Replace};

/// What the periodic task needs: where, how often, how many, and the key.
#[derive(Clone, Debug)]
pub struct BackupSettings {
    /// This node's name (part of every file name and the header).
    pub node_name: String,
    /// Directory the backups are written to.
    pub dir: PathBuf,
    /// Time between backups.
    pub period: Duration,
    /// Backups of this node kept; older ones are deleted.
    pub keep: usize,
    /// Password the backup key is derived from (the database password).
    pub password: SecretPassword,
    /// Argon2id cost of the backup key.
    pub kdf: KdfParams,
}

impl BackupSettings {
    /// Settings from the configuration; `None` when `backup_enabled` is false.
    pub fn from_config(config: &Config, node_name: &str) -> Result<Option<Self>, BackupError> {
        if !config.backup_enabled {
            return Ok(None);
        }
        files::check_node_name(node_name)?;
        let password = config
            .badger_password
            .as_ref()
            .map(|p| SecretPassword::new(p.expose().to_owned()))
            .filter(|p| !p.is_empty())
            .ok_or(BackupError::EmptyPassword)?;
        Ok(Some(Self {
            node_name: node_name.to_owned(),
            dir: config.backup_dir.clone(),
            period: config.backup_period(),
            keep: config.backups_kept(),
            password,
            kdf: KdfParams::default(),
        }))
    }
}

/// What one backup run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupOutcome {
    /// A new backup file was written.
    Written {
        /// The new file.
        path: PathBuf,
        /// Records in it.
        records: u64,
        /// Old backups deleted by retention.
        pruned: Vec<PathBuf>,
    },
    /// Nothing changed since the newest backup; no file was written.
    Unchanged {
        /// The newest backup, which already holds this state.
        newest: PathBuf,
    },
}

/// Takes one backup of `store` now (blocking: snapshot, Argon2id, fsync); skips it when nothing
/// changed since the newest backup of this node.
pub fn backup_now(store: &Store, settings: &BackupSettings) -> Result<BackupOutcome, BackupError> {
    files::check_node_name(&settings.node_name)?;
    let snapshot = store.snapshot()?;
    let stream = format::encode_stream(&snapshot)?;
    if let Some(newest) = newest_if_unchanged(settings, &stream.digest) {
        return Ok(BackupOutcome::Unchanged { newest });
    }
    let now = chrono::Utc::now();
    let created_at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let bytes = format::seal(
        &settings.node_name,
        created_at,
        &snapshot,
        &stream,
        &settings.password,
        settings.kdf,
    )?;
    let path = files::write_new(&settings.dir, &settings.node_name, now, &bytes)?;
    let pruned = files::prune(&settings.dir, &settings.node_name, settings.keep.max(1))?;
    Ok(BackupOutcome::Written {
        path,
        records: u64::try_from(snapshot.records.len()).unwrap_or(u64::MAX),
        pruned,
    })
}

/// The newest backup of this node if its header records `digest`. An unreadable newest file
/// never suppresses a backup.
fn newest_if_unchanged(settings: &BackupSettings, digest: &str) -> Option<PathBuf> {
    let newest = files::newest(&settings.dir, Some(&settings.node_name)).ok()?;
    let header = files::read_header(&newest).ok()?;
    (header.plaintext_sha256 == digest).then_some(newest)
}
