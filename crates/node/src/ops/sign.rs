//! The coordinator side: a node that pulls a client request from JetStream checks it, picks the
//! participants, orders them to run the session, collects their outcomes, and publishes exactly
//! one result before it acknowledges the request.
//!
//! Every failure ends in a prompt error result with a code chosen where the failure arises.
//! Results are cached in the store by request key, so a repeated request (same wallet id for
//! keygen, same transaction id and content for signing) is answered with the same result again —
//! across restarts — and never produces a second key or signature.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::PullConsumer, AckKind, Message};
use futures::StreamExt;
use mpcium_protocol::subjects::{result_msg_id, ResultKind, CLIENT_ID_HEADER};
use mpcium_protocol::{
    ClientId, ErrorCode, GenerateKeyMessage, KeyType, KeygenResultEvent, SignTxMessage,
    SigningResultEvent,
};
use mpcium_tss::ecdsa::EcdsaPublicKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::aux;
use crate::context::NodeContext;
use crate::control::{self, Failure, Operation, Outcome, Output, Start};
use crate::jetstream::publish_result;
use crate::keys;
use crate::registry::{result_key, KeyInfo, Registry};
use crate::session::wire::{OUTCOME, START};
use crate::transport::envelope::Header;

/// How often a long-running request is reported to JetStream as still in progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Nodes whose readiness is current in the registry.
pub async fn ready_nodes(ctx: &NodeContext) -> Result<BTreeSet<String>, Failure> {
    ctx.registry.ready_nodes().await.map_err(|e| {
        Failure::new(
            ErrorCode::NetworkConnection,
            format!("cannot read readiness: {e}"),
        )
    })
}

/// Whether every node of the cluster is ready.
pub async fn all_ready(ctx: &NodeContext) -> Result<bool, Failure> {
    let ready = ready_nodes(ctx).await?;
    Ok(ctx.node_ids.iter().all(|n| ready.contains(n)))
}

/// Orders every participant of `start` to run it and waits for all their outcomes.
/// Returns each participant's output in participant order, or the first failure reported, or a
/// timeout naming the participants that did not answer.
pub async fn run_session(
    ctx: &NodeContext,
    start: Start,
    deadline: Duration,
) -> Result<Vec<Output>, Failure> {
    let outcome_key = (OUTCOME, control::outcome_session(&start.nonce));
    let mut inbox = ctx
        .router
        .register(outcome_key, start.participants.clone(), Instant::now())
        .map_err(|e| Failure::new(ErrorCode::SessionDuplicate, e.to_string()))?;
    let payload = serde_json::to_vec(&start)
        .map_err(|e| Failure::new(ErrorCode::MarshalFailure, e.to_string()))?;
    for participant in &start.participants {
        let header = Header {
            channel: START,
            session: control::start_session(&start.nonce),
            round: 0,
            seq: 0,
            broadcast: false,
            from: ctx.me.clone(),
            to: participant.clone(),
        };
        ctx.bus.send(&header, &payload).await.map_err(|e| {
            Failure::new(
                ErrorCode::PeerUnavailable,
                format!("cannot reach {participant}: {e}"),
            )
        })?;
    }

    let mut outputs: Vec<Option<Output>> = vec![None; start.participants.len()];
    let collect = async {
        while outputs.iter().any(Option::is_none) {
            let Some(opened) = inbox.recv().await else {
                return Err(Failure::new(
                    ErrorCode::SessionCleanup,
                    "outcome inbox closed",
                ));
            };
            let Ok(outcome) = serde_json::from_slice::<Outcome>(&opened.payload) else {
                tracing::warn!(from = %opened.header.from, "dropped malformed outcome");
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
            match outcome.result {
                Ok(output) => outputs[slot] = Some(output),
                Err(failure) => {
                    return Err(Failure {
                        code: failure.code,
                        reason: format!("node {}: {}", opened.header.from, failure.reason),
                        node: Some(opened.header.from.clone()),
                    })
                }
            }
        }
        Ok(())
    };
    match tokio::time::timeout(deadline, collect).await {
        Ok(Ok(())) => Ok(outputs.into_iter().flatten().collect()),
        Ok(Err(failure)) => Err(failure),
        Err(_) => {
            let silent: Vec<&str> = start
                .participants
                .iter()
                .zip(&outputs)
                .filter(|(_, o)| o.is_none())
                .map(|(p, _)| p.as_str())
                .collect();
            Err(Failure::new(
                ErrorCode::SessionTimeout,
                format!("no outcome within {deadline:?} from: {}", silent.join(", ")),
            ))
        }
    }
}

/// A published result, cached so a repeated request gets it again.
#[derive(Serialize, Deserialize)]
pub(crate) struct CachedResult {
    /// SHA-256 of the request bytes that produced it.
    pub(crate) request_digest: String,
    pub(crate) subject: String,
    pub(crate) payload: Vec<u8>,
}

/// Serves one request stream: at most `limit` requests in flight on this node, each tracked by
/// `tasks` so shutdown can wait for them.
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
        let span = request_span(op);
        tasks.spawn(
            async move {
                handle(&ctx, &js, &message, op).await;
                drop(permit);
            }
            .instrument(span),
        );
    }
}

fn client_of(headers: Option<&async_nats::HeaderMap>) -> Option<ClientId> {
    headers
        .and_then(|h| h.get(CLIENT_ID_HEADER))
        .and_then(|v| ClientId::new(v.as_str()).ok())
}

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
            let _ = message
                .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                .await;
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

/// Runs a request, caches a final result and publishes it.
async fn respond(
    ctx: &NodeContext,
    js: &jetstream::Context,
    payload: &[u8],
    client_id: Option<&ClientId>,
    op: Operation,
) -> Responded {
    let started = std::time::Instant::now();
    let reply = match op {
        Operation::Keygen => keygen(ctx, payload, client_id).await,
        Operation::Reshare => crate::reshare::request::reshare(ctx, payload, client_id).await,
        _ => sign(ctx, payload, client_id).await,
    };
    if let Some(reply) = &reply {
        crate::metrics::request_finished(
            op,
            reply.key_type,
            reply.error_code.as_ref(),
            started.elapsed(),
        );
    }
    let Some(reply) = reply else {
        tracing::warn!(?op, "terminated an undecodable request that names no id");
        return Responded::Unanswerable;
    };
    tracing::Span::current().record("id", reply.id.as_str());
    // Cache before publishing: a client may repeat the request the moment it sees the result.
    if let Some(key) = &reply.cache_key {
        let cached = CachedResult {
            request_digest: reply.request_digest.clone(),
            subject: reply.subject.clone(),
            payload: reply.payload.clone(),
        };
        if let Ok(bytes) = serde_json::to_vec(&cached) {
            if let Err(error) = ctx.registry.put(&result_key(key), &bytes).await {
                tracing::error!(%error, "cannot cache result; a repeated request would run again");
            }
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
        let span = request_span(op);
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
            .instrument(span),
        );
    }
}

/// The span every log line of one client request carries: the operation, and the wallet,
/// transaction or session id once the request is decoded.
fn request_span(op: Operation) -> tracing::Span {
    tracing::info_span!("request", ?op, id = tracing::field::Empty)
}

/// What to publish for a request.
pub(crate) struct Reply {
    /// The request's key type, when it names one (for metrics).
    pub(crate) key_type: Option<KeyType>,
    /// The published error code, `None` for a success (for metrics).
    pub(crate) error_code: Option<ErrorCode>,
    pub(crate) kind: ResultKind,
    /// The wallet or transaction id the result answers.
    pub(crate) id: String,
    pub(crate) subject: String,
    pub(crate) payload: Vec<u8>,
    pub(crate) request_digest: String,
    /// Set for results that must be returned again for a repeated request.
    pub(crate) cache_key: Option<String>,
}

/// The one output every participant reported; `code` if there is none or they differ on `what`.
fn agreed<'a>(outputs: &'a [Output], code: ErrorCode, what: &str) -> Result<&'a Output, Failure> {
    let first = outputs
        .first()
        .ok_or_else(|| Failure::new(code.clone(), format!("no participant reported {what}")))?;
    if outputs.iter().any(|o| o != first) {
        return Err(Failure::new(
            code,
            format!("participants disagree on {what}"),
        ));
    }
    Ok(first)
}

/// The result-cache key of a signing request.
pub(crate) fn signing_cache_key(tx_id: &str) -> String {
    format!("sign/{tx_id}")
}

pub(crate) fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A cached result for `key`, if the same request was answered before (by any node: the cache
/// lives in the shared registry). A different request under the same key gets a duplicate error.
pub(crate) async fn cached(
    ctx: &NodeContext,
    key: &str,
    request_digest: &str,
) -> Result<Option<CachedResult>, Failure> {
    let Some(bytes) = ctx
        .registry
        .get(&result_key(key))
        .await
        .map_err(|e| Failure::new(ErrorCode::StorageRead, format!("result cache: {e}")))?
    else {
        return Ok(None);
    };
    let cached: CachedResult = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::new(ErrorCode::DataCorruption, format!("cached result: {e}")))?;
    if cached.request_digest != request_digest {
        return Err(Failure::new(
            ErrorCode::SessionDuplicate,
            format!("{key} was already used by a different request"),
        ));
    }
    Ok(Some(cached))
}

pub(crate) fn from_cache(
    kind: ResultKind,
    key_type: Option<KeyType>,
    id: &str,
    cached: CachedResult,
) -> Reply {
    Reply {
        key_type,
        error_code: None,
        kind,
        id: id.to_owned(),
        subject: cached.subject,
        payload: cached.payload,
        request_digest: cached.request_digest,
        cache_key: None,
    }
}

async fn keygen(ctx: &NodeContext, payload: &[u8], client: Option<&ClientId>) -> Option<Reply> {
    let request = match GenerateKeyMessage::from_json(payload) {
        Ok(request) => request,
        Err(error) => {
            let wallet = lenient_field(payload, "wallet_id")?;
            let event =
                KeygenResultEvent::failure(wallet.clone(), error.error_code(), error.to_string());
            return Some(keygen_reply(client, &wallet, &event, payload, None));
        }
    };
    let wallet = request.wallet_id.clone();
    let cache_key = format!("keygen/{wallet}");
    let request_digest = digest(payload);
    let event = match keygen_result(ctx, &request, payload, &cache_key, &request_digest).await {
        Ok(Ok(event)) => event,
        Ok(Err(cached)) => return Some(from_cache(ResultKind::Keygen, None, &wallet, cached)),
        Err(failure) => {
            tracing::warn!(wallet_id = %wallet, code = %failure.code, reason = %failure.reason, "keygen failed");
            KeygenResultEvent::failure(wallet.clone(), failure.error_code(), failure.reason)
        }
    };
    // Only successes are final: a failed keygen may be retried with the same wallet id.
    let cache = (event.error_code.is_none()).then_some(cache_key);
    Some(keygen_reply(client, &wallet, &event, payload, cache))
}

fn keygen_reply(
    client: Option<&ClientId>,
    wallet: &str,
    event: &KeygenResultEvent,
    payload: &[u8],
    cache_key: Option<String>,
) -> Reply {
    Reply {
        key_type: None,
        error_code: event.error_code.clone(),
        kind: ResultKind::Keygen,
        id: wallet.to_owned(),
        subject: ResultKind::Keygen.subject(client, wallet),
        payload: event.to_json(),
        request_digest: digest(payload),
        cache_key,
    }
}

/// `Ok(Ok(event))` to publish, `Ok(Err(cached))` to republish, `Err` to report.
async fn keygen_result(
    ctx: &NodeContext,
    request: &GenerateKeyMessage,
    payload: &[u8],
    cache_key: &str,
    request_digest: &str,
) -> Result<Result<KeygenResultEvent, CachedResult>, Failure> {
    ctx.authenticate(request)?;
    if let Some(cached) = cached(ctx, cache_key, request_digest).await? {
        return Ok(Err(cached));
    }
    let ready = ready_nodes(ctx).await?;
    let missing: Vec<&str> = ctx
        .node_ids
        .iter()
        .filter(|n| !ready.contains(*n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Failure::new(
            ErrorCode::ClusterNotReady,
            format!("keygen needs every node; not ready: {}", missing.join(", ")),
        ));
    }
    let run = aux::current_run(&ctx.store, &ctx.node_ids)?.ok_or_else(|| {
        Failure::new(
            ErrorCode::ClusterNotReady,
            "ECDSA aux info is still being prepared; retry shortly",
        )
    })?;
    let mut start = Start::new(Operation::Keygen, ctx.node_ids.clone(), payload.to_vec());
    start.aux_run = Some(run);
    let outputs = run_session(ctx, start, ctx.deadlines.keygen + Duration::from_secs(5)).await?;
    let first = agreed(&outputs, ErrorCode::KeyGeneration, "the public keys")?;
    let Output::Keygen { ecdsa, eddsa } = first else {
        return Err(Failure::new(
            ErrorCode::KeyGeneration,
            "participants reported no keys",
        ));
    };
    let encoding = |what: &str| {
        Failure::new(
            ErrorCode::KeyEncoding,
            format!("reported {what} key is malformed"),
        )
    };
    let ecdsa: [u8; 33] = hex::decode(ecdsa)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| encoding("ecdsa"))?;
    let ecdsa_xy = EcdsaPublicKey::from_compressed(&ecdsa)
        .and_then(|k| k.uncompressed_xy())
        .map_err(|_| encoding("ecdsa"))?;
    let eddsa = hex::decode(eddsa).map_err(|_| encoding("eddsa"))?;

    let info = KeyInfo {
        participant_peer_ids: ctx.node_ids.clone(),
        threshold: u32::from(ctx.threshold.signers()),
        version: 1,
    };
    for key_type in [KeyType::Secp256k1, KeyType::Ed25519] {
        if let Err(error) = ctx
            .registry
            .put_keyinfo(keys::store_key_type(key_type), &request.wallet_id, &info)
            .await
        {
            tracing::warn!(%error, "cannot publish keyinfo to the registry (nodes keep their own copy)");
        }
    }
    tracing::info!(wallet_id = %request.wallet_id, "keygen success");
    Ok(Ok(KeygenResultEvent::success(
        request.wallet_id.clone(),
        ecdsa_xy.to_vec(),
        eddsa,
    )))
}

async fn sign(ctx: &NodeContext, payload: &[u8], client: Option<&ClientId>) -> Option<Reply> {
    let request = match SignTxMessage::from_json(payload) {
        Ok(request) => request,
        Err(error) => {
            let tx_id = lenient_field(payload, "tx_id")?;
            let wallet = lenient_field(payload, "wallet_id").unwrap_or_default();
            let code = lenient_field(payload, "network_internal_code").unwrap_or_default();
            let event = SigningResultEvent::failure(
                code,
                wallet,
                tx_id.clone(),
                error.error_code(),
                error.to_string(),
                false,
            );
            return Some(signing_reply(client, &tx_id, &event, payload, None));
        }
    };
    let cache_key = signing_cache_key(&request.tx_id);
    let request_digest = digest(payload);
    let event = match sign_result(ctx, &request, payload, &cache_key, &request_digest).await {
        Ok(Ok(event)) => event,
        Ok(Err(cached)) => {
            return Some(from_cache(
                ResultKind::Signing,
                Some(request.key_type),
                &request.tx_id,
                cached,
            ))
        }
        Err(failure) => {
            tracing::warn!(tx_id = %request.tx_id, code = %failure.code, reason = %failure.reason, "signing failed");
            SigningResultEvent::failure(
                request.network_internal_code.clone(),
                request.wallet_id.clone(),
                request.tx_id.clone(),
                failure.error_code(),
                failure.reason,
                false,
            )
        }
    };
    let cache = (event.error_code.is_none()).then_some(cache_key);
    Some(signing_reply(
        client,
        &request.tx_id,
        &event,
        payload,
        cache,
    ))
}

fn signing_reply(
    client: Option<&ClientId>,
    tx_id: &str,
    event: &SigningResultEvent,
    payload: &[u8],
    cache_key: Option<String>,
) -> Reply {
    Reply {
        key_type: None,
        error_code: event.error_code.clone(),
        kind: ResultKind::Signing,
        id: tx_id.to_owned(),
        subject: ResultKind::Signing.subject(client, tx_id),
        payload: event.to_json(),
        request_digest: digest(payload),
        cache_key,
    }
}

async fn sign_result(
    ctx: &NodeContext,
    request: &SignTxMessage,
    payload: &[u8],
    cache_key: &str,
    request_digest: &str,
) -> Result<Result<SigningResultEvent, CachedResult>, Failure> {
    ctx.authenticate_signing(request)?;
    if let Some(cached) = cached(ctx, cache_key, request_digest).await? {
        return Ok(Err(cached));
    }
    // The coordinator only proposes the signers; every participant checks the proposal against
    // the keyinfo in its own store. So a coordinator that holds no share of the wallet (a node
    // that joined or was restored later) may take the committee from the shared registry.
    let info = match keys::load_keyinfo(&ctx.store, request.key_type, &request.wallet_id)? {
        Some(info) => info,
        None => ctx
            .registry
            .keyinfo(keys::store_key_type(request.key_type), &request.wallet_id)
            .await
            .map_err(|e| Failure::new(ErrorCode::KeyInfoLoad, format!("registry keyinfo: {e}")))?
            .ok_or_else(|| {
                Failure::new(
                    ErrorCode::KeyNotFound,
                    format!("unknown wallet {}", request.wallet_id),
                )
            })?,
    };
    let ready = ready_nodes(ctx).await?;
    let participants = choose_signers(&info, &ready, &request.tx_id).ok_or_else(|| {
        let available: Vec<&str> = info
            .participant_peer_ids
            .iter()
            .filter(|p| ready.contains(*p))
            .map(String::as_str)
            .collect();
        Failure::new(
            ErrorCode::InsufficientParticipants,
            format!(
                "signing needs {} ready holders of the wallet; ready: [{}]",
                info.threshold,
                available.join(", ")
            ),
        )
    })?;
    let start = Start::new(Operation::Sign, participants, payload.to_vec());
    let outputs = run_session(ctx, start, ctx.deadlines.signing + Duration::from_secs(5)).await?;
    let first = agreed(&outputs, ErrorCode::SigningFailure, "the signature")?;
    let bad = || Failure::new(ErrorCode::SigningFailure, "reported signature is malformed");
    let event = match first {
        Output::Ecdsa { r, s, recovery_id } => SigningResultEvent::ecdsa_success(
            request.network_internal_code.clone(),
            request.wallet_id.clone(),
            request.tx_id.clone(),
            hex::decode(r).map_err(|_| bad())?,
            hex::decode(s).map_err(|_| bad())?,
            *recovery_id,
        ),
        Output::Eddsa { signature } => SigningResultEvent::eddsa_success(
            request.network_internal_code.clone(),
            request.wallet_id.clone(),
            request.tx_id.clone(),
            hex::decode(signature).map_err(|_| bad())?,
        ),
        _ => return Err(bad()),
    };
    tracing::info!(tx_id = %request.tx_id, "signing success");
    Ok(Ok(event))
}

/// Picks exactly `threshold` ready holders of the wallet, deterministically for a transaction
/// (rotating the start by a hash of the tx id spreads load), in keygen order.
fn choose_signers(info: &KeyInfo, ready: &BTreeSet<String>, tx_id: &str) -> Option<Vec<String>> {
    let available: Vec<&String> = info
        .participant_peer_ids
        .iter()
        .filter(|p| ready.contains(*p))
        .collect();
    let t = usize::try_from(info.threshold).ok()?;
    if t == 0 || available.len() < t {
        return None;
    }
    let offset = usize::from(Sha256::digest(tx_id.as_bytes())[0]) % available.len();
    let mut chosen: Vec<&String> = available
        .iter()
        .cycle()
        .skip(offset)
        .take(t)
        .copied()
        .collect();
    chosen.sort_by_key(|p| info.participant_peer_ids.iter().position(|q| q == *p));
    Some(chosen.into_iter().cloned().collect())
}

/// A string field of a request that failed strict decoding, so its error can still be routed.
pub(crate) fn lenient_field(payload: &[u8], field: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let text = value.get(field)?.as_str()?;
    mpcium_protocol::ids::check_id(text).ok()?;
    Some(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(ids: &[&str], t: u32) -> KeyInfo {
        KeyInfo {
            participant_peer_ids: ids.iter().map(|s| s.to_string()).collect(),
            threshold: t,
            version: 1,
        }
    }

    #[test]
    fn signers_are_exactly_threshold_ready_holders_in_keygen_order() {
        let info = info(&["a", "b", "c"], 2);
        let ready: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        for tx in ["t1", "t2", "t3", "t4"] {
            let chosen = choose_signers(&info, &ready, tx).unwrap();
            assert_eq!(chosen.len(), 2);
            let positions: Vec<usize> = chosen
                .iter()
                .map(|c| {
                    info.participant_peer_ids
                        .iter()
                        .position(|p| p == c)
                        .unwrap()
                })
                .collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(choose_signers(&info, &ready, tx), Some(chosen));
        }
    }

    #[test]
    fn signing_with_one_holder_down_uses_the_other_two() {
        let ready: BTreeSet<String> = ["a", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            choose_signers(&info(&["a", "b", "c"], 2), &ready, "t"),
            Some(vec!["a".into(), "c".into()])
        );
    }

    #[test]
    fn too_few_ready_holders_yields_none() {
        let ready: BTreeSet<String> = ["a"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            choose_signers(&info(&["a", "b", "c"], 2), &ready, "t"),
            None
        );
    }

    #[test]
    fn an_undecodable_request_still_yields_its_id_when_one_is_readable() {
        assert_eq!(
            lenient_field(br#"{"tx_id":"t-1","tx":5}"#, "tx_id"),
            Some("t-1".into())
        );
        assert_eq!(lenient_field(br#"{"tx_id":"a.b"}"#, "tx_id"), None);
        assert_eq!(lenient_field(b"{", "tx_id"), None);
    }
}
