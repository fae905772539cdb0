//! Ending participants' parts as soon as their coordinator gives a session up. Without it, a
//! participant whose peer refused or failed early waits for that peer's messages until the
//! session deadline, holding its slot (a presign refusal then blocked refills for a minute).
//!
//! When [`super::orchestrate::run`] fails, the coordinator sends an [`Abort`] to every participant
//! that has not reported, on the [`ABORT`](crate::transport::channel::ABORT) channel. A part is
//! abortable only while it is [`Aborts::watch`]ed, and only by its own coordinator: the envelope is
//! signed by the sender and bound to the recipient, and [`abort_session`] binds it to the nonce.
//! Only operations that leave nothing half-done when stopped between two awaits are watched
//! (signing and presigning); keygen, resharing and its commit run to their own end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

/// A coordinator's order to stop the part of the session started with `nonce`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Abort {
    /// The nonce of the session's [`super::control::Start`].
    pub nonce: String,
}

/// The session id of an [`Abort`] envelope for `nonce`.
pub fn abort_session(nonce: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"mpcium-rs/abort/v1");
    h.update(nonce.as_bytes());
    h.finalize().into()
}

/// The parts of this node that can be aborted now, by nonce. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Aborts {
    inner: Arc<Mutex<HashMap<String, Watched>>>,
    capacity: usize,
}

#[derive(Debug)]
struct Watched {
    coordinator: String,
    stop: oneshot::Sender<()>,
}

/// A watched part: [`Watch::aborted`] resolves when its coordinator aborts it. Unwatched when
/// dropped.
#[derive(Debug)]
pub struct Watch {
    aborts: Aborts,
    nonce: String,
    stopped: Option<oneshot::Receiver<()>>,
}

impl Aborts {
    /// Watches at most `capacity` parts at once (beyond it a part runs unwatched, to its end).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(HashMap::new())),
            capacity,
        }
    }

    /// Watches the part of session `nonce` ordered by `coordinator`.
    pub fn watch(&self, nonce: &str, coordinator: &str) -> Watch {
        let (stop, stopped) = oneshot::channel();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let watched = inner.len() < self.capacity && !inner.contains_key(nonce);
        if watched {
            inner.insert(
                nonce.to_owned(),
                Watched {
                    coordinator: coordinator.to_owned(),
                    stop,
                },
            );
        }
        Watch {
            aborts: self.clone(),
            nonce: nonce.to_owned(),
            stopped: watched.then_some(stopped),
        }
    }

    /// Aborts the watched part of session `nonce` if `from` is its coordinator; whether one was.
    pub fn abort(&self, nonce: &str, from: &str) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.get(nonce).is_none_or(|w| w.coordinator != from) {
            return false;
        }
        if let Some(watched) = inner.remove(nonce) {
            let _ = watched.stop.send(());
        }
        true
    }
}

impl Watch {
    /// Resolves when the coordinator aborts the part; never for an unwatched part.
    pub async fn aborted(&mut self) {
        match self.stopped.as_mut() {
            Some(stopped) => {
                if stopped.await.is_err() {
                    // Unwatched without an abort: never resolve.
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.stopped.is_some() {
            self.aborts
                .inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&self.nonce);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn only_the_coordinator_aborts_a_watched_part() {
        let aborts = Aborts::new(4);
        let mut watch = aborts.watch("n1", "coord");
        assert!(!aborts.abort("n1", "someone-else"));
        assert!(!aborts.abort("other-nonce", "coord"));
        assert!(aborts.abort("n1", "coord"));
        tokio::time::timeout(Duration::from_secs(5), watch.aborted())
            .await
            .expect("aborted");
        // Once aborted, it is no longer watched.
        assert!(!aborts.abort("n1", "coord"));
    }

    #[tokio::test(start_paused = true)]
    async fn parts_beyond_capacity_or_finished_cannot_be_aborted() {
        let aborts = Aborts::new(1);
        let first = aborts.watch("n1", "c");
        let mut second = aborts.watch("n2", "c");
        assert!(!aborts.abort("n2", "c"));
        assert!(
            tokio::time::timeout(Duration::from_secs(60), second.aborted())
                .await
                .is_err()
        );
        drop(first);
        assert!(!aborts.abort("n1", "c"), "a finished part is unwatched");
        let _third = aborts.watch("n3", "c");
        assert!(aborts.abort("n3", "c"));
    }
}
