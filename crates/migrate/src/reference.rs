//! The reference's naming around a share: Badger keys, tss-lib party keys, `peers.json` and the
//! Consul keyinfo.
//!
//! * Badger key (`pkg/mpc/session.go`, `walletIDWithVersion`; `*_keygen_session.go`,
//!   `*_resharing_session.go`): `ecdsa:<wallet>_v<version>` / `eddsa:<wallet>_v<version>` for
//!   version ≥ 1 (keygen writes version 1, each reshare version + 1, old versions stay), and the
//!   legacy unversioned `ecdsa:<wallet>` / `eddsa:<wallet>` for version 0.
//! * Party key (`pkg/mpc/party_id.go`, `createPartyID`): the big-endian integer of the ASCII bytes
//!   `"<node id>:<version>"` (`"<node id>"` at version 0). tss-lib uses it as the Shamir
//!   x-coordinate (`Ks`, `ShareID`; reduced modulo the group order when evaluating), and parties
//!   are sorted by it (`tss.SortPartyIDs`). So every `Ks` entry names its node and version.
//! * `peers.json` (`mpcium-cli generate-peers`): `{"<node name>": "<node id>", …}`.
//! * Consul `threshold_keyinfo/<ecdsa|eddsa>:<wallet>` (`pkg/keyinfo/keyinfo.go`):
//!   `{"participant_peer_ids": [...], "threshold": t, "version": v}` with tss-lib's `t` (the
//!   polynomial degree: `t + 1` signers). Not part of the Badger backups; `consul kv export`
//!   writes it as `[{"key": …, "flags": 0, "value": "<base64 JSON>"}]`.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;

use crate::record::{describe, KeyType};

/// A Badger key that holds a share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareKey {
    /// Which key.
    pub key_type: KeyType,
    /// The wallet id.
    pub wallet_id: String,
    /// The version (0 for the legacy unversioned key).
    pub version: u64,
}

impl ShareKey {
    /// The Badger key the reference stores this share under.
    pub fn badger_key(&self) -> String {
        if self.version > 0 {
            format!(
                "{}:{}_v{}",
                self.key_type.store_prefix(),
                self.wallet_id,
                self.version
            )
        } else {
            format!("{}:{}", self.key_type.store_prefix(), self.wallet_id)
        }
    }

    /// Reads a Badger key. A key `ecdsa:<x>_v<n>` is read as wallet `<x>` at version `n`; the
    /// other reading (legacy wallet `<x>_v<n>` at version 0) is [`ShareKey::legacy_reading`].
    /// `None` for keys that are not shares (`pre_params_0`, …).
    pub fn parse(key: &[u8]) -> Option<Self> {
        let key = std::str::from_utf8(key).ok()?;
        let (key_type, rest) = if let Some(rest) = key.strip_prefix("ecdsa:") {
            (KeyType::Secp256k1, rest)
        } else if let Some(rest) = key.strip_prefix("eddsa:") {
            (KeyType::Ed25519, rest)
        } else {
            return None;
        };
        if rest.is_empty() {
            return None;
        }
        if let Some((wallet, v)) = rest.rsplit_once("_v") {
            if let Some(version) = parse_version(v).filter(|v| *v > 0) {
                if !wallet.is_empty() {
                    return Some(Self {
                        key_type,
                        wallet_id: wallet.into(),
                        version,
                    });
                }
            }
        }
        Some(Self {
            key_type,
            wallet_id: rest.into(),
            version: 0,
        })
    }

    /// For a versioned reading, the same key read as a legacy version-0 wallet whose id ends in
    /// `_v<n>`.
    pub fn legacy_reading(&self) -> Option<Self> {
        (self.version > 0).then(|| Self {
            key_type: self.key_type,
            wallet_id: format!("{}_v{}", self.wallet_id, self.version),
            version: 0,
        })
    }
}

/// A decimal version without sign or leading zeros (what Go's `%d` writes).
fn parse_version(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

/// The party key of node `node_id` at `version`, as tss-lib stores it (big-endian bytes).
pub fn party_key(node_id: &str, version: u64) -> Vec<u8> {
    let text = if version > 0 {
        format!("{node_id}:{version}")
    } else {
        node_id.to_string()
    };
    // `big.Int.SetBytes(..).Bytes()` drops leading zero bytes; ASCII text has none unless it
    // starts with NUL.
    text.into_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect()
}

/// Reads a party key as `(node id, version)`: `"<id>:<v>"` with a decimal `v ≥ 1`, else the whole
/// text at version 0. `None` if it is not UTF-8 text.
pub fn decode_party_key(key: &[u8]) -> Option<(String, u64)> {
    let text = std::str::from_utf8(key).ok()?;
    if text.is_empty() {
        return None;
    }
    if let Some((id, v)) = text.rsplit_once(':') {
        if let Some(version) = parse_version(v).filter(|v| *v > 0) {
            if !id.is_empty() {
                return Some((id.to_string(), version));
            }
        }
    }
    Some((text.to_string(), 0))
}

/// Why `peers.json` or a keyinfo export does not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceFileError {
    /// Not JSON of the expected shape.
    #[error("{file}: {detail}")]
    Json {
        /// Which file.
        file: &'static str,
        /// Where it failed.
        detail: String,
    },
    /// Two names map to one id, or a name or id is empty.
    #[error("peers.json: {0}")]
    Peers(String),
    /// A keyinfo entry does not decode.
    #[error("keyinfo {key}: {detail}")]
    KeyInfo {
        /// The Consul key.
        key: String,
        /// What is wrong.
        detail: String,
    },
}

/// The reference cluster's node names and ids (`peers.json`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerMap {
    by_name: BTreeMap<String, String>,
}

impl PeerMap {
    /// Builds the map from `(name, id)` pairs; names and ids must be non-empty and unique.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ReferenceFileError> {
        let mut by_name = BTreeMap::new();
        for (name, id) in pairs {
            if name.is_empty() || id.is_empty() {
                return Err(ReferenceFileError::Peers("empty node name or id".into()));
            }
            if by_name.values().any(|v| *v == id) {
                return Err(ReferenceFileError::Peers(format!(
                    "node id {id} is listed twice"
                )));
            }
            if by_name.insert(name.clone(), id).is_some() {
                return Err(ReferenceFileError::Peers(format!(
                    "node name {name} is listed twice"
                )));
            }
        }
        Ok(Self { by_name })
    }

    /// Reads the reference's `peers.json` (`{"<name>": "<id>"}`).
    pub fn from_reference_json(bytes: &[u8]) -> Result<Self, ReferenceFileError> {
        let map: BTreeMap<String, String> =
            serde_json::from_slice(bytes).map_err(|e| ReferenceFileError::Json {
                file: "peers.json",
                detail: describe(&e),
            })?;
        Self::from_pairs(map)
    }

    /// The id of node `name`.
    pub fn id_of(&self, name: &str) -> Option<&str> {
        self.by_name.get(name).map(String::as_str)
    }

    /// The name of node `id`.
    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.by_name
            .iter()
            .find(|(_, v)| v.as_str() == id)
            .map(|(k, _)| k.as_str())
    }

    /// Whether `id` is a known node.
    pub fn contains_id(&self, id: &str) -> bool {
        self.name_of(id).is_some()
    }

    /// `(name, id)` pairs, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_name.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// One wallet key's Consul keyinfo, as the reference writes it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct ReferenceKeyInfo {
    /// Node ids holding the current version.
    pub participant_peer_ids: Vec<String>,
    /// tss-lib threshold: the polynomial degree (signers − 1).
    pub threshold: u16,
    /// The current share version.
    pub version: u64,
}

/// The keyinfo of many wallets, keyed by key type and wallet id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyInfoSet {
    entries: BTreeMap<(KeyType, String), ReferenceKeyInfo>,
}

#[derive(Deserialize)]
struct ConsulExportEntry {
    key: String,
    value: Option<String>,
}

impl KeyInfoSet {
    /// Adds or replaces one wallet key's keyinfo.
    pub fn insert(&mut self, key_type: KeyType, wallet_id: &str, info: ReferenceKeyInfo) {
        self.entries.insert((key_type, wallet_id.to_string()), info);
    }

    /// The keyinfo of a wallet key.
    pub fn get(&self, key_type: KeyType, wallet_id: &str) -> Option<&ReferenceKeyInfo> {
        self.entries.get(&(key_type, wallet_id.to_string()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reads `consul kv export threshold_keyinfo/` output. Entries under other prefixes are
    /// ignored, and so are the pre-v0.1.4 unprefixed `threshold_keyinfo/<wallet>` entries (the
    /// reference migrated them with `scripts/migration/update-keyinfo`).
    pub fn from_consul_export(bytes: &[u8]) -> Result<Self, ReferenceFileError> {
        let entries: Vec<ConsulExportEntry> =
            serde_json::from_slice(bytes).map_err(|e| ReferenceFileError::Json {
                file: "consul kv export",
                detail: describe(&e),
            })?;
        let mut set = Self::default();
        for entry in entries {
            let Some(rest) = entry.key.strip_prefix("threshold_keyinfo/") else {
                continue;
            };
            let (key_type, wallet) = if let Some(w) = rest.strip_prefix("ecdsa:") {
                (KeyType::Secp256k1, w)
            } else if let Some(w) = rest.strip_prefix("eddsa:") {
                (KeyType::Ed25519, w)
            } else {
                continue;
            };
            let bad = |detail: String| ReferenceFileError::KeyInfo {
                key: entry.key.clone(),
                detail,
            };
            let value = base64::engine::general_purpose::STANDARD
                .decode(entry.value.as_deref().unwrap_or_default())
                .map_err(|_| bad("value is not base64".into()))?;
            let info: ReferenceKeyInfo =
                serde_json::from_slice(&value).map_err(|e| bad(describe(&e)))?;
            set.insert(key_type, wallet, info);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_keys_read_as_the_reference_writes_them() {
        let k = ShareKey::parse(b"ecdsa:w-1_v3").unwrap();
        assert_eq!(
            (k.key_type, k.wallet_id.as_str(), k.version),
            (KeyType::Secp256k1, "w-1", 3)
        );
        assert_eq!(k.badger_key(), "ecdsa:w-1_v3");
        let legacy = ShareKey::parse(b"eddsa:w-1").unwrap();
        assert_eq!((legacy.wallet_id.as_str(), legacy.version), ("w-1", 0));
        assert_eq!(legacy.badger_key(), "eddsa:w-1");
        assert_eq!(
            k.legacy_reading().unwrap().wallet_id,
            "w-1_v3",
            "a legacy wallet id may itself end in _v3"
        );
        for not_a_share in [&b"pre_params_0"[..], b"ecdsa:", b"foo:bar", b"\xff"] {
            assert!(ShareKey::parse(not_a_share).is_none());
        }
        assert_eq!(ShareKey::parse(b"ecdsa:w_v0").unwrap().wallet_id, "w_v0");
        assert_eq!(ShareKey::parse(b"ecdsa:w_v01").unwrap().wallet_id, "w_v01");
    }

    #[test]
    fn party_keys_name_node_and_version() {
        let id = "7b0b2b9c-7c55-4a23-9e7d-1d2c3e4f5a6b";
        assert_eq!(party_key(id, 2), format!("{id}:2").into_bytes());
        assert_eq!(decode_party_key(&party_key(id, 2)), Some((id.into(), 2)));
        assert_eq!(decode_party_key(&party_key(id, 0)), Some((id.into(), 0)));
        assert_eq!(decode_party_key(b"a:b:3"), Some(("a:b".into(), 3)));
        assert_eq!(decode_party_key(b"\xff\x01"), None);
    }

    #[test]
    fn peers_json_in_the_reference_form_is_read_and_checked() {
        let peers = PeerMap::from_reference_json(br#"{"node0":"id-0","node1":"id-1"}"#).unwrap();
        assert_eq!(peers.id_of("node1"), Some("id-1"));
        assert_eq!(peers.name_of("id-0"), Some("node0"));
        assert!(PeerMap::from_reference_json(br#"{"node0":"id","node1":"id"}"#).is_err());
        assert!(PeerMap::from_reference_json(b"[1,2]").is_err());
    }

    #[test]
    fn a_consul_export_yields_the_keyinfo_of_both_key_types() {
        let value = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
        let export = format!(
            r#"[{{"key":"threshold_keyinfo/ecdsa:w1","flags":0,"value":"{}"}},
               {{"key":"threshold_keyinfo/eddsa:w1","flags":0,"value":"{}"}},
               {{"key":"threshold_keyinfo/w0","flags":0,"value":"{}"}},
               {{"key":"mpc_peers/node0","flags":0,"value":"aWQ="}}]"#,
            value(r#"{"participant_peer_ids":["a","b","c"],"threshold":1,"version":2}"#),
            value(r#"{"participant_peer_ids":["a","b"],"threshold":1,"version":1}"#),
            value(r#"{"participant_peer_ids":["a"],"threshold":0,"version":0}"#),
        );
        let set = KeyInfoSet::from_consul_export(export.as_bytes()).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.get(KeyType::Secp256k1, "w1").unwrap().version, 2);
        assert_eq!(
            set.get(KeyType::Ed25519, "w1")
                .unwrap()
                .participant_peer_ids
                .len(),
            2
        );
        let bad = r#"[{"key":"threshold_keyinfo/ecdsa:w1","flags":0,"value":"e30="}]"#;
        assert!(matches!(
            KeyInfoSet::from_consul_export(bad.as_bytes()),
            Err(ReferenceFileError::KeyInfo { .. })
        ));
    }
}
