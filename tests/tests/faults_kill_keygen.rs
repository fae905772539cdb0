//! Fault suite, keygen: `kill -9` of a participant and of the coordinator at a given round of
//! the secp256k1 and the Ed25519 key generation on a 2-of-3 cluster (keygen needs every node, so
//! the request fails). The nodes' test hook holds every node right before it sends that round,
//! so the kill lands exactly there; no sleeps.
//!
//! Each scenario asserts a prompt terminal error naming the killed node, that no node kept a
//! half-made wallet (the same wallet id is created once the node is back), that an existing
//! wallet is unchanged and signs, and that the next request succeeds.

use mpcium_client::ClientError;
use mpcium_e2e::faults::{Victim, Wallet};
use mpcium_e2e::{Cluster, ClusterOptions};
use mpcium_protocol::ErrorCode;
use mpcium_state::registry::Registry;
use mpcium_state::store::KeyType as StoreKeyType;

/// Creates `wallet` while `victim` is killed before it sends `round` of `protocol`; checks the
/// error, brings the node back and creates the same wallet with a fresh client (whose request is
/// not a JetStream duplicate of the failed one).
async fn keygen_killing(
    cluster: &mut Cluster,
    existing: &Wallet,
    wallet: &str,
    protocol: &str,
    round: u16,
    victim: Victim,
) {
    let client = cluster
        .must_patient_client(&format!("{wallet}-first"))
        .await;
    let mark = cluster.hold_all_at(protocol, round);
    let keygen = client.create_wallet(wallet);
    let (outcome, killed) = tokio::join!(keygen, cluster.must_kill_held(&mark, 3, victim));
    let dead = cluster.nodes[killed].id.clone();
    match outcome {
        // The coordinator noticed the participant's readiness lapse.
        Err(ClientError::Failed { code, reason }) if victim == Victim::Participant => {
            assert_eq!(code, ErrorCode::SessionTimeout, "{reason}");
            assert!(reason.contains(&dead), "{reason}");
        }
        // The redelivered request found the dead coordinator not ready (or, before its mark
        // lapsed, not answering).
        Err(ClientError::Failed { code, reason }) => {
            assert!(
                [ErrorCode::ClusterNotReady, ErrorCode::SessionTimeout].contains(&code),
                "{code:?}: {reason}"
            );
            assert!(reason.contains(&dead), "{reason}");
        }
        other => panic!("expected a terminal error naming {dead}, got {other:?}"),
    }
    for key_type in [StoreKeyType::Ecdsa, StoreKeyType::Eddsa] {
        let info = cluster
            .registry
            .keyinfo(key_type, wallet)
            .await
            .expect("registry");
        assert!(info.is_none(), "a failed keygen left {key_type:?} keyinfo");
    }
    existing.must_be_unchanged(cluster).await;

    cluster.must_restart(killed).await;
    let retry = cluster
        .must_patient_client(&format!("{wallet}-retry"))
        .await;
    let created = Wallet::must_create(cluster, &retry, wallet).await;
    created
        .must_sign_eddsa(&retry, "a wallet made after a fault")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_with_a_participant_killed_mid_protocol_fails_and_leaves_no_wallet() {
    let mut cluster = Cluster::must_start(ClusterOptions {
        test_hook: true,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.must_patient_client("faults-keygen").await;
    let existing = Wallet::must_create(&cluster, &client, "w-faults-keygen-existing").await;
    // CGGMP24 keygen: round 1, 2 (broadcast), 2 (unicast), 3 are 0..=3.
    keygen_killing(
        &mut cluster,
        &existing,
        "w-faults-keygen-ecdsa",
        "ecdsa-keygen",
        3,
        Victim::Participant,
    )
    .await;
    // FROST DKG: commit 0, echo 1, shares 2.
    keygen_killing(
        &mut cluster,
        &existing,
        "w-faults-keygen-eddsa",
        "eddsa-keygen",
        1,
        Victim::Participant,
    )
    .await;
    existing.must_sign_both(&client, "the next request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_with_its_coordinator_killed_mid_protocol_fails_and_leaves_no_wallet() {
    let mut cluster = Cluster::must_start(ClusterOptions {
        test_hook: true,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster
        .must_patient_client("faults-keygen-coordinator")
        .await;
    let existing =
        Wallet::must_create(&cluster, &client, "w-faults-keygen-coordinator-existing").await;
    keygen_killing(
        &mut cluster,
        &existing,
        "w-faults-keygen-coordinator",
        "eddsa-keygen",
        2,
        Victim::Coordinator,
    )
    .await;
    existing.must_sign_both(&client, "the next request").await;
}
