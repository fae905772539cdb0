//! The request consumers: pull client requests from a durable JetStream consumer (or take them
//! from the reference's core-NATS resharing subject), answer each on a task of its own, publish
//! exactly one result, and tell JetStream what became of the message.
//!
//! Ack policy: `ack` once the result is published (stored first when final); `Nak` with a delay
//! when it could not be published or another node holds the request's reservation
//! ([`super::reserve`]), so the request is delivered again; `Term` for input that names
//! no request (it can never be answered); `Progress` every [`PROGRESS_EVERY`] while a request runs,
//! so JetStream does not redeliver it to another node meanwhile.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind, Message};
use futures::StreamExt;
use mpcium_protocol::subjects::{result_msg_id, CLIENT_ID_HEADER};
use mpcium_protocol::ClientId;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::answer::{answer, Answer};
use super::streams::{ensure_request_stream, publish_result, request_consumer, JetStreamError};
use crate::context::NodeContext;
use crate::session::control::Operation;

/// How often a long-running request is reported to JetStream as still in progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// How long JetStream waits before redelivering a request whose result could not be published.
const REDELIVER_AFTER: Duration = Duration::from_secs(5);

/// Shortest and longest pause before a request consumer that stopped is re-created.
const RESTART_MIN: Duration = Duration::from_millis(200);
const RESTART_MAX: Duration = Duration::from_secs(10);

/// Which request consumers are receiving messages right now; `/readyz` and the
/// `mpcium_request_consumers_up` gauge report it.
#[derive(Debug, Default)]
pub struct ConsumerHealth {
    up: Mutex<BTreeMap<&'static str, bool>>,
}

impl ConsumerHealth {
    /// Counts `name` as a consumer the node should have, down until it is started.
    pub fn expect(&self, name: &'static str) {
        self.set(name, false);
    }

    fn set(&self, name: &'static str, up: bool) {
        self.up
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name, up);
        crate::metrics::set_consumer_up(name, up);
    }

    /// `(up, expected)` consumers.
    pub fn counts(&self) -> (usize, usize) {
        let up = self
            .up
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (up.values().filter(|u| **u).count(), up.len())
    }

    /// Every expected consumer is up (false before any is expected).
    pub fn all_up(&self) -> bool {
        let (up, expected) = self.counts();
        expected > 0 && up == expected
    }
}

/// A durable request consumer: the stream it reads, its shared durable name and filter.
#[derive(Clone, Copy, Debug)]
pub struct Source {
    /// The operation its requests ask for.
    pub op: Operation,
    /// Request stream.
    pub stream: &'static str,
    /// Subjects of the stream (used when the stream has to be re-created).
    pub subjects: &'static str,
    /// Durable consumer name, shared by every node.
    pub durable: &'static str,
    /// At most this many requests in flight on this node.
    pub limit: usize,
}

/// Serves one request stream for as long as the node serves: (re-)creates the stream when it
/// is missing and the durable consumer, consumes it, and when its message stream ends or fails
/// re-creates both after a back-off (doubling from [`RESTART_MIN`] to [`RESTART_MAX`]). While
/// it is down `health` says so. In-flight requests are tracked by `tasks` and bounded by
/// `source.limit` across restarts.
pub async fn supervise(
    ctx: Arc<NodeContext>,
    js: jetstream::Context,
    source: Source,
    health: Arc<ConsumerHealth>,
    tasks: TaskTracker,
) {
    let permits = Arc::new(Semaphore::new(source.limit.max(1)));
    let mut pause = RESTART_MIN;
    loop {
        match open(&js, &source).await {
            Ok(messages) => {
                health.set(source.durable, true);
                tracing::info!(consumer = source.durable, "request consumer started");
                let started = Instant::now();
                serve(&ctx, &js, messages, &source, &permits, &tasks).await;
                if started.elapsed() > RESTART_MAX {
                    pause = RESTART_MIN;
                }
                health.set(source.durable, false);
            }
            Err(error) => {
                tracing::warn!(%error, consumer = source.durable, "cannot start request consumer")
            }
        }
        crate::metrics::consumer_restarted(source.durable);
        tracing::warn!(consumer = source.durable, retry_in = ?pause, "request consumer is down; re-creating it");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RESTART_MAX);
    }
}

async fn open(
    js: &jetstream::Context,
    source: &Source,
) -> Result<jetstream::consumer::pull::Stream, JetStreamError> {
    ensure_request_stream(js, source.stream, source.subjects).await?;
    let consumer = request_consumer(
        js,
        source.stream,
        source.durable,
        source.subjects,
        source.limit,
    )
    .await?;
    consumer
        .messages()
        .await
        .map_err(|e| JetStreamError::new(format!("consume {}", source.durable), e))
}

/// Serves messages until the stream ends or fails.
async fn serve(
    ctx: &Arc<NodeContext>,
    js: &jetstream::Context,
    mut messages: jetstream::consumer::pull::Stream,
    source: &Source,
    permits: &Arc<Semaphore>,
    tasks: &TaskTracker,
) {
    while let Some(next) = messages.next().await {
        let message = match next {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, consumer = source.durable, "request stream failed");
                return;
            }
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let ctx = ctx.clone();
        let js = js.clone();
        let op = source.op;
        tasks.spawn(
            async move {
                handle(&ctx, &js, &message, op).await;
                drop(permit);
            }
            .instrument(request_span(op)),
        );
    }
}

/// Name under which the core-NATS reshare subscription is reported in [`ConsumerHealth`].
pub const CORE_RESHARE: &str = "mpc:reshare";

/// Serves a core-NATS request subject (the reference's `mpc:reshare`) through a queue
/// subscription, so exactly one node takes each request, re-subscribing with back-off when the
/// subscription ends. There is no redelivery: the published result is the only answer, also
/// for failures.
#[allow(clippy::too_many_arguments)]
pub async fn supervise_core(
    ctx: Arc<NodeContext>,
    client: async_nats::Client,
    js: jetstream::Context,
    subject: &'static str,
    queue_group: &'static str,
    limit: usize,
    health: Arc<ConsumerHealth>,
    tasks: TaskTracker,
) {
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    let mut pause = RESTART_MIN;
    loop {
        match client
            .queue_subscribe(subject, queue_group.to_owned())
            .await
        {
            Ok(requests) => {
                health.set(CORE_RESHARE, true);
                let started = Instant::now();
                serve_core(&ctx, &js, requests, &permits, &tasks).await;
                if started.elapsed() > RESTART_MAX {
                    pause = RESTART_MIN;
                }
                health.set(CORE_RESHARE, false);
            }
            Err(error) => tracing::warn!(%error, subject, "cannot subscribe to requests"),
        }
        crate::metrics::consumer_restarted(CORE_RESHARE);
        tracing::warn!(subject, retry_in = ?pause, "request subscription ended; re-subscribing");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RESTART_MAX);
    }
}

/// Serves a core subscription until it ends.
async fn serve_core(
    ctx: &Arc<NodeContext>,
    js: &jetstream::Context,
    mut requests: async_nats::Subscriber,
    permits: &Arc<Semaphore>,
    tasks: &TaskTracker,
) {
    let op = Operation::Reshare;
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
    /// The result is published (and stored when final).
    Published,
    /// Nothing identifies the request: it cannot be answered, only dropped for good.
    Unanswerable,
    /// No result was published (it could not be, or another node answers the request); the
    /// request should be delivered again.
    NotPublished,
}

/// Answers a request and publishes the result (a final one is stored by then).
async fn respond(
    ctx: &NodeContext,
    js: &jetstream::Context,
    payload: &[u8],
    client_id: Option<&ClientId>,
    op: Operation,
) -> Responded {
    let started = Instant::now();
    let reply = match answer(ctx, op, payload, client_id).await {
        Answer::Reply(reply) => reply,
        Answer::Unanswerable => {
            crate::metrics::message_dropped(crate::metrics::Dropped::UnidentifiableRequest);
            if crate::log_limit::DROPPED.allow() {
                tracing::warn!(?op, "terminated an undecodable request that names no id");
            }
            return Responded::Unanswerable;
        }
        Answer::Redeliver(reason) => {
            tracing::warn!(?op, %reason, "no result from this node; the request will be redelivered");
            return Responded::NotPublished;
        }
    };
    crate::metrics::request_finished(
        op,
        reply.key_type,
        reply.error_code.as_ref(),
        started.elapsed(),
    );
    tracing::Span::current().record("id", reply.id.as_str());
    // Unique per handling: a retried publish of this result is absorbed by JetStream, while a
    // repeated request gets its (stored) result published again.
    let delivery = uuid::Uuid::new_v4().simple().to_string();
    let msg_id = result_msg_id(reply.kind, client_id, &reply.id, Some(&delivery));
    if let Err(error) = publish_result(js, reply.subject.clone(), &msg_id, reply.payload).await {
        tracing::error!(%error, "cannot publish result; the request will be redelivered");
        return Responded::NotPublished;
    }
    Responded::Published
}
