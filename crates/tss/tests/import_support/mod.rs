//! Shared helpers of the import tests: a three-node Go mpcium cluster's wallet key, split the
//! tss-lib way and written into each node's encrypted Badger backups by `mpcium-migrate`'s test
//! support, read back through the real backup reader and share checks into records, and turned
//! into the plain inputs of `mpcium_tss::import` in this node set's order.
#![allow(dead_code)] // each test file uses a different subset

use mpcium_migrate::backup::{BackupChain, BackupKey};
use mpcium_migrate::extract::{extract, ExtractOptions};
use mpcium_migrate::record::{ImportedShare, KeyType};
use mpcium_migrate::reference::PeerMap;
use mpcium_migrate::testing::{BackupWriter, ReferenceKey};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use zeroize::Zeroizing;

/// The reference node ids, in node-set order (sorted, as the node orders aux info).
pub const NODES: [&str; 3] = [
    "2b0c8a4e-7d1f-4e53-a0f5-6f3c1a2d9e11",
    "9c5b94b1-35ad-49bb-b118-8e8fc24abf80",
    "e1f0d2c3-b4a5-4968-8776-5a4b3c2d1e0f",
];

/// The cluster chain code (`chain_code` in the reference's config).
pub const CHAIN_CODE: [u8; 32] = [0x5c; 32];

fn password(node: usize) -> BackupKey {
    BackupKey::new(Zeroizing::new(
        format!("reference-badger-password-node{node}!").into_bytes(),
    ))
    .unwrap()
}

/// A 2-of-3 key of `key_type` for wallet `wallet` at version 1 — reshared once more among the
/// same nodes (version 2, after a first backup) when `reshared` — and every node's record of it,
/// in [`NODES`] order, read from that node's backups.
pub fn must_import(
    key_type: KeyType,
    wallet: &str,
    seed: u64,
    reshared: bool,
) -> (ReferenceKey, Vec<ImportedShare>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let v1 = ReferenceKey::random(&mut rng, key_type, wallet, 1, &NODES, 2);
    let current = if reshared {
        v1.reshare(&mut rng, &NODES, 2)
    } else {
        v1.clone()
    };
    let peers = PeerMap::from_pairs(
        NODES
            .iter()
            .enumerate()
            .map(|(i, id)| (format!("node{i}"), id.to_string())),
    )
    .unwrap();
    let mut records = Vec::new();
    for (i, id) in NODES.iter().enumerate() {
        let name = format!("node{i}");
        let mut w = BackupWriter::new(&name, password(i));
        w.set(&v1.badger_key(), &v1.save_data_json(&mut rng, id).unwrap());
        w.backup(&mut rng).unwrap();
        if reshared {
            w.set(
                &current.badger_key(),
                &current.save_data_json(&mut rng, id).unwrap(),
            );
            w.backup(&mut rng).unwrap();
        }
        let chain =
            BackupChain::from_files(w.files().to_vec(), Some(&w.latest_version()), Some(&name))
                .unwrap();
        let snapshot = chain.restore(&password(i)).unwrap();
        let mut out = extract(
            &snapshot,
            &ExtractOptions {
                node_id: id,
                peers: &peers,
                keyinfo: None,
            },
        )
        .unwrap();
        assert_eq!(out.shares.len(), 1);
        let record = out.shares.remove(0);
        assert_eq!(record.version(), current.version());
        assert_eq!(record.public_key(), current.public_key());
        records.push(record);
    }
    (current, records)
}

/// A record's holders in [`NODES`] order: evaluation points, public shares, and our position.
pub fn in_node_order(record: &ImportedShare) -> (Vec<[u8; 32]>, Vec<Vec<u8>>, u16) {
    let holder = |id: &str| {
        record
            .holders()
            .iter()
            .find(|h| h.node_id == id)
            .expect("every node holds a share")
    };
    let points = NODES.iter().map(|id| holder(id).evaluation_point).collect();
    let shares = NODES
        .iter()
        .map(|id| holder(id).public_share.clone())
        .collect();
    let own = record.own_holder().expect("own holder");
    let position = NODES
        .iter()
        .position(|id| *id == own.node_id)
        .expect("own node") as u16;
    (points, shares, position)
}
