//! Keeping the pools filled: the background refill a wallet's first ready holder runs
//! ([`run`]) and every member's part of one presign session ([`participate`]).
//!
//! Refills are low priority: the refill task orders one presign session at a time and waits
//! while this node runs any live session part; a participant takes part in one presign session
//! at a time and refuses another meanwhile.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mpcium_protocol::KeyType;
use mpcium_state::config::Deadlines;
use mpcium_tss::{ecdsa, ProtocolKind, SessionId};
use serde::{Deserialize, Serialize};

use super::{report_depth, report_stored_depth, stored_pools, PoolKey};
use crate::context::{store_io, NodeContext};
use crate::error::{BadRequest, Io, NodeError, NotReady, ProtocolFault};
use crate::ops::wallet::{self, CommitteeIndices};
use crate::session::control::{Operation, Output, Start};
use crate::session::io::{engine_error, participants, run_error, run_protocol, SessionIo};
use crate::session::orchestrate;

/// How often the refill task looks for work when nothing wakes it.
const TICK: Duration = Duration::from_secs(2);
/// First wait after a failed presign session; doubled per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait after failed presign sessions.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What a presign order asks for ([`Start::request`] of an [`Operation::Presign`]).
#[derive(Debug, Serialize, Deserialize)]
struct Order {
    wallet_id: String,
    version: u64,
    path: Vec<u32>,
}

/// Keeps the pools this node leads at the target depth until cancelled; returns at once when
/// pools are off.
pub async fn run(ctx: Arc<NodeContext>) {
    if !ctx.presign.enabled() {
        return;
    }
    crate::metrics::presignature_pool_requests_from_zero();
    let mut backoff = MIN_BACKOFF;
    loop {
        while !ctx.presign.idle() {
            let _ = tokio::time::timeout(TICK, ctx.presign.wake.notified()).await;
        }
        let failed = match next(&ctx).await {
            Ok(Some(key)) => order(&ctx, key).await.err(),
            Ok(None) => {
                let _ = tokio::time::timeout(TICK, ctx.presign.wake.notified()).await;
                None
            }
            Err(error) => Some(error),
        };
        match failed {
            None => backoff = MIN_BACKOFF,
            Some(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "presignature refill failed");
                // Jitter, so leaders that collided do not collide again.
                let jitter = Duration::from_millis(u64::from(rand::random::<u16>() % 500));
                tokio::time::sleep(backoff + jitter).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The emptiest pool below target that this node leads, after burning stale pools and
/// reporting depths. This node leads a wallet's pools when it is the wallet's first ready
/// holder (keygen order); it fills the pools of the committees of ready holders it belongs
/// to, at most `max_pools` of them.
async fn next(ctx: &NodeContext) -> Result<Option<PoolKey>, NodeError> {
    let settings = ctx.presign.settings();
    let hot = ctx.presign.hot();
    let hot_wallets: Vec<String> = hot.iter().map(|(w, _)| w.clone()).collect();
    // One trip to the blocking pool: the pools, their wallets' keyinfo, the burn of stale
    // pools and the pools left after it (for the depth gauges; a failed read is only logged).
    let (stored, infos, burned, left) = store_io(&ctx.store, move |s| {
        let stored: BTreeMap<PoolKey, u64> = stored_pools(s)?.into_iter().collect();
        let mut wallets: BTreeSet<String> = stored.keys().map(|k| k.wallet.clone()).collect();
        wallets.extend(hot_wallets);
        let mut infos = BTreeMap::new();
        for wallet in wallets {
            if let Some(info) = wallet::load_keyinfo(s, KeyType::Secp256k1, &wallet)? {
                infos.insert(wallet, info);
            }
        }
        let stale: BTreeSet<String> = stored
            .keys()
            .filter(|k| infos.get(&k.wallet).map(|i| i.version) != Some(k.version))
            .map(PoolKey::name)
            .collect();
        let burned = if stale.is_empty() {
            None
        } else {
            let burned = s
                .burn_presignature_pools(|name| stale.contains(name))
                .map_err(|e| {
                    NodeError::io(Io::StorageWrite, format!("burning presignatures: {e}"))
                })?;
            Some(burned)
        };
        Ok((stored, infos, burned, stored_pools(s)))
    })
    .await?;
    if let Some(burned) = burned {
        tracing::info!(burned, "stale presignature pools burned");
    }
    match left {
        Ok(left) => {
            for wallet in ctx.presign.reported_wallets() {
                let version = infos.get(&wallet).map_or(0, |i| i.version);
                report_depth(&left, &wallet, version);
            }
        }
        Err(error) => tracing::warn!(%error, "cannot report presignature pool depth"),
    }

    let ready = ctx.ready_nodes().await?;
    let mut budget = settings.max_pools;
    let mut best: Option<(u64, PoolKey)> = None;
    for (wallet, path) in hot {
        let Some(info) = infos.get(&wallet) else {
            continue;
        };
        let holders: Vec<String> = info
            .participant_peer_ids
            .iter()
            .filter(|p| ready.contains(*p))
            .cloned()
            .collect();
        let Ok(t) = usize::try_from(info.threshold) else {
            continue;
        };
        if holders.first() != Some(&ctx.me) || t == 0 || holders.len() < t {
            continue;
        }
        for committee in committees_with_first(&holders, t) {
            if budget == 0 {
                break;
            }
            budget -= 1;
            let key = PoolKey {
                wallet: wallet.clone(),
                version: info.version,
                path: path.clone(),
                committee,
            };
            let depth = stored.get(&key).copied().unwrap_or(0);
            let below = depth < settings.target_depth as u64;
            if below && best.as_ref().is_none_or(|(d, _)| depth < *d) {
                best = Some((depth, key));
            }
        }
    }
    Ok(best.map(|(_, key)| key))
}

/// Every `t`-member committee of `holders` (in their order) that includes the first holder.
fn committees_with_first(holders: &[String], t: usize) -> Vec<Vec<String>> {
    fn choose(rest: &[String], k: usize, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if k == 0 {
            out.push(prefix.clone());
            return;
        }
        for (i, node) in rest.iter().enumerate() {
            if rest.len() - i < k {
                break;
            }
            prefix.push(node.clone());
            choose(&rest[i + 1..], k - 1, prefix, out);
            prefix.pop();
        }
    }
    let Some((first, rest)) = holders.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if t >= 1 {
        choose(rest, t - 1, &mut vec![first.clone()], &mut out);
    }
    out
}

/// Orders the committee of `key` to make one presignature, under a fresh id.
async fn order(ctx: &NodeContext, key: PoolKey) -> Result<(), NodeError> {
    let request = Order {
        wallet_id: key.wallet.clone(),
        version: key.version,
        path: key.path.clone(),
    };
    let payload =
        serde_json::to_vec(&request).map_err(|e| NodeError::io(Io::Encode, e.to_string()))?;
    let (pool, size) = (key.name(), key.committee.len() as u64);
    let stored = store_io(&ctx.store, move |s| {
        s.presignature_ids(&pool)
            .map_err(|e| NodeError::io(Io::StorageRead, format!("presignature ids: {e}")))
    })
    .await?;
    let mut start = Start::new(Operation::Presign, key.committee.clone(), payload);
    start.presignature = Some(balanced_id(now_nanos(), &stored, size));
    let deadline = ctx.deadlines.signing + Deadlines::COORDINATOR_SLACK;
    orchestrate::run(&ctx.sessions, start, deadline).await?;
    report_stored_depth(&ctx.store, &key.wallet, key.version).await;
    Ok(())
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A presignature id for a pool of a `size`-member committee holding `stored`: about `now`
/// (nanoseconds since the epoch: unique per leader, ascending with age), moved to the residue
/// modulo `size` that the fewest stored ids have. The member at committee position `r` prefers
/// the ids `≡ r` when it coordinates (`online::pick`), so each member owns an equal share.
pub(super) fn balanced_id(now: u64, stored: &[u64], size: u64) -> u64 {
    let size = size.max(1);
    let owner = (0..size)
        .min_by_key(|r| stored.iter().filter(|id| *id % size == *r).count())
        .unwrap_or(0);
    now - now % size + owner
}

/// This node's part of one presign session: checks the order against its own keyinfo and
/// pool bounds, runs the protocol and stores its share of the presignature under the order's
/// id (only if the key was not reshared meanwhile).
pub async fn participate(ctx: Arc<NodeContext>, start: &Start) -> Result<Output, NodeError> {
    let pools = ctx.presign.clone();
    if !pools.enabled() {
        return Err(NodeError::bad_request(
            BadRequest::Policy,
            "presignature pools are off on this node (presignatures.target_depth: 0)",
        ));
    }
    let Some(_slot) = pools.try_presign() else {
        return Err(NodeError::not_ready(
            NotReady::Cluster,
            "this node is taking part in another presign session",
        ));
    };
    let order: Order = serde_json::from_slice(&start.request).map_err(|e| {
        NodeError::bad_request(BadRequest::Incomplete, format!("presign order: {e}"))
    })?;
    let id = start.presignature.ok_or_else(|| {
        NodeError::bad_request(BadRequest::Incomplete, "presign order names no id")
    })?;
    let wallet = order.wallet_id;
    let held = wallet.clone();
    let info = store_io(&ctx.store, move |s| {
        wallet::load_keyinfo(s, KeyType::Secp256k1, &held)
    })
    .await?
    .filter(|info| info.version == order.version)
    .ok_or_else(|| {
        NodeError::bad_request(
            BadRequest::Stale,
            format!(
                "this node holds no version {} of wallet {wallet}'s ECDSA key",
                order.version
            ),
        )
    })?;
    let (parts, me) = participants(&ctx.me, &start.participants)?;
    let signers = info.signer_indices(parts.nodes(), "presigning")?;
    let key = PoolKey {
        wallet: wallet.clone(),
        version: info.version,
        path: order.path,
        committee: parts.nodes().to_vec(),
    };
    let stored = store_io(&ctx.store, stored_pools).await?;
    let depth = stored
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(0, |(_, n)| *n);
    let settings = pools.settings();
    if depth >= settings.target_depth as u64 {
        return Err(NodeError::bad_request(
            BadRequest::Policy,
            format!("the pool is full ({depth} presignatures)"),
        ));
    }
    if depth == 0 && stored.len() >= settings.max_pools {
        return Err(NodeError::bad_request(
            BadRequest::Policy,
            format!(
                "this node keeps at most {} presignature pools",
                settings.max_pools
            ),
        ));
    }

    let (held, version) = (wallet.clone(), info.version);
    let share = store_io(&ctx.store, move |s| {
        wallet::load_ecdsa_share(s, &held, version)
    })
    .await?;
    let fault = |e| engine_error(ProtocolFault::Signing, &parts, e);
    let committee = share.committee(signers).map_err(fault)?;
    let request_id = format!("presign/{wallet}/{}/{id}/{}", info.version, start.nonce);
    let sid = SessionId::derive(ProtocolKind::EcdsaPresign, request_id.as_bytes(), &parts);
    let io = SessionIo::open(&ctx.sessions, ProtocolKind::EcdsaPresign, sid, &parts, me)?;
    let path = key.path.clone();
    let presigning =
        move || async move { ecdsa::presign(sid, &share, &committee, &path, io.party()).await };
    let presignature = run_protocol(
        ctx.deadlines.signing,
        ctx.sessions.gone(parts.nodes()),
        presigning,
    )
    .await
    .map_err(|e| run_error(e, "presigning"))?
    .map_err(fault)?;
    let (held, pool) = (wallet.clone(), key.name());
    let left = store_io(&ctx.store, move |s| {
        // A reshare that committed meanwhile made this presignature useless: drop it.
        let current = wallet::load_keyinfo(s, KeyType::Secp256k1, &held)?;
        if current.map(|i| i.version) != Some(version) {
            return Err(NodeError::bad_request(
                BadRequest::Stale,
                format!("wallet {held}'s key was reshared while presigning"),
            ));
        }
        let sealed = presignature
            .seal()
            .map_err(|e| engine_error(ProtocolFault::Signing, &parts, e))?;
        s.put_presignature(&pool, id, &sealed)
            .map_err(|e| NodeError::io(Io::StorageWrite, format!("storing a presignature: {e}")))?;
        Ok(stored_pools(s))
    })
    .await?;
    tracing::debug!("presignature stored: #{id} of pool {}", key.name());
    match left {
        Ok(left) => report_depth(&left, &wallet, version),
        Err(error) => tracing::warn!(%error, "cannot report presignature pool depth"),
    }
    Ok(Output::Presigned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_give_each_committee_member_an_equal_share_of_the_pool() {
        let mut stored = Vec::new();
        for step in 0..30u64 {
            // Clock readings of any parity.
            let now = 1_796_323_390_000_000_000 + step * 1_000_003;
            let id = balanced_id(now, &stored, 2);
            assert!(id.abs_diff(now) < 2);
            assert!(!stored.contains(&id));
            stored.push(id);
        }
        assert_eq!(stored.iter().filter(|id| *id % 2 == 0).count(), 15);
        let three: Vec<u64> = (0..9).fold(Vec::new(), |mut ids, step| {
            ids.push(balanced_id(1_000 + step * 7, &ids, 3));
            ids
        });
        for r in 0..3 {
            assert_eq!(three.iter().filter(|id| *id % 3 == r).count(), 3);
        }
    }

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_leader_fills_every_committee_it_belongs_to_in_holder_order() {
        assert_eq!(
            committees_with_first(&ids(&["a", "b", "c"]), 2),
            [ids(&["a", "b"]), ids(&["a", "c"])]
        );
        assert_eq!(
            committees_with_first(&ids(&["a", "b", "c", "d"]), 3),
            [
                ids(&["a", "b", "c"]),
                ids(&["a", "b", "d"]),
                ids(&["a", "c", "d"])
            ]
        );
        assert_eq!(committees_with_first(&ids(&["a"]), 1), [ids(&["a"])]);
        assert!(committees_with_first(&ids(&["a", "b"]), 3).is_empty());
        assert!(committees_with_first(&[], 1).is_empty());
    }
}
