//! Decoding of untrusted request JSON with Go `encoding/json` semantics and explicit limits.
//!
//! Requests are read into a JSON object first and then field by field, so every failure names
//! the field and what is wrong with it. Go semantics kept: a missing or `null` field is the zero
//! value (`""`, nil slice, `0`), unknown fields are ignored, a repeated field keeps its last
//! value, `[]byte` is standard base64. Deliberately stricter than Go: field names are matched
//! case-sensitively, invalid UTF-8 and lone surrogate escapes are rejected instead of replaced,
//! and the sizes below are enforced.

use base64::alphabet::STANDARD;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error_code::ErrorCode;
use crate::ids::{check_id, IdError};
use crate::key_type::KeyType;
use crate::message_hash::MessageHash;

/// Largest request accepted, in bytes (1 MiB, the NATS default `max_payload`).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// Largest `tx` payload accepted, in bytes.
pub const MAX_TX_BYTES: usize = 256 * 1024;
/// Largest signature accepted, in bytes (Ed25519 is 64, DER P-256 at most 72).
pub const MAX_SIGNATURE_BYTES: usize = 512;
/// Longest free-text field accepted (`network_internal_code`, `authorizer_id`), in bytes.
pub const MAX_TEXT_BYTES: usize = 1024;
/// Most entries accepted in `node_ids`.
pub const MAX_NODE_IDS: usize = 256;
/// Most entries accepted in `authorizer_signatures`.
pub const MAX_AUTHORIZER_SIGNATURES: usize = 64;
/// Most entries accepted in `derivation_path` (BIP-32 depth is one byte).
pub const MAX_DERIVATION_DEPTH: usize = 255;

/// Why a request could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message is larger than [`MAX_MESSAGE_BYTES`].
    #[error("message is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Message length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The bytes are not JSON (truncated, invalid UTF-8, trailing data, ...).
    #[error("message is not valid json: {reason}")]
    Malformed {
        /// Parser message with line and column (never contains field values).
        reason: String,
    },
    /// The JSON is valid but not an object.
    #[error("message must be a json object")]
    NotAnObject,
    /// One field is unusable.
    #[error("field `{field}` {problem}")]
    Field {
        /// JSON path of the field, e.g. `authorizer_signatures[1].signature`.
        field: String,
        /// What is wrong with it.
        problem: FieldProblem,
    },
}

impl DecodeError {
    /// Stable code sent to the client: unreadable messages are `ERROR_UNMARSHAL_FAILURE`,
    /// readable ones with a bad field `ERROR_MSG_VALIDATION`.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. } | Self::Malformed { .. } | Self::NotAnObject => {
                ErrorCode::UnmarshalFailure
            }
            Self::Field { .. } => ErrorCode::MsgValidation,
        }
    }
}

/// What is wrong with one field of a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// Required but missing, `null` or empty.
    #[error("is required")]
    Missing,
    /// Present with the wrong JSON type.
    #[error("must be {expected}")]
    WrongType {
        /// Expected JSON shape.
        expected: &'static str,
    },
    /// A `[]byte` field that is not standard padded base64.
    #[error("is not valid standard base64")]
    InvalidBase64,
    /// Longer than allowed.
    #[error("is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Length in bytes (decoded bytes for base64 fields).
        len: usize,
        /// Limit.
        max: usize,
    },
    /// More array entries than allowed.
    #[error("has {len} entries, the limit is {max}")]
    TooMany {
        /// Number of entries.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// A number outside the range of its Go type or of the protocol.
    #[error("must be an integer between {min} and {max}")]
    OutOfRange {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// Not a supported key type.
    #[error("must be \"secp256k1\" or \"ed25519\"")]
    UnknownKeyType,
    /// An ID that cannot be used in NATS subjects.
    #[error("{0}")]
    InvalidId(#[from] IdError),
    /// A `request_version` this version does not define.
    #[error("must be {supported} (the extended request form); omit it for the reference form, got {found}")]
    UnsupportedRequestVersion {
        /// The value as sent (JSON number text).
        found: String,
        /// The only version accepted.
        supported: u32,
    },
    /// Not a supported hash mode.
    #[error("must be \"keccak256\", \"sha256\" or \"sha256d\"")]
    UnknownHash,
    /// `hash` sent without `"request_version": 2`; the reference form cannot sign it.
    #[error("requires \"request_version\": 2, so that the hash mode is covered by the initiator signature")]
    HashNeedsRequestVersion,
    /// A `protocol` this implementation does not run (for this key type).
    #[error("names protocol {found:?}, which this cluster does not run; supported: {supported} (omit the field for the default)")]
    UnsupportedProtocol {
        /// The value as sent.
        found: String,
        /// The values accepted here.
        supported: &'static str,
    },
    /// `hash` sent for an Ed25519 key, which signs the message itself.
    #[error("is not allowed with key_type \"ed25519\": ed25519 signs the message itself")]
    HashWithEd25519,
    /// A secp256k1 `tx` without `hash` that is not a 32-byte digest.
    #[error(
        "must be a 32-byte digest for key_type \"secp256k1\", got {len} bytes; \
         to have the nodes hash a message, send it with \"hash\" and \"request_version\": 2"
    )]
    NotADigest {
        /// Length received.
        len: usize,
    },
}

/// Go's `base64.StdEncoding` as `encoding/json` uses it: padding required, non-zero trailing
/// bits tolerated (Go is not in strict mode).
pub(crate) const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

/// Parses `bytes` into a JSON object, enforcing [`MAX_MESSAGE_BYTES`].
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max: MAX_MESSAGE_BYTES,
        });
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(DecodeError::NotAnObject),
        Err(e) => Err(DecodeError::Malformed {
            reason: e.to_string(),
        }),
    }
}

/// Reads fields of one JSON object, naming them in errors by their path.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>, path: String) -> Self {
        Self { map, path }
    }

    fn name(&self, field: &str) -> String {
        if self.path.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.path)
        }
    }

    fn err(&self, field: &str, problem: FieldProblem) -> DecodeError {
        DecodeError::Field {
            field: self.name(field),
            problem,
        }
    }

    /// The value, or `None` when missing or `null` (Go leaves the zero value).
    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    /// A Go `string` of at most `max` bytes; missing ⇒ `""`.
    pub(crate) fn text(&self, field: &str, max: usize) -> Result<String, DecodeError> {
        match self.get(field) {
            None => Ok(String::new()),
            Some(Value::String(s)) if s.len() > max => {
                Err(self.err(field, FieldProblem::TooLong { len: s.len(), max }))
            }
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(self.err(
                field,
                FieldProblem::WrongType {
                    expected: "a string",
                },
            )),
        }
    }

    /// A required ID usable as a NATS subject token.
    pub(crate) fn id(&self, field: &str) -> Result<String, DecodeError> {
        let id = self.required_text(field, usize::MAX)?;
        check_id(&id).map_err(|e| self.err(field, e.into()))?;
        Ok(id)
    }

    /// A required `key_type`.
    pub(crate) fn key_type(&self, field: &str) -> Result<KeyType, DecodeError> {
        self.required_text(field, MAX_TEXT_BYTES)?
            .parse()
            .map_err(|_| self.err(field, FieldProblem::UnknownKeyType))
    }

    /// A Go `[]byte` of at most `max` decoded bytes; missing ⇒ nil (`None`).
    pub(crate) fn bytes(&self, field: &str, max: usize) -> Result<Option<Vec<u8>>, DecodeError> {
        let text = match self.get(field) {
            None => return Ok(None),
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(self.err(
                    field,
                    FieldProblem::WrongType {
                        expected: "a base64 string",
                    },
                ))
            }
        };
        // Reject before decoding so an oversized field costs no allocation.
        let decoded_len = text.len() / 4 * 3;
        if decoded_len > max.saturating_add(3) {
            return Err(self.err(
                field,
                FieldProblem::TooLong {
                    len: decoded_len,
                    max,
                },
            ));
        }
        let bytes = GO_STD_BASE64
            .decode(text)
            .map_err(|_| self.err(field, FieldProblem::InvalidBase64))?;
        if bytes.len() > max {
            return Err(self.err(
                field,
                FieldProblem::TooLong {
                    len: bytes.len(),
                    max,
                },
            ));
        }
        Ok(Some(bytes))
    }

    /// A Go `int` that must fit a `u16`; missing ⇒ 0.
    pub(crate) fn u16(&self, field: &str) -> Result<u16, DecodeError> {
        let range = FieldProblem::OutOfRange {
            min: 0,
            max: i64::from(u16::MAX),
        };
        match self.get(field) {
            None => Ok(0),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|v| u16::try_from(v).ok())
                .ok_or_else(|| self.err(field, range)),
            Some(_) => Err(self.err(
                field,
                FieldProblem::WrongType {
                    expected: "an integer",
                },
            )),
        }
    }

    /// An optional `request_version`: missing or `null` ⇒ `None`; any value but `supported` is
    /// refused.
    pub(crate) fn request_version(
        &self,
        field: &str,
        supported: u32,
    ) -> Result<Option<u32>, DecodeError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64() == Some(u64::from(supported)) => {
                Ok(Some(supported))
            }
            Some(Value::Number(n)) => Err(self.err(
                field,
                FieldProblem::UnsupportedRequestVersion {
                    found: n.to_string(),
                    supported,
                },
            )),
            Some(_) => Err(self.err(
                field,
                FieldProblem::WrongType {
                    expected: "an integer",
                },
            )),
        }
    }

    /// An optional hash mode: missing or `null` ⇒ `None`.
    pub(crate) fn message_hash(&self, field: &str) -> Result<Option<MessageHash>, DecodeError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| self.err(field, FieldProblem::UnknownHash)),
            Some(_) => Err(self.err(
                field,
                FieldProblem::WrongType {
                    expected: "a string",
                },
            )),
        }
    }

    /// A required, non-empty Go `string` of at most `max` bytes.
    pub(crate) fn required_text(&self, field: &str, max: usize) -> Result<String, DecodeError> {
        let text = self.text(field, max)?;
        if text.is_empty() {
            return Err(self.err(field, FieldProblem::Missing));
        }
        Ok(text)
    }

    /// A required, non-empty Go `[]byte` of at most `max` decoded bytes.
    pub(crate) fn required_bytes(&self, field: &str, max: usize) -> Result<Vec<u8>, DecodeError> {
        match self.bytes(field, max)? {
            Some(bytes) if !bytes.is_empty() => Ok(bytes),
            _ => Err(self.err(field, FieldProblem::Missing)),
        }
    }

    /// A Go slice: `None` for nil, else the elements (at most `max`).
    pub(crate) fn array(
        &self,
        field: &str,
        max: usize,
    ) -> Result<Option<&'a Vec<Value>>, DecodeError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) if items.len() > max => Err(self.err(
                field,
                FieldProblem::TooMany {
                    len: items.len(),
                    max,
                },
            )),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(self.err(
                field,
                FieldProblem::WrongType {
                    expected: "an array",
                },
            )),
        }
    }

    /// A Go `[]string` of IDs.
    pub(crate) fn ids(&self, field: &str, max: usize) -> Result<Option<Vec<String>>, DecodeError> {
        let Some(items) = self.array(field, max)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let elem = format!("{field}[{i}]");
            match item {
                Value::String(s) => {
                    check_id(s).map_err(|e| self.err(&elem, e.into()))?;
                    out.push(s.clone());
                }
                _ => {
                    return Err(self.err(
                        &elem,
                        FieldProblem::WrongType {
                            expected: "a string",
                        },
                    ))
                }
            }
        }
        Ok(Some(out))
    }

    /// A Go `[]uint32` whose entries are all below `limit`.
    pub(crate) fn u32s(
        &self,
        field: &str,
        max: usize,
        limit: u32,
    ) -> Result<Option<Vec<u32>>, DecodeError> {
        let Some(items) = self.array(field, max)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let elem = format!("{field}[{i}]");
            let range = FieldProblem::OutOfRange {
                min: 0,
                max: i64::from(limit) - 1,
            };
            match item {
                Value::Number(n) => {
                    let v = n
                        .as_u64()
                        .and_then(|v| u32::try_from(v).ok())
                        .filter(|&v| v < limit)
                        .ok_or_else(|| self.err(&elem, range))?;
                    out.push(v);
                }
                _ => {
                    return Err(self.err(
                        &elem,
                        FieldProblem::WrongType {
                            expected: "an integer",
                        },
                    ))
                }
            }
        }
        Ok(Some(out))
    }

    /// Field readers for each object of an array of objects.
    pub(crate) fn objects(&self, field: &str, max: usize) -> Result<Vec<Fields<'a>>, DecodeError> {
        let Some(items) = self.array(field, max)? else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let elem = format!("{field}[{i}]");
                match item {
                    Value::Object(map) => Ok(Fields::new(map, self.name(&elem))),
                    _ => Err(self.err(
                        &elem,
                        FieldProblem::WrongType {
                            expected: "an object",
                        },
                    )),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_base64_tolerates_trailing_bits_but_requires_padding() {
        assert_eq!(GO_STD_BASE64.decode("AP8=").unwrap(), vec![0, 255]);
        // "AP9=" has non-zero trailing bits; Go's non-strict StdEncoding accepts it.
        assert_eq!(GO_STD_BASE64.decode("AP9=").unwrap(), vec![0, 255]);
        assert!(GO_STD_BASE64.decode("AP8").is_err());
        assert!(GO_STD_BASE64.decode("AP-_").is_err());
    }

    #[test]
    fn oversized_messages_are_rejected_before_parsing() {
        let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
        assert_eq!(
            parse_object(&big),
            Err(DecodeError::TooLarge {
                len: MAX_MESSAGE_BYTES + 1,
                max: MAX_MESSAGE_BYTES
            })
        );
    }

    #[test]
    fn non_objects_and_broken_json_are_told_apart() {
        assert_eq!(parse_object(b"[1]"), Err(DecodeError::NotAnObject));
        assert!(matches!(
            parse_object(b"{\"a\":"),
            Err(DecodeError::Malformed { .. })
        ));
        assert!(matches!(
            parse_object(b"{} {}"),
            Err(DecodeError::Malformed { .. })
        ));
    }
}
