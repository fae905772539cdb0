//! Background duties of a running node that are not operations: the readiness heartbeat and
//! periodic encrypted backups. Each runs until its task is cancelled.

use std::sync::Arc;
use std::time::Duration;

use mpcium_state::backup::{backup_now, BackupOutcome, BackupSettings};
use mpcium_state::registry::Registry;
use mpcium_state::store::Store;
use tokio_util::sync::CancellationToken;

use crate::context::NodeContext;

/// How long a readiness mark lives without a heartbeat.
pub const READY_TTL: Duration = Duration::from_secs(15);
/// How often the readiness mark is renewed.
pub const READY_EVERY: Duration = Duration::from_secs(5);

/// Renews this node's readiness mark every [`READY_EVERY`].
pub async fn heartbeat(ctx: Arc<NodeContext>) {
    loop {
        tokio::time::sleep(READY_EVERY).await;
        if let Err(error) = ctx.registry.set_ready(&ctx.me, READY_TTL).await {
            tracing::warn!(%error, "cannot renew readiness");
        }
    }
}

/// Backs `store` up at once and then every `settings.period` until `shutdown` is cancelled.
/// Failures are logged and retried at the next period. Cancel safety: cancelling (or dropping
/// the future) during a run lets the blocking write finish in the background; a backup file is
/// either complete or absent.
pub async fn run_periodic(store: Store, settings: BackupSettings, shutdown: CancellationToken) {
    let settings = Arc::new(settings);
    loop {
        let (task_store, task_settings) = (store.clone(), settings.clone());
        match tokio::task::spawn_blocking(move || backup_now(&task_store, &task_settings)).await {
            Ok(Ok(BackupOutcome::Written {
                path,
                records,
                pruned,
            })) => {
                crate::metrics::backup_succeeded(std::time::SystemTime::now());
                tracing::info!(
                    file = %path.display(),
                    records,
                    pruned = pruned.len(),
                    "backup written"
                )
            }
            Ok(Ok(BackupOutcome::Unchanged { newest })) => {
                // The newest backup still holds everything: it is as good as a fresh one.
                crate::metrics::backup_succeeded(std::time::SystemTime::now());
                tracing::debug!(newest = %newest.display(), "store unchanged; backup skipped")
            }
            Ok(Err(error)) => tracing::error!(%error, "backup failed; retrying next period"),
            Err(error) => tracing::error!(%error, "backup task failed; retrying next period"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(settings.period) => {}
        }
    }
}
