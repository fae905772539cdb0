//! NATS-only behaviour: bucket layout and key encoding as other JetStream clients see them,
//! expiry announced to watchers, idempotent bucket creation.

use std::time::Duration;

use async_nats::jetstream::{self, kv::Operation};
use futures::StreamExt;
use mpcium_state::registry::{NatsKvRegistry, NatsKvSettings, Registry, RegistryError};
use mpcium_testkit::NatsServer;

async fn must_open(server: &NatsServer) -> (async_nats::Client, NatsKvRegistry) {
    let client = async_nats::connect(server.url()).await.unwrap();
    let registry = NatsKvRegistry::open(client.clone(), &NatsKvSettings::default())
        .await
        .unwrap();
    (client, registry)
}

#[tokio::test]
async fn keys_are_stored_per_bucket_with_dot_tokens_so_wildcard_watches_work() {
    let server = NatsServer::must_start();
    let (client, registry) = must_open(&server).await;
    registry
        .put("threshold_keyinfo/ecdsa:w.1", b"{}")
        .await
        .unwrap();
    registry.put("mpc_peers/node0", b"id-0").await.unwrap();

    let js = jetstream::new(client);
    let keyinfo = js.get_key_value("threshold_keyinfo").await.unwrap();
    assert_eq!(
        keyinfo.get("ecdsa=3Aw=2E1").await.unwrap().as_deref(),
        Some(&b"{}"[..])
    );
    let peers = js.get_key_value("mpc_peers").await.unwrap();
    let mut watch = peers.watch("node0.>").await.unwrap();
    registry.put("mpc_peers/node0/extra", b"x").await.unwrap();
    let entry = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(entry.key, "node0.extra");
}

#[tokio::test]
async fn an_expired_readiness_key_is_announced_to_watchers() {
    let server = NatsServer::must_start();
    let (client, registry) = must_open(&server).await;
    let ready = jetstream::new(client)
        .get_key_value("mpc_ready")
        .await
        .unwrap();
    let mut watch = ready.watch_all().await.unwrap();
    registry
        .set_ready("id-0", Duration::from_secs(1))
        .await
        .unwrap();
    let purged = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(entry) = watch.next().await {
            let entry = entry.unwrap();
            if entry.key == "id-0" && entry.operation == Operation::Purge {
                return true;
            }
        }
        false
    })
    .await
    .unwrap();
    assert!(purged);
    assert!(registry.ready_nodes().await.unwrap().is_empty());
}

#[tokio::test]
async fn opening_the_buckets_again_keeps_their_contents() {
    let server = NatsServer::must_start();
    let (_, first) = must_open(&server).await;
    first.register_peer("node0", "id-0").await.unwrap();
    let (_, second) = must_open(&server).await;
    assert_eq!(
        second.peers().await.unwrap(),
        [("node0".to_owned(), "id-0".to_owned())]
    );
}

#[tokio::test]
async fn a_key_outside_the_registry_prefixes_is_refused_with_the_reason() {
    let server = NatsServer::must_start();
    let (_, registry) = must_open(&server).await;
    for key in ["other/key", "mpc_peers/", "mpc_peers/a//b"] {
        let err = registry.put(key, b"x").await.unwrap_err();
        assert!(
            matches!(err, RegistryError::InvalidKey { .. }),
            "{key}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_server_without_jetstream_gives_a_bucket_error_naming_the_requirement() {
    let server = match NatsServer::start_without_jetstream() {
        Ok(server) => server,
        Err(e) => panic!("{e}"),
    };
    let client = async_nats::ConnectOptions::new()
        .request_timeout(Some(Duration::from_secs(2)))
        .connect(server.url())
        .await
        .unwrap();
    let err = NatsKvRegistry::open(client, &NatsKvSettings::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::NatsBucket {
                bucket: "mpc_peers",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("nats-server >= 2.11 with jetstream"),
        "{err}"
    );
}

#[tokio::test]
async fn health_is_checked_against_the_server_not_a_cached_status() {
    let server = NatsServer::must_start();
    let (_client, registry) = must_open(&server).await;
    registry.healthy().await.unwrap();
    drop(server);
    let answer = tokio::time::timeout(Duration::from_secs(30), registry.healthy())
        .await
        .expect("health check answers within its request timeout");
    assert!(answer.is_err(), "a stopped server must not look healthy");
}

#[tokio::test]
async fn result_cache_entries_expire_after_the_configured_max_age() {
    let server = NatsServer::must_start();
    let client = async_nats::connect(server.url()).await.unwrap();
    let settings = NatsKvSettings {
        results_max_age: Duration::from_secs(1),
        ..NatsKvSettings::default()
    };
    let registry = NatsKvRegistry::open(client.clone(), &settings)
        .await
        .unwrap();
    let info = jetstream::new(client)
        .get_stream("KV_mpc_results")
        .await
        .unwrap()
        .cached_info()
        .config
        .max_age;
    assert_eq!(info, Duration::from_secs(1));
    registry.put("mpc_results/sign/t1", b"done").await.unwrap();
    registry.put("mpc_peers/node0", b"id-0").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while registry.get("mpc_results/sign/t1").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the result never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Other buckets keep their entries.
    assert!(registry.get("mpc_peers/node0").await.unwrap().is_some());
}
