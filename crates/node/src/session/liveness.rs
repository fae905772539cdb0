//! Noticing that a session's peer died: a peer whose readiness mark lapsed (it renews the mark
//! every few seconds while it runs, so a killed, frozen or cut-off node loses it within the
//! readiness TTL), or whose mark names another incarnation than when the session began (it was
//! restarted: the process that joined the session and its state are gone), cannot finish its
//! part, and waiting for the whole session deadline would only delay the answer.
//! [`Liveness::gone`] resolves as soon as one of the given peers is gone, so coordinators and
//! participants can abort at once and name it, saying why.
//!
//! A restarted node writes a starting mark with its new incarnation as soon as it has subscribed
//! to its subject (`runtime`), well before it is ready again, so a restart is noticed within a
//! look or two of it, not only when the old mark lapses. Marks in the old form name no
//! incarnation; a peer whose incarnation was unknown when the session began is judged by its
//! readiness alone.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mpcium_state::registry::{Incarnation, Readiness};

/// Who is ready and their incarnations, or `None` when it cannot be read right now. Read from
/// memory (the node's readiness view): it must not block.
pub type ReadyProbe = Arc<dyn Fn() -> Option<Readiness> + Send + Sync>;

/// The peers of a session that can no longer finish it, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gone {
    /// Their readiness lapsed (or was cleared).
    pub lapsed: Vec<String>,
    /// Their mark names a new incarnation since the session began: they restarted.
    pub restarted: Vec<String>,
}

impl Gone {
    /// Every peer gone, sorted.
    pub fn nodes(&self) -> Vec<String> {
        let all: BTreeSet<&String> = self.lapsed.iter().chain(&self.restarted).collect();
        all.into_iter().cloned().collect()
    }

    /// Whether no peer is gone.
    pub fn is_empty(&self) -> bool {
        self.lapsed.is_empty() && self.restarted.is_empty()
    }
}

/// E.g. `node-b restarted (new incarnation); node-c stopped being ready (readiness lapsed)`.
impl fmt::Display for Gone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::with_capacity(2);
        if !self.restarted.is_empty() {
            parts.push(format!(
                "{} restarted (new incarnation)",
                self.restarted.join(", ")
            ));
        }
        if !self.lapsed.is_empty() {
            parts.push(format!(
                "{} stopped being ready (readiness lapsed)",
                self.lapsed.join(", ")
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

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

    /// Resolves with the peers of `peers` that are no longer ready or were restarted, as soon as
    /// there is one; never resolves while all stay ready in the same incarnation, or when
    /// readiness cannot be read (a registry outage is not evidence that a peer died).
    ///
    /// The peers' incarnations are taken *now*, when this is called (not when the future is
    /// first polled): call it when the session begins — a coordinator before it sends the
    /// starts — so that a peer already in its new incarnation then is not taken for restarted.
    pub fn gone(&self, peers: Vec<String>) -> impl Future<Output = Gone> + Send + 'static {
        let probe = self.probe.clone();
        let every = self.every;
        let began: BTreeMap<String, Incarnation> = probe
            .as_ref()
            .and_then(|probe| probe())
            .map(|readiness| {
                peers
                    .iter()
                    .filter_map(|p| Some((p.clone(), *readiness.incarnations.get(p)?)))
                    .collect()
            })
            .unwrap_or_default();
        async move {
            let Some(probe) = probe else {
                return std::future::pending().await;
            };
            // The first look comes after one period: short sessions never look at all.
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(now) = probe() else {
                    continue;
                };
                let gone = judge(&peers, &began, &now);
                if !gone.is_empty() {
                    return gone;
                }
            }
        }
    }
}

/// Which of `peers` are gone by `now`, given their incarnations when the session `began`: a
/// peer whose mark names another incarnation restarted (whether or not the new process is ready
/// yet); otherwise one that is not ready lapsed.
fn judge(peers: &[String], began: &BTreeMap<String, Incarnation>, now: &Readiness) -> Gone {
    let mut gone = Gone::default();
    for peer in peers {
        let restarted = matches!(
            (began.get(peer), now.incarnations.get(peer)),
            (Some(then), Some(current)) if then != current
        );
        if restarted {
            gone.restarted.push(peer.clone());
        } else if !now.ready.contains(peer) {
            gone.lapsed.push(peer.clone());
        }
    }
    gone
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A probe answering each of `views` in turn, then the last one for ever.
    fn probe_of(views: Vec<Option<Readiness>>) -> ReadyProbe {
        let views = Arc::new(Mutex::new(views));
        Arc::new(move || {
            let mut views = views.lock().unwrap();
            if views.len() > 1 {
                views.remove(0)
            } else {
                views[0].clone()
            }
        })
    }

    /// `ids` ready, marks in the old form (no incarnation).
    fn set(ids: &[&str]) -> Option<Readiness> {
        Some(Readiness {
            ready: ids.iter().map(|s| s.to_string()).collect(),
            incarnations: BTreeMap::new(),
        })
    }

    /// Marks `(node, incarnation, ready)`.
    fn marks(marks: &[(&str, u64, bool)]) -> Option<Readiness> {
        let mut readiness = Readiness::default();
        for (node, incarnation, ready) in marks {
            if *ready {
                readiness.ready.insert(node.to_string());
            }
            let incarnation = Incarnation::from_u64(*incarnation).unwrap();
            readiness.incarnations.insert(node.to_string(), incarnation);
        }
        Some(readiness)
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_whose_readiness_lapses_is_named() {
        let views = vec![set(&["a", "b", "c"]), None, set(&["a", "c"])];
        let liveness = Liveness::new(probe_of(views), Duration::from_millis(10));
        let gone = liveness.gone(vec!["b".into(), "c".into()]).await;
        assert_eq!(
            gone,
            Gone {
                lapsed: vec!["b".to_owned()],
                restarted: vec![]
            }
        );
        assert_eq!(gone.to_string(), "b stopped being ready (readiness lapsed)");
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_ready_again_in_a_new_incarnation_is_named_as_restarted() {
        let before = marks(&[("a", 1, true), ("b", 2, true)]);
        // `b` restarted: its new process is starting (not ready) or already ready again.
        for after in [
            marks(&[("a", 1, true), ("b", 3, false)]),
            marks(&[("a", 1, true), ("b", 3, true)]),
        ] {
            let liveness = Liveness::new(
                probe_of(vec![before.clone(), before.clone(), after]),
                Duration::from_millis(10),
            );
            let started = tokio::time::Instant::now();
            let gone = liveness.gone(vec!["a".into(), "b".into()]).await;
            assert_eq!(gone.restarted, vec!["b".to_owned()]);
            assert!(gone.lapsed.is_empty());
            assert_eq!(gone.nodes(), vec!["b".to_owned()]);
            assert_eq!(gone.to_string(), "b restarted (new incarnation)");
            // Two looks: the first still saw the old incarnation.
            assert_eq!(started.elapsed(), Duration::from_millis(20));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_already_in_its_new_incarnation_when_the_session_began_is_not_restarted() {
        // The session began after `b`'s restart (and `c` wrote old-form marks then): neither
        // counts as restarted while it stays ready.
        let views = vec![
            marks(&[("b", 3, true)]),
            Some(Readiness {
                ready: ["b", "c"].iter().map(|s| s.to_string()).collect(),
                incarnations: [("b".to_owned(), Incarnation::from_u64(3).unwrap())].into(),
            }),
            marks(&[("b", 3, true), ("c", 9, true)]),
        ];
        let liveness = Liveness::new(probe_of(views), Duration::from_millis(10));
        let waited = tokio::time::timeout(
            Duration::from_secs(60),
            liveness.gone(vec!["b".into(), "c".into()]),
        )
        .await;
        assert!(waited.is_err(), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn restarted_and_lapsed_peers_are_reported_together() {
        let views = vec![
            marks(&[("a", 1, true), ("b", 2, true)]),
            marks(&[("b", 4, false)]),
        ];
        let liveness = Liveness::new(probe_of(views), Duration::from_millis(10));
        let gone = liveness.gone(vec!["a".into(), "b".into()]).await;
        assert_eq!(gone.nodes(), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(
            gone.to_string(),
            "b restarted (new incarnation); a stopped being ready (readiness lapsed)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ready_peers_and_unreadable_readiness_never_resolve() {
        for views in [vec![set(&["a", "b"])], vec![None]] {
            let liveness = Liveness::new(probe_of(views), Duration::from_millis(10));
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
