//! [`ReadyView`]: one long-lived, in-memory view of the readiness keys per process, so that
//! answering "which nodes are ready?" costs no registry round trip, no consumer and no listing.
//!
//! * NATS KV: one watch (last value per key, then every change) of the `mpc_ready` bucket (one JetStream consumer for the life of
//!   the view, re-created with backoff if its stream ends or fails). A `Put` of a ready mark
//!   marks a node ready until the put's server timestamp (capped at the local clock) plus the
//!   readiness TTL (a starting mark only records the incarnation); a
//!   `Delete` or `Purge` (a key whose per-key TTL ran out, through the bucket's limit markers)
//!   removes it at once. The local expiry means a node whose heartbeat stopped disappears within
//!   the TTL even if the expiry marker were never seen.
//! * Consul: the readiness values hold their expiry time (see the backend); a background task
//!   re-reads the prefix every [`CONSUL_REFRESH`] and the view judges expiry at read time, so an
//!   expired entry disappears at its expiry, whatever the refresh lag.
//!
//! Besides who is ready, the view keeps each mark's [`Incarnation`] ([`ReadyView::readiness`]),
//! so sessions can notice a peer that restarted while its old mark had not lapsed yet.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use async_nats::jetstream::kv::Operation;
use futures::StreamExt;

use super::{
    nats_key, AnyRegistry, ConsulRegistry, Incarnation, NatsKvRegistry, ReadyMark, RegistryError,
};

/// How often the Consul view re-reads `mpc_ready/`.
pub const CONSUL_REFRESH: Duration = Duration::from_secs(1);
/// A Consul read younger than this is fresh enough: [`ReadyView::refresh`] does not read again,
/// so a node that stays down costs at most one extra read per this period, not one per request.
const FRESH_ENOUGH: Duration = Duration::from_millis(100);
/// Longest wait of [`ReadyView::refresh`] for its read.
const REFRESH_WAIT: Duration = Duration::from_secs(1);
/// At most this many readiness entries are held; more are ignored (and logged).
const MAX_ENTRIES: usize = 4096;
/// Backoff bounds when the watch (or the Consul read) fails.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// An in-memory view of which nodes are ready, kept current by one background task.
///
/// Cheap to clone; the task stops when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct ReadyView {
    shared: Arc<Shared>,
    /// Whether the registry is Consul (read periodically) rather than NATS KV (watched).
    consul: bool,
    _task: Arc<AbortOnDrop>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    clock: fn() -> SystemTime,
    /// Asks the Consul refresh task to read now.
    kick: tokio::sync::Notify,
    /// When the last Consul read completed, or the NATS watch was last current (`None` before
    /// the first).
    last_read: tokio::sync::watch::Sender<Option<Instant>>,
}

/// What the view holds at one instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Nodes whose readiness is current.
    pub ready: BTreeSet<String>,
    /// The incarnation of every node whose mark (ready, starting or expired but not yet
    /// removed) names one; marks in the old form are absent.
    pub incarnations: BTreeMap<String, Incarnation>,
}

/// One node's mark as the view holds it.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// When its readiness expires.
    expires: SystemTime,
    /// Whether the mark says ready (false: the process is starting).
    ready: bool,
    incarnation: Option<Incarnation>,
}

#[derive(Debug, Default)]
struct State {
    /// Node id → its mark.
    entries: BTreeMap<String, Entry>,
    /// The view has been loaded at least once.
    loaded: bool,
    /// The watch (or refresh) is currently working (the watch: and has replayed the bucket).
    live: bool,
}

#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Shared {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn insert(state: &mut State, node: String, entry: Entry) {
        if state.entries.len() >= MAX_ENTRIES && !state.entries.contains_key(&node) {
            tracing::warn!(limit = MAX_ENTRIES, "readiness view full; entry ignored");
            return;
        }
        state.entries.insert(node, entry);
    }
}

impl ReadyView {
    /// Starts the view of `registry`'s readiness keys; `ttl` is the readiness TTL the nodes
    /// heartbeat with (used by the NATS backend to expire entries locally). Needs a Tokio runtime.
    pub fn start(registry: &AnyRegistry, ttl: Duration) -> ReadyView {
        Self::start_reading_consul_every(registry, ttl, CONSUL_REFRESH)
    }

    /// [`ReadyView::start`] with the Consul view re-read every `period` (tests lengthen it to
    /// show that [`ReadyView::refresh`] reads on demand).
    pub fn start_reading_consul_every(
        registry: &AnyRegistry,
        ttl: Duration,
        period: Duration,
    ) -> ReadyView {
        let clock = match registry {
            AnyRegistry::Consul(r) => r.clock(),
            AnyRegistry::Nats(_) => SystemTime::now,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            clock,
            kick: tokio::sync::Notify::new(),
            last_read: tokio::sync::watch::channel(None).0,
        });
        let task = match registry.clone() {
            AnyRegistry::Nats(r) => tokio::spawn(watch_nats(r, ttl, shared.clone())),
            AnyRegistry::Consul(r) => tokio::spawn(refresh_consul(r, period, shared.clone())),
        };
        ReadyView {
            shared,
            consul: matches!(registry, AnyRegistry::Consul(_)),
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// The ids of nodes whose readiness has not expired, from memory. Fails only before the
    /// view was loaded for the first time (the watch has replayed the bucket once).
    pub fn ready_nodes(&self) -> Result<BTreeSet<String>, RegistryError> {
        self.readiness().map(|readiness| readiness.ready)
    }

    /// Who is ready and every known incarnation, from memory, read at one instant. Fails only
    /// before the view was loaded for the first time.
    pub fn readiness(&self) -> Result<Readiness, RegistryError> {
        let now = (self.shared.clock)();
        self.shared.with(|state| {
            if !state.loaded {
                return Err(RegistryError::ViewNotLoaded);
            }
            let ready = state
                .entries
                .iter()
                .filter(|(_, entry)| entry.ready && entry.expires > now)
                .map(|(node, _)| node.clone())
                .collect();
            let incarnations = state
                .entries
                .iter()
                .filter_map(|(node, entry)| Some((node.clone(), entry.incarnation?)))
                .collect();
            Ok(Readiness {
                ready,
                incarnations,
            })
        })
    }

    /// Brings the view up to date before a refusal: the NATS watch is pushed every change, so
    /// nothing to do while it is live; a broken one (e.g. after the process was frozen, when
    /// every entry has expired locally) is waited for, at most one second, until it is re-created
    /// and has replayed the bucket. The Consul view is read again now (one HTTP read, waited for
    /// at most one second) instead of at its next period, unless its last read is under 100 ms
    /// old.
    pub async fn refresh(&self) {
        let mut last_read = self.shared.last_read.subscribe();
        let asked = Instant::now();
        if !self.consul {
            if self.is_live() {
                return;
            }
            let replayed = last_read.wait_for(|at| at.is_some_and(|at| at >= asked));
            let _ = tokio::time::timeout(REFRESH_WAIT, replayed).await;
            return;
        }
        if last_read
            .borrow_and_update()
            .is_some_and(|at| asked.duration_since(at) < FRESH_ENOUGH)
        {
            return;
        }
        self.shared.kick.notify_one();
        let read_since_asked = last_read.wait_for(|at| at.is_some_and(|at| at >= asked));
        let _ = tokio::time::timeout(REFRESH_WAIT, read_since_asked).await;
    }

    /// Whether the background watch is currently connected and current.
    pub fn is_live(&self) -> bool {
        self.shared.with(|state| state.live)
    }

    /// Waits (at most `deadline`) until the view has been loaded once; returns whether it was.
    pub async fn loaded_within(&self, deadline: Duration) -> bool {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            if self.shared.with(|state| state.loaded) {
                return true;
            }
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn next_backoff(backoff: Duration) -> Duration {
    (backoff * 2).min(BACKOFF_MAX)
}

async fn watch_nats(registry: NatsKvRegistry, ttl: Duration, shared: Arc<Shared>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        match registry.watch_ready().await {
            Ok((mut watch, empty)) => {
                // The watch starts by replaying the last value of every live key; the view is
                // loaded after the last of them (`delta == 0`), or at once for an empty bucket.
                // Entries from before a restart keep their local expiry, so any key deleted
                // while the watch was down still vanishes within the TTL.
                shared.with(|state| {
                    state.loaded |= empty;
                    state.live = empty;
                });
                if empty {
                    shared.last_read.send_replace(Some(Instant::now()));
                }
                while let Some(entry) = watch.next().await {
                    let entry = match entry {
                        Ok(entry) => entry,
                        Err(error) => {
                            tracing::warn!(%error, "readiness watch failed");
                            break;
                        }
                    };
                    backoff = BACKOFF_MIN;
                    // Once the replay is done (and after every later change), waiters of
                    // `refresh` may read.
                    let current = entry.delta == 0;
                    let Some(node) = nats_key::decode(&entry.key) else {
                        shared.with(|state| {
                            state.loaded |= current;
                            state.live |= current;
                        });
                        if current {
                            shared.last_read.send_replace(Some(Instant::now()));
                        }
                        continue;
                    };
                    shared.with(|state| {
                        match entry.operation {
                            Operation::Put => {
                                let now = SystemTime::now();
                                let written = SystemTime::from(entry.created).min(now);
                                let mark = ReadyMark::decode_nats(&entry.value);
                                let held = Entry {
                                    expires: written + ttl,
                                    ready: mark.ready,
                                    incarnation: mark.incarnation,
                                };
                                Shared::insert(state, node, held);
                            }
                            Operation::Delete | Operation::Purge => {
                                state.entries.remove(&node);
                            }
                        }
                        state.loaded |= current;
                        state.live |= current;
                    });
                    if current {
                        shared.last_read.send_replace(Some(Instant::now()));
                    }
                }
                tracing::warn!("readiness watch ended; re-creating it");
            }
            Err(error) => tracing::warn!(%error, "cannot watch readiness"),
        }
        shared.with(|state| state.live = false);
        tokio::time::sleep(backoff).await;
        backoff = next_backoff(backoff);
    }
}

async fn refresh_consul(registry: ConsulRegistry, period: Duration, shared: Arc<Shared>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        match registry.ready_marks().await {
            Ok(marks) => {
                shared.with(|state| {
                    state.entries.clear();
                    for (node, mark) in marks {
                        // A starting mark holds an expiry in the past: never ready.
                        let held = Entry {
                            expires: mark.expires,
                            ready: true,
                            incarnation: mark.incarnation,
                        };
                        Shared::insert(state, node, held);
                    }
                    state.loaded = true;
                    state.live = true;
                });
                shared.last_read.send_replace(Some(Instant::now()));
                backoff = BACKOFF_MIN;
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = shared.kick.notified() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot refresh readiness");
                shared.with(|state| state.live = false);
                tokio::time::sleep(backoff).await;
                backoff = next_backoff(backoff);
            }
        }
    }
}
