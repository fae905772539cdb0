//! Answering one client request: decode it (an undecodable request is still answered when its id
//! can be read), authenticate it, reserve its id ([`super::reserve`]: wait for the same request
//! running elsewhere, answer a repeat from the stored result), run the operation's coordinator,
//! and turn the outcome — success or error — into the one [`Reply`] to publish.

use mpcium_protocol::subjects::ResultKind;
use mpcium_protocol::{
    ClientId, ErrorCode, GenerateKeyMessage, KeyType, KeygenResultEvent, ResharingMessage,
    ResharingResultEvent, SignTxMessage, SigningResultEvent,
};
use mpcium_state::config::Deadlines;

use super::reserve::{self, Reserved, LEASE_TTL};
use crate::context::NodeContext;
use crate::error::NodeError;
use crate::ops;
use crate::results::{self, CachedResult};
use crate::session::control::Operation;

/// What became of a request.
#[derive(Debug)]
pub enum Answer {
    /// Publish this.
    Reply(Reply),
    /// Nothing identifies the request: it cannot be answered.
    Unanswerable,
    /// Nothing to publish from this node now (another node holds or took over its reservation,
    /// or did not finish within the wait): deliver it again later.
    Redeliver(String),
}

/// What to publish for a request.
#[derive(Debug)]
pub struct Reply {
    /// The request's key type, when it names one (for metrics).
    pub key_type: Option<KeyType>,
    /// The published error code, `None` for a success (for metrics).
    pub error_code: Option<ErrorCode>,
    /// Which result stream subject family.
    pub kind: ResultKind,
    /// The wallet, transaction or session id the result answers.
    pub id: String,
    /// Where to publish.
    pub subject: String,
    /// The result event, JSON.
    pub payload: Vec<u8>,
}

/// Answers a request of `op`.
pub async fn answer(
    ctx: &NodeContext,
    op: Operation,
    payload: &[u8],
    client: Option<&ClientId>,
) -> Answer {
    let answered = match op {
        Operation::Keygen => keygen(ctx, payload, client).await,
        Operation::Reshare => reshare(ctx, payload, client).await,
        _ => sign(ctx, payload, client).await,
    };
    match answered {
        None => Answer::Unanswerable,
        Some(Ok(reply)) => Answer::Reply(reply),
        Some(Err(why)) => Answer::Redeliver(why),
    }
}

/// One operation's answer: `None` unanswerable, `Err` redeliver.
type Answered = Option<Result<Reply, String>>;

/// The request as a [`Reply`] source: what it is, its id, and how to phrase its results.
struct Answering<'a> {
    kind: ResultKind,
    key_type: Option<KeyType>,
    id: &'a str,
    client: Option<&'a ClientId>,
    payload: &'a [u8],
}

impl Answering<'_> {
    fn reply(&self, event_json: Vec<u8>, error_code: Option<ErrorCode>) -> Reply {
        Reply {
            key_type: self.key_type,
            error_code,
            kind: self.kind,
            id: self.id.to_owned(),
            subject: self.kind.subject(self.client, self.id),
            payload: event_json,
        }
    }

    /// A stored result again, on this request's subject (a repeat may come from another client).
    fn cached_reply(&self, cached: CachedResult) -> Reply {
        self.reply(cached.payload, None)
    }

    /// The stored form of a final (successful) result.
    fn final_result(&self, event_json: Vec<u8>) -> CachedResult {
        CachedResult {
            request_digest: results::digest(self.payload),
            subject: self.kind.subject(self.client, self.id),
            payload: event_json,
            expires_unix_ms: None,
        }
    }
}

/// Authenticates, then runs `coordinate` under the reservation of `cache_key` — the common path
/// of every operation; `deadline` is the operation's own, which bounds the wait for a duplicate.
async fn run_reserved<E, F>(
    ctx: &NodeContext,
    authenticate: impl FnOnce() -> Result<(), NodeError>,
    cache_key: &str,
    payload: &[u8],
    deadline: std::time::Duration,
    coordinate: F,
    final_result: impl FnOnce(&E) -> Option<CachedResult>,
) -> Result<Reserved<E>, NodeError>
where
    F: std::future::Future<Output = Result<E, NodeError>>,
{
    authenticate()?;
    let wait = deadline + Deadlines::COORDINATOR_SLACK + LEASE_TTL;
    reserve::run(ctx, cache_key, payload, wait, coordinate, final_result).await
}

async fn keygen(ctx: &NodeContext, payload: &[u8], client: Option<&ClientId>) -> Answered {
    let request = match GenerateKeyMessage::from_json(payload) {
        Ok(request) => request,
        Err(error) => {
            let wallet = lenient_field(payload, "wallet_id")?;
            let answering = Answering {
                kind: ResultKind::Keygen,
                key_type: None,
                id: &wallet,
                client,
                payload,
            };
            let event =
                KeygenResultEvent::failure(wallet.clone(), error.error_code(), error.to_string());
            return Some(Ok(answering.reply(event.to_json(), event.error_code)));
        }
    };
    let wallet = request.wallet_id.clone();
    let answering = Answering {
        kind: ResultKind::Keygen,
        key_type: None,
        id: &wallet,
        client,
        payload,
    };
    let cache_key = results::keygen_key(&wallet);
    // Only successes are final: a failed keygen may be retried with the same wallet id.
    let outcome = run_reserved(
        ctx,
        || ctx.authenticate(&request),
        &cache_key,
        payload,
        ctx.deadlines.keygen,
        ops::keygen::coordinate(ctx, &request, payload),
        |event: &KeygenResultEvent| {
            event
                .error_code
                .is_none()
                .then(|| answering.final_result(event.to_json()))
        },
    )
    .await;
    let event = match outcome {
        Ok(Reserved::Ran(Ok(event))) => event,
        Ok(Reserved::Answered(cached)) => return Some(Ok(answering.cached_reply(cached))),
        Ok(Reserved::Redeliver(why)) => return Some(Err(why)),
        Ok(Reserved::Ran(Err(error))) | Err(error) => {
            tracing::warn!(wallet_id = %wallet, code = %error.code(), reason = %error, "keygen failed");
            KeygenResultEvent::failure(wallet.clone(), error.code(), error.client_reason())
        }
    };
    Some(Ok(
        answering.reply(event.to_json(), event.error_code.clone())
    ))
}

async fn sign(ctx: &NodeContext, payload: &[u8], client: Option<&ClientId>) -> Answered {
    let request = match SignTxMessage::from_json(payload) {
        Ok(request) => request,
        Err(error) => {
            let tx_id = lenient_field(payload, "tx_id")?;
            let wallet = lenient_field(payload, "wallet_id").unwrap_or_default();
            let code = lenient_field(payload, "network_internal_code").unwrap_or_default();
            let answering = Answering {
                kind: ResultKind::Signing,
                key_type: None,
                id: &tx_id,
                client,
                payload,
            };
            let event = SigningResultEvent::failure(
                code,
                wallet,
                tx_id.clone(),
                error.error_code(),
                error.to_string(),
                false,
            );
            return Some(Ok(answering.reply(event.to_json(), event.error_code)));
        }
    };
    let answering = Answering {
        kind: ResultKind::Signing,
        key_type: Some(request.key_type),
        id: &request.tx_id,
        client,
        payload,
    };
    let cache_key = results::signing_key(&request.tx_id);
    let outcome = run_reserved(
        ctx,
        || ctx.authenticate_signing(&request),
        &cache_key,
        payload,
        ctx.deadlines.signing,
        ops::sign::coordinate(ctx, &request, payload),
        |event: &SigningResultEvent| {
            event
                .error_code
                .is_none()
                .then(|| answering.final_result(event.to_json()))
        },
    )
    .await;
    let event = match outcome {
        Ok(Reserved::Ran(Ok(event))) => event,
        Ok(Reserved::Answered(cached)) => return Some(Ok(answering.cached_reply(cached))),
        Ok(Reserved::Redeliver(why)) => return Some(Err(why)),
        Ok(Reserved::Ran(Err(error))) | Err(error) => {
            tracing::warn!(tx_id = %request.tx_id, code = %error.code(), reason = %error, "signing failed");
            SigningResultEvent::failure(
                request.network_internal_code.clone(),
                request.wallet_id.clone(),
                request.tx_id.clone(),
                error.code(),
                error.client_reason(),
                false,
            )
        }
    };
    Some(Ok(
        answering.reply(event.to_json(), event.error_code.clone())
    ))
}

async fn reshare(ctx: &NodeContext, payload: &[u8], client: Option<&ClientId>) -> Answered {
    let request = match ResharingMessage::from_json(payload) {
        Ok(request) => request,
        Err(error) => {
            let session = lenient_field(payload, "session_id")?;
            let wallet = lenient_field(payload, "wallet_id").unwrap_or_default();
            let answering = Answering {
                kind: ResultKind::Reshare,
                key_type: None,
                id: &session,
                client,
                payload,
            };
            let event = ResharingResultEvent::failure(
                wallet,
                0,
                None,
                error.error_code(),
                error.to_string(),
            );
            return Some(Ok(answering.reply(event.to_json(), event.error_code)));
        }
    };
    let session = request.session_id.clone();
    let answering = Answering {
        kind: ResultKind::Reshare,
        key_type: Some(request.key_type),
        id: &session,
        client,
        payload,
    };
    let cache_key = results::reshare_key(&session);
    // Only successes are final: a failed reshare may be retried with the same session id.
    let outcome = run_reserved(
        ctx,
        || ctx.authenticate(&request),
        &cache_key,
        payload,
        ctx.deadlines.reshare,
        ops::reshare::coordinate::coordinate(ctx, &request, payload),
        |event: &ResharingResultEvent| {
            event
                .error_code
                .is_none()
                .then(|| answering.final_result(event.to_json()))
        },
    )
    .await;
    let event = match outcome {
        Ok(Reserved::Ran(Ok(event))) => event,
        Ok(Reserved::Answered(cached)) => return Some(Ok(answering.cached_reply(cached))),
        Ok(Reserved::Redeliver(why)) => return Some(Err(why)),
        Ok(Reserved::Ran(Err(error))) | Err(error) => {
            tracing::warn!(session_id = %session, wallet_id = %request.wallet_id, code = %error.code(), reason = %error, "reshare failed");
            ResharingResultEvent::failure(
                request.wallet_id.clone(),
                request.new_threshold,
                Some(request.key_type),
                error.code(),
                error.client_reason(),
            )
        }
    };
    Some(Ok(
        answering.reply(event.to_json(), event.error_code.clone())
    ))
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
