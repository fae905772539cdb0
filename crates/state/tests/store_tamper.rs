//! Records edited on disk behind the store's back are detected, never returned as garbage:
//! a value moved to another key, a flipped byte, an unknown layout, a damaged key check.

use std::path::Path;

use mpcium_state::store::{KdfParams, KeyType, SecretPassword, Store, StoreError, StoreOptions};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const SHARES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("shares");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

fn must_open(path: &Path) -> Store {
    let options = StoreOptions {
        kdf: KdfParams::insecure_for_tests(),
    };
    match Store::open_with(path, &SecretPassword::new("pw".to_owned()), options) {
        Ok(store) => store,
        Err(e) => panic!("open: {e}"),
    }
}

/// Raw keys of the `shares` table, in key order (w1 before w2).
fn must_share_keys(path: &Path) -> Vec<Vec<u8>> {
    let store = must_open(path);
    store
        .snapshot()
        .unwrap()
        .records
        .into_iter()
        .filter(|r| r.table == "shares")
        .map(|r| r.key)
        .collect()
}

/// Applies `edit` to the raw `shares` table with the store closed.
fn must_edit_shares(path: &Path, edit: impl FnOnce(&mut redb::Table<&[u8], &[u8]>)) {
    let db = Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn.open_table(SHARES).unwrap();
        edit(&mut table);
    }
    txn.commit().unwrap();
}

fn must_two_shares(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let store = must_open(path);
    store
        .put_share(KeyType::Ecdsa, "w1", 1, b"SECRET-w1")
        .unwrap();
    store
        .put_share(KeyType::Ecdsa, "w2", 1, b"SECRET-w2")
        .unwrap();
    drop(store);
    let keys = must_share_keys(path);
    (keys[0].clone(), keys[1].clone())
}

fn must_get(table: &redb::Table<&[u8], &[u8]>, key: &[u8]) -> Vec<u8> {
    table.get(key).unwrap().unwrap().value().to_vec()
}

#[test]
fn swapping_two_wallets_share_records_is_detected_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (k1, k2) = must_two_shares(&path);
    must_edit_shares(&path, |t| {
        let (v1, v2) = (must_get(t, &k1), must_get(t, &k2));
        t.insert(k1.as_slice(), v2.as_slice()).unwrap();
        t.insert(k2.as_slice(), v1.as_slice()).unwrap();
    });
    let store = must_open(&path);
    for wallet in ["w1", "w2"] {
        let err = store.share(KeyType::Ecdsa, wallet, 1).unwrap_err();
        match &err {
            StoreError::RecordTampered { table, record } => {
                assert_eq!(*table, "shares");
                assert!(record.contains(wallet), "{record}");
            }
            other => panic!("expected RecordTampered, got {other:?}"),
        }
        assert!(
            !err.to_string().contains("SECRET"),
            "no plaintext in errors: {err}"
        );
    }
}

#[test]
fn a_flipped_byte_anywhere_in_a_record_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (k1, _) = must_two_shares(&path);
    let len = {
        let db = Database::open(&path).unwrap();
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(SHARES).unwrap();
        let len = t.get(k1.as_slice()).unwrap().unwrap().value().len();
        len
    };
    // Nonce, ciphertext and tag (byte 0 is the layout version, tested below).
    for position in [1, 24, 25, len / 2, len - 1] {
        must_edit_shares(&path, |t| {
            let mut v = must_get(t, &k1);
            v[position] ^= 0x01;
            t.insert(k1.as_slice(), v.as_slice()).unwrap();
        });
        let err = must_open(&path).share(KeyType::Ecdsa, "w1", 1).unwrap_err();
        assert!(
            matches!(err, StoreError::RecordTampered { .. }),
            "byte {position}: {err:?}"
        );
        must_edit_shares(&path, |t| {
            let mut v = must_get(t, &k1);
            v[position] ^= 0x01;
            t.insert(k1.as_slice(), v.as_slice()).unwrap();
        });
        assert!(must_open(&path)
            .share(KeyType::Ecdsa, "w1", 1)
            .unwrap()
            .is_some());
    }
}

#[test]
fn a_record_with_an_unknown_layout_version_is_named_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let (k1, _) = must_two_shares(&path);
    must_edit_shares(&path, |t| {
        let mut v = must_get(t, &k1);
        v[0] = 7;
        t.insert(k1.as_slice(), v.as_slice()).unwrap();
    });
    let err = must_open(&path).share(KeyType::Ecdsa, "w1", 1).unwrap_err();
    assert!(
        matches!(err, StoreError::UnknownRecordVersion { version: 7, .. }),
        "{err:?}"
    );
}

#[test]
fn a_tampered_presignature_is_not_consumed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = must_open(&path);
    store.push_presignature("p", b"presig").unwrap();
    let key = store
        .snapshot()
        .unwrap()
        .records
        .into_iter()
        .find(|r| r.table == "presignatures")
        .unwrap()
        .key;
    drop(store);
    let presignatures: TableDefinition<&[u8], &[u8]> = TableDefinition::new("presignatures");
    let flip = |path: &Path| {
        let db = Database::open(path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(presignatures).unwrap();
            let mut v = t.get(key.as_slice()).unwrap().unwrap().value().to_vec();
            let last = v.len() - 1;
            v[last] ^= 0x80;
            t.insert(key.as_slice(), v.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    };
    flip(&path);
    let store = must_open(&path);
    assert!(matches!(
        store.take_presignature("p"),
        Err(StoreError::RecordTampered { .. })
    ));
    assert_eq!(store.presignature_count("p").unwrap(), 1);
}

#[test]
fn a_damaged_key_check_record_reads_as_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(must_open(&path));
    {
        let db = Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            let mut v = meta.get("key_check").unwrap().unwrap().value().to_vec();
            v[5] ^= 0xff;
            meta.insert("key_check", v.as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let options = StoreOptions {
        kdf: KdfParams::insecure_for_tests(),
    };
    let err = Store::open_with(&path, &SecretPassword::new("pw".to_owned()), options).unwrap_err();
    assert!(matches!(err, StoreError::WrongPassword), "{err:?}");
}
