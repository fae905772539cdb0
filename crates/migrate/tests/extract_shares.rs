//! From reference backups to validated records, end to end: three reference nodes with 2-of-3
//! ECDSA and EdDSA wallets (one reshared to a new version after the first backup, one reshared
//! away from a node), written as tss-lib save data into Badger backups encrypted as the
//! reference does; every node's import yields records that agree with the other nodes' and with
//! the original public keys. Inconsistent shares are refused naming the culprit.

use mpcium_migrate::backup::{BackupChain, BackupKey};
use mpcium_migrate::extract::{extract, import_share, ExtractOptions, ShareError};
use mpcium_migrate::group::PointError;
use mpcium_migrate::record::{ImportedShare, KeyType, RecordError};
use mpcium_migrate::reference::{KeyInfoSet, PeerMap, ReferenceKeyInfo, ShareKey};
use mpcium_migrate::testing::{BackupWriter, ReferenceKey};
use mpcium_migrate::{import_node_backups, ExtractErrorKind, MigrateError};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zeroize::Zeroizing;

const NAMES: [&str; 3] = ["node0", "node1", "node2"];
const IDS: [&str; 3] = [
    "9c5b94b1-35ad-49bb-b118-8e8fc24abf80",
    "2b0c8a4e-7d1f-4e53-a0f5-6f3c1a2d9e11",
    "e1f0d2c3-b4a5-4968-8776-5a4b3c2d1e0f",
];

fn peers() -> PeerMap {
    PeerMap::from_pairs(
        NAMES
            .iter()
            .zip(IDS)
            .map(|(n, i)| (n.to_string(), i.to_string())),
    )
    .unwrap()
}

fn password(node: usize) -> BackupKey {
    BackupKey::new(Zeroizing::new(
        format!("badger-password-of-node{node}-32bytes").into_bytes(),
    ))
    .unwrap()
}

/// The reference cluster's wallets and every node's backups.
struct Cluster {
    /// w1 at v1 (both key types, 2-of-3).
    w1: [ReferenceKey; 2],
    /// w2 reshared among all three at v2 (after the first backup, which holds v1).
    w2_v2: ReferenceKey,
    /// w3 reshared to node0 and node1 only at v2: node2 keeps only v1.
    w3_v2: ReferenceKey,
    writers: Vec<BackupWriter>,
}

fn must_cluster() -> Cluster {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let all = IDS.to_vec();
    let w1 = [
        ReferenceKey::random(&mut rng, KeyType::Secp256k1, "w1", 1, &all, 2),
        ReferenceKey::random(&mut rng, KeyType::Ed25519, "w1", 1, &all, 2),
    ];
    let w2_v1 = ReferenceKey::random(&mut rng, KeyType::Ed25519, "w2", 1, &all, 2);
    let w2_v2 = w2_v1.reshare(&mut rng, &all, 2);
    let w3_v1 = ReferenceKey::random(&mut rng, KeyType::Secp256k1, "w3", 1, &all, 2);
    let w3_v2 = w3_v1.reshare(&mut rng, &IDS[..2], 2);
    let mut writers = Vec::new();
    for (n, name) in NAMES.iter().enumerate() {
        let mut w = BackupWriter::new(name, password(n));
        w.set("pre_params_0", b"{\"PaillierSK\":null}");
        for key in w1.iter().chain([&w2_v1, &w3_v1]) {
            let json = key.save_data_json(&mut rng, IDS[n]).unwrap();
            w.set(&key.badger_key(), &json);
        }
        w.backup(&mut rng).unwrap();
        for key in [&w2_v2, &w3_v2] {
            if let Some(json) = key.save_data_json(&mut rng, IDS[n]) {
                w.set(&key.badger_key(), &json);
            }
        }
        w.backup(&mut rng).unwrap();
        writers.push(w);
    }
    Cluster {
        w1,
        w2_v2,
        w3_v2,
        writers,
    }
}

fn keyinfo_of(keys: &[&ReferenceKey]) -> KeyInfoSet {
    let mut set = KeyInfoSet::default();
    for k in keys {
        set.insert(
            k.key_type(),
            k.wallet_id(),
            ReferenceKeyInfo {
                participant_peer_ids: k.parties.iter().map(|p| p.node_id.clone()).collect(),
                threshold: k.signers() - 1,
                version: k.version(),
            },
        );
    }
    set
}

fn must_shares(c: &Cluster, node: usize, keyinfo: Option<&KeyInfoSet>) -> Vec<ImportedShare> {
    let w = &c.writers[node];
    let chain = BackupChain::from_files(
        w.files().to_vec(),
        Some(&w.latest_version()),
        Some(NAMES[node]),
    )
    .unwrap();
    let snapshot = chain.restore(&password(node)).unwrap();
    let peers = peers();
    let out = extract(
        &snapshot,
        &ExtractOptions {
            node_id: IDS[node],
            peers: &peers,
            keyinfo,
        },
    )
    .unwrap();
    assert_eq!(out.other_keys, vec!["pre_params_0".to_string()]);
    out.shares
}

fn find<'a>(shares: &'a [ImportedShare], kt: KeyType, wallet: &str) -> Option<&'a ImportedShare> {
    shares
        .iter()
        .find(|s| s.key_type() == kt && s.wallet_id() == wallet)
}

#[test]
fn every_node_imports_records_that_agree_and_keep_the_reference_public_keys() {
    let c = must_cluster();
    let keyinfo = keyinfo_of(&[&c.w1[0], &c.w1[1], &c.w2_v2, &c.w3_v2]);
    let per_node: Vec<Vec<ImportedShare>> =
        (0..3).map(|n| must_shares(&c, n, Some(&keyinfo))).collect();
    for (n, shares) in per_node.iter().enumerate() {
        let expected = if n == 2 { 3 } else { 4 };
        assert_eq!(
            shares.len(),
            expected,
            "node{n}: w1 ×2, w2, and w3 unless left out"
        );
        for s in shares {
            assert_eq!(s.own_holder().unwrap().node_id, IDS[n]);
            assert_eq!(s.threshold_signers(), 2);
        }
    }
    for (reference, wallet) in [
        (&c.w1[0], "w1"),
        (&c.w1[1], "w1"),
        (&c.w2_v2, "w2"),
        (&c.w3_v2, "w3"),
    ] {
        let holders: Vec<&ImportedShare> = per_node
            .iter()
            .filter_map(|s| find(s, reference.key_type(), wallet))
            .collect();
        assert_eq!(holders.len(), reference.parties.len());
        for s in &holders {
            assert_eq!(
                s.public_key(),
                reference.public_key(),
                "{wallet} keeps its key"
            );
            let encoded = s.reference_public_key().unwrap();
            match s.key_type() {
                KeyType::Secp256k1 => {
                    let (x, y) = &reference.public_key_coords;
                    assert_eq!(encoded, [x.as_slice(), y.as_slice()].concat());
                }
                KeyType::Ed25519 => assert_eq!(encoded, reference.public_key()),
            }
            assert_eq!(s.version(), reference.version());
            assert_eq!(
                s.fingerprint(),
                holders[0].fingerprint(),
                "all holders agree"
            );
            assert_eq!(s.holders().len(), reference.parties.len());
        }
        // Canonical order: ascending evaluation point.
        let points = holders[0].evaluation_points();
        assert!(points.windows(2).all(|w| w[0] < w[1]));
    }
}

#[test]
fn without_keyinfo_a_node_left_out_of_a_reshare_offers_its_stale_version_which_the_fingerprints_expose(
) {
    let c = must_cluster();
    let stale = must_shares(&c, 2, None);
    let current = must_shares(&c, 0, None);
    let s2 = find(&stale, KeyType::Secp256k1, "w3").unwrap();
    let s0 = find(&current, KeyType::Secp256k1, "w3").unwrap();
    assert_eq!(s2.version(), 1);
    assert_eq!(s0.version(), 2);
    assert_eq!(s2.public_key(), s0.public_key(), "same key …");
    assert_ne!(s2.fingerprint(), s0.fingerprint(), "… but another sharing");
    // With keyinfo, node2 knows it no longer holds w3.
    let keyinfo = keyinfo_of(&[&c.w1[0], &c.w1[1], &c.w2_v2, &c.w3_v2]);
    let w = &c.writers[2];
    let chain = BackupChain::from_files(w.files().to_vec(), None, Some("node2")).unwrap();
    let peers = peers();
    let out = extract(
        &chain.restore(&password(2)).unwrap(),
        &ExtractOptions {
            node_id: IDS[2],
            peers: &peers,
            keyinfo: Some(&keyinfo),
        },
    )
    .unwrap();
    assert_eq!(out.not_held.len(), 1);
    assert_eq!(out.not_held[0].badger_key(), "ecdsa:w3_v2");
    assert!(out
        .superseded
        .iter()
        .any(|k| k.badger_key() == "eddsa:w2_v1"));
}

#[test]
fn keyinfo_naming_a_version_the_node_should_hold_but_lacks_is_an_error() {
    let c = must_cluster();
    let mut keyinfo = keyinfo_of(&[&c.w1[0], &c.w1[1], &c.w2_v2, &c.w3_v2]);
    let mut info = keyinfo.get(KeyType::Ed25519, "w2").unwrap().clone();
    info.version = 3;
    keyinfo.insert(KeyType::Ed25519, "w2", info);
    let w = &c.writers[0];
    let chain = BackupChain::from_files(w.files().to_vec(), None, Some("node0")).unwrap();
    let peers = peers();
    let err = extract(
        &chain.restore(&password(0)).unwrap(),
        &ExtractOptions {
            node_id: IDS[0],
            peers: &peers,
            keyinfo: Some(&keyinfo),
        },
    )
    .unwrap_err();
    assert_eq!(err.kind(), ExtractErrorKind::MissingVersion);
    assert!(err.to_string().contains("eddsa:w2_v3"), "{err}");
}

#[test]
fn the_directory_entry_point_reads_a_node_and_names_unknown_nodes() {
    let c = must_cluster();
    let dir = tempfile::tempdir().unwrap();
    c.writers[1].write_to(dir.path()).unwrap();
    let import = import_node_backups(dir.path(), "node1", &password(1), &peers(), None).unwrap();
    assert!(import.chain.latest_version_checked());
    assert_eq!(import.extraction.shares.len(), 4);
    let err = import_node_backups(dir.path(), "node9", &password(1), &peers(), None).unwrap_err();
    assert!(matches!(err, MigrateError::UnknownNode(_)), "{err}");
}

/// Imports holder `node`'s share of `key` (tampered by the caller) without keyinfo.
fn import_one(
    key: &ReferenceKey,
    node: usize,
    keyinfo: Option<&ReferenceKeyInfo>,
) -> Result<ImportedShare, ShareError> {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let json = key.save_data_json(&mut rng, IDS[node]).unwrap();
    let peers = peers();
    let opts = ExtractOptions {
        node_id: IDS[node],
        peers: &peers,
        keyinfo: None,
    };
    let share_key = ShareKey {
        key_type: key.key_type(),
        wallet_id: key.wallet_id().into(),
        version: key.version(),
    };
    import_share(&share_key, &json, &opts, keyinfo)
}

fn must_key(kt: KeyType, seed: u64) -> ReferenceKey {
    ReferenceKey::random(&mut ChaCha20Rng::seed_from_u64(seed), kt, "w", 1, &IDS, 2)
}

#[test]
fn a_secret_share_that_does_not_match_its_public_share_is_refused() {
    for kt in [KeyType::Secp256k1, KeyType::Ed25519] {
        let mut key = must_key(kt, 1);
        let me = key
            .parties
            .iter()
            .position(|p| p.node_id == IDS[0])
            .unwrap();
        let last = key.parties[me].xi.len() - 1;
        key.parties[me].xi[last] ^= 1;
        assert_eq!(
            import_one(&key, 0, None).unwrap_err(),
            ShareError::SecretMismatch { index: me }
        );
    }
}

#[test]
fn a_public_share_off_the_polynomial_is_refused_and_named() {
    for kt in [KeyType::Secp256k1, KeyType::Ed25519] {
        let mut key = must_key(kt, 2);
        // Holder order is by party key; make the last holder's public share that of another key.
        let other = must_key(kt, 3);
        let last = key.parties.len() - 1;
        key.parties[last].big_xj = other.parties[last].big_xj.clone();
        let me = key.parties[0].node_id.clone();
        let node = IDS.iter().position(|i| *i == me).unwrap();
        let info = ReferenceKeyInfo {
            participant_peer_ids: IDS.iter().map(|s| s.to_string()).collect(),
            threshold: 1,
            version: 1,
        };
        match import_one(&key, node, Some(&info)).unwrap_err() {
            ShareError::Inconsistent { signers, culprits } => {
                assert_eq!(signers, Some(2));
                assert_eq!(culprits, vec![key.parties[last].node_id.clone()]);
            }
            other => panic!("{other}"),
        }
        // Without keyinfo no degree fits: every candidate polynomial must also pass through the
        // public key.
        assert_eq!(
            import_one(&key, node, None).unwrap_err(),
            ShareError::Inconsistent {
                signers: None,
                culprits: vec![]
            }
        );
    }
}

#[test]
fn a_point_off_the_curve_is_refused_naming_the_field() {
    for kt in [KeyType::Secp256k1, KeyType::Ed25519] {
        let mut key = must_key(kt, 4);
        let y = &mut key.parties[1].big_xj.1;
        let last = y.len() - 1;
        y[last] ^= 1;
        let err = import_one(&key, 0, None).unwrap_err();
        assert_eq!(
            err,
            ShareError::Point {
                field: "BigXj[1]".into(),
                error: PointError::NotOnCurve
            },
            "{kt}"
        );
    }
}

#[test]
fn party_keys_of_unknown_nodes_other_versions_or_another_owner_are_refused() {
    let key = must_key(KeyType::Ed25519, 5);
    let mut foreign = key.clone();
    foreign.parties[2].party_key = b"ffffffff-0000-4000-8000-000000000000:1".to_vec();
    assert!(matches!(
        import_one(&foreign, 0, None),
        Err(ShareError::UnknownNode { index: 2, .. }) | Err(ShareError::ShareIdNotInKs)
    ));
    let mut versioned = key.clone();
    let me = versioned
        .parties
        .iter()
        .position(|p| p.node_id == IDS[1])
        .unwrap();
    let other = (me + 1) % 3;
    versioned.parties[other].party_key =
        format!("{}:2", versioned.parties[other].node_id).into_bytes();
    assert!(matches!(
        import_one(&versioned, 1, None),
        Err(ShareError::VersionMismatch {
            found: 2,
            expected: 1,
            ..
        })
    ));
    // node0's share presented as node1's (a backup of the wrong node).
    let json = key
        .save_data_json(&mut ChaCha20Rng::seed_from_u64(1), IDS[0])
        .unwrap();
    let peers = peers();
    let err = import_share(
        &ShareKey {
            key_type: KeyType::Ed25519,
            wallet_id: "w".into(),
            version: 1,
        },
        &json,
        &ExtractOptions {
            node_id: IDS[1],
            peers: &peers,
            keyinfo: None,
        },
        None,
    )
    .unwrap_err();
    assert!(matches!(err, ShareError::NotOurShare { .. }), "{err}");
}

#[test]
fn keyinfo_with_another_threshold_or_participants_is_refused() {
    let key = must_key(KeyType::Secp256k1, 6);
    let info = |threshold, participants: &[&str]| ReferenceKeyInfo {
        participant_peer_ids: participants.iter().map(|s| s.to_string()).collect(),
        threshold,
        version: 1,
    };
    // A degree-1 sharing also "fits" degree 2; the keyinfo must name the exact threshold.
    assert_eq!(
        import_one(&key, 0, Some(&info(2, &IDS))).unwrap_err(),
        ShareError::ThresholdMismatch {
            keyinfo_signers: 3,
            share_signers: 2
        }
    );
    assert!(matches!(
        import_one(&key, 0, Some(&info(5, &IDS))),
        Err(ShareError::BadThreshold { .. })
    ));
    assert!(matches!(
        import_one(&key, 0, Some(&info(1, &IDS[..2]))),
        Err(ShareError::ParticipantsMismatch { .. })
    ));
    assert!(import_one(&key, 0, Some(&info(1, &IDS))).is_ok());
}

#[test]
fn a_legacy_unversioned_share_imports_at_version_0() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    // A legacy wallet id that itself ends in "_v7".
    let key = ReferenceKey::random(&mut rng, KeyType::Secp256k1, "old_v7", 0, &IDS, 2);
    assert_eq!(key.badger_key(), "ecdsa:old_v7");
    let mut w = BackupWriter::new("node0", password(0));
    w.set(
        &key.badger_key(),
        &key.save_data_json(&mut rng, IDS[0]).unwrap(),
    );
    w.backup(&mut rng).unwrap();
    let chain = BackupChain::from_files(w.files().to_vec(), None, Some("node0")).unwrap();
    let peers = peers();
    let out = extract(
        &chain.restore(&password(0)).unwrap(),
        &ExtractOptions {
            node_id: IDS[0],
            peers: &peers,
            keyinfo: None,
        },
    )
    .unwrap();
    assert_eq!(out.shares.len(), 1);
    assert_eq!(
        (out.shares[0].wallet_id(), out.shares[0].version()),
        ("old_v7", 0)
    );
}

#[test]
fn records_round_trip_through_json_and_refuse_tampering() {
    let key = must_key(KeyType::Ed25519, 9);
    let share = import_one(&key, 2, None).unwrap();
    let json = share.to_json().unwrap();
    let back = ImportedShare::from_json(&json).unwrap();
    assert_eq!(back, share);
    let via_serde: ImportedShare = serde_json::from_slice(&json).unwrap();
    assert_eq!(via_serde, share);

    let text = String::from_utf8(json.to_vec()).unwrap();
    let secret = hex::encode(share.secret_share().expose());
    assert!(text.contains(&secret));
    let mut flipped = secret.clone().into_bytes();
    flipped[63] = if flipped[63] == b'0' { b'1' } else { b'0' };
    let tampered = text.replace(&secret, std::str::from_utf8(&flipped).unwrap());
    assert_eq!(
        ImportedShare::from_json(tampered.as_bytes()).unwrap_err(),
        RecordError::SecretMismatch
    );
    let other_format = text.replace("imported-share/v1", "imported-share/v9");
    assert!(matches!(
        ImportedShare::from_json(other_format.as_bytes()),
        Err(RecordError::Format { .. })
    ));
    let wrong_threshold = text.replace("\"threshold_signers\":2", "\"threshold_signers\":3");
    assert!(matches!(
        ImportedShare::from_json(wrong_threshold.as_bytes()),
        Err(RecordError::Inconsistent { signers: 3 })
    ));
}

#[test]
fn debug_output_of_records_and_keys_hides_the_secret() {
    let key = must_key(KeyType::Secp256k1, 10);
    let share = import_one(&key, 1, None).unwrap();
    let secret = hex::encode(share.secret_share().expose());
    let printed = format!("{share:?} {key:?} {:?}", share.secret_share());
    assert!(printed.contains("<redacted>"));
    assert!(!printed.contains(&secret), "{printed}");
    assert!(!printed.contains(&secret[..16]), "{printed}");
}
