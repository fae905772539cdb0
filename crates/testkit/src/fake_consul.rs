//! An in-process fake of Consul's KV HTTP API, for tests only.
//!
//! It exists because no Consul binary can be installed where these tests run. It follows the
//! Consul KV HTTP API documentation (<https://developer.hashicorp.com/consul/api-docs/kv>) for
//! exactly the subset mpcium uses, and nothing else:
//!
//! * `GET /v1/kv/<key>`: a JSON array with one entry (`Key`, base64 `Value` or `null` when empty,
//!   `Flags`, `LockIndex`, `CreateIndex`, `ModifyIndex`); `404` if the key is missing;
//! * `GET /v1/kv/<prefix>?recurse`: every entry under the prefix, sorted by key; `404` if none;
//! * `GET /v1/kv/<prefix>?keys`: a JSON array of key names; `404` if none;
//! * `PUT /v1/kv/<key>[?cas=<index>][&flags=<u64>]`: body is the raw value; replies `true` or
//!   `false`. `cas=0` writes only if the key is absent; `cas=N` only if the key's `ModifyIndex`
//!   is `N`; `flags` is stored with the value (0 when absent) and read back as `Flags`;
//! * `DELETE /v1/kv/<key>[?recurse]`: replies `true`; with `?cas=<index>` it deletes only if
//!   the key's `ModifyIndex` is that index (never for `0`) and replies whether it did;
//! * `GET /v1/status/leader`: the leader's address as a JSON string (`""` when there is none);
//! * every KV `GET` carries `X-Consul-Index` (the highest `ModifyIndex` of what it returns, or the
//!   store's current index on `404`), `X-Consul-KnownLeader` and `X-Consul-LastContact`;
//! * with [`FakeConsulAuth`], a missing or wrong `X-Consul-Token` gets `403 Permission denied` and
//!   wrong basic credentials (checked by a proxy in front of Consul in real deployments) `401`.
//!
//! Every write increments one store-wide index, as Consul's Raft index does. Blocking queries,
//! sessions, locks and transactions are not implemented.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;

/// Credentials the fake demands; `None` fields are not checked.
#[derive(Clone, Debug, Default)]
pub struct FakeConsulAuth {
    /// Required `X-Consul-Token`.
    pub token: Option<String>,
    /// Required HTTP basic credentials (user, password).
    pub basic: Option<(String, String)>,
}

#[derive(Clone, Debug)]
struct Entry {
    value: Vec<u8>,
    flags: u64,
    create_index: u64,
    modify_index: u64,
}

#[derive(Debug)]
struct Kv {
    index: u64,
    entries: BTreeMap<String, Entry>,
    leader: String,
}

struct Shared {
    auth: FakeConsulAuth,
    kv: Mutex<Kv>,
}

impl Shared {
    fn kv(&self) -> MutexGuard<'_, Kv> {
        // A panic while holding the lock fails the test anyway; keep serving.
        self.kv
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running fake Consul on `127.0.0.1:<free port>`, stopped when dropped.
pub struct FakeConsul {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeConsul {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeConsul")
            .field("addr", &self.addr)
            .finish()
    }
}

impl FakeConsul {
    /// Starts a fake without authentication on the current tokio runtime.
    pub async fn start() -> std::io::Result<FakeConsul> {
        Self::start_with_auth(FakeConsulAuth::default()).await
    }

    /// Starts a fake that demands the given credentials.
    pub async fn start_with_auth(auth: FakeConsulAuth) -> std::io::Result<FakeConsul> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            auth,
            kv: Mutex::new(Kv {
                index: 1,
                entries: BTreeMap::new(),
                leader: "127.0.0.1:8300".to_owned(),
            }),
        });
        let app = Router::new()
            .route("/v1/kv/{*key}", get(kv_get).put(kv_put).delete(kv_delete))
            .route("/v1/status/leader", get(leader))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            // Ends when the task is aborted on drop.
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeConsul { addr, shared, task })
    }

    /// Like [`FakeConsul::start`], panicking on failure (tests only).
    pub async fn must_start() -> FakeConsul {
        match Self::start().await {
            Ok(fake) => fake,
            Err(e) => panic!("failed to start the fake consul: {e}"),
        }
    }

    /// `host:port`, the form the mpcium config uses.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the reported leader; `""` simulates a cluster without a leader.
    pub fn set_leader(&self, leader: &str) {
        self.shared.kv().leader = leader.to_owned();
    }

    /// The raw value at `key`, read directly (bypassing HTTP) to check what clients wrote.
    pub fn raw_value(&self, key: &str) -> Option<Vec<u8>> {
        self.shared.kv().entries.get(key).map(|e| e.value.clone())
    }
}

impl Drop for FakeConsul {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn denied(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    if let Some(token) = &shared.auth.token {
        let given = headers.get("x-consul-token").and_then(|v| v.to_str().ok());
        if given != Some(token.as_str()) {
            return Some((StatusCode::FORBIDDEN, "Permission denied").into_response());
        }
    }
    if let Some((user, password)) = &shared.auth.basic {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let given = headers.get("authorization").and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return Some((StatusCode::UNAUTHORIZED, "Unauthorized").into_response());
        }
    }
    None
}

fn entry_json(key: &str, entry: &Entry) -> serde_json::Value {
    let value = if entry.value.is_empty() {
        serde_json::Value::Null
    } else {
        base64::engine::general_purpose::STANDARD
            .encode(&entry.value)
            .into()
    };
    serde_json::json!({
        "LockIndex": 0,
        "Key": key,
        "Flags": entry.flags,
        "Value": value,
        "CreateIndex": entry.create_index,
        "ModifyIndex": entry.modify_index,
    })
}

fn with_index(index: u64, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert("x-consul-index", HeaderValue::from(index));
    headers.insert("x-consul-knownleader", HeaderValue::from_static("true"));
    headers.insert("x-consul-lastcontact", HeaderValue::from_static("0"));
    response
}

async fn kv_get(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = denied(&shared, &headers) {
        return response;
    }
    let kv = shared.kv();
    let matching: Vec<(&String, &Entry)> =
        if query.contains_key("recurse") || query.contains_key("keys") {
            kv.entries
                .range(key.clone()..)
                .take_while(|(k, _)| k.starts_with(&key))
                .collect()
        } else {
            kv.entries.get_key_value(&key).into_iter().collect()
        };
    if matching.is_empty() {
        return with_index(kv.index, StatusCode::NOT_FOUND);
    }
    let index = matching
        .iter()
        .map(|(_, e)| e.modify_index)
        .max()
        .unwrap_or(kv.index);
    if query.contains_key("keys") {
        let keys: Vec<&String> = matching.iter().map(|(k, _)| *k).collect();
        return with_index(index, Json(keys));
    }
    let entries: Vec<serde_json::Value> = matching.iter().map(|(k, e)| entry_json(k, e)).collect();
    with_index(index, Json(entries))
}

async fn kv_put(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(response) = denied(&shared, &headers) {
        return response;
    }
    let cas = match query.get("cas").map(|c| c.parse::<u64>()) {
        None => None,
        Some(Ok(cas)) => Some(cas),
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "Invalid cas index").into_response(),
    };
    let flags = match query.get("flags").map(|f| f.parse::<u64>()) {
        None => 0,
        Some(Ok(flags)) => flags,
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "Invalid flags").into_response(),
    };
    let mut kv = shared.kv();
    let current = kv.entries.get(&key).map(|e| e.modify_index);
    let allowed = match (cas, current) {
        (None, _) => true,
        (Some(0), None) => true,
        (Some(0), Some(_)) => false,
        (Some(expected), Some(actual)) => expected == actual,
        (Some(_), None) => false,
    };
    if !allowed {
        return Json(false).into_response();
    }
    kv.index += 1;
    let index = kv.index;
    let create_index = kv
        .entries
        .get(&key)
        .map(|e| e.create_index)
        .unwrap_or(index);
    kv.entries.insert(
        key,
        Entry {
            value: body.to_vec(),
            flags,
            create_index,
            modify_index: index,
        },
    );
    Json(true).into_response()
}

async fn kv_delete(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = denied(&shared, &headers) {
        return response;
    }
    let mut kv = shared.kv();
    if let Some(cas) = query.get("cas") {
        let Ok(cas) = cas.parse::<u64>() else {
            return (StatusCode::BAD_REQUEST, "Invalid cas index").into_response();
        };
        let matches = kv.entries.get(&key).map(|e| e.modify_index) == Some(cas);
        if cas == 0 || !matches {
            return Json(false).into_response();
        }
        kv.entries.remove(&key);
    } else if query.contains_key("recurse") {
        kv.entries.retain(|k, _| !k.starts_with(&key));
    } else {
        kv.entries.remove(&key);
    }
    kv.index += 1;
    Json(true).into_response()
}

async fn leader(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(response) = denied(&shared, &headers) {
        return response;
    }
    let leader = shared.kv().leader.clone();
    Json(leader).into_response()
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// One HTTP/1.1 request over a fresh connection; returns (status, X-Consul-Index, body).
    async fn must_request(
        fake: &FakeConsul,
        method: &str,
        path: &str,
        body: &str,
    ) -> (u16, Option<u64>, String) {
        let mut stream = tokio::net::TcpStream::connect(fake.addr).await.unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: consul\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let index = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("x-consul-index: ")
                    .map(str::to_owned)
            })
            .map(|v| v.trim().parse().unwrap());
        (status, index, body.to_owned())
    }

    #[tokio::test]
    async fn cas_zero_creates_only_and_cas_n_compares_the_modify_index() {
        let fake = FakeConsul::must_start().await;
        assert_eq!(
            must_request(&fake, "PUT", "/v1/kv/k?cas=0", "a").await.2,
            "true"
        );
        assert_eq!(
            must_request(&fake, "PUT", "/v1/kv/k?cas=0", "b").await.2,
            "false"
        );
        let (status, index, body) = must_request(&fake, "GET", "/v1/kv/k", "").await;
        assert_eq!(status, 200);
        let entries: serde_json::Value = serde_json::from_str(&body).unwrap();
        let modify = entries[0]["ModifyIndex"].as_u64().unwrap();
        assert_eq!(index, Some(modify));
        assert_eq!(entries[0]["Value"], "YQ=="); // base64("a")
        let stale = format!("/v1/kv/k?cas={}", modify - 1);
        assert_eq!(must_request(&fake, "PUT", &stale, "c").await.2, "false");
        let current = format!("/v1/kv/k?cas={modify}");
        assert_eq!(must_request(&fake, "PUT", &current, "d").await.2, "true");
        assert_eq!(fake.raw_value("k"), Some(b"d".to_vec()));
    }

    #[tokio::test]
    async fn missing_keys_and_empty_prefixes_are_404_with_an_index() {
        let fake = FakeConsul::must_start().await;
        let (status, index, _) = must_request(&fake, "GET", "/v1/kv/nope", "").await;
        assert_eq!((status, index.is_some()), (404, true));
        assert_eq!(
            must_request(&fake, "GET", "/v1/kv/p/?recurse", "").await.0,
            404
        );
        must_request(&fake, "PUT", "/v1/kv/p/b", "").await;
        must_request(&fake, "PUT", "/v1/kv/p/a", "x").await;
        let (_, _, keys) = must_request(&fake, "GET", "/v1/kv/p/?keys", "").await;
        assert_eq!(keys, r#"["p/a","p/b"]"#);
        let (_, _, body) = must_request(&fake, "GET", "/v1/kv/p/?recurse", "").await;
        let entries: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(entries[1]["Value"], serde_json::Value::Null); // empty value
    }

    #[tokio::test]
    async fn flags_are_stored_with_the_value_and_reset_by_a_put_without_them() {
        let fake = FakeConsul::must_start().await;
        must_request(&fake, "PUT", "/v1/kv/k?flags=18446744073709551615", "a").await;
        let (_, _, body) = must_request(&fake, "GET", "/v1/kv/k", "").await;
        let entries: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(entries[0]["Flags"].as_u64(), Some(u64::MAX));
        must_request(&fake, "PUT", "/v1/kv/k", "b").await;
        let (_, _, body) = must_request(&fake, "GET", "/v1/kv/k?recurse", "").await;
        let entries: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(entries[0]["Flags"].as_u64(), Some(0));
        assert_eq!(
            must_request(&fake, "PUT", "/v1/kv/k?flags=x", "c").await.0,
            400
        );
    }
}
