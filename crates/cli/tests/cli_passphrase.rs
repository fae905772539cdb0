//! Passphrase handling: weak, mismatched or missing passphrases leave no file behind; terminal
//! prompts ask twice.

mod support;

use support::*;

fn must_setup_peers() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-peers", "-n", "3"], None);
    dir
}

#[test]
fn short_passphrase_is_refused_and_nothing_is_written() {
    let dir = must_setup_peers();
    let run = must_fail(
        dir.path(),
        &["generate-identity", "--node", "node0", "--encrypt"],
        Some("short-1!\n"),
    );
    assert!(run.stderr.contains("too short"), "{}", run.stderr);
    assert!(!dir.path().join("identity/node0_private.key.age").exists());
    assert!(!dir.path().join("identity/node0_identity.json").exists());
}

#[test]
fn passphrase_without_a_symbol_is_refused_and_nothing_is_written() {
    let dir = must_setup_peers();
    let run = must_fail(
        dir.path(),
        &["generate-initiator", "--encrypt"],
        Some("abcdefghijklmnop\n"),
    );
    assert!(
        run.stderr.contains("not a letter or digit"),
        "{}",
        run.stderr
    );
    assert_eq!(must_list(dir.path()), ["peers.json"]);
}

#[test]
fn empty_stdin_is_refused_with_a_hint() {
    let dir = must_setup_peers();
    let run = must_fail(
        dir.path(),
        &["generate-authorizer", "--name", "alice", "--encrypt"],
        None,
    );
    assert!(run.stderr.contains("--password-file"), "{}", run.stderr);
    assert_eq!(must_list(dir.path()), ["peers.json"]);
}

#[test]
fn password_file_is_read_with_its_trailing_newline_removed() {
    let dir = must_setup_peers();
    std::fs::write(dir.path().join("pw"), format!("{PASSPHRASE}\n")).unwrap();
    must_succeed(
        dir.path(),
        &[
            "generate-identity",
            "--node",
            "node1",
            "--encrypt",
            "--password-file",
            "pw",
        ],
        None,
    );
    let pass = mpcium_state::identity::SecretText::new(PASSPHRASE.to_owned());
    let key = mpcium_state::identity::load_node_signing_key(
        &dir.path().join("identity"),
        "node1",
        Some(&pass),
    );
    assert!(key.is_ok(), "{key:?}");
}

#[test]
fn wrong_passphrase_fails_to_load_the_key_with_a_clear_error() {
    let dir = must_setup_peers();
    must_succeed(
        dir.path(),
        &["generate-identity", "--node", "node0", "--encrypt"],
        Some(PASSPHRASE),
    );
    let wrong = mpcium_state::identity::SecretText::new("not-the-right-one!".to_owned());
    let err = mpcium_state::identity::load_node_signing_key(
        &dir.path().join("identity"),
        "node0",
        Some(&wrong),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("node0_private.key.age") && err.contains("wrong passphrase"),
        "{err}"
    );
    assert!(!err.contains("not-the-right-one"));
}

#[test]
fn terminal_prompt_with_mismatched_confirmation_writes_nothing() {
    let dir = must_setup_peers();
    let bin = env!("CARGO_BIN_EXE_mpcium-cli");
    let run = must_run_on_pty(
        dir.path(),
        bin,
        &["generate-identity", "--node", "node2", "--encrypt"],
        &["first-passphrase-1!", "other-passphrase-2!"],
    );
    assert!(!run.ok);
    assert!(run.stdout.contains("do not match"), "{}", run.stdout);
    assert!(!dir.path().join("identity/node2_private.key.age").exists());
    assert!(!dir.path().join("identity/node2_identity.json").exists());
}

#[test]
fn terminal_prompt_with_matching_entries_encrypts_the_key() {
    let dir = must_setup_peers();
    let bin = env!("CARGO_BIN_EXE_mpcium-cli");
    let run = must_run_on_pty(
        dir.path(),
        bin,
        &["generate-identity", "--node", "node2", "--encrypt"],
        &[PASSPHRASE, PASSPHRASE],
    );
    assert!(run.ok, "{}", run.stdout);
    must_be_private_file(&dir.path().join("identity/node2_private.key.age"));
    let pass = mpcium_state::identity::SecretText::new(PASSPHRASE.to_owned());
    let key = mpcium_state::identity::load_node_signing_key(
        &dir.path().join("identity"),
        "node2",
        Some(&pass),
    );
    assert!(key.is_ok(), "{key:?}");
}
