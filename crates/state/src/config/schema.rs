//! The table of every known `config.yaml` key with its type, and the pass that turns a parsed
//! YAML tree plus environment overrides into a tree the typed [`super::Config`] accepts.
//!
//! Doing types here (rather than in serde) lets errors name the dotted key, e.g.
//! `mpc_threshold: expected a whole number, got "two"`. Unknown keys are collected, not fatal.

use serde_json::{Map, Value};

/// What a leaf key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Any scalar, kept as text.
    Text,
    /// A whole number.
    Int,
    /// `true`/`false`.
    Bool,
    /// A list of text (a comma- or space-separated string is accepted too).
    TextList,
    /// One of the given words.
    Choice(&'static [&'static str]),
}

/// Every leaf key (dotted), with `*` standing for any map key.
pub(crate) const KEYS: &[(&str, Kind)] = &[
    ("environment", Kind::Text),
    ("registry", Kind::Choice(&["consul", "nats"])),
    ("nats.url", Kind::Text),
    ("nats.username", Kind::Text),
    ("nats.password", Kind::Text),
    ("nats.tls.client_cert", Kind::Text),
    ("nats.tls.client_key", Kind::Text),
    ("nats.tls.ca_cert", Kind::Text),
    ("consul.address", Kind::Text),
    ("consul.token", Kind::Text),
    ("consul.username", Kind::Text),
    ("consul.password", Kind::Text),
    ("mpc_threshold", Kind::Int),
    ("badger_password", Kind::Text),
    ("event_initiator_pubkey", Kind::Text),
    (
        "event_initiator_algorithm",
        Kind::Choice(&["ed25519", "p256"]),
    ),
    ("chain_code", Kind::Text),
    ("db_path", Kind::Text),
    ("backup_enabled", Kind::Bool),
    ("backup_period_seconds", Kind::Int),
    ("backup_dir", Kind::Text),
    ("backup_retention", Kind::Int),
    ("max_concurrent_keygen", Kind::Int),
    ("max_concurrent_signing", Kind::Int),
    ("max_concurrent_sessions", Kind::Int),
    ("max_early_message_bytes", Kind::Int),
    ("max_remembered_sessions", Kind::Int),
    ("require_extended_requests", Kind::Bool),
    ("reshare_grace_seconds", Kind::Int),
    ("keygen_timeout_seconds", Kind::Int),
    ("signing_timeout_seconds", Kind::Int),
    ("reshare_timeout_seconds", Kind::Int),
    ("aux_info_timeout_seconds", Kind::Int),
    ("result_cache_ttl_seconds", Kind::Int),
    ("presignatures.hot_wallets", Kind::TextList),
    ("presignatures.target_depth", Kind::Int),
    ("presignatures.auto_hot_after", Kind::Int),
    ("presignatures.max_pools", Kind::Int),
    ("healthcheck.enabled", Kind::Bool),
    ("healthcheck.address", Kind::Text),
    ("authorization.enabled", Kind::Bool),
    ("authorization.required_authorizers", Kind::TextList),
    (
        "authorization.authorizer_public_keys.*.public_key",
        Kind::Text,
    ),
    (
        "authorization.authorizer_public_keys.*.algorithm",
        Kind::Choice(&["ed25519", "p256"]),
    ),
];

/// Keys the reference templates carry but nothing reads; accepted silently (with their subtree).
pub(crate) const DEAD_KEYS: &[&str] = &["session_warm_up_delay_ms", "mpcium_version", "aws"];

/// A value of the wrong type, naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeIssue {
    /// Dotted key (or environment variable name).
    pub key: String,
    /// What was expected and found.
    pub detail: String,
}

/// The environment variable that overrides `key`: dots become underscores, upper case.
pub(crate) fn env_name(key: &str) -> String {
    key.replace('.', "_").to_ascii_uppercase()
}

/// Applies environment overrides (non-empty values win over the file), then checks and coerces
/// every known key, removing and returning unknown ones.
pub(crate) fn normalize(
    mut tree: Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Value, Vec<String>), TypeIssue> {
    if tree.is_null() {
        tree = Value::Object(Map::new());
    }
    let Value::Object(mut root) = tree else {
        return Err(TypeIssue {
            key: "(top level)".into(),
            detail: "expected a mapping of keys to values".into(),
        });
    };
    for (key, _) in KEYS.iter().filter(|(k, _)| !k.contains('*')) {
        if let Some(text) = env(&env_name(key)).filter(|v| !v.is_empty()) {
            insert_path(&mut root, key, Value::String(text)).map_err(|detail| TypeIssue {
                key: env_name(key),
                detail,
            })?;
        }
    }
    let mut unknown = Vec::new();
    walk(&mut root, "", &mut unknown)?;
    Ok((Value::Object(root), unknown))
}

fn insert_path(root: &mut Map<String, Value>, key: &str, value: Value) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut map = root;
    for part in parts {
        let slot = map
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        map = slot
            .as_object_mut()
            .ok_or_else(|| format!("cannot override: `{part}` in the file is not a section"))?;
    }
    map.insert(last.to_owned(), value);
    Ok(())
}

fn walk(
    map: &mut Map<String, Value>,
    prefix: &str,
    unknown: &mut Vec<String>,
) -> Result<(), TypeIssue> {
    let keys: Vec<String> = map.keys().cloned().collect();
    for name in keys {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if prefix.is_empty() && DEAD_KEYS.contains(&name.as_str()) {
            map.remove(&name);
            continue;
        }
        if let Some(kind) = leaf_kind(&path) {
            let Some(value) = map.remove(&name) else {
                continue;
            };
            if let Some(coerced) = coerce(value, kind).map_err(|detail| TypeIssue {
                key: path.clone(),
                detail,
            })? {
                map.insert(name, coerced);
            }
        } else if is_section(&path) {
            match map.get_mut(&name) {
                Some(Value::Object(inner)) => walk(inner, &path, unknown)?,
                Some(Value::Null) => {
                    map.remove(&name);
                }
                Some(other) => {
                    return Err(TypeIssue {
                        key: path,
                        detail: format!("expected a section of keys, got {}", describe(other)),
                    })
                }
                None => {}
            }
        } else {
            map.remove(&name);
            unknown.push(path);
        }
    }
    Ok(())
}

fn matches(pattern: &str, path: &str) -> bool {
    let mut p = pattern.split('.');
    let mut k = path.split('.');
    loop {
        match (p.next(), k.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == "*" || a == b => {}
            _ => return false,
        }
    }
}

fn leaf_kind(path: &str) -> Option<Kind> {
    KEYS.iter()
        .find(|(k, _)| matches(k, path))
        .map(|(_, kind)| *kind)
}

fn is_section(path: &str) -> bool {
    let depth = path.split('.').count();
    KEYS.iter().any(|(k, _)| {
        let prefix: Vec<&str> = k.split('.').take(depth).collect();
        k.split('.').count() > depth && matches(&prefix.join("."), path)
    })
}

/// Coerces `value` to `kind`; `Ok(None)` for null (treated as absent).
fn coerce(value: Value, kind: Kind) -> Result<Option<Value>, String> {
    let text = match &value {
        Value::Null => return Ok(None),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let got = || describe(&value);
    match kind {
        Kind::Text => text
            .map(|t| Some(Value::String(t)))
            .ok_or_else(|| format!("expected a single value, got {}", got())),
        Kind::Int => match &value {
            Value::Number(n) if n.is_i64() => Ok(Some(value)),
            _ => text
                .and_then(|t| t.trim().parse::<i64>().ok())
                .map(|n| Some(Value::from(n)))
                .ok_or_else(|| format!("expected a whole number, got {}", got())),
        },
        Kind::Bool => match text.as_deref().map(str::trim) {
            Some("true" | "True" | "TRUE" | "1") => Ok(Some(Value::Bool(true))),
            Some("false" | "False" | "FALSE" | "0") => Ok(Some(Value::Bool(false))),
            _ => Err(format!("expected true or false, got {}", got())),
        },
        Kind::TextList => match value {
            Value::Array(items) => items
                .into_iter()
                .map(|item| match coerce(item, Kind::Text)? {
                    Some(v) => Ok(v),
                    None => Err("the list contains an empty entry".to_owned()),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|v| Some(Value::Array(v))),
            Value::String(s) => Ok(Some(Value::Array(
                s.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|t| !t.is_empty())
                    .map(|t| Value::String(t.to_owned()))
                    .collect(),
            ))),
            other => Err(format!("expected a list, got {}", describe(&other))),
        },
        Kind::Choice(words) => match text {
            Some(t) if words.contains(&t.as_str()) => Ok(Some(Value::String(t))),
            _ => Err(format!(
                "expected one of {}, got {}",
                words.join(" | "),
                got()
            )),
        },
    }
}

/// A short description of a value for error messages; long strings are cut.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("{n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!("{:?}…", s.chars().take(40).collect::<String>())
        }
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a section".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn env_names_follow_the_reference_rule() {
        assert_eq!(env_name("nats.url"), "NATS_URL");
        assert_eq!(env_name("mpc_threshold"), "MPC_THRESHOLD");
        assert_eq!(env_name("nats.tls.ca_cert"), "NATS_TLS_CA_CERT");
    }

    #[test]
    fn authorizer_entries_are_known_under_any_id() {
        assert_eq!(
            leaf_kind("authorization.authorizer_public_keys.alice.public_key"),
            Some(Kind::Text)
        );
        assert!(is_section("authorization.authorizer_public_keys"));
        assert!(is_section("authorization.authorizer_public_keys.alice"));
        assert!(!is_section("authorization.other"));
    }

    #[test]
    fn unknown_keys_are_collected_and_dead_keys_ignored() {
        let tree = serde_json::json!({
            "mpcium_version": "0.3", "aws": {"region": "x"}, "session_warm_up_delay_ms": 5,
            "colour": "blue", "nats": {"url": "nats://x", "speed": 3}
        });
        let (out, unknown) = normalize(tree, &no_env).unwrap();
        assert_eq!(unknown, ["colour", "nats.speed"]);
        assert_eq!(out, serde_json::json!({"nats": {"url": "nats://x"}}));
    }

    #[test]
    fn string_numbers_and_booleans_are_coerced() {
        let tree = serde_json::json!({"mpc_threshold": "3", "backup_enabled": "false"});
        let (out, _) = normalize(tree, &no_env).unwrap();
        assert_eq!(out["mpc_threshold"], 3);
        assert_eq!(out["backup_enabled"], false);
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = normalize(serde_json::json!({"mpc_threshold": "two"}), &no_env).unwrap_err();
        assert_eq!(err.key, "mpc_threshold");
        assert_eq!(err.detail, "expected a whole number, got \"two\"");
    }

    #[test]
    fn environment_overrides_the_file_and_creates_sections() {
        let env = |k: &str| match k {
            "NATS_URL" => Some("nats://env:4222".to_owned()),
            "MPC_THRESHOLD" => Some("3".to_owned()),
            "CONSUL_ADDRESS" => Some(String::new()),
            _ => None,
        };
        let tree = serde_json::json!({"mpc_threshold": 2, "consul": {"address": "file:8500"}});
        let (out, _) = normalize(tree, &env).unwrap();
        assert_eq!(out["nats"]["url"], "nats://env:4222");
        assert_eq!(out["mpc_threshold"], 3);
        assert_eq!(
            out["consul"]["address"], "file:8500",
            "empty env values do not override"
        );
    }
}
