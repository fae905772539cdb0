//! Fault suite, signing: `kill -9` of a participant and of the coordinator at a given round of
//! an Ed25519 and a secp256k1 signing session on a 2-of-3 cluster. The nodes' test hook holds
//! the committee right before it sends that round, so the kill lands exactly there; no sleeps.
//!
//! Each scenario asserts that the client gets one valid signature (the coordinator fails over
//! to the holders left, or JetStream redelivers a request whose coordinator died), that the
//! wallet's keys and keyinfo are unchanged, that the killed node restarts with its store and
//! signs, and that the next request succeeds.

use mpcium_client::SignRequest;
use mpcium_e2e::faults::{digest, Victim, Wallet};
use mpcium_e2e::{must_recover_ecdsa, must_verify_eddsa, Cluster, ClusterOptions};

async fn must_start() -> Cluster {
    Cluster::must_start(ClusterOptions {
        test_hook: true,
        ..ClusterOptions::default()
    })
    .await
}

/// Signs `text` with the Ed25519 key while `victim` is killed before it sends `round`; checks
/// the signature and brings the killed node back. Returns the killed node.
async fn eddsa_sign_killing(
    cluster: &mut Cluster,
    client: &mpcium_client::Client,
    wallet: &Wallet,
    round: u16,
    victim: Victim,
) -> usize {
    let text = format!("eddsa, {victim:?} killed at round {round}");
    let mark = cluster.hold_all_at("eddsa-sign", round);
    let sign = client.sign(SignRequest::eddsa(&wallet.id, text.clone().into_bytes()));
    let (signed, killed) = tokio::join!(sign, cluster.must_kill_held(&mark, 2, victim));
    let signed = signed.unwrap_or_else(|e| panic!("{text}: {e}"));
    must_verify_eddsa(&signed, text.as_bytes(), &wallet.eddsa);
    cluster.must_restart(killed).await;
    killed
}

/// The secp256k1 counterpart of [`eddsa_sign_killing`].
async fn ecdsa_sign_killing(
    cluster: &mut Cluster,
    client: &mpcium_client::Client,
    wallet: &Wallet,
    round: u16,
    victim: Victim,
) -> usize {
    let text = format!("ecdsa, {victim:?} killed at round {round}");
    let d = digest(&text);
    let mark = cluster.hold_all_at("ecdsa-sign", round);
    let sign = client.sign(SignRequest::ecdsa_digest(&wallet.id, d));
    let (signed, killed) = tokio::join!(sign, cluster.must_kill_held(&mark, 2, victim));
    let signed = signed.unwrap_or_else(|e| panic!("{text}: {e}"));
    must_recover_ecdsa(&signed, &d, &wallet.ecdsa);
    cluster.must_restart(killed).await;
    killed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eddsa_signing_survives_a_participant_killed_at_each_round() {
    let mut cluster = must_start().await;
    let client = cluster.must_patient_client("faults-sign-eddsa").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-sign-eddsa").await;
    // FROST signing: round 0 commitments, round 1 signature shares.
    let mut killed = Vec::new();
    for round in 0..2 {
        killed.push(
            eddsa_sign_killing(&mut cluster, &client, &wallet, round, Victim::Participant).await,
        );
    }
    wallet.must_be_unchanged(&cluster).await;
    cluster
        .must_sign_including(killed[0], &client, &wallet)
        .await;
    wallet.must_sign_both(&client, "the next request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecdsa_signing_survives_a_participant_killed_in_the_first_and_the_last_round() {
    let mut cluster = must_start().await;
    let client = cluster.must_patient_client("faults-sign-ecdsa").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-sign-ecdsa").await;
    // CGGMP24 signing: rounds 1a, 1b, 2, 3, 4 are 0..=4; round 4 carries the partial signatures.
    let mut killed = Vec::new();
    for round in [1, 4] {
        killed.push(
            ecdsa_sign_killing(&mut cluster, &client, &wallet, round, Victim::Participant).await,
        );
    }
    wallet.must_be_unchanged(&cluster).await;
    cluster
        .must_sign_including(killed[1], &client, &wallet)
        .await;
    wallet.must_sign_both(&client, "the next request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_survives_its_coordinator_killed_mid_session() {
    let mut cluster = must_start().await;
    let client = cluster.must_patient_client("faults-sign-coordinator").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-sign-coordinator").await;
    // JetStream redelivers the unacknowledged request to a node left; it signs.
    let killed = eddsa_sign_killing(&mut cluster, &client, &wallet, 1, Victim::Coordinator).await;
    ecdsa_sign_killing(&mut cluster, &client, &wallet, 2, Victim::Coordinator).await;
    wallet.must_be_unchanged(&cluster).await;
    cluster.must_sign_including(killed, &client, &wallet).await;
    wallet.must_sign_both(&client, "the next request").await;
}
