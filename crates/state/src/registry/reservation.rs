//! Exactly-once by reservation: the first node to take a request reserves its id in the shared
//! registry, atomically, before any protocol runs; everyone else sees who holds it.
//!
//! One key per request id holds either a [`Lease`] (JSON with `reserved_by`, `request_digest`
//! and `lease_expires_unix_ms`) or the final result (any other bytes, the caller's format).
//! * [`claim`] creates the lease if the key is absent (create-if-absent), takes over a lapsed
//!   lease or a stale result by compare-and-set on the revision it read, and otherwise reports
//!   the live lease or the result that is there;
//! * [`renew`] extends the owner's lease (compare-and-set), failing once anyone else wrote;
//! * [`finish`] replaces the lease by the final result, [`release`] lapses it at once (a failed
//!   attempt may be run again), both by compare-and-set.
//!
//! Expiry is judged with the wall clock (`now_unix_ms`, passed in), so the nodes' clocks must
//! agree to well within the lease time.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Registry, RegistryError};

/// Who holds a request id, for which request, until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Node id of the owner.
    pub reserved_by: String,
    /// SHA-256 of the request bytes, hex.
    pub request_digest: String,
    /// When the lease lapses unless renewed (Unix milliseconds).
    pub lease_expires_unix_ms: u64,
}

impl Lease {
    /// Whether the lease has lapsed at `now_unix_ms`.
    pub fn lapsed(&self, now_unix_ms: u64) -> bool {
        self.lease_expires_unix_ms <= now_unix_ms
    }

    fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings and an integer always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What a request id's key holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Nothing: the id is free.
    Free,
    /// A lease (live or lapsed) at `revision`.
    Leased {
        /// The lease.
        lease: Lease,
        /// Its revision.
        revision: u64,
    },
    /// The final result, in the caller's format, at `revision`.
    Done {
        /// The stored bytes.
        value: Vec<u8>,
        /// Their revision.
        revision: u64,
    },
}

/// Reads what `key` holds.
pub async fn read(registry: &impl Registry, key: &str) -> Result<Slot, RegistryError> {
    Ok(match registry.get_versioned(key).await? {
        None => Slot::Free,
        Some(v) => match serde_json::from_slice::<Lease>(&v.value) {
            Ok(lease) => Slot::Leased {
                lease,
                revision: v.revision,
            },
            Err(_) => Slot::Done {
                value: v.value,
                revision: v.revision,
            },
        },
    })
}

/// A lease this node holds: what [`renew`], [`finish`] and [`release`] need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    key: String,
    lease: Lease,
    revision: u64,
}

impl Held {
    /// The lease as last written.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }
}

/// The answer of [`claim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the id now; `took_over` names the owner of the lapsed lease it replaced.
    Won {
        /// The lease.
        held: Held,
        /// The previous owner, when a lapsed lease was taken over.
        took_over: Option<String>,
    },
    /// Someone holds a live lease (possibly for other request bytes).
    Busy(Lease),
    /// The final result is there (and not stale).
    Done(Vec<u8>),
}

/// Attempts at [`claim`] before giving up on a key that keeps changing under it.
const CLAIM_ATTEMPTS: usize = 8;

/// Reserves `key` for `owner` and the request whose digest is `request_digest`, for `ttl` from
/// `now_unix_ms`: creates the lease if the key is absent, takes over a lapsed lease or a
/// result `stale` says is expired (compare-and-set), and otherwise reports what is there.
pub async fn claim(
    registry: &impl Registry,
    key: &str,
    owner: &str,
    request_digest: &str,
    ttl: Duration,
    now_unix_ms: u64,
    stale: impl Fn(&[u8]) -> bool,
) -> Result<Claim, RegistryError> {
    let lease = Lease {
        reserved_by: owner.to_owned(),
        request_digest: request_digest.to_owned(),
        lease_expires_unix_ms: now_unix_ms.saturating_add(ttl_ms(ttl)),
    };
    let bytes = lease.to_bytes();
    let won = |revision, took_over| Claim::Won {
        held: Held {
            key: key.to_owned(),
            lease: lease.clone(),
            revision,
        },
        took_over,
    };
    for _ in 0..CLAIM_ATTEMPTS {
        // Absent is the common case: try to create first.
        if let Some(revision) = registry.create_versioned(key, &bytes).await? {
            return Ok(won(revision, None));
        }
        let (revision, previous) = match read(registry, key).await? {
            // Deleted since: create again.
            Slot::Free => continue,
            Slot::Leased { lease, revision } if lease.lapsed(now_unix_ms) => {
                (revision, Some(lease.reserved_by))
            }
            Slot::Leased { lease, .. } => return Ok(Claim::Busy(lease)),
            Slot::Done { value, revision } if stale(&value) => (revision, None),
            Slot::Done { value, .. } => return Ok(Claim::Done(value)),
        };
        if let Some(revision) = registry.compare_and_set(key, &bytes, revision).await? {
            return Ok(won(revision, previous));
        }
    }
    Err(RegistryError::Malformed {
        key: key.to_owned(),
        reason: format!("the reservation changed {CLAIM_ATTEMPTS} times while claiming; retry"),
    })
}

/// Extends `held` to `ttl` from `now_unix_ms`; `false` when the key was written by anyone else
/// since (the lease is lost).
pub async fn renew(
    registry: &impl Registry,
    held: &mut Held,
    ttl: Duration,
    now_unix_ms: u64,
) -> Result<bool, RegistryError> {
    let mut lease = held.lease.clone();
    lease.lease_expires_unix_ms = now_unix_ms.saturating_add(ttl_ms(ttl));
    match registry
        .compare_and_set(&held.key, &lease.to_bytes(), held.revision)
        .await?
    {
        Some(revision) => {
            held.lease = lease;
            held.revision = revision;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Replaces the lease by the final result `value`; `false` when the lease was lost.
pub async fn finish(
    registry: &impl Registry,
    held: &Held,
    value: &[u8],
) -> Result<bool, RegistryError> {
    Ok(registry
        .compare_and_set(&held.key, value, held.revision)
        .await?
        .is_some())
}

/// Lapses the lease at once, so the id can be claimed again (after a failed attempt); `false`
/// when the lease was lost anyway.
pub async fn release(registry: &impl Registry, held: &Held) -> Result<bool, RegistryError> {
    let mut lease = held.lease.clone();
    lease.lease_expires_unix_ms = 0;
    Ok(registry
        .compare_and_set(&held.key, &lease.to_bytes(), held.revision)
        .await?
        .is_some())
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_lapses_at_its_expiry_time() {
        let lease = Lease {
            reserved_by: "n".into(),
            request_digest: "d".into(),
            lease_expires_unix_ms: 1_000,
        };
        assert!(!lease.lapsed(999));
        assert!(lease.lapsed(1_000));
        let parsed: Lease = serde_json::from_slice(&lease.to_bytes()).unwrap();
        assert_eq!(parsed, lease);
    }

    #[test]
    fn a_cached_result_is_not_mistaken_for_a_lease() {
        let result = br#"{"request_digest":"d","subject":"s","payload":[1]}"#;
        assert!(serde_json::from_slice::<Lease>(result).is_err());
    }
}
