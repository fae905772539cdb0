//! A node's standing view of which nodes are ready, so that answering a request never lists
//! `mpc_ready/` itself (with NATS KV every listing is a new JetStream consumer; a burst of
//! requests exhausted the server's consumer limit).
//!
//! One background task per node follows the readiness keys: with NATS KV a single long-lived
//! watch of the `mpc_ready` bucket (seeded by one listing each time it starts), with Consul a poll
//! of the prefix every [`CONSUL_POLL`]. Every mark counts for `ttl` from the moment it was last
//! seen written, exactly as the server's per-key TTL counts it, so a node that stopped renewing
//! drops out of the view within `ttl` even if the expiry event never arrives. The task restarts
//! with backoff when its watch ends or fails; while it has not seen the registry yet the view
//! answers `None` and callers read the registry directly.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv::Operation;
use futures::StreamExt;

use super::{AnyRegistry, Registry, RegistryError, READY_PREFIX};

/// How often the Consul backend's readiness keys are read.
pub const CONSUL_POLL: Duration = Duration::from_secs(1);
/// Longest wait before a failed watch is started again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct State {
    /// Node id → when its mark was last seen written.
    seen: BTreeMap<String, Instant>,
    /// Whether the current watch has read the registry at least once.
    synced: bool,
}

/// Which nodes are ready, as this node last saw the registry. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ReadinessView {
    state: Arc<Mutex<State>>,
    ttl: Duration,
}

impl ReadinessView {
    /// Starts following `registry`'s readiness marks, each valid for `ttl` after it was
    /// written; the task runs until it is aborted.
    pub fn start(registry: Arc<AnyRegistry>, ttl: Duration) -> (Self, tokio::task::JoinHandle<()>) {
        let view = Self {
            state: Arc::new(Mutex::new(State::default())),
            ttl,
        };
        let task = tokio::spawn(view.clone().follow(registry));
        (view, task)
    }

    /// The nodes whose mark is current, or `None` while the view has not read the registry.
    pub fn ready_nodes(&self) -> Option<BTreeSet<String>> {
        let state = self.lock();
        if !state.synced {
            return None;
        }
        let now = Instant::now();
        Some(
            state
                .seen
                .iter()
                .filter(|(_, at)| now.duration_since(**at) < self.ttl)
                .map(|(id, _)| id.clone())
                .collect(),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere mid-update; the map is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn mark(&self, id: String, at: Instant) {
        self.lock().seen.insert(id, at);
    }

    fn unmark(&self, id: &str) {
        self.lock().seen.remove(id);
    }

    fn reset(&self, ids: BTreeSet<String>) {
        let now = Instant::now();
        let mut state = self.lock();
        state.seen.retain(|id, _| ids.contains(id));
        for id in ids {
            state.seen.entry(id).or_insert(now);
        }
        state.synced = true;
    }

    fn lost(&self) {
        self.lock().synced = false;
    }

    async fn follow(self, registry: Arc<AnyRegistry>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let started = Instant::now();
            let error = match registry.as_ref() {
                AnyRegistry::Nats(nats) => self.follow_nats(nats).await,
                AnyRegistry::Consul(_) => self.poll(registry.as_ref()).await,
            };
            self.lost();
            tracing::warn!(%error, "readiness watch stopped; starting it again");
            if started.elapsed() > MAX_BACKOFF * 2 {
                backoff = Duration::from_millis(100);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Follows the `mpc_ready` bucket until the watch fails; returns why.
    async fn follow_nats(&self, registry: &super::NatsKvRegistry) -> RegistryError {
        let mut watch = match registry.watch_ready().await {
            Ok(watch) => watch,
            Err(error) => return error,
        };
        // Marks written before the watch started: one listing per start.
        match registry.ready_nodes().await {
            Ok(ids) => self.reset(ids),
            Err(error) => return error,
        }
        while let Some(entry) = watch.next().await {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    return RegistryError::Nats {
                        op: "watch",
                        key: READY_PREFIX.to_owned(),
                        source: Box::new(error),
                    }
                }
            };
            let Some(id) = super::nats_key::decode(&entry.key) else {
                continue;
            };
            match entry.operation {
                Operation::Put => self.mark(id, Instant::now()),
                Operation::Delete | Operation::Purge => self.unmark(&id),
            }
        }
        RegistryError::Malformed {
            key: READY_PREFIX.to_owned(),
            reason: "the readiness watch ended".to_owned(),
        }
    }

    /// Reads the readiness keys every [`CONSUL_POLL`] until a read fails; returns why. Consul
    /// marks carry their own expiry, so each read replaces the view.
    async fn poll(&self, registry: &AnyRegistry) -> RegistryError {
        let mut tick = tokio::time::interval(CONSUL_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match registry.ready_nodes().await {
                Ok(ids) => {
                    let mut state = self.lock();
                    let now = Instant::now();
                    state.seen = ids.into_iter().map(|id| (id, now)).collect();
                    state.synced = true;
                }
                Err(error) => return error,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(ttl: Duration) -> ReadinessView {
        ReadinessView {
            state: Arc::new(Mutex::new(State::default())),
            ttl,
        }
    }

    #[test]
    fn the_view_answers_only_after_reading_the_registry() {
        let v = view(Duration::from_secs(15));
        assert_eq!(v.ready_nodes(), None);
        v.reset(BTreeSet::from(["a".to_owned()]));
        assert_eq!(v.ready_nodes(), Some(BTreeSet::from(["a".to_owned()])));
        v.lost();
        assert_eq!(v.ready_nodes(), None);
    }

    #[test]
    fn a_mark_not_renewed_within_the_ttl_drops_out() {
        let v = view(Duration::from_secs(15));
        v.reset(BTreeSet::new());
        let now = Instant::now();
        v.mark("fresh".into(), now);
        v.mark("stale".into(), now - Duration::from_secs(16));
        assert_eq!(v.ready_nodes(), Some(BTreeSet::from(["fresh".to_owned()])));
        v.unmark("fresh");
        assert_eq!(v.ready_nodes(), Some(BTreeSet::new()));
    }
}
