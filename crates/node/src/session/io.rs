//! Running CPU-heavy protocol futures off the async reactor, under a deadline.
//!
//! A CGGMP24 round can keep a core busy for seconds (aux info: tens of seconds). Polling such a
//! future on a runtime worker would stall every other task on that worker (NATS heartbeats,
//! health checks, other sessions), so each protocol runs on a blocking-pool thread that drives it
//! with the runtime's handle. The deadline is enforced inside, so a timed-out protocol is dropped
//! at its next await point and its thread is released.

use std::future::Future;
use std::time::Duration;

/// Why a protocol future did not produce its output.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunError {
    /// The deadline passed first.
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    /// The protocol thread panicked (a bug); the panic message is not propagated.
    #[error("protocol task failed unexpectedly")]
    Panicked,
}

/// Builds a protocol future with `make` on a blocking thread and runs it to completion there, or
/// gives up after `deadline`. The future itself never crosses threads, so it need not be `Send`.
pub async fn run_protocol<M, F>(deadline: Duration, make: M) -> Result<F::Output, RunError>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(tokio::time::timeout(deadline, make())))
        .await
        .map_err(|_| RunError::Panicked)?
        .map_err(|_| RunError::TimedOut(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_finished_protocol_returns_its_output() {
        assert_eq!(
            run_protocol(Duration::from_secs(5), || async { 7 }).await,
            Ok(7)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_stuck_protocol_times_out() {
        assert_eq!(
            run_protocol(Duration::from_millis(20), std::future::pending::<()>).await,
            Err(RunError::TimedOut(Duration::from_millis(20)))
        );
    }
}
