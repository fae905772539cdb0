//! Under load: answering requests reads readiness from each node's standing view, so a burst of
//! requests creates no JetStream consumers (each used to list `mpc_ready/` through a new one,
//! until the server's consumer limit failed every request).

use futures::future::join_all;
use mpcium_client::SignRequest;
use mpcium_e2e::{must_verify_eddsa, Cluster, ClusterOptions};

/// Consumers on the readiness bucket's stream right now.
async fn ready_consumers(cluster: &Cluster) -> usize {
    let client = async_nats::connect(cluster.nats.url())
        .await
        .expect("connect");
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("KV_mpc_ready").await.expect("KV_mpc_ready");
    stream
        .info()
        .await
        .expect("stream info")
        .state
        .consumer_count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_requests_creates_no_readiness_consumers() {
    let cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("under-load").await;
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let eddsa = keys.eddsa_pub_key.clone().expect("eddsa key");

    // Listings made while the cluster started may still linger (they only expire); the nodes'
    // own watches are among them.
    let before = ready_consumers(&cluster).await;
    let requests = (0..60).map(|i| {
        let client = &client;
        let wallet = &wallet;
        let eddsa = &eddsa;
        async move {
            let message = format!("burst {i}").into_bytes();
            let signed = client
                .sign(SignRequest::eddsa(wallet, message.clone()))
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
            must_verify_eddsa(&signed, &message, eddsa);
        }
    });
    join_all(requests).await;
    let after = ready_consumers(&cluster).await;
    assert!(
        after <= before,
        "60 requests added readiness consumers: {before} before, {after} after"
    );
}
