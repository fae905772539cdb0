//! Reading a reference node's backup chain: full and incremental backups restore to the state the
//! node had; every defect of the chain, the files or the password is refused with its own error
//! before anything is returned.

use mpcium_migrate::backup::{BackupChain, BackupError, BackupErrorKind, BackupKey};
use mpcium_migrate::testing::BackupWriter;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zeroize::Zeroizing;

const PASSWORD: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

fn must_key(bytes: &[u8]) -> BackupKey {
    BackupKey::new(Zeroizing::new(bytes.to_vec())).unwrap()
}

/// Two backups of node0: a full one, then an incremental one after an update, an insert and a
/// deletion.
fn must_two_backups(password: &[u8]) -> BackupWriter {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut w = BackupWriter::new("node0", must_key(password));
    w.set("pre_params_0", b"{}");
    w.set("ecdsa:w1_v1", b"share one");
    w.set("gone", b"soon deleted");
    w.backup(&mut rng).unwrap();
    assert!(
        w.backup(&mut rng).is_none(),
        "an unchanged store is not backed up"
    );
    w.set("ecdsa:w1_v1", b"share one, rewritten");
    w.set("eddsa:w1_v1", b"share two");
    w.delete("gone");
    w.backup(&mut rng).unwrap();
    w
}

fn must_chain(w: &BackupWriter) -> BackupChain {
    BackupChain::from_files(w.files().to_vec(), Some(&w.latest_version()), Some("node0")).unwrap()
}

fn chain_error(files: Vec<(String, Vec<u8>)>, latest: Option<&[u8]>) -> BackupError {
    BackupChain::from_files(files, latest, Some("node0")).unwrap_err()
}

#[test]
fn a_full_and_an_incremental_backup_restore_the_latest_state() {
    let w = must_two_backups(PASSWORD);
    let chain = must_chain(&w);
    assert_eq!(chain.files().len(), 2);
    assert!(chain.latest_version_checked());
    assert_eq!(chain.files()[0].metadata().since, 0);
    assert_eq!(
        chain.files()[1].metadata().since,
        chain.files()[0].metadata().next_since
    );
    let snapshot = chain.restore(&must_key(PASSWORD)).unwrap();
    assert_eq!(
        snapshot.get(b"ecdsa:w1_v1"),
        Some(&b"share one, rewritten"[..])
    );
    assert_eq!(snapshot.get(b"eddsa:w1_v1"), Some(&b"share two"[..]));
    assert_eq!(snapshot.get(b"gone"), None, "the deletion is replayed");
    assert_eq!(snapshot.len(), 3);
}

#[test]
fn files_in_a_directory_are_found_ordered_by_counter_and_filtered_by_node() {
    let dir = tempfile::tempdir().unwrap();
    let w = must_two_backups(PASSWORD);
    w.write_to(dir.path()).unwrap();
    let mut other = BackupWriter::new("node1", must_key(PASSWORD));
    other.set("k", b"v");
    other.backup(&mut ChaCha20Rng::seed_from_u64(2)).unwrap();
    for (name, bytes) in other.files() {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let err = BackupChain::open_dir(dir.path(), None).unwrap_err();
    assert_eq!(err.kind(), BackupErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("node0, node1"), "{err}");
    let chain = BackupChain::open_dir(dir.path(), Some("node0")).unwrap();
    assert_eq!(chain.node(), "node0");
    assert_eq!(chain.files().len(), 2);
    let err = BackupChain::open_dir(dir.path(), Some("node7")).unwrap_err();
    assert_eq!(err.kind(), BackupErrorKind::NotFound);
}

#[test]
fn passwords_of_16_and_24_bytes_select_aes_128_and_aes_192_as_go_does() {
    for password in [&b"0123456789abcdef"[..], b"0123456789abcdef01234567"] {
        let w = must_two_backups(password);
        let snapshot = must_chain(&w).restore(&must_key(password)).unwrap();
        assert_eq!(snapshot.get(b"eddsa:w1_v1"), Some(&b"share two"[..]));
    }
}

#[test]
fn a_wrong_password_is_refused_by_key_id_before_anything_is_decrypted() {
    let w = must_two_backups(PASSWORD);
    let err = must_chain(&w)
        .restore(&must_key(b"fedcba9876543210fedcba9876543210"))
        .unwrap_err();
    assert_eq!(err.kind(), BackupErrorKind::WrongKey);
    assert!(
        matches!(err, BackupError::WrongKey { ref file, .. } if file.ends_with("-1.enc")),
        "{err}"
    );
}

#[test]
fn a_modified_ciphertext_fails_its_gcm_tag() {
    let w = must_two_backups(PASSWORD);
    let mut files = w.files().to_vec();
    let last = files[1].1.len() - 20;
    files[1].1[last] ^= 1;
    let chain = BackupChain::from_files(files, Some(&w.latest_version()), Some("node0")).unwrap();
    let err = chain.restore(&must_key(PASSWORD)).unwrap_err();
    assert_eq!(err.kind(), BackupErrorKind::Corrupted);
    assert!(
        matches!(err, BackupError::TagMismatch { ref file } if file.ends_with("-2.enc")),
        "{err}"
    );
}

#[test]
fn truncated_files_are_refused_wherever_they_are_cut() {
    let w = must_two_backups(PASSWORD);
    let full = w.files()[0].1.clone();
    for cut in [5, 15, 40, full.len() - 10] {
        let mut files = w.files().to_vec();
        files[0].1.truncate(cut);
        let result = BackupChain::from_files(files, Some(&w.latest_version()), Some("node0"))
            .and_then(|c| c.restore(&must_key(PASSWORD)));
        let err = result.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                BackupErrorKind::Malformed | BackupErrorKind::Corrupted
            ),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn a_foreign_file_or_bad_metadata_is_malformed() {
    let w = must_two_backups(PASSWORD);
    let mut files = w.files().to_vec();
    files[0].1[0] = b'X';
    assert!(matches!(
        chain_error(files, None),
        BackupError::NotABackup { .. }
    ));
    let mut files = w.files().to_vec();
    // Corrupt the metadata JSON (just after magic and length).
    files[0].1[18] = b'!';
    assert_eq!(chain_error(files, None).kind(), BackupErrorKind::Malformed);
}

#[test]
fn a_missing_first_middle_or_last_backup_is_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut w = BackupWriter::new("node0", must_key(PASSWORD));
    for i in 0..3 {
        w.set(&format!("k{i}"), b"v");
        w.backup(&mut rng).unwrap();
    }
    let files = w.files().to_vec();
    let latest = w.latest_version();

    let err = chain_error(files[1..].to_vec(), Some(&latest));
    assert!(matches!(err, BackupError::ChainStart { .. }), "{err}");
    let err = chain_error(vec![files[0].clone(), files[2].clone()], Some(&latest));
    assert!(
        matches!(
            err,
            BackupError::CounterGap {
                previous: 1,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
    let err = chain_error(files[..2].to_vec(), Some(&latest));
    assert!(matches!(err, BackupError::LatestVersion { .. }), "{err}");
    for err in [
        chain_error(files[1..].to_vec(), Some(&latest)),
        chain_error(files[..2].to_vec(), Some(&latest)),
    ] {
        assert_eq!(err.kind(), BackupErrorKind::Chain);
    }
    // Without latest.version the newest backup cannot be proven present; the chain says so.
    let chain = BackupChain::from_files(files[..2].to_vec(), None, Some("node0")).unwrap();
    assert!(!chain.latest_version_checked());
}

#[test]
fn a_renamed_file_that_does_not_continue_the_chain_is_a_missing_link() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let mut a = BackupWriter::new("node0", must_key(PASSWORD));
    a.set("k", b"1");
    a.backup(&mut rng).unwrap();
    a.set("k", b"2");
    a.backup(&mut rng).unwrap();
    a.set("k", b"3");
    a.backup(&mut rng).unwrap();
    // Backup 3 presented as backup 2: its `since` does not continue backup 1.
    let mut third = a.files()[2].clone();
    third.0 = third.0.replace("-3.enc", "-2.enc");
    let err = chain_error(vec![a.files()[0].clone(), third], None);
    assert!(matches!(err, BackupError::MissingLink { .. }), "{err}");
    let mut dup = a.files()[1].clone();
    dup.0 = dup.0.replace("12-00-02", "12-00-09");
    let err = chain_error(vec![a.files()[0].clone(), a.files()[1].clone(), dup], None);
    assert!(matches!(err, BackupError::DuplicateCounter { .. }), "{err}");
}

#[test]
fn errors_never_show_the_password_or_plaintext() {
    let w = must_two_backups(PASSWORD);
    let key = must_key(b"fedcba9876543210fedcba9876543210");
    let err = must_chain(&w).restore(&key).unwrap_err();
    let text = format!("{err} {err:?} {key:?}");
    assert!(!text.contains("fedcba98"), "{text}");
    assert!(!text.contains("share"), "{text}");
}
