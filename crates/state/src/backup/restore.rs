//! Checking a backup without restoring it, and recovering a backup into a new store file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::files::sync_dir;
use super::format::{self, Opened};
use super::BackupError;
use crate::store::{SecretPassword, Store};

/// The table whose records are never restored.
const PRESIGNATURES: &str = "presignatures";

/// What a backup holds, without any secret: who, when, how many records per table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    /// The backup file.
    pub file: PathBuf,
    /// Node that made it.
    pub node: String,
    /// When the snapshot was taken (RFC 3339 UTC).
    pub created_at: String,
    /// Store schema version.
    pub schema_version: u32,
    /// Total records, `meta` included.
    pub records: u64,
    /// Records per table.
    pub tables: BTreeMap<&'static str, u64>,
}

impl fmt::Display for BackupSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "backup:         {}", self.file.display())?;
        writeln!(f, "node:           {}", self.node)?;
        writeln!(f, "created at:     {}", self.created_at)?;
        writeln!(f, "schema version: {}", self.schema_version)?;
        write!(f, "records:        {}", self.records)?;
        for (table, n) in &self.tables {
            write!(f, "\n  {table:<14}{n}")?;
        }
        Ok(())
    }
}

/// What [`recover`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoverReport {
    /// The backup restored.
    pub summary: BackupSummary,
    /// The new store file.
    pub target: PathBuf,
    /// Presignatures in the backup that were not restored.
    pub presignatures_dropped: u64,
    /// Whether an existing file was replaced.
    pub replaced: bool,
}

/// Whether [`recover`] may replace an existing non-empty store file (`--force`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    /// Refuse with [`BackupError::TargetNotEmpty`].
    Refuse,
    /// Replace it atomically.
    Allow,
}

/// Decrypts the backup at `path` and checks its digest, its record count and that every record
/// opens with `password` as the store password; writes nothing.
pub fn verify(path: &Path, password: &SecretPassword) -> Result<BackupSummary, BackupError> {
    let opened = open_file(path, password)?;
    opened.snapshot.check_readable(password)?;
    Ok(summarise(path, &opened))
}

/// Restores the backup at `path` into a new store file at `target`, without its presignatures.
/// `target` must be absent, an empty file or an empty directory, unless `replace` allows
/// replacing a store file. Nothing at `target` changes unless the whole restore succeeds.
pub fn recover(
    path: &Path,
    password: &SecretPassword,
    target: &Path,
    replace: Replace,
) -> Result<RecoverReport, BackupError> {
    let opened = open_file(path, password)?;
    let summary = summarise(path, &opened);
    let existing = check_target(target, replace)?;
    let mut snapshot = opened.snapshot;
    let before = snapshot.records.len();
    snapshot.records.retain(|r| r.table != PRESIGNATURES);
    let dropped = u64::try_from(before - snapshot.records.len()).unwrap_or(u64::MAX);

    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir_err = |source| BackupError::Dir {
        dir: parent.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(parent).map_err(dir_err)?;
    // Build the store beside the target, then rename it into place: the target is never seen
    // half-written.
    let staging = tempfile::Builder::new()
        .prefix(".mpcium-restore-")
        .tempdir_in(parent)
        .map_err(dir_err)?;
    let staged = staging.path().join("store");
    drop(Store::restore_snapshot(&staged, password, &snapshot)?);
    let write_err = |source| BackupError::Write {
        path: target.to_path_buf(),
        source,
    };
    if existing == Existing::EmptyDir {
        std::fs::remove_dir(target).map_err(write_err)?;
    }
    std::fs::rename(&staged, target).map_err(write_err)?;
    sync_dir(parent)?;
    Ok(RecoverReport {
        summary,
        target: target.to_path_buf(),
        presignatures_dropped: dropped,
        replaced: existing == Existing::File,
    })
}

fn open_file(path: &Path, password: &SecretPassword) -> Result<Opened, BackupError> {
    let bytes = std::fs::read(path).map_err(|source| BackupError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    format::open(path, &bytes, password)
}

fn summarise(path: &Path, opened: &Opened) -> BackupSummary {
    let mut tables = BTreeMap::new();
    for record in &opened.snapshot.records {
        *tables.entry(record.table).or_insert(0u64) += 1;
    }
    BackupSummary {
        file: path.to_path_buf(),
        node: opened.header.node.clone(),
        created_at: opened.header.created_at.clone(),
        schema_version: opened.header.schema_version,
        records: opened.header.records,
        tables,
    }
}

/// What is at the recovery target now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Existing {
    /// Nothing, or an empty file.
    Nothing,
    /// An empty directory (removed just before the rename).
    EmptyDir,
    /// A non-empty file that may be replaced.
    File,
}

fn check_target(target: &Path, replace: Replace) -> Result<Existing, BackupError> {
    let read_err = |source| BackupError::Read {
        path: target.to_path_buf(),
        source,
    };
    let meta = match std::fs::symlink_metadata(target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) => return Err(read_err(e)),
        Ok(meta) => meta,
    };
    if meta.is_dir() {
        let mut entries = std::fs::read_dir(target).map_err(read_err)?;
        return match entries.next() {
            None => Ok(Existing::EmptyDir),
            Some(_) => Err(BackupError::TargetIsDirectory {
                path: target.to_path_buf(),
            }),
        };
    }
    match (meta.len(), replace) {
        (0, _) => Ok(Existing::Nothing),
        (_, Replace::Allow) => Ok(Existing::File),
        (_, Replace::Refuse) => Err(BackupError::TargetNotEmpty {
            path: target.to_path_buf(),
        }),
    }
}
