//! `.age` key files interoperate with the Go `age` tool (Debian package), both ways. Go age reads
//! passphrases only from a terminal, so it is driven through a pseudo-terminal.

mod support;

use support::*;

fn must_age_or_skip() -> Option<std::path::PathBuf> {
    let age = age_binary();
    if age.is_none() {
        eprintln!("SKIPPED: the `age` binary is not installed (apt-get install age)");
    }
    age
}

#[test]
fn key_encrypted_by_the_cli_decrypts_with_go_age() {
    let Some(age) = must_age_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    must_succeed(dir.path(), &["generate-peers", "-n", "2"], None);
    must_succeed(
        dir.path(),
        &["generate-identity", "--node", "node0", "--encrypt"],
        Some(PASSPHRASE),
    );
    let run = must_run_on_pty(
        dir.path(),
        age.to_str().unwrap(),
        &["-d", "-o", "plain.key", "identity/node0_private.key.age"],
        &[PASSPHRASE],
    );
    assert!(run.ok, "age -d failed: {}", run.stdout);
    let plain = std::fs::read_to_string(dir.path().join("plain.key")).unwrap();
    let key = mpcium_state::identity::NodeSigningKey::from_key_text(plain.as_bytes()).unwrap();
    let identity = must_json(&dir.path().join("identity/node0_identity.json"));
    assert_eq!(identity["public_key"], key.public_key_hex());
}

#[test]
fn key_encrypted_by_go_age_loads_in_the_node_library() {
    let Some(age) = must_age_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = mpcium_state::identity::NodeSigningKey::generate();
    std::fs::write(
        dir.path().join("node0_private.key"),
        key.to_key_text().as_bytes(),
    )
    .unwrap();
    let run = must_run_on_pty(
        dir.path(),
        age.to_str().unwrap(),
        &["-p", "-o", "node0_private.key.age", "node0_private.key"],
        &[PASSPHRASE, PASSPHRASE],
    );
    assert!(run.ok, "age -p failed: {}", run.stdout);
    std::fs::remove_file(dir.path().join("node0_private.key")).unwrap();
    let pass = mpcium_state::identity::SecretText::new(PASSPHRASE.to_owned());
    let loaded =
        mpcium_state::identity::load_node_signing_key(dir.path(), "node0", Some(&pass)).unwrap();
    assert_eq!(loaded.public_key_hex(), key.public_key_hex());
}
