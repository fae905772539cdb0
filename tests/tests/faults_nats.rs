//! Fault suite, the message bus: the cluster's nats-server killed and started again on the same
//! port with the same JetStream store, while idle and in the middle of a signing session (held by
//! the nodes' test hook between two rounds). Nodes and client reconnect; JetStream keeps the
//! streams, the unacknowledged request and the registry; nothing is lost: the in-flight request
//! is answered, every wallet is unchanged and signs, and the next requests succeed.

use mpcium_client::SignRequest;
use mpcium_e2e::faults::Wallet;
use mpcium_e2e::{must_verify_eddsa, Cluster, ClusterOptions};

/// What each node logs when its NATS connection is (re-)established.
const CONNECTED: &str = "NATS connected";

async fn must_start() -> Cluster {
    Cluster::must_start(ClusterOptions {
        test_hook: true,
        ..ClusterOptions::default()
    })
    .await
}

/// Restarts the nats-server and waits until every node has reconnected.
async fn must_restart_nats(cluster: &mut Cluster) {
    let mark = cluster.mark(CONNECTED);
    cluster.nats.restart().expect("nats-server restarts");
    let all: Vec<usize> = (0..cluster.nodes.len()).collect();
    cluster.must_wait_logged(&mark, &all, CONNECTED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_restart_while_idle_loses_nothing() {
    let mut cluster = must_start().await;
    let client = cluster.must_patient_client("faults-nats-idle").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-nats-idle").await;
    must_restart_nats(&mut cluster).await;
    wallet.must_be_unchanged(&cluster).await;
    wallet.must_sign_both(&client, "after a nats restart").await;
    let next = Wallet::must_create(&cluster, &client, "w-faults-nats-idle-next").await;
    next.must_sign_eddsa(&client, "a wallet made after a nats restart")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_restart_mid_session_still_answers_the_request() {
    let mut cluster = must_start().await;
    let client = cluster.must_patient_client("faults-nats-mid").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-nats-mid").await;
    let text = "signed across a nats restart";
    // The committee sent its commitments (round 0) and holds before the shares (round 1).
    let mark = cluster.hold_all_at("eddsa-sign", 1);
    let sign = client.sign(SignRequest::eddsa(&wallet.id, text.as_bytes().to_vec()));
    let fault = async {
        cluster.must_wait_held(&mark, 2).await;
        must_restart_nats(&mut cluster).await;
        cluster.release_all();
    };
    let (signed, ()) = tokio::join!(sign, fault);
    let signed = signed.expect("the in-flight request is answered");
    must_verify_eddsa(&signed, text.as_bytes(), &wallet.eddsa);
    wallet.must_be_unchanged(&cluster).await;
    wallet.must_sign_both(&client, "the next request").await;
}
