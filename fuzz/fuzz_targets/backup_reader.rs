//! The backup reader (`mpcium-cli backup verify` / `recover`) on an arbitrary file: no input
//! panics, aborts or allocates without bound (the header's Argon2id cost is capped), and none
//! verifies.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mpcium_state::backup;
use mpcium_state::store::SecretPassword;

fn file() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("case.backup");
        (dir, path)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    std::fs::write(file(), data).expect("write case");
    let password = SecretPassword::new("fuzz password".to_owned());
    assert!(backup::verify(file(), &password).is_err());
});
