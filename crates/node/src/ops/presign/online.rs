//! Signing a message-mode ECDSA request from a presignature: the coordinator's choice and
//! reservation ([`coordinate`]) and a participant's single use of its share ([`participate`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use mpcium_protocol::{KeyType, SignTxMessage};
use mpcium_state::config::Deadlines;
use mpcium_state::registry::KeyInfo;
use mpcium_tss::ecdsa::{self, Presignature};
use mpcium_tss::{Participants, ProtocolKind, SessionId};

use super::{stored_pools, PoolKey};
use crate::context::{store_io, NodeContext};
use crate::error::{BadRequest, Io, NodeError, ProtocolFault};
use crate::session::control::{Operation, Output, Start};
use crate::session::io::{engine_error, run_error, run_protocol, SessionIo};
use crate::session::orchestrate;

/// Tries to sign `request` from one of this node's presignatures. `None` when the request is
/// not message-mode ECDSA or pools are off (not counted), and when no presignature of a ready
/// committee is at hand or the committee could not sign with it (a miss: the caller signs in
/// full).
pub async fn coordinate(
    ctx: &NodeContext,
    info: &KeyInfo,
    request: &SignTxMessage,
    payload: &[u8],
) -> Option<Vec<Output>> {
    let pools = &ctx.presign;
    if request.key_type != KeyType::Secp256k1 || request.hash.is_none() || !pools.enabled() {
        return None;
    }
    let path = request.derivation_path.clone().unwrap_or_default();
    pools.saw_request(&request.wallet_id, &path);
    let outputs = match pick(ctx, info, &request.wallet_id, &path).await {
        Ok(Some((committee, id, reservation))) => {
            let mut start = Start::new(Operation::Sign, committee, payload.to_vec());
            start.presignature = Some(id);
            let deadline = ctx.deadlines.signing + Deadlines::COORDINATOR_SLACK;
            let outputs = orchestrate::run(&ctx.sessions, start, deadline).await;
            drop(reservation);
            match outputs {
                Ok(outputs) => Some(outputs),
                Err(error) => {
                    tracing::warn!(tx_id = %request.tx_id, %error, "signing from a presignature failed; signing in full");
                    None
                }
            }
        }
        Ok(None) => None,
        Err(error) => {
            tracing::warn!(tx_id = %request.tx_id, %error, "cannot look up presignatures; signing in full");
            None
        }
    };
    crate::metrics::presignature_pool_request(outputs.is_some());
    ctx.presign.wake.notify_one();
    outputs
}

/// A presignature of the wallet's current key on `path`, held by this node for a committee
/// whose members are all ready, reserved: the committee, the id and the reservation. Prefers
/// the fullest pool and, within it, the order of [`preference`].
async fn pick(
    ctx: &NodeContext,
    info: &KeyInfo,
    wallet: &str,
    path: &[u32],
) -> Result<Option<(Vec<String>, u64, super::Reservation)>, NodeError> {
    // One trip to the blocking pool: the pools of this wallet, key and path, with their
    // presignature ids.
    let (held, version, path) = (wallet.to_owned(), info.version, path.to_vec());
    let mut candidates: Vec<(PoolKey, u64, Vec<u64>)> = store_io(&ctx.store, move |s| {
        stored_pools(s)?
            .into_iter()
            .filter(|(key, _)| key.wallet == held && key.version == version && key.path == path)
            .map(|(key, depth)| {
                let ids = s.presignature_ids(&key.name()).map_err(|e| {
                    NodeError::io(Io::StorageRead, format!("presignature ids: {e}"))
                })?;
                Ok((key, depth, ids))
            })
            .collect::<Result<_, NodeError>>()
    })
    .await?;
    if candidates.is_empty() {
        return Ok(None);
    }
    let ready: BTreeSet<String> = ctx.ready_nodes().await?;
    candidates.retain(|(key, _, _)| key.committee.iter().all(|n| ready.contains(n)));
    candidates.sort_by_key(|c| std::cmp::Reverse(c.1));
    for (key, _, ids) in candidates {
        let name = key.name();
        let Some(position) = key.committee.iter().position(|n| *n == ctx.me) else {
            continue;
        };
        let free: Vec<u64> = ids
            .into_iter()
            .filter(|id| !ctx.presign.is_reserved(&name, *id))
            .collect();
        for id in preference(free, position as u64, key.committee.len() as u64) {
            if let Some(reservation) = ctx.presign.reserve(&name, id) {
                return Ok(Some((key.committee, id, reservation)));
            }
        }
    }
    Ok(None)
}

/// The order in which the member at committee `position` of a `size`-member committee tries
/// the free presignature ids of a pool: first the ids it owns (`id ≡ position mod size`, a
/// fair share by `refill::balanced_id`), oldest first; then the others' ids, newest first. Two
/// coordinators of one committee reserve apart (each in its own memory), so a shared id would
/// make both sessions fail: this way they meet only when an owner has almost none left.
fn preference(mut ids: Vec<u64>, position: u64, size: u64) -> Vec<u64> {
    ids.sort_unstable();
    let (mine, mut others): (Vec<u64>, Vec<u64>) =
        ids.into_iter().partition(|id| id % size.max(1) == position);
    others.reverse();
    mine.into_iter().chain(others).collect()
}

/// This node's part of signing `request` with presignature `id` of the committee `parts`
/// (already checked against the wallet's keyinfo: `signers` are their keygen indices). The
/// presignature is deleted from the store, durably, before anything is sent.
#[allow(clippy::too_many_arguments)]
pub async fn participate(
    ctx: Arc<NodeContext>,
    request: &SignTxMessage,
    info: &KeyInfo,
    signers: &[u16],
    parts: &Participants,
    me: u16,
    nonce: &str,
    id: u64,
) -> Result<Output, NodeError> {
    let Some(hash) = request
        .hash
        .filter(|_| request.key_type == KeyType::Secp256k1)
    else {
        return Err(NodeError::bad_request(
            BadRequest::Policy,
            "presignatures sign only message-mode ECDSA requests (with hash)",
        ));
    };
    let path = request.derivation_path.clone().unwrap_or_default();
    let key = PoolKey {
        wallet: request.wallet_id.clone(),
        version: info.version,
        path: path.clone(),
        committee: parts.nodes().to_vec(),
    };
    let pool = key.name();
    let taken = pool.clone();
    let sealed = store_io(&ctx.store, move |s| {
        s.take_presignature_id(&taken, id)
            .map_err(|e| NodeError::io(Io::StorageWrite, format!("taking a presignature: {e}")))
    })
    .await?
    .ok_or_else(|| {
        NodeError::bad_request(
            BadRequest::Stale,
            format!("this node holds no presignature #{id} of the committee"),
        )
    })?;
    // Plain text (no fields), so tests and operators can match it.
    tracing::info!("presignature consumed: #{id} of pool {pool}");
    ctx.presign.wake.notify_one();
    let fault = |e| engine_error(ProtocolFault::Signing, parts, e);
    let presignature = Presignature::open(sealed.expose()).map_err(fault)?;
    if presignature.committee() != signers || presignature.path() != path.as_slice() {
        return Err(NodeError::io(
            Io::Corrupt,
            format!("presignature #{id} is bound to another committee or path"),
        ));
    }
    let request_id = format!(
        "sign-online/{}/{}/{nonce}",
        request.wallet_id, request.tx_id
    );
    let sid = SessionId::derive(ProtocolKind::EcdsaOnlineSign, request_id.as_bytes(), parts);
    let io = SessionIo::open(&ctx.sessions, ProtocolKind::EcdsaOnlineSign, sid, parts, me)?;
    let message = request.tx.clone();
    let signing = move || async move {
        ecdsa::sign_with_presignature(presignature, &message, hash, io.party()).await
    };
    let signature = run_protocol(
        ctx.deadlines.signing,
        ctx.sessions.gone(parts.nodes()),
        signing,
    )
    .await
    .map_err(|e| run_error(e, "signing from a presignature"))?
    .map_err(fault)?;
    super::report_stored_depth(&ctx.store, &key.wallet, info.version).await;
    Ok(Output::Ecdsa {
        r: hex::encode(signature.r),
        s: hex::encode(signature.s),
        recovery_id: signature.recovery_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_takes_its_own_ids_oldest_first_and_borrows_the_newest_last() {
        let ids = vec![16, 11, 12, 15, 13, 14];
        assert_eq!(preference(ids.clone(), 0, 2), vec![12, 14, 16, 15, 13, 11]);
        assert_eq!(preference(ids, 1, 2), vec![11, 13, 15, 16, 14, 12]);
        // Until its own ids run out, each member's picks are disjoint from the other's.
        assert_eq!(preference(vec![], 0, 2), Vec::<u64>::new());
    }
}
