//! The participant's entry: every verified envelope the transport yields goes either to the
//! operations (a coordinator's order to start a session) or to the session router (everything
//! else). Routing is synchronous and cheap; each start runs on a task of its own.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::task::TaskTracker;

use crate::context::NodeContext;
use crate::metrics::Dropped;
use crate::ops;
use crate::session::router::Routed;
use crate::transport::bus::Inbound;
use crate::transport::channel::START;

/// Routes `inbound` until it ends; session starts are spawned on `tasks`.
pub async fn route(ctx: Arc<NodeContext>, mut inbound: Inbound, tasks: TaskTracker) {
    while let Some(opened) = inbound.recv().await {
        if opened.header.channel == START {
            tasks.spawn(ops::handle_start(ctx.clone(), opened));
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
        if reason != Dropped::Late {
            tracing::warn!(%from, round, ?reason, "dropped node message");
        }
    }
}
