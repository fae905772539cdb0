//! The reference's encrypted backup files and their chain (fystack/mpcium
//! `pkg/kvstore/badger_backup.go`, `Execute` and `loadEncryptedBackup`).
//!
//! A file `backup-<node name>-<YYYY-MM-DD_HH-MM-SS>-<counter>.enc` is
//!
//! ```text
//! "MPCIUM_BACKUP" (13 bytes) ‖ u32 big-endian metadata length ‖ metadata JSON ‖ AES-GCM ciphertext+tag
//! metadata = {"algo":"AES-256-GCM","nonce_b64":…,"created_at":RFC3339,"since":u64,"next_since":u64,
//!             "encryption_key_id": first 16 hex digits of SHA-256(key)}
//! ```
//!
//! The plaintext is the Badger backup stream of `DB.Backup(since)` ([`crate::badger`]); the key
//! is the node's `badger_password` as raw bytes (`cmd/mpcium/main.go`, `NewBadgerKV`: the same
//! password encrypts the database and the backups; from `--password-file` it is whitespace-
//! trimmed). Go's `aes.NewCipher` takes 16, 24 or 32 bytes, so despite the `algo` label the cipher
//! is AES-128/192/256-GCM by password length; the 12-byte nonce is random, there is no AAD.
//!
//! The counter starts at 1 and grows by one per written file (`latest.version` in the same
//! directory holds `{"version": last counter, "since": last next_since, …}`); the first backup
//! has `since` 0 and each next one starts at the previous `next_since`. A [`BackupChain`] checks
//! all of that before it decrypts anything, then checks every key id and GCM tag.

use std::path::{Path, PathBuf};

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::badger::{self, Snapshot, StreamError};
use crate::record::describe;

/// The magic at the start of every backup file.
pub const MAGIC: &[u8; 13] = b"MPCIUM_BACKUP";
/// The `algo` the reference writes.
pub const ALGO: &str = "AES-256-GCM";
/// The watermark file next to the backups.
pub const LATEST_VERSION_FILE: &str = "latest.version";

type Aes192Gcm = AesGcm<aes_gcm::aes::Aes192, aes_gcm::aead::consts::U12>;

/// The node's Badger password, the key of its backups. Zeroized on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct BackupKey(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupKey(<redacted>)")
    }
}

impl BackupKey {
    /// The password bytes as the reference uses them; 16, 24 or 32 bytes (the only lengths its
    /// AES accepts — any other password could not have made a backup).
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Result<Self, BackupError> {
        match bytes.len() {
            16 | 24 | 32 => Ok(Self(bytes)),
            len => Err(BackupError::KeyLength { len }),
        }
    }

    /// The password from the contents of a password file, trimmed of surrounding whitespace as
    /// the reference's `--password-file` does (Go `strings.TrimSpace`).
    pub fn from_password_file(contents: &[u8]) -> Result<Self, BackupError> {
        let text = std::str::from_utf8(contents).map_err(|_| BackupError::KeyNotText)?;
        Self::new(Zeroizing::new(text.trim().as_bytes().to_vec()))
    }

    /// The reference's key id: the first 16 hex digits of SHA-256 of the key.
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.0.as_slice());
        hex::encode(digest).chars().take(16).collect()
    }

    fn decrypt(&self, nonce: &[u8; 12], ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let nonce = GenericArray::from_slice(nonce);
        let plain = match self.0.len() {
            16 => Aes128Gcm::new_from_slice(&self.0)
                .ok()?
                .decrypt(nonce, ciphertext),
            24 => Aes192Gcm::new_from_slice(&self.0)
                .ok()?
                .decrypt(nonce, ciphertext),
            32 => Aes256Gcm::new_from_slice(&self.0)
                .ok()?
                .decrypt(nonce, ciphertext),
            _ => return None,
        };
        plain.ok().map(Zeroizing::new)
    }

    /// AES-GCM encryption as the reference does it (for writing test backups).
    #[cfg(feature = "test-support")]
    pub(crate) fn encrypt(&self, nonce: &[u8; 12], plain: &[u8]) -> Option<Vec<u8>> {
        let nonce = GenericArray::from_slice(nonce);
        match self.0.len() {
            16 => Aes128Gcm::new_from_slice(&self.0)
                .ok()?
                .encrypt(nonce, plain),
            24 => Aes192Gcm::new_from_slice(&self.0)
                .ok()?
                .encrypt(nonce, plain),
            32 => Aes256Gcm::new_from_slice(&self.0)
                .ok()?
                .encrypt(nonce, plain),
            _ => return None,
        }
        .ok()
    }
}

/// The metadata header of a backup file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupMetadata {
    /// Always `AES-256-GCM` as written by the reference (whatever the key length).
    pub algo: String,
    /// The 12-byte GCM nonce, standard base64.
    pub nonce_b64: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// The Badger version this backup starts at.
    pub since: u64,
    /// The highest Badger version in this backup; the next backup starts here.
    pub next_since: u64,
    /// First 16 hex digits of SHA-256 of the key.
    pub encryption_key_id: String,
}

/// `latest.version`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestVersion {
    /// The counter of the last backup written.
    pub version: u64,
    /// Its `next_since`.
    pub since: u64,
    /// RFC 3339 time of the update.
    pub updated_at: String,
}

/// The parts of a backup file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupFileName {
    /// The node name (`--name` of `mpcium start`).
    pub node: String,
    /// `YYYY-MM-DD_HH-MM-SS` (local time of the writing node).
    pub timestamp: String,
    /// The counter.
    pub counter: u64,
}

impl BackupFileName {
    /// Reads `backup-<node>-<YYYY-MM-DD_HH-MM-SS>-<counter>.enc`; node names may contain `-`.
    pub fn parse(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("backup-")?.strip_suffix(".enc")?;
        let (rest, counter) = rest.rsplit_once('-')?;
        if counter.is_empty() || !counter.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let counter = counter.parse().ok()?;
        let split = rest.len().checked_sub(20)?;
        let (node, dash_ts) = (rest.get(..split)?, rest.get(split..)?);
        let timestamp = dash_ts.strip_prefix('-')?;
        let shape = timestamp.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 | 13 | 16 => b == b'-',
            10 => b == b'_',
            _ => b.is_ascii_digit(),
        });
        if node.is_empty() || !shape {
            return None;
        }
        Some(Self {
            node: node.into(),
            timestamp: timestamp.into(),
            counter,
        })
    }

    /// The file name.
    pub fn file_name(&self) -> String {
        format!(
            "backup-{}-{}-{}.enc",
            self.node, self.timestamp, self.counter
        )
    }
}

/// What kind of failure a [`BackupError`] is, to match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupErrorKind {
    /// Reading the directory or a file failed.
    Io,
    /// No backups (for the node) were found, or files of several nodes and none was chosen.
    NotFound,
    /// A file is not a reference backup, or is cut short.
    Malformed,
    /// The chain has a gap, a duplicate, a wrong start, or disagrees with `latest.version`.
    Chain,
    /// The password is not the one the backups were made with (or has an impossible length).
    WrongKey,
    /// A GCM tag does not verify or the decrypted stream does not decode: the file was changed.
    Corrupted,
}

/// Why backups could not be read, verified or decrypted. Names the file; never a secret.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No backup files.
    #[error("no backup files {what}")]
    NoBackups {
        /// Where / for which node.
        what: String,
    },
    /// Files of several nodes and no node given.
    #[error("backups of several nodes ({nodes}); name the node to import")]
    SeveralNodes {
        /// The node names found.
        nodes: String,
    },
    /// Not a reference backup (bad magic).
    #[error("{file}: not an mpcium backup (bad magic)")]
    NotABackup {
        /// The file.
        file: String,
    },
    /// Cut short.
    #[error("{file}: truncated ({what})")]
    Truncated {
        /// The file.
        file: String,
        /// Where.
        what: &'static str,
    },
    /// The metadata header does not decode or is inconsistent.
    #[error("{file}: bad metadata: {detail}")]
    Metadata {
        /// The file.
        file: String,
        /// What is wrong.
        detail: String,
    },
    /// An algorithm other than the reference's.
    #[error("{file}: unsupported algorithm {algo:?}")]
    Algorithm {
        /// The file.
        file: String,
        /// The `algo` field.
        algo: String,
    },
    /// The first backup does not start at version 0 (older backups are missing).
    #[error("{file}: the chain starts at version {since}, not 0: earlier backups are missing")]
    ChainStart {
        /// The first file.
        file: String,
        /// Its `since`.
        since: u64,
    },
    /// A backup does not continue the previous one.
    #[error("{file} starts at version {since} but {previous} ended at {expected}: a backup between them is missing or out of order")]
    MissingLink {
        /// The file that does not fit.
        file: String,
        /// The previous file.
        previous: String,
        /// The previous `next_since`.
        expected: u64,
        /// This file's `since`.
        since: u64,
    },
    /// Counters skip a number.
    #[error("{file} has counter {found} after counter {previous}: backup {previous}+1 is missing")]
    CounterGap {
        /// The file.
        file: String,
        /// The previous counter.
        previous: u64,
        /// This counter.
        found: u64,
    },
    /// Two files with the same counter.
    #[error("{first} and {second} have the same counter")]
    DuplicateCounter {
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// A backup that covers no versions.
    #[error("{file}: empty version range ({since}..{next_since})")]
    EmptyRange {
        /// The file.
        file: String,
        /// `since`.
        since: u64,
        /// `next_since`.
        next_since: u64,
    },
    /// `latest.version` names a later backup than the last file.
    #[error("latest.version says backup {expected_counter} ending at version {expected_since}, but the last file is {file} (counter {counter}, ending at {next_since}): the newest backups are missing")]
    LatestVersion {
        /// The last file.
        file: String,
        /// Its counter.
        counter: u64,
        /// Its `next_since`.
        next_since: u64,
        /// `latest.version`'s `version`.
        expected_counter: u64,
        /// `latest.version`'s `since`.
        expected_since: u64,
    },
    /// `latest.version` does not decode.
    #[error("latest.version: {0}")]
    LatestVersionFile(String),
    /// The password file is not text.
    #[error("the password is not UTF-8 text")]
    KeyNotText,
    /// The password cannot be an AES key.
    #[error("the password is {len} bytes; the reference's backups need 16, 24 or 32")]
    KeyLength {
        /// Its length.
        len: usize,
    },
    /// The key id in the file is not that of the given password.
    #[error("{file}: encrypted with another password (key id {file_key_id})")]
    WrongKey {
        /// The file.
        file: String,
        /// The key id the file names.
        file_key_id: String,
    },
    /// The GCM tag does not verify although the key id matches.
    #[error("{file}: authentication failed (the file was modified or damaged)")]
    TagMismatch {
        /// The file.
        file: String,
    },
    /// The decrypted stream does not decode.
    #[error("{file}: {source}")]
    Stream {
        /// The file.
        file: String,
        /// What is wrong.
        source: StreamError,
    },
}

impl BackupError {
    /// The class of this error.
    pub fn kind(&self) -> BackupErrorKind {
        match self {
            Self::Io { .. } => BackupErrorKind::Io,
            Self::NoBackups { .. } | Self::SeveralNodes { .. } => BackupErrorKind::NotFound,
            Self::NotABackup { .. }
            | Self::Truncated { .. }
            | Self::Metadata { .. }
            | Self::Algorithm { .. }
            | Self::LatestVersionFile(_) => BackupErrorKind::Malformed,
            Self::ChainStart { .. }
            | Self::MissingLink { .. }
            | Self::CounterGap { .. }
            | Self::DuplicateCounter { .. }
            | Self::EmptyRange { .. }
            | Self::LatestVersion { .. } => BackupErrorKind::Chain,
            Self::KeyNotText | Self::KeyLength { .. } | Self::WrongKey { .. } => {
                BackupErrorKind::WrongKey
            }
            Self::TagMismatch { .. } | Self::Stream { .. } => BackupErrorKind::Corrupted,
        }
    }
}

/// One parsed (not yet decrypted) backup file.
#[derive(Clone)]
pub struct BackupFile {
    label: String,
    name: Option<BackupFileName>,
    metadata: BackupMetadata,
    nonce: [u8; 12],
    ciphertext: Vec<u8>,
}

impl std::fmt::Debug for BackupFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupFile")
            .field("file", &self.label)
            .field("metadata", &self.metadata)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

impl BackupFile {
    /// Parses the bytes of one backup file; `label` names it in errors (its file name).
    pub fn parse(label: &str, bytes: &[u8]) -> Result<Self, BackupError> {
        let file = || label.to_string();
        let truncated = |what| BackupError::Truncated { file: file(), what };
        let magic = bytes.get(..MAGIC.len()).ok_or(truncated("magic"))?;
        if magic != MAGIC {
            return Err(BackupError::NotABackup { file: file() });
        }
        let rest = bytes.get(MAGIC.len()..).unwrap_or_default();
        let (len, rest) = rest
            .split_first_chunk::<4>()
            .ok_or(truncated("metadata length"))?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| truncated("metadata"))?;
        let meta_bytes = rest.get(..len).ok_or(truncated("metadata"))?;
        let ciphertext = rest.get(len..).unwrap_or_default();
        let metadata: BackupMetadata =
            serde_json::from_slice(meta_bytes).map_err(|e| BackupError::Metadata {
                file: file(),
                detail: describe(&e),
            })?;
        if metadata.algo != ALGO {
            return Err(BackupError::Algorithm {
                file: file(),
                algo: metadata.algo,
            });
        }
        let nonce = base64::engine::general_purpose::STANDARD
            .decode(&metadata.nonce_b64)
            .ok()
            .and_then(|n| <[u8; 12]>::try_from(n).ok())
            .ok_or_else(|| BackupError::Metadata {
                file: file(),
                detail: "nonce_b64 is not a base64 12-byte nonce".into(),
            })?;
        if metadata.encryption_key_id.len() != 16
            || !metadata
                .encryption_key_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit())
        {
            return Err(BackupError::Metadata {
                file: file(),
                detail: "encryption_key_id is not 16 hex digits".into(),
            });
        }
        if metadata.next_since <= metadata.since {
            return Err(BackupError::EmptyRange {
                file: file(),
                since: metadata.since,
                next_since: metadata.next_since,
            });
        }
        // A GCM tag is 16 bytes; anything shorter was cut.
        if ciphertext.len() < 16 {
            return Err(truncated("ciphertext"));
        }
        Ok(Self {
            label: label.to_string(),
            name: BackupFileName::parse(label),
            metadata,
            nonce,
            ciphertext: ciphertext.to_vec(),
        })
    }

    /// The file's label (its name).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The parsed file name, if the label is a reference backup name.
    pub fn name(&self) -> Option<&BackupFileName> {
        self.name.as_ref()
    }

    /// The metadata header.
    pub fn metadata(&self) -> &BackupMetadata {
        &self.metadata
    }

    /// Checks the key id, then decrypts (verifying the GCM tag). The plaintext is zeroized on
    /// drop.
    pub fn decrypt(&self, key: &BackupKey) -> Result<Zeroizing<Vec<u8>>, BackupError> {
        self.check_key(key)?;
        key.decrypt(&self.nonce, &self.ciphertext)
            .ok_or_else(|| BackupError::TagMismatch {
                file: self.label.clone(),
            })
    }

    fn check_key(&self, key: &BackupKey) -> Result<(), BackupError> {
        if !self
            .metadata
            .encryption_key_id
            .eq_ignore_ascii_case(&key.key_id())
        {
            return Err(BackupError::WrongKey {
                file: self.label.clone(),
                file_key_id: self.metadata.encryption_key_id.clone(),
            });
        }
        Ok(())
    }
}

/// A node's complete, verified chain of backups (oldest first), not yet decrypted.
#[derive(Debug)]
pub struct BackupChain {
    node: String,
    files: Vec<BackupFile>,
    latest_checked: bool,
}

impl BackupChain {
    /// Reads every `backup-*.enc` of `node` in `dir` (every file there if `node` is `None` and all
    /// belong to one node) and `latest.version` if present, and verifies the chain.
    pub fn open_dir(dir: &Path, node: Option<&str>) -> Result<Self, BackupError> {
        let io = |path: &Path, source| BackupError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let entry = entry.map_err(|e| io(dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("backup-") && name.ends_with(".enc") {
                let path = entry.path();
                let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
                files.push((name, bytes));
            }
        }
        let latest_path = dir.join(LATEST_VERSION_FILE);
        let latest = match std::fs::read(&latest_path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&latest_path, e)),
        };
        Self::from_files(files, latest.as_deref(), node)
    }

    /// [`BackupChain::open_dir`] over files already read: `(file name, bytes)` pairs and the
    /// contents of `latest.version`, if any.
    pub fn from_files(
        files: Vec<(String, Vec<u8>)>,
        latest_version: Option<&[u8]>,
        node: Option<&str>,
    ) -> Result<Self, BackupError> {
        let mut named = Vec::new();
        for (label, bytes) in files {
            let name = BackupFileName::parse(&label).ok_or_else(|| BackupError::Metadata {
                file: label.clone(),
                detail: "file name is not backup-<node>-<YYYY-MM-DD_HH-MM-SS>-<n>.enc".into(),
            })?;
            named.push((name, label, bytes));
        }
        let node = match node {
            Some(n) => n.to_string(),
            None => {
                let mut nodes: Vec<&str> = named.iter().map(|(n, _, _)| n.node.as_str()).collect();
                nodes.sort_unstable();
                nodes.dedup();
                match nodes.as_slice() {
                    [] => {
                        return Err(BackupError::NoBackups {
                            what: "found".into(),
                        })
                    }
                    [one] => one.to_string(),
                    many => {
                        return Err(BackupError::SeveralNodes {
                            nodes: many.join(", "),
                        })
                    }
                }
            }
        };
        named.retain(|(n, _, _)| n.node == node);
        if named.is_empty() {
            return Err(BackupError::NoBackups {
                what: format!("of node {node}"),
            });
        }
        named.sort_by_key(|(n, _, _)| n.counter);
        let mut parsed: Vec<BackupFile> = Vec::with_capacity(named.len());
        for (name, label, bytes) in named {
            let file = BackupFile::parse(&label, &bytes)?;
            if let Some(prev) = parsed.last() {
                let prev_counter = prev.name.as_ref().map_or(0, |n| n.counter);
                if prev_counter == name.counter {
                    return Err(BackupError::DuplicateCounter {
                        first: prev.label.clone(),
                        second: label,
                    });
                }
                if name.counter != prev_counter + 1 {
                    return Err(BackupError::CounterGap {
                        file: label,
                        previous: prev_counter,
                        found: name.counter,
                    });
                }
                if file.metadata.since != prev.metadata.next_since {
                    return Err(BackupError::MissingLink {
                        file: label,
                        previous: prev.label.clone(),
                        expected: prev.metadata.next_since,
                        since: file.metadata.since,
                    });
                }
            } else if file.metadata.since != 0 {
                return Err(BackupError::ChainStart {
                    file: label,
                    since: file.metadata.since,
                });
            } else if name.counter != 1 {
                return Err(BackupError::CounterGap {
                    file: label,
                    previous: 0,
                    found: name.counter,
                });
            }
            parsed.push(file);
        }
        let mut latest_checked = false;
        if let Some(bytes) = latest_version {
            let latest: LatestVersion = serde_json::from_slice(bytes)
                .map_err(|e| BackupError::LatestVersionFile(describe(&e)))?;
            let last = parsed.last().ok_or_else(|| BackupError::NoBackups {
                what: format!("of node {node}"),
            })?;
            let counter = last.name.as_ref().map_or(0, |n| n.counter);
            if latest.version != counter || latest.since != last.metadata.next_since {
                return Err(BackupError::LatestVersion {
                    file: last.label.clone(),
                    counter,
                    next_since: last.metadata.next_since,
                    expected_counter: latest.version,
                    expected_since: latest.since,
                });
            }
            latest_checked = true;
        }
        Ok(Self {
            node,
            files: parsed,
            latest_checked,
        })
    }

    /// The node the backups belong to.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The files, oldest first.
    pub fn files(&self) -> &[BackupFile] {
        &self.files
    }

    /// Whether `latest.version` was present and agrees with the last file. Without it, a
    /// missing *newest* backup cannot be detected: the caller should insist on it or warn.
    pub fn latest_version_checked(&self) -> bool {
        self.latest_checked
    }

    /// Checks the key id of every file before decrypting any, then decrypts each file
    /// (verifying its GCM tag) and replays its Badger stream, oldest first. Entries that expire
    /// are judged against the system clock.
    pub fn restore(&self, key: &BackupKey) -> Result<Snapshot, BackupError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.restore_at(key, now)
    }

    /// [`BackupChain::restore`] with expiry judged at `now` (Unix seconds).
    pub fn restore_at(&self, key: &BackupKey, now: u64) -> Result<Snapshot, BackupError> {
        for file in &self.files {
            file.check_key(key)?;
        }
        let mut snapshot = Snapshot::default();
        for file in &self.files {
            let plain = file.decrypt(key)?;
            let stream_error = |source| BackupError::Stream {
                file: file.label.clone(),
                source,
            };
            let entries = badger::decode_stream(&plain).map_err(stream_error)?;
            snapshot
                .replay(entries, file.metadata.since, file.metadata.next_since, now)
                .map_err(stream_error)?;
        }
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_read_from_the_right_so_node_names_may_hold_dashes() {
        let n = BackupFileName::parse("backup-node-a-1-2025-01-02_03-04-05-12.enc").unwrap();
        assert_eq!(
            (n.node.as_str(), n.timestamp.as_str(), n.counter),
            ("node-a-1", "2025-01-02_03-04-05", 12)
        );
        assert_eq!(n.file_name(), "backup-node-a-1-2025-01-02_03-04-05-12.enc");
        for bad in [
            "backup-node0-2025-01-02_03-04-05.enc",
            "backup--2025-01-02_03-04-05-1.enc",
            "backup-node0-2025-01-02-03-04-05-1.enc",
            "backup-node0-2025-01-02_03-04-05-x.enc",
            "latest.version",
        ] {
            assert!(BackupFileName::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_key_id_is_the_first_16_hex_digits_of_sha256() {
        let key = BackupKey::new(Zeroizing::new(b"0123456789abcdef".to_vec())).unwrap();
        let full = hex::encode(Sha256::digest(b"0123456789abcdef"));
        assert_eq!(key.key_id(), full[..16]);
        assert_eq!(format!("{key:?}"), "BackupKey(<redacted>)");
    }

    #[test]
    fn passwords_of_impossible_length_are_refused_and_files_are_trimmed() {
        assert!(matches!(
            BackupKey::new(Zeroizing::new(vec![1; 20])),
            Err(BackupError::KeyLength { len: 20 })
        ));
        let key = BackupKey::from_password_file(b"  0123456789abcdef0123456789abcdef\n").unwrap();
        assert_eq!(
            key.key_id(),
            BackupKey::new(Zeroizing::new(b"0123456789abcdef0123456789abcdef".to_vec()))
                .unwrap()
                .key_id()
        );
    }
}
