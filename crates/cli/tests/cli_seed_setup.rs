//! The seed guide's "Pre-Deployment Setup" (Steps 1–4), run verbatim against the built binary.

mod support;

use std::path::Path;

use support::*;

/// Steps 2–4 exactly as the seed guide writes them, passphrases piped on stdin.
fn must_run_seed_steps(dir: &Path) -> (Run, Run) {
    must_succeed(dir, &["generate-peers", "-n", "3"], None);
    let initiator = must_succeed(dir, &["generate-initiator", "--encrypt"], Some(PASSPHRASE));
    for node in ["node0", "node1", "node2"] {
        let out = format!("./identity/{node}");
        must_succeed(
            dir,
            &[
                "generate-identity",
                "--node",
                node,
                "--peers",
                "./peers.json",
                "--output-dir",
                &out,
                "--encrypt",
            ],
            Some(&format!("{PASSPHRASE}\n")),
        );
    }
    let version = must_succeed(dir, &["--version"], None);
    (initiator, version)
}

#[test]
fn seed_pre_deployment_steps_produce_the_files_the_guide_lists() {
    let dir = tempfile::tempdir().unwrap();
    let (initiator, version) = must_run_seed_steps(dir.path());
    assert!(
        version.stdout.starts_with("mpcium-cli "),
        "{}",
        version.stdout
    );

    // Step 2: peers.json in the seed's array form.
    let peers = must_json(&dir.path().join("peers.json"));
    let names: Vec<&str> = peers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["node0", "node1", "node2"]);
    must_be_private_file(&dir.path().join("peers.json"));

    // Step 3: initiator files; the public key is printed, the private key is not.
    must_be_private_file(&dir.path().join("initiator_identity.json"));
    must_be_private_file(&dir.path().join("initiator_private.key.age"));
    let identity = must_json(&dir.path().join("initiator_identity.json"));
    let public_key = identity["public_key"].as_str().unwrap();
    assert_eq!(public_key.len(), 64);
    assert_eq!(identity["algorithm"], "ed25519");
    assert_eq!(identity["node_name"], "initiator");
    for field in ["created_at", "created_by", "machine_os", "machine_name"] {
        assert!(identity[field].is_string(), "{field} missing");
    }
    assert!(initiator
        .stdout
        .contains(&format!("event_initiator_pubkey: \"{public_key}\"")));
    let ciphertext = std::fs::read(dir.path().join("initiator_private.key.age")).unwrap();
    assert!(ciphertext.starts_with(b"age-encryption.org/v1\n"));

    // Step 4: every node directory holds its own key and every node's public identity.
    for node in ["node0", "node1", "node2"] {
        let node_dir = dir.path().join("identity").join(node);
        let mut expected = vec![
            "node0_identity.json".to_owned(),
            "node1_identity.json".to_owned(),
            "node2_identity.json".to_owned(),
            format!("{node}_private.key.age"),
        ];
        expected.sort();
        assert_eq!(must_list(&node_dir), expected, "{node}");
        for name in must_list(&node_dir) {
            must_be_private_file(&node_dir.join(name));
        }
    }
}

#[test]
fn shared_identity_files_are_identical_copies_matching_peers_json() {
    let dir = tempfile::tempdir().unwrap();
    must_run_seed_steps(dir.path());
    let peers = must_json(&dir.path().join("peers.json"));
    for peer in peers.as_array().unwrap() {
        let name = peer["name"].as_str().unwrap();
        let original = std::fs::read(
            dir.path()
                .join(format!("identity/{name}/{name}_identity.json")),
        )
        .unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&original).unwrap();
        assert_eq!(parsed["node_id"], peer["id"]);
        assert_eq!(parsed["node_name"], name);
        for holder in ["node0", "node1", "node2"] {
            let copy = std::fs::read(
                dir.path()
                    .join(format!("identity/{holder}/{name}_identity.json")),
            )
            .unwrap();
            assert_eq!(copy, original, "{holder}'s copy of {name}");
        }
    }
}

#[test]
fn node_directories_load_with_the_node_library() {
    let dir = tempfile::tempdir().unwrap();
    must_run_seed_steps(dir.path());
    let peers = mpcium_state::identity::Peers::load(&dir.path().join("peers.json")).unwrap();
    let pass = mpcium_state::identity::SecretText::new(PASSPHRASE.to_owned());
    for node in ["node0", "node1", "node2"] {
        let node_dir = dir.path().join("identity").join(node);
        let identities = mpcium_state::identity::load_peer_identities(&node_dir, &peers).unwrap();
        let key =
            mpcium_state::identity::load_node_signing_key(&node_dir, node, Some(&pass)).unwrap();
        let mine = identities.iter().find(|i| i.node_name == node).unwrap();
        assert_eq!(mine.public_key, key.public_key_hex());
    }
}

#[test]
fn flat_reference_layout_keeps_all_identities_in_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-peers", "-n", "3"], None);
    for node in ["node0", "node1", "node2"] {
        must_succeed(dir.path(), &["generate-identity", "--node", node], None);
    }
    let names = must_list(&dir.path().join("identity"));
    assert_eq!(names.len(), 6, "{names:?}");
    let key = std::fs::read_to_string(dir.path().join("identity/node1_private.key")).unwrap();
    assert_eq!(key.len(), 128, "seed and public key, hex");
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in [
        "generate-peers",
        "register-peers",
        "generate-identity",
        "generate-initiator",
        "generate-authorizer",
        "version",
    ] {
        let run = must_succeed(dir.path(), &[cmd, "--help"], None);
        assert!(run.stdout.contains("Usage:"), "{cmd}: {}", run.stdout);
    }
    let run = must_succeed(dir.path(), &["version"], None);
    assert_eq!(
        run.stdout.trim(),
        format!("mpcium-cli version {}", env!("CARGO_PKG_VERSION"))
    );
}
