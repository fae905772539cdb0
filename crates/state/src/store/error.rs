//! The store's error type: what went wrong and what the operator can do about it.

use std::path::PathBuf;

/// Why a store operation failed. Messages never contain record values or the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The password given to [`super::Store::open`] is empty.
    #[error("the database password is empty; configure a non-empty password")]
    EmptyPassword,
    /// The password does not decrypt the store's key-check record.
    #[error("the database password does not match the one this store was created with")]
    WrongPassword,
    /// The database file could not be created or opened (missing permissions, held by another
    /// process, not a redb file).
    #[error("failed to open the store at {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The engine's reason.
        #[source]
        source: redb::DatabaseError,
    },
    /// The directory holding the database file could not be created.
    #[error("failed to create the store directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS reason.
        #[source]
        source: std::io::Error,
    },
    /// The store was written by a newer version of mpcium.
    #[error("the store has schema version {found}, this build supports up to {supported}; upgrade mpcium")]
    UnsupportedSchema {
        /// Schema version found in the file.
        found: u32,
        /// Newest schema version this build reads.
        supported: u32,
    },
    /// The unencrypted metadata is unreadable.
    #[error("the store's metadata is damaged ({what}); restore the store from a backup")]
    CorruptMeta {
        /// Which metadata entry.
        what: &'static str,
    },
    /// The Argon2id parameters were rejected.
    #[error("invalid argon2id parameters: {reason}")]
    InvalidKdfParams {
        /// Argon2's reason.
        reason: String,
    },
    /// A record failed authentication: modified, moved from another key, or not ours.
    #[error("record {record} in table {table} failed authentication (modified on disk or moved from another key); restore the store from a backup")]
    RecordTampered {
        /// Table name.
        table: &'static str,
        /// Which record, in words.
        record: String,
    },
    /// A record was sealed with a layout this build does not know.
    #[error(
        "record {record} in table {table} has unknown layout version {version}; upgrade mpcium"
    )]
    UnknownRecordVersion {
        /// Table name.
        table: &'static str,
        /// Which record, in words.
        record: String,
        /// The layout version byte found.
        version: u8,
    },
    /// A key share version is written twice; shares are immutable once stored.
    #[error(
        "{record} already exists; key shares are never overwritten, write a new version instead"
    )]
    ShareVersionExists {
        /// Which share, in words.
        record: String,
    },
    /// A name used in a record key is longer than the key encoding allows.
    #[error("{what} is too long to be used as a record key ({len} bytes)")]
    KeyTooLong {
        /// Which name.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// A pool has handed out every sequence number (2^64 pushes).
    #[error("pool {table} is out of sequence numbers")]
    PoolExhausted {
        /// Table name.
        table: &'static str,
    },
    /// A restore was asked to write over an existing file.
    #[error("cannot restore into {path}: it already exists; restore into a new path")]
    RestoreTargetExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A snapshot given to a restore names a table this build does not have.
    #[error("the snapshot holds a record of unknown table {table:?}; upgrade mpcium or use another backup")]
    UnknownTable {
        /// The table name found.
        table: String,
    },
    /// The embedded database engine failed (disk full, I/O error, corruption).
    #[error("store i/o failed: {0}")]
    Storage(#[from] redb::Error),
    /// An internal invariant was broken; please report it.
    #[error("bug in the store: {what}")]
    Bug {
        /// What went wrong.
        what: &'static str,
    },
}

/// Converts any of redb's per-operation errors into [`StoreError::Storage`].
pub(crate) fn storage<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Storage(e.into())
}

/// What kind of failure a [`StoreError`] is, for callers deciding what to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The password is empty or wrong: fix the configuration.
    Password,
    /// The file or disk failed: may succeed after the operator fixes the environment.
    Unavailable,
    /// Stored data is damaged, tampered with or from a newer version: restore or upgrade.
    Corrupt,
    /// The write conflicts with what is stored (a share version that exists).
    Conflict,
    /// The caller passed something the store cannot hold.
    InvalidInput,
    /// An internal invariant broke.
    Bug,
}

impl StoreError {
    /// The kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::EmptyPassword | StoreError::WrongPassword => StoreErrorKind::Password,
            StoreError::Open { .. } | StoreError::CreateDir { .. } | StoreError::Storage(_) => {
                StoreErrorKind::Unavailable
            }
            StoreError::UnsupportedSchema { .. }
            | StoreError::CorruptMeta { .. }
            | StoreError::RecordTampered { .. }
            | StoreError::UnknownRecordVersion { .. } => StoreErrorKind::Corrupt,
            StoreError::UnknownTable { .. } => StoreErrorKind::Corrupt,
            StoreError::ShareVersionExists { .. } | StoreError::RestoreTargetExists { .. } => {
                StoreErrorKind::Conflict
            }
            StoreError::InvalidKdfParams { .. }
            | StoreError::KeyTooLong { .. }
            | StoreError::PoolExhausted { .. } => StoreErrorKind::InvalidInput,
            StoreError::Bug { .. } => StoreErrorKind::Bug,
        }
    }
}
