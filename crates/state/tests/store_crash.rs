//! Crash safety: a writer process is SIGKILLed in the middle of a stream of durable commits;
//! the reopened store holds every acknowledged commit, and each share arrived with its keyinfo.
//!
//! The writer is this test binary re-invoked with `MPCIUM_STORE_CRASH_WRITER=<db path>`, running
//! only `crash_writer_child` (which does nothing in a normal run).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mpcium_state::store::{Batch, KdfParams, KeyType, SecretPassword, Store, StoreOptions};

const CHILD_ENV: &str = "MPCIUM_STORE_CRASH_WRITER";
/// Commits acknowledged by the writer before the parent kills it.
const KILL_AFTER: u64 = 200;
const DEADLINE: Duration = Duration::from_secs(60);

fn must_open(path: &Path) -> Store {
    let options = StoreOptions {
        kdf: KdfParams::insecure_for_tests(),
    };
    match Store::open_with(path, &SecretPassword::new("pw".to_owned()), options) {
        Ok(store) => store,
        Err(e) => panic!("open: {e}"),
    }
}

/// The writer: commits share v_i with keyinfo "v_i" in one batch, forever, printing `i` after
/// each commit returns.
#[test]
fn crash_writer_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = must_open(Path::new(&path));
    for version in 1u64.. {
        let mut batch = Batch::new();
        batch
            .put_share(KeyType::Ecdsa, "w", version, &[version as u8; 512])
            .put_keyinfo(KeyType::Ecdsa, "w", version.to_string().as_bytes());
        store.commit(batch).unwrap();
        store
            .push_presignature("p", &version.to_be_bytes())
            .unwrap();
        println!("ack {version}");
    }
}

#[test]
fn a_writer_killed_mid_stream_leaves_every_acknowledged_commit_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_writer_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let start = Instant::now();
    let mut acked = 0u64;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("ack ") {
            acked = n.trim().parse().unwrap();
        }
        if acked >= KILL_AFTER || start.elapsed() > DEADLINE {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL on unix
    child.wait().unwrap();
    assert!(
        acked >= KILL_AFTER,
        "writer acknowledged only {acked} commits"
    );

    let store = must_open(&path);
    let latest = store
        .latest_share_version(KeyType::Ecdsa, "w")
        .unwrap()
        .unwrap();
    assert!(latest >= acked, "latest {latest} < acknowledged {acked}");
    // Share and keyinfo were committed together, so they agree.
    let keyinfo = store.keyinfo(KeyType::Ecdsa, "w").unwrap().unwrap();
    assert_eq!(String::from_utf8(keyinfo).unwrap(), latest.to_string());
    for version in 1..=latest {
        let share = store.share(KeyType::Ecdsa, "w", version).unwrap().unwrap();
        assert_eq!(share.expose(), &[version as u8; 512][..]);
    }
    // Every presignature pushed is there once, in order.
    let mut expected = 1u64;
    while let Some(p) = store.take_presignature("p").unwrap() {
        assert_eq!(p.expose(), expected.to_be_bytes());
        expected += 1;
    }
    assert!(expected > acked);
}
