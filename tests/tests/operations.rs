//! Operating a cluster: a node restored from its encrypted backup still signs, and the
//! `require_extended_requests` policy refuses requests whose signature does not cover their path.

use std::process::Command;
use std::time::{Duration, Instant};

use mpcium_client::hd::compress_secp256k1;
use mpcium_client::{ClientError, SignRequest};
use mpcium_e2e::{must_find_binary, must_recover_ecdsa, Cluster, ClusterOptions};
use mpcium_protocol::{ErrorCode, SignTxForm};
use sha2::{Digest, Sha256};

fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(must_find_binary("mpcium-cli"))
        .args(args)
        .output()
        .expect("run mpcium-cli");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Number of key-share records in the newest backup of `dir`, as `verify-backup` reports it.
fn shares_in_newest_backup(dir: &std::path::Path, password_file: &std::path::Path) -> usize {
    let (ok, out) = cli(&[
        "verify-backup",
        "--backup-dir",
        dir.to_str().expect("utf-8 path"),
        "--password-file",
        password_file.to_str().expect("utf-8 path"),
    ]);
    if !ok {
        return 0;
    }
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("shares"))
        .filter_map(|n| n.trim().parse().ok())
        .next()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_wiped_and_recovered_from_its_backup_still_signs() {
    let mut cluster = Cluster::must_start(ClusterOptions {
        extra_config: "backup_enabled: true\nbackup_period_seconds: 1\nbackup_dir: ./backups\n"
            .into(),
        ..Default::default()
    })
    .await;
    let client = cluster.must_client("ops").await;
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let ecdsa = compress_secp256k1(keys.ecdsa_pub_key.as_deref().expect("key")).expect("on curve");

    let node_dir = cluster.nodes[0].dir.clone();
    let backups = node_dir.join("backups");
    let password = node_dir.join("db.pass");
    let deadline = Instant::now() + Duration::from_secs(60);
    while shares_in_newest_backup(&backups, &password) < 2 {
        assert!(
            Instant::now() < deadline,
            "no backup with the wallet's shares appeared"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    cluster.must_stop(0).await;
    let store = node_dir.join("db").join(&cluster.nodes[0].name);
    std::fs::remove_file(&store).expect("wipe the node's store");
    let (ok, out) = cli(&[
        "recover",
        "--backup-dir",
        backups.to_str().expect("utf-8"),
        "--recovery-path",
        store.to_str().expect("utf-8"),
        "--password-file",
        password.to_str().expect("utf-8"),
    ]);
    assert!(ok, "recover failed: {out}");
    cluster.must_restart(0).await;

    // With node1 down, the signature needs the recovered node0.
    cluster.must_stop(1).await;
    let d: [u8; 32] = Sha256::digest(b"signed with a recovered share").into();
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d))
        .await
        .expect("sign after recovery");
    must_recover_ecdsa(&signed, &d, &ecdsa);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_requiring_covered_paths_refuses_the_v035_form_with_a_path() {
    let cluster = Cluster::must_start(ClusterOptions {
        extra_config: "require_extended_requests: true\n".into(),
        ..Default::default()
    })
    .await;
    let client = cluster.must_client("ops").await;
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let d: [u8; 32] = Sha256::digest(b"covered path").into();

    let path = vec![0, 1];
    let legacy = SignRequest::ecdsa_digest(&wallet, d)
        .with_derivation_path(path.clone())
        .with_form(SignTxForm::Reference);
    match client.sign(legacy).await {
        Err(ClientError::Failed { code, reason }) => {
            assert_eq!(code, ErrorCode::MsgValidation, "{reason}");
            assert!(reason.contains("covers derivation_path"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Without a path there is nothing uncovered.
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d))
        .await
        .expect("request without a path");
    let master = compress_secp256k1(keys.ecdsa_pub_key.as_deref().expect("key")).expect("on curve");
    must_recover_ecdsa(&signed, &d, &master);
    // By default the SDK signs a path in the upstream six-field form, which covers it.
    let child = mpcium_client::hd::derive_secp256k1_from_keygen(
        keys.ecdsa_pub_key.as_deref().expect("key"),
        &cluster.chain_code,
        &path,
    )
    .expect("derive");
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d).with_derivation_path(path))
        .await
        .expect("six-field request");
    must_recover_ecdsa(&signed, &d, &child.public_key);
}
