//! Bounded deletion of expired entries under a prefix (the result cache, whose Consul entries
//! carry their own expiry time: Consul KV has no TTL).
//!
//! One pass lists the key names under the prefix (`GET ?keys`, names only), then reads at most
//! `budget` of them, in key order after a cursor, and deletes each one `expired` judges so with
//! `DELETE ?cas=<ModifyIndex>`: an entry rewritten after it was read is never deleted. The
//! next pass continues after the last key read, wrapping to the start at the end.

use reqwest::Method;

use super::{ConsulRegistry, RegistryError};

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepPass {
    /// Entries read.
    pub read: usize,
    /// Entries deleted.
    pub deleted: usize,
    /// Where the next pass starts (after this key); `None`: from the beginning.
    pub next_after: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexedEntry {
    key: String,
    value: Option<String>,
    modify_index: u64,
}

impl ConsulRegistry {
    /// One bounded pass over `prefix` starting after key `after`: reads at most `budget`
    /// entries and deletes those `expired` returns true for (given the raw value), each only
    /// if unchanged since it was read.
    pub async fn sweep_expired(
        &self,
        prefix: &str,
        after: Option<&str>,
        budget: usize,
        expired: impl Fn(&[u8]) -> bool,
    ) -> Result<SweepPass, RegistryError> {
        let mut pass = SweepPass::default();
        let keys = self.key_names(prefix).await?;
        let batch: Vec<&String> = keys
            .iter()
            .filter(|k| after.is_none_or(|a| k.as_str() > a))
            .take(budget)
            .collect();
        for key in &batch {
            let Some((value, index)) = self.get_indexed(key).await? else {
                continue;
            };
            pass.read += 1;
            if expired(&value) && self.delete_cas(key, index).await? {
                pass.deleted += 1;
            }
        }
        pass.next_after = (batch.len() == budget)
            .then(|| batch.last().map(|k| (*k).clone()))
            .flatten();
        Ok(pass)
    }

    /// Names of the keys under `prefix` (`GET ?keys`).
    async fn key_names(&self, prefix: &str) -> Result<Vec<String>, RegistryError> {
        let mut url = self.kv_url(prefix)?;
        url.query_pairs_mut().append_pair("keys", "true");
        let Some(response) = self.send(Method::GET, url, prefix, None).await? else {
            return Ok(Vec::new());
        };
        let mut keys: Vec<String> = response.json().await.map_err(|e| {
            Self::malformed(
                prefix,
                format!("consul keys answer is not a json list: {e}"),
            )
        })?;
        keys.retain(|k| k.starts_with(prefix));
        keys.sort();
        Ok(keys)
    }

    /// The value of `key` and its `ModifyIndex`.
    async fn get_indexed(&self, key: &str) -> Result<Option<(Vec<u8>, u64)>, RegistryError> {
        use base64::Engine as _;
        let Some(response) = self.send(Method::GET, self.kv_url(key)?, key, None).await? else {
            return Ok(None);
        };
        let entries: Vec<IndexedEntry> = response.json().await.map_err(|e| {
            Self::malformed(
                key,
                format!("consul kv answer is not the documented json: {e}"),
            )
        })?;
        let Some(entry) = entries.into_iter().find(|e| e.key == key) else {
            return Ok(None);
        };
        let value = base64::engine::general_purpose::STANDARD
            .decode(entry.value.unwrap_or_default())
            .map_err(|e| Self::malformed(key, format!("value is not base64: {e}")))?;
        Ok(Some((value, entry.modify_index)))
    }

    /// `DELETE ?cas=<index>`: deletes `key` only if its `ModifyIndex` is still `index`.
    async fn delete_cas(&self, key: &str, index: u64) -> Result<bool, RegistryError> {
        let mut url = self.kv_url(key)?;
        url.query_pairs_mut().append_pair("cas", &index.to_string());
        let Some(response) = self.send(Method::DELETE, url, key, None).await? else {
            return Ok(false);
        };
        let text = response
            .text()
            .await
            .map_err(|source| self.unreachable(source))?;
        Ok(text.trim() == "true")
    }
}
