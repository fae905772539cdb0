//! `mpcium-cli register-peers` against real registries: the seed guide's Step 5 verbatim against
//! a Consul KV API server (the documented fake, since no Consul binary can run here), and the
//! NATS KV backend against a real nats-server.

mod support;

use mpcium_testkit::{FakeConsul, NatsServer};
use support::{must_fail, must_succeed};

fn peers(dir: &std::path::Path) -> Vec<(String, String)> {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("peers.json")).unwrap()).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_step_5_registers_every_peer_in_consul_and_is_idempotent() {
    let consul = FakeConsul::must_start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let address = consul.address();
    tokio::task::spawn_blocking(move || {
        must_succeed(&path, &["generate-peers", "-n", "3"], None);
        std::fs::write(
            path.join("register-config.yaml"),
            format!("consul:\n  address: {address}\n"),
        )
        .unwrap();
        let args = [
            "register-peers",
            "--peers",
            "./peers.json",
            "--config",
            "./register-config.yaml",
            "--environment",
            "production",
        ];
        let first = must_succeed(&path, &args, None);
        assert!(
            first.stdout.contains("registered node0"),
            "{}",
            first.stdout
        );
        let again = must_succeed(&path, &args, None);
        assert!(
            again.stdout.contains("already registered"),
            "{}",
            again.stdout
        );
    })
    .await
    .unwrap();
    for (name, id) in peers(dir.path()) {
        assert_eq!(
            consul.raw_value(&format!("mpc_peers/{name}")),
            Some(id.into_bytes())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_registered_with_another_id_is_a_conflict_not_an_overwrite() {
    let consul = FakeConsul::must_start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let address = consul.address();
    tokio::task::spawn_blocking(move || {
        must_succeed(&path, &["generate-peers", "-n", "2"], None);
        std::fs::write(
            path.join("r.yaml"),
            format!("consul:\n  address: {address}\n"),
        )
        .unwrap();
        must_succeed(&path, &["register-peers", "--config", "r.yaml"], None);
        std::fs::remove_file(path.join("peers.json")).unwrap();
        must_succeed(&path, &["generate-peers", "-n", "2"], None);
        let run = must_fail(&path, &["register-peers", "--config", "r.yaml"], None);
        assert!(run.stderr.contains("node0"), "{}", run.stderr);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_peers_writes_to_the_nats_registry_when_configured() {
    let nats = NatsServer::must_start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let url = nats.url().to_owned();
    tokio::task::spawn_blocking(move || {
        must_succeed(&path, &["generate-peers", "-n", "3"], None);
        std::fs::write(
            path.join("r.yaml"),
            format!("registry: nats\nnats:\n  url: {url}\n"),
        )
        .unwrap();
        let run = must_succeed(&path, &["register-peers", "--config", "r.yaml"], None);
        assert!(run.stdout.contains("3 peers registered"), "{}", run.stdout);
        let again = must_succeed(&path, &["register-peers", "--config", "r.yaml"], None);
        assert!(
            again.stdout.contains("already registered"),
            "{}",
            again.stdout
        );
    })
    .await
    .unwrap();
}
