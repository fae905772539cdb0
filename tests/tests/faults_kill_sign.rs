//! Fault suite, signing: `kill -9` of a participant and of the coordinator at every round of an
//! Ed25519 (FROST, 2 rounds) and a secp256k1 (CGGMP24, 6 wire rounds) signing session on a
//! 2-of-3 cluster, and of a signer while a message-mode request signs from a presignature. The
//! nodes' test hook holds the committee right before it sends that round, so the kill lands
//! exactly there; no sleeps.
//!
//! Each scenario asserts that the client gets one valid signature (the coordinator fails over
//! to the holders left, or JetStream redelivers a request whose coordinator died, 30 s later),
//! answered by one coordinator only, that the wallet's keys and keyinfo are unchanged, that the
//! killed node comes back with its store and signs, and that the next request succeeds. A
//! killed coordinator is restarted as soon as the cluster has seen it gone, so the redelivered
//! request may land on it again. Independent rounds run in lanes, each on a cluster of its own,
//! side by side.

use std::collections::BTreeSet;
use std::time::Duration;

use mpcium_client::{Client, SignRequest};
use mpcium_e2e::faults::{
    digest, lanes, must_wait_async, Victim, Wallet, ECDSA_SIGN_ROUNDS, EDDSA_SIGN_ROUNDS,
    PART_FAILED,
};
use mpcium_e2e::{must_http_get, must_recover_ecdsa, must_verify_eddsa, Cluster, ClusterOptions};
use mpcium_protocol::MessageHash;

/// Which key signs.
#[derive(Clone, Copy, Debug)]
enum Key {
    Eddsa,
    Ecdsa,
}

impl Key {
    fn protocol(self) -> &'static str {
        match self {
            Key::Eddsa => "eddsa-sign",
            Key::Ecdsa => "ecdsa-sign",
        }
    }
}

/// What the coordinator logs once per signed request.
const SIGNED: &str = "signing success tx_id=";

/// Signs with `key` while `victim` is killed before it sends `round`; checks the signature and
/// that one coordinator answered, and brings the killed node back. Returns the killed node.
async fn sign_killing(
    cluster: &mut Cluster,
    client: &Client,
    wallet: &Wallet,
    key: Key,
    round: u16,
    victim: Victim,
) -> usize {
    let text = format!("{key:?}, {victim:?} killed at round {round}");
    let d = digest(&text);
    let request = match key {
        Key::Eddsa => SignRequest::eddsa(&wallet.id, text.clone().into_bytes()),
        Key::Ecdsa => SignRequest::ecdsa_digest(&wallet.id, d),
    };
    let failed = cluster.mark(PART_FAILED);
    let mark = cluster.hold_all_at(key.protocol(), round);
    let fault = async {
        let (killed, held) = cluster.must_kill_held_of(&mark, 2, victim).await;
        // Back, as a supervisor would bring it, while the request is answered: a dead
        // coordinator's before JetStream redelivers its request.
        let members = if victim == Victim::Coordinator {
            held
        } else {
            Vec::new()
        };
        cluster
            .must_restart_once_gone(killed, &members, &failed)
            .await;
        killed
    };
    let (signed, killed) = tokio::join!(client.sign(request), fault);
    let signed = signed.unwrap_or_else(|e| panic!("{text}: {e}"));
    match key {
        Key::Eddsa => must_verify_eddsa(&signed, text.as_bytes(), &wallet.eddsa),
        Key::Ecdsa => must_recover_ecdsa(&signed, &d, &wallet.ecdsa),
    }
    cluster.must_have_logged(SIGNED, &signed.tx_id, 1);
    killed
}

/// One lane: a cluster and a wallet of its own, a kill at each of `rounds`, then the checks
/// after the faults.
async fn sign_lane(name: String, rounds: Vec<(Key, u16)>, victim: Victim) {
    let mut cluster = Cluster::must_start(ClusterOptions::faults()).await;
    let client = cluster.must_patient_client(&name).await;
    let wallet = Wallet::must_create(&cluster, &client, &format!("w-{name}")).await;
    let mut killed = Vec::new();
    for (key, round) in rounds {
        killed.push(sign_killing(&mut cluster, &client, &wallet, key, round, victim).await);
    }
    wallet.must_be_unchanged(&cluster).await;
    wallet.must_sign_both(&client, "the next request").await;
    cluster
        .must_sign_including_last(killed[0], &client, &wallet)
        .await;
}

/// Runs `rounds` with `victim` over `count` lanes side by side.
async fn sign_matrix(name: &str, rounds: &[(Key, u16)], victim: Victim, count: usize) {
    let runs = lanes(rounds, count)
        .into_iter()
        .enumerate()
        .map(|(i, lane)| sign_lane(format!("{name}-{i}"), lane, victim));
    futures::future::join_all(runs).await;
}

fn rounds_of(key: Key, rounds: &[u16]) -> Vec<(Key, u16)> {
    rounds.iter().map(|&r| (key, r)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eddsa_signing_survives_a_participant_killed_at_each_round() {
    let rounds = rounds_of(Key::Eddsa, EDDSA_SIGN_ROUNDS);
    sign_matrix("faults-sign-eddsa", &rounds, Victim::Participant, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecdsa_signing_survives_a_participant_killed_at_each_round() {
    let rounds = rounds_of(Key::Ecdsa, ECDSA_SIGN_ROUNDS);
    sign_matrix("faults-sign-ecdsa", &rounds, Victim::Participant, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_survives_its_coordinator_killed_at_each_round() {
    // Each kill waits out JetStream's 30 s ack wait: eight of them on eight clusters.
    let mut rounds = rounds_of(Key::Ecdsa, ECDSA_SIGN_ROUNDS);
    rounds.extend(rounds_of(Key::Eddsa, EDDSA_SIGN_ROUNDS));
    sign_matrix("faults-sign-coordinator", &rounds, Victim::Coordinator, 8).await;
}

/// What a signer logs when it uses up a presignature.
const CONSUMED: &str = "presignature consumed: ";

/// Every presignature use logged by any node (restarted processes append to the same log):
/// (node, "#id of pool …").
fn presignatures_used(cluster: &Cluster) -> Vec<(String, String)> {
    let mut uses = Vec::new();
    for node in &cluster.nodes {
        for line in node.log_lines(CONSUMED) {
            if let Some((_, what)) = line.split_once(CONSUMED) {
                uses.push((node.name.clone(), what.trim().to_owned()));
            }
        }
    }
    uses
}

/// The sum over every node's `/metrics` of the pool depth gauge of `wallet`.
async fn pool_depth(cluster: &Cluster, wallet: &str) -> u64 {
    let label = format!("wallet_id=\"{wallet}\"");
    let mut depth = 0.0;
    for node in &cluster.nodes {
        let Some(addr) = node.health else { continue };
        let text = must_http_get(addr, "/metrics").await;
        depth += text
            .lines()
            .filter(|l| l.starts_with("mpcium_presignature_pool_depth{") && l.contains(&label))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    depth as u64
}

/// Signs `text` in message mode (SHA-256) while `victim` is killed before it sends its partial
/// signature from a presignature (`ecdsa-online-sign`, one round).
async fn message_sign_killing(
    cluster: &mut Cluster,
    client: &Client,
    wallet: &Wallet,
    text: &str,
    victim: Victim,
) {
    let request =
        SignRequest::ecdsa_message(&wallet.id, text.as_bytes().to_vec(), MessageHash::Sha256);
    let failed = cluster.mark(PART_FAILED);
    let mark = cluster.hold_all_at("ecdsa-online-sign", 0);
    let fault = async {
        let (killed, held) = cluster.must_kill_held_of(&mark, 2, victim).await;
        let members = if victim == Victim::Coordinator {
            held
        } else {
            Vec::new()
        };
        cluster
            .must_restart_once_gone(killed, &members, &failed)
            .await;
    };
    let (signed, ()) = tokio::join!(client.sign(request), fault);
    let signed = signed.unwrap_or_else(|e| panic!("{text}: {e}"));
    must_recover_ecdsa(&signed, &digest(text), &wallet.ecdsa);
    cluster.must_have_logged(SIGNED, &signed.tx_id, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_from_a_presignature_survives_a_killed_signer_and_uses_no_presignature_twice() {
    let hot = "w-faults-sign-pool";
    let mut cluster = Cluster::must_start(ClusterOptions {
        health: true,
        extra_config: format!("presignatures: {{hot_wallets: [{hot}], target_depth: 1}}\n"),
        ..ClusterOptions::faults()
    })
    .await;
    let client = cluster.must_patient_client("faults-sign-pool").await;
    let wallet = Wallet::must_create(&cluster, &client, hot).await;
    for (text, victim) in [
        ("from the pool, a signer killed", Victim::Participant),
        ("from the pool, the coordinator killed", Victim::Coordinator),
    ] {
        // Full pools: the first ready holder fills the two committees it belongs to, so it
        // holds two presignatures and each other holder one — whichever node takes the request
        // holds one. (The kill before used one up.) Presigning takes seconds of CPU; generous
        // for a loaded machine.
        let view = &cluster;
        must_wait_async(
            "the pools to fill",
            Duration::from_secs(600),
            || async move { (pool_depth(view, hot).await == 4).then_some(()) },
        )
        .await;
        message_sign_killing(&mut cluster, &client, &wallet, text, victim).await;
    }
    // Both sessions used presignatures before the kill; the signatures came from whatever the
    // failover or the redelivery found (another presignature or a full signing).
    let uses = presignatures_used(&cluster);
    assert!(uses.len() >= 2, "no presignature was used: {uses:?}");
    let distinct: BTreeSet<&(String, String)> = uses.iter().collect();
    assert_eq!(
        distinct.len(),
        uses.len(),
        "a presignature was used twice: {uses:?}"
    );
    wallet.must_be_unchanged(&cluster).await;
    wallet.must_sign_both(&client, "the next request").await;
    let text = "the next request, in message mode";
    let signed = client
        .sign(SignRequest::ecdsa_message(
            &wallet.id,
            text.as_bytes().to_vec(),
            MessageHash::Sha256,
        ))
        .await
        .expect("the next message-mode request");
    must_recover_ecdsa(&signed, &digest(text), &wallet.ecdsa);
    let uses = presignatures_used(&cluster);
    let distinct: BTreeSet<&(String, String)> = uses.iter().collect();
    assert_eq!(
        distinct.len(),
        uses.len(),
        "a presignature was used twice: {uses:?}"
    );
}
