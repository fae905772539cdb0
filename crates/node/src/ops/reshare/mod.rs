//! Resharing in the node: a client's request to move one of a wallet's keys to a new committee
//! and threshold (same public key), and the atomic switch to the new shares.
//!
//! * [`coordinate`] — the coordinator: checks the request, picks the dealing quorum, makes sure
//!   ECDSA aux info exists for the new committee, runs the reshare session, and only when every
//!   participant reported the same new key orders the commit; then updates the registry and
//!   publishes the result.
//! * [`participate`] — a participant: verifies the request itself, runs its part of the protocol and
//!   keeps the result pending; switches to it on the commit order.
//! * [`old_key`] — the old key's public description in the start, and where a participant
//!   takes the old key from (its own share, or that description when it has none).
//! * [`pending`] — the pending record and the one-transaction switch.
//! * [`catch_up`] — a participant that missed a decided reshare's commit order switches by
//!   itself (at start-up and periodically).
//!
//! The new committee is always the requested node ids **sorted** (the order of the new share
//! indices, of the aux-info run, and of the keyinfo's `participant_peer_ids`). Details and
//! limits: `docs/resharing.md`, "In the node".

pub(crate) mod catch_up;
pub mod coordinate;
mod old_key;
pub mod participate;
mod pending;
pub mod wipe;

use mpcium_protocol::{ResharingMessage, Threshold};

use crate::context::NodeContext;
use crate::error::{BadRequest, NodeError};

/// The new committee a request names (sorted, each node known and listed once) and its
/// threshold (signers required, `⌊n/2⌋ + 1 ≤ t ≤ n`).
pub(crate) fn new_committee(
    ctx: &NodeContext,
    request: &ResharingMessage,
) -> Result<(Vec<String>, Threshold), NodeError> {
    let invalid = |reason: String| NodeError::bad_request(BadRequest::IncompatiblePeers, reason);
    let requested = request
        .node_ids
        .as_deref()
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| invalid("the request names no node ids for the new committee".into()))?;
    let mut committee = requested.to_vec();
    committee.sort();
    committee.dedup();
    if committee.len() != requested.len() {
        return Err(invalid("the new committee lists a node twice".into()));
    }
    if let Some(unknown) = committee.iter().find(|n| !ctx.node_ids.contains(n)) {
        return Err(invalid(format!(
            "node {unknown} is not a peer of this cluster"
        )));
    }
    let n = u16::try_from(committee.len())
        .map_err(|_| invalid("the new committee is too large".into()))?;
    let threshold = Threshold::new(request.new_threshold, n).map_err(|e| {
        NodeError::bad_request(
            BadRequest::InvalidThreshold,
            format!(
                "new_threshold {} is invalid for {n} nodes: {e}; new_threshold is the number of \
                 signers required (from {} to {n}), not the polynomial degree of reference \
                 clients (for 2-of-3 send 2, not 1)",
                request.new_threshold,
                n / 2 + 1
            ),
        )
    })?;
    Ok((committee, threshold))
}
