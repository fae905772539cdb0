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

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

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
    finished: HashMap<SessionKey, Instant>,
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

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic while routing; the state is still consistent
        // (every mutation is a single map operation), so keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a session run by this node with its participants (node ids, may include this
    /// node) and hands over any messages that arrived early.
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
        let (tx, rx) = mpsc::channel(self.limits.inbox_capacity);
        let mut active = Active {
            participants: participants.into_iter().collect(),
            seen: HashSet::new(),
            tx,
        };
        if let Some(pending) = state.pending.remove(&key) {
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
        if !state.pending.contains_key(&key) && state.pending.len() >= self.limits.pending_sessions
        {
            return Routed::Overloaded;
        }
        let pending = state.pending.entry(key).or_insert_with(|| Pending {
            since: now,
            bytes: 0,
            messages: Vec::new(),
        });
        let size = message.payload.len();
        if pending.messages.len() >= self.limits.pending_messages_per_session
            || pending.bytes + size > self.limits.pending_bytes_per_session
        {
            return Routed::Overloaded;
        }
        pending.bytes += size;
        pending.messages.push(message);
        Routed::Buffered
    }

    fn finish(&self, key: SessionKey, now: Instant) {
        let mut state = self.lock();
        state.active.remove(&key);
        state.pending.remove(&key);
        state.finished.insert(key, now);
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

fn prune(state: &mut State, limits: &RouterLimits, now: Instant) {
    state
        .pending
        .retain(|_, p| now.saturating_duration_since(p.since) < limits.pending_ttl);
    state
        .finished
        .retain(|_, at| now.saturating_duration_since(*at) < limits.finished_ttl);
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
        assert_eq!(router.route(message(2, "a", 0), now), Routed::Overloaded);
        let later = now + Duration::from_secs(2);
        assert_eq!(router.route(message(2, "a", 0), later), Routed::Buffered);
    }
}
