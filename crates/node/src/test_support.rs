//! Unit-test support shared by the node's modules.

use std::path::Path;

use mpcium_state::store::{KdfParams, SecretPassword, Store, StoreOptions};

/// Opens (or reopens) a test store under `dir`, with the fast test-only KDF.
pub(crate) fn must_store(dir: impl AsRef<Path>) -> Store {
    Store::open_with(
        dir.as_ref().join("db"),
        &SecretPassword::new("unit test password".into()),
        StoreOptions {
            kdf: KdfParams::insecure_for_tests(),
        },
    )
    .expect("test store")
}
