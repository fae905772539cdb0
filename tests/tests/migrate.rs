//! Taking over a Go mpcium cluster's wallet: reference-format backups of three nodes (a random
//! key split the tss-lib way, tss-lib JSON in Badger backup batches, encrypted as the reference
//! does — `mpcium-migrate`'s test support), imported on each node with the real
//! `mpcium-cli import-mpcium`; then the real nodes agree on the imports, run a fresh aux-info
//! generation and sign on both curves and for HD children, verified against the reference's
//! public keys, and again after a refresh by resharing. A wrong-password and a corrupted import are refused with the store untouched;
//! holders that imported different keys for a wallet refuse it, which then stays unusable.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mpcium_client::hd::derive_secp256k1_from_keygen;
use mpcium_client::{ReshareRequest, SignRequest};
use mpcium_e2e::{
    must_find_binary, must_recover_ecdsa, must_verify_eddsa, Cluster, ClusterOptions,
};
use mpcium_migrate::testing::{write_node_backups, ReferenceKey};
use mpcium_migrate::{BackupKey, KeyType};
use mpcium_protocol::hd::derive_ed25519;
use mpcium_protocol::KeyType as ProtocolKeyType;
use mpcium_state::registry::Registry;
use mpcium_state::store::KeyType as StoreKeyType;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const WALLET: &str = "go-wallet-1";
/// How long the import (a real aux-info generation among three loaded nodes) may take.
const IMPORT_DEADLINE: Duration = Duration::from_secs(900);

/// The Go node's badger_password of node `i` (32 bytes: AES-256).
fn go_password(i: usize) -> String {
    format!("go-badger-password-of-node-{i}-xyz")
}

/// Runs `mpcium-cli import-mpcium` in node directory `dir` with the backups in `backups`.
fn import(dir: &Path, node: &str, backups: &str) -> std::process::Output {
    Command::new(must_find_binary("mpcium-cli"))
        .args([
            "import-mpcium",
            "--backup-dir",
            backups,
            "--node",
            node,
            "--peers",
            "peers.json",
            "--store",
            &format!("db/{node}"),
            "--backup-password-file",
            "go.pass",
            "--password-file",
            "db.pass",
        ])
        .current_dir(dir)
        .output()
        .expect("run mpcium-cli")
}

fn must_refuse(dir: &Path, node: &str, backups: &str, expected: &str) {
    let store = dir.join("db").join(node);
    let before = std::fs::read(&store).expect("store file");
    let out = import(dir, node, backups);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "import of {backups} succeeded");
    assert!(stderr.contains(expected), "expected {expected:?}: {stderr}");
    assert_eq!(
        std::fs::read(&store).expect("store file"),
        before,
        "store touched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_go_clusters_wallet_is_imported_on_three_nodes_and_signs_under_its_original_keys() {
    let mut cluster = Cluster::must_prepare(ClusterOptions::default()).await;
    let ids: Vec<String> = cluster.nodes.iter().map(|n| n.id.clone()).collect();
    let holders: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut rng = ChaCha20Rng::seed_from_u64(16);
    // The ECDSA key was reshared once (version 2); the chain holds both versions.
    let ecdsa_v1 = ReferenceKey::random(&mut rng, KeyType::Secp256k1, WALLET, 1, &holders, 2);
    let ecdsa = ecdsa_v1.reshare(&mut rng, &holders, 2);
    let eddsa = ReferenceKey::random(&mut rng, KeyType::Ed25519, WALLET, 1, &holders, 2);

    for (i, node) in cluster.nodes.iter().enumerate() {
        let backups = node.dir.join("go-backups");
        std::fs::create_dir_all(&backups).expect("backup dir");
        let key = BackupKey::new(Zeroizing::new(go_password(i).into_bytes())).expect("key");
        let files = write_node_backups(
            &mut rng,
            &backups,
            &node.name,
            &node.id,
            key,
            &[&ecdsa_v1, &eddsa, &ecdsa],
        )
        .expect("write backups");
        assert_eq!(files.len(), 3);
        std::fs::write(node.dir.join("go.pass"), go_password(i)).expect("password file");
    }

    // Refused imports leave node0's store as it was.
    let node0 = &cluster.nodes[0];
    std::fs::write(node0.dir.join("go.pass"), go_password(1)).expect("password file");
    must_refuse(
        &node0.dir,
        &node0.name,
        "go-backups",
        "encrypted with another password",
    );
    std::fs::write(node0.dir.join("go.pass"), go_password(0)).expect("password file");
    let damaged = node0.dir.join("damaged");
    std::fs::create_dir_all(&damaged).expect("dir");
    for entry in std::fs::read_dir(node0.dir.join("go-backups")).expect("read dir") {
        let path = entry.expect("entry").path();
        let mut bytes = std::fs::read(&path).expect("read");
        if path.extension().is_some_and(|e| e == "enc")
            && path.to_string_lossy().ends_with("-2.enc")
        {
            let at = bytes.len() - 5;
            bytes[at] ^= 0x40;
        }
        std::fs::write(damaged.join(path.file_name().expect("name")), bytes).expect("write");
    }
    must_refuse(&node0.dir, &node0.name, "damaged", "authentication failed");

    for node in &cluster.nodes {
        let out = import(&node.dir, &node.name, "go-backups");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "import on {}: {stdout}{}",
            node.name,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("wrote 2 pending imports"), "{stdout}");
    }

    cluster.must_start_nodes().await;
    // The coordinator publishes keyinfo once every holder has converted and stored its shares.
    let started = Instant::now();
    loop {
        let mut published = true;
        for key_type in [StoreKeyType::Ecdsa, StoreKeyType::Eddsa] {
            published &= cluster
                .registry
                .keyinfo(key_type, WALLET)
                .await
                .expect("registry")
                .is_some();
        }
        if published {
            break;
        }
        for node in &cluster.nodes {
            assert!(
                !node.log().contains("import refused"),
                "{} refused the import",
                node.name
            );
        }
        assert!(started.elapsed() < IMPORT_DEADLINE, "import did not finish");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        cluster.nodes.iter().any(|n| n
            .log()
            .contains("fresh aux info generated for the holder set")),
        "the import ran its own aux-info generation"
    );
    let info = cluster
        .registry
        .keyinfo(StoreKeyType::Ecdsa, WALLET)
        .await
        .expect("registry")
        .expect("keyinfo");
    assert_eq!((info.threshold, info.version), (2, 2));

    let client = cluster.must_client("migrate").await;
    let ecdsa_key: [u8; 33] = ecdsa.public_key().try_into().expect("33 bytes");
    let digest: [u8; 32] = Sha256::digest(b"spend from a migrated wallet").into();
    let signed = client
        .sign(SignRequest::ecdsa_digest(WALLET, digest))
        .await
        .expect("ecdsa sign");
    must_recover_ecdsa(&signed, &digest, &ecdsa_key);

    let message = b"a solana transfer from a migrated wallet".to_vec();
    let signed = client
        .sign(SignRequest::eddsa(WALLET, message.clone()))
        .await
        .expect("eddsa sign");
    must_verify_eddsa(&signed, &message, eddsa.public_key());

    // HD children as the reference derives them from the same chain code.
    let path = vec![44, 60, 0, 0, 7];
    let xy = mpcium_tss::ecdsa::EcdsaPublicKey::from_compressed(&ecdsa_key)
        .and_then(|k| k.uncompressed_xy())
        .expect("key");
    let child = derive_secp256k1_from_keygen(&xy, &cluster.chain_code, &path).expect("derive");
    let signed = client
        .sign(SignRequest::ecdsa_digest(WALLET, digest).with_derivation_path(path.clone()))
        .await
        .expect("hd ecdsa sign");
    must_recover_ecdsa(&signed, &digest, &child.public_key);

    let eddsa_key: [u8; 32] = eddsa.public_key().try_into().expect("32 bytes");
    let child = derive_ed25519(&eddsa_key, &cluster.chain_code, &path).expect("derive ed25519");
    let signed = client
        .sign(SignRequest::eddsa(WALLET, message.clone()).with_derivation_path(path))
        .await
        .expect("hd eddsa sign");
    must_verify_eddsa(&signed, &message, &child.public_key);

    // A refresh by resharing (same committee and threshold) keeps both keys, as for a native
    // wallet, and the refreshed shares sign.
    let mut committee = ids.clone();
    committee.sort();
    for key_type in [ProtocolKeyType::Secp256k1, ProtocolKeyType::Ed25519] {
        let event = client
            .reshare(ReshareRequest {
                session_id: None,
                wallet_id: WALLET.to_owned(),
                key_type,
                node_ids: committee.clone(),
                new_threshold: 2,
            })
            .await
            .expect("refresh");
        assert!(event.error_code.is_none(), "{}", event.error_reason);
    }
    let digest: [u8; 32] = Sha256::digest(b"after the refresh").into();
    let signed = client
        .sign(SignRequest::ecdsa_digest(WALLET, digest))
        .await
        .expect("ecdsa sign after refresh");
    must_recover_ecdsa(&signed, &digest, &ecdsa_key);
    let signed = client
        .sign(SignRequest::eddsa(WALLET, message.clone()))
        .await
        .expect("eddsa sign after refresh");
    must_verify_eddsa(&signed, &message, eddsa.public_key());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holders_that_imported_different_keys_refuse_the_import_and_the_wallet_stays_unusable() {
    let mut cluster = Cluster::must_prepare(ClusterOptions::default()).await;
    let ids: Vec<String> = cluster.nodes.iter().map(|n| n.id.clone()).collect();
    let holders: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut rng = ChaCha20Rng::seed_from_u64(61);
    let ecdsa = ReferenceKey::random(&mut rng, KeyType::Secp256k1, WALLET, 1, &holders, 2);
    // node2's backups hold another key for the same wallet: another public key and BigXj set.
    let other = ReferenceKey::random(&mut rng, KeyType::Secp256k1, WALLET, 1, &holders, 2);
    for (i, node) in cluster.nodes.iter().enumerate() {
        let backups = node.dir.join("go-backups");
        std::fs::create_dir_all(&backups).expect("backup dir");
        let key = BackupKey::new(Zeroizing::new(go_password(i).into_bytes())).expect("key");
        let held = if i == 2 { &other } else { &ecdsa };
        write_node_backups(&mut rng, &backups, &node.name, &node.id, key, &[held])
            .expect("write backups");
        std::fs::write(node.dir.join("go.pass"), go_password(i)).expect("password file");
        let out = import(&node.dir, &node.name, "go-backups");
        assert!(
            out.status.success(),
            "each node's own backups are consistent"
        );
    }

    cluster.must_start_nodes().await;
    let started = Instant::now();
    while !cluster
        .nodes
        .iter()
        .any(|n| n.log().contains("holders disagree on the imported wallets"))
    {
        assert!(started.elapsed() < IMPORT_DEADLINE, "no refusal was logged");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(cluster
        .registry
        .keyinfo(StoreKeyType::Ecdsa, WALLET)
        .await
        .expect("registry")
        .is_none());
    let client = cluster.must_client("migrate").await;
    let digest: [u8; 32] = Sha256::digest(b"must not be signed").into();
    match client.sign(SignRequest::ecdsa_digest(WALLET, digest)).await {
        Err(mpcium_client::ClientError::Failed { code, .. }) => {
            assert_eq!(code, mpcium_protocol::ErrorCode::KeyNotFound)
        }
        other => panic!("expected ERROR_KEY_NOT_FOUND, got {other:?}"),
    }
}
