//! Store → backup → wipe → recover: every record comes back identical and readable with the
//! database password, presignatures never come back, unchanged stores are not backed up twice,
//! and retention deletes only the oldest backups of the node.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use mpcium_state::backup::{self, files, BackupError, BackupOutcome, BackupSettings, Replace};
use mpcium_state::store::{KdfParams, KeyType, SecretPassword, Store, StoreOptions};

const PASSWORD: &str = "db password for backup tests";

fn password() -> SecretPassword {
    SecretPassword::new(PASSWORD.to_owned())
}

fn must_store(path: &Path) -> Store {
    Store::open_with(
        path,
        &password(),
        StoreOptions {
            kdf: KdfParams::insecure_for_tests(),
        },
    )
    .unwrap()
}

fn settings(dir: &Path, node: &str, keep: usize) -> BackupSettings {
    BackupSettings {
        node_name: node.to_owned(),
        dir: dir.to_path_buf(),
        period: Duration::from_secs(300),
        keep,
        password: password(),
        kdf: KdfParams::insecure_for_tests(),
    }
}

/// A store with a record in every table.
fn must_filled_store(path: &Path) -> Store {
    let store = must_store(path);
    store
        .put_share(KeyType::Ecdsa, "wallet-1", 1, b"ecdsa share v1")
        .unwrap();
    store
        .put_share(KeyType::Ecdsa, "wallet-1", 2, b"ecdsa share v2")
        .unwrap();
    store
        .put_share(KeyType::Eddsa, "wallet-2", 1, b"eddsa share")
        .unwrap();
    store
        .put_keyinfo(KeyType::Ecdsa, "wallet-1", b"{\"threshold\":1}")
        .unwrap();
    store
        .put_keyinfo(KeyType::Eddsa, "wallet-2", b"{\"threshold\":2}")
        .unwrap();
    store.put_aux("aux_info", b"aux bytes").unwrap();
    store.push_primes(b"primes").unwrap();
    store
        .push_presignature("wallet-1", b"presignature 1")
        .unwrap();
    store
        .push_presignature("wallet-1", b"presignature 2")
        .unwrap();
    store
}

fn must_written(outcome: BackupOutcome) -> std::path::PathBuf {
    match outcome {
        BackupOutcome::Written { path, .. } => path,
        other => panic!("expected a new backup, got {other:?}"),
    }
}

#[test]
fn a_recovered_store_holds_every_record_but_no_presignature() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db/node0");
    let backups = dir.path().join("backups");
    let store = must_filled_store(&db);
    let before = store.snapshot().unwrap();
    let file = must_written(backup::backup_now(&store, &settings(&backups, "node0", 24)).unwrap());
    drop(store);
    std::fs::remove_file(&db).unwrap();

    let report = backup::recover(&file, &password(), &db, Replace::Refuse).unwrap();
    assert_eq!(report.presignatures_dropped, 2);
    assert_eq!(report.summary.node, "node0");
    assert_eq!(report.summary.tables.get("presignatures"), Some(&2));
    assert!(!report.replaced);

    let restored = Store::open(&db, &password()).unwrap();
    let expected: Vec<_> = before
        .records
        .iter()
        .filter(|r| r.table != "presignatures")
        .cloned()
        .collect();
    assert_eq!(restored.snapshot().unwrap().records, expected);
    assert_eq!(restored.presignature_count("wallet-1").unwrap(), 0);
    assert!(restored.take_presignature("wallet-1").unwrap().is_none());
    for (key_type, wallet, version, share) in [
        (KeyType::Ecdsa, "wallet-1", 1, b"ecdsa share v1".as_slice()),
        (KeyType::Ecdsa, "wallet-1", 2, b"ecdsa share v2"),
        (KeyType::Eddsa, "wallet-2", 1, b"eddsa share"),
    ] {
        let got = restored.share(key_type, wallet, version).unwrap().unwrap();
        assert_eq!(got.expose(), share);
    }
    assert_eq!(
        restored
            .keyinfo(KeyType::Eddsa, "wallet-2")
            .unwrap()
            .unwrap(),
        b"{\"threshold\":2}"
    );
    assert_eq!(
        restored.aux("aux_info").unwrap().unwrap().expose(),
        b"aux bytes"
    );
    assert_eq!(restored.take_primes().unwrap().unwrap().expose(), b"primes");
}

#[test]
fn a_backup_is_owner_only_named_after_the_node_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let store = must_filled_store(&dir.path().join("db"));
    let backups = dir.path().join("backups");
    let file = must_written(backup::backup_now(&store, &settings(&backups, "node-a", 24)).unwrap());
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("backup-node-a-") && name.ends_with("-0.mpcbak"),
        "{name}"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let summary = backup::verify(&file, &password()).unwrap();
    assert_eq!(summary.node, "node-a");
    assert_eq!(
        summary.records,
        store.snapshot().unwrap().records.len() as u64
    );
    assert_eq!(summary.tables.get("shares"), Some(&3));
    assert_eq!(summary.tables.get("keyinfo"), Some(&2));
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&backups).unwrap().count(), 1);
}

#[test]
fn an_unchanged_store_is_not_backed_up_again_but_a_change_is() {
    let dir = tempfile::tempdir().unwrap();
    let store = must_filled_store(&dir.path().join("db"));
    let settings = settings(&dir.path().join("backups"), "node0", 24);
    let first = must_written(backup::backup_now(&store, &settings).unwrap());
    assert_eq!(
        backup::backup_now(&store, &settings).unwrap(),
        BackupOutcome::Unchanged {
            newest: first.clone()
        }
    );
    store.put_aux("more", b"x").unwrap();
    let second = must_written(backup::backup_now(&store, &settings).unwrap());
    assert_ne!(first, second);
    assert_eq!(files::newest(&settings.dir, Some("node0")).unwrap(), second);
}

#[test]
fn retention_deletes_only_the_oldest_backups_of_this_node() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let other = backups.join("backup-node1-2000-01-01_00-00-00-0.mpcbak");
    std::fs::write(&other, b"another node's backup").unwrap();
    let unrelated = backups.join("notes.txt");
    std::fs::write(&unrelated, b"keep me").unwrap();

    let store = must_store(&dir.path().join("db"));
    let settings = settings(&backups, "node0", 2);
    let mut written = Vec::new();
    for i in 0..4u8 {
        store.put_aux("counter", &[i]).unwrap();
        written.push(must_written(backup::backup_now(&store, &settings).unwrap()));
    }
    let kept: Vec<_> = files::list(&backups, Some("node0"))
        .unwrap()
        .into_iter()
        .map(|(_, path)| path)
        .collect();
    assert_eq!(kept, written[2..]);
    assert!(other.exists() && unrelated.exists());
}

#[test]
fn recover_refuses_a_non_empty_target_without_force_and_replaces_it_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let store = must_filled_store(&dir.path().join("db"));
    let file = must_written(
        backup::backup_now(&store, &settings(&dir.path().join("backups"), "node0", 24)).unwrap(),
    );
    let target = dir.path().join("target");
    std::fs::write(&target, b"something precious").unwrap();

    let err = backup::recover(&file, &password(), &target, Replace::Refuse).unwrap_err();
    assert!(matches!(err, BackupError::TargetNotEmpty { .. }), "{err}");
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(std::fs::read(&target).unwrap(), b"something precious");

    let report = backup::recover(&file, &password(), &target, Replace::Allow).unwrap();
    assert!(report.replaced);
    let restored = Store::open(&target, &password()).unwrap();
    assert_eq!(
        restored.aux("aux_info").unwrap().unwrap().expose(),
        b"aux bytes"
    );
}

#[test]
fn recover_into_an_empty_directory_puts_the_store_there_and_refuses_a_full_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = must_filled_store(&dir.path().join("db"));
    let file = must_written(
        backup::backup_now(&store, &settings(&dir.path().join("backups"), "node0", 24)).unwrap(),
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    backup::recover(&file, &password(), &empty, Replace::Refuse).unwrap();
    assert!(Store::open(&empty, &password()).is_ok());

    let full = dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), b"x").unwrap();
    let err = backup::recover(&file, &password(), &full, Replace::Allow).unwrap_err();
    assert!(
        matches!(err, BackupError::TargetIsDirectory { .. }),
        "{err}"
    );
    assert!(full.join("x").exists());
}
