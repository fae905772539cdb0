//! The coordinator's side of resharing: one authenticated client request in, exactly one
//! `ResharingResultEvent` (or error) out.
//!
//! Order: check the wallet (this node must hold a share of its current key: it
//! describes the old key to new members), the new committee and the threshold → every new
//! member ready → a dealing quorum of exactly `t_old` ready old holders (members that leave
//! first, so they learn of the switch) → ECDSA aux info for the new committee (run on demand) →
//! the reshare session → every participant reported the same public key and new key digest →
//! the decision in the registry (the reshare is final from here) → the commit session (every
//! participant switches; one that does not answer switches by itself when it is back,
//! `super::catch_up`) → registry keyinfo v+1 → success. A failure before the decision leaves
//! every wallet as it was; a request that finds its own decision (redelivered after its
//! coordinator died) only orders the commit again.

use std::collections::BTreeSet;
use std::time::Duration;

use mpcium_protocol::{KeyType, ResharingMessage, ResharingResultEvent, Threshold};
use mpcium_state::config::Deadlines;
use mpcium_state::registry::decision::{self, Decided, Decision};
use mpcium_state::registry::{KeyInfo, Registry};
use mpcium_tss::ecdsa::EcdsaPublicKey;

use super::old_key;
use crate::context::{store_io, NodeContext};
use crate::error::{BadRequest, Io, NodeError, NotReady, ProtocolFault};
use crate::ops::{aux, wallet};
use crate::session::control::{Operation, Output, Start};
use crate::session::orchestrate;

/// How long the commit order may take (a store transaction per participant).
const COMMIT_DEADLINE: Duration = Duration::from_secs(15);

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
    let (committee, threshold) = super::new_committee(ctx, request)?;
    let store_type = wallet::store_key_type(request.key_type);
    let request_digest = crate::results::digest(payload);
    if let Some(decided) = decision::read(ctx.registry.as_ref(), store_type, wallet)
        .await
        .map_err(registry_failure)?
        .filter(|d| d.request_digest == request_digest)
    {
        tracing::info!(wallet_id = %wallet, key_type = %request.key_type, version = decided.version, "this reshare was decided before: ordering its commit again");
        return finish(ctx, request, payload, &committee, threshold, &decided).await;
    }
    let (key_type, held) = (request.key_type, wallet.clone());
    let local = store_io(&ctx.store, move |s| {
        wallet::load_keyinfo(s, key_type, &held)
    })
    .await?;
    let info = local
        .filter(|info| info.participant_peer_ids.contains(&ctx.me))
        .ok_or_else(|| not_a_holder(ctx, request))?;
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
    let public_key = result_key(request.key_type, &agreed_public_key(&outputs)?)?;
    let decided = Decision {
        nonce,
        version: plan.new_info.version,
        participants: plan.participants,
        request_digest,
        public_key: hex::encode(&public_key),
    };
    match decision::decide(ctx.registry.as_ref(), store_type, wallet, &decided)
        .await
        .map_err(registry_failure)?
    {
        Decided::Recorded => {}
        Decided::Superseded(other) => {
            return Err(NodeError::protocol(
                ProtocolFault::Reshare,
                format!(
                    "another reshare of wallet {wallet}'s {} key was decided first (version {}); \
                     nothing was switched",
                    request.key_type, other.version
                ),
            ))
        }
    }
    tracing::info!(wallet_id = %wallet, key_type = %request.key_type, version = decided.version, "reshare decided");
    ctx.sessions.hold().at("reshare-decided").await;
    finish(ctx, request, payload, &committee, threshold, &decided).await
}

/// Completes a decided reshare: orders the commit, publishes the new keyinfo to the registry and
/// returns the success.
async fn finish(
    ctx: &NodeContext,
    request: &ResharingMessage,
    payload: &[u8],
    committee: &[String],
    threshold: Threshold,
    decided: &Decision,
) -> Result<ResharingResultEvent, NodeError> {
    let wallet = &request.wallet_id;
    let away = commit_everywhere(ctx, committee, threshold, payload, decided).await?;
    if !away.is_empty() {
        tracing::warn!(wallet_id = %wallet, away = %away.join(", "), "the reshare is decided but these participants did not confirm the switch; they switch when they are back");
    }
    let new_info = KeyInfo {
        participant_peer_ids: committee.to_vec(),
        threshold: u32::from(threshold.signers()),
        version: decided.version,
    };
    if let Err(error) = ctx
        .registry
        .put_keyinfo(wallet::store_key_type(request.key_type), wallet, &new_info)
        .await
    {
        tracing::warn!(%error, "cannot publish the new keyinfo to the registry (nodes keep their own copy)");
    }
    tracing::info!(wallet_id = %wallet, key_type = %request.key_type, version = decided.version, "reshare success");
    let public_key = hex::decode(&decided.public_key).map_err(|_| {
        NodeError::protocol(
            ProtocolFault::MalformedOutput,
            "the recorded reshare decision holds a malformed public key",
        )
    })?;
    Ok(ResharingResultEvent::success(
        wallet.clone(),
        request.new_threshold,
        request.key_type,
        public_key,
    ))
}

/// Orders every participant of the decided reshare to switch; returns those that did not answer
/// (died, froze, or were too slow): the decision is in the registry, so each switches by itself
/// when it is back (`super::catch_up`). The reshare is answered as a success only if at least
/// the new threshold of the committee confirmed the switch, so the key signs now. A participant
/// that answers with an error fails the request (it cannot hold the new version).
async fn commit_everywhere(
    ctx: &NodeContext,
    committee: &[String],
    threshold: Threshold,
    payload: &[u8],
    decided: &Decision,
) -> Result<Vec<String>, NodeError> {
    let mut ordered = decided.participants.clone();
    let mut away: Vec<String> = Vec::new();
    while !ordered.is_empty() {
        let mut commit = Start::new(Operation::ReshareCommit, ordered.clone(), payload.to_vec());
        commit.commit_of = Some(decided.nonce.clone());
        let failure = match orchestrate::run(&ctx.sessions, commit, COMMIT_DEADLINE).await {
            Ok(_) => break,
            Err(failure) => failure,
        };
        let missing: Vec<String> = failure
            .missing()
            .iter()
            .filter(|n| ordered.contains(n))
            .cloned()
            .collect();
        if failure.reporter().is_some() || missing.is_empty() {
            return Err(NodeError::protocol(
                ProtocolFault::Reshare,
                format!(
                    "the reshare is decided (version {}), but a participant did not switch: \
                     {failure}; it keeps signing with the old version until it is restored from a \
                     backup or the key is reshared again",
                    decided.version
                ),
            ));
        }
        // The others may not have answered yet either: order them again (a repeated order is
        // answered at once) to learn that they switched.
        tracing::warn!(%failure, "the reshare commit did not reach every participant; confirming with the others");
        ordered.retain(|n| !missing.contains(n));
        away.extend(missing);
    }
    let confirmed = committee.iter().filter(|n| !away.contains(n)).count();
    if confirmed < usize::from(threshold.signers()) {
        return Err(NodeError::not_ready(
            NotReady::TooFewSigners,
            format!(
                "the reshare is decided (version {}) and {} switch when they are back, but until \
                 then only {confirmed} of the {} signers it needs hold the new version",
                decided.version,
                away.join(", "),
                threshold.signers()
            ),
        ));
    }
    Ok(away)
}

fn registry_failure(error: mpcium_state::registry::RegistryError) -> NodeError {
    NodeError::io(
        Io::Network,
        format!("cannot read or record the reshare decision: {error}"),
    )
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
