//! Noticing that a session's peer died: a peer whose readiness mark lapsed (it renews the mark
//! every few seconds while it runs, so a killed, frozen or cut-off node loses it within the
//! readiness TTL) cannot finish its part, and waiting for the whole session deadline would only
//! delay the answer. [`Liveness::gone`] resolves as soon as one of the given peers is no longer
//! ready, so coordinators and participants can abort at once and name it.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The set of nodes whose readiness is current, or `None` when it cannot be read right now. Read
/// from memory (the node's readiness view): it must not block.
pub type ReadyProbe = Arc<dyn Fn() -> Option<BTreeSet<String>> + Send + Sync>;

/// Watches peers' readiness for sessions. Cheap to clone.
#[derive(Clone)]
pub struct Liveness {
    probe: Option<ReadyProbe>,
    every: Duration,
}

impl fmt::Debug for Liveness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Liveness")
            .field("watching", &self.probe.is_some())
            .field("every", &self.every)
            .finish()
    }
}

impl Liveness {
    /// How often readiness is looked at while a session waits.
    pub const DEFAULT_EVERY: Duration = Duration::from_secs(1);

    /// Watches with `probe`, looking every `every`.
    pub fn new(probe: ReadyProbe, every: Duration) -> Self {
        Self {
            probe: Some(probe),
            every,
        }
    }

    /// A watcher that never reports a peer gone (sessions then end only by their deadline).
    pub fn disabled() -> Self {
        Self {
            probe: None,
            every: Self::DEFAULT_EVERY,
        }
    }

    /// Resolves with the peers of `peers` that are no longer ready, as soon as there is one;
    /// never resolves while all stay ready, or when readiness cannot be read (a registry outage
    /// is not evidence that a peer died).
    pub fn gone(&self, peers: Vec<String>) -> impl Future<Output = Vec<String>> + Send + 'static {
        let probe = self.probe.clone();
        let every = self.every;
        async move {
            let Some(probe) = probe else {
                return std::future::pending().await;
            };
            // The first look comes after one period: short sessions never look at all.
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(ready) = probe() else {
                    continue;
                };
                let gone: Vec<String> = peers
                    .iter()
                    .filter(|p| !ready.contains(*p))
                    .cloned()
                    .collect();
                if !gone.is_empty() {
                    return gone;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn probe_of(sets: Arc<Mutex<Vec<Option<BTreeSet<String>>>>>) -> ReadyProbe {
        Arc::new(move || {
            let next = {
                let mut sets = sets.lock().unwrap();
                if sets.len() > 1 {
                    sets.remove(0)
                } else {
                    sets[0].clone()
                }
            };
            next
        })
    }

    fn set(ids: &[&str]) -> Option<BTreeSet<String>> {
        Some(ids.iter().map(|s| s.to_string()).collect())
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_whose_readiness_lapses_is_named() {
        let sets = Arc::new(Mutex::new(vec![
            set(&["a", "b", "c"]),
            None,
            set(&["a", "c"]),
        ]));
        let liveness = Liveness::new(probe_of(sets), Duration::from_millis(10));
        let gone = liveness.gone(vec!["b".into(), "c".into()]).await;
        assert_eq!(gone, vec!["b".to_owned()]);
    }

    #[tokio::test(start_paused = true)]
    async fn ready_peers_and_unreadable_readiness_never_resolve() {
        for sets in [vec![set(&["a", "b"])], vec![None]] {
            let liveness = Liveness::new(
                probe_of(Arc::new(Mutex::new(sets))),
                Duration::from_millis(10),
            );
            let waited = tokio::time::timeout(
                Duration::from_secs(60),
                liveness.gone(vec!["a".into(), "b".into()]),
            )
            .await;
            assert!(waited.is_err());
        }
        let disabled = Liveness::disabled().gone(vec!["x".into()]);
        assert!(tokio::time::timeout(Duration::from_secs(60), disabled)
            .await
            .is_err());
    }
}
