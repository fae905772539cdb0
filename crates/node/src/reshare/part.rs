//! A participant's side of resharing: on [`Operation::Reshare`](crate::control::Operation) it
//! verifies the initiator's request itself, checks the coordinator's roles against its own
//! keyinfo, runs its part of the protocol under the deadline and keeps the result **pending**;
//! on [`Operation::ReshareCommit`](crate::control::Operation) it switches to it.
//!
//! Every participant is a holder of the wallet's current key (its old key info comes from its
//! own share); until the commit its current share and keyinfo stay as they were, so signing
//! keeps working and a failed reshare leaves nothing behind but an unused pending record.

use std::sync::Arc;

use mpcium_protocol::{ErrorCode, KeyType, ResharingMessage};
use mpcium_tss::ecdsa::KeyShare;
use mpcium_tss::reshare::{reshare_ecdsa, reshare_eddsa, EcdsaKeyInfo, ReshareSetup};
use mpcium_tss::{Participants, ProtocolKind, SessionId, TssError};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use super::pending::{self, Pending};
use super::wipe;
use crate::aux;
use crate::context::NodeContext;
use crate::control::{Failure, Output, Start};
use crate::cpu::run_protocol;
use crate::keys::{self, CommitteeIndices};
use crate::participant::{engine_failure, timeout_failure, SessionIo};
use crate::registry::KeyInfo;

/// The client's request carried by `start`, after checking the initiator's signature.
fn verified_request(ctx: &NodeContext, start: &Start) -> Result<ResharingMessage, Failure> {
    let request = ResharingMessage::from_json(&start.request)
        .map_err(|e| Failure::new(e.error_code(), e.to_string()))?;
    ctx.authenticate(&request)?;
    Ok(request)
}

fn bad_material(error: TssError) -> Failure {
    Failure::new(ErrorCode::KeyLoad, error.to_string())
}

/// This node's part of a reshare session; the new share is stored pending, never current.
pub async fn participate(ctx: Arc<NodeContext>, start: &Start) -> Result<Output, Failure> {
    let request = verified_request(&ctx, start)?;
    let wallet = request.wallet_id.clone();
    let info = keys::load_keyinfo(&ctx.store, request.key_type, &wallet)?.ok_or_else(|| {
        Failure::new(
            ErrorCode::KeyNotFound,
            format!(
                "this node holds no {} key of wallet {wallet}; only current holders can take \
                 part in a reshare",
                request.key_type
            ),
        )
    })?;
    let (committee, threshold) = super::new_committee(&ctx, &request)?;
    // Dealers are checked against the committee this node recorded, never the coordinator's.
    let old_indices = info.keygen_indices(&start.dealers)?;
    if old_indices.len() != info.threshold as usize {
        return Err(Failure::new(
            ErrorCode::InsufficientParticipants,
            format!(
                "a reshare needs exactly {} dealers, got {}",
                info.threshold,
                old_indices.len()
            ),
        ));
    }
    let dealers: Vec<(String, u16)> = start.dealers.iter().cloned().zip(old_indices).collect();
    let (parts, setup) = ReshareSetup::from_nodes(&ctx.me, &dealers, &committee, threshold)
        .map_err(|e| Failure::new(ErrorCode::IncompatiblePeerIds, e.to_string()))?;
    if parts.nodes() != start.participants.as_slice() {
        return Err(Failure::new(
            ErrorCode::IncompatiblePeerIds,
            "reshare participants differ from the committee and dealers of the request",
        ));
    }
    let request_id = format!("reshare/{wallet}/{}/{}", request.session_id, start.nonce);
    let new_info = KeyInfo {
        participant_peer_ids: committee.clone(),
        threshold: u32::from(threshold.signers()),
        version: info.version.saturating_add(1),
    };
    let session = Session {
        parts,
        setup,
        request_id,
    };
    let (public_key, new_key_digest, share) = match request.key_type {
        KeyType::Secp256k1 => run_ecdsa(&ctx, start, &wallet, &info, &committee, session).await?,
        KeyType::Ed25519 => run_eddsa(&ctx, &wallet, &info, session).await?,
    };
    let key_type = keys::store_key_type(request.key_type);
    let pending = Pending {
        info: new_info,
        share,
    };
    pending::put(&ctx.store, key_type, &wallet, &start.nonce, &pending)?;
    tracing::info!(wallet_id = %wallet, key_type = %request.key_type, holder = pending.share.is_some(), "reshare finished: new share pending until commit");
    Ok(Output::Reshare {
        public_key: hex::encode(public_key),
        new_key_digest: hex::encode(new_key_digest),
    })
}

/// What a reshare gives this node: the public key, the new key digest, and (for new holders)
/// the sealed new share.
type NewKeyParts = (Vec<u8>, [u8; 32], Option<Zeroizing<Vec<u8>>>);

/// The session this node runs: participants, roles and the request id its session id binds.
struct Session {
    parts: Participants,
    setup: ReshareSetup,
    request_id: String,
}

async fn run_ecdsa(
    ctx: &NodeContext,
    start: &Start,
    wallet: &str,
    info: &KeyInfo,
    committee: &[String],
    session: Session,
) -> Result<NewKeyParts, Failure> {
    let Session {
        parts,
        setup,
        request_id,
    } = session;
    let share = keys::load_ecdsa_share(&ctx.store, wallet, info.version)?;
    let old = EcdsaKeyInfo::of(&share).map_err(bad_material)?;
    // A new holder completes its share with the new committee's aux info: check it first.
    let aux = match setup.my_new_index() {
        None => None,
        Some(_) => {
            let run = start.aux_run.as_deref().ok_or_else(|| {
                Failure::new(
                    ErrorCode::MsgValidation,
                    "reshare start names no aux-info run",
                )
            })?;
            let set = Participants::new(committee.to_vec())
                .map_err(|e| Failure::new(ErrorCode::IncompatiblePeerIds, e.to_string()))?;
            Some(aux::load(&ctx.store, &set, run)?.ok_or_else(|| {
                Failure::new(
                    ErrorCode::ClusterNotReady,
                    format!("this node lacks aux-info run {run} for the new committee"),
                )
            })?)
        }
    };
    let me = setup.me();
    let sid = SessionId::derive(ProtocolKind::EcdsaReshare, request_id.as_bytes(), &parts);
    let io = SessionIo::open(ctx, ProtocolKind::EcdsaReshare, sid, &parts, me)?;
    let job = move || async move {
        let mut rng = OsRng;
        reshare_ecdsa(io.party(), sid, &setup, &old, Some(&share), &mut rng).await
    };
    let output = run_protocol(ctx.deadlines.keygen, job)
        .await
        .map_err(|e| timeout_failure(e, "reshare"))?
        .map_err(|e| engine_failure(ErrorCode::ReshareFailure, &parts, e))?;
    let digest = output.new_key.digest().map_err(bad_material)?;
    let public_key = output.new_key.public_key().map_err(bad_material)?;
    let sealed = match (output.share, aux) {
        (Some(share), Some(aux)) => {
            let complete = KeyShare::from_parts(share, aux)
                .map_err(|e| engine_failure(ErrorCode::ReshareFailure, &parts, e))?;
            Some(
                complete
                    .seal()
                    .map_err(|e| Failure::new(ErrorCode::KeySave, e.to_string()))?,
            )
        }
        (None, _) => None,
        (Some(_), None) => {
            return Err(Failure::new(
                ErrorCode::Unknown,
                "reshare gave a share to a node outside the new committee",
            ))
        }
    };
    Ok((public_key.compressed().to_vec(), digest, sealed))
}

async fn run_eddsa(
    ctx: &NodeContext,
    wallet: &str,
    info: &KeyInfo,
    session: Session,
) -> Result<NewKeyParts, Failure> {
    let Session {
        parts,
        setup,
        request_id,
    } = session;
    let share = keys::load_eddsa_share(&ctx.store, wallet, info.version)?;
    let public_key = share.public_key().map_err(bad_material)?;
    let me = setup.me();
    let sid = SessionId::derive(ProtocolKind::EddsaReshare, request_id.as_bytes(), &parts);
    let io = SessionIo::open(ctx, ProtocolKind::EddsaReshare, sid, &parts, me)?;
    let job = move || async move {
        let mut rng = OsRng;
        let old = share.public_key_package().clone();
        reshare_eddsa(io.party(), sid, &setup, &old, Some(&share), &mut rng).await
    };
    let output = run_protocol(ctx.deadlines.keygen, job)
        .await
        .map_err(|e| timeout_failure(e, "reshare"))?
        .map_err(|e| engine_failure(ErrorCode::ReshareFailure, &parts, e))?;
    let sealed = match output.share {
        Some(share) => {
            let sealed = share
                .seal()
                .map_err(|e| Failure::new(ErrorCode::KeySave, e.to_string()))?;
            Some(keys::pack(&sealed.secret, &sealed.public))
        }
        None => None,
    };
    Ok((public_key.to_vec(), output.new_key_digest, sealed))
}

/// Switches this node to the pending result of the reshare named by `start.commit_of`.
pub async fn commit(ctx: Arc<NodeContext>, start: &Start) -> Result<Output, Failure> {
    let request = verified_request(&ctx, start)?;
    let nonce = start.commit_of.as_deref().ok_or_else(|| {
        Failure::new(
            ErrorCode::MsgValidation,
            "reshare commit names no reshare session",
        )
    })?;
    let wallet = &request.wallet_id;
    let key_type = keys::store_key_type(request.key_type);
    let info = pending::commit(&ctx.store, key_type, wallet, nonce)?.ok_or_else(|| {
        Failure::new(
            ErrorCode::ReshareFailure,
            format!("this node keeps no pending result of reshare {nonce} for wallet {wallet}"),
        )
    })?;
    if let Some(old) = info.version.checked_sub(1).filter(|v| *v > 0) {
        wipe::schedule(&ctx.store, key_type, wallet, old, ctx.share_wipe_grace)?;
    }
    if info.participant_peer_ids.contains(&ctx.me) {
        tracing::info!(wallet_id = %wallet, key_type = %request.key_type, version = info.version, "reshare committed: new share is current");
    } else {
        tracing::info!(wallet_id = %wallet, key_type = %request.key_type, version = info.version, "reshare committed: this node left the committee and no longer signs for the wallet");
    }
    Ok(Output::ReshareCommitted)
}
