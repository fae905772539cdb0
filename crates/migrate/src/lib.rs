//! Taking over a Go mpcium (fystack/mpcium) cluster's wallets: reads one reference node's
//! encrypted backup chain, decodes the tss-lib key shares in it and checks them offline, and
//! hands back engine-neutral [`ImportedShare`] records — same keys, same addresses, no key ever
//! reassembled.
//!
//! This crate needs no threshold engine and does no I/O besides reading the backup directory:
//! `mpcium-cli import-mpcium` uses it to fill a node's encrypted store; the node converts the
//! records into engine shares with `mpcium_tss::import` (new Paillier keys come from a fresh aux
//! info run: nothing of tss-lib's Paillier material is carried over).
//!
//! # Pipeline
//! 1. [`BackupChain::open_dir`] — `backup-<node>-<time>-<n>.enc` files and `latest.version`;
//!    checks the chain before decrypting anything ([`backup`]).
//! 2. [`BackupChain::restore`] — checks every key id and GCM tag, decodes each Badger stream
//!    and replays it into a [`Snapshot`] of the node's key–value store ([`badger`]).
//! 3. [`extract()`] — picks each wallet key's current version, parses the tss-lib save data
//!    ([`tsslib`]), checks it ([`extract`](mod@extract) module docs) and builds [`ImportedShare`]s, mapping
//!    tss-lib party keys to node ids ([`reference`](mod@reference)).
//!
//! [`import_node_backups`] does all three.
//!
//! # What is not carried over
//! Paillier keys, ring-Pedersen parameters and pre-params (tss-lib-specific, regenerated), the
//! Consul keyinfo itself (read from a `consul kv export` if given, used for checks), and versions
//! older than the current one.
//!
//! # Formats
//! Every stored format is described, with the reference source it comes from, in the module that
//! reads it: [`backup`], [`badger`], [`tsslib`], [`reference`](mod@reference). With the `test-support` feature,
//! [`testing`] writes each of them from a random tss-lib-style key split.

pub mod backup;
pub mod badger;
pub mod extract;
pub mod group;
pub mod number;
pub mod pending;
pub mod record;
pub mod reference;
pub mod tsslib;

#[cfg(feature = "test-support")]
pub mod testing;

use std::path::Path;

pub use backup::{BackupChain, BackupError, BackupErrorKind, BackupKey};
pub use badger::Snapshot;
pub use extract::{
    extract, ExtractError, ExtractErrorKind, ExtractOptions, Extraction, ShareError,
};
pub use pending::{parse_pending_name, pending_name, PENDING_PREFIX};
pub use record::{Holder, ImportedShare, KeyType, RecordError, SecretShare};
pub use reference::{KeyInfoSet, PeerMap, ReferenceKeyInfo, ShareKey};

/// Why [`import_node_backups`] failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The node is not in `peers.json`.
    #[error("node {0} is not in peers.json")]
    UnknownNode(String),
    /// Reading, verifying or decrypting the backups failed.
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// A share was refused.
    #[error(transparent)]
    Extract(#[from] ExtractError),
}

/// A node's verified backup chain and the shares extracted from it.
#[derive(Debug)]
pub struct NodeImport {
    /// The chain that was read (file names, metadata, whether `latest.version` was checked).
    pub chain: BackupChain,
    /// The shares and what was left out.
    pub extraction: Extraction,
}

/// Reads the backups of node `node_name` in `dir` with `key`, and extracts its shares. The node's
/// id comes from `peers`; `keyinfo` (Consul export) is optional but recommended: without it the
/// newest version of each wallet key is taken and must be confirmed with the other nodes.
pub fn import_node_backups(
    dir: &Path,
    node_name: &str,
    key: &BackupKey,
    peers: &PeerMap,
    keyinfo: Option<&KeyInfoSet>,
) -> Result<NodeImport, MigrateError> {
    let node_id = peers
        .id_of(node_name)
        .ok_or_else(|| MigrateError::UnknownNode(node_name.to_string()))?;
    let chain = BackupChain::open_dir(dir, Some(node_name))?;
    let snapshot = chain.restore(key)?;
    let extraction = extract(
        &snapshot,
        &ExtractOptions {
            node_id,
            peers,
            keyinfo,
        },
    )?;
    Ok(NodeImport { chain, extraction })
}
