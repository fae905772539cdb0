//! The coordinator's side of resharing: one authenticated client request in, exactly one
//! `ResharingResultEvent` (or error) out.
//!
//! Order: check the wallet (this node must hold a share of its current key: it
//! describes the old key to new members), the new committee and the threshold → every new
//! member ready → a dealing quorum of exactly `t_old` ready old holders (members that leave
//! first, so they learn of the switch) → ECDSA aux info for the new committee (run on demand) →
//! the reshare session → every participant reported the same public key and new key digest →
//! the commit session (every participant switches) → registry keyinfo v+1 → success. A failure
//! before the commit leaves every wallet as it was.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use mpcium_protocol::{KeyType, ResharingMessage, ResharingResultEvent};
use mpcium_state::config::Deadlines;
use mpcium_state::registry::{KeyInfo, Registry};
use mpcium_tss::ecdsa::EcdsaPublicKey;

use super::old_key;
use crate::context::{store_io, NodeContext};
use crate::error::{BadRequest, NodeError, NotReady, ProtocolFault};
use crate::ops::{aux, wallet};
use crate::session::control::{Operation, Output, Start};
use crate::session::orchestrate;

/// How long the commit order may take (a store transaction per participant).
const COMMIT_DEADLINE: Duration = Duration::from_secs(15);
/// How long participants that missed the commit order are ordered again.
const COMMIT_RETRY_FOR: Duration = Duration::from_secs(45);
/// How often the coordinator looks whether they are ready again.
const COMMIT_RETRY_EVERY: Duration = Duration::from_secs(1);

/// Who takes part in one reshare.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    /// The new committee, sorted.
    committee: Vec<String>,
    /// The dealing quorum, in dealing order.
    dealers: Vec<String>,
    /// Session order: the committee, then the dealers that leave.
    participants: Vec<String>,
    /// The keyinfo the wallet gets.
    new_info: KeyInfo,
}

/// The dealer of `plan` that reported holding no share of the key, if that is why it failed.
fn shareless_dealer(failure: &NodeError, plan: &Plan) -> Option<String> {
    let node = failure.reporter()?;
    (failure.code() == mpcium_protocol::ErrorCode::KeyNotFound
        && plan.dealers.iter().any(|d| d == node))
    .then(|| node.to_owned())
}

/// Picks the dealing quorum: exactly `t_old` ready holders of the current key, members that
/// leave the committee first (so the commit reaches them), each group in committee order.
fn plan(
    info: &KeyInfo,
    committee: Vec<String>,
    new_threshold: u16,
    ready: &BTreeSet<String>,
    shareless: &BTreeSet<String>,
) -> Result<Plan, NodeError> {
    let not_ready: Vec<&str> = committee
        .iter()
        .filter(|n| !ready.contains(*n))
        .map(String::as_str)
        .collect();
    if !not_ready.is_empty() {
        return Err(NodeError::not_ready(
            NotReady::Cluster,
            format!(
                "every member of the new committee must be ready; not ready: {}",
                not_ready.join(", ")
            ),
        ));
    }
    let t_old = info.threshold as usize;
    let ready_holders = info
        .participant_peer_ids
        .iter()
        .filter(|p| ready.contains(*p) && !shareless.contains(*p));
    let (leaving, staying): (Vec<&String>, Vec<&String>) =
        ready_holders.partition(|p| !committee.contains(p));
    let dealers: Vec<String> = leaving
        .into_iter()
        .chain(staying)
        .take(t_old)
        .cloned()
        .collect();
    if t_old == 0 || dealers.len() < t_old {
        return Err(NodeError::not_ready(
            NotReady::TooFewSigners,
            format!(
                "a reshare needs {t_old} ready holders of the current key; ready: [{}]",
                dealers.join(", ")
            ),
        ));
    }
    let mut participants = committee.clone();
    participants.extend(dealers.iter().filter(|d| !committee.contains(d)).cloned());
    let new_info = KeyInfo {
        participant_peer_ids: committee.clone(),
        threshold: u32::from(new_threshold),
        version: info.version.saturating_add(1),
    };
    Ok(Plan {
        committee,
        dealers,
        participants,
        new_info,
    })
}

/// Reshares the key `request` (already authenticated) names; `payload` is the client's request
/// as received, for the participants to verify.
pub async fn coordinate(
    ctx: &NodeContext,
    request: &ResharingMessage,
    payload: &[u8],
) -> Result<ResharingResultEvent, NodeError> {
    let wallet = &request.wallet_id;
    let (key_type, held) = (request.key_type, wallet.clone());
    let local = store_io(&ctx.store, move |s| {
        wallet::load_keyinfo(s, key_type, &held)
    })
    .await?;
    let info = local
        .filter(|info| info.participant_peer_ids.contains(&ctx.me))
        .ok_or_else(|| not_a_holder(ctx, request))?;
    let (committee, threshold) = super::new_committee(ctx, request)?;
    let ready = ctx.ready_nodes().await?;
    let mut shareless = BTreeSet::new();
    let (held, described) = (wallet.clone(), info.clone());
    let old_key = store_io(&ctx.store, move |s| {
        old_key::describe(s, key_type, &held, &described)
    })
    .await?;
    // A holder listed in the keyinfo may have lost its store (it answers that it has no share):
    // plan again without it, at most once per dealer.
    let (plan, nonce, outputs) = loop {
        let plan = plan(
            &info,
            committee.clone(),
            threshold.signers(),
            &ready,
            &shareless,
        )?;
        let mut start = Start::new(
            Operation::Reshare,
            plan.participants.clone(),
            payload.to_vec(),
        );
        start.dealers = plan.dealers.clone();
        start.old_key = Some(old_key.clone());
        if request.key_type == KeyType::Secp256k1 {
            start.aux_run = Some(aux::run_for(ctx, &plan.committee).await?);
        }
        let nonce = start.nonce.clone();
        let deadline = ctx.deadlines.reshare + Deadlines::COORDINATOR_SLACK;
        match orchestrate::run(&ctx.sessions, start, deadline).await {
            Ok(outputs) => break (plan, nonce, outputs),
            Err(failure) => match shareless_dealer(&failure, &plan) {
                Some(node) => {
                    tracing::warn!(%node, "a dealer holds no share of the key; planning without it");
                    shareless.insert(node);
                }
                None => return Err(failure),
            },
        }
    };
    let public_key = agreed_public_key(&outputs)?;

    commit_everywhere(ctx, plan.participants.clone(), payload, &nonce).await?;
    if let Err(error) = ctx
        .registry
        .put_keyinfo(
            wallet::store_key_type(request.key_type),
            wallet,
            &plan.new_info,
        )
        .await
    {
        tracing::warn!(%error, "cannot publish the new keyinfo to the registry (nodes keep their own copy)");
    }
    tracing::info!(wallet_id = %wallet, key_type = %request.key_type, version = plan.new_info.version, "reshare success");
    Ok(ResharingResultEvent::success(
        wallet.clone(),
        request.new_threshold,
        request.key_type,
        result_key(request.key_type, &public_key)?,
    ))
}

/// Orders every participant to switch to the result of reshare `nonce`. Participants that do not
/// answer (died, froze) are ordered again once they are ready, until [`COMMIT_RETRY_FOR`] is
/// over: each keeps its pending result in its store, so one that restarts with its store switches
/// too and the wallet is not left split between versions. A participant that answers with an
/// error ends the attempt at once.
async fn commit_everywhere(
    ctx: &NodeContext,
    participants: Vec<String>,
    payload: &[u8],
    nonce: &str,
) -> Result<(), NodeError> {
    let give_up = Instant::now() + COMMIT_RETRY_FOR;
    let mut ordered = participants;
    loop {
        let mut commit = Start::new(Operation::ReshareCommit, ordered.clone(), payload.to_vec());
        commit.commit_of = Some(nonce.to_owned());
        let failure = match orchestrate::run(&ctx.sessions, commit, COMMIT_DEADLINE).await {
            Ok(_) => return Ok(()),
            Err(failure) => failure,
        };
        if failure.missing().is_empty() || Instant::now() >= give_up {
            return Err(NodeError::protocol(
                ProtocolFault::Reshare,
                format!(
                    "every participant confirmed the new key but the switch did not finish \
                     everywhere ({failure}); nodes that did not switch still sign with the old \
                     version"
                ),
            ));
        }
        tracing::warn!(%failure, "the reshare commit did not reach every participant; ordering it again once they are ready");
        ordered = failure.missing().to_vec();
        while Instant::now() < give_up {
            let ready = ctx.ready_nodes().await.unwrap_or_default();
            if ordered.iter().all(|n| ready.contains(n)) {
                break;
            }
            tokio::time::sleep(COMMIT_RETRY_EVERY).await;
        }
    }
}

/// Why this node cannot coordinate: it holds no share of the wallet's current key (the wallet
/// is unknown, this node left its committee, or its store was replaced), so it cannot describe
/// the old key to new members. Not cached: sent again, the request may reach a holder.
fn not_a_holder(ctx: &NodeContext, request: &ResharingMessage) -> NodeError {
    NodeError::bad_request(
        BadRequest::UnknownKey,
        format!(
            "node {} took the request but holds no share of wallet {}'s current {} key (unknown \
             wallet, or this node is new or left the committee), so it cannot coordinate the \
             reshare; send the request again with a new session id — a holder must take it",
            ctx.me, request.wallet_id, request.key_type
        ),
    )
}

/// The public key every participant reported, if they all agree on it and on the new key.
fn agreed_public_key(outputs: &[Output]) -> Result<Vec<u8>, NodeError> {
    let disagree = || {
        NodeError::protocol(
            ProtocolFault::Reshare,
            "participants disagree on the new key; nothing was switched",
        )
    };
    let Some(first) = outputs.first() else {
        return Err(disagree());
    };
    if outputs.iter().any(|o| o != first) {
        return Err(disagree());
    }
    let Output::Reshare { public_key, .. } = first else {
        return Err(disagree());
    };
    hex::decode(public_key).map_err(|_| disagree())
}

/// The public key as results carry it: secp256k1 as `X ‖ Y` (like keygen), Ed25519 as is.
fn result_key(key_type: KeyType, public_key: &[u8]) -> Result<Vec<u8>, NodeError> {
    let malformed = || {
        NodeError::protocol(
            ProtocolFault::MalformedOutput,
            "reported public key is malformed",
        )
    };
    match key_type {
        KeyType::Secp256k1 => {
            let compressed: [u8; 33] = public_key.try_into().map_err(|_| malformed())?;
            EcdsaPublicKey::from_compressed(&compressed)
                .and_then(|k| k.uncompressed_xy())
                .map(|xy| xy.to_vec())
                .map_err(|_| malformed())
        }
        KeyType::Ed25519 => Ok(public_key.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpcium_protocol::ErrorCode;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn info(holders: &[&str], t: u32) -> KeyInfo {
        KeyInfo {
            participant_peer_ids: ids(holders),
            threshold: t,
            version: 1,
        }
    }

    fn ready(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_refresh_deals_from_the_first_t_holders_and_keeps_the_committee() {
        let plan = plan(
            &info(&["a", "b", "c"], 2),
            ids(&["a", "b", "c"]),
            2,
            &ready(&["a", "b", "c"]),
            &BTreeSet::new(),
        )
        .expect("plan");
        assert_eq!(plan.dealers, ids(&["a", "b"]));
        assert_eq!(plan.participants, ids(&["a", "b", "c"]));
        assert_eq!(plan.new_info.version, 2);
    }

    #[test]
    fn a_leaving_member_deals_so_that_it_learns_of_the_switch() {
        let plan = plan(
            &info(&["a", "b", "c"], 2),
            ids(&["a", "b"]),
            2,
            &ready(&["a", "b", "c"]),
            &BTreeSet::new(),
        )
        .expect("plan");
        assert_eq!(plan.dealers, ids(&["c", "a"]));
        assert_eq!(plan.participants, ids(&["a", "b", "c"]));
        assert_eq!(plan.new_info.participant_peer_ids, ids(&["a", "b"]));
    }

    #[test]
    fn a_new_member_that_is_not_ready_is_refused_before_anything_runs() {
        let failure = plan(
            &info(&["a", "b", "c"], 2),
            ids(&["a", "b", "c"]),
            2,
            &ready(&["a", "b"]),
            &BTreeSet::new(),
        )
        .expect_err("refused");
        assert_eq!(failure.code(), ErrorCode::ClusterNotReady);
        assert!(failure.to_string().contains('c'));
    }

    #[test]
    fn a_node_without_a_current_share_joins_the_committee_but_does_not_deal() {
        let plan = plan(
            &info(&["a", "b"], 2),
            ids(&["a", "b", "c"]),
            2,
            &ready(&["a", "b", "c"]),
            &BTreeSet::new(),
        )
        .expect("plan");
        assert_eq!(plan.dealers, ids(&["a", "b"]));
        assert_eq!(plan.participants, ids(&["a", "b", "c"]));
        assert_eq!(plan.new_info.participant_peer_ids, ids(&["a", "b", "c"]));
    }

    #[test]
    fn disagreeing_participants_fail_the_reshare() {
        let a = Output::Reshare {
            public_key: "02".into(),
            new_key_digest: "aa".into(),
        };
        let b = Output::Reshare {
            public_key: "02".into(),
            new_key_digest: "bb".into(),
        };
        assert!(agreed_public_key(&[a.clone(), a.clone()]).is_ok());
        assert!(agreed_public_key(&[a, b]).is_err());
        assert!(agreed_public_key(&[]).is_err());
    }

    #[test]
    fn a_dealer_without_a_share_is_planned_around() {
        let all = ready(&["a", "b", "c"]);
        let first = plan(
            &info(&["a", "b", "c"], 2),
            ids(&["a", "b", "c"]),
            2,
            &all,
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(first.dealers, ids(&["a", "b"]));
        let reported = |node: &str, code: ErrorCode| NodeError::Reported {
            node: node.into(),
            code,
            culprits: Vec::new(),
            missing: Vec::new(),
            reason: "x".into(),
        };
        let failure = reported("a", ErrorCode::KeyNotFound);
        let shareless = shareless_dealer(&failure, &first).unwrap();
        let again = plan(
            &info(&["a", "b", "c"], 2),
            ids(&["a", "b", "c"]),
            2,
            &all,
            &BTreeSet::from([shareless]),
        )
        .unwrap();
        assert_eq!(again.dealers, ids(&["b", "c"]));
        // Other failures, or failures of non-dealers, are final.
        let timeout = reported("a", ErrorCode::SessionTimeout);
        assert_eq!(shareless_dealer(&timeout, &first), None);
        let member = reported("c", ErrorCode::KeyNotFound);
        assert_eq!(shareless_dealer(&member, &first), None);
    }
}
