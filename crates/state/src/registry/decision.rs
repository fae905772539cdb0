//! Reshare decisions: the one registry write that makes a reshare final.
//!
//! Once every participant of a reshare reported the same new key, its coordinator records a
//! [`Decision`] at `mpc_reshare/<keytype>:<wallet>` *before* it orders anyone to switch. From
//! then on the switch is owed everywhere: a participant that missed the order (it was down, or
//! the coordinator died) finds the decision naming its pending result and switches by itself,
//! and a redelivered request finds the decision naming it and completes it instead of
//! resharing again. A reshare with no decision switched nowhere.
//!
//! [`decide`] writes at most one decision per version (create-if-absent, else compare-and-set
//! over an older version), so of two concurrent reshares of one key only one is ever final.

use serde::{Deserialize, Serialize};

use super::{Registry, RegistryError};
use crate::store::KeyType;

/// Prefix of reshare decisions: `mpc_reshare/<ecdsa|eddsa>:<wallet id>` → JSON [`Decision`]
/// (not in the reference; kept until the next decision of the same key replaces it).
pub const RESHARE_PREFIX: &str = "mpc_reshare/";

/// `mpc_reshare/<key type>:<wallet id>`.
pub fn decision_key(key_type: KeyType, wallet_id: &str) -> String {
    format!("{RESHARE_PREFIX}{key_type}:{wallet_id}")
}

/// A final reshare of one of a wallet's keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The reshare session's nonce: the name of every participant's pending result.
    pub nonce: String,
    /// The key version the participants switch to.
    pub version: u64,
    /// Every participant of the session (the new committee and the leaving dealers).
    pub participants: Vec<String>,
    /// SHA-256 of the client's request bytes, hex: the same request, redelivered or sent
    /// again, completes this reshare instead of resharing once more.
    pub request_digest: String,
    /// The public key as the result carries it, hex.
    pub public_key: String,
}

/// What [`decide`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decided {
    /// This decision is recorded (now, or already by an earlier call).
    Recorded,
    /// Another reshare of the same or a later version was decided first; nothing was written.
    Superseded(Decision),
}

fn malformed(key: &str, error: impl std::fmt::Display) -> RegistryError {
    RegistryError::Malformed {
        key: key.to_owned(),
        reason: format!("not a reshare decision: {error}"),
    }
}

/// The decision recorded for a wallet's key, if any.
pub async fn read(
    registry: &impl Registry,
    key_type: KeyType,
    wallet_id: &str,
) -> Result<Option<Decision>, RegistryError> {
    let key = decision_key(key_type, wallet_id);
    match registry.get(&key).await? {
        None => Ok(None),
        Some(json) => serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| malformed(&key, e)),
    }
}

/// Records `decision` unless a decision of the same or a later version is there.
pub async fn decide(
    registry: &impl Registry,
    key_type: KeyType,
    wallet_id: &str,
    decision: &Decision,
) -> Result<Decided, RegistryError> {
    let key = decision_key(key_type, wallet_id);
    let json = serde_json::to_vec(decision).map_err(|e| malformed(&key, e))?;
    // Each round either writes or sees a write of someone else; a few are plenty.
    for _ in 0..8 {
        let Some(current) = registry.get_versioned(&key).await? else {
            if registry.create_versioned(&key, &json).await?.is_some() {
                return Ok(Decided::Recorded);
            }
            continue;
        };
        let existing: Decision =
            serde_json::from_slice(&current.value).map_err(|e| malformed(&key, e))?;
        if existing.nonce == decision.nonce {
            return Ok(Decided::Recorded);
        }
        if existing.version >= decision.version {
            return Ok(Decided::Superseded(existing));
        }
        if registry
            .compare_and_set(&key, &json, current.revision)
            .await?
            .is_some()
        {
            return Ok(Decided::Recorded);
        }
    }
    Err(RegistryError::Malformed {
        key,
        reason: "the reshare decision kept changing while it was written; retry".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_live_under_their_own_prefix() {
        assert_eq!(decision_key(KeyType::Ecdsa, "w"), "mpc_reshare/ecdsa:w");
    }
}
