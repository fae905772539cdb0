//! Serving under disruption and at the node's bounds: a request stream deleted under a running
//! cluster comes back and its requests are answered again; a request beyond a configured limit
//! gets a prompt error result naming the limit.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use mpcium_client::{ClientError, SignRequest};
use mpcium_e2e::{must_verify_eddsa, Cluster, ClusterOptions};
use mpcium_protocol::{subjects, ErrorCode};

/// Longest a signature may take once the consumers are back.
const SIGN_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_and_recreated_request_stream_gets_its_consumer_back() {
    let cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("bounds").await;
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let eddsa = keys.eddsa_pub_key.expect("eddsa key");

    let nats = async_nats::connect(cluster.nats.url()).await.expect("nats");
    let js = jetstream::new(nats);
    js.delete_stream(subjects::SIGNING_STREAM)
        .await
        .expect("delete stream");
    let recreated = js
        .get_or_create_stream(stream::Config {
            name: subjects::SIGNING_STREAM.to_owned(),
            subjects: vec![subjects::SIGNING_REQUEST_SUBJECTS.to_owned()],
            ..Default::default()
        })
        .await
        .expect("re-create stream");

    // The nodes re-create their shared durable consumer on the new stream.
    tokio::time::timeout(SIGN_DEADLINE, async {
        while recreated
            .consumer_info(subjects::SIGNING_CONSUMER)
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the signing consumer came back");

    for i in 0..3 {
        let message = format!("after the stream came back {i}").into_bytes();
        let signed = tokio::time::timeout(
            SIGN_DEADLINE,
            client.sign(SignRequest::eddsa(&wallet, message.clone())),
        )
        .await
        .expect("answered in time")
        .expect("eddsa sign");
        must_verify_eddsa(&signed, &message, &eddsa);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_beyond_the_session_limit_fails_promptly_with_its_code() {
    // One session per node: a coordinator needs two (its outcome inbox and its own part).
    let cluster = Cluster::must_start(ClusterOptions {
        extra_config: "max_concurrent_sessions: 1\n".into(),
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.must_client("bounds-limit").await;
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(SIGN_DEADLINE, client.create_wallet(&wallet))
        .await
        .expect("answered, not hung");
    match answer {
        Err(ClientError::Failed { code, reason }) => {
            assert_eq!(code, ErrorCode::ConcurrencyLimit, "{reason}");
            assert!(reason.contains("concurrent sessions"), "{reason}");
        }
        other => panic!("expected ERROR_CONCURRENCY_LIMIT, got {other:?}"),
    }
    // Well inside the keygen deadline (60 s): refused, not timed out.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
