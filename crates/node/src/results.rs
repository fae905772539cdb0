//! The cluster-wide result cache's entries: every final result a node published, under
//! `mpc_results/<operation>/<id>` in the shared registry with the digest of the request that
//! produced it, so a repeated request (same id, same bytes) is answered again by whichever node
//! takes it — across restarts — and the same id with other bytes is refused.
//!
//! Entries expire after `result_cache_ttl_seconds` (default 7 days, the request streams' MaxAge):
//! each holds its expiry time, and an expired one counts as absent; the NATS KV bucket also drops
//! them (its max age); with Consul every node deletes expired entries in bounded passes
//! ([`sweep_consul`]).
//!
//! The same key holds the request's reservation while it runs; `crate::request::reserve` reads
//! and writes both, and a signing participant checks it, so it never signs an already answered
//! transaction again, whoever coordinates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use mpcium_state::registry::{AnyRegistry, RESULTS_PREFIX};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Io, NodeError};

/// A published result, cached so a repeated request gets it again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CachedResult {
    /// SHA-256 of the request bytes that produced it, hex.
    pub request_digest: String,
    /// The subject it was published on.
    pub subject: String,
    /// The published result.
    pub payload: Vec<u8>,
    /// When the entry expires (Unix milliseconds); set by [`encode`]. Absent in entries written
    /// before expiry existed: those never expire here (NATS drops them by max age).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_unix_ms: Option<u64>,
}

impl CachedResult {
    fn expired(&self, now_unix_ms: u64) -> bool {
        self.expires_unix_ms.is_some_and(|at| at <= now_unix_ms)
    }
}

/// The wall clock in Unix milliseconds (result and lease expiry are judged with it).
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The cache key of a keygen request.
pub fn keygen_key(wallet_id: &str) -> String {
    format!("keygen/{wallet_id}")
}

/// The cache key of a signing request.
pub fn signing_key(tx_id: &str) -> String {
    format!("sign/{tx_id}")
}

/// The cache key of a resharing request.
pub fn reshare_key(session_id: &str) -> String {
    format!("reshare/{session_id}")
}

/// SHA-256 of a request's bytes, hex.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `result` as stored in the registry, expiring `ttl` from now.
pub fn encode(mut result: CachedResult, ttl: Duration) -> Result<Vec<u8>, NodeError> {
    let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
    result.expires_unix_ms = Some(now_unix_ms().saturating_add(ttl_ms));
    serde_json::to_vec(&result).map_err(|e| NodeError::io(Io::Encode, e.to_string()))
}

/// A stored result, or `None` when the bytes are not one or it has expired.
pub fn decode_live(bytes: &[u8]) -> Option<CachedResult> {
    serde_json::from_slice::<CachedResult>(bytes)
        .ok()
        .filter(|cached| !cached.expired(now_unix_ms()))
}

/// How often a node sweeps expired entries out of a Consul result cache.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Entries read per sweep pass (at most this many registry reads, and deletes, a minute).
pub const SWEEP_BUDGET: usize = 500;

/// Whether a stored value is a cached result that expired by `now_unix_ms`. Anything else
/// under the prefix is left alone.
fn expired_entry(value: &[u8], now_unix_ms: u64) -> bool {
    serde_json::from_slice::<CachedResult>(value).is_ok_and(|c| c.expired(now_unix_ms))
}

/// One sweep pass over a Consul result cache after key `after` (see
/// [`mpcium_state::registry::ConsulRegistry::sweep_expired`]); does nothing for NATS KV, whose
/// bucket expires entries itself.
pub async fn sweep_once(
    registry: &AnyRegistry,
    after: Option<&str>,
    budget: usize,
) -> Result<mpcium_state::registry::SweepPass, NodeError> {
    let AnyRegistry::Consul(consul) = registry else {
        return Ok(Default::default());
    };
    let now = now_unix_ms();
    consul
        .sweep_expired(RESULTS_PREFIX, after, budget, |v| expired_entry(v, now))
        .await
        .map_err(|e| NodeError::io(Io::Network, format!("result cache sweep: {e}")))
}

/// Deletes expired result-cache entries from a Consul registry, [`SWEEP_BUDGET`] entries every
/// [`SWEEP_EVERY`], round the whole cache. Returns at once for NATS KV. Runs until aborted.
pub async fn sweep_consul(registry: Arc<AnyRegistry>) {
    if !matches!(registry.as_ref(), AnyRegistry::Consul(_)) {
        return;
    }
    let mut after: Option<String> = None;
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        match sweep_once(&registry, after.as_deref(), SWEEP_BUDGET).await {
            Ok(pass) => {
                if pass.deleted > 0 {
                    tracing::info!(
                        read = pass.read,
                        deleted = pass.deleted,
                        "deleted expired result-cache entries"
                    );
                }
                after = pass.next_after;
            }
            Err(error) => tracing::warn!(%error, "cannot sweep the result cache; retrying later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expires_unix_ms: Option<u64>) -> CachedResult {
        CachedResult {
            request_digest: digest(b"r"),
            subject: "s".into(),
            payload: b"p".to_vec(),
            expires_unix_ms,
        }
    }

    #[test]
    fn an_entry_counts_as_absent_from_its_expiry_time_on() {
        assert!(!entry(Some(1_000)).expired(999));
        assert!(entry(Some(1_000)).expired(1_000));
        assert!(!entry(None).expired(u64::MAX));
        let old: CachedResult =
            serde_json::from_str(r#"{"request_digest":"d","subject":"s","payload":[1]}"#).unwrap();
        assert_eq!(old.expires_unix_ms, None);
    }

    #[test]
    fn only_expired_cached_results_are_swept() {
        let bytes = |e: &CachedResult| serde_json::to_vec(e).unwrap();
        assert!(expired_entry(&bytes(&entry(Some(1_000))), 1_000));
        assert!(!expired_entry(&bytes(&entry(Some(1_000))), 999));
        assert!(!expired_entry(&bytes(&entry(None)), u64::MAX));
        assert!(!expired_entry(br#"{"lease":"other record"}"#, u64::MAX));
    }
}
