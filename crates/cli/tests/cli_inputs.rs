//! Bad and reference-form inputs: peers.json shapes, names, register-peers, algorithms.

mod support;

use support::*;

fn must_dir_with_peers(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("peers.json"), text).unwrap();
    dir
}

#[test]
fn truncated_peers_json_is_named_with_its_position() {
    let dir = must_dir_with_peers("[\n  {\"id\": \"a\", \"name\": \"node0\"},\n");
    let run = must_fail(dir.path(), &["generate-identity", "--node", "node0"], None);
    assert!(
        run.stderr.contains("peers.json: not valid JSON"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("line"), "{}", run.stderr);
    assert!(!dir.path().join("identity").exists());
}

#[test]
fn wrong_typed_peers_json_names_the_entry() {
    let dir = must_dir_with_peers(r#"[{"id": "a", "name": 0}]"#);
    let run = must_fail(dir.path(), &["generate-identity", "--node", "node0"], None);
    assert!(
        run.stderr
            .contains("entry 0: \"name\" must be a string, found a number"),
        "{}",
        run.stderr
    );
}

#[test]
fn oversized_fields_and_files_are_refused() {
    let long_id = "x".repeat(10_000);
    let dir = must_dir_with_peers(&format!(r#"[{{"id": "{long_id}", "name": "node0"}}]"#));
    let run = must_fail(dir.path(), &["generate-identity", "--node", "node0"], None);
    assert!(run.stderr.contains("at most 128"), "{}", run.stderr);

    let huge = format!("[{}]", " ".repeat(2 * 1024 * 1024));
    let dir = must_dir_with_peers(&huge);
    let run = must_fail(dir.path(), &["generate-identity", "--node", "node0"], None);
    assert!(run.stderr.contains("larger than"), "{}", run.stderr);
}

#[test]
fn duplicate_peer_names_are_refused() {
    let dir = must_dir_with_peers(r#"[{"id":"a","name":"node0"},{"id":"b","name":"node0"}]"#);
    let run = must_fail(dir.path(), &["generate-identity", "--node", "node0"], None);
    assert!(run.stderr.contains("listed twice"), "{}", run.stderr);
}

#[test]
fn reference_map_form_peers_json_is_accepted() {
    let dir = must_dir_with_peers(
        r#"{"node0": "2d1c7a26-8a9a-4ae2-9a3f-3b6c1d0e5f11", "node1": "9b0f1e2d-3c4b-4a59-8e7d-6c5b4a392817"}"#,
    );
    must_succeed(dir.path(), &["generate-identity", "--node", "node1"], None);
    let identity = must_json(&dir.path().join("identity/node1_identity.json"));
    assert_eq!(identity["node_id"], "9b0f1e2d-3c4b-4a59-8e7d-6c5b4a392817");
    let keys: Vec<&str> = identity
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
}

#[test]
fn register_peers_reports_an_unreachable_registry_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-peers", "-n", "3"], None);
    // Port 9 (discard) on loopback: nothing listens there.
    std::fs::write(
        dir.path().join("register-config.yaml"),
        "consul:\n  address: 127.0.0.1:9\n",
    )
    .unwrap();
    let run = must_fail(
        dir.path(),
        &[
            "register-peers",
            "--peers",
            "./peers.json",
            "--config",
            "./register-config.yaml",
            "--environment",
            "production",
        ],
        None,
    );
    assert!(run.stderr.contains("not reachable"), "{}", run.stderr);
    assert!(run.stderr.contains("127.0.0.1:9"), "{}", run.stderr);

    let run = must_fail(
        dir.path(),
        &[
            "register-peers",
            "--peers",
            "./peers.json",
            "--config",
            "./missing.yaml",
        ],
        None,
    );
    assert!(run.stderr.contains("missing.yaml"), "{}", run.stderr);
}

#[test]
fn register_peers_never_shows_registry_credentials() {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-peers", "-n", "3"], None);
    for config in [
        "registry: nats\nnats:\n  url: nats://user:secret-pw@127.0.0.1:9\n",
        "registry: nats\nnats:\n  url: nats://secret-token@127.0.0.1:9\n",
        "consul:\n  address: \"http://user:secret-pw@127.0.0.1:bad\"\n",
    ] {
        std::fs::write(dir.path().join("register-config.yaml"), config).unwrap();
        let run = must_fail(
            dir.path(),
            &[
                "register-peers",
                "--peers",
                "./peers.json",
                "--config",
                "./register-config.yaml",
                "--environment",
                "production",
            ],
            None,
        );
        assert!(!run.stderr.contains("secret"), "{}", run.stderr);
        assert!(!run.stdout.contains("secret"), "{}", run.stdout);
        assert!(
            run.stderr.contains("<redacted>@127.0.0.1"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn register_peers_takes_the_environment_from_the_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-peers", "-n", "2"], None);
    std::fs::write(
        dir.path().join("r.yaml"),
        "consul:\n  address: localhost:8500\n",
    )
    .unwrap();
    let out = cli()
        .args(["register-peers", "--config", "r.yaml"])
        .env("ENVIRONMENT", "staging")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown environment \"staging\""),
        "{stderr}"
    );
}

#[test]
fn p256_initiator_writes_der_keys_the_protocol_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let run = must_succeed(
        dir.path(),
        &[
            "generate-initiator",
            "--algorithm",
            "p256",
            "--node-name",
            "event_initiator",
        ],
        None,
    );
    let identity = must_json(&dir.path().join("event_initiator_identity.json"));
    let public_key = identity["public_key"].as_str().unwrap();
    assert!(run.stdout.contains(public_key));
    let parsed =
        mpcium_protocol::PublicKey::parse(mpcium_protocol::InitiatorAlgorithm::P256, public_key);
    assert!(parsed.is_ok(), "{parsed:?}");
    let private = std::fs::read_to_string(dir.path().join("event_initiator_private.key")).unwrap();
    assert!(
        !run.stdout.contains(&private),
        "the private key must never be printed"
    );
    assert!(private.starts_with("30"), "SEC1 DER is a SEQUENCE");
}

#[test]
fn authorizer_files_use_the_reference_names() {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(
        dir.path(),
        &["generate-authorizer", "--name", "alice", "--encrypt"],
        Some(PASSPHRASE),
    );
    assert_eq!(
        must_list(dir.path()),
        ["alice.authorizer.identity.json", "alice.authorizer.key.age"]
    );
    let identity = must_json(&dir.path().join("alice.authorizer.identity.json"));
    assert_eq!(identity["name"], "alice");
    assert_eq!(identity["algorithm"], "ed25519");
    let run = must_fail(
        dir.path(),
        &["generate-authorizer", "--name", "bad name"],
        None,
    );
    assert!(run.stderr.contains("letters, digits"), "{}", run.stderr);
}
