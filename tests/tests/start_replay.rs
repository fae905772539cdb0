//! A session-start order recorded off NATS and sent again after the node restarted (its
//! in-memory replay memory gone) is refused: the stored start horizon survives the restart.

use std::time::{Duration, Instant};

use futures::StreamExt;
use mpcium_client::SignRequest;
use mpcium_e2e::{must_verify_eddsa, Cluster, ClusterOptions};
use mpcium_node::transport::bus::node_subject;
use mpcium_node::transport::channel::START;

/// The channel byte of a sealed envelope (after the u16 header length and the version byte).
fn channel_of(envelope: &[u8]) -> Option<u8> {
    envelope.get(3).copied()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_start_replayed_after_the_node_restarted_is_refused() {
    let mut cluster = Cluster::must_start(ClusterOptions::default()).await;
    let target = cluster.nodes[0].id.clone();
    let nats = async_nats::connect(cluster.nats.url()).await.expect("nats");
    // What an eavesdropper on NATS sees: every envelope sent to node 0.
    let mut tap = nats
        .subscribe(node_subject(&target))
        .await
        .expect("subscribe");
    nats.flush().await.expect("flush");

    let client = cluster.must_client("replay").await;
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    // Keygen runs on every node, so node 0 gets a start order.
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let mut starts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while starts.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, tap.next())
            .await
            .expect("node 0 received a start order")
            .expect("tap open");
        if channel_of(&message.payload) == Some(START.0) {
            starts.push(message.payload);
        }
    }

    cluster.must_stop(0).await;
    cluster.must_restart(0).await;
    for start in &starts {
        nats.publish(node_subject(&target), start.clone())
            .await
            .expect("replay");
    }
    nats.flush().await.expect("flush");

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = cluster.nodes[0].log();
        if log.contains("dropped stale or replayed session start") {
            assert!(log.contains("issued before this node restarted"), "{log}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 0 never refused the replayed start:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The restarted node still serves.
    let signed = client
        .sign(SignRequest::eddsa(&wallet, b"after replay".to_vec()))
        .await
        .expect("sign");
    must_verify_eddsa(
        &signed,
        b"after replay",
        keys.eddsa_pub_key.as_deref().expect("key"),
    );
}
