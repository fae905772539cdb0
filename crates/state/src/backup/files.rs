//! Backup files on disk: their names, finding the newest, writing a new one atomically, and
//! retention.
//!
//! Names are `backup-<node>-<YYYY-MM-DD_HH-MM-SS>-<counter>.mpcbak` (UTC); the counter tells
//! apart backups taken in the same second. Files are written owner-only (0600) through a
//! temporary file in the same directory that is fsynced and renamed without replacing anything,
//! then the directory is fsynced, so a crash leaves either a complete backup or none.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::format::{self, Header, PREFIX_LEN};
use super::BackupError;

/// File name extension of backups.
pub const EXTENSION: &str = "mpcbak";
const PREFIX: &str = "backup-";
/// Format of the time in file names.
const STAMP_FORMAT: &str = "%Y-%m-%d_%H-%M-%S";
/// Length of a formatted stamp.
const STAMP_LEN: usize = 19;
/// Attempts at a free counter before giving up (only reached if the directory is hostile).
const MAX_COUNTER_TRIES: u64 = 1000;

/// A parsed backup file name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct BackupName {
    /// UTC time stamp, `YYYY-MM-DD_HH-MM-SS` (sorts like the time).
    pub stamp: String,
    /// Counter within the second.
    pub counter: u64,
    /// Node name.
    pub node: String,
}

impl BackupName {
    /// Parses `backup-<node>-<stamp>-<counter>.mpcbak`; `None` for any other name.
    pub fn parse(file_name: &str) -> Option<BackupName> {
        let rest = file_name
            .strip_prefix(PREFIX)?
            .strip_suffix(EXTENSION)?
            .strip_suffix('.')?;
        let (rest, counter) = rest.rsplit_once('-')?;
        let counter = counter.parse().ok()?;
        let split = rest.len().checked_sub(STAMP_LEN)?;
        let (node, stamp) = (rest.get(..split)?, rest.get(split..)?);
        let node = node.strip_suffix('-')?;
        chrono::NaiveDateTime::parse_from_str(stamp, STAMP_FORMAT).ok()?;
        if node.is_empty() {
            return None;
        }
        Some(BackupName {
            stamp: stamp.to_owned(),
            counter,
            node: node.to_owned(),
        })
    }

    /// The file name.
    pub fn file_name(&self) -> String {
        format!(
            "{PREFIX}{}-{}-{}.{EXTENSION}",
            self.node, self.stamp, self.counter
        )
    }
}

/// Checks that `node` can be part of a file name.
pub(crate) fn check_node_name(node: &str) -> Result<(), BackupError> {
    if node.is_empty() || node.contains(['/', '\0']) || node == "." || node == ".." {
        return Err(BackupError::InvalidNodeName {
            name: node.to_owned(),
        });
    }
    Ok(())
}

/// Backups in `dir` (of `node` only, if given), oldest first.
pub fn list(dir: &Path, node: Option<&str>) -> Result<Vec<(BackupName, PathBuf)>, BackupError> {
    let dir_err = |source| BackupError::Dir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(dir_err)? {
        let entry = entry.map_err(dir_err)?;
        let Some(name) = entry.file_name().to_str().and_then(BackupName::parse) else {
            continue;
        };
        if node.is_none_or(|n| n == name.node) && entry.path().is_file() {
            found.push((name, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// The newest backup in `dir` of `node`; with no node given, the directory must hold backups
/// of one node only ([`BackupError::SeveralNodes`] otherwise), so a restore never picks up
/// another node's store by accident.
pub fn newest(dir: &Path, node: Option<&str>) -> Result<PathBuf, BackupError> {
    let mut backups = list(dir, node)?;
    let mut nodes: Vec<String> = backups.iter().map(|(name, _)| name.node.clone()).collect();
    nodes.sort();
    nodes.dedup();
    if nodes.len() > 1 {
        return Err(BackupError::SeveralNodes {
            dir: dir.to_path_buf(),
            nodes,
        });
    }
    backups
        .pop()
        .map(|(_, path)| path)
        .ok_or_else(|| BackupError::NoBackups {
            dir: dir.to_path_buf(),
        })
}

/// Reads only the header of the backup at `path`.
pub fn read_header(path: &Path) -> Result<Header, BackupError> {
    let read_err = |source| BackupError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let mut prefix = Vec::with_capacity(PREFIX_LEN);
    Read::by_ref(&mut file)
        .take(PREFIX_LEN as u64)
        .read_to_end(&mut prefix)
        .map_err(read_err)?;
    let len = format::header_len(path, &prefix)?;
    let mut json = Vec::with_capacity(len);
    file.take(len as u64)
        .read_to_end(&mut json)
        .map_err(read_err)?;
    if json.len() < len {
        return Err(BackupError::Truncated {
            path: path.to_path_buf(),
            what: "header",
        });
    }
    format::parse_header(path, &json)
}

/// Writes `bytes` as a new backup of `node` taken at `at`, never replacing a file.
pub(crate) fn write_new(
    dir: &Path,
    node: &str,
    at: DateTime<Utc>,
    bytes: &[u8],
) -> Result<PathBuf, BackupError> {
    let dir_err = |source| BackupError::Dir {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(dir_err)?;
    let stamp = at.format(STAMP_FORMAT).to_string();
    let first = list(dir, Some(node))?
        .iter()
        .filter(|(name, _)| name.stamp == stamp)
        .map(|(name, _)| name.counter.saturating_add(1))
        .max()
        .unwrap_or(0);
    let mut name = BackupName {
        stamp,
        counter: first,
        node: node.to_owned(),
    };
    // NamedTempFile is created with mode 0600 on unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".backup-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(dir_err)?;
    let tmp_err = |source| BackupError::Write {
        path: dir.join(name.file_name()),
        source,
    };
    tmp.write_all(bytes).map_err(tmp_err)?;
    tmp.as_file().sync_all().map_err(tmp_err)?;
    for _ in 0..MAX_COUNTER_TRIES {
        let path = dir.join(name.file_name());
        match tmp.persist_noclobber(&path) {
            Ok(_) => {
                sync_dir(dir)?;
                return Ok(path);
            }
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                tmp = e.file;
                name.counter = name.counter.saturating_add(1);
            }
            Err(e) => {
                return Err(BackupError::Write {
                    path,
                    source: e.error,
                })
            }
        }
    }
    Err(BackupError::Write {
        path: dir.join(name.file_name()),
        source: std::io::Error::other("no free backup file name in this second"),
    })
}

/// Deletes the oldest backups of `node` in `dir` so that at most `keep` remain; returns the
/// deleted files.
pub(crate) fn prune(dir: &Path, node: &str, keep: usize) -> Result<Vec<PathBuf>, BackupError> {
    let backups = list(dir, Some(node))?;
    let excess = backups.len().saturating_sub(keep);
    let mut deleted = Vec::with_capacity(excess);
    for (_, path) in backups.into_iter().take(excess) {
        std::fs::remove_file(&path).map_err(|source| BackupError::Write {
            path: path.clone(),
            source,
        })?;
        deleted.push(path);
    }
    if !deleted.is_empty() {
        sync_dir(dir)?;
    }
    Ok(deleted)
}

/// Makes renames and deletions in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| BackupError::Dir {
            dir: dir.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_even_when_the_node_name_has_dashes() {
        let name = BackupName {
            stamp: "2025-01-02_03-04-05".to_owned(),
            counter: 7,
            node: "node-a-1".to_owned(),
        };
        let text = name.file_name();
        assert_eq!(text, "backup-node-a-1-2025-01-02_03-04-05-7.mpcbak");
        assert_eq!(BackupName::parse(&text), Some(name));
    }

    #[test]
    fn other_files_are_not_taken_for_backups() {
        for text in [
            "backup-node0-2025-01-02_03-04-05-1.enc",
            "backup--2025-01-02_03-04-05-1.mpcbak",
            "backup-node0-2025-13-02_03-04-05-1.mpcbak",
            "backup-node0-2025-01-02_03-04-05-x.mpcbak",
            ".backup-abc.tmp",
            "latest.version",
        ] {
            assert_eq!(BackupName::parse(text), None, "{text}");
        }
    }

    #[test]
    fn names_sort_by_time_then_counter() {
        let a = BackupName::parse("backup-n-2025-01-02_03-04-05-9.mpcbak").unwrap();
        let b = BackupName::parse("backup-n-2025-01-02_03-04-05-10.mpcbak").unwrap();
        let c = BackupName::parse("backup-n-2025-01-02_03-04-06-0.mpcbak").unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn node_names_that_escape_the_directory_are_refused() {
        for bad in ["", "a/b", "..", "."] {
            assert!(check_node_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_node_name("node0").is_ok());
    }
}
