//! Presignature pools for message-mode ECDSA requests (the extended form with `hash`: every
//! node hashes the message itself; cggmp24 forbids presignatures for client digests).
//!
//! A pool belongs to one (wallet, key version, HD path, committee) — a presignature is bound to
//! all four ([`PoolKey`]). Every member of the committee stores its own share of each
//! presignature under the same id, given by the node that ordered it.
//!
//! * [`refill`]: the wallet's first ready holder keeps the pools of every committee it belongs
//!   to at `presignatures.target_depth`, one presign session at a time and only while this node
//!   runs no live session; participants take part in one presign session at a time.
//! * [`online`]: a coordinator of a message-mode request that holds a presignature of a ready
//!   committee reserves it (never for two requests at once) and orders that committee to sign
//!   with it; every participant deletes it from its store (durably) before its partial signature
//!   leaves the node. A participant without that presignature fails the session, and the
//!   coordinator falls back to full signing, as it does when it holds none.
//! * Pools are burned when a reshare of the wallet's key commits ([`burn_wallet`]); a restored
//!   backup never contains presignatures; a pool of an older key version is never used.

pub mod online;
pub mod refill;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use mpcium_state::config::PresignatureSettings;
use mpcium_state::store::Store;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore, SemaphorePermit};

use crate::context::store_io;
use crate::error::{Io, NodeError};

/// Identifies one pool. Its [`PoolKey::name`] is the pool's name in the store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PoolKey {
    /// The wallet.
    pub wallet: String,
    /// The wallet's ECDSA key version (keyinfo) the presignatures were made with.
    pub version: u64,
    /// The HD path (empty: the master key).
    pub path: Vec<u32>,
    /// The committee (node ids) in party order.
    pub committee: Vec<String>,
}

impl PoolKey {
    /// The pool's name in the store: a JSON array, so no wallet id or node id can make two
    /// pools share a name.
    pub fn name(&self) -> String {
        serde_json::to_string(&(&self.wallet, self.version, &self.path, &self.committee))
            .unwrap_or_default()
    }

    /// The key of the pool named `name`; `None` for a name this module did not write.
    pub fn parse(name: &str) -> Option<Self> {
        let (wallet, version, path, committee) = serde_json::from_str(name).ok()?;
        Some(Self {
            wallet,
            version,
            path,
            committee,
        })
    }
}

/// This node's presignature pools' shared state: settings, what runs now, and the requests
/// seen (to find the pools worth keeping).
#[derive(Debug)]
pub struct Pools {
    settings: PresignatureSettings,
    /// Live (non-presign) session parts running on this node.
    live: AtomicUsize,
    /// One presign session part at a time on this node.
    presigning: Semaphore,
    /// Wakes the refill task: a live session ended or a presignature was used.
    wake: Notify,
    /// Message-mode requests seen per (wallet, path); at most `4 × max_pools` entries.
    seen: Mutex<BTreeMap<(String, Vec<u32>), u64>>,
    /// Presignatures (pool name, id) reserved by requests this node coordinates now.
    reserved: Mutex<BTreeSet<(String, u64)>>,
}

impl Pools {
    /// Pools with `settings`.
    pub fn new(settings: PresignatureSettings) -> Self {
        Self {
            settings,
            live: AtomicUsize::new(0),
            presigning: Semaphore::new(1),
            wake: Notify::new(),
            seen: Mutex::new(BTreeMap::new()),
            reserved: Mutex::new(BTreeSet::new()),
        }
    }

    /// No pools: every message-mode request signs in full, presign orders are refused.
    pub fn disabled() -> Self {
        Self::new(PresignatureSettings {
            hot_wallets: Vec::new(),
            target_depth: 0,
            auto_hot_after: None,
            max_pools: 1,
        })
    }

    /// Whether pools are on (`target_depth` > 0).
    pub fn enabled(&self) -> bool {
        self.settings.target_depth > 0
    }

    /// The settings.
    pub fn settings(&self) -> &PresignatureSettings {
        &self.settings
    }

    /// Marks a live session part running on this node until the guard is dropped; refills
    /// pause meanwhile.
    pub fn live(self: &Arc<Self>) -> LiveGuard {
        self.live.fetch_add(1, Ordering::SeqCst);
        LiveGuard(self.clone())
    }

    fn idle(&self) -> bool {
        self.live.load(Ordering::SeqCst) == 0
    }

    /// Counts a message-mode request for `wallet` on `path` (bounded: new entries are ignored
    /// once the table is full).
    pub fn saw_request(&self, wallet: &str, path: &[u32]) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (wallet.to_owned(), path.to_vec());
        let room = seen.len() < self.settings.max_pools.saturating_mul(4);
        match seen.get_mut(&key) {
            Some(n) => *n = n.saturating_add(1),
            None if room => {
                seen.insert(key, 1);
            }
            None => {}
        }
    }

    /// The (wallet, path) pairs whose pools this node keeps filled: every hot wallet's master
    /// key and every path a hot wallet was asked to sign on, and (with `auto_hot_after`) each
    /// pair asked for that often.
    pub fn hot(&self) -> Vec<(String, Vec<u32>)> {
        let mut hot: BTreeSet<(String, Vec<u32>)> = self
            .settings
            .hot_wallets
            .iter()
            .map(|w| (w.clone(), Vec::new()))
            .collect();
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        for ((wallet, path), n) in seen.iter() {
            let is_hot = self.settings.hot_wallets.contains(wallet)
                || self
                    .settings
                    .auto_hot_after
                    .is_some_and(|after| *n >= after);
            if is_hot {
                hot.insert((wallet.clone(), path.clone()));
            }
        }
        hot.into_iter().collect()
    }

    /// Wallets whose depth this node reports: the hot ones.
    fn reported_wallets(&self) -> BTreeSet<String> {
        self.hot().into_iter().map(|(w, _)| w).collect()
    }

    /// Takes this node's one presign slot, if free.
    fn try_presign(&self) -> Option<SemaphorePermit<'_>> {
        self.presigning.try_acquire().ok()
    }

    /// Reserves presignature `id` of `pool` for one request; `None` if another request holds
    /// it. The reservation ends when the guard is dropped.
    fn reserve(self: &Arc<Self>, pool: &str, id: u64) -> Option<Reservation> {
        let key = (pool.to_owned(), id);
        let fresh = self
            .reserved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone());
        fresh.then(|| Reservation {
            pools: self.clone(),
            key,
        })
    }

    fn is_reserved(&self, pool: &str, id: u64) -> bool {
        self.reserved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&(pool.to_owned(), id))
    }
}

/// A live session part; see [`Pools::live`].
#[derive(Debug)]
pub struct LiveGuard(Arc<Pools>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
        self.0.wake.notify_one();
    }
}

/// A presignature reserved by a request this node coordinates.
struct Reservation {
    pools: Arc<Pools>,
    key: (String, u64),
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.pools
            .reserved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}

/// This node's pools with how many presignatures each holds.
fn stored_pools(store: &Store) -> Result<Vec<(PoolKey, u64)>, NodeError> {
    let pools = store
        .presignature_pools()
        .map_err(|e| NodeError::io(Io::StorageRead, format!("presignature pools: {e}")))?;
    Ok(pools
        .into_iter()
        .filter_map(|(name, n)| PoolKey::parse(&name).map(|k| (k, n)))
        .collect())
}

/// Sets the depth gauge of `wallet` from `pools` (this node's, as [`stored_pools`] reads
/// them): its presignatures of key `version`.
fn report_depth(pools: &[(PoolKey, u64)], wallet: &str, version: u64) {
    let depth = pools
        .iter()
        .filter(|(k, _)| k.wallet == wallet && k.version == version)
        .map(|(_, n)| n)
        .sum();
    crate::metrics::set_presignature_pool_depth(wallet, depth);
}

/// [`report_depth`] from the store, read on the blocking pool; a failed read is logged.
async fn report_stored_depth(store: &Store, wallet: &str, version: u64) {
    match store_io(store, stored_pools).await {
        Ok(pools) => report_depth(&pools, wallet, version),
        Err(error) => tracing::warn!(%error, "cannot report presignature pool depth"),
    }
}

/// Burns every presignature of `wallet` (all versions, paths and committees) in one durable
/// transaction: its key was reshared, so they belong to shares that no longer sign.
pub fn burn_wallet(store: &Store, wallet: &str) -> Result<u64, NodeError> {
    let burned = store
        .burn_presignature_pools(|name| PoolKey::parse(name).is_some_and(|k| k.wallet == wallet))
        .map_err(|e| NodeError::io(Io::StorageWrite, format!("burning presignatures: {e}")))?;
    tracing::info!("burned {burned} presignatures of wallet {wallet}");
    if burned > 0 {
        // The wallet had pools here; the refill reports its new key's depth from now on.
        crate::metrics::set_presignature_pool_depth(wallet, 0);
    }
    Ok(burned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hot: &[&str], auto: Option<u64>) -> PresignatureSettings {
        PresignatureSettings {
            hot_wallets: hot.iter().map(|s| s.to_string()).collect(),
            target_depth: 2,
            auto_hot_after: auto,
            max_pools: 2,
        }
    }

    #[test]
    fn a_pool_name_round_trips_and_no_ids_can_make_two_pools_share_one() {
        let key = PoolKey {
            wallet: "w\",1".into(),
            version: 3,
            path: vec![44, 0],
            committee: vec!["a".into(), "b".into()],
        };
        assert_eq!(PoolKey::parse(&key.name()), Some(key.clone()));
        let other = PoolKey {
            wallet: "w".into(),
            ..key.clone()
        };
        assert_ne!(other.name(), key.name());
        assert_eq!(PoolKey::parse("ecdsa:w1"), None);
    }

    #[test]
    fn hot_pools_are_the_hot_wallets_and_their_paths_and_often_asked_ones() {
        let pools = Pools::new(settings(&["h"], Some(2)));
        pools.saw_request("h", &[1]);
        pools.saw_request("c", &[]);
        assert_eq!(
            pools.hot(),
            [("h".to_owned(), vec![]), ("h".to_owned(), vec![1])]
        );
        pools.saw_request("c", &[]);
        assert!(pools.hot().contains(&("c".to_owned(), vec![])));
        // Bounded: 4 × max_pools entries, later ones are not counted.
        for i in 0..20 {
            pools.saw_request("x", &[i]);
            pools.saw_request("x", &[i]);
        }
        assert_eq!(pools.hot().len(), 9, "{:?}", pools.hot());
    }

    #[test]
    fn a_presignature_is_reserved_for_one_request_at_a_time() {
        let pools = Arc::new(Pools::new(settings(&[], None)));
        let first = pools.reserve("p", 1).unwrap();
        assert!(pools.reserve("p", 1).is_none());
        assert!(pools.is_reserved("p", 1));
        assert!(pools.reserve("p", 2).is_some());
        drop(first);
        assert!(pools.reserve("p", 1).is_some());
    }

    #[test]
    fn refills_pause_while_a_live_session_runs() {
        let pools = Arc::new(Pools::new(settings(&[], None)));
        let live = pools.live();
        assert!(!pools.idle());
        drop(live);
        assert!(pools.idle());
        let slot = pools.try_presign().unwrap();
        assert!(pools.try_presign().is_none());
        drop(slot);
    }
}
