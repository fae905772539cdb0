//! The encrypted store end to end on a real redb file: passwords, every record kind, pools that
//! hand each entry out once, atomic batches and the result cache.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use mpcium_state::store::{
    Batch, KdfParams, KeyType, SecretPassword, Store, StoreError, StoreErrorKind, StoreOptions,
};

fn password(p: &str) -> SecretPassword {
    SecretPassword::new(p.to_owned())
}

fn fast() -> StoreOptions {
    StoreOptions {
        kdf: KdfParams::insecure_for_tests(),
    }
}

fn must_open(path: &Path, pw: &str) -> Store {
    match Store::open_with(path, &password(pw), fast()) {
        Ok(store) => store,
        Err(e) => panic!("open {}: {e}", path.display()),
    }
}

#[test]
fn reopening_with_the_right_password_reads_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/node0.redb");
    {
        let store = must_open(&path, "correct horse");
        store
            .put_share(KeyType::Ecdsa, "w1", 1, b"share-v1")
            .unwrap();
        store
            .put_share(KeyType::Ecdsa, "w1", 2, b"share-v2")
            .unwrap();
        store
            .put_share(KeyType::Eddsa, "w1", 1, b"ed-share")
            .unwrap();
        store
            .put_keyinfo(KeyType::Ecdsa, "w1", br#"{"version":2}"#)
            .unwrap();
        store.put_aux("aux_info", b"aux").unwrap();
        store.push_primes(b"primes-0").unwrap();
        store.push_presignature("ecdsa:w1", b"presig-0").unwrap();
    }
    let store = must_open(&path, "correct horse");
    assert_eq!(
        store
            .share(KeyType::Ecdsa, "w1", 1)
            .unwrap()
            .unwrap()
            .expose(),
        b"share-v1"
    );
    assert_eq!(
        store
            .share(KeyType::Ecdsa, "w1", 2)
            .unwrap()
            .unwrap()
            .expose(),
        b"share-v2"
    );
    assert_eq!(
        store
            .share(KeyType::Eddsa, "w1", 1)
            .unwrap()
            .unwrap()
            .expose(),
        b"ed-share"
    );
    assert!(store.share(KeyType::Ecdsa, "w1", 3).unwrap().is_none());
    assert_eq!(
        store.latest_share_version(KeyType::Ecdsa, "w1").unwrap(),
        Some(2)
    );
    assert_eq!(
        store.latest_share_version(KeyType::Eddsa, "w1").unwrap(),
        Some(1)
    );
    assert_eq!(
        store.latest_share_version(KeyType::Ecdsa, "w2").unwrap(),
        None
    );
    assert_eq!(
        store.keyinfo(KeyType::Ecdsa, "w1").unwrap().unwrap(),
        br#"{"version":2}"#.to_vec()
    );
    assert_eq!(store.keyinfo(KeyType::Eddsa, "w1").unwrap(), None);
    assert_eq!(store.aux("aux_info").unwrap().unwrap().expose(), b"aux");
    assert_eq!(store.take_primes().unwrap().unwrap().expose(), b"primes-0");
    assert_eq!(
        store
            .take_presignature("ecdsa:w1")
            .unwrap()
            .unwrap()
            .expose(),
        b"presig-0"
    );
}

#[test]
fn opening_with_a_wrong_password_fails_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    must_open(&path, "right").put_aux("a", b"x").unwrap();
    let err = Store::open_with(&path, &password("wrong"), fast()).unwrap_err();
    assert!(matches!(err, StoreError::WrongPassword), "{err:?}");
    assert_eq!(err.kind(), StoreErrorKind::Password);
    assert_eq!(
        err.to_string(),
        "the database password does not match the one this store was created with"
    );
    // The failed attempt changed nothing.
    assert_eq!(
        must_open(&path, "right")
            .aux("a")
            .unwrap()
            .unwrap()
            .expose(),
        b"x"
    );
}

#[test]
fn one_character_and_two_hundred_character_passwords_both_work() {
    let dir = tempfile::tempdir().unwrap();
    let long = "p".repeat(199) + "!";
    for (name, pw) in [("short", "x"), ("long", long.as_str())] {
        let path = dir.path().join(name);
        must_open(&path, pw).put_aux("k", name.as_bytes()).unwrap();
        assert_eq!(
            must_open(&path, pw).aux("k").unwrap().unwrap().expose(),
            name.as_bytes()
        );
        let almost = &pw[..pw.len() - 1];
        let wrong = if almost.is_empty() { "y" } else { almost };
        assert!(matches!(
            Store::open_with(&path, &password(wrong), fast()),
            Err(StoreError::WrongPassword)
        ));
    }
}

#[test]
fn an_empty_password_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let err = Store::open_with(&path, &password(""), fast()).unwrap_err();
    assert!(matches!(err, StoreError::EmptyPassword), "{err:?}");
    assert!(!path.exists());
}

#[test]
fn the_default_kdf_parameters_are_accepted_and_kept_for_later_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    Store::open(&path, &password("pw"))
        .unwrap()
        .put_aux("k", b"v")
        .unwrap();
    // Creation options do not apply to an existing store: its stored parameters are used.
    assert_eq!(
        must_open(&path, "pw").aux("k").unwrap().unwrap().expose(),
        b"v"
    );
}

#[test]
fn a_store_cannot_be_opened_twice_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let _first = must_open(&path, "pw");
    let err = Store::open_with(&path, &password("pw"), fast()).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().contains("failed to open the store at"),
        "{err}"
    );
}

#[test]
fn a_presignature_taken_twice_is_returned_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = must_open(&dir.path().join("db"), "pw");
    store.push_presignature("pool", b"p0").unwrap();
    assert_eq!(
        store.take_presignature("pool").unwrap().unwrap().expose(),
        b"p0"
    );
    assert!(store.take_presignature("pool").unwrap().is_none());
}

#[test]
fn presignatures_come_out_in_push_order_and_stay_taken_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = must_open(&path, "pw");
        for i in 0..3u8 {
            store.push_presignature("a", &[i]).unwrap();
        }
        store.push_presignature("b", b"other pool").unwrap();
        assert_eq!(store.take_presignature("a").unwrap().unwrap().expose(), [0]);
        assert_eq!(store.presignature_count("a").unwrap(), 2);
    }
    let store = must_open(&path, "pw");
    assert_eq!(store.take_presignature("a").unwrap().unwrap().expose(), [1]);
    assert_eq!(store.take_presignature("a").unwrap().unwrap().expose(), [2]);
    assert!(store.take_presignature("a").unwrap().is_none());
    assert_eq!(store.presignature_count("b").unwrap(), 1);
}

#[test]
fn concurrent_takers_never_receive_the_same_presignature() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(must_open(&dir.path().join("db"), "pw"));
    let total = 40u32;
    for i in 0..total {
        store.push_presignature("pool", &i.to_be_bytes()).unwrap();
    }
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(p) = store.take_presignature("pool").unwrap() {
                    got.push(p.expose().to_vec());
                }
                got
            })
        })
        .collect();
    let all: Vec<Vec<u8>> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let distinct: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), total as usize);
    assert_eq!(distinct.len(), total as usize);
}

#[test]
fn burning_presignatures_empties_every_pool() {
    let dir = tempfile::tempdir().unwrap();
    let store = must_open(&dir.path().join("db"), "pw");
    store.push_presignature("a", b"1").unwrap();
    store.push_presignature("a", b"2").unwrap();
    store.push_presignature("b", b"3").unwrap();
    assert_eq!(store.burn_all_presignatures().unwrap(), 3);
    assert!(store.take_presignature("a").unwrap().is_none());
    assert!(store.take_presignature("b").unwrap().is_none());
    // Pools keep working after a burn.
    store.push_presignature("a", b"4").unwrap();
    assert_eq!(
        store.take_presignature("a").unwrap().unwrap().expose(),
        b"4"
    );
}

#[test]
fn primes_are_handed_out_once_each_in_push_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = must_open(&dir.path().join("db"), "pw");
    store.push_primes(b"first").unwrap();
    store.push_primes(b"second").unwrap();
    assert_eq!(store.primes_count().unwrap(), 2);
    assert_eq!(store.take_primes().unwrap().unwrap().expose(), b"first");
    assert_eq!(store.take_primes().unwrap().unwrap().expose(), b"second");
    assert!(store.take_primes().unwrap().is_none());
}

#[test]
fn a_share_version_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = must_open(&dir.path().join("db"), "pw");
    store
        .put_share(KeyType::Eddsa, "w", 1, b"original")
        .unwrap();
    let err = store
        .put_share(KeyType::Eddsa, "w", 1, b"replacement")
        .unwrap_err();
    assert!(
        matches!(err, StoreError::ShareVersionExists { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("eddsa share of wallet \"w\" version 1"),
        "{err}"
    );
    assert_eq!(
        store
            .share(KeyType::Eddsa, "w", 1)
            .unwrap()
            .unwrap()
            .expose(),
        b"original"
    );
}

#[test]
fn a_batch_writes_share_and_keyinfo_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let store = must_open(&dir.path().join("db"), "pw");
    let mut batch = Batch::new();
    batch
        .put_share(KeyType::Ecdsa, "w", 1, b"s1")
        .put_keyinfo(KeyType::Ecdsa, "w", b"v1");
    store.commit(batch).unwrap();

    // Version 1 exists, so this batch fails as a whole: keyinfo must stay at v1.
    let mut batch = Batch::new();
    batch
        .put_keyinfo(KeyType::Ecdsa, "w", b"v2")
        .put_share(KeyType::Ecdsa, "w", 1, b"s1-again");
    assert!(matches!(
        store.commit(batch),
        Err(StoreError::ShareVersionExists { .. })
    ));
    assert_eq!(
        store.keyinfo(KeyType::Ecdsa, "w").unwrap().unwrap(),
        b"v1".to_vec()
    );
}

#[test]
fn neither_the_file_nor_a_snapshot_contains_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let marker = b"PLAINTEXT-MARKER-7f3a9c";
    let store = must_open(&path, "pw");
    store.put_share(KeyType::Ecdsa, "w", 1, marker).unwrap();
    store.put_aux("aux", marker).unwrap();
    store.push_presignature("p", marker).unwrap();
    let snapshot = store.snapshot().unwrap();
    assert_eq!(snapshot.schema_version, 1);
    let tables: BTreeSet<&str> = snapshot.records.iter().map(|r| r.table).collect();
    assert!(tables.is_superset(&["meta", "shares", "aux", "presignatures"].into()));
    for record in &snapshot.records {
        assert!(
            !record.sealed.windows(marker.len()).any(|w| w == marker),
            "{}",
            record.table
        );
    }
    drop(store);
    let raw = std::fs::read(&path).unwrap();
    assert!(!raw.windows(marker.len()).any(|w| w == marker));
}

#[test]
fn a_presignature_stored_under_an_id_is_taken_by_that_id_once_even_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = must_open(&path, "pw");
        store.put_presignature("w/a,b", 20, b"second").unwrap();
        store.put_presignature("w/a,b", 7, b"first").unwrap();
        store.put_presignature("w/a,c", 7, b"other pool").unwrap();
        assert_eq!(store.presignature_ids("w/a,b").unwrap(), [7, 20]);
        assert_eq!(
            store
                .take_presignature_id("w/a,b", 20)
                .unwrap()
                .unwrap()
                .expose(),
            b"second"
        );
        assert!(store.take_presignature_id("w/a,b", 20).unwrap().is_none());
        assert!(store.take_presignature_id("w/a,b", 99).unwrap().is_none());
    }
    let store = must_open(&path, "pw");
    assert!(store.take_presignature_id("w/a,b", 20).unwrap().is_none());
    assert_eq!(store.presignature_ids("w/a,b").unwrap(), [7]);
    assert_eq!(
        store
            .take_presignature_id("w/a,c", 7)
            .unwrap()
            .unwrap()
            .expose(),
        b"other pool"
    );
}

#[test]
fn burning_selected_pools_leaves_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = must_open(&dir.path().join("db"), "pw");
    store.put_presignature("w1/x", 1, b"1").unwrap();
    store.put_presignature("w1/y", 2, b"2").unwrap();
    store.put_presignature("w2/x", 3, b"3").unwrap();
    assert_eq!(
        store
            .burn_presignature_pools(|pool| pool.starts_with("w1/"))
            .unwrap(),
        2
    );
    assert!(store.presignature_ids("w1/x").unwrap().is_empty());
    assert!(store.presignature_ids("w1/y").unwrap().is_empty());
    assert_eq!(store.presignature_ids("w2/x").unwrap(), [3]);
    store.put_presignature("w2/x", 4, b"4").unwrap();
    assert_eq!(
        store.presignature_pools().unwrap(),
        [("w2/x".to_owned(), 2)]
    );
}
