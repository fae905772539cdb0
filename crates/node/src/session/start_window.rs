//! Replay protection for session-start orders that survives restarts: a bounded timestamp
//! window over a horizon kept in the store.
//!
//! A coordinator stamps every [`Start`] with its wall clock ([`Start::issued_at_ms`], inside the
//! signed, encrypted envelope, so nobody else can change it). A participant accepts a start
//! only when it is
//! * **recent**: issued at most [`WINDOW`] ago and at most [`SKEW`] ahead of this node's clock;
//! * **new**: its nonce was not accepted before — the router remembers accepted nonces
//!   ([`crate::session::orchestrate::accept_start`]) for longer than `WINDOW + SKEW`, so every
//!   start still recent is remembered;
//! * **within the horizon**: issued no later than a time this node has written to its store
//!   beforehand ([`StartWindow::keep_ahead`] keeps it [`LEAD`] ahead of `now + SKEW`), and later
//!   than the horizon the previous run of this node left there (the *floor*).
//!
//! So a start recorded before a crash or restart — when the in-memory nonces are gone — was
//! issued no later than the old horizon and is refused for good. A restarted node waits until
//! its clock is past `floor + SKEW` before it registers as ready ([`StartWindow::wait_past_floor`]),
//! so no honest start is refused for predating the restart. A node whose store cannot be
//! written stops accepting starts once its horizon passes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mpcium_state::store::Store;

use super::control::Start;
use crate::context::store_io;
use crate::error::{Io, NodeError};

/// How old a start may be when it arrives.
pub const WINDOW: Duration = Duration::from_secs(300);
/// How far coordinators' clocks may run ahead of this node's.
pub const SKEW: Duration = Duration::from_secs(5);
/// How far ahead of `now + SKEW` the stored horizon is kept.
pub const LEAD: Duration = Duration::from_secs(10);
/// How often the stored horizon is moved forward (well within [`LEAD`]).
const RENEW_EVERY: Duration = Duration::from_secs(2);
/// The store record holding the horizon (Unix milliseconds, decimal).
const HORIZON_RECORD: &str = "control/start-horizon";

/// This node's acceptance window for session starts. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StartWindow {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    /// The horizon a previous run of this node left: starts issued up to it are refused.
    floor_ms: u64,
    /// The horizon stored by this run: starts issued after it are refused.
    horizon_ms: AtomicU64,
}

/// Why a start was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Issued longer than [`WINDOW`] ago (or without a time).
    #[error("issued {0} ms ago, more than the window allows")]
    TooOld(u64),
    /// Issued more than [`SKEW`] ahead of this node's clock.
    #[error("issued {0} ms in the future")]
    FromTheFuture(u64),
    /// Issued no later than the horizon of this node's previous run: a replay across a restart.
    #[error("issued before this node restarted")]
    BeforeRestart,
    /// Issued after the horizon this node has stored (its store is not being written).
    #[error("issued beyond the horizon this node has stored")]
    BeyondHorizon,
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// This node's wall clock, Unix milliseconds.
pub fn now_ms() -> u64 {
    unix_ms(SystemTime::now())
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn read_horizon(store: &Store) -> Result<u64, NodeError> {
    let Some(bytes) = store
        .aux(HORIZON_RECORD)
        .map_err(|e| NodeError::io(Io::StorageRead, e.to_string()))?
    else {
        return Ok(0);
    };
    std::str::from_utf8(bytes.expose())
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| NodeError::io(Io::Corrupt, "the stored start horizon is not a number"))
}

fn write_horizon(store: &Store, horizon_ms: u64) -> Result<(), NodeError> {
    store
        .put_aux(HORIZON_RECORD, horizon_ms.to_string().as_bytes())
        .map_err(|e| NodeError::io(Io::StorageWrite, e.to_string()))
}

impl StartWindow {
    /// Reads the previous run's horizon (the floor) from `store` and stores this run's first.
    pub async fn open(store: &Store) -> Result<StartWindow, NodeError> {
        let horizon = now_ms().saturating_add(ms(SKEW + LEAD));
        let floor_ms = store_io(store, move |s| {
            let floor = read_horizon(s)?;
            // Never move the stored horizon back (a clock set back): the floor must stay.
            write_horizon(s, horizon.max(floor))?;
            Ok(floor)
        })
        .await?;
        Ok(StartWindow {
            inner: Arc::new(Inner {
                store: store.clone(),
                floor_ms,
                horizon_ms: AtomicU64::new(horizon.max(floor_ms)),
            }),
        })
    }

    /// Whether `start` may be accepted now (its nonce is checked by the router afterwards).
    pub fn check(&self, start: &Start) -> Result<(), Refused> {
        self.check_at(start.issued_at_ms, now_ms())
    }

    fn check_at(&self, issued_ms: u64, now_ms: u64) -> Result<(), Refused> {
        if issued_ms <= self.inner.floor_ms {
            return Err(Refused::BeforeRestart);
        }
        if issued_ms.saturating_add(ms(WINDOW)) < now_ms {
            return Err(Refused::TooOld(now_ms.saturating_sub(issued_ms)));
        }
        if issued_ms > now_ms.saturating_add(ms(SKEW)) {
            return Err(Refused::FromTheFuture(issued_ms - now_ms));
        }
        if issued_ms > self.inner.horizon_ms.load(Ordering::Acquire) {
            return Err(Refused::BeyondHorizon);
        }
        Ok(())
    }

    /// Waits until this node's clock is past the previous run's horizon plus [`SKEW`], so that
    /// no honest start issued after this restart is taken for a replay. Immediate on a first
    /// start or after a pause longer than `SKEW + LEAD`; logs when it waits.
    pub async fn wait_past_floor(&self) {
        let until = self.inner.floor_ms.saturating_add(ms(SKEW));
        let now = now_ms();
        if now > until {
            return;
        }
        let wait = Duration::from_millis(until - now + 1);
        tracing::info!(
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "waiting until session starts sent before this restart can no longer be replayed"
        );
        tokio::time::sleep(wait).await;
    }

    /// Keeps the stored horizon [`LEAD`] ahead of `now + SKEW`, writing it every
    /// [`RENEW_EVERY`]; a failed write is logged and retried (starts beyond the last stored
    /// horizon are refused meanwhile). Runs until aborted.
    pub async fn keep_ahead(self) {
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            let horizon = now_ms().saturating_add(ms(SKEW + LEAD));
            if horizon <= self.inner.horizon_ms.load(Ordering::Acquire) {
                continue;
            }
            match store_io(&self.inner.store, move |s| write_horizon(s, horizon)).await {
                Ok(()) => {
                    self.inner.horizon_ms.fetch_max(horizon, Ordering::AcqRel);
                }
                Err(error) => {
                    tracing::error!(%error, "cannot store the session-start horizon; session starts will be refused once it passes");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::must_store;

    #[tokio::test]
    async fn a_recent_start_is_accepted_and_old_or_future_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let window = StartWindow::open(&must_store(&dir)).await.unwrap();
        let now = now_ms();
        assert_eq!(window.check_at(now, now), Ok(()));
        assert_eq!(window.check_at(now - 1_000, now), Ok(()));
        assert_eq!(window.check_at(now + ms(SKEW), now), Ok(()));
        assert_eq!(
            window.check_at(now - ms(WINDOW) - 1, now),
            Err(Refused::TooOld(ms(WINDOW) + 1))
        );
        assert_eq!(
            window.check_at(now + ms(SKEW) + 1, now),
            Err(Refused::FromTheFuture(ms(SKEW) + 1))
        );
        // A start from a node that stamps no time.
        assert_eq!(window.check_at(0, now), Err(Refused::BeforeRestart));
    }

    #[tokio::test]
    async fn a_start_accepted_before_a_restart_is_refused_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = must_store(&dir);
        let before = StartWindow::open(&store).await.unwrap();
        let issued = now_ms();
        assert_eq!(before.check_at(issued, issued), Ok(()));
        drop(before);
        drop(store);

        // The node restarts at once: the in-memory nonces are gone, the stored horizon is not.
        let reopened = must_store(&dir);
        let after = StartWindow::open(&reopened).await.unwrap();
        assert_eq!(
            after.check_at(issued, issued + 1_000),
            Err(Refused::BeforeRestart)
        );
        // A start issued after the old horizon is accepted once the clock is there.
        let later = after.inner.floor_ms + 1;
        after
            .inner
            .horizon_ms
            .store(later + ms(LEAD), Ordering::Release);
        assert_eq!(after.check_at(later, later), Ok(()));
    }

    #[tokio::test]
    async fn the_stored_horizon_never_moves_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = must_store(&dir);
        let far = now_ms() + 3_600_000;
        write_horizon(&store, far).unwrap();
        let window = StartWindow::open(&store).await.unwrap();
        assert_eq!(read_horizon(&store).unwrap(), far);
        let now = now_ms();
        assert_eq!(window.check_at(now, now), Err(Refused::BeforeRestart));
    }

    #[tokio::test]
    async fn a_start_beyond_the_stored_horizon_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let window = StartWindow::open(&must_store(&dir)).await.unwrap();
        let now = now_ms();
        window.inner.horizon_ms.store(now - 1, Ordering::Release);
        assert_eq!(window.check_at(now, now), Err(Refused::BeyondHorizon));
    }
}
