//! Answering one client request: decode it (an undecodable request is still answered when its id
//! can be read), authenticate it, look it up in the result cache, run the operation's
//! coordinator, and turn the outcome — success or error — into the one [`Reply`] to publish.

use mpcium_protocol::subjects::ResultKind;
use mpcium_protocol::{
    ClientId, ErrorCode, GenerateKeyMessage, KeyType, KeygenResultEvent, ResharingMessage,
    ResharingResultEvent, SignTxMessage, SigningResultEvent,
};

use crate::context::NodeContext;
use crate::error::NodeError;
use crate::ops;
use crate::results::{self, CachedResult};
use crate::session::control::Operation;

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
    /// SHA-256 of the request bytes, hex.
    pub request_digest: String,
    /// Set for results that must be returned again for a repeated request.
    pub cache_key: Option<String>,
}

impl Reply {
    /// The cache entry for this reply.
    pub fn cached(&self) -> CachedResult {
        CachedResult {
            request_digest: self.request_digest.clone(),
            subject: self.subject.clone(),
            payload: self.payload.clone(),
            expires_unix_ms: None,
        }
    }
}

/// Answers a request of `op`; `None` when nothing identifies it (it cannot be answered).
pub async fn answer(
    ctx: &NodeContext,
    op: Operation,
    payload: &[u8],
    client: Option<&ClientId>,
) -> Option<Reply> {
    match op {
        Operation::Keygen => keygen(ctx, payload, client).await,
        Operation::Reshare => reshare(ctx, payload, client).await,
        _ => sign(ctx, payload, client).await,
    }
}

/// The request as a [`Reply`] source: what it is, its id, and how to phrase its results.
struct Answering<'a> {
    kind: ResultKind,
    key_type: Option<KeyType>,
    id: &'a str,
    client: Option<&'a ClientId>,
    payload: &'a [u8],
}

impl Answering<'_> {
    fn reply(
        &self,
        event_json: Vec<u8>,
        error_code: Option<ErrorCode>,
        cache: Option<String>,
    ) -> Reply {
        Reply {
            key_type: self.key_type,
            error_code,
            kind: self.kind,
            id: self.id.to_owned(),
            subject: self.kind.subject(self.client, self.id),
            payload: event_json,
            request_digest: results::digest(self.payload),
            cache_key: cache,
        }
    }

    fn cached_reply(&self, cached: CachedResult) -> Reply {
        Reply {
            key_type: self.key_type,
            error_code: None,
            kind: self.kind,
            id: self.id.to_owned(),
            subject: cached.subject,
            payload: cached.payload,
            request_digest: cached.request_digest,
            cache_key: None,
        }
    }
}

/// Authenticates, consults the cache under `cache_key`, and runs `coordinate` — the common path
/// of every operation. `Ok(Err(cached))` is a cached result to republish.
async fn run_cached<E, F>(
    ctx: &NodeContext,
    authenticate: impl FnOnce() -> Result<(), NodeError>,
    cache_key: &str,
    payload: &[u8],
    coordinate: F,
) -> Result<Result<E, CachedResult>, NodeError>
where
    F: std::future::Future<Output = Result<E, NodeError>>,
{
    authenticate()?;
    if let Some(cached) =
        results::lookup(&ctx.registry, cache_key, &results::digest(payload)).await?
    {
        return Ok(Err(cached));
    }
    coordinate.await.map(Ok)
}

async fn keygen(ctx: &NodeContext, payload: &[u8], client: Option<&ClientId>) -> Option<Reply> {
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
            return Some(answering.reply(event.to_json(), event.error_code, None));
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
    let outcome = run_cached(
        ctx,
        || ctx.authenticate(&request),
        &cache_key,
        payload,
        ops::keygen::coordinate(ctx, &request, payload),
    )
    .await;
    let event = match outcome {
        Ok(Ok(event)) => event,
        Ok(Err(cached)) => return Some(answering.cached_reply(cached)),
        Err(error) => {
            tracing::warn!(wallet_id = %wallet, code = %error.code(), reason = %error, "keygen failed");
            KeygenResultEvent::failure(wallet.clone(), error.code(), error.client_reason())
        }
    };
    // Only successes are final: a failed keygen may be retried with the same wallet id.
    let cache = event.error_code.is_none().then_some(cache_key);
    Some(answering.reply(event.to_json(), event.error_code.clone(), cache))
}

async fn sign(ctx: &NodeContext, payload: &[u8], client: Option<&ClientId>) -> Option<Reply> {
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
            return Some(answering.reply(event.to_json(), event.error_code, None));
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
    let outcome = run_cached(
        ctx,
        || ctx.authenticate_signing(&request),
        &cache_key,
        payload,
        ops::sign::coordinate(ctx, &request, payload),
    )
    .await;
    let event = match outcome {
        Ok(Ok(event)) => event,
        Ok(Err(cached)) => return Some(answering.cached_reply(cached)),
        Err(error) => {
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
    let cache = event.error_code.is_none().then_some(cache_key);
    Some(answering.reply(event.to_json(), event.error_code.clone(), cache))
}

async fn reshare(ctx: &NodeContext, payload: &[u8], client: Option<&ClientId>) -> Option<Reply> {
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
            return Some(answering.reply(event.to_json(), event.error_code, None));
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
    let outcome = run_cached(
        ctx,
        || ctx.authenticate(&request),
        &cache_key,
        payload,
        ops::reshare::coordinate::coordinate(ctx, &request, payload),
    )
    .await;
    let event = match outcome {
        Ok(Ok(event)) => event,
        Ok(Err(cached)) => return Some(answering.cached_reply(cached)),
        Err(error) => {
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
    // Only successes are final: a failed reshare may be retried with the same session id.
    let cache = event.error_code.is_none().then_some(cache_key);
    Some(answering.reply(event.to_json(), event.error_code.clone(), cache))
}

/// A string field of a request that failed strict decoding, so its error can still be routed.
fn lenient_field(payload: &[u8], field: &str) -> Option<String> {
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
