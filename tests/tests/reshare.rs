//! Resharing on a 2-of-3 cluster of real node processes: refresh on both curves, a threshold
//! change, removing a node (ECDSA needs aux info for the smaller committee), replacing a node
//! whose store was lost and adding back a node that left (new members without a share), a
//! degree-style threshold refused, and a new member down. After each success the new committee
//! signs and the signature verifies against the unchanged public key.

use mpcium_client::hd::compress_secp256k1;
use mpcium_client::{Client, ClientError, ReshareRequest, SignRequest};
use mpcium_e2e::{must_recover_ecdsa, must_verify_eddsa, Cluster, ClusterOptions};
use mpcium_protocol::{ErrorCode, KeyType, ResharingResultEvent};
use mpcium_state::registry::{KeyInfo, Registry};
use mpcium_state::store::KeyType as StoreKeyType;
use sha2::{Digest, Sha256};

/// A wallet's two public keys: compressed secp256k1 and Ed25519.
struct Wallet {
    id: String,
    ecdsa: [u8; 33],
    ecdsa_xy: Vec<u8>,
    eddsa: Vec<u8>,
}

async fn must_create_wallet(client: &Client) -> Wallet {
    let id = format!("w-{}", uuid::Uuid::new_v4());
    let keys = client.create_wallet(&id).await.expect("keygen");
    let ecdsa_xy = keys.ecdsa_pub_key.expect("ecdsa key");
    Wallet {
        id,
        ecdsa: compress_secp256k1(&ecdsa_xy).expect("on curve"),
        ecdsa_xy,
        eddsa: keys.eddsa_pub_key.expect("eddsa key"),
    }
}

fn request(wallet: &Wallet, key_type: KeyType, nodes: &[String], t: u16) -> ReshareRequest {
    ReshareRequest {
        session_id: None,
        wallet_id: wallet.id.clone(),
        key_type,
        node_ids: nodes.to_vec(),
        new_threshold: t,
    }
}

/// Sends a reshare until a node holding the wallet's current key coordinates it: a node without
/// a share (wiped, or left the committee) refuses to coordinate with `ERROR_KEY_NOT_FOUND`, and
/// any node may take a request. Each attempt has a fresh session id; at most 12 attempts (with
/// one of three nodes refusing, all failing has probability 3^-12).
async fn must_reshare_via_a_holder(
    client: &Client,
    request: ReshareRequest,
) -> ResharingResultEvent {
    for _ in 0..12 {
        match client.reshare(request.clone()).await {
            Err(ClientError::Failed { code, reason })
                if code == ErrorCode::KeyNotFound && reason.contains("cannot coordinate") => {}
            other => return must_succeed(other),
        }
    }
    panic!("no holder of the wallet took the reshare in 12 attempts");
}

fn must_succeed(result: Result<ResharingResultEvent, ClientError>) -> ResharingResultEvent {
    let event = result.expect("reshare succeeds");
    assert!(event.error_code.is_none(), "{}", event.error_reason);
    event
}

fn must_fail_with(
    result: Result<impl std::fmt::Debug, ClientError>,
    expected: ErrorCode,
) -> String {
    match result {
        Err(ClientError::Failed { code, reason }) => {
            assert_eq!(code, expected, "{reason}");
            reason
        }
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

async fn must_sign_both(client: &Client, wallet: &Wallet, text: &str) {
    let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet.id, digest))
        .await
        .expect("ecdsa sign");
    must_recover_ecdsa(&signed, &digest, &wallet.ecdsa);
    let signed = client
        .sign(SignRequest::eddsa(&wallet.id, text.as_bytes().to_vec()))
        .await
        .expect("eddsa sign");
    must_verify_eddsa(&signed, text.as_bytes(), &wallet.eddsa);
}

async fn must_keyinfo(cluster: &Cluster, key_type: StoreKeyType, wallet: &Wallet) -> KeyInfo {
    cluster
        .registry
        .keyinfo(key_type, &wallet.id)
        .await
        .expect("registry")
        .expect("keyinfo")
}

fn sorted_ids(cluster: &Cluster, indices: &[usize]) -> Vec<String> {
    let mut ids: Vec<String> = indices
        .iter()
        .map(|&i| cluster.nodes[i].id.clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshing_both_keys_keeps_them_and_the_refreshed_committee_signs() {
    let cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("reshare-refresh").await;
    let wallet = must_create_wallet(&client).await;
    let all = sorted_ids(&cluster, &[0, 1, 2]);

    let event = must_succeed(
        client
            .reshare(request(&wallet, KeyType::Ed25519, &all, 2))
            .await,
    );
    assert_eq!(event.pub_key.as_deref(), Some(wallet.eddsa.as_slice()));
    // The reference's core-NATS subject reaches the cluster too.
    let event = must_succeed(
        client
            .reshare_core(request(&wallet, KeyType::Secp256k1, &all, 2))
            .await,
    );
    assert_eq!(event.pub_key.as_deref(), Some(wallet.ecdsa_xy.as_slice()));

    for key_type in [StoreKeyType::Ecdsa, StoreKeyType::Eddsa] {
        let info = must_keyinfo(&cluster, key_type, &wallet).await;
        assert_eq!(info.version, 2, "{key_type:?}");
        assert_eq!(info.threshold, 2);
        assert_eq!(info.participant_peer_ids, all);
    }
    must_sign_both(&client, &wallet, "after a refresh").await;
    for node in &cluster.nodes {
        assert!(
            node.log()
                .contains("reshare committed: new share is current"),
            "{} did not switch",
            node.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_the_threshold_to_three_of_three_needs_every_node_and_a_degree_is_refused() {
    let mut cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("reshare-threshold").await;
    let wallet = must_create_wallet(&client).await;
    let all = sorted_ids(&cluster, &[0, 1, 2]);

    // A reference client's degree-style value (1 for 2-of-3) is refused, nothing changes.
    let reason = must_fail_with(
        client
            .reshare(request(&wallet, KeyType::Secp256k1, &all, 1))
            .await,
        ErrorCode::InvalidThreshold,
    );
    assert!(reason.contains("signers"), "{reason}");
    assert_eq!(
        must_keyinfo(&cluster, StoreKeyType::Ecdsa, &wallet)
            .await
            .version,
        1
    );

    for key_type in [KeyType::Secp256k1, KeyType::Ed25519] {
        must_succeed(client.reshare(request(&wallet, key_type, &all, 3)).await);
    }
    let info = must_keyinfo(&cluster, StoreKeyType::Ecdsa, &wallet).await;
    assert_eq!((info.threshold, info.version), (3, 2));
    must_sign_both(&client, &wallet, "three of three").await;

    // With one node down, 3-of-3 can no longer sign.
    cluster.must_stop(2).await;
    let digest: [u8; 32] = Sha256::digest(b"two are not enough").into();
    must_fail_with(
        client
            .sign(SignRequest::ecdsa_digest(&wallet.id, digest))
            .await,
        ErrorCode::InsufficientParticipants,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_node_leaves_a_two_node_committee_that_signs_without_it() {
    let mut cluster = Cluster::must_start(ClusterOptions {
        extra_config: "reshare_grace_seconds: 0\n".into(),
        ..Default::default()
    })
    .await;
    let client = cluster.must_client("reshare-remove").await;
    let wallet = must_create_wallet(&client).await;
    let kept = sorted_ids(&cluster, &[0, 1]);
    let removed = cluster.nodes[2].id.clone();

    for key_type in [KeyType::Ed25519, KeyType::Secp256k1] {
        must_succeed(client.reshare(request(&wallet, key_type, &kept, 2)).await);
    }
    for key_type in [StoreKeyType::Ecdsa, StoreKeyType::Eddsa] {
        let info = must_keyinfo(&cluster, key_type, &wallet).await;
        assert_eq!(info.participant_peer_ids, kept, "{key_type:?}");
        assert!(!info.participant_peer_ids.contains(&removed));
    }
    assert!(cluster.nodes[2]
        .log()
        .contains("this node left the committee"));
    // With a zero grace period the removed node wipes its old shares promptly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while cluster.nodes[2].log().matches("wiped old share").count() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the removed node kept its old shares:\n{}",
            cluster.nodes[2].log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    must_sign_both(&client, &wallet, "without the removed node").await;

    // The removed node cannot stand in for a member of the new committee.
    cluster.must_stop(1).await;
    let digest: [u8; 32] = Sha256::digest(b"removed node tries to sign").into();
    must_fail_with(
        client
            .sign(SignRequest::ecdsa_digest(&wallet.id, digest))
            .await,
        ErrorCode::InsufficientParticipants,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_member_down_fails_the_reshare_promptly_and_the_old_committee_still_signs() {
    let mut cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("reshare-down").await;
    let wallet = must_create_wallet(&client).await;
    let all = sorted_ids(&cluster, &[0, 1, 2]);

    cluster.must_stop(2).await;
    let started = std::time::Instant::now();
    let reason = must_fail_with(
        client
            .reshare(request(&wallet, KeyType::Secp256k1, &all, 2))
            .await,
        ErrorCode::ClusterNotReady,
    );
    assert!(reason.contains(&cluster.nodes[2].id), "{reason}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert_eq!(
        must_keyinfo(&cluster, StoreKeyType::Ecdsa, &wallet)
            .await
            .version,
        1
    );
    must_sign_both(&client, &wallet, "old committee after a failed reshare").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_crashed_fails_the_reshare_at_the_deadline_and_nothing_switches() {
    // A short reshare deadline, so the test does not wait out the default minute.
    let mut cluster = Cluster::must_start(ClusterOptions {
        extra_config: "reshare_timeout_seconds: 5\n".into(),
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.must_client("reshare-crash").await;
    let wallet = must_create_wallet(&client).await;
    let all = sorted_ids(&cluster, &[0, 1, 2]);

    // Still marked ready: the coordinator includes it, and it never answers.
    cluster.must_kill(2);
    assert!(cluster.ready_ids().await.contains(&cluster.nodes[2].id));
    must_fail_with(
        client
            .reshare(request(&wallet, KeyType::Secp256k1, &all, 2))
            .await,
        ErrorCode::SessionTimeout,
    );
    assert_eq!(
        must_keyinfo(&cluster, StoreKeyType::Ecdsa, &wallet)
            .await
            .version,
        1
    );
    for node in &cluster.nodes[..2] {
        assert!(!node.log().contains("reshare committed"), "{}", node.name);
    }
    // Once the crashed node's ready mark has expired, the old committee signs with v1.
    cluster
        .must_wait_not_ready(2, std::time::Duration::from_secs(30))
        .await;
    must_sign_both(&client, &wallet, "old committee after a crash mid-reshare").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_node_whose_store_was_lost_gives_it_a_share_that_signs() {
    let mut cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("reshare-replace").await;
    let wallet = must_create_wallet(&client).await;
    let all = sorted_ids(&cluster, &[0, 1, 2]);
    // The dealing quorum is the first t_old ready holders in keygen (sorted id) order, and the
    // keyinfo still lists the replaced node as a holder: replace the first one, so the
    // coordinator first names it as a dealer, hears that it holds no share, and plans again with
    // the two nodes that kept theirs.
    let replaced = (0..3)
        .min_by_key(|&i| cluster.nodes[i].id.clone())
        .expect("a node");
    let others: Vec<usize> = (0..3).filter(|&i| i != replaced).collect();

    // A lost disk: a fresh store with only the start-up seeding. The TEST-ONLY aux info of the
    // node set is seeded again at the same index, so the cluster's aux run stays usable and the
    // new ECDSA share is completed with it.
    cluster.must_stop(replaced).await;
    cluster.must_wipe_store(replaced);
    cluster.must_restart(replaced).await;

    for key_type in [KeyType::Secp256k1, KeyType::Ed25519] {
        let event = must_reshare_via_a_holder(&client, request(&wallet, key_type, &all, 2)).await;
        let expected = match key_type {
            KeyType::Secp256k1 => wallet.ecdsa_xy.clone(),
            KeyType::Ed25519 => wallet.eddsa.clone(),
        };
        assert_eq!(event.pub_key.as_deref(), Some(expected.as_slice()));
    }
    for key_type in [StoreKeyType::Ecdsa, StoreKeyType::Eddsa] {
        let info = must_keyinfo(&cluster, key_type, &wallet).await;
        assert_eq!((info.threshold, info.version), (2, 2), "{key_type:?}");
        assert_eq!(info.participant_peer_ids, all);
    }
    assert!(cluster.nodes[replaced]
        .log()
        .contains("reshare committed: new share is current"));
    let replanned = (0..3).any(|i| {
        cluster.nodes[i]
            .log()
            .contains("a dealer holds no share of the key; planning without it")
    });
    assert!(
        replanned,
        "the coordinator never had to plan without the replaced node"
    );

    // The replaced node is needed now: sign without one of the nodes that kept their shares.
    cluster.must_stop(others[0]).await;
    must_sign_both(&client, &wallet, "with the replaced node").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_left_is_added_back_with_a_new_share_that_signs() {
    let mut cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("reshare-add").await;
    let wallet = must_create_wallet(&client).await;
    let all = sorted_ids(&cluster, &[0, 1, 2]);
    let kept = sorted_ids(&cluster, &[0, 1]);

    // 2-of-3 -> 2-of-2 without node2, then 2-of-2 -> 2-of-3 adding it back: node2 holds no
    // share of version 2 (its keyinfo records that it left), so it joins from the old key
    // description in the reshare start. ECDSA: aux info for {node0, node1} runs on demand; the
    // whole node set's run is reused for the final committee.
    for key_type in [KeyType::Secp256k1, KeyType::Ed25519] {
        must_reshare_via_a_holder(&client, request(&wallet, key_type, &kept, 2)).await;
        let event = must_reshare_via_a_holder(&client, request(&wallet, key_type, &all, 2)).await;
        assert!(event.pub_key.is_some());
    }
    for key_type in [StoreKeyType::Ecdsa, StoreKeyType::Eddsa] {
        let info = must_keyinfo(&cluster, key_type, &wallet).await;
        assert_eq!((info.threshold, info.version), (2, 3), "{key_type:?}");
        assert_eq!(info.participant_peer_ids, all);
    }

    // The added node is needed now: sign without node0.
    cluster.must_stop(0).await;
    must_sign_both(&client, &wallet, "with the added node").await;
}
