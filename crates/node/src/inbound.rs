//! The participant's entry: every verified envelope the transport yields goes either to the
//! operations (a coordinator's order to start a session) or to the session router (everything
//! else). Routing is cheap; each fresh start runs on a task of its own, at most
//! `max_concurrent_sessions` of them at once: a start beyond that is counted and answered at once
//! with `ERROR_CONCURRENCY_LIMIT` (so its coordinator fails promptly, not at its deadline), and
//! a flood of starts cannot grow the tasks without bound.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::context::NodeContext;
use crate::metrics::{Dropped, Limit};
use crate::ops;
use crate::session::abort::{abort_session, Abort};
use crate::session::router::Routed;
use crate::transport::bus::Inbound;
use crate::transport::channel::{ABORT, START};
use crate::transport::envelope::Opened;

/// Routes `inbound` until it ends; session starts are spawned on `tasks`, at most `max_starts`
/// at once.
pub async fn route(
    ctx: Arc<NodeContext>,
    mut inbound: Inbound,
    tasks: TaskTracker,
    max_starts: usize,
) {
    let starts = Arc::new(Semaphore::new(max_starts));
    while let Some(opened) = inbound.recv().await {
        if opened.header.channel == START {
            let Some(start) = ops::admit_start(&ctx, &opened) else {
                continue;
            };
            let coordinator = opened.header.from;
            match starts.clone().try_acquire_owned() {
                Ok(permit) => {
                    let ctx = ctx.clone();
                    tasks.spawn(async move {
                        ops::handle_start(ctx, coordinator, start).await;
                        drop(permit);
                    });
                }
                Err(_) => {
                    crate::metrics::limit_hit(Limit::Sessions);
                    crate::metrics::message_dropped(Dropped::Overloaded);
                    if crate::log_limit::DROPPED.allow() {
                        tracing::warn!(
                            from = %coordinator,
                            max_starts,
                            "refused a session start: this node runs max_concurrent_sessions session parts already"
                        );
                    }
                    ops::refuse_start(&ctx, coordinator, &start, max_starts).await;
                }
            }
            continue;
        }
        if opened.header.channel == ABORT {
            abort_part(&ctx, &opened);
            continue;
        }
        let from = opened.header.from.clone();
        let round = opened.header.round;
        let reason = match ctx.sessions.router().route(opened, Instant::now()) {
            Routed::Delivered | Routed::Buffered => continue,
            Routed::LateForFinishedSession => {
                tracing::debug!(%from, round, "dropped late message for a finished session");
                Dropped::Late
            }
            Routed::NotAParticipant => Dropped::NotAParticipant,
            Routed::Replay => Dropped::Replay,
            Routed::Overloaded => Dropped::Overloaded,
        };
        crate::metrics::message_dropped(reason);
        if reason != Dropped::Late && crate::log_limit::DROPPED.allow() {
            tracing::warn!(%from, round, ?reason, "dropped node message");
        }
    }
}

/// Stops this node's part of the session an abort names, if the abort comes from that session's
/// coordinator and the part is still running; otherwise there is nothing to do.
fn abort_part(ctx: &NodeContext, opened: &Opened) {
    let nonce = match serde_json::from_slice::<Abort>(&opened.payload) {
        Ok(abort) if opened.header.session == abort_session(&abort.nonce) => abort.nonce,
        _ => {
            crate::metrics::message_dropped(Dropped::MalformedControl);
            if crate::log_limit::DROPPED.allow() {
                tracing::warn!(from = %opened.header.from, "dropped malformed abort");
            }
            return;
        }
    };
    if ctx.sessions.aborts().abort(&nonce, &opened.header.from) {
        tracing::debug!(%nonce, from = %opened.header.from, "aborting a session part");
    }
}
