//! Fault suite, resharing: `kill -9` of a participant and of the coordinator at every round of
//! a refresh (same committee of three, threshold 2) of the Ed25519 and of the secp256k1 key:
//! the dealers' commit, reveal and sub-shares, and the new holders' confirmation, before the
//! commit. The nodes' test hook holds the session right before that round, so the kill lands
//! exactly there; no sleeps.
//!
//! * A participant killed: a terminal error naming it; the wallet is unchanged (keyinfo
//!   version, both keys sign as before); once the node is back with its store, the next
//!   reshare succeeds and the refreshed committee signs.
//! * The coordinator killed: the survivors' session parts end when its readiness lapses; it is
//!   restarted with its store before JetStream redelivers the request 30 s later, and the
//!   redelivered reshare completes once: every node switches exactly once (one version up), the
//!   keys are the same, and a committee that needs the restarted node signs.
//!
//! Independent rounds run in lanes, each on a cluster of its own. And a commit that reaches only
//! some nodes: a participant killed right before it switches to its new share. The coordinator
//! orders the commit again once the node is back with its store, so every node switches and the
//! wallet is never split between versions.

use mpcium_client::{Client, ClientError, ReshareRequest};
use mpcium_e2e::faults::{kill_points, lanes, KillAt, Victim, Wallet, PART_FAILED, RESHARE_ROUNDS};
use mpcium_e2e::{Cluster, ClusterOptions};
use mpcium_protocol::{ErrorCode, KeyType};
use mpcium_state::store::KeyType as StoreKeyType;

/// What each participant logs when it switches to its new share.
const COMMITTED: &str = "reshare committed";

fn refresh(cluster: &Cluster, wallet: &Wallet, key_type: KeyType) -> ReshareRequest {
    let mut nodes: Vec<String> = cluster.nodes.iter().map(|n| n.id.clone()).collect();
    nodes.sort();
    ReshareRequest {
        session_id: None,
        wallet_id: wallet.id.clone(),
        key_type,
        node_ids: nodes,
        new_threshold: 2,
    }
}

fn key_type_of(kill: &KillAt) -> KeyType {
    if kill.protocol.starts_with("ecdsa") {
        KeyType::Secp256k1
    } else {
        KeyType::Ed25519
    }
}

fn store_key_type(key_type: KeyType) -> StoreKeyType {
    match key_type {
        KeyType::Secp256k1 => StoreKeyType::Ecdsa,
        KeyType::Ed25519 => StoreKeyType::Eddsa,
    }
}

/// Reshares while `kill.victim` is killed before it sends `kill.round`; checks the outcome and
/// the wallet, and leaves every node running.
async fn reshare_killing(
    cluster: &mut Cluster,
    client: &Client,
    wallet: &mut Wallet,
    kill: KillAt,
) -> usize {
    let key_type = key_type_of(&kill);
    let committed = cluster.mark(COMMITTED);
    let failed = cluster.mark(PART_FAILED);
    let request = refresh(cluster, wallet, key_type);
    let mark = cluster.hold_all_at(kill.protocol, kill.round);
    let fault = async {
        let (killed, _) = cluster
            .must_kill_held_of(&mark, kill.holders, kill.victim)
            .await;
        // Back, as a supervisor would bring it, while the request is answered: a dead
        // coordinator's before JetStream redelivers its request. Every node of a refresh of
        // 2-of-3 is a member of its session.
        let members: Vec<usize> = match kill.victim {
            Victim::Coordinator => (0..cluster.nodes.len()).collect(),
            Victim::Participant => Vec::new(),
        };
        cluster
            .must_restart_once_gone(killed, &members, &failed)
            .await;
        killed
    };
    let (outcome, killed) = tokio::join!(client.reshare(request), fault);
    let dead = cluster.nodes[killed].id.clone();
    match kill.victim {
        Victim::Participant => {
            match outcome {
                Err(ClientError::Failed { code, reason }) => {
                    assert!(
                        [ErrorCode::SessionTimeout, ErrorCode::ClusterNotReady].contains(&code),
                        "{kill:?}: {code:?}: {reason}"
                    );
                    assert!(reason.contains(&dead), "{kill:?}: {reason}");
                }
                other => panic!("{kill:?}: expected a terminal error naming {dead}, got {other:?}"),
            }
            wallet.must_be_unchanged(cluster).await;
        }
        Victim::Coordinator => {
            let done = outcome.unwrap_or_else(|e| panic!("{kill:?}: the redelivered reshare: {e}"));
            assert!(done.error_code.is_none(), "{kill:?}: {}", done.error_reason);
            // Every node switched once: one version up, never split between versions.
            let all: Vec<usize> = (0..cluster.nodes.len()).collect();
            cluster.must_wait_logged(&committed, &all, COMMITTED).await;
            assert_eq!(
                committed.since(&cluster.mark(COMMITTED)),
                vec![1; cluster.nodes.len()],
                "{kill:?}: a node switched twice"
            );
            wallet.refreshed(store_key_type(key_type));
            wallet.must_be_unchanged(cluster).await;
        }
    }
    wallet
        .must_sign_both(client, &format!("after a reshare killed at {kill:?}"))
        .await;
    killed
}

/// The reshare after the faults: succeeds, and the refreshed committee signs with the same keys.
async fn must_reshare_and_sign(cluster: &Cluster, client: &Client, wallet: &mut Wallet) {
    let done = client
        .reshare(refresh(cluster, wallet, KeyType::Ed25519))
        .await
        .expect("the next reshare");
    assert!(done.error_code.is_none(), "{}", done.error_reason);
    wallet.refreshed(StoreKeyType::Eddsa);
    wallet.must_be_unchanged(cluster).await;
    wallet
        .must_sign_both(client, "after the next reshare")
        .await;
}

/// Every kill point of both key types with `victim`.
fn points(victim: Victim) -> Vec<KillAt> {
    let mut all = kill_points("eddsa-reshare", RESHARE_ROUNDS, victim);
    all.extend(kill_points("ecdsa-reshare", RESHARE_ROUNDS, victim));
    all
}

/// One lane: a cluster and a wallet of its own, a reshare killed at each of `kills`, then the
/// next reshare.
async fn reshare_lane(name: String, kills: Vec<KillAt>) {
    let mut cluster = Cluster::must_start(ClusterOptions::faults()).await;
    let client = cluster.must_patient_client(&name).await;
    let mut wallet = Wallet::must_create(&cluster, &client, &format!("w-{name}")).await;
    let mut killed = Vec::new();
    for kill in kills {
        killed.push(reshare_killing(&mut cluster, &client, &mut wallet, kill).await);
    }
    must_reshare_and_sign(&cluster, &client, &mut wallet).await;
    // The last killed node holds its share of the current version.
    let last = *killed.last().expect("a lane has a kill");
    cluster
        .must_sign_including_last(last, &client, &wallet)
        .await;
}

/// Runs every kill point with `victim` over `count` lanes side by side.
async fn reshare_matrix(name: &str, victim: Victim, count: usize) {
    let runs = lanes(&points(victim), count)
        .into_iter()
        .enumerate()
        .map(|(i, lane)| reshare_lane(format!("{name}-{i}"), lane));
    futures::future::join_all(runs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reshare_with_a_participant_killed_at_each_round_fails_and_leaves_the_wallet_as_it_was() {
    reshare_matrix("faults-reshare", Victim::Participant, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reshare_with_its_coordinator_killed_at_each_round_is_redelivered_and_switches_every_node_once(
) {
    // Each kill waits out JetStream's 30 s ack wait: eight of them on eight clusters.
    reshare_matrix("faults-reshare-coordinator", Victim::Coordinator, 8).await;
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
    let reshare = client.reshare(refresh(&cluster, &wallet, KeyType::Ed25519));
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
