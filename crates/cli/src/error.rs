//! The CLI's error type: library errors passed through, plus the CLI's own.

use mpcium_state::config::ConfigError;
use mpcium_state::identity::{AgeError, FileError, IdentityError, PeersError};

use crate::passphrase::PassphraseError;

/// Why a command failed. Messages name the file or flag and what to do; none holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// peers.json problem.
    #[error(transparent)]
    Peers(#[from] PeersError),
    /// File read/write problem.
    #[error(transparent)]
    File(#[from] FileError),
    /// Identity file problem.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// Configuration problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Passphrase could not be obtained or is refused.
    #[error(transparent)]
    Passphrase(#[from] PassphraseError),
    /// Encryption failed.
    #[error(transparent)]
    Age(#[from] AgeError),
    /// A flag's value is not acceptable.
    #[error("{0}")]
    Usage(String),
    /// The registry cannot be written.
    #[error("{0}")]
    Registry(String),
    /// A key could not be encoded.
    #[error("{0}")]
    Key(String),
    /// A Go mpcium import was refused (nothing was written).
    #[error("{0}")]
    Import(String),
    /// A benchmark could not run or some of its requests failed.
    #[error("{0}")]
    Benchmark(String),
}
