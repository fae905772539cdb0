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

/// The readiness mark's lifetime and heartbeat period: [`READY_TTL`] and [`READY_EVERY`], or a
/// shorter TTL from the test-only [`Readiness::TEST_TTL_ENV`] (the heartbeat then runs at a third
/// of it, as by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// How long a mark lives without a heartbeat.
    pub ttl: Duration,
    /// How often the mark is renewed.
    pub every: Duration,
}

impl Default for Readiness {
    fn default() -> Self {
        Self {
            ttl: READY_TTL,
            every: READY_EVERY,
        }
    }
}

impl Readiness {
    /// The environment variable with a test-only readiness TTL in milliseconds.
    pub const TEST_TTL_ENV: &'static str = "MPCIUM_TEST_READY_TTL_MS";
    /// The shortest test TTL: the NATS registry counts TTLs in whole seconds.
    const TEST_TTL_MIN: Duration = Duration::from_secs(1);

    /// A readiness TTL of `ttl`, renewed every third of it.
    pub fn with_ttl(ttl: Duration) -> Self {
        Self {
            ttl,
            every: ttl / 3,
        }
    }

    /// The default, or the TTL [`Readiness::TEST_TTL_ENV`] names (1 s up to [`READY_TTL`]); an
    /// error for a value out of range, and when it is set on a production node, where a
    /// shorter TTL would let a brief stall fail sessions over.
    pub fn from_env(production: bool) -> Result<Self, String> {
        let Some(value) = std::env::var_os(Self::TEST_TTL_ENV) else {
            return Ok(Self::default());
        };
        if production {
            return Err(format!(
                "{} is a test setting and is refused in production; unset it",
                Self::TEST_TTL_ENV
            ));
        }
        let ttl = value
            .to_str()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .filter(|ttl| (Self::TEST_TTL_MIN..=READY_TTL).contains(ttl))
            .ok_or_else(|| {
                format!(
                    "{} must be milliseconds from {} to {}, got {value:?}",
                    Self::TEST_TTL_ENV,
                    Self::TEST_TTL_MIN.as_millis(),
                    READY_TTL.as_millis()
                )
            })?;
        tracing::warn!(
            ttl_ms = ttl.as_millis(),
            "test setting: readiness TTL shortened"
        );
        Ok(Self::with_ttl(ttl))
    }
}

/// Renews this node's readiness mark (lifetime `readiness.ttl`) every `readiness.every`.
pub async fn heartbeat(ctx: Arc<NodeContext>, readiness: Readiness) {
    loop {
        tokio::time::sleep(readiness.every).await;
        if let Err(error) = ctx.registry.set_ready(&ctx.me, readiness.ttl).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_ttl_is_read_in_range_outside_production_only() {
        // The only test that touches this variable.
        std::env::remove_var(Readiness::TEST_TTL_ENV);
        assert_eq!(Readiness::from_env(true), Ok(Readiness::default()));
        std::env::set_var(Readiness::TEST_TTL_ENV, "3000");
        let refused = Readiness::from_env(true).expect_err("refused in production");
        assert!(refused.contains(Readiness::TEST_TTL_ENV), "{refused}");
        let short = Readiness::from_env(false).expect("development");
        assert_eq!(short.ttl, Duration::from_secs(3));
        assert_eq!(short.every, Duration::from_secs(1));
        for bad in ["999", "15001", "3 s", ""] {
            std::env::set_var(Readiness::TEST_TTL_ENV, bad);
            let refused = Readiness::from_env(false).expect_err(bad);
            assert!(refused.contains("milliseconds"), "{refused}");
        }
        std::env::remove_var(Readiness::TEST_TTL_ENV);
    }
}
