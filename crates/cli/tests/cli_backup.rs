//! `verify-backup` and `recover` against real backup files written by the node library: the
//! summary never shows a secret, a wrong password or a damaged file fails with the problem
//! named, and `recover` refuses a non-empty target without `--force` and never restores
//! presignatures.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use mpcium_state::backup::{self, BackupOutcome, BackupSettings};
use mpcium_state::store::{KdfParams, KeyType, SecretPassword, Store, StoreOptions};
use support::*;

const PASSWORD: &str = "cli backup test password";
const SHARE: &[u8] = b"SECRET-SHARE-BYTES";

/// A node store with a share, key info and a presignature, backed up into `<dir>/backups`;
/// returns the backup file. Also writes the password to `<dir>/pw`.
fn must_backup(dir: &Path) -> PathBuf {
    let password = SecretPassword::new(PASSWORD.to_owned());
    let store = Store::open_with(
        dir.join("db/node0"),
        &password,
        StoreOptions {
            kdf: KdfParams::insecure_for_tests(),
        },
    )
    .unwrap();
    store
        .put_share(KeyType::Ecdsa, "wallet-1", 1, SHARE)
        .unwrap();
    store
        .put_keyinfo(KeyType::Ecdsa, "wallet-1", b"info")
        .unwrap();
    store.push_presignature("wallet-1", b"presig").unwrap();
    std::fs::write(dir.join("pw"), format!("{PASSWORD}\n")).unwrap();
    let settings = BackupSettings {
        node_name: "node0".to_owned(),
        dir: dir.join("backups"),
        period: Duration::from_secs(300),
        keep: 24,
        password,
        kdf: KdfParams::insecure_for_tests(),
    };
    match backup::backup_now(&store, &settings).unwrap() {
        BackupOutcome::Written { path, .. } => path,
        other => panic!("expected a new backup, got {other:?}"),
    }
}

#[test]
fn verify_backup_prints_a_summary_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    must_backup(dir.path());
    let run = must_succeed(
        dir.path(),
        &[
            "verify-backup",
            "--backup-dir",
            "backups",
            "--password-file",
            "pw",
        ],
        None,
    );
    for expected in ["node0", "shares", "presignatures", "ok:"] {
        assert!(run.stdout.contains(expected), "{expected}: {}", run.stdout);
    }
    assert!(!run.stdout.contains(PASSWORD) && !run.stdout.contains("SECRET-SHARE"));
}

#[test]
fn verify_backup_reads_the_password_from_stdin_and_names_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = must_backup(dir.path());
    let file = file.to_str().unwrap();
    must_succeed(
        dir.path(),
        &["verify-backup", "--backup-file", file],
        Some(&format!("{PASSWORD}\n")),
    );
    let run = must_fail(
        dir.path(),
        &["verify-backup", "--backup-file", file],
        Some("wrong password\n"),
    );
    assert!(
        run.stderr.contains("password does not open"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrong password"), "{}", run.stderr);
}

#[test]
fn verify_backup_names_a_damaged_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = must_backup(dir.path());
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    std::fs::write(&file, &bytes).unwrap();
    let run = must_fail(
        dir.path(),
        &["verify-backup", "-b", "backups", "--password-file", "pw"],
        None,
    );
    assert!(run.stderr.contains("modified or damaged"), "{}", run.stderr);

    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let run = must_fail(
        dir.path(),
        &["verify-backup", "-b", "backups", "--password-file", "pw"],
        None,
    );
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
}

#[test]
fn recover_restores_the_store_without_presignatures() {
    let dir = tempfile::tempdir().unwrap();
    must_backup(dir.path());
    std::fs::remove_file(dir.path().join("db/node0")).unwrap();
    let run = must_succeed(
        dir.path(),
        &[
            "recover",
            "-b",
            "backups",
            "-r",
            "db/node0",
            "--password-file",
            "pw",
        ],
        None,
    );
    assert!(
        run.stdout.contains("dropped 1 presignatures"),
        "{}",
        run.stdout
    );
    let store = Store::open(
        dir.path().join("db/node0"),
        &SecretPassword::new(PASSWORD.to_owned()),
    )
    .unwrap();
    let share = store.share(KeyType::Ecdsa, "wallet-1", 1).unwrap().unwrap();
    assert_eq!(share.expose(), SHARE);
    assert_eq!(store.presignature_count("wallet-1").unwrap(), 0);
}

#[test]
fn recover_refuses_a_non_empty_target_without_force() {
    let dir = tempfile::tempdir().unwrap();
    must_backup(dir.path());
    let target = dir.path().join("db/node0");
    let before = std::fs::read(&target).unwrap();
    let args = [
        "recover",
        "--backup-dir",
        "backups",
        "--recovery-path",
        "db/node0",
        "--password-file",
        "pw",
    ];
    let run = must_fail(dir.path(), &args, None);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read(&target).unwrap(), before);

    let mut forced = args.to_vec();
    forced.push("--force");
    let run = must_succeed(dir.path(), &forced, None);
    assert!(
        run.stdout.contains("replaced the existing file"),
        "{}",
        run.stdout
    );
    let store = Store::open(&target, &SecretPassword::new(PASSWORD.to_owned())).unwrap();
    assert_eq!(store.presignature_count("wallet-1").unwrap(), 0);
}

#[test]
fn recover_with_a_wrong_password_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    must_backup(dir.path());
    let run = must_fail(
        dir.path(),
        &["recover", "-b", "backups", "-r", "restored"],
        Some("not it\n"),
    );
    assert!(
        run.stderr.contains("password does not open"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("restored").exists());
}

#[test]
fn an_empty_backup_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("backups")).unwrap();
    let run = must_fail(
        dir.path(),
        &["verify-backup", "-b", "backups"],
        Some("pw\n"),
    );
    assert!(run.stderr.contains("no backup files"), "{}", run.stderr);
}

#[test]
fn a_directory_with_several_nodes_backups_needs_a_node_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = must_backup(dir.path());
    let other = dir
        .path()
        .join("backups/backup-node1-2000-01-01_00-00-00-0.mpcbak");
    std::fs::copy(&file, &other).unwrap();
    let run = must_fail(
        dir.path(),
        &["verify-backup", "-b", "backups", "--password-file", "pw"],
        None,
    );
    assert!(
        run.stderr.contains("several nodes (node0, node1)") && run.stderr.contains("--node"),
        "{}",
        run.stderr
    );
    let run = must_succeed(
        dir.path(),
        &[
            "verify-backup",
            "-b",
            "backups",
            "--node",
            "node0",
            "--password-file",
            "pw",
        ],
        None,
    );
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(run.stdout.contains(name), "{}", run.stdout);
}
