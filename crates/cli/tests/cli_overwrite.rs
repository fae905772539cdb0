//! Existing files are never replaced without `--overwrite`, and nothing partial is left behind.

mod support;

use support::*;

#[test]
fn generate_peers_refuses_to_overwrite_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-peers", "-n", "3"], None);
    let before = std::fs::read(dir.path().join("peers.json")).unwrap();
    let run = must_fail(dir.path(), &["generate-peers", "-n", "5"], None);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(
        std::fs::read(dir.path().join("peers.json")).unwrap(),
        before
    );
}

#[test]
fn generate_identity_refuses_to_overwrite_without_the_flag_and_replaces_with_it() {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-peers", "-n", "3"], None);
    must_succeed(dir.path(), &["generate-identity", "--node", "node0"], None);
    let key_path = dir.path().join("identity/node0_private.key");
    let before = std::fs::read(&key_path).unwrap();
    let run = must_fail(dir.path(), &["generate-identity", "--node", "node0"], None);
    assert!(run.stderr.contains("--overwrite"), "{}", run.stderr);
    assert_eq!(std::fs::read(&key_path).unwrap(), before);
    must_succeed(
        dir.path(),
        &["generate-identity", "--node", "node0", "--overwrite"],
        None,
    );
    assert_ne!(std::fs::read(&key_path).unwrap(), before);
}

#[test]
fn regenerating_encrypted_with_overwrite_removes_the_stale_plain_key() {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-peers", "-n", "2"], None);
    must_succeed(dir.path(), &["generate-identity", "--node", "node0"], None);
    must_succeed(
        dir.path(),
        &[
            "generate-identity",
            "--node",
            "node0",
            "--encrypt",
            "--overwrite",
        ],
        Some(PASSPHRASE),
    );
    assert_eq!(
        must_list(&dir.path().join("identity")),
        ["node0_identity.json", "node0_private.key.age"]
    );
}

#[test]
fn sibling_with_a_differing_public_file_is_not_overwritten_silently() {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-peers", "-n", "2"], None);
    must_succeed(
        dir.path(),
        &[
            "generate-identity",
            "--node",
            "node0",
            "--output-dir",
            "identity/node0",
        ],
        None,
    );
    must_succeed(
        dir.path(),
        &[
            "generate-identity",
            "--node",
            "node1",
            "--output-dir",
            "identity/node1",
        ],
        None,
    );
    // node0 is regenerated in a fresh directory while node1 still holds the old public file.
    std::fs::remove_dir_all(dir.path().join("identity/node0")).unwrap();
    let run = must_fail(
        dir.path(),
        &[
            "generate-identity",
            "--node",
            "node0",
            "--output-dir",
            "identity/node0",
        ],
        None,
    );
    assert!(
        run.stderr.contains("differs") && run.stderr.contains("--overwrite"),
        "{}",
        run.stderr
    );
    must_succeed(
        dir.path(),
        &[
            "generate-identity",
            "--node",
            "node0",
            "--output-dir",
            "identity/node0",
            "--overwrite",
        ],
        None,
    );
    let fresh = std::fs::read(dir.path().join("identity/node0/node0_identity.json")).unwrap();
    let shared = std::fs::read(dir.path().join("identity/node1/node0_identity.json")).unwrap();
    assert_eq!(fresh, shared);
    assert!(
        !dir.path().join("identity/node1/node0_private.key").exists(),
        "private keys stay home"
    );
}

#[test]
fn generate_initiator_refuses_to_overwrite_either_file() {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-initiator"], None);
    let run = must_fail(
        dir.path(),
        &["generate-initiator", "--encrypt"],
        Some(PASSPHRASE),
    );
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert!(!dir.path().join("initiator_private.key.age").exists());
}

#[test]
fn unknown_node_is_refused_with_the_listed_names() {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-peers", "-n", "2"], None);
    let run = must_fail(dir.path(), &["generate-identity", "--node", "node7"], None);
    assert!(run.stderr.contains("node0, node1"), "{}", run.stderr);
    assert!(!dir.path().join("identity/node7_private.key").exists());
}
