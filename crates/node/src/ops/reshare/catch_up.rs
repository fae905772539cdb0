//! The catch-up: a participant that missed a decided reshare's commit order (it was down or
//! frozen, or the coordinator died after deciding) switches by itself, so a wallet is never left
//! split between versions.
//!
//! One [`pass`] at start-up, before the node says it is ready (it never signs with a version the
//! cluster has left), then one every [`EVERY`] ([`run`]). Each pending record is judged by the
//! registry's decision for its wallet's key (`mpcium_state::registry::decision`):
//! * the decision names it → switch (as on the commit order);
//! * a decision of the same or a later version names another reshare, or this node is already
//!   at that version → the record can never switch: discarded;
//! * no such decision yet → kept; once it has been seen undecided for longer than any reshare
//!   can still be decided ([`undecided_for`]), discarded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mpcium_state::registry::decision;
use mpcium_state::store::KeyType;

use super::participate;
use super::pending::{self, PendingName, Switch};
use crate::context::{store_io, NodeContext};
use crate::error::{Io, NodeError};
use crate::ops::wallet;

/// How often a running node looks for pending records it can switch or discard.
pub(crate) const EVERY: Duration = Duration::from_secs(5);

/// When this process first saw each undecided pending record.
pub(crate) type FirstSeen = HashMap<PendingName, Instant>;

/// How long a pending record may wait for its decision: a coordinator decides before its
/// reshare session's deadline (with slack) passes, or never.
fn undecided_for(ctx: &NodeContext) -> Duration {
    (ctx.deadlines.reshare + mpcium_state::config::Deadlines::COORDINATOR_SLACK) * 2
}

/// What became of one pending record in a pass.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Switch,
    Discard,
    Wait,
}

fn judge(
    pending: &PendingName,
    version: u64,
    current: Option<u64>,
    decision: Option<&decision::Decision>,
) -> Verdict {
    match decision {
        Some(d) if d.nonce == pending.nonce => Verdict::Switch,
        Some(d) if d.version >= version => Verdict::Discard,
        _ if current.is_some_and(|c| c >= version) => Verdict::Discard,
        _ => Verdict::Wait,
    }
}

/// Switches or discards what it can of this node's pending records; returns how many switched.
/// Records it cannot judge now (the registry is unreachable) wait for the next pass.
pub(crate) async fn pass(
    ctx: &NodeContext,
    first_seen: &mut FirstSeen,
) -> Result<usize, NodeError> {
    let listed = store_io(&ctx.store, pending::list).await?;
    first_seen.retain(|name, _| listed.contains(name));
    let mut switched = 0;
    for name in listed {
        let held = name.clone();
        let record = store_io(&ctx.store, move |s| {
            let record = pending::load(s, held.key_type, &held.wallet, &held.nonce)?;
            let current = wallet::load_keyinfo(s, protocol_key_type(held.key_type), &held.wallet)?;
            Ok((record.map(|p| p.info.version), current.map(|c| c.version)))
        })
        .await?;
        let (Some(version), current) = record else {
            // An empty record: how earlier releases marked a commit.
            let held = name.clone();
            store_io(&ctx.store, move |s| pending::discard(s, &held)).await?;
            continue;
        };
        let decided = decision::read(ctx.registry.as_ref(), name.key_type, &name.wallet)
            .await
            .map_err(|e| {
                NodeError::io(
                    Io::Network,
                    format!("cannot read the reshare decision: {e}"),
                )
            })?;
        match judge(&name, version, current, decided.as_ref()) {
            Verdict::Switch => {
                if let Some(Switch::Now(_)) =
                    participate::switch(ctx, name.key_type, &name.wallet, &name.nonce).await?
                {
                    tracing::info!(wallet_id = %name.wallet, key_type = %name.key_type, version, "caught up with a decided reshare whose commit order this node missed");
                    switched += 1;
                }
            }
            Verdict::Discard => discard(ctx, &name, "a later reshare was decided").await?,
            Verdict::Wait => {
                let seen = *first_seen.entry(name.clone()).or_insert_with(Instant::now);
                if seen.elapsed() >= undecided_for(ctx) {
                    discard(ctx, &name, "its reshare was never decided").await?;
                }
            }
        }
    }
    Ok(switched)
}

async fn discard(ctx: &NodeContext, name: &PendingName, why: &str) -> Result<(), NodeError> {
    let held = name.clone();
    store_io(&ctx.store, move |s| pending::discard(s, &held)).await?;
    tracing::info!(wallet_id = %name.wallet, key_type = %name.key_type, why, "discarded a pending reshare result that can never switch");
    Ok(())
}

fn protocol_key_type(key_type: KeyType) -> mpcium_protocol::KeyType {
    match key_type {
        KeyType::Ecdsa => mpcium_protocol::KeyType::Secp256k1,
        KeyType::Eddsa => mpcium_protocol::KeyType::Ed25519,
    }
}

/// Runs a [`pass`] every [`EVERY`] until the task is cancelled; a failed pass is logged and
/// tried again at the next.
pub(crate) async fn run(ctx: Arc<NodeContext>) {
    let mut first_seen = FirstSeen::new();
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(error) = pass(&ctx, &mut first_seen).await {
            tracing::warn!(%error, "reshare catch-up pass failed; trying again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpcium_state::registry::decision::Decision;

    fn named(nonce: &str) -> PendingName {
        PendingName {
            key_type: KeyType::Ecdsa,
            wallet: "w".into(),
            nonce: nonce.into(),
        }
    }

    fn decided(nonce: &str, version: u64) -> Decision {
        Decision {
            nonce: nonce.into(),
            version,
            participants: vec![],
            request_digest: "d".into(),
            public_key: "02".into(),
        }
    }

    #[test]
    fn a_record_switches_only_when_the_decision_names_it() {
        let n1 = named("n1");
        assert_eq!(
            judge(&n1, 2, Some(1), Some(&decided("n1", 2))),
            Verdict::Switch
        );
        assert_eq!(judge(&n1, 2, Some(1), None), Verdict::Wait);
        // An older decision says nothing about this reshare.
        assert_eq!(
            judge(&n1, 2, Some(1), Some(&decided("n0", 1))),
            Verdict::Wait
        );
    }

    #[test]
    fn a_record_another_reshare_superseded_is_discarded() {
        let n1 = named("n1");
        assert_eq!(
            judge(&n1, 2, Some(1), Some(&decided("n2", 2))),
            Verdict::Discard
        );
        assert_eq!(
            judge(&n1, 2, Some(2), Some(&decided("n0", 1))),
            Verdict::Discard
        );
        assert_eq!(judge(&n1, 2, Some(3), None), Verdict::Discard);
    }
}
