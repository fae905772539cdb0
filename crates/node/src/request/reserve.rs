//! Exactly-once by reservation: before any protocol runs, the coordinator reserves the request
//! id under its result key (`mpc_results/<operation>/<id>`) in the shared registry
//! ([`mpcium_state::registry::reservation`]), renews the lease while it works and replaces it
//! with the final result.
//!
//! * Same id, same bytes, reserved by another live node: wait (polling the key, bounded by the
//!   request's deadline) and answer with the same result — no second session.
//! * Same id, other bytes (reserved or answered): `ERROR_SESSION_DUPLICATE` at once.
//! * The owner died: its lease lapses after [`LEASE_TTL`] and the redelivered request is
//!   completed by whichever node takes it over (compare-and-set).
//! * A failed attempt lapses the lease at once, so a retry (or a waiting duplicate) runs again.
//!
//! Participants check it too ([`admit`]): no part in a session for an id that another node
//! holds a live lease on, nor in signing an answered transaction again.

use std::time::Duration;

use mpcium_state::registry::reservation::{self, Claim, Held, Slot};
use mpcium_state::registry::result_key;
use tokio::time::Instant;

use crate::context::NodeContext;
use crate::error::{BadRequest, Io, NodeError};
use crate::results::{self, now_unix_ms, CachedResult};
use crate::session::control::{Operation, Start};

/// How long a reservation lasts without renewal: as long as a readiness mark, so a dead owner's
/// lease lapses about when the cluster sees it gone.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often the owner renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(5);
/// Shortest and longest pause between two looks at a reservation held by another node.
const POLL_MIN: Duration = Duration::from_millis(50);
const POLL_MAX: Duration = Duration::from_secs(1);

/// How a reserved request ended on this node.
#[derive(Debug)]
pub enum Reserved<E> {
    /// This node ran the operation (a final success is already stored as the result).
    Ran(Result<E, NodeError>),
    /// The request was answered already, by this or another node: publish this again.
    Answered(CachedResult),
    /// Nothing to publish from here: the lease was lost to another node, or the owner did not
    /// finish within the wait. The request should be delivered again.
    Redeliver(String),
}

/// Runs `coordinate` under a reservation of `cache_key` for the request `payload`; waits at
/// most `deadline` for another node's reservation of the same request. `final_result` says
/// which outcome is final (stored for repeats) and how it is published.
pub async fn run<E, Fut>(
    ctx: &NodeContext,
    cache_key: &str,
    payload: &[u8],
    deadline: Duration,
    coordinate: Fut,
    final_result: impl FnOnce(&E) -> Option<CachedResult>,
) -> Result<Reserved<E>, NodeError>
where
    Fut: std::future::Future<Output = Result<E, NodeError>>,
{
    let digest = results::digest(payload);
    let key = result_key(cache_key);
    let mut held = match wait_for_claim(ctx, cache_key, &key, &digest, deadline).await? {
        Ok(held) => held,
        Err(done) => return Ok(done),
    };
    let outcome = tokio::select! {
        outcome = coordinate => outcome,
        lost = keep(ctx, &mut held) => {
            tracing::warn!(key = %cache_key, reason = %lost, "lost the reservation; abandoning the request");
            return Ok(Reserved::Redeliver(lost));
        }
    };
    let stored = match outcome.as_ref().ok().and_then(final_result) {
        Some(result) => {
            let bytes = results::encode(result, ctx.result_cache_ttl)?;
            reservation::finish(&*ctx.registry, &held, &bytes).await
        }
        None => reservation::release(&*ctx.registry, &held).await,
    };
    match stored {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(key = %cache_key, "the reservation was taken over before the result was stored")
        }
        Err(error) => {
            tracing::error!(key = %cache_key, %error, "cannot store the result; a repeated request waits for the lease to lapse, then runs again")
        }
    }
    Ok(Reserved::Ran(outcome))
}

/// Claims the reservation, waiting while another node holds it for the same request. `Ok(held)`
/// to run; `Err(reserved)` when there is nothing to run.
async fn wait_for_claim<E>(
    ctx: &NodeContext,
    cache_key: &str,
    key: &str,
    digest: &str,
    deadline: Duration,
) -> Result<Result<Held, Reserved<E>>, NodeError> {
    let give_up = Instant::now() + deadline;
    let mut pause = POLL_MIN;
    let mut logged = false;
    loop {
        let claim = reservation::claim(
            &*ctx.registry,
            key,
            &ctx.me,
            digest,
            LEASE_TTL,
            now_unix_ms(),
            |value| results::decode_live(value).is_none(),
        )
        .await
        .map_err(|e| NodeError::io(Io::StorageRead, format!("reservation: {e}")))?;
        match claim {
            Claim::Won { held, took_over } => {
                if let Some(previous) = took_over {
                    tracing::info!(key = %cache_key, %previous, "took over a lapsed reservation");
                }
                return Ok(Ok(held));
            }
            Claim::Done(value) => {
                let cached = results::decode_live(&value).ok_or_else(|| {
                    NodeError::io(Io::Corrupt, format!("stored result of {cache_key}"))
                })?;
                if cached.request_digest != digest {
                    return Err(duplicate(
                        cache_key,
                        "was already used by a different request",
                    ));
                }
                return Ok(Err(Reserved::Answered(cached)));
            }
            Claim::Busy(lease) if lease.request_digest != digest => {
                return Err(duplicate(
                    cache_key,
                    &format!(
                        "is being handled by node {} for a different request",
                        lease.reserved_by
                    ),
                ));
            }
            Claim::Busy(lease) => {
                if Instant::now() + pause > give_up {
                    return Ok(Err(Reserved::Redeliver(format!(
                        "{cache_key} is still being handled by node {} after {deadline:?}",
                        lease.reserved_by
                    ))));
                }
                if !logged {
                    tracing::info!(key = %cache_key, owner = %lease.reserved_by, "the same request is being handled by another node; waiting for its result");
                    logged = true;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(POLL_MAX);
            }
        }
    }
}

/// Renews `held` every [`RENEW_EVERY`] for as long as it is polled; returns why the lease was
/// lost (another node wrote the key, or it lapsed while the registry could not be reached).
async fn keep(ctx: &NodeContext, held: &mut Held) -> String {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        match reservation::renew(&*ctx.registry, held, LEASE_TTL, now_unix_ms()).await {
            Ok(true) => {}
            Ok(false) => return "another node took the reservation over".to_owned(),
            Err(error) if held.lease().lapsed(now_unix_ms()) => {
                return format!("the lease lapsed while it could not be renewed: {error}");
            }
            Err(error) => tracing::warn!(%error, "cannot renew the reservation; retrying"),
        }
    }
}

fn duplicate(cache_key: &str, what: &str) -> NodeError {
    NodeError::bad_request(BadRequest::Duplicate, format!("{cache_key} {what}"))
}

/// A participant's check of a session `start` from `coordinator`: refused when another node
/// holds a live reservation of the request id, the reservation is for other request bytes, or
/// (signing) the transaction has a result already.
pub async fn admit(ctx: &NodeContext, coordinator: &str, start: &Start) -> Result<(), NodeError> {
    let (field, cache_key): (&str, fn(&str) -> String) = match start.operation {
        Operation::Sign => ("tx_id", results::signing_key),
        Operation::Keygen => ("wallet_id", results::keygen_key),
        Operation::Reshare | Operation::ReshareCommit => ("session_id", results::reshare_key),
        Operation::AuxInfo | Operation::Presign | Operation::Import => return Ok(()),
    };
    // An undecodable request is refused by the operation itself.
    let Some(id) = super::answer::lenient_field(&start.request, field) else {
        return Ok(());
    };
    let cache_key = cache_key(&id);
    let slot = reservation::read(&*ctx.registry, &result_key(&cache_key))
        .await
        .map_err(|e| NodeError::io(Io::StorageRead, format!("reservation: {e}")))?;
    match slot {
        Slot::Leased { lease, .. } if !lease.lapsed(now_unix_ms()) => {
            if lease.reserved_by != coordinator {
                return Err(duplicate(
                    &cache_key,
                    &format!(
                        "is reserved by node {}; refusing a session for it coordinated by {coordinator}",
                        lease.reserved_by
                    ),
                ));
            }
            if lease.request_digest != results::digest(&start.request) {
                return Err(duplicate(&cache_key, "is reserved for a different request"));
            }
            Ok(())
        }
        // Never a second signature for an answered transaction, even if a coordinator asks:
        // the initiator's signature alone cannot stop a replay of its own request. (A keygen
        // participant answers a wallet it holds with its stored keys.)
        Slot::Done { value, .. } if start.operation == Operation::Sign => {
            match results::decode_live(&value) {
                Some(cached) if cached.request_digest == results::digest(&start.request) => {
                    Err(NodeError::bad_request(
                        BadRequest::Duplicate,
                        format!("transaction {id} was already signed"),
                    ))
                }
                Some(_) => Err(duplicate(
                    &cache_key,
                    "was already used by a different request",
                )),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}
