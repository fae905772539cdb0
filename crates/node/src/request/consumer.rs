//! The request consumers: pull client requests from a durable JetStream consumer (or take them
//! from the reference's core-NATS resharing subject), answer each on a task of its own, publish
//! exactly one result, and tell JetStream what became of the message.
//!
//! Ack policy: `ack` once the result is published (cached first when final); `Nak` with a delay
//! when it could not be published, so the request is delivered again; `Term` for input that names
//! no request (it can never be answered); `Progress` every [`PROGRESS_EVERY`] while a request runs,
//! so JetStream does not redeliver it to another node meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::PullConsumer, AckKind, Message};
use futures::StreamExt;
use mpcium_protocol::subjects::{result_msg_id, CLIENT_ID_HEADER};
use mpcium_protocol::ClientId;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::answer::answer;
use super::streams::publish_result;
use crate::context::NodeContext;
use crate::results;
use crate::session::control::Operation;

/// How often a long-running request is reported to JetStream as still in progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// How long JetStream waits before redelivering a request whose result could not be published.
const REDELIVER_AFTER: Duration = Duration::from_secs(5);

/// Serves one request stream: at most `limit` requests in flight on this node, each tracked by
/// `tasks` so shutdown can wait for them. Returns when the consumer's message stream ends.
pub async fn serve(
    ctx: Arc<NodeContext>,
    js: jetstream::Context,
    consumer: PullConsumer,
    op: Operation,
    limit: usize,
    tasks: TaskTracker,
) {
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    let mut messages = match consumer.messages().await {
        Ok(messages) => messages,
        Err(error) => {
            tracing::error!(%error, ?op, "cannot consume requests");
            return;
        }
    };
    while let Some(next) = messages.next().await {
        let message = match next {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, ?op, "request stream error");
                continue;
            }
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let ctx = ctx.clone();
        let js = js.clone();
        tasks.spawn(
            async move {
                handle(&ctx, &js, &message, op).await;
                drop(permit);
            }
            .instrument(request_span(op)),
        );
    }
}

/// Serves a core-NATS request subject (the reference's `mpc:reshare`) through a queue
/// subscription, so exactly one node takes each request. There is no redelivery: the published
/// result is the only answer, also for failures.
pub async fn serve_core(
    ctx: Arc<NodeContext>,
    js: jetstream::Context,
    mut requests: async_nats::Subscriber,
    op: Operation,
    limit: usize,
    tasks: TaskTracker,
) {
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    while let Some(message) = requests.next().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let ctx = ctx.clone();
        let js = js.clone();
        tasks.spawn(
            async move {
                let client_id = client_of(message.headers.as_ref());
                if let Responded::NotPublished =
                    respond(&ctx, &js, &message.payload, client_id.as_ref(), op).await
                {
                    tracing::error!(?op, "a core-NATS request got no published result");
                }
                drop(permit);
            }
            .instrument(request_span(op)),
        );
    }
}

/// The span every log line of one client request carries: the operation, and the wallet,
/// transaction or session id once the request is decoded.
fn request_span(op: Operation) -> tracing::Span {
    tracing::info_span!("request", ?op, id = tracing::field::Empty)
}

fn client_of(headers: Option<&async_nats::HeaderMap>) -> Option<ClientId> {
    headers
        .and_then(|h| h.get(CLIENT_ID_HEADER))
        .and_then(|v| ClientId::new(v.as_str()).ok())
}

/// Answers one JetStream message and settles it.
async fn handle(ctx: &NodeContext, js: &jetstream::Context, message: &Message, op: Operation) {
    let client_id = client_of(message.headers.as_ref());
    let progress = async {
        loop {
            tokio::time::sleep(PROGRESS_EVERY).await;
            let _ = message.ack_with(AckKind::Progress).await;
        }
    };
    let work = respond(ctx, js, &message.payload, client_id.as_ref(), op);
    let responded = tokio::select! {
        responded = work => responded,
        _ = progress => return,
    };
    match responded {
        Responded::Published => {
            if let Err(error) = message.double_ack().await {
                tracing::warn!(%error, "cannot acknowledge request");
            }
        }
        Responded::Unanswerable => {
            let _ = message.ack_with(AckKind::Term).await;
        }
        Responded::NotPublished => {
            let _ = message.ack_with(AckKind::Nak(Some(REDELIVER_AFTER))).await;
        }
    }
}

/// How answering a request ended.
enum Responded {
    /// The result is published (and cached when final).
    Published,
    /// Nothing identifies the request: it cannot be answered, only dropped for good.
    Unanswerable,
    /// The result could not be published; the request should be delivered again.
    NotPublished,
}

/// Answers a request, caches a final result and publishes it.
async fn respond(
    ctx: &NodeContext,
    js: &jetstream::Context,
    payload: &[u8],
    client_id: Option<&ClientId>,
    op: Operation,
) -> Responded {
    let started = Instant::now();
    let Some(reply) = answer(ctx, op, payload, client_id).await else {
        tracing::warn!(?op, "terminated an undecodable request that names no id");
        return Responded::Unanswerable;
    };
    crate::metrics::request_finished(
        op,
        reply.key_type,
        reply.error_code.as_ref(),
        started.elapsed(),
    );
    tracing::Span::current().record("id", reply.id.as_str());
    // Cache before publishing: a client may repeat the request the moment it sees the result.
    if let Some(key) = &reply.cache_key {
        if let Err(error) =
            results::store(&ctx.registry, key, reply.cached(), ctx.result_cache_ttl).await
        {
            tracing::error!(%error, "cannot cache result; a repeated request would run again");
        }
    }
    // Unique per handling: a retried publish of this result is absorbed by JetStream, while a
    // repeated request gets its (cached) result published again.
    let delivery = uuid::Uuid::new_v4().simple().to_string();
    let msg_id = result_msg_id(reply.kind, client_id, &reply.id, Some(&delivery));
    if let Err(error) = publish_result(js, reply.subject.clone(), &msg_id, reply.payload).await {
        tracing::error!(%error, "cannot publish result; the request will be redelivered");
        return Responded::NotPublished;
    }
    Responded::Published
}
