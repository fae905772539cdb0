//! Result events published to clients: `KeygenResultEvent`, `SigningResultEvent`,
//! `ResharingResultEvent`, shaped exactly like the reference's.
//!
//! Field order, names and encodings follow the Go structs: `[]byte` fields are base64 or `null`,
//! `result_type` is `"success"`/`"error"`, `error_code` is `""` on success. `to_json` writes the
//! same bytes Go's `json.Marshal` would; `from_json` (for clients) is lenient about missing
//! fields like Go, tolerant of unknown error codes, and bounded by
//! [`MAX_MESSAGE_BYTES`](crate::decode::MAX_MESSAGE_BYTES).

use serde::{Deserialize, Serialize};

use crate::canonical::ObjectWriter;
use crate::decode::{DecodeError, MAX_MESSAGE_BYTES};
use crate::error_code::{self, ErrorCode};
use crate::key_type::KeyType;

/// Outcome of an operation (`result_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResultType {
    /// `"success"`.
    #[serde(rename = "success")]
    Success,
    /// `"error"`.
    #[serde(rename = "error")]
    Error,
}

impl ResultType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
        }
    }
}

/// Result of a keygen request: both public keys of the new wallet, or an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeygenResultEvent {
    /// Wallet the keys belong to.
    #[serde(default)]
    pub wallet_id: String,
    /// secp256k1 public key, 64 bytes X‖Y without the 0x04 prefix.
    #[serde(default, with = "base64_opt")]
    pub ecdsa_pub_key: Option<Vec<u8>>,
    /// Ed25519 public key, 32 bytes compressed.
    #[serde(default, with = "base64_opt")]
    pub eddsa_pub_key: Option<Vec<u8>>,
    /// Success or error.
    pub result_type: ResultType,
    /// Human-readable failure reason, empty on success.
    #[serde(default)]
    pub error_reason: String,
    /// Failure category, `None` (wire `""`) on success.
    #[serde(default, with = "error_code::optional")]
    pub error_code: Option<ErrorCode>,
}

/// Result of a signing request: `r`/`s`/`signature_recovery` for secp256k1, `signature` for
/// Ed25519, or an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningResultEvent {
    /// Success or error.
    pub result_type: ResultType,
    /// Failure category, `None` (wire `""`) on success.
    #[serde(default, with = "error_code::optional")]
    pub error_code: Option<ErrorCode>,
    /// Human-readable failure reason, empty on success.
    #[serde(default)]
    pub error_reason: String,
    /// Whether the request ran out of deliveries.
    #[serde(default)]
    pub is_timeout: bool,
    /// Network tag echoed from the request.
    #[serde(default)]
    pub network_internal_code: String,
    /// Wallet that signed.
    #[serde(default)]
    pub wallet_id: String,
    /// Transaction ID from the request.
    #[serde(default)]
    pub tx_id: String,
    /// ECDSA `r`, 32 bytes big-endian.
    #[serde(default, with = "base64_opt")]
    pub r: Option<Vec<u8>>,
    /// ECDSA `s`, 32 bytes big-endian.
    #[serde(default, with = "base64_opt")]
    pub s: Option<Vec<u8>>,
    /// ECDSA recovery ID, one byte (0 or 1).
    #[serde(default, with = "base64_opt")]
    pub signature_recovery: Option<Vec<u8>>,
    /// Ed25519 signature, 64 bytes R‖S.
    #[serde(default, with = "base64_opt")]
    pub signature: Option<Vec<u8>>,
}

/// Result of a resharing request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResharingResultEvent {
    /// Wallet whose key was reshared.
    #[serde(default)]
    pub wallet_id: String,
    /// Threshold from the request.
    #[serde(default)]
    pub new_threshold: u16,
    /// Key that was reshared; `None` (wire `""`) when the request named none.
    #[serde(default, with = "key_type_or_empty")]
    pub key_type: Option<KeyType>,
    /// The (unchanged) public key, same encoding as in [`KeygenResultEvent`].
    #[serde(default, with = "base64_opt")]
    pub pub_key: Option<Vec<u8>>,
    /// Success or error.
    pub result_type: ResultType,
    /// Human-readable failure reason, empty on success.
    #[serde(default)]
    pub error_reason: String,
    /// Failure category, `None` (wire `""`) on success.
    #[serde(default, with = "error_code::optional")]
    pub error_code: Option<ErrorCode>,
}

fn code_str(code: Option<&ErrorCode>) -> &str {
    code.map_or("", ErrorCode::as_str)
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            max: MAX_MESSAGE_BYTES,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed {
        reason: e.to_string(),
    })
}

impl KeygenResultEvent {
    /// A successful keygen with both public keys.
    pub fn success(
        wallet_id: impl Into<String>,
        ecdsa_pub_key: Vec<u8>,
        eddsa_pub_key: Vec<u8>,
    ) -> Self {
        Self {
            wallet_id: wallet_id.into(),
            ecdsa_pub_key: Some(ecdsa_pub_key),
            eddsa_pub_key: Some(eddsa_pub_key),
            result_type: ResultType::Success,
            error_reason: String::new(),
            error_code: None,
        }
    }

    /// A failed keygen.
    pub fn failure(
        wallet_id: impl Into<String>,
        code: ErrorCode,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            wallet_id: wallet_id.into(),
            ecdsa_pub_key: None,
            eddsa_pub_key: None,
            result_type: ResultType::Error,
            error_reason: reason.into(),
            error_code: Some(code),
        }
    }

    /// Decodes a result received from the cluster.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }

    /// Encodes the result as Go `json.Marshal` does.
    pub fn to_json(&self) -> Vec<u8> {
        let mut w = ObjectWriter::new();
        w.string("wallet_id", &self.wallet_id)
            .bytes("ecdsa_pub_key", self.ecdsa_pub_key.as_deref())
            .bytes("eddsa_pub_key", self.eddsa_pub_key.as_deref())
            .string("result_type", self.result_type.as_str())
            .string("error_reason", &self.error_reason)
            .string("error_code", code_str(self.error_code.as_ref()));
        w.finish()
    }
}

impl SigningResultEvent {
    fn base(
        result_type: ResultType,
        network_internal_code: String,
        wallet_id: String,
        tx_id: String,
    ) -> Self {
        Self {
            result_type,
            error_code: None,
            error_reason: String::new(),
            is_timeout: false,
            network_internal_code,
            wallet_id,
            tx_id,
            r: None,
            s: None,
            signature_recovery: None,
            signature: None,
        }
    }

    /// A secp256k1 signature `(r, s, recovery_id)`.
    pub fn ecdsa_success(
        network_internal_code: impl Into<String>,
        wallet_id: impl Into<String>,
        tx_id: impl Into<String>,
        r: Vec<u8>,
        s: Vec<u8>,
        recovery_id: u8,
    ) -> Self {
        Self {
            r: Some(r),
            s: Some(s),
            signature_recovery: Some(vec![recovery_id]),
            ..Self::base(
                ResultType::Success,
                network_internal_code.into(),
                wallet_id.into(),
                tx_id.into(),
            )
        }
    }

    /// An Ed25519 signature (64 bytes R‖S).
    pub fn eddsa_success(
        network_internal_code: impl Into<String>,
        wallet_id: impl Into<String>,
        tx_id: impl Into<String>,
        signature: Vec<u8>,
    ) -> Self {
        Self {
            signature: Some(signature),
            ..Self::base(
                ResultType::Success,
                network_internal_code.into(),
                wallet_id.into(),
                tx_id.into(),
            )
        }
    }

    /// A failed signing; `is_timeout` marks exhausted deliveries.
    pub fn failure(
        network_internal_code: impl Into<String>,
        wallet_id: impl Into<String>,
        tx_id: impl Into<String>,
        code: ErrorCode,
        reason: impl Into<String>,
        is_timeout: bool,
    ) -> Self {
        Self {
            error_code: Some(code),
            error_reason: reason.into(),
            is_timeout,
            ..Self::base(
                ResultType::Error,
                network_internal_code.into(),
                wallet_id.into(),
                tx_id.into(),
            )
        }
    }

    /// Decodes a result received from the cluster.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }

    /// Encodes the result as Go `json.Marshal` does.
    pub fn to_json(&self) -> Vec<u8> {
        let mut w = ObjectWriter::new();
        w.string("result_type", self.result_type.as_str())
            .string("error_code", code_str(self.error_code.as_ref()))
            .string("error_reason", &self.error_reason)
            .boolean("is_timeout", self.is_timeout)
            .string("network_internal_code", &self.network_internal_code)
            .string("wallet_id", &self.wallet_id)
            .string("tx_id", &self.tx_id)
            .bytes("r", self.r.as_deref())
            .bytes("s", self.s.as_deref())
            .bytes("signature_recovery", self.signature_recovery.as_deref())
            .bytes("signature", self.signature.as_deref());
        w.finish()
    }
}

impl ResharingResultEvent {
    /// A successful resharing; the public key is unchanged.
    pub fn success(
        wallet_id: impl Into<String>,
        new_threshold: u16,
        key_type: KeyType,
        pub_key: Vec<u8>,
    ) -> Self {
        Self {
            wallet_id: wallet_id.into(),
            new_threshold,
            key_type: Some(key_type),
            pub_key: Some(pub_key),
            result_type: ResultType::Success,
            error_reason: String::new(),
            error_code: None,
        }
    }

    /// A failed resharing.
    pub fn failure(
        wallet_id: impl Into<String>,
        new_threshold: u16,
        key_type: Option<KeyType>,
        code: ErrorCode,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            wallet_id: wallet_id.into(),
            new_threshold,
            key_type,
            pub_key: None,
            result_type: ResultType::Error,
            error_reason: reason.into(),
            error_code: Some(code),
        }
    }

    /// Decodes a result received from the cluster.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }

    /// Encodes the result as Go `json.Marshal` does.
    pub fn to_json(&self) -> Vec<u8> {
        let mut w = ObjectWriter::new();
        w.string("wallet_id", &self.wallet_id)
            .integer("new_threshold", i64::from(self.new_threshold))
            .string("key_type", self.key_type.map_or("", KeyType::as_str))
            .bytes("pub_key", self.pub_key.as_deref())
            .string("result_type", self.result_type.as_str())
            .string("error_reason", &self.error_reason)
            .string("error_code", code_str(self.error_code.as_ref()));
        w.finish()
    }
}

/// Serde adapter for Go `[]byte`: base64 string or `null`.
mod base64_opt {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::decode::GO_STD_BASE64;

    pub(super) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => serializer.serialize_str(&GO_STD_BASE64.encode(b)),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|s| {
                GO_STD_BASE64
                    .decode(s)
                    .map_err(|_| serde::de::Error::custom("invalid standard base64"))
            })
            .transpose()
    }
}

/// Serde adapter for a Go `KeyType` that may be empty: `""` or `null` ⇔ `None`.
mod key_type_or_empty {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::key_type::KeyType;

    pub(super) fn serialize<S: Serializer>(
        key_type: &Option<KeyType>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(key_type.map_or("", KeyType::as_str))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<KeyType>, D::Error> {
        match Option::<String>::deserialize(deserializer)?.as_deref() {
            None | Some("") => Ok(None),
            Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}
