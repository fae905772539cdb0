//! A participant's side of one protocol run: registering the session so its messages are kept
//! ([`SessionIo`]), connecting it to a `tss` protocol, and running the CPU-heavy protocol future off
//! the async reactor under a deadline ([`run_protocol`]). Engine errors become [`NodeError`]s here,
//! with the blamed party indices turned into node ids.
//!
//! A CGGMP24 round can keep a core busy for seconds (aux info: tens of seconds). Polling such a
//! future on a runtime worker would stall every other task on that worker (NATS heartbeats,
//! health checks, other sessions), so each protocol runs on a blocking-pool thread that drives it
//! with the runtime's handle. The deadline is enforced inside, so a timed-out protocol is dropped
//! at its next await point and its thread is released; so is one whose caller stopped waiting
//! (an aborted session part).

use std::future::Future;
use std::time::{Duration, Instant};

use mpcium_tss::{delivery, Participants, ProtocolKind, SessionId, TssError};

use super::hold::Hold;
use super::liveness::Gone;
use super::router::SessionInbox;
use super::{wire, Sessions};
use crate::error::{BadRequest, Io, NodeError, ProtocolFault};
use crate::transport::bus::Bus;
use crate::transport::channel;

/// Why a protocol future did not produce its output.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunError {
    /// The deadline passed first.
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    /// These peers stopped being ready or restarted first: the session cannot finish.
    #[error("peers gone: {0}")]
    PeersGone(Gone),
    /// The protocol thread panicked (a bug); the panic message is not propagated.
    #[error("protocol task failed unexpectedly")]
    Panicked,
    /// The caller stopped waiting (the session part was aborted); nobody sees this result.
    #[error("abandoned by its caller")]
    Abandoned,
}

/// Builds a protocol future with `make` on a blocking thread and runs it to completion there, or
/// gives up after `deadline`, as soon as `gone` names peers that died (see [`Sessions::gone`]),
/// or when this future is dropped. The protocol future itself never crosses threads, so it need
/// not be `Send`.
pub async fn run_protocol<M, F, G>(
    deadline: Duration,
    gone: G,
    make: M,
) -> Result<F::Output, RunError>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
    G: Future<Output = Gone> + Send + 'static,
{
    let handle = tokio::runtime::Handle::current();
    // The protocol's log lines keep the session's span on the blocking thread.
    let span = tracing::Span::current();
    // Dropped with this future: the protocol then stops at its next await point instead of
    // waiting on its thread until the deadline.
    let (_waiting, caller_left) = tokio::sync::oneshot::channel::<()>();
    tokio::task::spawn_blocking(move || {
        let run = async move {
            tokio::select! {
                output = tokio::time::timeout(deadline, make()) => {
                    output.map_err(|_| RunError::TimedOut(deadline))
                }
                peers = gone => Err(RunError::PeersGone(peers)),
                _ = caller_left => Err(RunError::Abandoned),
            }
        };
        handle.block_on(tracing::Instrument::instrument(run, span))
    })
    .await
    .map_err(|_| RunError::Panicked)?
}

/// A registered session, ready to be connected to a protocol on the thread that runs it.
pub struct SessionIo {
    inbox: SessionInbox,
    bus: Bus,
    hold: Hold,
    kind: ProtocolKind,
    session: SessionId,
    parts: Participants,
    me: u16,
}

impl SessionIo {
    /// Registers the session with the router, so messages for it are kept from now on.
    pub fn open(
        sessions: &Sessions,
        kind: ProtocolKind,
        session: SessionId,
        parts: &Participants,
        me: u16,
    ) -> Result<Self, NodeError> {
        let channel = channel::of_protocol(kind);
        let inbox = sessions
            .router()
            .register(
                (channel, *session.as_bytes()),
                parts.nodes().to_vec(),
                Instant::now(),
            )
            .map_err(NodeError::from)?;
        Ok(Self {
            inbox,
            bus: sessions.bus().clone(),
            hold: sessions.hold().clone(),
            kind,
            session,
            parts: parts.clone(),
            me,
        })
    }

    /// The `round_based` party handle a protocol takes.
    pub fn party<M>(self) -> round_based::MpcParty<M, impl round_based::Delivery<M>>
    where
        M: round_based::ProtocolMessage + serde::Serialize + serde::de::DeserializeOwned + Unpin,
    {
        let n = self.parts.len();
        let incoming = wire::incoming(self.inbox, self.session, self.parts.clone());
        let outgoing = wire::outgoing(self.bus, self.kind, self.parts, self.hold);
        delivery::connect::<M, _, _>(self.session, self.me, n, incoming, outgoing)
    }
}

/// The ordered participants of a session and this node's index among them.
pub fn participants(me: &str, nodes: &[String]) -> Result<(Participants, u16), NodeError> {
    let parts = Participants::new(nodes.to_vec())
        .map_err(|e| NodeError::bad_request(BadRequest::IncompatiblePeers, e.to_string()))?;
    let index = parts.index_of(me).ok_or_else(|| {
        NodeError::bad_request(
            BadRequest::NotAParticipant,
            "this node is not a participant of the session",
        )
    })?;
    Ok((parts, index))
}

/// An engine error as a [`NodeError`] of protocol `kind`, naming blamed parties by node id.
pub fn engine_error(kind: ProtocolFault, parts: &Participants, error: TssError) -> NodeError {
    let culprits = error
        .culprits()
        .iter()
        .filter_map(|i| parts.node(*i))
        .map(str::to_owned)
        .collect();
    NodeError::Protocol {
        kind,
        culprits,
        reason: error.to_string(),
    }
}

/// A [`RunError`] of the protocol `what` as a [`NodeError`].
pub fn run_error(error: RunError, what: &str) -> NodeError {
    match error {
        RunError::TimedOut(after) => NodeError::Timeout {
            missing: Vec::new(),
            reason: format!("{what} did not finish within {after:?}: a participant did not answer"),
        },
        RunError::PeersGone(gone) => NodeError::Timeout {
            reason: format!("{what} abandoned: {gone}"),
            missing: gone.nodes(),
        },
        RunError::Panicked => NodeError::bug(format!("{what} failed unexpectedly")),
        RunError::Abandoned => NodeError::io(Io::SessionClosed, format!("{what} was abandoned")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_finished_protocol_returns_its_output() {
        assert_eq!(
            run_protocol(Duration::from_secs(5), std::future::pending(), || async {
                7
            })
            .await,
            Ok(7)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_stuck_protocol_times_out() {
        assert_eq!(
            run_protocol(
                Duration::from_millis(20),
                std::future::pending(),
                std::future::pending::<()>
            )
            .await,
            Err(RunError::TimedOut(Duration::from_millis(20)))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_protocol_whose_peer_is_gone_stops_naming_it() {
        let restarted = Gone {
            lapsed: vec![],
            restarted: vec!["node-b".to_owned()],
        };
        let gone = std::future::ready(restarted.clone());
        let error = run_protocol(Duration::from_secs(60), gone, std::future::pending::<()>)
            .await
            .unwrap_err();
        assert_eq!(error, RunError::PeersGone(restarted));
        let NodeError::Timeout { missing, reason } = run_error(error, "signing") else {
            panic!("not a timeout");
        };
        assert_eq!(missing, vec!["node-b".to_owned()]);
        assert_eq!(
            reason,
            "signing abandoned: node-b restarted (new incarnation)"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_protocol_whose_caller_stops_waiting_is_dropped_at_once() {
        struct Dropped(Option<tokio::sync::oneshot::Sender<()>>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                if let Some(tx) = self.0.take() {
                    let _ = tx.send(());
                }
            }
        }
        let (tx, dropped) = tokio::sync::oneshot::channel();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let run = tokio::spawn(run_protocol(
            Duration::from_secs(3600),
            std::future::pending(),
            move || async move {
                let _guard = Dropped(Some(tx));
                let _ = started_tx.send(());
                std::future::pending::<()>().await
            },
        ));
        started.await.expect("the protocol started");
        run.abort();
        tokio::time::timeout(Duration::from_secs(10), dropped)
            .await
            .expect("the protocol was dropped, not left to its 1 h deadline")
            .expect("dropped");
    }
}
