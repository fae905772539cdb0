//! The node's periodic backup task takes a backup at start and stops on shutdown.

use std::time::Duration;

use mpcium_node::background::run_periodic;
use mpcium_state::backup::{self, files, BackupSettings};
use mpcium_state::store::{KdfParams, KeyType, SecretPassword, Store, StoreOptions};
use tokio_util::sync::CancellationToken;

fn password() -> SecretPassword {
    SecretPassword::new("db password for backup tests".to_owned())
}

#[tokio::test]
async fn the_periodic_task_backs_up_at_start_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path().join("db"),
        &password(),
        StoreOptions {
            kdf: KdfParams::insecure_for_tests(),
        },
    )
    .unwrap();
    store
        .put_share(KeyType::Ecdsa, "wallet-1", 1, b"share")
        .unwrap();
    let backups = dir.path().join("backups");
    let settings = BackupSettings {
        node_name: "node0".to_owned(),
        dir: backups.clone(),
        period: Duration::from_secs(300),
        keep: 24,
        password: password(),
        kdf: KdfParams::insecure_for_tests(),
    };
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    tokio::time::timeout(
        Duration::from_secs(30),
        run_periodic(store, settings, shutdown),
    )
    .await
    .unwrap();
    let file = files::newest(&backups, Some("node0")).unwrap();
    assert!(backup::verify(&file, &password()).is_ok());
}
