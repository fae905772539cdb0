//! Fault suite, keygen: `kill -9` of a participant and of the coordinator at every round of the
//! secp256k1 (CGGMP24, 5 wire rounds) and the Ed25519 (FROST, 3 rounds) key generation on a
//! 2-of-3 cluster (keygen needs every node). The nodes' test hook holds every node right before
//! it sends that round, so the kill lands exactly there; no sleeps. (Both key generations of a
//! wallet run together: holding one lets the other finish its rounds, but neither stores a
//! share before both succeed.)
//!
//! * A participant killed: the coordinator sees its readiness lapse and answers at once with a
//!   terminal error naming it; no node keeps a half-made wallet (the same wallet id is created
//!   once the node is back).
//! * The coordinator killed: the survivors' session parts end when its readiness lapses; it is
//!   restarted with its store (as a supervisor would) before JetStream redelivers the request
//!   30 s later, and the redelivered keygen makes one key: every node stores exactly one set
//!   of shares, and a committee that needs the restarted node signs with it.
//!
//! Each scenario also asserts that an existing wallet is unchanged and signs, and that the next
//! request succeeds. Independent rounds run in lanes, each on a cluster of its own.

use mpcium_client::ClientError;
use mpcium_e2e::faults::{
    kill_points, lanes, sent_by, KillAt, Victim, Wallet, ECDSA_KEYGEN_ROUNDS, EDDSA_KEYGEN_ROUNDS,
    PART_FAILED,
};
use mpcium_e2e::{Cluster, ClusterOptions};
use mpcium_protocol::ErrorCode;
use mpcium_state::registry::Registry;
use mpcium_state::store::KeyType as StoreKeyType;

/// What each participant logs when it stored its shares of a new wallet.
const STORED: &str = "keygen success: shares stored";

/// Every kill point of both key generations with `victim`.
fn points(victim: Victim) -> Vec<KillAt> {
    let mut all = kill_points("ecdsa-keygen", &sent_by(ECDSA_KEYGEN_ROUNDS, 3), victim);
    all.extend(kill_points(
        "eddsa-keygen",
        &sent_by(EDDSA_KEYGEN_ROUNDS, 3),
        victim,
    ));
    all
}

/// Fails unless the registry has no keyinfo of `wallet`.
async fn must_have_no_wallet(cluster: &Cluster, wallet: &str) {
    for key_type in [StoreKeyType::Ecdsa, StoreKeyType::Eddsa] {
        let info = cluster
            .registry
            .keyinfo(key_type, wallet)
            .await
            .expect("registry");
        assert!(info.is_none(), "a failed keygen left {key_type:?} keyinfo");
    }
}

/// Creates `wallet` while `kill.victim` is killed before it sends `kill.round`; checks the
/// outcome, and leaves every node running. Returns the killed node and the wallet made.
async fn keygen_killing(
    cluster: &mut Cluster,
    existing: &Wallet,
    wallet: &str,
    kill: KillAt,
) -> (usize, Wallet) {
    let client = cluster
        .must_patient_client(&format!("{wallet}-first"))
        .await;
    let failed = cluster.mark(PART_FAILED);
    let mark = cluster.hold_all_at(kill.protocol, kill.round);
    let fault = async {
        let (killed, _) = cluster
            .must_kill_held_of(&mark, kill.holders, kill.victim)
            .await;
        // Back, as a supervisor would bring it, while the request is answered: a dead
        // coordinator's before JetStream redelivers its request. Every node is a member of a
        // keygen session.
        let members: Vec<usize> = match kill.victim {
            Victim::Coordinator => (0..cluster.nodes.len()).collect(),
            Victim::Participant => Vec::new(),
        };
        cluster
            .must_restart_once_gone(killed, &members, &failed)
            .await;
        killed
    };
    let (outcome, killed) = tokio::join!(client.create_wallet(wallet), fault);
    let dead = cluster.nodes[killed].id.clone();
    let made = match kill.victim {
        Victim::Participant => {
            match outcome {
                // The coordinator noticed the participant's readiness lapse.
                Err(ClientError::Failed { code, reason }) => {
                    assert_eq!(code, ErrorCode::SessionTimeout, "{kill:?}: {reason}");
                    assert!(reason.contains(&dead), "{kill:?}: {reason}");
                }
                other => panic!("{kill:?}: expected a terminal error naming {dead}, got {other:?}"),
            }
            must_have_no_wallet(cluster, wallet).await;
            existing.must_be_unchanged(cluster).await;
            // A fresh client: its request is not a JetStream duplicate of the failed one.
            let retry = cluster
                .must_patient_client(&format!("{wallet}-retry"))
                .await;
            Wallet::must_create(cluster, &retry, wallet).await
        }
        Victim::Coordinator => {
            let keys = outcome.unwrap_or_else(|e| panic!("{kill:?}: the redelivered keygen: {e}"));
            existing.must_be_unchanged(cluster).await;
            Wallet::must_record(cluster, wallet, &keys).await
        }
    };
    // One set of shares on each node, never two: the interrupted session stored nothing.
    for node in &cluster.nodes {
        let stored: Vec<String> = node
            .log_lines(STORED)
            .into_iter()
            .filter(|l| l.contains(wallet))
            .collect();
        assert_eq!(stored.len(), 1, "{kill:?}: {} stored {stored:?}", node.name);
    }
    // Every node, the killed one too, reported the same keys; both sign.
    made.must_sign_both(&client, "a wallet made after a fault")
        .await;
    (killed, made)
}

/// One lane: a cluster with an existing wallet, a keygen killed at each of `kills`, and the
/// checks after the faults.
async fn keygen_lane(name: String, kills: Vec<KillAt>) {
    let mut cluster = Cluster::must_start(ClusterOptions::faults()).await;
    let client = cluster.must_patient_client(&name).await;
    let existing = Wallet::must_create(&cluster, &client, &format!("w-{name}-existing")).await;
    let mut last = None;
    for (i, kill) in kills.into_iter().enumerate() {
        last = Some(keygen_killing(&mut cluster, &existing, &format!("w-{name}-{i}"), kill).await);
    }
    existing.must_sign_both(&client, "the next request").await;
    // The last killed node holds its share of the wallet made after its kill.
    let (killed, made) = last.expect("a lane has a kill");
    cluster
        .must_sign_including_last(killed, &client, &made)
        .await;
}

/// Runs every kill point with `victim` over `count` lanes side by side.
async fn keygen_matrix(name: &str, victim: Victim, count: usize) {
    let runs = lanes(&points(victim), count)
        .into_iter()
        .enumerate()
        .map(|(i, lane)| keygen_lane(format!("{name}-{i}"), lane));
    futures::future::join_all(runs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_with_a_participant_killed_at_each_round_fails_and_leaves_no_wallet() {
    keygen_matrix("faults-keygen", Victim::Participant, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_with_its_coordinator_killed_at_each_round_is_redelivered_and_makes_one_key() {
    // Each kill waits out JetStream's 30 s ack wait: eight of them on eight clusters.
    keygen_matrix("faults-keygen-coordinator", Victim::Coordinator, 8).await;
}
