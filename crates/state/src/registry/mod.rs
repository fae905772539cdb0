//! The peer registry: membership (`mpc_peers/`), readiness (`mpc_ready/`) and wallet key info
//! (`threshold_keyinfo/`), behind one [`Registry`] trait with two backends chosen in config.
//!
//! * [`ConsulRegistry`]: Consul's HTTP KV API with the reference's keys, as the seed guide
//!   deploys it. Readiness keys hold an expiry time and stale ones count as not ready (Consul KV
//!   has no TTL without sessions). Tested against `mpcium_testkit::FakeConsul`, an in-repo server
//!   that follows Consul's KV API documentation, because no Consul binary can be installed here.
//! * [`NatsKvRegistry`]: the same keys in JetStream KV buckets (`mpc_peers`, `mpc_ready`,
//!   `threshold_keyinfo`), readiness with a per-key TTL; one moving part fewer. Needs
//!   nats-server ≥ 2.11. Tested against the real server.
//!
//! [`reservation`] builds exactly-once leases on the atomic operations (`create`,
//! `compare_and_set`); [`decision`] records which reshare of a key is final (`mpc_reshare/`).
//!
//! Readiness marks carry the writing process's [`Incarnation`] ([`mark`]), so readers can tell
//! a restarted node from one that stayed up.
//!
//! Callers that pick the backend at run time use [`AnyRegistry`]. Keys use `/` as the separator
//! in every backend (Consul's form); values are bytes.

mod consul;
pub mod decision;
mod error;
mod keys;
pub mod mark;
mod nats;
mod nats_key;
mod ready_view;
pub mod reservation;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

pub use consul::{ConsulRegistry, ConsulSettings, SweepPass};
pub use decision::RESHARE_PREFIX;
pub use error::{RegistryError, RegistryErrorKind};
pub use keys::{
    keyinfo_key, peer_key, ready_key, result_key, KeyInfo, KEYINFO_PREFIX, PEERS_PREFIX,
    READY_PREFIX, RESULTS_PREFIX,
};
pub use mark::{Incarnation, ReadyMark};
pub use nats::{NatsKvRegistry, NatsKvSettings};
pub use ready_view::{Readiness, ReadyView, CONSUL_REFRESH};

use crate::store::KeyType;

/// A value with its revision: the NATS KV sequence or Consul's `ModifyIndex`, which
/// [`Registry::compare_and_set`] names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The value.
    pub value: Vec<u8>,
    /// Its revision.
    pub revision: u64,
}

/// What [`Registry::register_peer`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerRegistration {
    /// The peer was not registered; now it is.
    Registered,
    /// The peer was already registered with the same id; nothing was written.
    Unchanged,
}

/// A key-value registry shared by the nodes of a cluster.
///
/// The required methods are the backend's; the provided ones are the typed operations the node
/// and `mpcium-cli` use, written once on top of them.
///
/// # Cancel safety
/// Dropping a call's future (e.g. in `select!`) may leave its write applied or not; every
/// operation can simply be repeated (`put`, `delete`, `set_ready` are idempotent; a repeated
/// `create`/`register_peer` reports the value already there; a repeated `compare_and_set` reports
/// a conflict, so read the value again to see whether it was yours).
pub trait Registry: Send + Sync {
    /// Writes `value` at `key`, replacing any value.
    fn put(
        &self,
        key: &str,
        value: &[u8],
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// The value at `key`, if any.
    fn get(&self, key: &str)
        -> impl Future<Output = Result<Option<Vec<u8>>, RegistryError>> + Send;

    /// Deletes `key`; deleting a missing key is not an error.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Every key starting with `prefix`, with its value.
    fn list(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, Vec<u8>>, RegistryError>> + Send;

    /// Writes `value` at `key` only if `key` is absent; the new revision, or `None` when the key
    /// exists.
    fn create_versioned(
        &self,
        key: &str,
        value: &[u8],
    ) -> impl Future<Output = Result<Option<u64>, RegistryError>> + Send;

    /// Writes `value` at `key` only if `key` is absent; returns whether it wrote.
    fn create(
        &self,
        key: &str,
        value: &[u8],
    ) -> impl Future<Output = Result<bool, RegistryError>> + Send {
        async move { Ok(self.create_versioned(key, value).await?.is_some()) }
    }

    /// The value at `key` with its revision, if any.
    fn get_versioned(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Versioned>, RegistryError>> + Send;

    /// Replaces the value at `key` only if its revision is still `revision` (an atomic
    /// compare-and-set); the new revision, or `None` when the key changed or vanished meanwhile.
    fn compare_and_set(
        &self,
        key: &str,
        value: &[u8],
        revision: u64,
    ) -> impl Future<Output = Result<Option<u64>, RegistryError>> + Send;

    /// Succeeds if the backend is reachable and able to serve writes.
    fn healthy(&self) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Marks `node_id` ready for `ttl`, with this handle's [`Registry::incarnation`]; the node
    /// re-calls this as a heartbeat well within `ttl`.
    fn set_ready(
        &self,
        node_id: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// Marks `node_id` as starting (not ready) with this handle's [`Registry::incarnation`],
    /// replacing the mark of a previous process with that id: readers see at once that the node
    /// restarted. The mark lives at most `ttl` (NATS; Consul's never counts as ready) until
    /// [`Registry::set_ready`] replaces it.
    fn set_starting(
        &self,
        node_id: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// The incarnation this handle writes into readiness marks: drawn at random when the handle
    /// was opened (a node opens one per process).
    fn incarnation(&self) -> Incarnation;

    /// Marks `node_id` not ready (on shutdown).
    fn clear_ready(&self, node_id: &str) -> impl Future<Output = Result<(), RegistryError>> + Send;

    /// The ids of nodes whose readiness has not expired.
    fn ready_nodes(&self) -> impl Future<Output = Result<BTreeSet<String>, RegistryError>> + Send;

    /// Registers peer `name` with node id `id`: writes it if absent, does nothing if it is
    /// registered with the same id, and fails with [`RegistryError::PeerIdConflict`] if it is
    /// registered with another id (the reference's semantics; never overwrites).
    fn register_peer(
        &self,
        name: &str,
        id: &str,
    ) -> impl Future<Output = Result<PeerRegistration, RegistryError>> + Send {
        async move {
            let key = peer_key(name);
            if self.create(&key, id.as_bytes()).await? {
                return Ok(PeerRegistration::Registered);
            }
            match self.get(&key).await? {
                Some(existing) if existing == id.as_bytes() => Ok(PeerRegistration::Unchanged),
                Some(existing) => Err(RegistryError::PeerIdConflict {
                    name: name.to_owned(),
                    registered: String::from_utf8_lossy(&existing).into_owned(),
                    requested: id.to_owned(),
                }),
                // Deleted between our create and get: try once more, the race is over.
                None => match self.create(&key, id.as_bytes()).await? {
                    true => Ok(PeerRegistration::Registered),
                    false => Err(RegistryError::Malformed {
                        key,
                        reason: "the peer key changed twice while registering; retry".to_owned(),
                    }),
                },
            }
        }
    }

    /// Every registered peer as `(name, node id)`, sorted by name.
    fn peers(&self) -> impl Future<Output = Result<Vec<(String, String)>, RegistryError>> + Send {
        async move {
            let entries = self.list(PEERS_PREFIX).await?;
            entries
                .into_iter()
                .map(|(key, value)| {
                    let name = key
                        .strip_prefix(PEERS_PREFIX)
                        .unwrap_or(key.as_str())
                        .to_owned();
                    let id = String::from_utf8(value).map_err(|_| RegistryError::Malformed {
                        key: key.clone(),
                        reason: "node id is not utf-8".to_owned(),
                    })?;
                    Ok((name, id))
                })
                .collect()
        }
    }

    /// Writes a wallet's key info (last writer wins, as in the reference).
    fn put_keyinfo(
        &self,
        key_type: KeyType,
        wallet_id: &str,
        info: &KeyInfo,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send {
        async move {
            let key = keyinfo_key(key_type, wallet_id);
            let json = serde_json::to_vec(info).map_err(|e| RegistryError::Malformed {
                key: key.clone(),
                reason: e.to_string(),
            })?;
            self.put(&key, &json).await
        }
    }

    /// A wallet's key info, if registered.
    fn keyinfo(
        &self,
        key_type: KeyType,
        wallet_id: &str,
    ) -> impl Future<Output = Result<Option<KeyInfo>, RegistryError>> + Send {
        async move {
            let key = keyinfo_key(key_type, wallet_id);
            let Some(json) = self.get(&key).await? else {
                return Ok(None);
            };
            serde_json::from_slice(&json)
                .map(Some)
                .map_err(|e| RegistryError::Malformed {
                    key,
                    reason: format!("not keyinfo json: {e}"),
                })
        }
    }
}

/// The registry backend chosen in config.
#[derive(Debug, Clone)]
pub enum AnyRegistry {
    /// Consul KV over HTTP.
    Consul(ConsulRegistry),
    /// JetStream KV buckets.
    Nats(NatsKvRegistry),
}

impl Registry for AnyRegistry {
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.put(key, value).await,
            AnyRegistry::Nats(r) => r.put(key, value).await,
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.get(key).await,
            AnyRegistry::Nats(r) => r.get(key).await,
        }
    }

    async fn delete(&self, key: &str) -> Result<(), RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.delete(key).await,
            AnyRegistry::Nats(r) => r.delete(key).await,
        }
    }

    async fn list(&self, prefix: &str) -> Result<BTreeMap<String, Vec<u8>>, RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.list(prefix).await,
            AnyRegistry::Nats(r) => r.list(prefix).await,
        }
    }

    async fn create_versioned(
        &self,
        key: &str,
        value: &[u8],
    ) -> Result<Option<u64>, RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.create_versioned(key, value).await,
            AnyRegistry::Nats(r) => r.create_versioned(key, value).await,
        }
    }

    async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.get_versioned(key).await,
            AnyRegistry::Nats(r) => r.get_versioned(key).await,
        }
    }

    async fn compare_and_set(
        &self,
        key: &str,
        value: &[u8],
        revision: u64,
    ) -> Result<Option<u64>, RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.compare_and_set(key, value, revision).await,
            AnyRegistry::Nats(r) => r.compare_and_set(key, value, revision).await,
        }
    }

    async fn healthy(&self) -> Result<(), RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.healthy().await,
            AnyRegistry::Nats(r) => r.healthy().await,
        }
    }

    async fn set_ready(&self, node_id: &str, ttl: Duration) -> Result<(), RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.set_ready(node_id, ttl).await,
            AnyRegistry::Nats(r) => r.set_ready(node_id, ttl).await,
        }
    }

    async fn set_starting(&self, node_id: &str, ttl: Duration) -> Result<(), RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.set_starting(node_id, ttl).await,
            AnyRegistry::Nats(r) => r.set_starting(node_id, ttl).await,
        }
    }

    fn incarnation(&self) -> Incarnation {
        match self {
            AnyRegistry::Consul(r) => r.incarnation(),
            AnyRegistry::Nats(r) => r.incarnation(),
        }
    }

    async fn clear_ready(&self, node_id: &str) -> Result<(), RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.clear_ready(node_id).await,
            AnyRegistry::Nats(r) => r.clear_ready(node_id).await,
        }
    }

    async fn ready_nodes(&self) -> Result<BTreeSet<String>, RegistryError> {
        match self {
            AnyRegistry::Consul(r) => r.ready_nodes().await,
            AnyRegistry::Nats(r) => r.ready_nodes().await,
        }
    }
}
