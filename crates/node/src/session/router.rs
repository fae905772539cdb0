//! Routes verified envelopes to the sessions that run on this node.
//!
//! Invariants:
//! * a message reaches a session only if its sender is one of that session's participants, and
//!   each `(sender, seq)` pair reaches it at most once (replays are dropped);
//! * a message that arrives before its session is registered here is buffered, within bounds,
//!   and handed over at registration — peers may start a session a few milliseconds before us,
//!   and losing their first round would stall the session (the reference's "no responders" race);
//! * a session id is used once: registering an id that is active or recently finished fails, and
//!   messages for a finished session are dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::error::{Io, NodeError};
use crate::transport::envelope::{Channel, Opened};

/// Identifies a session on this node: its channel (protocol) and session id.
pub type SessionKey = (Channel, [u8; 32]);

/// Bounds of the early-message buffer and of the finished-session memory.
#[derive(Clone, Debug)]
pub struct RouterLimits {
    /// Messages buffered per not-yet-registered session.
    pub pending_messages_per_session: usize,
    /// Bytes buffered per not-yet-registered session.
    pub pending_bytes_per_session: usize,
    /// Not-yet-registered sessions buffered at once.
    pub pending_sessions: usize,
    /// Bytes buffered for all not-yet-registered sessions together.
    pub pending_bytes_total: usize,
    /// Sessions with participants registered at once; beyond it registration fails with
    /// [`RegisterError::TooManySessions`].
    pub active_sessions: usize,
    /// Finished session ids remembered at once; beyond it registration fails with
    /// [`RegisterError::TooManyRemembered`] until older ones expire.
    pub finished_sessions: usize,
    /// How long early messages wait for their session before they are dropped.
    pub pending_ttl: Duration,
    /// How long a finished session id is remembered (late messages dropped, reuse refused).
    pub finished_ttl: Duration,
    /// Capacity of each session's inbox.
    pub inbox_capacity: usize,
}

impl Default for RouterLimits {
    fn default() -> Self {
        Self {
            pending_messages_per_session: 512,
            pending_bytes_per_session: 64 * 1024 * 1024,
            pending_sessions: 1024,
            pending_bytes_total: 256 * 1024 * 1024,
            active_sessions: 1024,
            finished_sessions: 262_144,
            pending_ttl: Duration::from_secs(120),
            finished_ttl: Duration::from_secs(600),
            inbox_capacity: 1024,
        }
    }
}

/// What happened to a delivered message; the caller logs and counts it.
#[derive(Debug, PartialEq, Eq)]
pub enum Routed {
    /// Handed to the running session.
    Delivered,
    /// Kept until the session is registered.
    Buffered,
    /// The session has finished; the message is late.
    LateForFinishedSession,
    /// The sender is not a participant of the session.
    NotAParticipant,
    /// This `(sender, seq)` was seen before in this session.
    Replay,
    /// Buffer or inbox limits were hit; the message was dropped.
    Overloaded,
}

/// Why a session could not be registered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegisterError {
    /// The id is in use or was used recently.
    #[error("session id is already in use or was used recently")]
    Reused,
    /// The node runs as many sessions as it may.
    #[error("this node runs its maximum of {0} concurrent sessions")]
    TooManySessions(usize),
    /// The node remembers as many finished session ids as it may.
    #[error("this node remembers its maximum of {0} recent session ids")]
    TooManyRemembered(usize),
}

impl From<RegisterError> for NodeError {
    fn from(error: RegisterError) -> Self {
        let kind = match error {
            RegisterError::Reused => Io::SessionReused,
            RegisterError::TooManySessions(_) => Io::SessionLimit,
            RegisterError::TooManyRemembered(_) => Io::MemoryLimit,
        };
        NodeError::io(kind, error.to_string())
    }
}

/// The receiving end of a registered session. Dropping it marks the session finished.
#[derive(Debug)]
pub struct SessionInbox {
    key: SessionKey,
    rx: mpsc::Receiver<Opened>,
    router: Router,
}

impl SessionInbox {
    /// Waits for the next message of this session. Cancel safe.
    pub async fn recv(&mut self) -> Option<Opened> {
        self.rx.recv().await
    }

    /// The session this inbox belongs to.
    pub fn key(&self) -> SessionKey {
        self.key
    }
}

impl Drop for SessionInbox {
    fn drop(&mut self) {
        self.router.finish(self.key, Instant::now());
    }
}

#[derive(Debug)]
struct Active {
    participants: HashSet<String>,
    seen: HashSet<(String, u64)>,
    tx: mpsc::Sender<Opened>,
}

#[derive(Debug)]
struct Pending {
    since: Instant,
    bytes: usize,
    messages: Vec<Opened>,
}

#[derive(Debug, Default)]
struct State {
    active: HashMap<SessionKey, Active>,
    pending: HashMap<SessionKey, Pending>,
    /// Sum of `bytes` over `pending`.
    pending_bytes: usize,
    /// Entries of `active` with participants (protocol sessions, not markers).
    sessions: usize,
    finished: HashMap<SessionKey, Instant>,
    /// `finished` in the order its entries were written, so expiry pops from the front
    /// instead of scanning every remembered id on each registration.
    finished_order: VecDeque<(Instant, SessionKey)>,
}

/// Shared, cheaply cloneable router.
#[derive(Clone, Debug)]
pub struct Router {
    state: Arc<Mutex<State>>,
    limits: Arc<RouterLimits>,
}

impl Router {
    /// A router with the given limits.
    pub fn new(limits: RouterLimits) -> Self {
        Self {
            state: Arc::default(),
            limits: Arc::new(limits),
        }
    }

    /// The limits it was made with.
    pub fn limits(&self) -> &RouterLimits {
        &self.limits
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic while routing; the state is still consistent
        // (every mutation is a single map operation), so keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a session run by this node with its participants (node ids, may include this
    /// node) and hands over any messages that arrived early. A registration without
    /// participants is a marker (it receives nothing) and does not count as a session.
    pub fn register(
        &self,
        key: SessionKey,
        participants: impl IntoIterator<Item = String>,
        now: Instant,
    ) -> Result<SessionInbox, RegisterError> {
        let mut state = self.lock();
        prune(&mut state, &self.limits, now);
        if state.active.contains_key(&key) || state.finished.contains_key(&key) {
            return Err(RegisterError::Reused);
        }
        if state.finished.len() >= self.limits.finished_sessions {
            crate::metrics::limit_hit(crate::metrics::Limit::RememberedSessions);
            return Err(RegisterError::TooManyRemembered(
                self.limits.finished_sessions,
            ));
        }
        let participants: HashSet<String> = participants.into_iter().collect();
        let counted = !participants.is_empty();
        if counted && state.sessions >= self.limits.active_sessions {
            crate::metrics::limit_hit(crate::metrics::Limit::Sessions);
            return Err(RegisterError::TooManySessions(self.limits.active_sessions));
        }
        let (tx, rx) = mpsc::channel(self.limits.inbox_capacity);
        let mut active = Active {
            participants,
            seen: HashSet::new(),
            tx,
        };
        if counted {
            state.sessions += 1;
        }
        if let Some(pending) = state.pending.remove(&key) {
            state.pending_bytes -= pending.bytes;
            for message in pending.messages {
                // Outcomes of early messages are as for live ones; drops are counted there.
                let _ = offer(&mut active, message);
            }
        }
        state.active.insert(key, active);
        Ok(SessionInbox {
            key,
            rx,
            router: self.clone(),
        })
    }

    /// Routes one verified envelope.
    pub fn route(&self, message: Opened, now: Instant) -> Routed {
        let key = (message.header.channel, message.header.session);
        let mut state = self.lock();
        if let Some(active) = state.active.get_mut(&key) {
            return offer(active, message);
        }
        if state.finished.contains_key(&key) {
            return Routed::LateForFinishedSession;
        }
        prune(&mut state, &self.limits, now);
        let size = message.payload.len();
        // Room for a new early message: the oldest early messages of other sessions give way
        // (a session starts moments after its first messages arrive, so old ones are the least
        // likely to be claimed), so a flood that has stopped no longer blocks real sessions.
        while !state.pending.contains_key(&key)
            && state.pending.len() >= self.limits.pending_sessions
        {
            if !evict_oldest(&mut state, &key) {
                return Routed::Overloaded;
            }
        }
        while state.pending_bytes + size > self.limits.pending_bytes_total {
            crate::metrics::limit_hit(crate::metrics::Limit::EarlyBytes);
            if !evict_oldest(&mut state, &key) {
                return Routed::Overloaded;
            }
        }
        let pending = state.pending.entry(key).or_insert_with(|| Pending {
            since: now,
            bytes: 0,
            messages: Vec::new(),
        });
        if pending.messages.len() >= self.limits.pending_messages_per_session
            || pending.bytes + size > self.limits.pending_bytes_per_session
        {
            return Routed::Overloaded;
        }
        pending.bytes += size;
        pending.messages.push(message);
        state.pending_bytes += size;
        Routed::Buffered
    }

    fn finish(&self, key: SessionKey, now: Instant) {
        let mut state = self.lock();
        if let Some(active) = state.active.remove(&key) {
            if !active.participants.is_empty() {
                state.sessions -= 1;
            }
        }
        if let Some(pending) = state.pending.remove(&key) {
            state.pending_bytes -= pending.bytes;
        }
        state.finished.insert(key, now);
        state.finished_order.push_back((now, key));
    }
}

fn offer(active: &mut Active, message: Opened) -> Routed {
    let from = &message.header.from;
    if !active.participants.contains(from) {
        return Routed::NotAParticipant;
    }
    if !active.seen.insert((from.clone(), message.header.seq)) {
        return Routed::Replay;
    }
    match active.tx.try_send(message) {
        Ok(()) => Routed::Delivered,
        // A closed inbox means the session just ended; a full one means a peer floods us.
        Err(_) => Routed::Overloaded,
    }
}

/// Drops the early messages of the session (other than `keep`) that started waiting first,
/// counting each as overloaded; false when there is none.
fn evict_oldest(state: &mut State, keep: &SessionKey) -> bool {
    let oldest = state
        .pending
        .iter()
        .filter(|(key, _)| *key != keep)
        .min_by_key(|(_, pending)| pending.since)
        .map(|(key, _)| *key);
    let Some(pending) = oldest.and_then(|key| state.pending.remove(&key)) else {
        return false;
    };
    state.pending_bytes -= pending.bytes;
    for _ in &pending.messages {
        crate::metrics::message_dropped(crate::metrics::Dropped::Overloaded);
    }
    tracing::debug!(
        messages = pending.messages.len(),
        bytes = pending.bytes,
        "early messages of the longest-waiting session dropped to make room"
    );
    true
}

fn prune(state: &mut State, limits: &RouterLimits, now: Instant) {
    let mut dropped = 0;
    state.pending.retain(|_, p| {
        let keep = now.saturating_duration_since(p.since) < limits.pending_ttl;
        if !keep {
            dropped += p.bytes;
        }
        keep
    });
    state.pending_bytes -= dropped;
    while let Some(&(at, key)) = state.finished_order.front() {
        if now.saturating_duration_since(at) < limits.finished_ttl {
            break;
        }
        state.finished_order.pop_front();
        // A later write of the same id has its own entry further back.
        if state.finished.get(&key) == Some(&at) {
            state.finished.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::envelope::Header;

    fn message(session: u8, from: &str, seq: u64) -> Opened {
        Opened {
            header: Header {
                channel: Channel(1),
                session: [session; 32],
                round: 1,
                seq,
                broadcast: true,
                from: from.into(),
                to: "me".into(),
            },
            payload: vec![seq as u8],
        }
    }

    fn key(session: u8) -> SessionKey {
        (Channel(1), [session; 32])
    }

    fn participants() -> Vec<String> {
        vec!["me".into(), "a".into(), "b".into()]
    }

    #[tokio::test]
    async fn messages_that_arrive_before_registration_are_delivered_at_registration() {
        let router = Router::new(RouterLimits::default());
        let now = Instant::now();
        assert_eq!(router.route(message(1, "a", 0), now), Routed::Buffered);
        assert_eq!(router.route(message(1, "b", 0), now), Routed::Buffered);
        let mut inbox = router.register(key(1), participants(), now).unwrap();
        assert_eq!(inbox.recv().await.unwrap().header.from, "a");
        assert_eq!(inbox.recv().await.unwrap().header.from, "b");
        assert_eq!(router.route(message(1, "a", 1), now), Routed::Delivered);
        assert_eq!(inbox.recv().await.unwrap().header.seq, 1);
    }

    #[test]
    fn replayed_and_foreign_messages_are_dropped() {
        let router = Router::new(RouterLimits::default());
        let now = Instant::now();
        let _inbox = router.register(key(1), participants(), now).unwrap();
        assert_eq!(router.route(message(1, "a", 5), now), Routed::Delivered);
        assert_eq!(router.route(message(1, "a", 5), now), Routed::Replay);
        assert_eq!(
            router.route(message(1, "mallory", 0), now),
            Routed::NotAParticipant
        );
    }

    #[test]
    fn a_finished_session_rejects_late_messages_and_reuse_of_its_id() {
        let router = Router::new(RouterLimits::default());
        let now = Instant::now();
        drop(router.register(key(1), participants(), now).unwrap());
        assert_eq!(
            router.route(message(1, "a", 0), now),
            Routed::LateForFinishedSession
        );
        assert_eq!(
            router.register(key(1), participants(), now).unwrap_err(),
            RegisterError::Reused
        );
    }

    #[test]
    fn early_message_buffers_are_bounded_and_expire() {
        let limits = RouterLimits {
            pending_messages_per_session: 2,
            pending_sessions: 1,
            pending_ttl: Duration::from_secs(1),
            ..RouterLimits::default()
        };
        let router = Router::new(limits);
        let now = Instant::now();
        assert_eq!(router.route(message(1, "a", 0), now), Routed::Buffered);
        assert_eq!(router.route(message(1, "a", 1), now), Routed::Buffered);
        assert_eq!(router.route(message(1, "a", 2), now), Routed::Overloaded);
        // A second session makes the longest-waiting one give way.
        let soon = now + Duration::from_millis(1);
        assert_eq!(router.route(message(2, "a", 0), soon), Routed::Buffered);
        let evicted = router.register(key(1), participants(), soon).unwrap();
        assert!(
            evicted.rx.is_empty(),
            "session 1's early messages were dropped"
        );
        // Expired early messages are dropped too.
        let later = now + Duration::from_secs(2);
        let expired = router.register(key(2), participants(), later).unwrap();
        assert!(expired.rx.is_empty());
    }

    #[test]
    fn early_messages_are_bounded_in_bytes_across_sessions() {
        let router = Router::new(RouterLimits {
            pending_bytes_total: 2,
            ..RouterLimits::default()
        });
        let now = Instant::now();
        let at = |ms: u64| now + Duration::from_millis(ms);
        assert_eq!(router.route(message(1, "a", 0), at(0)), Routed::Buffered);
        assert_eq!(router.route(message(2, "a", 0), at(1)), Routed::Buffered);
        // Full: the longest-waiting session's bytes give way to the newcomer.
        assert_eq!(router.route(message(3, "a", 0), at(2)), Routed::Buffered);
        let first = router.register(key(1), participants(), at(3)).unwrap();
        assert!(first.rx.is_empty(), "session 1 was evicted");
        let second = router.register(key(2), participants(), at(3)).unwrap();
        assert_eq!(second.rx.len(), 1, "session 2 kept its message");
        // A session never evicts its own messages: beyond the bound it is refused.
        assert_eq!(router.route(message(3, "a", 1), at(4)), Routed::Buffered);
        assert_eq!(router.route(message(3, "a", 2), at(5)), Routed::Overloaded);
        // Registering a session hands its bytes over and frees room for others.
        let _third = router.register(key(3), participants(), at(6)).unwrap();
        assert_eq!(router.route(message(4, "a", 0), at(7)), Routed::Buffered);
        assert_eq!(router.route(message(5, "a", 0), at(8)), Routed::Buffered);
    }

    #[test]
    fn sessions_beyond_the_limit_are_refused_and_markers_do_not_count() {
        let router = Router::new(RouterLimits {
            active_sessions: 1,
            ..RouterLimits::default()
        });
        let now = Instant::now();
        let first = router.register(key(1), participants(), now).unwrap();
        assert_eq!(
            router.register(key(2), participants(), now).unwrap_err(),
            RegisterError::TooManySessions(1)
        );
        let failure = NodeError::from(RegisterError::TooManySessions(1));
        assert_eq!(failure.code(), mpcium_protocol::ErrorCode::ConcurrencyLimit);
        drop(router.register(key(3), Vec::new(), now).unwrap());
        drop(first);
        let _second = router.register(key(2), participants(), now).unwrap();
    }

    #[test]
    fn remembered_session_ids_are_bounded_and_never_forgotten_early() {
        let router = Router::new(RouterLimits {
            finished_sessions: 2,
            ..RouterLimits::default()
        });
        let now = Instant::now();
        drop(router.register(key(1), participants(), now).unwrap());
        drop(router.register(key(2), participants(), now).unwrap());
        let full = router.register(key(3), participants(), now).unwrap_err();
        assert_eq!(full, RegisterError::TooManyRemembered(2));
        assert_eq!(
            NodeError::from(full).code(),
            mpcium_protocol::ErrorCode::ResourceExhausted
        );
        assert_eq!(
            router.register(key(1), participants(), now).unwrap_err(),
            RegisterError::Reused
        );
        let later = now + RouterLimits::default().finished_ttl + Duration::from_secs(5);
        let _third = router.register(key(3), participants(), later).unwrap();
    }

    #[test]
    fn expired_session_ids_are_forgotten_oldest_first_without_a_scan() {
        let router = Router::new(RouterLimits::default());
        let ttl = RouterLimits::default().finished_ttl;
        let start = Instant::now();
        for (i, session) in (0..200u8).enumerate() {
            router.finish(key(session), start + Duration::from_secs(i as u64));
        }
        // 100 s past the first one's expiry: the first 101 are forgotten, the rest remembered.
        let later = start + ttl + Duration::from_secs(100);
        drop(
            router
                .register((Channel(9), [0; 32]), participants(), later)
                .unwrap(),
        );
        let state = router.lock();
        assert_eq!(state.finished.len(), 99 + 1);
        assert_eq!(state.finished_order.len(), state.finished.len());
        assert!(!state.finished.contains_key(&key(100)));
        assert!(state.finished.contains_key(&key(101)));
    }
}
