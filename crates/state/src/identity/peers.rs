//! `peers.json`: the committee's node names and IDs.
//!
//! Written in the seed guide's array form `[{"id": "…", "name": "node0"}, …]`; read in that form
//! or in the reference's map form `{"node0": "<id>"}`. Names and IDs are validated on read.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::files::{self, FileError, Overwrite};

/// Longest node name accepted.
pub const MAX_NAME_LEN: usize = 64;
/// Longest node ID accepted.
pub const MAX_ID_LEN: usize = 128;
/// Largest committee accepted.
pub const MAX_PEERS: usize = 1024;

/// One committee member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Stable node ID (a UUID v4 when generated here).
    pub id: String,
    /// Node name (`node0`, …), matching `^[A-Za-z0-9_-]+$`.
    pub name: String,
}

/// The validated committee: at least one peer, unique names and IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peers(Vec<Peer>);

/// Why `peers.json` could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum PeersError {
    /// Reading or writing the file failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// Not JSON at all (e.g. truncated).
    #[error("{}: not valid JSON ({detail}); regenerate it with `mpcium-cli generate-peers`", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message with line and column.
        detail: String,
    },
    /// JSON, but not one of the two accepted shapes.
    #[error(
        "{}: {detail}; expected [{{\"id\": \"…\", \"name\": \"node0\"}}, …] or {{\"node0\": \"<id>\"}}",
        path.display()
    )]
    Shape {
        /// The file.
        path: PathBuf,
        /// Which element is wrong and how.
        detail: String,
    },
    /// A name or ID breaks the naming rules.
    #[error("{}: {detail}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Which entry is wrong and how.
        detail: String,
    },
}

impl Peers {
    /// Validates a list of peers (non-empty, valid and unique names and IDs).
    pub fn new(peers: Vec<Peer>) -> Result<Self, String> {
        if peers.is_empty() {
            return Err("no peers listed; a committee needs at least 2 nodes".into());
        }
        if peers.len() > MAX_PEERS {
            return Err(format!(
                "{} peers listed, at most {MAX_PEERS} are supported",
                peers.len()
            ));
        }
        let mut names = HashSet::new();
        let mut ids = HashSet::new();
        for peer in &peers {
            check_token("name", &peer.name, MAX_NAME_LEN)?;
            check_token(&format!("id of {}", peer.name), &peer.id, MAX_ID_LEN)?;
            if !names.insert(peer.name.as_str()) {
                return Err(format!(
                    "node name {:?} is listed twice; names must be unique",
                    peer.name
                ));
            }
            if !ids.insert(peer.id.as_str()) {
                return Err(format!(
                    "node id {:?} is listed twice (again for {}); ids must be unique",
                    peer.id, peer.name
                ));
            }
        }
        Ok(Self(peers))
    }

    /// Generates `n` peers `node0..node{n-1}` with random UUID v4 IDs.
    pub fn generate(n: usize) -> Result<Self, String> {
        Self::new(
            (0..n)
                .map(|i| Peer {
                    id: uuid::Uuid::new_v4().to_string(),
                    name: format!("node{i}"),
                })
                .collect(),
        )
    }

    /// Reads and validates `peers.json` in either accepted form.
    pub fn load(path: &Path) -> Result<Self, PeersError> {
        let bytes = files::read_small_file(path)?;
        Self::parse(&bytes, path)
    }

    /// Parses `peers.json` bytes; `path` is only used in error messages.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, PeersError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| PeersError::Json {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        let shape = |detail: String| PeersError::Shape {
            path: path.to_path_buf(),
            detail,
        };
        let peers = match value {
            serde_json::Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| array_entry(i, item).map_err(shape))
                .collect::<Result<Vec<_>, _>>()?,
            serde_json::Value::Object(map) => map
                .into_iter()
                .map(|(name, id)| match id {
                    serde_json::Value::String(id) => Ok(Peer { id, name }),
                    other => Err(shape(format!(
                        "the id of {name:?} must be a string, found {}",
                        kind(&other)
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            other => return Err(shape(format!("the top level is {}", kind(&other)))),
        };
        Self::new(peers).map_err(|detail| PeersError::Invalid {
            path: path.to_path_buf(),
            detail,
        })
    }

    /// The seed's array form, one peer per line.
    pub fn to_json(&self) -> String {
        let lines: Vec<String> = self
            .0
            .iter()
            .map(|p| {
                format!(
                    "  {{\"id\": {}, \"name\": {}}}",
                    serde_json::Value::from(p.id.as_str()),
                    serde_json::Value::from(p.name.as_str())
                )
            })
            .collect();
        format!("[\n{}\n]\n", lines.join(",\n"))
    }

    /// Writes the array form with mode 0600; never replaces an existing file.
    pub fn write_new(&self, path: &Path) -> Result<(), PeersError> {
        files::write_private_file(path, self.to_json().as_bytes(), Overwrite::Refuse)?;
        Ok(())
    }

    /// All peers in file order (sorted by name for the map form).
    pub fn iter(&self) -> impl Iterator<Item = &Peer> {
        self.0.iter()
    }

    /// Number of peers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a `Peers` holds at least one peer.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The peer called `name`.
    pub fn by_name(&self, name: &str) -> Option<&Peer> {
        self.0.iter().find(|p| p.name == name)
    }
}

fn array_entry(index: usize, item: serde_json::Value) -> Result<Peer, String> {
    let serde_json::Value::Object(mut map) = item else {
        return Err(format!(
            "entry {index} is {}, expected an object",
            kind(&item)
        ));
    };
    let mut field = |key: &str| match map.remove(key) {
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(other) => Err(format!(
            "entry {index}: \"{key}\" must be a string, found {}",
            kind(&other)
        )),
        None => Err(format!("entry {index}: \"{key}\" is missing")),
    };
    let id = field("id")?;
    let name = field("name")?;
    Ok(Peer { id, name })
}

/// Checks a name or ID: non-empty, at most `max` bytes, only `[A-Za-z0-9_-]`.
pub(crate) fn check_token(what: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if value.len() > max {
        return Err(format!(
            "{what} is {} characters long, at most {max} are allowed",
            value.len()
        ));
    }
    if !is_token(value) {
        return Err(format!(
            "{what} {value:?} may only contain letters, digits, '-' and '_'"
        ));
    }
    Ok(())
}

/// True when `value` matches `^[A-Za-z0-9_-]+$`.
pub fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Peers, PeersError> {
        Peers::parse(text.as_bytes(), Path::new("peers.json"))
    }

    #[test]
    fn generated_peers_round_trip_through_the_array_form() {
        let peers = Peers::generate(3).unwrap();
        let text = peers.to_json();
        assert!(text.starts_with("[\n  {\"id\": \""));
        assert_eq!(parse(&text).unwrap(), peers);
        let names: Vec<_> = peers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["node0", "node1", "node2"]);
    }

    #[test]
    fn reference_map_form_is_accepted() {
        let peers = parse(r#"{"node1": "b", "node0": "a"}"#).unwrap();
        assert_eq!(peers.by_name("node0").unwrap().id, "a");
        assert_eq!(peers.len(), 2);
    }

    #[test]
    fn truncated_json_names_the_file_and_position() {
        let err = parse("[{\"id\": \"a\", \"name\": \"node0\"},").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, PeersError::Json { .. }));
        assert!(msg.contains("peers.json") && msg.contains("line"), "{msg}");
    }

    #[test]
    fn wrong_field_type_names_the_entry_and_field() {
        let err = parse(r#"[{"id": 7, "name": "node0"}]"#).unwrap_err();
        assert!(err
            .to_string()
            .contains("entry 0: \"id\" must be a string, found a number"));
    }

    #[test]
    fn duplicate_names_and_ids_are_rejected() {
        let dup_name = parse(r#"[{"id":"a","name":"n"},{"id":"b","name":"n"}]"#).unwrap_err();
        assert!(dup_name.to_string().contains("listed twice"), "{dup_name}");
        let dup_id = parse(r#"[{"id":"a","name":"n0"},{"id":"a","name":"n1"}]"#).unwrap_err();
        assert!(
            dup_id.to_string().contains("id \"a\" is listed twice"),
            "{dup_id}"
        );
    }

    #[test]
    fn empty_and_odd_names_are_rejected() {
        assert!(parse(r#"[{"id":"a","name":""}]"#)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        let odd = parse(r#"[{"id":"a","name":"node 0"}]"#).unwrap_err();
        assert!(odd.to_string().contains("may only contain"), "{odd}");
    }

    #[test]
    fn oversized_name_is_rejected() {
        let long = "n".repeat(MAX_NAME_LEN + 1);
        let err = parse(&format!(r#"[{{"id":"a","name":"{long}"}}]"#)).unwrap_err();
        assert!(err.to_string().contains("at most 64"), "{err}");
    }
}
