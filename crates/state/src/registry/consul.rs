//! The Consul backend: Consul's KV HTTP API over plain HTTP with `reqwest`.
//!
//! Endpoints used: `GET /v1/kv/<key>` (JSON array, base64 `Value`; `404` = missing),
//! `GET /v1/kv/<prefix>?recurse=true`, `PUT /v1/kv/<key>[?cas=<index>]` (raw body; replies
//! `true` or `false`; `cas=0` creates only, `cas=N` writes only while `ModifyIndex` is `N`),
//! `DELETE /v1/kv/<key>[?cas=<index>]`, `GET /v1/kv/<prefix>?keys` (the expiry sweep,
//! [`ConsulRegistry::sweep_expired`]) and `GET /v1/status/leader` for health. `X-Consul-Token` and
//! HTTP basic auth are sent when configured; every request has a timeout.
//!
//! Readiness: Consul KV has no TTL without sessions, so `mpc_ready/<node id>` holds the time the
//! readiness expires (Unix milliseconds, decimal; `0` for a starting mark) and
//! [`Registry::ready_nodes`] skips expired or unreadable entries. The writer's [`Incarnation`]
//! is the entry's `Flags` (`PUT ?flags=`; `0`: unknown, as in marks written before
//! incarnations), so the value keeps its old form. Stale keys stay until the node clears or
//! refreshes them.
//!
//! Tested against `mpcium_testkit::FakeConsul` (no Consul binary can be installed here).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use mpcium_protocol::nats_url::redact_url;
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};

use super::{Incarnation, Registry, RegistryError, Versioned, READY_PREFIX};

mod sweep;
pub use sweep::SweepPass;

/// Default timeout of each Consul request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of an unexpected response body is quoted in errors.
const BODY_QUOTE_LEN: usize = 200;

/// Where and how to reach Consul.
#[derive(Clone)]
pub struct ConsulSettings {
    /// `host:port` or an `http://` URL.
    pub address: String,
    /// ACL token, sent as `X-Consul-Token`.
    pub token: Option<SecretString>,
    /// HTTP basic auth user (for a proxy in front of Consul).
    pub username: Option<String>,
    /// HTTP basic auth password.
    pub password: Option<SecretString>,
    /// Timeout of each request.
    pub timeout: Duration,
}

impl ConsulSettings {
    /// Settings for `address` without credentials and with the default timeout.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            token: None,
            username: None,
            password: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for ConsulSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |set: bool| if set { "<redacted>" } else { "<none>" };
        f.debug_struct("ConsulSettings")
            .field("address", &redact_url(&self.address))
            .field("token", &redacted(self.token.is_some()))
            .field("username", &self.username)
            .field("password", &redacted(self.password.is_some()))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A registry in Consul's KV store. Each [`ConsulRegistry::new`] draws a new [`Incarnation`]
/// for the readiness marks it writes.
#[derive(Clone, Debug)]
pub struct ConsulRegistry {
    http: reqwest::Client,
    base: Url,
    settings: ConsulSettings,
    /// Wall clock for readiness expiry; replaceable in tests.
    clock: fn() -> SystemTime,
    incarnation: Incarnation,
}

/// One readiness entry as Consul holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ConsulMark {
    /// When the readiness expires (the Unix epoch for a starting mark).
    pub expires: SystemTime,
    /// The writer's incarnation (`None`: flags 0, the old form).
    pub incarnation: Option<Incarnation>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KvEntry {
    key: String,
    value: Option<String>,
    #[serde(default)]
    modify_index: u64,
    #[serde(default)]
    flags: u64,
}

impl ConsulRegistry {
    /// A client for the Consul agent in `settings`; does not contact it (see [`Registry::healthy`]).
    pub fn new(settings: ConsulSettings) -> Result<ConsulRegistry, RegistryError> {
        let invalid = |reason: String| RegistryError::InvalidSettings { reason };
        let address = settings.address.trim();
        let url = if address.contains("://") {
            address.to_owned()
        } else {
            format!("http://{address}")
        };
        let base = Url::parse(&url).map_err(|e| {
            invalid(format!(
                "consul address {:?} is not host:port or a url: {e}",
                redact_url(address)
            ))
        })?;
        if base.scheme() != "http" {
            return Err(invalid(format!(
                "consul address {:?} uses {}; this build speaks plain http only",
                redact_url(address),
                base.scheme()
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid(
                "put consul credentials in username/password, not in the address".to_owned(),
            ));
        }
        if settings.password.is_some() && settings.username.is_none() {
            return Err(invalid(
                "a consul password is set without a username".to_owned(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| invalid(format!("cannot build the http client: {e}")))?;
        Ok(ConsulRegistry {
            http,
            base,
            settings,
            clock: SystemTime::now,
            incarnation: Incarnation::random(),
        })
    }

    /// Uses `clock` instead of the system clock to write and judge readiness expiry.
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.clock = clock;
        self
    }

    /// The wall clock this registry judges readiness expiry with.
    pub(super) fn clock(&self) -> fn() -> SystemTime {
        self.clock
    }

    /// Every readiness key's node id with the mark it holds (expiry and incarnation); entries
    /// whose value is not an expiry time are left out. One read of `mpc_ready/`.
    pub(super) async fn ready_marks(&self) -> Result<BTreeMap<String, ConsulMark>, RegistryError> {
        let mut url = self.kv_url(READY_PREFIX)?;
        url.query_pairs_mut().append_pair("recurse", "true");
        let Some(response) = self.send(Method::GET, url, READY_PREFIX, None).await? else {
            return Ok(BTreeMap::new());
        };
        let entries: Vec<KvEntry> = response.json().await.map_err(|e| {
            Self::malformed(
                READY_PREFIX,
                format!("consul kv answer is not the documented json: {e}"),
            )
        })?;
        Ok(entries
            .into_iter()
            .filter_map(|entry| {
                let value = base64::engine::general_purpose::STANDARD
                    .decode(entry.value?)
                    .ok()?;
                let ms = std::str::from_utf8(&value)
                    .ok()?
                    .trim()
                    .parse::<u64>()
                    .ok()?;
                let node = entry.key.strip_prefix(READY_PREFIX)?.to_owned();
                let mark = ConsulMark {
                    expires: UNIX_EPOCH + Duration::from_millis(ms),
                    incarnation: Incarnation::from_u64(entry.flags),
                };
                Some((node, mark))
            })
            .collect())
    }

    /// Writes `node_id`'s readiness mark: `expires_ms` as the value, this handle's incarnation
    /// as the flags.
    async fn put_mark(&self, node_id: &str, expires_ms: u64) -> Result<(), RegistryError> {
        let key = super::ready_key(node_id);
        let mut url = self.kv_url(&key)?;
        url.query_pairs_mut()
            .append_pair("flags", &self.incarnation.as_u64().to_string());
        if self
            .put_url(url, &key, expires_ms.to_string().as_bytes())
            .await?
        {
            Ok(())
        } else {
            Err(Self::malformed(&key, "consul refused an unconditional put"))
        }
    }

    fn now_unix_ms(&self) -> u64 {
        (self.clock)()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    /// `<base>/v1/kv/<key>`, each `/`-separated part of `key` percent-encoded.
    fn kv_url(&self, key: &str) -> Result<Url, RegistryError> {
        self.api_url(["kv"].into_iter().chain(key.split('/')))
    }

    /// `<base>/v1/<segments…>`, keeping any path prefix of the configured address.
    fn api_url<'a>(
        &self,
        segments: impl IntoIterator<Item = &'a str>,
    ) -> Result<Url, RegistryError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| RegistryError::InvalidSettings {
                reason: format!(
                    "consul address {:?} cannot take a path",
                    self.settings.address
                ),
            })?
            .pop_if_empty()
            .push("v1")
            .extend(segments);
        Ok(url)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.settings.token {
            request = request.header("X-Consul-Token", token.expose_secret());
        }
        if let Some(user) = &self.settings.username {
            request = request.basic_auth(
                user,
                self.settings.password.as_ref().map(|p| p.expose_secret()),
            );
        }
        request
    }

    /// Sends a request; `Ok(None)` on 404, an error on any other non-success status.
    async fn send(
        &self,
        method: Method,
        url: Url,
        key: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Option<Response>, RegistryError> {
        let method_name = method_name(&method);
        let mut request = self.request(method, url);
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|source| self.unreachable(source))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED {
            return Err(RegistryError::ConsulDenied {
                address: self.settings.address.clone(),
                method: method_name,
                key: key.to_owned(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(RegistryError::ConsulStatus {
                address: self.settings.address.clone(),
                method: method_name,
                key: key.to_owned(),
                status: status.as_u16(),
                body: text.chars().take(BODY_QUOTE_LEN).collect(),
            });
        }
        Ok(Some(response))
    }

    fn unreachable(&self, source: reqwest::Error) -> RegistryError {
        RegistryError::ConsulUnreachable {
            address: self.base.to_string(),
            source,
        }
    }

    fn malformed(key: &str, reason: impl Into<String>) -> RegistryError {
        RegistryError::Malformed {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    async fn entries(
        &self,
        response: Response,
        key: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, RegistryError> {
        Ok(self
            .versioned_entries(response, key)
            .await?
            .into_iter()
            .map(|(k, v)| (k, v.value))
            .collect())
    }

    /// The entries of a KV answer with their `ModifyIndex`.
    async fn versioned_entries(
        &self,
        response: Response,
        key: &str,
    ) -> Result<Vec<(String, Versioned)>, RegistryError> {
        let entries: Vec<KvEntry> = response.json().await.map_err(|e| {
            Self::malformed(
                key,
                format!("consul kv answer is not the documented json: {e}"),
            )
        })?;
        entries
            .into_iter()
            .map(|entry| {
                let value = match entry.value {
                    None => Vec::new(),
                    Some(b64) => base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|e| {
                            Self::malformed(&entry.key, format!("value is not base64: {e}"))
                        })?,
                };
                let versioned = Versioned {
                    value,
                    revision: entry.modify_index,
                };
                Ok((entry.key, versioned))
            })
            .collect()
    }

    /// `PUT` with an optional `cas` index; returns Consul's `true`/`false`.
    async fn put_cas(
        &self,
        key: &str,
        value: &[u8],
        cas: Option<u64>,
    ) -> Result<bool, RegistryError> {
        let mut url = self.kv_url(key)?;
        if let Some(cas) = cas {
            url.query_pairs_mut().append_pair("cas", &cas.to_string());
        }
        self.put_url(url, key, value).await
    }

    /// `PUT` of `value` to `url` (the KV url of `key` with its query); returns Consul's
    /// `true`/`false`.
    async fn put_url(&self, url: Url, key: &str, value: &[u8]) -> Result<bool, RegistryError> {
        let response = self
            .send(Method::PUT, url, key, Some(value.to_vec()))
            .await?
            .ok_or_else(|| Self::malformed(key, "consul answered 404 to a put"))?;
        let text = response
            .text()
            .await
            .map_err(|source| self.unreachable(source))?;
        match text.trim() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(Self::malformed(
                key,
                format!("put answered {other:?}, not true/false"),
            )),
        }
    }

    /// The `ModifyIndex` of the `value` just written at `key` (Consul's PUT answers only
    /// `true`); `None` if another writer replaced it in between, superseding ours.
    async fn written_revision(
        &self,
        key: &str,
        value: &[u8],
    ) -> Result<Option<u64>, RegistryError> {
        Ok(self
            .get_versioned(key)
            .await?
            .filter(|v| v.value == value)
            .map(|v| v.revision))
    }
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "request",
    }
}

impl Registry for ConsulRegistry {
    async fn put(&self, key: &str, value: &[u8]) -> Result<(), RegistryError> {
        if self.put_cas(key, value, None).await? {
            Ok(())
        } else {
            Err(Self::malformed(key, "consul refused an unconditional put"))
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        let Some(response) = self.send(Method::GET, self.kv_url(key)?, key, None).await? else {
            return Ok(None);
        };
        Ok(self
            .entries(response, key)
            .await?
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value))
    }

    async fn delete(&self, key: &str) -> Result<(), RegistryError> {
        self.send(Method::DELETE, self.kv_url(key)?, key, None)
            .await?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<BTreeMap<String, Vec<u8>>, RegistryError> {
        let mut url = self.kv_url(prefix)?;
        url.query_pairs_mut().append_pair("recurse", "true");
        let Some(response) = self.send(Method::GET, url, prefix, None).await? else {
            return Ok(BTreeMap::new());
        };
        Ok(self
            .entries(response, prefix)
            .await?
            .into_iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .collect())
    }

    async fn create_versioned(
        &self,
        key: &str,
        value: &[u8],
    ) -> Result<Option<u64>, RegistryError> {
        if !self.put_cas(key, value, Some(0)).await? {
            return Ok(None);
        }
        self.written_revision(key, value).await
    }

    async fn get_versioned(&self, key: &str) -> Result<Option<Versioned>, RegistryError> {
        let Some(response) = self.send(Method::GET, self.kv_url(key)?, key, None).await? else {
            return Ok(None);
        };
        let found = self
            .versioned_entries(response, key)
            .await?
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v);
        match found {
            Some(v) if v.revision == 0 => Err(Self::malformed(key, "consul sent no ModifyIndex")),
            found => Ok(found),
        }
    }

    async fn compare_and_set(
        &self,
        key: &str,
        value: &[u8],
        revision: u64,
    ) -> Result<Option<u64>, RegistryError> {
        // `cas=0` would mean create-only; a real revision is never 0.
        if revision == 0 || !self.put_cas(key, value, Some(revision)).await? {
            return Ok(None);
        }
        self.written_revision(key, value).await
    }

    async fn healthy(&self) -> Result<(), RegistryError> {
        let path = "/v1/status/leader";
        let response = self
            .send(Method::GET, self.api_url(["status", "leader"])?, path, None)
            .await?
            .ok_or_else(|| Self::malformed(path, "consul answered 404"))?;
        let leader: String = response
            .json()
            .await
            .map_err(|e| Self::malformed(path, format!("not a json string: {e}")))?;
        if leader.is_empty() {
            return Err(RegistryError::ConsulNoLeader {
                address: self.settings.address.clone(),
            });
        }
        Ok(())
    }

    async fn set_ready(&self, node_id: &str, ttl: Duration) -> Result<(), RegistryError> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let expires = self.now_unix_ms().saturating_add(ttl_ms);
        self.put_mark(node_id, expires).await
    }

    async fn set_starting(&self, node_id: &str, _ttl: Duration) -> Result<(), RegistryError> {
        // Expired from the start: no reader, old or new, takes it for ready.
        self.put_mark(node_id, 0).await
    }

    fn incarnation(&self) -> Incarnation {
        self.incarnation
    }

    async fn clear_ready(&self, node_id: &str) -> Result<(), RegistryError> {
        self.delete(&super::ready_key(node_id)).await
    }

    async fn ready_nodes(&self) -> Result<BTreeSet<String>, RegistryError> {
        let now = self.now_unix_ms();
        Ok(self
            .list(READY_PREFIX)
            .await?
            .into_iter()
            .filter(|(_, value)| {
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .is_some_and(|expires| expires > now)
            })
            .filter_map(|(key, _)| key.strip_prefix(READY_PREFIX).map(str::to_owned))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_debug_hides_token_and_password() {
        let mut settings = ConsulSettings::new("consul:8500");
        settings.token = Some(SecretString::from("tok-secret-123".to_owned()));
        settings.username = Some("admin".to_owned());
        settings.password = Some(SecretString::from("pw-secret-456".to_owned()));
        let printed = format!("{settings:?}");
        assert!(!printed.contains("tok-secret"), "{printed}");
        assert!(!printed.contains("pw-secret"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }

    #[test]
    fn an_address_may_be_host_port_or_a_url() {
        for address in ["consul:8500", "http://consul:8500", "http://consul:8500/"] {
            let registry = ConsulRegistry::new(ConsulSettings::new(address)).unwrap();
            assert_eq!(
                registry.kv_url("mpc_peers/node0").unwrap().as_str(),
                "http://consul:8500/v1/kv/mpc_peers/node0"
            );
        }
    }

    #[test]
    fn a_path_prefix_in_the_address_is_kept() {
        let registry = ConsulRegistry::new(ConsulSettings::new("http://proxy:80/consul/")).unwrap();
        assert_eq!(registry.kv_url("a/b").unwrap().path(), "/consul/v1/kv/a/b");
        assert_eq!(
            registry.api_url(["status", "leader"]).unwrap().path(),
            "/consul/v1/status/leader"
        );
    }

    #[test]
    fn an_https_address_is_refused_with_a_reason() {
        let err = ConsulRegistry::new(ConsulSettings::new("https://consul:8501")).unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
    }

    #[test]
    fn a_prefix_keeps_its_trailing_slash_and_odd_characters_are_escaped() {
        let registry = ConsulRegistry::new(ConsulSettings::new("c:1")).unwrap();
        assert_eq!(
            registry.kv_url("mpc_peers/").unwrap().path(),
            "/v1/kv/mpc_peers/"
        );
        assert_eq!(
            registry
                .kv_url("threshold_keyinfo/ecdsa:a b?")
                .unwrap()
                .path(),
            "/v1/kv/threshold_keyinfo/ecdsa:a%20b%3F"
        );
    }
}
