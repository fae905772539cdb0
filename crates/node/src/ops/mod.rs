//! The operations a node runs, each with both halves in one place: the coordinator's
//! `coordinate` (a client request in, one result event out) and the participant's `participate`
//! (a session-start order in, this node's output out) — [`keygen`], [`sign`], [`aux`] (ECDSA
//! preparation), [`reshare`], the presignature pools of message-mode ECDSA signing
//! ([`presign`]) and [`import`] (wallets taken over from a Go mpcium cluster) — plus the wallet's
//! shares and keyinfo in the store ([`wallet`]).
//!
//! Operations decide *what* runs and check it against this node's own state; running sessions is
//! `crate::session`'s job, and answering the client (decoding, caching, replying) is
//! `crate::request`'s.

pub mod aux;
pub mod import;
pub mod keygen;
pub mod presign;
pub mod reshare;
pub mod sign;
pub mod wallet;

use std::sync::Arc;

use crate::context::NodeContext;
use crate::error::{Io, NodeError, ProtocolFault};
use crate::metrics::Dropped;
use crate::session::control::{Operation, Output, Start};
use crate::session::orchestrate;
use crate::transport::envelope::Opened;

/// Decodes a session-start order from a coordinator and checks it is fresh: `None` (dropped,
/// counted, logged) for a malformed, stale or replayed order, for which there is no session to
/// answer. Cheap and synchronous, so the transport's routing loop runs it itself.
pub fn admit_start(ctx: &NodeContext, opened: &Opened) -> Option<Start> {
    let coordinator = &opened.header.from;
    let start: Start = match serde_json::from_slice(&opened.payload) {
        Ok(start) => start,
        Err(error) => {
            crate::metrics::message_dropped(Dropped::MalformedControl);
            if crate::log_limit::DROPPED.allow() {
                tracing::warn!(%coordinator, %error, "dropped malformed session start");
            }
            return None;
        }
    };
    if let Err(refused) = ctx.start_window.check(&start) {
        crate::metrics::message_dropped(Dropped::Replay);
        if crate::log_limit::DROPPED.allow() {
            tracing::warn!(%coordinator, nonce = %start.nonce, %refused, "dropped stale or replayed session start");
        }
        return None;
    }
    if !orchestrate::accept_start(&ctx.sessions, &start.nonce) {
        crate::metrics::message_dropped(Dropped::Replay);
        if crate::log_limit::DROPPED.allow() {
            tracing::warn!(%coordinator, nonce = %start.nonce, "dropped replayed session start");
        }
        return None;
    }
    Some(start)
}

/// Answers an admitted `start` this node has no room to run with `ERROR_CONCURRENCY_LIMIT`, so
/// its coordinator fails at once instead of at its deadline.
pub async fn refuse_start(ctx: &NodeContext, coordinator: String, start: &Start, max: usize) {
    let busy = NodeError::io(
        Io::SessionLimit,
        format!("this node runs its maximum of {max} session parts"),
    );
    orchestrate::report(&ctx.sessions, coordinator, &start.nonce, Err(busy)).await;
}

/// Runs this node's part of the session an admitted `start` (from [`admit_start`]) orders and
/// reports the outcome to `coordinator`.
pub async fn handle_start(ctx: Arc<NodeContext>, coordinator: String, start: Start) {
    let span =
        tracing::info_span!("session", op = ?start.operation, nonce = %start.nonce, %coordinator);
    let in_flight = crate::metrics::session_started(start.operation);
    // Presignature refills wait while live session parts run.
    let live = (start.operation != Operation::Presign).then(|| ctx.presign.live());
    // Signing and presigning leave nothing half-done when stopped between two awaits; the
    // other operations always run to their own end.
    let mut watch = matches!(start.operation, Operation::Sign | Operation::Presign)
        .then(|| ctx.sessions.aborts().watch(&start.nonce, &coordinator));
    let part =
        tracing::Instrument::instrument(participate(ctx.clone(), &coordinator, &start), span);
    let result = match watch.as_mut() {
        None => part.await,
        Some(watch) => tokio::select! {
            result = part => result,
            () = watch.aborted() => {
                tracing::info!(nonce = %start.nonce, %coordinator, "session part aborted by its coordinator");
                return;
            }
        },
    };
    drop(in_flight);
    drop(live);
    if let Err(error) = &result {
        tracing::warn!(nonce = %start.nonce, code = %error.code(), reason = %error, "session part failed");
    }
    orchestrate::report(&ctx.sessions, coordinator, &start.nonce, result).await;
}

/// This node's part of the session `start` orders, unless another node than `coordinator`
/// holds the request's reservation.
async fn participate(
    ctx: Arc<NodeContext>,
    coordinator: &str,
    start: &Start,
) -> Result<Output, NodeError> {
    crate::request::reserve::admit(&ctx, coordinator, start).await?;
    match start.operation {
        Operation::AuxInfo => aux::participate(ctx, start).await,
        Operation::Keygen => keygen::participate(ctx, start).await,
        Operation::Sign => sign::participate(ctx, start).await,
        Operation::Reshare => reshare::participate::participate(ctx, start).await,
        Operation::ReshareCommit => reshare::participate::commit(ctx, start).await,
        Operation::Presign => presign::refill::participate(ctx, start).await,
        Operation::Import => import::participate(ctx, start).await,
    }
}

/// The one output every participant reported; a `kind` failure if there is none or they differ
/// on `what`.
fn agreed<'a>(
    outputs: &'a [Output],
    kind: ProtocolFault,
    what: &str,
) -> Result<&'a Output, NodeError> {
    let first = outputs.first().ok_or_else(|| {
        NodeError::protocol(kind.clone(), format!("no participant reported {what}"))
    })?;
    if outputs.iter().any(|o| o != first) {
        return Err(NodeError::protocol(
            kind,
            format!("participants disagree on {what}"),
        ));
    }
    Ok(first)
}
