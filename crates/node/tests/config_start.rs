//! `mpcium start` loads and cross-checks config, peers and identity, naming what is wrong;
//! `mpcium version` prints the version. Fixtures are laid out as the seed deploys a node.

use std::path::Path;
use std::process::{Command, Output};

use mpcium_state::identity::{age_file, NodeIdentity, NodeSigningKey, Peers};

const PASSPHRASE: &str = "node-identity-passphrase!";

/// A node working directory: peers.json, identity/ with every public file and each node's
/// encrypted key, config.yaml, and the two secret files.
fn must_make_node_dir(config_extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let peers = Peers::generate(3).unwrap();
    peers.write_new(&root.join("peers.json")).unwrap();
    std::fs::create_dir(root.join("identity")).unwrap();
    for peer in peers.iter() {
        let key = NodeSigningKey::generate();
        let identity = NodeIdentity::new(&peer.name, &peer.id, &key);
        std::fs::write(
            root.join(format!("identity/{}_identity.json", peer.name)),
            identity.to_json().unwrap(),
        )
        .unwrap();
        let pass = mpcium_state::identity::SecretText::new(PASSPHRASE.to_owned());
        let ct = age_file::encrypt(key.to_key_text().as_bytes(), &pass, Some(4)).unwrap();
        std::fs::write(
            root.join(format!("identity/{}_private.key.age", peer.name)),
            ct,
        )
        .unwrap();
    }
    let initiator = mpcium_state::identity::InitiatorSigningKey::generate(
        mpcium_state::identity::InitiatorAlgorithm::Ed25519,
    );
    std::fs::write(
        root.join("config.yaml"),
        format!(
            "environment: production\ndb_path: ./data/db\nbackup_dir: ./data/backups\n\
             consul:\n  address: consul:8500\nnats:\n  url: nats://nats:4222\nmpc_threshold: 2\n\
             event_initiator_pubkey: \"{}\"\nevent_initiator_algorithm: \"ed25519\"\n\
             backup_enabled: false\nbackup_period_seconds: 300\nchain_code: \"{}\"\n{config_extra}",
            initiator.public_key_hex().unwrap(),
            "0f".repeat(32)
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("db-password.cred"),
        "badger-password-0123456789ab",
    )
    .unwrap();
    std::fs::write(
        root.join("identity-password.cred"),
        format!("{PASSPHRASE}\n"),
    )
    .unwrap();
    dir
}

fn must_run_mpcium(dir: &Path, args: &[&str]) -> (bool, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_mpcium"))
        .args(args)
        .current_dir(dir)
        .env_remove("ENVIRONMENT")
        .env_remove("MPC_THRESHOLD")
        .env_remove("BADGER_PASSWORD")
        // Nothing listens on the discard port: a node that passes every check stops there.
        .env("NATS_URL", "nats://127.0.0.1:9")
        .output()
        .unwrap();
    // Production logs are JSON on stdout; start-up errors go to stderr.
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

const SEED_START: &[&str] = &[
    "start",
    "--name=node0",
    "--config=config.yaml",
    "--password-file=db-password.cred",
    "--identity-password-file=identity-password.cred",
    "--decrypt-private-key",
];

#[test]
fn version_prints_the_crate_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_mpcium"))
        .arg("version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("mpcium version {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn seed_start_flags_pass_every_check_and_reach_nats() {
    let dir = must_make_node_dir("");
    let (ok, stderr) = must_run_mpcium(dir.path(), SEED_START);
    assert!(!ok);
    assert!(stderr.contains("MPCIUM v"), "{stderr}");
    assert!(stderr.contains("Connected to badger kv store"), "{stderr}");
    assert!(
        stderr.contains("Failed to connect to NATS at nats://127.0.0.1:9"),
        "{stderr}"
    );
}

#[test]
fn wrong_identity_passphrase_is_reported_clearly() {
    let dir = must_make_node_dir("");
    std::fs::write(
        dir.path().join("identity-password.cred"),
        "another-passphrase!!",
    )
    .unwrap();
    let (ok, stderr) = must_run_mpcium(dir.path(), SEED_START);
    assert!(!ok);
    assert!(
        stderr.contains("node0_private.key.age: wrong passphrase"),
        "{stderr}"
    );
    // The deployment guide's troubleshooting greps for these.
    assert!(
        stderr.contains("ERROR: Failed to decrypt private key"),
        "{stderr}"
    );
    assert!(!stderr.contains("another-passphrase"));
}

#[test]
fn a_wrong_database_password_is_refused_at_start_up_without_touching_the_store() {
    let dir = must_make_node_dir("");
    let (_, first) = must_run_mpcium(dir.path(), SEED_START);
    assert!(first.contains("Connected to badger kv store"), "{first}");
    std::fs::write(dir.path().join("db-password.cred"), "a different password").unwrap();
    let (ok, stderr) = must_run_mpcium(dir.path(), SEED_START);
    assert!(!ok);
    assert!(stderr.contains("ERROR"), "{stderr}");
    assert!(stderr.contains("password does not match"), "{stderr}");
    assert!(!stderr.contains("Connected to badger kv store"), "{stderr}");
    assert!(!stderr.contains("a different password"), "{stderr}");
}

#[test]
fn threshold_too_small_for_the_committee_names_the_key_and_the_range() {
    let dir = must_make_node_dir("");
    let config = std::fs::read_to_string(dir.path().join("config.yaml")).unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        config.replace("mpc_threshold: 2", "mpc_threshold: 1"),
    )
    .unwrap();
    let (_, stderr) = must_run_mpcium(dir.path(), SEED_START);
    assert!(
        stderr.contains("mpc_threshold: threshold 1 is below a majority"),
        "{stderr}"
    );
    assert!(stderr.contains("between 2 and 3"), "{stderr}");
}

#[test]
fn unknown_name_lists_the_peers() {
    let dir = must_make_node_dir("");
    let mut args = SEED_START.to_vec();
    args[1] = "--name=node9";
    let (_, stderr) = must_run_mpcium(dir.path(), &args);
    assert!(
        stderr.contains("\"node9\" is not in peers.json (it lists node0, node1, node2)"),
        "{stderr}"
    );
}

#[test]
fn unknown_config_keys_are_warned_about_but_not_fatal() {
    let dir = must_make_node_dir("colour: blue\n");
    let (_, stderr) = must_run_mpcium(dir.path(), SEED_START);
    assert!(
        stderr.contains("unknown config key ignored") && stderr.contains("colour"),
        "{stderr}"
    );
    assert!(stderr.contains("Failed to connect to NATS"), "{stderr}");
}

#[test]
fn missing_badger_password_says_how_to_provide_it() {
    let dir = must_make_node_dir("");
    let args: Vec<&str> = SEED_START
        .iter()
        .copied()
        .filter(|a| !a.starts_with("--password-file"))
        .collect();
    let (_, stderr) = must_run_mpcium(dir.path(), &args);
    assert!(
        stderr.contains("badger_password: is missing; pass --password-file"),
        "{stderr}"
    );
}

#[test]
fn plain_key_from_the_reference_layout_loads_without_decryption() {
    let dir = must_make_node_dir("");
    let key = NodeSigningKey::generate();
    let peers = Peers::load(&dir.path().join("peers.json")).unwrap();
    let me = peers.by_name("node1").unwrap();
    std::fs::write(
        dir.path().join("identity/node1_private.key"),
        key.to_key_text().as_bytes(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("identity/node1_identity.json"),
        NodeIdentity::new("node1", &me.id, &key).to_json().unwrap(),
    )
    .unwrap();
    let (_, stderr) = must_run_mpcium(
        dir.path(),
        &[
            "start",
            "-n",
            "node1",
            "-c",
            "config.yaml",
            "-f",
            "db-password.cred",
        ],
    );
    assert!(stderr.contains("Connected to badger kv store"), "{stderr}");
}

#[test]
fn private_key_from_another_run_is_detected() {
    let dir = must_make_node_dir("");
    let peers = Peers::load(&dir.path().join("peers.json")).unwrap();
    let me = peers.by_name("node0").unwrap();
    let stranger = NodeSigningKey::generate();
    std::fs::write(
        dir.path().join("identity/node0_identity.json"),
        NodeIdentity::new("node0", &me.id, &stranger)
            .to_json()
            .unwrap(),
    )
    .unwrap();
    let (_, stderr) = must_run_mpcium(dir.path(), SEED_START);
    assert!(
        stderr.contains("the private key does not match the public key"),
        "{stderr}"
    );
}
