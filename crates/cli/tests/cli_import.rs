//! `import-mpcium` against reference-format backups written by `mpcium-migrate`'s test support
//! (a random key split the tss-lib way, tss-lib JSON, Badger backup batches, the reference's
//! encryption): a good chain becomes pending imports in the node's store and a repeated import
//! changes nothing; a wrong password, a corrupted, truncated or incomplete chain, a share version
//! the keyinfo names but the backups lack, and shares whose `BigXj` do not match are refused with
//! the problem named and the store file unchanged.

mod support;

use std::path::Path;

use mpcium_migrate::testing::{write_node_backups, ReferenceKey};
use mpcium_migrate::{BackupKey, ImportedShare, KeyType, PENDING_PREFIX};
use mpcium_state::store::{SecretPassword, Store};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use support::*;
use zeroize::Zeroizing;

const NODES: [&str; 3] = [
    "2b0c8a4e-7d1f-4e53-a0f5-6f3c1a2d9e11",
    "9c5b94b1-35ad-49bb-b118-8e8fc24abf80",
    "e1f0d2c3-b4a5-4968-8776-5a4b3c2d1e0f",
];
/// The Go node's badger_password (32 bytes: AES-256).
const GO_PASSWORD: &str = "go-node0-badger-password-32bytes";
const STORE_PASSWORD: &str = "rust node0 database password";

/// A 2-of-3 wallet (both keys) of a Go cluster; node0's backups of it in `<dir>/backups`, the
/// cluster's peers.json and both password files in `dir`.
fn must_reference(dir: &Path, mutate: impl FnOnce(&mut ReferenceKey)) -> [ReferenceKey; 2] {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let ecdsa = ReferenceKey::random(&mut rng, KeyType::Secp256k1, "w1", 1, &NODES, 2);
    let mut eddsa = ReferenceKey::random(&mut rng, KeyType::Ed25519, "w1", 1, &NODES, 2);
    mutate(&mut eddsa);
    std::fs::create_dir_all(dir.join("backups")).unwrap();
    let key = BackupKey::new(Zeroizing::new(GO_PASSWORD.as_bytes().to_vec())).unwrap();
    let files = write_node_backups(
        &mut rng,
        &dir.join("backups"),
        "node0",
        NODES[0],
        key,
        &[&ecdsa, &eddsa],
    )
    .unwrap();
    assert_eq!(files.len(), 2, "one incremental backup per key");
    let peers: Vec<String> = NODES
        .iter()
        .enumerate()
        .map(|(i, id)| format!("\"node{i}\": \"{id}\""))
        .collect();
    std::fs::write(dir.join("peers.json"), format!("{{{}}}", peers.join(", "))).unwrap();
    std::fs::write(dir.join("go.pass"), format!("{GO_PASSWORD}\n")).unwrap();
    std::fs::write(dir.join("db.pass"), format!("{STORE_PASSWORD}\n")).unwrap();
    [ecdsa, eddsa]
}

const ARGS: &[&str] = &[
    "import-mpcium",
    "--backup-dir",
    "backups",
    "--node",
    "node0",
    "--peers",
    "peers.json",
    "--store",
    "db/node0",
    "--backup-password-file",
    "go.pass",
    "--password-file",
    "db.pass",
];

fn must_pending(dir: &Path) -> Vec<ImportedShare> {
    let store = Store::open(
        dir.join("db/node0"),
        &SecretPassword::new(STORE_PASSWORD.into()),
    )
    .unwrap();
    store
        .aux_names(PENDING_PREFIX)
        .unwrap()
        .iter()
        .map(|name| ImportedShare::from_json(store.aux(name).unwrap().unwrap().expose()).unwrap())
        .collect()
}

#[test]
fn a_backup_chain_becomes_pending_imports_and_a_repeat_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let [ecdsa, eddsa] = must_reference(dir.path(), |_| {});
    let run = must_succeed(dir.path(), ARGS, None);
    assert!(
        run.stdout.contains("found 2 backup files of node0"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("wrote 2 pending imports"),
        "{}",
        run.stdout
    );
    // The public keys in the reference's result encoding (secp256k1 X‖Y), to check addresses.
    let ecdsa_xy = {
        let p = k256_xy(ecdsa.public_key());
        hex::encode(p)
    };
    assert!(run.stdout.contains(&ecdsa_xy), "{}", run.stdout);
    assert!(
        run.stdout.contains(&hex::encode(eddsa.public_key())),
        "{}",
        run.stdout
    );
    for party in &ecdsa.parties {
        let xi = hex::encode(&*party.xi);
        assert!(!run.stdout.contains(&xi) && !run.stderr.contains(&xi));
    }

    let pending = must_pending(dir.path());
    assert_eq!(pending.len(), 2);
    for (share, reference) in pending.iter().zip([&ecdsa, &eddsa]) {
        assert_eq!(share.key_type(), reference.key_type());
        assert_eq!(share.public_key(), reference.public_key());
        assert_eq!((share.version(), share.threshold_signers()), (1, 2));
        assert_eq!(share.own_holder().unwrap().node_id, NODES[0]);
    }

    let again = must_succeed(dir.path(), ARGS, None);
    assert!(
        again.stdout.contains("wrote 0 pending imports")
            && again.stdout.contains("2 already pending"),
        "{}",
        again.stdout
    );
    assert_eq!(must_pending(dir.path()), pending);
}

/// `(X, Y)` of a compressed secp256k1 key, 64 bytes.
fn k256_xy(compressed: &[u8]) -> Vec<u8> {
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    let key = k256::PublicKey::from_sec1_bytes(compressed).unwrap();
    key.to_encoded_point(false).as_bytes()[1..].to_vec()
}

/// Runs the import expecting a refusal naming `expected`; the store file (created before with
/// an unrelated record) is byte for byte the same afterwards.
fn must_refuse(dir: &Path, args: &[&str], expected: &str) {
    let store_file = dir.join("db/node0");
    {
        let store = Store::open(&store_file, &SecretPassword::new(STORE_PASSWORD.into())).unwrap();
        store.put_aux("unrelated", b"kept").unwrap();
    }
    let before = std::fs::read(&store_file).unwrap();
    let run = must_fail(dir, args, None);
    assert!(
        run.stderr.contains(expected),
        "expected {expected:?} in: {}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(&store_file).unwrap(),
        before,
        "the store was touched"
    );
    assert!(must_pending(dir).is_empty());
}

fn backup_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "enc"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_wrong_backup_password_is_refused_without_touching_the_store() {
    let dir = tempfile::tempdir().unwrap();
    must_reference(dir.path(), |_| {});
    std::fs::write(
        dir.path().join("go.pass"),
        "another-password-of-32-bytes-len",
    )
    .unwrap();
    must_refuse(dir.path(), ARGS, "encrypted with another password");
}

#[test]
fn a_corrupted_file_is_refused_without_touching_the_store() {
    let dir = tempfile::tempdir().unwrap();
    must_reference(dir.path(), |_| {});
    let file = backup_files(dir.path()).remove(1);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    must_refuse(dir.path(), ARGS, "authentication failed");
}

#[test]
fn a_truncated_file_is_refused_without_touching_the_store() {
    let dir = tempfile::tempdir().unwrap();
    must_reference(dir.path(), |_| {});
    let file = backup_files(dir.path()).remove(0);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..20]).unwrap();
    must_refuse(dir.path(), ARGS, "truncated");
}

#[test]
fn a_missing_incremental_backup_is_refused_without_touching_the_store() {
    let dir = tempfile::tempdir().unwrap();
    must_reference(dir.path(), |_| {});
    std::fs::remove_file(backup_files(dir.path()).remove(1)).unwrap();
    must_refuse(dir.path(), ARGS, "the newest backups are missing");
}

#[test]
fn a_missing_first_backup_is_refused_without_touching_the_store() {
    let dir = tempfile::tempdir().unwrap();
    must_reference(dir.path(), |_| {});
    std::fs::remove_file(backup_files(dir.path()).remove(0)).unwrap();
    must_refuse(dir.path(), ARGS, "earlier backups are missing");
}

#[test]
fn a_version_the_keyinfo_names_but_the_backups_lack_is_refused_without_touching_the_store() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    must_reference(dir.path(), |_| {});
    // The Go cluster reshared the ECDSA key to version 2 after node0's last backup.
    let info = |version: u64| {
        base64::engine::general_purpose::STANDARD.encode(format!(
            r#"{{"participant_peer_ids":["{}","{}","{}"],"threshold":1,"version":{version}}}"#,
            NODES[0], NODES[1], NODES[2]
        ))
    };
    let export = format!(
        r#"[{{"key":"threshold_keyinfo/ecdsa:w1","flags":0,"value":"{}"}},{{"key":"threshold_keyinfo/eddsa:w1","flags":0,"value":"{}"}}]"#,
        info(2),
        info(1)
    );
    std::fs::write(dir.path().join("keyinfo.json"), export).unwrap();
    let mut args = ARGS.to_vec();
    args.extend(["--keyinfo", "keyinfo.json"]);
    must_refuse(
        dir.path(),
        &args,
        "keyinfo says this node holds ecdsa:w1_v2",
    );
}

#[test]
fn shares_whose_big_xj_do_not_match_are_refused_without_touching_the_store() {
    let dir = tempfile::tempdir().unwrap();
    must_reference(dir.path(), |key| {
        key.parties[1].big_xj = key.parties[2].big_xj.clone();
    });
    must_refuse(dir.path(), ARGS, "do not match the public key");
}
