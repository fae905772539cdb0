//! Signing: one ECDSA or Ed25519 signature by exactly `threshold` ready holders of a wallet.
//!
//! [`coordinate`]: the wallet's committee (from this node's keyinfo, or the registry's when this
//! node holds no share) → `threshold` ready holders chosen deterministically per transaction →
//! the session → every participant reported the same signature → the result event. A
//! message-mode ECDSA request is first tried from a presignature ([`presign::online`]).
//! [`participate`]: verify the initiator's request itself (an already answered transaction is
//! refused before, by `request::reserve::admit`), sign only with the committee this node
//! recorded at keygen.

use std::collections::BTreeSet;
use std::sync::Arc;

use mpcium_protocol::{ErrorCode, KeyType, SignTxMessage, SigningResultEvent};
use mpcium_state::config::Deadlines;
use mpcium_state::registry::{KeyInfo, Registry};
use mpcium_tss::ecdsa;
use mpcium_tss::{eddsa, ProtocolKind, SessionId};
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use super::wallet::{self, CommitteeIndices};
use super::{agreed, presign};
use crate::context::{store_io, NodeContext};
use crate::error::{BadRequest, Io, NodeError, NotReady, ProtocolFault};
use crate::session::control::{Operation, Output, Start};
use crate::session::io::{engine_error, participants, run_error, run_protocol, SessionIo};
use crate::session::orchestrate;

/// Signs `request` (already authenticated) with a committee of ready holders; `payload` is the
/// client's request as received, for the participants to verify.
pub async fn coordinate(
    ctx: &NodeContext,
    request: &SignTxMessage,
    payload: &[u8],
) -> Result<SigningResultEvent, NodeError> {
    // The coordinator only proposes the signers; every participant checks the proposal against
    // the keyinfo in its own store. So a coordinator that holds no share of the wallet (a node
    // that joined or was restored later) may take the committee from the shared registry.
    let (key_type, held) = (request.key_type, request.wallet_id.clone());
    let local = store_io(&ctx.store, move |s| {
        wallet::load_keyinfo(s, key_type, &held)
    })
    .await?;
    let info = match local {
        Some(info) => info,
        None => ctx
            .registry
            .keyinfo(wallet::store_key_type(request.key_type), &request.wallet_id)
            .await
            .map_err(|e| NodeError::io(Io::KeyInfoLoad, format!("registry keyinfo: {e}")))?
            .ok_or_else(|| {
                NodeError::bad_request(
                    BadRequest::UnknownKey,
                    format!("unknown wallet {}", request.wallet_id),
                )
            })?,
    };
    let outputs = match presign::online::coordinate(ctx, &info, request, payload).await {
        Some(outputs) => outputs,
        None => run_with_failover(ctx, &info, request, payload).await?,
    };
    let first = agreed(&outputs, ProtocolFault::Signing, "the signature")?;
    let bad = || NodeError::protocol(ProtocolFault::Signing, "reported signature is malformed");
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
    Ok(event)
}

/// Runs the signing session on a committee of ready holders. When members of that committee
/// stop answering (their readiness lapses, seen by this node or reported by a participant) or
/// report that they hold no share of the wallet (a node whose store was lost), the session is
/// abandoned at once and run again without them while enough holders are left. Only the session
/// that completes yields a result, so a request never gets two.
async fn run_with_failover(
    ctx: &NodeContext,
    info: &KeyInfo,
    request: &SignTxMessage,
    payload: &[u8],
) -> Result<Vec<Output>, NodeError> {
    let mut gone: BTreeSet<String> = BTreeSet::new();
    loop {
        let ready: BTreeSet<String> = ctx
            .ready_nodes()
            .await?
            .into_iter()
            .filter(|n| !gone.contains(n))
            .collect();
        let participants = choose_signers(info, &ready, &request.tx_id)
            .ok_or_else(|| too_few_signers(info, &ready, &gone))?;
        let start = Start::new(Operation::Sign, participants, payload.to_vec());
        let deadline = ctx.deadlines.signing + Deadlines::COORDINATOR_SLACK;
        let error = match orchestrate::run(&ctx.sessions, start, deadline).await {
            Ok(outputs) => return Ok(outputs),
            Err(error) => error,
        };
        let newly: Vec<String> = left_out(&error)
            .into_iter()
            .filter(|n| !gone.contains(n))
            .collect();
        if newly.is_empty() {
            return Err(error);
        }
        if error.code() == ErrorCode::KeyNotFound {
            // A share-less member: sign without it if a committee is left, else say which
            // holder lacks its share (not a readiness problem).
            let rest: BTreeSet<String> = ready
                .iter()
                .filter(|n| !newly.contains(n))
                .cloned()
                .collect();
            if choose_signers(info, &rest, &request.tx_id).is_none() {
                return Err(error);
            }
        }
        tracing::warn!(
            tx_id = %request.tx_id,
            left_out = ?newly,
            %error,
            "signers cannot take part; signing again without them"
        );
        gone.extend(newly);
    }
}

/// The members a failed signing session is run again without: those that stopped answering, or
/// the one that reported holding no share of the wallet.
fn left_out(error: &NodeError) -> Vec<String> {
    if !error.missing().is_empty() {
        return error.missing().to_vec();
    }
    match error.reporter() {
        Some(node) if error.code() == ErrorCode::KeyNotFound => vec![node.to_owned()],
        _ => Vec::new(),
    }
}

/// The error when fewer than `threshold` holders are ready (and answering).
fn too_few_signers(info: &KeyInfo, ready: &BTreeSet<String>, gone: &BTreeSet<String>) -> NodeError {
    let available: Vec<&str> = info
        .participant_peer_ids
        .iter()
        .filter(|p| ready.contains(*p))
        .map(String::as_str)
        .collect();
    let mut reason = format!(
        "signing needs {} ready holders of the wallet; ready: [{}]",
        info.threshold,
        available.join(", ")
    );
    if !gone.is_empty() {
        let gone: Vec<&str> = gone.iter().map(String::as_str).collect();
        reason.push_str(&format!(
            "; left out (not answering, or holding no share): [{}]",
            gone.join(", ")
        ));
    }
    NodeError::not_ready(NotReady::TooFewSigners, reason)
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

/// This node's part of a signing session.
pub async fn participate(ctx: Arc<NodeContext>, start: &Start) -> Result<Output, NodeError> {
    let request = SignTxMessage::from_json(&start.request).map_err(|e| {
        NodeError::bad_request(BadRequest::Undecodable(e.error_code()), e.to_string())
    })?;
    ctx.authenticate_signing(&request)?;
    // An answered transaction was refused before this (`request::reserve::admit`).
    let wallet = request.wallet_id.clone();
    let (key_type, held) = (request.key_type, wallet.clone());
    let local = store_io(&ctx.store, move |s| {
        wallet::load_keyinfo(s, key_type, &held)
    })
    .await?;
    let info = local.ok_or_else(|| {
        NodeError::bad_request(
            BadRequest::UnknownKey,
            format!(
                "wallet {wallet} has no {} key on this node",
                request.key_type
            ),
        )
    })?;
    let (parts, me) = participants(&ctx.me, &start.participants)?;
    // Sign only with the committee this node recorded at keygen, and exactly `threshold` of it.
    let signers = info.signer_indices(parts.nodes(), "signing")?;
    let path = request.derivation_path.clone().unwrap_or_default();
    let request_id = format!("sign/{wallet}/{}/{}", request.tx_id, start.nonce);
    let deadline = ctx.deadlines.signing;
    let fault = |e| engine_error(ProtocolFault::Signing, &parts, e);
    let output = match (request.key_type, start.presignature) {
        // Refuses anything but message-mode ECDSA.
        (_, Some(id)) => {
            let nonce = &start.nonce;
            presign::online::participate(
                ctx.clone(),
                &request,
                &info,
                &signers,
                &parts,
                me,
                nonce,
                id,
            )
            .await?
        }
        (KeyType::Secp256k1, None) => {
            let (held, version) = (wallet.clone(), info.version);
            let share = store_io(&ctx.store, move |s| {
                wallet::load_ecdsa_share(s, &held, version)
            })
            .await?;
            let committee = share.committee(signers).map_err(fault)?;
            let sid = SessionId::derive(ProtocolKind::EcdsaSign, request_id.as_bytes(), &parts);
            let io = SessionIo::open(&ctx.sessions, ProtocolKind::EcdsaSign, sid, &parts, me)?;
            let tx = request.tx.clone();
            let hash = request.hash;
            let signing = move || async move {
                let party = io.party();
                match hash {
                    None => ecdsa::sign_digest(sid, &share, &committee, &tx, &path, party).await,
                    Some(hash) => {
                        ecdsa::sign_message(sid, &share, &committee, &tx, hash, &path, party).await
                    }
                }
            };
            let signature = run_protocol(deadline, ctx.sessions.gone(parts.nodes()), signing)
                .await
                .map_err(|e| run_error(e, "signing"))?
                .map_err(fault)?;
            Output::Ecdsa {
                r: hex::encode(signature.r),
                s: hex::encode(signature.s),
                recovery_id: signature.recovery_id,
            }
        }
        (KeyType::Ed25519, None) => {
            let (held, version) = (wallet.clone(), info.version);
            let share = store_io(&ctx.store, move |s| {
                wallet::load_eddsa_share(s, &held, version)
            })
            .await?;
            let share = if path.is_empty() {
                share
            } else {
                share.derive_child(&ctx.chain_code, &path).map_err(fault)?.0
            };
            let sid = SessionId::derive(ProtocolKind::EddsaSign, request_id.as_bytes(), &parts);
            let io = SessionIo::open(&ctx.sessions, ProtocolKind::EddsaSign, sid, &parts, me)?;
            let message = request.tx.clone();
            let signing = move || async move {
                let mut rng = OsRng;
                eddsa::sign::sign(io.party(), sid, me, &signers, &share, &message, &mut rng).await
            };
            let signature = run_protocol(deadline, ctx.sessions.gone(parts.nodes()), signing)
                .await
                .map_err(|e| run_error(e, "signing"))?
                .map_err(fault)?;
            Output::Eddsa {
                signature: hex::encode(signature),
            }
        }
    };
    tracing::info!(wallet_id = %wallet, tx_id = %request.tx_id, "signing success");
    Ok(output)
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
    fn committees_spread_the_signing_load_over_every_ready_holder() {
        let holders = ["a", "b", "c", "d", "e"];
        let info = info(&holders, 3);
        let ready: BTreeSet<String> = holders.iter().map(|s| s.to_string()).collect();
        let mut chosen: std::collections::BTreeMap<String, usize> = Default::default();
        let mut committees = BTreeSet::new();
        for i in 0..1000 {
            let signers = choose_signers(&info, &ready, &format!("tx-{i}")).unwrap();
            for s in &signers {
                *chosen.entry(s.clone()).or_default() += 1;
            }
            committees.insert(signers);
        }
        // Each holder is in 3 of the 5 rotations: it signs about 60 % of the transactions.
        for holder in holders {
            let share = chosen[holder] as f64 / 1000.0;
            assert!((0.5..0.7).contains(&share), "{holder} signs {share}");
        }
        assert_eq!(committees.len(), 5);
    }

    #[test]
    fn too_few_ready_holders_yields_none() {
        let ready: BTreeSet<String> = ["a"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            choose_signers(&info(&["a", "b", "c"], 2), &ready, "t"),
            None
        );
    }
}
