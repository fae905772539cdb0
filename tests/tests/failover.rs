//! Failover: a signer killed with SIGKILL (its ready mark outlives it until the TTL) does not fail
//! requests whose committee includes it — the coordinator notices its readiness lapse, abandons
//! the session and signs again with the holders left; and a request that has no committee left
//! gets a prompt error naming the node that stopped answering.

use std::time::Duration;

use futures::future::join_all;
use mpcium_client::hd::compress_secp256k1;
use mpcium_client::{Client, ClientError, ClientOptions, Nats, SignRequest};
use mpcium_e2e::{must_recover_ecdsa, must_verify_eddsa, Cluster, ClusterOptions};
use mpcium_protocol::{ClientId, ErrorCode};
use sha2::{Digest, Sha256};

/// Shorter than the node's signing deadline (60 s): a request that waited for the deadline
/// instead of failing over fails here.
const RESULT_TIMEOUT: Duration = Duration::from_secs(45);

async fn must_client(cluster: &Cluster, id: &str) -> Client {
    let options = ClientOptions::new(
        Nats::Url(cluster.nats.url().to_owned()),
        cluster.initiator(),
    )
    .with_client_id(ClientId::new(id).expect("client id"))
    .with_result_timeout(RESULT_TIMEOUT);
    Client::connect(options).await.expect("client connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_with_a_killed_signer_in_the_committee_fails_over_to_the_others() {
    let mut cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = must_client(&cluster, "failover").await;
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let ecdsa = compress_secp256k1(keys.ecdsa_pub_key.as_deref().expect("key")).expect("on curve");
    let eddsa = keys.eddsa_pub_key.clone().expect("eddsa key");

    cluster.must_kill(2);
    assert!(
        cluster.ready_ids().await.contains(&cluster.nodes[2].id),
        "the killed node's ready mark must still be there (as after a crash)"
    );
    // Eight transactions: each committee is two of the three holders, chosen per tx id, so
    // almost surely several include the dead node.
    let requests = (0..8).map(|i| {
        let client = &client;
        let wallet = &wallet;
        async move {
            if i % 4 == 0 {
                let d: [u8; 32] = Sha256::digest(format!("failover {i}")).into();
                let signed = client.sign(SignRequest::ecdsa_digest(wallet, d)).await;
                (i, signed.map(|s| (Some(d), s)))
            } else {
                let message = format!("failover {i}").into_bytes();
                let signed = client
                    .sign(SignRequest::eddsa(wallet, message.clone()))
                    .await;
                (i, signed.map(|s| (None, s)))
            }
        }
    });
    let started = std::time::Instant::now();
    let outcomes = join_all(requests).await;
    // A figure for docs/reliability.md, not an assertion: how long the slowest request took.
    eprintln!(
        "failover: 8 requests with a killed signer answered within {:?}",
        started.elapsed()
    );
    for (i, outcome) in outcomes {
        match outcome {
            Ok((Some(d), signed)) => must_recover_ecdsa(&signed, &d, &ecdsa),
            Ok((None, signed)) => {
                must_verify_eddsa(&signed, format!("failover {i}").as_bytes(), &eddsa)
            }
            Err(error) => panic!("request {i} failed although two holders are up: {error}"),
        }
    }
    let failed_over = cluster.nodes[..2]
        .iter()
        .any(|n| n.log().contains("signing again without them"));
    assert!(failed_over, "no request had the dead node in its committee");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_with_no_committee_left_fails_promptly_naming_the_dead_node() {
    let mut cluster = Cluster::must_start(ClusterOptions {
        nodes: 3,
        threshold: 3,
        ..ClusterOptions::default()
    })
    .await;
    let client = must_client(&cluster, "failover-none").await;
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    client.create_wallet(&wallet).await.expect("keygen");
    let dead = cluster.nodes[1].id.clone();
    cluster.must_kill(1);
    let outcome = client
        .sign(SignRequest::eddsa(&wallet, b"nobody left".to_vec()))
        .await;
    match outcome {
        Err(ClientError::Failed { code, reason }) => {
            assert_eq!(code, ErrorCode::InsufficientParticipants, "{reason}");
            assert!(reason.contains(&dead), "{reason}");
        }
        other => panic!("expected a prompt error naming {dead}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_with_a_killed_node_fails_promptly_naming_it() {
    let mut cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = must_client(&cluster, "failover-keygen").await;
    let dead = cluster.nodes[0].id.clone();
    cluster.must_kill(0);
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    match client.create_wallet(&wallet).await {
        Err(ClientError::Failed { code, reason }) => {
            assert_eq!(code, ErrorCode::SessionTimeout, "{reason}");
            assert!(reason.contains(&dead), "{reason}");
        }
        other => panic!("expected a prompt error naming {dead}, got {other:?}"),
    }
    // Once the dead node's mark expired, the cluster says so up front.
    cluster
        .must_wait_not_ready(0, Duration::from_secs(30))
        .await;
    match client.create_wallet(&format!("{wallet}-2")).await {
        Err(ClientError::Failed { code, .. }) => assert_eq!(code, ErrorCode::ClusterNotReady),
        other => panic!("expected ERROR_CLUSTER_NOT_READY, got {other:?}"),
    }
}
