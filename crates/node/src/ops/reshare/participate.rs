//! A participant's side of resharing: on [`Operation::Reshare`](crate::session::control::Operation) it
//! verifies the initiator's request itself, checks the coordinator's roles against the old
//! keyinfo, runs its part of the protocol under the deadline and keeps the result **pending**;
//! on [`Operation::ReshareCommit`](crate::session::control::Operation) it switches to it.
//!
//! A holder of the wallet's current key takes the old key info from its own share and checks
//! the roles against its own keyinfo. A new member without a share (never had one, lost its
//! store, or left earlier) takes both from the start's `old_key` ([`old_key::source`]) and runs
//! with no old share; it cannot deal. Until the commit every current share and keyinfo stays as
//! it was, so signing keeps working and a failed reshare leaves nothing behind but an unused
//! pending record.

use std::sync::Arc;

use mpcium_protocol::{KeyType, ResharingMessage};
use mpcium_state::registry::KeyInfo;
use mpcium_state::store::KeyType as StoreKeyType;
use mpcium_tss::ecdsa::KeyShare;
use mpcium_tss::reshare::{reshare_ecdsa, reshare_eddsa, EcdsaKeyInfo, ReshareSetup};
use mpcium_tss::{Participants, ProtocolKind, SessionId, TssError};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use super::old_key::{self, Source};
use super::pending::{self, Pending, Switch};
use super::wipe;
use crate::context::{store_io, NodeContext};
use crate::error::{BadRequest, Io, NodeError, NotReady, ProtocolFault};
use crate::ops::aux;
use crate::ops::wallet::{self, CommitteeIndices};
use crate::session::control::{Output, Start};
use crate::session::io::{engine_error, run_error, run_protocol, SessionIo};

/// The client's request carried by `start`, after checking the initiator's signature.
fn verified_request(ctx: &NodeContext, start: &Start) -> Result<ResharingMessage, NodeError> {
    let request = ResharingMessage::from_json(&start.request).map_err(|e| {
        NodeError::bad_request(BadRequest::Undecodable(e.error_code()), e.to_string())
    })?;
    ctx.authenticate(&request)?;
    Ok(request)
}

fn bad_material(error: TssError) -> NodeError {
    NodeError::io(Io::KeyLoad, error.to_string())
}

/// This node's part of a reshare session; the new share is stored pending, never current.
pub async fn participate(ctx: Arc<NodeContext>, start: &Start) -> Result<Output, NodeError> {
    let request = verified_request(&ctx, start)?;
    let wallet = request.wallet_id.clone();
    let (key_type, held) = (request.key_type, wallet.clone());
    let local = store_io(&ctx.store, move |s| {
        wallet::load_keyinfo(s, key_type, &held)
    })
    .await?;
    let (committee, threshold) = super::new_committee(&ctx, &request)?;
    let source = old_key::source(&ctx.me, &wallet, local, start.old_key.as_ref(), &committee)?;
    let info = source.keyinfo();
    if matches!(source, Source::Given(_)) && start.dealers.contains(&ctx.me) {
        return Err(NodeError::bad_request(
            BadRequest::UnknownKey,
            format!(
                "this node is named as a dealer but holds no share of wallet {wallet}'s current \
                 key (its store lost it or never had it)"
            ),
        ));
    }
    // A holder checks dealers against the committee it recorded, never the coordinator's.
    let old_indices = info.keygen_indices(&start.dealers)?;
    if old_indices.len() != info.threshold as usize {
        return Err(NodeError::bad_request(
            BadRequest::WrongParticipantCount,
            format!(
                "a reshare needs exactly {} dealers, got {}",
                info.threshold,
                old_indices.len()
            ),
        ));
    }
    let dealers: Vec<(String, u16)> = start.dealers.iter().cloned().zip(old_indices).collect();
    let (parts, setup) = ReshareSetup::from_nodes(&ctx.me, &dealers, &committee, threshold)
        .map_err(|e| NodeError::bad_request(BadRequest::IncompatiblePeers, e.to_string()))?;
    if parts.nodes() != start.participants.as_slice() {
        return Err(NodeError::bad_request(
            BadRequest::IncompatiblePeers,
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
        KeyType::Secp256k1 => run_ecdsa(&ctx, start, &wallet, &source, &committee, session).await?,
        KeyType::Ed25519 => run_eddsa(&ctx, &wallet, &source, session).await?,
    };
    let key_type = wallet::store_key_type(request.key_type);
    let pending = Pending {
        info: new_info,
        share,
    };
    let holder = pending.share.is_some();
    let (held, nonce) = (wallet.clone(), start.nonce.clone());
    store_io(&ctx.store, move |s| {
        pending::put(s, key_type, &held, &nonce, &pending)
    })
    .await?;
    tracing::info!(wallet_id = %wallet, key_type = %request.key_type, holder, "reshare finished: new share pending until commit");
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
    source: &Source,
    committee: &[String],
    session: Session,
) -> Result<NewKeyParts, NodeError> {
    let Session {
        parts,
        setup,
        request_id,
    } = session;
    let (old, share) = match source {
        Source::Held(info) => {
            let (held, version) = (wallet.to_owned(), info.version);
            let share = store_io(&ctx.store, move |s| {
                wallet::load_ecdsa_share(s, &held, version)
            })
            .await?;
            (EcdsaKeyInfo::of(&share).map_err(bad_material)?, Some(share))
        }
        Source::Given(old) => (old_key::ecdsa_key_info(old)?, None),
    };
    // A new holder completes its share with the new committee's aux info: check it first.
    let aux = match setup.my_new_index() {
        None => None,
        Some(_) => {
            let run = start.aux_run.as_deref().ok_or_else(|| {
                NodeError::bad_request(
                    BadRequest::Incomplete,
                    "reshare start names no aux-info run",
                )
            })?;
            let set = Participants::new(committee.to_vec()).map_err(|e| {
                NodeError::bad_request(BadRequest::IncompatiblePeers, e.to_string())
            })?;
            let named = run.to_owned();
            let loaded = store_io(&ctx.store, move |s| aux::load(s, &set, &named)).await?;
            Some(loaded.ok_or_else(|| {
                NodeError::not_ready(
                    NotReady::Cluster,
                    format!("this node lacks aux-info run {run} for the new committee"),
                )
            })?)
        }
    };
    let me = setup.me();
    let sid = SessionId::derive(ProtocolKind::EcdsaReshare, request_id.as_bytes(), &parts);
    let io = SessionIo::open(&ctx.sessions, ProtocolKind::EcdsaReshare, sid, &parts, me)?;
    let job = move || async move {
        let mut rng = OsRng;
        reshare_ecdsa(io.party(), sid, &setup, &old, share.as_ref(), &mut rng).await
    };
    let output = run_protocol(ctx.deadlines.reshare, ctx.sessions.gone(parts.nodes()), job)
        .await
        .map_err(|e| run_error(e, "reshare"))?
        .map_err(|e| engine_error(ProtocolFault::Reshare, &parts, e))?;
    let digest = output.new_key.digest().map_err(bad_material)?;
    let public_key = output.new_key.public_key().map_err(bad_material)?;
    let sealed = match (output.share, aux) {
        (Some(share), Some(aux)) => {
            let complete = KeyShare::from_parts(share, aux)
                .map_err(|e| engine_error(ProtocolFault::Reshare, &parts, e))?;
            Some(
                complete
                    .seal()
                    .map_err(|e| NodeError::io(Io::KeySave, e.to_string()))?,
            )
        }
        (None, _) => None,
        (Some(_), None) => {
            return Err(NodeError::bug(
                "reshare gave a share to a node outside the new committee",
            ))
        }
    };
    Ok((public_key.compressed().to_vec(), digest, sealed))
}

async fn run_eddsa(
    ctx: &NodeContext,
    wallet: &str,
    source: &Source,
    session: Session,
) -> Result<NewKeyParts, NodeError> {
    let Session {
        parts,
        setup,
        request_id,
    } = session;
    let (old, share) = match source {
        Source::Held(info) => {
            let (held, version) = (wallet.to_owned(), info.version);
            let share = store_io(&ctx.store, move |s| {
                wallet::load_eddsa_share(s, &held, version)
            })
            .await?;
            (share.public_key_package().clone(), Some(share))
        }
        Source::Given(given) => {
            let package = old_key::eddsa_package(given)?;
            (package, None)
        }
    };
    if let Source::Given(given) = source {
        let threshold = old.min_signers().unwrap_or_default();
        old_key::check_shape(&given.keyinfo, threshold, old.verifying_shares().len())?;
    }
    let held_key = share
        .as_ref()
        .map(|s| s.public_key().map_err(bad_material))
        .transpose()?;
    let me = setup.me();
    let sid = SessionId::derive(ProtocolKind::EddsaReshare, request_id.as_bytes(), &parts);
    let io = SessionIo::open(&ctx.sessions, ProtocolKind::EddsaReshare, sid, &parts, me)?;
    let job = move || async move {
        let mut rng = OsRng;
        reshare_eddsa(io.party(), sid, &setup, &old, share.as_ref(), &mut rng).await
    };
    let output = run_protocol(ctx.deadlines.reshare, ctx.sessions.gone(parts.nodes()), job)
        .await
        .map_err(|e| run_error(e, "reshare"))?
        .map_err(|e| engine_error(ProtocolFault::Reshare, &parts, e))?;
    let public_key = match (&output.share, held_key) {
        (Some(new_share), _) => new_share.public_key().map_err(bad_material)?,
        (None, Some(key)) => key,
        (None, None) => {
            return Err(NodeError::bug(
                "reshare gave no share to a node that holds no old share",
            ))
        }
    };
    let sealed = match output.share {
        Some(share) => {
            let sealed = share
                .seal()
                .map_err(|e| NodeError::io(Io::KeySave, e.to_string()))?;
            Some(wallet::pack(&sealed.secret, &sealed.public))
        }
        None => None,
    };
    Ok((public_key.to_vec(), output.new_key_digest, sealed))
}

/// Switches this node to the pending result of the reshare named by `start.commit_of`; a
/// repeated order (the switch happened already, by an earlier order or by the catch-up) is
/// answered the same way.
pub async fn commit(ctx: Arc<NodeContext>, start: &Start) -> Result<Output, NodeError> {
    let request = verified_request(&ctx, start)?;
    ctx.sessions.hold().at("reshare-commit").await;
    let nonce = start.commit_of.as_deref().ok_or_else(|| {
        NodeError::bad_request(
            BadRequest::Incomplete,
            "reshare commit names no reshare session",
        )
    })?;
    let wallet = &request.wallet_id;
    let key_type = wallet::store_key_type(request.key_type);
    switch(&ctx, key_type, wallet, nonce)
        .await?
        .ok_or_else(|| {
            NodeError::protocol(
                ProtocolFault::Reshare,
                format!("this node keeps no pending result of reshare {nonce} for wallet {wallet}"),
            )
        })?;
    Ok(Output::ReshareCommitted)
}

/// Switches to the pending result of reshare `nonce` (see [`pending::commit`]) and, when it
/// switched now, burns the old key's presignatures and schedules the old share's wipe.
pub(super) async fn switch(
    ctx: &NodeContext,
    key_type: StoreKeyType,
    wallet: &str,
    nonce: &str,
) -> Result<Option<Switch>, NodeError> {
    let (held, named) = (wallet.to_owned(), nonce.to_owned());
    let switched = store_io(&ctx.store, move |s| {
        pending::commit(s, key_type, &held, &named)
    })
    .await?;
    let Some(Switch::Now(info)) = &switched else {
        return Ok(switched);
    };
    if key_type == StoreKeyType::Ecdsa {
        // Presignatures of the old shares must never sign again.
        let held = wallet.to_owned();
        store_io(&ctx.store, move |s| {
            crate::ops::presign::burn_wallet(s, &held)
        })
        .await?;
    }
    if let Some(old) = info.version.checked_sub(1).filter(|v| *v > 0) {
        let (held, grace) = (wallet.to_owned(), ctx.share_wipe_grace);
        store_io(&ctx.store, move |s| {
            // A new member had no old share: nothing to wipe.
            if may_hold_share(s, key_type, &held, old) {
                wipe::schedule(s, key_type, &held, old, grace)?;
            }
            Ok(())
        })
        .await?;
    }
    if info.participant_peer_ids.contains(&ctx.me) {
        tracing::info!(wallet_id = %wallet, %key_type, version = info.version, "reshare committed: new share is current");
    } else {
        tracing::info!(wallet_id = %wallet, %key_type, version = info.version, "reshare committed: this node left the committee and no longer signs for the wallet");
    }
    Ok(switched)
}

/// Whether this node may store version `version` of a wallet's share (false only when it
/// surely does not).
fn may_hold_share(
    store: &mpcium_state::store::Store,
    key_type: StoreKeyType,
    wallet: &str,
    version: u64,
) -> bool {
    !matches!(store.share(key_type, wallet, version), Ok(None))
}
