//! Fault suite, resharing: `kill -9` of a participant and of the coordinator at a given round of
//! an Ed25519 refresh (same committee of three, threshold 2) — during the dealing and during
//! the new holders' confirmation, before the commit. The nodes' test hook holds the session right
//! before that round, so the kill lands exactly there; no sleeps.
//!
//! Each scenario asserts a terminal error naming the killed node, that the wallet is unchanged
//! (keyinfo version, both keys sign as before), and that once the node is back with its store
//! the next reshare succeeds and the refreshed committee signs.
//!
//! And a commit that reaches only some nodes: a participant killed right before it switches to
//! its new share. The coordinator orders the commit again once the node is back with its store,
//! so every node switches and the wallet is never split between versions.

use mpcium_client::{Client, ClientError, ReshareRequest};
use mpcium_e2e::faults::{Victim, Wallet};
use mpcium_e2e::{Cluster, ClusterOptions};
use mpcium_protocol::{ErrorCode, KeyType};

fn refresh(cluster: &Cluster, wallet: &Wallet) -> ReshareRequest {
    let mut nodes: Vec<String> = cluster.nodes.iter().map(|n| n.id.clone()).collect();
    nodes.sort();
    ReshareRequest {
        session_id: None,
        wallet_id: wallet.id.clone(),
        key_type: KeyType::Ed25519,
        node_ids: nodes,
        new_threshold: 2,
    }
}

/// Reshares while `victim` is killed before it sends `round` (`holders` nodes send it); checks
/// the error and the unchanged wallet, and brings the node back.
async fn reshare_killing(
    cluster: &mut Cluster,
    client: &Client,
    wallet: &Wallet,
    round: u16,
    holders: usize,
    victim: Victim,
) {
    let mark = cluster.hold_all_at("eddsa-reshare", round);
    let reshare = client.reshare(refresh(cluster, wallet));
    let (outcome, killed) = tokio::join!(reshare, cluster.must_kill_held(&mark, holders, victim));
    let dead = cluster.nodes[killed].id.clone();
    match outcome {
        Err(ClientError::Failed { code, reason }) => {
            assert!(
                [ErrorCode::SessionTimeout, ErrorCode::ClusterNotReady].contains(&code),
                "{code:?}: {reason}"
            );
            assert!(reason.contains(&dead), "{reason}");
        }
        other => panic!("expected a terminal error naming {dead}, got {other:?}"),
    }
    wallet.must_be_unchanged(cluster).await;
    cluster.must_restart(killed).await;
    wallet
        .must_sign_both(client, &format!("after a reshare killed at round {round}"))
        .await;
}

/// The reshare after the faults: succeeds, and the refreshed committee signs with the same keys.
async fn must_reshare_and_sign(cluster: &Cluster, client: &Client, wallet: &Wallet) {
    let done = client
        .reshare(refresh(cluster, wallet))
        .await
        .expect("the next reshare");
    assert!(done.error_code.is_none(), "{}", done.error_reason);
    wallet
        .must_sign_both(client, "after the next reshare")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reshare_with_a_participant_killed_fails_and_leaves_the_wallet_as_it_was() {
    let mut cluster = Cluster::must_start(ClusterOptions {
        test_hook: true,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.must_patient_client("faults-reshare").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-reshare").await;
    // Round 1: the two dealers reveal their dealings; round 3: all three new holders confirm.
    reshare_killing(&mut cluster, &client, &wallet, 1, 2, Victim::Participant).await;
    reshare_killing(&mut cluster, &client, &wallet, 3, 3, Victim::Participant).await;
    must_reshare_and_sign(&cluster, &client, &wallet).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reshare_with_its_coordinator_killed_fails_and_leaves_the_wallet_as_it_was() {
    let mut cluster = Cluster::must_start(ClusterOptions {
        test_hook: true,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster
        .must_patient_client("faults-reshare-coordinator")
        .await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-reshare-coordinator").await;
    reshare_killing(&mut cluster, &client, &wallet, 3, 3, Victim::Coordinator).await;
    must_reshare_and_sign(&cluster, &client, &wallet).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_reaches_only_some_nodes_is_ordered_again_until_every_node_switched() {
    let mut cluster = Cluster::must_start(ClusterOptions {
        test_hook: true,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.must_patient_client("faults-reshare-commit").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-reshare-commit").await;
    // All three participants hold right before they switch; one dies there, the others switch.
    let mark = cluster.hold_all("reshare-commit");
    let reshare = client.reshare(refresh(&cluster, &wallet));
    let fault = async {
        let killed = cluster.must_kill_held(&mark, 3, Victim::Participant).await;
        cluster.must_restart(killed).await;
        killed
    };
    let (outcome, killed) = tokio::join!(reshare, fault);
    let done = outcome.expect("the reshare is answered");
    assert!(done.error_code.is_none(), "{}", done.error_reason);
    assert_eq!(
        cluster.nodes[killed].log_lines("reshare committed").len(),
        1,
        "the restarted node did not switch"
    );
    // A committee that needs the restarted node signs: every node is on the same version.
    cluster.must_sign_including(killed, &client, &wallet).await;
    wallet.must_sign_both(&client, "the next request").await;
}
