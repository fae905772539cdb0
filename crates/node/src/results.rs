//! The cluster-wide result cache: every final result a node published, under
//! `mpc_results/<operation>/<id>` in the shared registry with the digest of the request that
//! produced it, so a repeated request (same id, same bytes) is answered again by whichever node
//! takes it — across restarts — and the same id with other bytes is refused.
//!
//! Ingress (`crate::request`) reads and writes it; a signing participant reads it too, so it never
//! signs an already answered transaction again, whoever coordinates.

use mpcium_state::registry::{result_key, AnyRegistry, Registry};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{BadRequest, Io, NodeError};

/// A published result, cached so a repeated request gets it again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CachedResult {
    /// SHA-256 of the request bytes that produced it, hex.
    pub request_digest: String,
    /// The subject it was published on.
    pub subject: String,
    /// The published result.
    pub payload: Vec<u8>,
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

/// The cached result for `key`, if the same request was answered before. A different request
/// under the same key is refused as a duplicate.
pub async fn lookup(
    registry: &AnyRegistry,
    key: &str,
    request_digest: &str,
) -> Result<Option<CachedResult>, NodeError> {
    let Some(bytes) = registry
        .get(&result_key(key))
        .await
        .map_err(|e| NodeError::io(Io::StorageRead, format!("result cache: {e}")))?
    else {
        return Ok(None);
    };
    let cached: CachedResult = serde_json::from_slice(&bytes)
        .map_err(|e| NodeError::io(Io::Corrupt, format!("cached result: {e}")))?;
    if cached.request_digest != request_digest {
        return Err(NodeError::bad_request(
            BadRequest::Duplicate,
            format!("{key} was already used by a different request"),
        ));
    }
    Ok(Some(cached))
}

/// Caches `result` under `key`.
pub async fn store(
    registry: &AnyRegistry,
    key: &str,
    result: &CachedResult,
) -> Result<(), NodeError> {
    let bytes = serde_json::to_vec(result).map_err(|e| NodeError::io(Io::Encode, e.to_string()))?;
    registry
        .put(&result_key(key), &bytes)
        .await
        .map_err(|e| NodeError::io(Io::StorageWrite, format!("result cache: {e}")))
}
