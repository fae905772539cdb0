//! Damaged or foreign backups: a wrong password, a truncated file, flipped bytes anywhere and
//! a file that is not a backup each fail with an error naming the problem, and recovery from
//! them writes nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mpcium_state::backup::{self, BackupError, BackupErrorKind, BackupOutcome, BackupSettings};
use mpcium_state::backup::{files, Replace};
use mpcium_state::store::{KdfParams, KeyType, SecretPassword, Store, StoreOptions};

const PASSWORD: &str = "db password for damage tests";

fn password() -> SecretPassword {
    SecretPassword::new(PASSWORD.to_owned())
}

/// A store with a few records, backed up once; returns (temp dir, backup file).
fn must_backup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path().join("db"),
        &password(),
        StoreOptions {
            kdf: KdfParams::insecure_for_tests(),
        },
    )
    .unwrap();
    store.put_share(KeyType::Ecdsa, "w", 1, b"share").unwrap();
    store.put_keyinfo(KeyType::Ecdsa, "w", b"info").unwrap();
    store.push_presignature("w", b"presig").unwrap();
    let settings = BackupSettings {
        node_name: "node0".to_owned(),
        dir: dir.path().join("backups"),
        period: Duration::from_secs(300),
        keep: 24,
        password: password(),
        kdf: KdfParams::insecure_for_tests(),
    };
    match backup::backup_now(&store, &settings).unwrap() {
        BackupOutcome::Written { path, .. } => (dir, path),
        other => panic!("expected a new backup, got {other:?}"),
    }
}

/// Verifies `file` and checks that recovering it leaves no store behind.
fn must_fail_everywhere(dir: &Path, file: &Path, password: &SecretPassword) -> BackupError {
    let target = dir.join("restored");
    let recover_err = backup::recover(file, password, &target, Replace::Refuse).unwrap_err();
    assert!(
        !target.exists(),
        "a failed recover left {}",
        target.display()
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".mpcium-restore-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let verify_err = backup::verify(file, password).unwrap_err();
    assert_eq!(recover_err.to_string(), verify_err.to_string());
    verify_err
}

fn must_header_len(bytes: &[u8]) -> usize {
    21 + u32::from_be_bytes(bytes[17..21].try_into().unwrap()) as usize
}

#[test]
fn a_wrong_password_is_named_and_nothing_is_written() {
    let (dir, file) = must_backup();
    let wrong = SecretPassword::new("not the password".to_owned());
    let err = must_fail_everywhere(dir.path(), &file, &wrong);
    assert!(matches!(err, BackupError::WrongPassword { .. }), "{err}");
    assert_eq!(err.kind(), BackupErrorKind::Password);
    assert!(err.to_string().contains("password"), "{err}");
    assert!(!err.to_string().contains("not the password"), "{err}");
}

#[test]
fn a_truncated_backup_is_reported_as_truncated() {
    let (dir, file) = must_backup();
    let bytes = std::fs::read(&file).unwrap();
    for cut in [
        bytes.len() - 1,
        must_header_len(&bytes) + 5,
        must_header_len(&bytes) - 3,
        18,
        5,
    ] {
        std::fs::write(&file, &bytes[..cut]).unwrap();
        let err = must_fail_everywhere(dir.path(), &file, &password());
        assert!(
            matches!(err, BackupError::Truncated { .. }),
            "cut at {cut}: {err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}

#[test]
fn a_flipped_ciphertext_byte_fails_authentication() {
    let (dir, file) = must_backup();
    let mut bytes = std::fs::read(&file).unwrap();
    let at = must_header_len(&bytes) + 10;
    bytes[at] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let err = must_fail_everywhere(dir.path(), &file, &password());
    assert!(matches!(err, BackupError::Tampered { .. }), "{err}");
    assert_eq!(err.kind(), BackupErrorKind::Corrupt);
    assert!(err.to_string().contains("modified or damaged"), "{err}");
}

#[test]
fn an_edited_header_field_fails_authentication() {
    let (dir, file) = must_backup();
    let bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8_lossy(&bytes[21..must_header_len(&bytes)]).into_owned();
    // Change the node name, keeping the JSON valid and the same length.
    let edited = text.replace("\"node\":\"node0\"", "\"node\":\"node9\"");
    assert_ne!(edited, text);
    let mut out = bytes[..21].to_vec();
    out.extend_from_slice(edited.as_bytes());
    out.extend_from_slice(&bytes[must_header_len(&bytes)..]);
    std::fs::write(&file, &out).unwrap();
    let err = must_fail_everywhere(dir.path(), &file, &password());
    assert!(matches!(err, BackupError::Tampered { .. }), "{err}");
}

#[test]
fn a_broken_header_is_named_as_such() {
    let (dir, file) = must_backup();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[21] = b'[';
    std::fs::write(&file, &bytes).unwrap();
    let err = must_fail_everywhere(dir.path(), &file, &password());
    assert!(matches!(err, BackupError::BadHeader { .. }), "{err}");
    assert!(err.to_string().contains("damaged header"), "{err}");
}

#[test]
fn a_file_that_is_not_a_backup_or_from_a_newer_version_is_named() {
    let (dir, file) = must_backup();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[0] = b'X';
    std::fs::write(&file, &bytes).unwrap();
    let err = must_fail_everywhere(dir.path(), &file, &password());
    assert!(matches!(err, BackupError::NotABackup { .. }), "{err}");

    bytes[0] = b'M';
    bytes[16] = 9;
    std::fs::write(&file, &bytes).unwrap();
    let err = must_fail_everywhere(dir.path(), &file, &password());
    assert!(
        matches!(err, BackupError::UnsupportedVersion { version: 9, .. }),
        "{err}"
    );
}

#[test]
fn an_empty_backup_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = files::newest(dir.path(), None).unwrap_err();
    assert!(matches!(err, BackupError::NoBackups { .. }), "{err}");
    assert!(err.to_string().contains("--backup-dir"), "{err}");
}

#[test]
fn the_password_never_appears_in_settings_debug() {
    let settings = BackupSettings {
        node_name: "node0".to_owned(),
        dir: PathBuf::from("b"),
        period: Duration::from_secs(1),
        keep: 1,
        password: password(),
        kdf: KdfParams::insecure_for_tests(),
    };
    let printed = format!("{settings:?}");
    assert!(!printed.contains(PASSWORD), "{printed}");
    assert!(printed.contains("<redacted>"), "{printed}");
}
