//! Requests under load on a 2-of-3 cluster of real node processes: the registry is read from
//! each node's long-lived views, never through a consumer per request.

use async_nats::jetstream;
use futures::StreamExt;
use mpcium_client::SignRequest;
use mpcium_e2e::{must_verify_eddsa, Cluster, ClusterOptions};

/// Consumers on every KV stream of the registry, by stream name.
async fn kv_consumers(js: &jetstream::Context) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for bucket in ["mpc_ready", "mpc_peers", "threshold_keyinfo", "mpc_results"] {
        let name = format!("KV_{bucket}");
        let info = js
            .get_stream(&name)
            .await
            .expect("kv stream")
            .info()
            .await
            .expect("stream info")
            .clone();
        out.push((name, info.state.consumer_count));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_requests_create_no_new_kv_consumers() {
    let cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("load").await;
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let eddsa = keys.eddsa_pub_key.clone().expect("eddsa key");

    let nats = async_nats::connect(cluster.nats.url()).await.expect("nats");
    let js = jetstream::new(nats);
    let before = kv_consumers(&js).await;
    let ready = before
        .iter()
        .find(|(n, _)| n == "KV_mpc_ready")
        .map(|c| c.1);
    // One watch per node and one of the harness.
    assert!(
        ready <= Some(cluster.nodes.len() + 1),
        "one readiness watch per process at most: {before:?}"
    );

    let results: Vec<_> = futures::stream::iter(0..40)
        .map(|i| {
            let client = &client;
            let wallet = &wallet;
            async move {
                let message = format!("load {i}").into_bytes();
                let result = client
                    .sign(SignRequest::eddsa(wallet, message.clone()))
                    .await;
                (message, result)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (message, result) in results {
        let signature = result.expect("signing succeeds");
        must_verify_eddsa(&signature, &message, &eddsa);
    }
    // Start-up listings' consumers may expire meanwhile; none may be added.
    let after = kv_consumers(&js).await;
    for ((name, was), (_, now)) in before.iter().zip(&after) {
        assert!(now <= was, "{name}: {was} consumers before, {now} after");
    }
}
