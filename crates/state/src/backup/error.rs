//! The backup error type: which file or directory is at fault and what the operator can do.

use std::path::PathBuf;

use crate::store::StoreError;

/// Why a backup, verification or recovery failed. Messages never contain record values or the
/// password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The password is empty.
    #[error("the backup password is empty; give the database password (badger_password)")]
    EmptyPassword,
    /// The Argon2id parameters were rejected.
    #[error("invalid argon2id parameters for the backup key: {reason}")]
    InvalidKdfParams {
        /// Argon2's reason.
        reason: String,
    },
    /// The node name cannot be used in a file name.
    #[error("node name {name:?} cannot be used in a backup file name (empty or contains '/')")]
    InvalidNodeName {
        /// The node name.
        name: String,
    },
    /// The backup directory holds no backup file.
    #[error("no backup files (backup-*.mpcbak) in {}; check --backup-dir", dir.display())]
    NoBackups {
        /// The directory searched.
        dir: PathBuf,
    },
    /// The backup directory holds backups of several nodes and none was named.
    #[error("{} holds backups of several nodes ({}); pass --node <NAME> or --backup-file <FILE>", dir.display(), nodes.join(", "))]
    SeveralNodes {
        /// The directory searched.
        dir: PathBuf,
        /// The node names found.
        nodes: Vec<String>,
    },
    /// A directory could not be created, listed or synced.
    #[error("cannot use directory {}: {source}", dir.display())]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// The OS reason.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS reason.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written, synced, renamed or removed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS reason.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the backup magic.
    #[error("{} is not an mpcium-rs backup (bad magic); check the file name", path.display())]
    NotABackup {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a newer format version.
    #[error("{} has backup format version {version}, this build reads version {supported}; upgrade mpcium-cli", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version found.
        version: u8,
        /// Version this build reads.
        supported: u8,
    },
    /// The file ends early.
    #[error("{} is truncated ({what} is incomplete); use another backup", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Which part is cut off.
        what: &'static str,
    },
    /// The header is unreadable or names unsupported parameters.
    #[error("{} has a damaged header ({detail}); use another backup", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The password does not derive the key the backup was made with.
    #[error("the password does not open {}; give the database password of the node that made it", path.display())]
    WrongPassword {
        /// The file.
        path: PathBuf,
    },
    /// Decryption failed although the password is right: the file was modified.
    #[error("{} failed authentication: it was modified or damaged after it was written; use another backup", path.display())]
    Tampered {
        /// The file.
        path: PathBuf,
    },
    /// The decrypted records do not hash to the digest in the header.
    #[error("{} does not match its recorded digest; use another backup", path.display())]
    DigestMismatch {
        /// The file.
        path: PathBuf,
    },
    /// The decrypted records are not as many as the header says.
    #[error("{} holds {found} records but its header says {expected}; use another backup", path.display())]
    RecordCountMismatch {
        /// The file.
        path: PathBuf,
        /// Count in the header.
        expected: u64,
        /// Records found.
        found: u64,
    },
    /// The decrypted record stream cannot be parsed.
    #[error("{} holds a malformed record stream ({what}); use another backup", path.display())]
    MalformedRecords {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The recovery target holds data and `--force` was not given.
    #[error("{} already exists and is not empty; pass --force to replace it", path.display())]
    TargetNotEmpty {
        /// The target.
        path: PathBuf,
    },
    /// The recovery target is a non-empty directory; a store is one file.
    #[error("{} is a non-empty directory; give the store file path (<db_path>/<node name>)", path.display())]
    TargetIsDirectory {
        /// The target.
        path: PathBuf,
    },
    /// The store failed (reading the snapshot, or opening the restored records).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// An internal invariant broke; please report it.
    #[error("bug in backups: {what}")]
    Bug {
        /// What went wrong.
        what: &'static str,
    },
}

/// What kind of failure a [`BackupError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupErrorKind {
    /// The password is empty or wrong.
    Password,
    /// A file or directory is unusable; may work after the operator fixes the environment.
    Unavailable,
    /// A backup is damaged, tampered with, or from a newer version.
    Corrupt,
    /// The target holds data the operation would replace.
    Conflict,
    /// The caller passed something unusable.
    InvalidInput,
    /// An internal invariant broke.
    Bug,
}

impl BackupError {
    /// The kind of failure.
    pub fn kind(&self) -> BackupErrorKind {
        match self {
            BackupError::EmptyPassword | BackupError::WrongPassword { .. } => {
                BackupErrorKind::Password
            }
            BackupError::NoBackups { .. }
            | BackupError::Dir { .. }
            | BackupError::Read { .. }
            | BackupError::Write { .. } => BackupErrorKind::Unavailable,
            BackupError::NotABackup { .. }
            | BackupError::UnsupportedVersion { .. }
            | BackupError::Truncated { .. }
            | BackupError::BadHeader { .. }
            | BackupError::Tampered { .. }
            | BackupError::DigestMismatch { .. }
            | BackupError::RecordCountMismatch { .. }
            | BackupError::MalformedRecords { .. } => BackupErrorKind::Corrupt,
            BackupError::TargetNotEmpty { .. } | BackupError::TargetIsDirectory { .. } => {
                BackupErrorKind::Conflict
            }
            BackupError::InvalidNodeName { .. }
            | BackupError::InvalidKdfParams { .. }
            | BackupError::SeveralNodes { .. } => BackupErrorKind::InvalidInput,
            BackupError::Store(e) => match e.kind() {
                crate::store::StoreErrorKind::Password => BackupErrorKind::Password,
                crate::store::StoreErrorKind::Unavailable => BackupErrorKind::Unavailable,
                crate::store::StoreErrorKind::Corrupt => BackupErrorKind::Corrupt,
                crate::store::StoreErrorKind::Conflict => BackupErrorKind::Conflict,
                crate::store::StoreErrorKind::InvalidInput => BackupErrorKind::InvalidInput,
                crate::store::StoreErrorKind::Bug => BackupErrorKind::Bug,
            },
            BackupError::Bug { .. } => BackupErrorKind::Bug,
        }
    }
}
