//! Running a session as its coordinator, and the control traffic around every session: the
//! coordinator orders each participant to start ([`run`]) and, when it gives the session up,
//! tells those that have not reported to stop ([`super::abort`]); participants accept an order
//! once ([`accept_start`]) and report how their part ended ([`report`]).

use std::time::{Duration, Instant};

use super::abort::{abort_session, Abort};
use super::control::{self, Outcome, Output, Start};
use super::Sessions;
use crate::error::{Io, NodeError};
use crate::transport::channel::{ABORT, OUTCOME, START};
use crate::transport::envelope::Header;

/// Orders every participant of `start` to run it and waits for all their outcomes.
/// Returns each participant's output in participant order, or the first failure reported, or a
/// timeout naming the participants that did not answer — at the deadline, or as soon as one of
/// them stops being ready or restarts (its incarnation is compared with the one it had when the
/// starts were sent). On failure, participants that have not reported are told to stop.
pub async fn run(
    sessions: &Sessions,
    start: Start,
    deadline: Duration,
) -> Result<Vec<Output>, NodeError> {
    let mut reported = vec![false; start.participants.len()];
    let result = run_reporting(sessions, &start, deadline, &mut reported).await;
    if result.is_err() {
        let unreported = start
            .participants
            .iter()
            .zip(&reported)
            .filter(|(_, done)| !**done)
            .map(|(p, _)| p);
        for participant in unreported {
            abort(sessions, &start.nonce, participant).await;
        }
    }
    result
}

/// Tells `participant` to stop its part of the session `nonce` (best effort: a part that
/// cannot be aborted ends by its own deadline).
async fn abort(sessions: &Sessions, nonce: &str, participant: &str) {
    let payload = match serde_json::to_vec(&Abort {
        nonce: nonce.to_owned(),
    }) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::error!(%error, "cannot encode an abort");
            return;
        }
    };
    let header = Header {
        channel: ABORT,
        session: abort_session(nonce),
        round: 0,
        seq: 0,
        broadcast: false,
        from: sessions.me().to_owned(),
        to: participant.to_owned(),
    };
    if let Err(error) = sessions.bus().send(&header, &payload).await {
        tracing::debug!(%participant, %error, "cannot send an abort");
    }
}

/// [`run`], marking in `reported` each participant whose outcome arrived.
async fn run_reporting(
    sessions: &Sessions,
    start: &Start,
    deadline: Duration,
    reported: &mut [bool],
) -> Result<Vec<Output>, NodeError> {
    let outcome_key = (OUTCOME, control::outcome_session(&start.nonce));
    let mut inbox = sessions
        .router()
        .register(outcome_key, start.participants.clone(), Instant::now())
        .map_err(NodeError::from)?;
    let payload =
        serde_json::to_vec(start).map_err(|e| NodeError::io(Io::Encode, e.to_string()))?;
    tracing::debug!(
        operation = ?start.operation,
        nonce = %start.nonce,
        participants = %start.participants.join(","),
        "coordinating session"
    );
    // Taken before the starts go out: a participant restarted from here on lost its session.
    let gone = sessions.gone(&start.participants);
    for participant in &start.participants {
        let header = Header {
            channel: START,
            session: control::start_session(&start.nonce),
            round: 0,
            seq: 0,
            broadcast: false,
            from: sessions.me().to_owned(),
            to: participant.clone(),
        };
        sessions.bus().send(&header, &payload).await.map_err(|e| {
            NodeError::io(
                Io::PeerUnreachable,
                format!("cannot reach {participant}: {e}"),
            )
        })?;
    }

    let mut outputs: Vec<Option<Output>> = vec![None; start.participants.len()];
    let collect = async {
        while outputs.iter().any(Option::is_none) {
            let Some(opened) = inbox.recv().await else {
                return Err(NodeError::io(Io::SessionClosed, "outcome inbox closed"));
            };
            let Ok(outcome) = serde_json::from_slice::<Outcome>(&opened.payload) else {
                crate::metrics::message_dropped(crate::metrics::Dropped::MalformedControl);
                if crate::log_limit::DROPPED.allow() {
                    tracing::warn!(from = %opened.header.from, "dropped malformed outcome");
                }
                continue;
            };
            if outcome.nonce != start.nonce {
                continue;
            }
            let Some(slot) = start
                .participants
                .iter()
                .position(|p| *p == opened.header.from)
            else {
                continue;
            };
            reported[slot] = true;
            match outcome.result {
                Ok(output) => outputs[slot] = Some(output),
                Err(failure) => return Err(NodeError::reported_by(&opened.header.from, failure)),
            }
        }
        Ok(())
    };
    let waited = tokio::select! {
        collected = tokio::time::timeout(deadline, collect) => collected,
        gone = gone => {
            return Err(NodeError::Timeout {
                reason: format!("{gone} before the session finished"),
                missing: gone.nodes(),
            })
        }
    };
    match waited {
        Ok(Ok(())) => Ok(outputs.into_iter().flatten().collect()),
        Ok(Err(error)) => Err(error),
        Err(_) => {
            let missing: Vec<String> = start
                .participants
                .iter()
                .zip(&outputs)
                .filter(|(_, o)| o.is_none())
                .map(|(p, _)| p.clone())
                .collect();
            Err(NodeError::Timeout {
                reason: format!(
                    "no outcome within {deadline:?} from: {}",
                    missing.join(", ")
                ),
                missing,
            })
        }
    }
}

/// Whether the start order with `nonce` is new on this node; a start is accepted once, so a
/// replayed order is refused for as long as the router remembers finished sessions.
pub fn accept_start(sessions: &Sessions, nonce: &str) -> bool {
    let key = (START, control::start_session(nonce));
    match sessions.router().register(key, [], Instant::now()) {
        Ok(marker) => {
            drop(marker);
            true
        }
        // Reused: a replay. Out of room to remember it: refuse rather than forget. (A marker
        // is not a session, so the session limit does not apply.)
        Err(_) => false,
    }
}

/// Reports to `coordinator` how this node's part of the session started with `nonce` ended.
pub async fn report(
    sessions: &Sessions,
    coordinator: String,
    nonce: &str,
    result: Result<Output, NodeError>,
) {
    let outcome = Outcome {
        nonce: nonce.to_owned(),
        result: result.map_err(|e| e.to_failure()),
    };
    let payload = match serde_json::to_vec(&outcome) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::error!(%error, "cannot encode outcome");
            return;
        }
    };
    let header = Header {
        channel: OUTCOME,
        session: control::outcome_session(nonce),
        round: 0,
        seq: 0,
        broadcast: false,
        from: sessions.me().to_owned(),
        to: coordinator,
    };
    if let Err(error) = sessions.bus().send(&header, &payload).await {
        tracing::error!(%error, "cannot report session outcome to the coordinator");
    }
}
