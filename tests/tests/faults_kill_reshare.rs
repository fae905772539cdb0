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
//! Independent rounds run in lanes, each on a cluster of its own. And once the reshare is
//! decided (recorded in the registry before anyone switches), no wallet is left split between
//! versions: a participant killed right before it switches, and kept away until the reshare is
//! answered, switches by itself when it is back; a coordinator killed right after deciding
//! leaves the survivors to switch by themselves, and its request, redelivered, completes
//! without resharing again.

use mpcium_client::{Client, ClientError, ReshareRequest};
use mpcium_e2e::faults::{
    kill_points, lanes, must_wait, KillAt, Victim, Wallet, PART_FAILED, RESHARE_ROUNDS,
};
use mpcium_e2e::{Cluster, ClusterOptions};
use mpcium_protocol::{ErrorCode, KeyType};
use mpcium_state::store::KeyType as StoreKeyType;

/// What each participant logs when it switches to its new share.
const COMMITTED: &str = "reshare committed";
/// What a coordinator logs when it recorded that its reshare is final.
const DECIDED: &str = "reshare decided";
/// What a participant logs when it switched without a commit order.
const CAUGHT_UP: &str = "caught up with a decided reshare";

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
async fn a_participant_away_during_the_commit_switches_by_itself_when_it_is_back() {
    let mut cluster = Cluster::must_start(ClusterOptions::faults()).await;
    let client = cluster.must_patient_client("faults-reshare-commit").await;
    let mut wallet = Wallet::must_create(&cluster, &client, "w-faults-reshare-commit").await;
    let committed = cluster.mark(COMMITTED);
    // All three participants hold right before they switch; one dies there and stays away
    // until the reshare is answered: the other two switched, which is enough to sign.
    let mark = cluster.hold_all("reshare-commit");
    let reshare = client.reshare(refresh(&cluster, &wallet, KeyType::Ed25519));
    let kill = cluster.must_kill_held(&mark, 3, Victim::Participant);
    let (outcome, killed) = tokio::join!(reshare, kill);
    let done = outcome.expect("the reshare is answered");
    assert!(done.error_code.is_none(), "{}", done.error_reason);
    let survivors: Vec<usize> = (0..3).filter(|&i| i != killed).collect();
    cluster
        .must_wait_logged(&committed, &survivors, COMMITTED)
        .await;
    assert_eq!(committed.since(&cluster.mark(COMMITTED))[killed], 0);
    // Back with its store, it finds the decision and switches before it says it is ready.
    cluster.must_restart(killed).await;
    assert_eq!(
        committed.since(&cluster.mark(COMMITTED)),
        vec![1, 1, 1],
        "every node switched exactly once"
    );
    wallet.refreshed(StoreKeyType::Eddsa);
    wallet.must_be_unchanged(&cluster).await;
    // A committee that needs the returned node signs: every node is on the same version.
    cluster.must_sign_including(killed, &client, &wallet).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_killed_after_deciding_leaves_no_split_and_its_redelivered_request_completes_once(
) {
    let mut cluster = Cluster::must_start(ClusterOptions::faults()).await;
    let client = cluster.must_patient_client("faults-reshare-decided").await;
    let mut wallet = Wallet::must_create(&cluster, &client, "w-faults-reshare-decided").await;
    let committed = cluster.mark(COMMITTED);
    let decided = cluster.mark(DECIDED);
    // The coordinator holds right after it recorded the decision: nobody was ordered to switch.
    cluster.hold_all("reshare-decided");
    let reshare = client.reshare(refresh(&cluster, &wallet, KeyType::Secp256k1));
    let fault = async {
        let coordinator = must_wait("a coordinator that decided", || {
            let now = cluster.mark(DECIDED);
            decided.since(&now).iter().position(|&n| n > 0)
        })
        .await;
        cluster.must_kill(coordinator);
        cluster.release_all();
        // The survivors find the decision and switch without any order.
        let survivors: Vec<usize> = (0..3).filter(|&i| i != coordinator).collect();
        cluster
            .must_wait_logged(&committed, &survivors, CAUGHT_UP)
            .await;
        // Back before JetStream redelivers the request, it switches at start-up.
        cluster.must_restart(coordinator).await;
        coordinator
    };
    let (outcome, coordinator) = tokio::join!(reshare, fault);
    let done = outcome.expect("the redelivered reshare is answered");
    assert!(done.error_code.is_none(), "{}", done.error_reason);
    assert_eq!(
        committed.since(&cluster.mark(COMMITTED)),
        vec![1, 1, 1],
        "every node switched exactly once; the redelivered request did not reshare again"
    );
    assert_eq!(
        decided.since(&cluster.mark(DECIDED)).iter().sum::<usize>(),
        1
    );
    wallet.refreshed(StoreKeyType::Ecdsa);
    wallet.must_be_unchanged(&cluster).await;
    cluster
        .must_sign_including(coordinator, &client, &wallet)
        .await;
}
