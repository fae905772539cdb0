//! Property tests (the `proptest` twin of the `fuzz/` target `backup_reader`): the backup
//! reader never panics, and never accepts a backup with any byte changed, cut short or with
//! bytes spliced in; arbitrary files are refused with an error.
//!
//! Cases per property: 64, or `PROPTEST_CASES` (see `docs/reliability.md` for longer runs).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use mpcium_state::backup::{self, BackupOutcome, BackupSettings};
use mpcium_state::store::{KdfParams, KeyType, SecretPassword, Store, StoreOptions};
use proptest::collection::vec;
use proptest::prelude::*;

const PASSWORD: &str = "db password for backup properties";

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 64;
    }
    config
}

fn password() -> SecretPassword {
    SecretPassword::new(PASSWORD.to_owned())
}

/// One valid backup (test-cost Argon2id) shared by every case: its directory and bytes.
fn must_backup() -> &'static (tempfile::TempDir, Vec<u8>) {
    static BACKUP: OnceLock<(tempfile::TempDir, Vec<u8>)> = OnceLock::new();
    BACKUP.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_with(
            dir.path().join("db"),
            &password(),
            StoreOptions {
                kdf: KdfParams::insecure_for_tests(),
            },
        )
        .expect("store");
        store
            .put_share(KeyType::Ecdsa, "w", 1, b"share")
            .expect("share");
        store
            .put_keyinfo(KeyType::Ecdsa, "w", b"info")
            .expect("keyinfo");
        let settings = BackupSettings {
            node_name: "node0".to_owned(),
            dir: dir.path().join("backups"),
            period: Duration::from_secs(300),
            keep: 24,
            password: password(),
            kdf: KdfParams::insecure_for_tests(),
        };
        let path = match backup::backup_now(&store, &settings).expect("backup") {
            BackupOutcome::Written { path, .. } => path,
            other => panic!("expected a new backup, got {other:?}"),
        };
        let bytes = std::fs::read(path).expect("read backup");
        (dir, bytes)
    })
}

/// Writes `bytes` to a fresh file beside the shared backup and verifies it.
fn verify_bytes(bytes: &[u8]) -> Result<(), backup::BackupError> {
    let dir = tempfile::tempdir_in(must_backup().0.path()).expect("case dir");
    let path: PathBuf = dir.path().join("case.backup");
    std::fs::write(&path, bytes).expect("write case");
    backup::verify(Path::new(&path), &password()).map(|_| ())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_are_refused_as_a_backup(
        bytes in vec(any::<u8>(), 0..2048),
        magic in any::<bool>(),
    ) {
        // With and without the real magic and version in front, to get past the first check.
        let mut file = if magic { b"MPCIUM_RS_BACKUP\x01".to_vec() } else { Vec::new() };
        file.extend_from_slice(&bytes);
        prop_assert!(verify_bytes(&file).is_err());
    }

    #[test]
    fn a_backup_with_one_byte_changed_is_refused(
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut bytes = must_backup().1.clone();
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        prop_assert!(verify_bytes(&bytes).is_err(), "byte {} changed and accepted", i);
    }

    #[test]
    fn a_backup_cut_short_or_with_bytes_spliced_in_is_refused(
        cut in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        splice in vec(any::<u8>(), 1..64),
    ) {
        let bytes = &must_backup().1;
        prop_assert!(verify_bytes(&bytes[..cut.index(bytes.len())]).is_err());
        let i = at.index(bytes.len() + 1);
        let mut spliced = bytes[..i].to_vec();
        spliced.extend_from_slice(&splice);
        spliced.extend_from_slice(&bytes[i..]);
        prop_assert!(verify_bytes(&spliced).is_err());
    }
}

#[test]
fn the_unchanged_backup_verifies() {
    verify_bytes(&must_backup().1).expect("the original backup verifies");
}
