//! The NATS backend: the registry keys in JetStream KV buckets, one per prefix.
//!
//! `mpc_peers/<name>` lives in bucket `mpc_peers` under key `<name>`, `mpc_ready/<id>` in
//! `mpc_ready`, `threshold_keyinfo/<type>:<wallet>` in `threshold_keyinfo`, `mpc_results/<key>` in
//! `mpc_results`, `mpc_reshare/<type>:<wallet>` in `mpc_reshare`; the part below the prefix is
//! encoded by [`super::nats_key`]. Buckets are created (or updated to this config) on open;
//! `mpc_results` entries expire after [`NatsKvSettings::results_max_age`]. `mpc_ready` has
//! `limit_markers`, and readiness is written with a per-message TTL
//! (`Nats-TTL`), so an expired node vanishes from the bucket and watchers see a `Purge`; both
//! need nats-server ≥ 2.11. Readiness values are [`ReadyMark`]s carrying this handle's
//! [`Incarnation`] (see [`super::mark`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::TryStreamExt;

use super::{
    nats_key, Incarnation, ReadyMark, Registry, RegistryError, Versioned, KEYINFO_PREFIX,
    PEERS_PREFIX, READY_PREFIX, RESHARE_PREFIX, RESULTS_PREFIX,
};

/// How long the server keeps the marker it writes when a readiness key expires.
const READY_MARKER_TTL: Duration = Duration::from_secs(60);

/// How to lay out the registry buckets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsKvSettings {
    /// JetStream replicas per bucket (1 for a single server, 3 for a cluster).
    pub replicas: usize,
    /// Max age of `mpc_results` entries (`result_cache_ttl_seconds`): the server drops older ones.
    pub results_max_age: Duration,
}

impl Default for NatsKvSettings {
    fn default() -> Self {
        Self {
            replicas: 1,
            results_max_age: Duration::from_secs(
                crate::config::DEFAULT_RESULT_CACHE_TTL_SECONDS.unsigned_abs(),
            ),
        }
    }
}

#[derive(Clone, Debug)]
struct Bucket {
    /// Registry key prefix, e.g. `mpc_peers/`.
    prefix: &'static str,
    /// Bucket name, e.g. `mpc_peers`.
    name: &'static str,
    kv: kv::Store,
}

/// A registry in JetStream KV buckets on an existing NATS connection; a cheap `Clone` handle.
/// Each [`NatsKvRegistry::open`] draws a new [`Incarnation`] for the readiness marks it writes.
#[derive(Clone, Debug)]
pub struct NatsKvRegistry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    js: jetstream::Context,
    peers: Bucket,
    ready: Bucket,
    keyinfo: Bucket,
    results: Bucket,
    reshare: Bucket,
    incarnation: Incarnation,
}

fn nats_error<'a, E: std::error::Error + Send + Sync + 'static>(
    op: &'static str,
    key: &'a str,
) -> impl FnOnce(E) -> RegistryError + 'a {
    move |e| RegistryError::Nats {
        op,
        key: key.to_owned(),
        source: Box::new(e),
    }
}

impl NatsKvRegistry {
    /// Opens (creating if absent) the registry buckets on `client`'s JetStream.
    pub async fn open(
        client: async_nats::Client,
        settings: &NatsKvSettings,
    ) -> Result<NatsKvRegistry, RegistryError> {
        let js = jetstream::new(client);
        let open = |prefix: &'static str,
                    name: &'static str,
                    limit_markers: Option<Duration>,
                    max_age: Duration| {
            let config = kv::Config {
                bucket: name.to_owned(),
                history: 1,
                storage: jetstream::stream::StorageType::File,
                num_replicas: settings.replicas,
                limit_markers,
                max_age,
                ..Default::default()
            };
            let js = js.clone();
            async move {
                let kv = js.create_or_update_key_value(config).await.map_err(|e| {
                    RegistryError::NatsBucket {
                        bucket: name,
                        source: Box::new(e),
                    }
                })?;
                Ok::<_, RegistryError>(Bucket { prefix, name, kv })
            }
        };
        // Zero max age: kept until deleted.
        let forever = Duration::ZERO;
        let peers = open(PEERS_PREFIX, "mpc_peers", None, forever).await?;
        let ready = open(READY_PREFIX, "mpc_ready", Some(READY_MARKER_TTL), forever).await?;
        let keyinfo = open(KEYINFO_PREFIX, "threshold_keyinfo", None, forever).await?;
        let results = open(
            RESULTS_PREFIX,
            "mpc_results",
            None,
            settings.results_max_age,
        )
        .await?;
        let reshare = open(RESHARE_PREFIX, "mpc_reshare", None, forever).await?;
        Ok(NatsKvRegistry {
            inner: Arc::new(Inner {
                js,
                peers,
                ready,
                keyinfo,
                results,
                reshare,
                incarnation: Incarnation::random(),
            }),
        })
    }

    fn buckets(&self) -> [&Bucket; 5] {
        [
            &self.inner.peers,
            &self.inner.ready,
            &self.inner.keyinfo,
            &self.inner.results,
            &self.inner.reshare,
        ]
    }

    /// The bucket holding `key` and the encoded KV key inside it.
    fn locate(&self, key: &str) -> Result<(&Bucket, String), RegistryError> {
        for bucket in self.buckets() {
            if let Some(rest) = key.strip_prefix(bucket.prefix) {
                return Ok((bucket, nats_key::encode(rest)?));
            }
        }
        Err(RegistryError::InvalidKey {
            key: key.to_owned(),
            reason: "the nats registry stores only keys under mpc_peers/, mpc_ready/, threshold_keyinfo/, mpc_results/ and mpc_reshare/",
        })
    }

    /// One watch of the readiness bucket: the last value of every key, then every change; and
    /// whether the bucket held no messages just before (so the watch replays nothing).
    pub(super) async fn watch_ready(&self) -> Result<(kv::Watch, bool), RegistryError> {
        let stream = format!("KV_{}", self.inner.ready.name);
        let empty = self
            .inner
            .js
            .get_stream(&stream)
            .await
            .map_err(nats_error("read the status of", READY_PREFIX))?
            .cached_info()
            .state
            .messages
            == 0;
        let watch = self
            .inner
            .ready
            .kv
            .watch_with_history(">")
            .await
            .map_err(nats_error("watch", READY_PREFIX))?;
        Ok((watch, empty))
    }

    /// Writes `node_id`'s readiness mark (ready or starting) with this handle's incarnation,
    /// living `ttl`.
    async fn put_mark(
        &self,
        node_id: &str,
        ready: bool,
        ttl: Duration,
    ) -> Result<(), RegistryError> {
        let key = super::ready_key(node_id);
        let (bucket, kv_key) = self.locate(&key)?;
        // `kv::Store` has no put-with-TTL, so publish to the bucket's subject with the
        // per-message TTL header ourselves. The server counts TTLs in whole seconds.
        let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_TTL,
            seconds.max(1).to_string().as_str(),
        );
        let mark = ReadyMark {
            incarnation: Some(self.inner.incarnation),
            ready,
        }
        .encode_nats();
        let subject = format!(
            "{}{kv_key}",
            bucket.kv.put_prefix.as_deref().unwrap_or(&bucket.kv.prefix)
        );
        self.inner
            .js
            .publish_with_headers(subject, headers, Bytes::from(mark))
            .await
            .map_err(nats_error("set readiness", &key))?
            .await
            .map_err(nats_error("set readiness", &key))?;
        Ok(())
    }

    /// Every live key of `bucket`, in registry form.
    async fn keys(&self, bucket: &Bucket) -> Result<Vec<String>, RegistryError> {
        let keys: Vec<String> = bucket
            .kv
            .keys()
            .await
            .map_err(nats_error("list", bucket.prefix))?
            .try_collect()
            .await
            .map_err(nats_error("list", bucket.prefix))?;
        Ok(keys
            .iter()
            .filter_map(|k| nats_key::decode(k))
            .map(|k| format!("{}{k}", bucket.prefix))
            .collect())
    }
}

impl Registry for NatsKvRegistry {
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), RegistryError> {
        let (bucket, kv_key) = self.locate(key)?;
        bucket
            .kv
            .put(kv_key, Bytes::copy_from_slice(value))
            .await
            .map_err(nats_error("put", key))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        let (bucket, kv_key) = self.locate(key)?;
        let value = bucket
            .kv
            .get(kv_key)
            .await
            .map_err(nats_error("get", key))?;
        Ok(value.map(|v| v.to_vec()))
    }

    async fn delete(&self, key: &str) -> Result<(), RegistryError> {
        let (bucket, kv_key) = self.locate(key)?;
        bucket
            .kv
            .delete(kv_key)
            .await
            .map_err(nats_error("delete", key))
    }

    async fn list(&self, prefix: &str) -> Result<BTreeMap<String, Vec<u8>>, RegistryError> {
        let mut out = BTreeMap::new();
        for bucket in self.buckets() {
            if !(prefix.starts_with(bucket.prefix) || bucket.prefix.starts_with(prefix)) {
                continue;
            }
            for key in self.keys(bucket).await? {
                if !key.starts_with(prefix) {
                    continue;
                }
                // A key deleted since listing is simply left out.
                if let Some(value) = self.get(&key).await? {
                    out.insert(key, value);
                }
            }
        }
        Ok(out)
    }

    async fn create_versioned(
        &self,
        key: &str,
        value: &[u8],
    ) -> Result<Option<u64>, RegistryError> {
        let (bucket, kv_key) = self.locate(key)?;
        match bucket
            .kv
            .create(kv_key, Bytes::copy_from_slice(value))
            .await
        {
            Ok(revision) => Ok(Some(revision)),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(nats_error("create", key)(e)),
        }
    }

    async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, RegistryError> {
        let (bucket, kv_key) = self.locate(key)?;
        let entry = bucket
            .kv
            .entry(kv_key)
            .await
            .map_err(nats_error("get", key))?;
        Ok(entry
            .filter(|e| e.operation == kv::Operation::Put)
            .map(|e| Versioned {
                value: e.value.to_vec(),
                revision: e.revision,
            }))
    }

    async fn compare_and_set(
        &self,
        key: &str,
        value: &[u8],
        revision: u64,
    ) -> Result<Option<u64>, RegistryError> {
        let (bucket, kv_key) = self.locate(key)?;
        match bucket
            .kv
            .update(kv_key, Bytes::copy_from_slice(value), revision)
            .await
        {
            Ok(revision) => Ok(Some(revision)),
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(None),
            Err(e) => Err(nats_error("compare-and-set", key)(e)),
        }
    }

    async fn healthy(&self) -> Result<(), RegistryError> {
        // A real server round trip: `kv::Store::status` only returns cached stream info.
        let stream = format!("KV_{}", self.inner.ready.name);
        self.inner
            .js
            .get_stream(&stream)
            .await
            .map_err(nats_error("read the status of", self.inner.ready.name))?;
        Ok(())
    }

    async fn set_ready(&self, node_id: &str, ttl: Duration) -> Result<(), RegistryError> {
        self.put_mark(node_id, true, ttl).await
    }

    async fn set_starting(&self, node_id: &str, ttl: Duration) -> Result<(), RegistryError> {
        self.put_mark(node_id, false, ttl).await
    }

    fn incarnation(&self) -> Incarnation {
        self.inner.incarnation
    }

    async fn clear_ready(&self, node_id: &str) -> Result<(), RegistryError> {
        self.delete(&super::ready_key(node_id)).await
    }

    async fn ready_nodes(&self) -> Result<BTreeSet<String>, RegistryError> {
        Ok(self
            .list(READY_PREFIX)
            .await?
            .into_iter()
            .filter(|(_, value)| ReadyMark::decode_nats(value).ready)
            .filter_map(|(k, _)| k.strip_prefix(READY_PREFIX).map(str::to_owned))
            .collect())
    }
}
