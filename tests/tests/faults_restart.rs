//! Fault suite, restart: a signing participant killed with `kill -9` mid-session and started
//! again at once, well within the readiness TTL, so its readiness never lapses. The new process
//! announces its new incarnation as soon as it has subscribed to its subject; the coordinator
//! sees that the participant restarted (its session state is gone with the old process) and signs
//! again without it at once, instead of waiting for the old mark to lapse or for the deadline.
//! The test hook holds the committee right before the round, so the kill lands exactly there.

use std::time::Instant;

use mpcium_client::SignRequest;
use mpcium_e2e::faults::{digest, Wallet};
use mpcium_e2e::{must_recover_ecdsa, must_verify_eddsa, Cluster, ClusterOptions};

/// What the coordinator logs when it signs again without a restarted participant
/// (`ops::sign::run_with_failover` quoting `session::liveness::Gone`).
const RESTART_DETECTED: &str = "restarted (new incarnation)";
/// Logged when signing runs again without a participant.
const FAILOVER: &str = "signing again without them";

/// Holds every node before `round` of `protocol`, runs `sign`, kills the held participant that
/// does not coordinate and restarts it at once; returns the request's wall time, its result
/// and the coordinator's failover lines that name the restart.
async fn sign_restarting_a_participant<T>(
    cluster: &mut Cluster,
    protocol: &str,
    round: u16,
    sign: impl std::future::Future<Output = T>,
) -> (std::time::Duration, T, Vec<String>) {
    let failovers: Vec<usize> = cluster
        .nodes
        .iter()
        .map(|n| n.log_lines(FAILOVER).len())
        .collect();
    let held = cluster.hold_all_at(protocol, round);
    let started = Instant::now();
    let kill_and_restart = async {
        let holders = cluster.must_wait_held(&held, 2).await;
        let coordinator = holders[0].coordinator.clone();
        let victim = holders
            .iter()
            .find(|h| cluster.nodes[h.node].id != coordinator)
            .expect("a holding participant that does not coordinate")
            .node;
        cluster.must_kill(victim);
        cluster.release_all();
        cluster.must_restart(victim).await;
        (coordinator, victim)
    };
    let (result, (coordinator, victim)) = tokio::join!(
        async {
            let result = sign.await;
            (result, started.elapsed())
        },
        kill_and_restart
    );
    let (result, elapsed) = result;
    let coordinator = cluster.index_of(&coordinator);
    let victim_id = cluster.nodes[victim].id.clone();
    let lines: Vec<String> = cluster.nodes[coordinator]
        .log_lines(FAILOVER)
        .into_iter()
        .skip(failovers[coordinator])
        .collect();
    println!(
        "{protocol} round {round}: signed in {:.1} s with {} restarted; coordinator {}: {lines:?}",
        elapsed.as_secs_f64(),
        cluster.nodes[victim].name,
        cluster.nodes[coordinator].name,
    );
    let named: Vec<String> = lines
        .into_iter()
        .filter(|l| l.contains(RESTART_DETECTED) && l.contains(&victim_id))
        .collect();
    (elapsed, result, named)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_fails_over_at_once_when_a_participant_restarts_within_the_readiness_ttl() {
    let mut cluster = Cluster::must_start(ClusterOptions {
        test_hook: true,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.must_patient_client("faults-restart").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-restart").await;
    let deadline = mpcium_state::config::Deadlines::DEFAULT.signing;

    // Ed25519 (FROST): held before round 1, the signature shares.
    let text = "eddsa, participant restarted at round 1";
    let request = client.sign(SignRequest::eddsa(&wallet.id, text.as_bytes().to_vec()));
    let (elapsed, signed, named) =
        sign_restarting_a_participant(&mut cluster, "eddsa-sign", 1, request).await;
    let signed = signed.unwrap_or_else(|e| panic!("{text}: {e}"));
    must_verify_eddsa(&signed, text.as_bytes(), &wallet.eddsa);
    assert!(
        !named.is_empty(),
        "the coordinator did not name the restart"
    );
    assert!(
        elapsed < deadline,
        "waited {elapsed:?}, the deadline is {deadline:?}"
    );

    // secp256k1 (CGGMP24): held before round 2.
    let text = "ecdsa, participant restarted at round 2";
    let d = digest(text);
    let request = client.sign(SignRequest::ecdsa_digest(&wallet.id, d));
    let (elapsed, signed, named) =
        sign_restarting_a_participant(&mut cluster, "ecdsa-sign", 2, request).await;
    let signed = signed.unwrap_or_else(|e| panic!("{text}: {e}"));
    must_recover_ecdsa(&signed, &d, &wallet.ecdsa);
    assert!(
        !named.is_empty(),
        "the coordinator did not name the restart"
    );
    assert!(
        elapsed < deadline,
        "waited {elapsed:?}, the deadline is {deadline:?}"
    );

    wallet.must_be_unchanged(&cluster).await;
    wallet.must_sign_both(&client, "the next request").await;
}
