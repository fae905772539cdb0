//! Writing key and identity files: owner-only (0600), atomically (temp file in the same
//! directory, fsync, rename), refusing to replace an existing file unless asked to.
//!
//! A failure at any point leaves the destination untouched: either the old file or no file.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Largest file the readers in this module accept; identity and key files are a few hundred bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why a file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The destination exists and overwriting was not requested.
    #[error("{} already exists; pass --overwrite to replace it", path.display())]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// Creating, writing, syncing or renaming failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The destination.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Reading failed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{} is {size} bytes, larger than the {MAX_FILE_BYTES} bytes allowed; is it the right file?", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
}

/// Whether an existing destination may be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Fail with [`FileError::Exists`] if the destination exists.
    Refuse,
    /// Replace the destination atomically.
    Allow,
}

/// Writes `bytes` to `path` with mode 0600, atomically, honouring `overwrite`.
pub fn write_private_file(
    path: &Path,
    bytes: &[u8],
    overwrite: Overwrite,
) -> Result<(), FileError> {
    let write_err = |source| FileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = parent_dir(path);
    // NamedTempFile is created with mode 0600 on unix, so the secret is never world-readable.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
    tmp.write_all(bytes).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    match overwrite {
        Overwrite::Allow => {
            tmp.persist(path).map_err(|e| write_err(e.error))?;
        }
        Overwrite::Refuse => {
            tmp.persist_noclobber(path).map_err(|e| {
                if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                    FileError::Exists {
                        path: path.to_path_buf(),
                    }
                } else {
                    write_err(e.error)
                }
            })?;
        }
    }
    // Make the rename itself durable.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(write_err)
}

/// Fails with [`FileError::Exists`] when `path` exists and overwriting is refused.
pub fn ensure_writable(path: &Path, overwrite: Overwrite) -> Result<(), FileError> {
    if overwrite == Overwrite::Refuse && path.exists() {
        return Err(FileError::Exists {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Reads a whole file of at most [`MAX_FILE_BYTES`].
pub fn read_small_file(path: &Path) -> Result<Vec<u8>, FileError> {
    let read_err = |source| FileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_err)?.len();
    if size > MAX_FILE_BYTES {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            size,
        });
    }
    std::fs::read(path).map_err(read_err)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_file_is_owner_only_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write_private_file(&path, b"abc", Overwrite::Refuse).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn existing_file_is_kept_when_overwrite_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, b"old").unwrap();
        let err = write_private_file(&path, b"new", Overwrite::Refuse).unwrap_err();
        assert!(matches!(err, FileError::Exists { .. }), "{err}");
        assert!(err.to_string().contains("--overwrite"));
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file left behind"
        );
    }

    #[test]
    fn existing_file_is_replaced_when_overwrite_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, b"old").unwrap();
        write_private_file(&path, b"new", Overwrite::Allow).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn oversized_file_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert!(matches!(
            read_small_file(&path),
            Err(FileError::TooLarge { .. })
        ));
    }
}
