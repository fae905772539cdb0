//! Event-initiator and authorizer public keys, and verification of their signatures.
//!
//! Algorithms, as in the reference:
//! * `ed25519`: raw 64-byte signatures over the message itself. Verified with
//!   `verify_strict` (rejects small-order keys and non-canonical encodings, which no honest
//!   signer produces).
//! * `p256`: ECDSA over SHA-256 of the message, ASN.1 DER signature — what Go's
//!   `ecdsa.SignASN1` and AWS KMS `ECDSA_SHA_256` produce. High-S signatures are accepted, as Go's
//!   `crypto/ecdsa` accepts them (KMS does not normalise S).
//!
//! Authorizers ([`Authorizers`]) co-sign [`InitiatorMessage::authorizer_payload`]: every
//! required authorizer must be present, and every signature present must come from a known
//! authorizer and verify.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use serde::{Deserialize, Serialize};

use crate::error_code::ErrorCode;
use crate::requests::InitiatorMessage;

/// Signature algorithm of an initiator or authorizer key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InitiatorAlgorithm {
    /// Ed25519 (`"ed25519"`), the reference default.
    #[serde(rename = "ed25519")]
    Ed25519,
    /// ECDSA P-256 with SHA-256 (`"p256"`).
    #[serde(rename = "p256")]
    P256,
}

impl InitiatorAlgorithm {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::P256 => "p256",
        }
    }
}

impl FromStr for InitiatorAlgorithm {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ed25519" => Ok(Self::Ed25519),
            "p256" => Ok(Self::P256),
            _ => Err(KeyError::UnknownAlgorithm),
        }
    }
}

impl fmt::Display for InitiatorAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a configured public key is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The algorithm name is not `ed25519` or `p256`.
    #[error("unknown signature algorithm: expected \"ed25519\" or \"p256\"")]
    UnknownAlgorithm,
    /// No key text at all.
    #[error("public key is empty")]
    Empty,
    /// An Ed25519 key that is not hex.
    #[error("ed25519 public key must be hex (64 characters)")]
    NotHex,
    /// An Ed25519 key of the wrong size.
    #[error("ed25519 public key must be 32 bytes, got {len}")]
    Ed25519Length {
        /// Decoded length in bytes.
        len: usize,
    },
    /// 32 bytes that are not an Ed25519 point.
    #[error("ed25519 public key is not a valid curve point")]
    Ed25519Point,
    /// Text that is neither hex nor base64 of a P-256 SPKI/SEC1 key.
    #[error(
        "p256 public key must be PKIX/SPKI DER as hex or standard base64, or a SEC1 point as hex"
    )]
    P256Format,
}

/// Why a signature was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature was supplied.
    #[error("signature is empty")]
    Empty,
    /// An Ed25519 signature that is not 64 bytes.
    #[error("ed25519 signature must be 64 bytes, got {len}")]
    Ed25519Length {
        /// Length received.
        len: usize,
    },
    /// A P-256 signature that is not a DER `SEQUENCE { r, s }` with `0 < r, s < n`.
    #[error("p256 signature is not valid asn.1 der")]
    MalformedDer,
    /// Well-formed, but not a signature of this message by this key.
    #[error("signature does not verify against the configured public key")]
    Mismatch,
}

impl SignatureError {
    /// Stable code for a rejected *initiator* signature.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::InvalidInitiatorSignature
    }
}

/// An initiator or authorizer verification key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// Ed25519 key.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// P-256 key.
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// Parses configuration text. Ed25519: 32-byte key as hex (64 chars). P-256: PKIX/SPKI DER as
    /// hex (optional `0x`) or standard base64 (what the reference accepts), or a SEC1
    /// uncompressed/compressed point as hex. Surrounding whitespace is ignored.
    pub fn parse(alg: InitiatorAlgorithm, text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        match alg {
            InitiatorAlgorithm::Ed25519 => parse_ed25519(text),
            InitiatorAlgorithm::P256 => parse_p256(text),
        }
    }

    /// Which algorithm this key verifies.
    pub fn algorithm(&self) -> InitiatorAlgorithm {
        match self {
            Self::Ed25519(_) => InitiatorAlgorithm::Ed25519,
            Self::P256(_) => InitiatorAlgorithm::P256,
        }
    }

    /// The key as configuration text [`PublicKey::parse`] reads back: Ed25519 as hex, P-256 as
    /// hex of its SPKI DER (the reference's `generate-initiator` format).
    pub fn to_text(&self) -> String {
        match self {
            Self::Ed25519(key) => hex::encode(key.as_bytes()),
            Self::P256(key) => match key.to_public_key_der() {
                Ok(der) => hex::encode(der.as_bytes()),
                // Encoding a valid point cannot fail; fall back to the SEC1 point, which
                // `parse` also accepts.
                Err(_) => hex::encode(key.to_encoded_point(false).as_bytes()),
            },
        }
    }

    /// Ed25519: 64-byte raw signature (`verify_strict`). P-256: ASN.1 DER ECDSA over
    /// SHA-256(`msg`), high-S accepted.
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        if signature.is_empty() {
            return Err(SignatureError::Empty);
        }
        match self {
            Self::Ed25519(key) => {
                let bytes: &[u8; 64] =
                    signature
                        .try_into()
                        .map_err(|_| SignatureError::Ed25519Length {
                            len: signature.len(),
                        })?;
                let sig = ed25519_dalek::Signature::from_bytes(bytes);
                key.verify_strict(msg, &sig)
                    .map_err(|_| SignatureError::Mismatch)
            }
            Self::P256(key) => {
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .map_err(|_| SignatureError::MalformedDer)?;
                key.verify(msg, &sig).map_err(|_| SignatureError::Mismatch)
            }
        }
    }

    /// Verifies the initiator signature of a request.
    pub fn verify_request(&self, msg: &impl InitiatorMessage) -> Result<(), SignatureError> {
        self.verify(&msg.signed_bytes(), msg.initiator_signature())
    }
}

fn parse_ed25519(text: &str) -> Result<PublicKey, KeyError> {
    let bytes = hex::decode(text).map_err(|_| KeyError::NotHex)?;
    let bytes: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::Ed25519Length { len: bytes.len() })?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map(PublicKey::Ed25519)
        .map_err(|_| KeyError::Ed25519Point)
}

fn parse_p256(text: &str) -> Result<PublicKey, KeyError> {
    let hex_text = text.strip_prefix("0x").unwrap_or(text);
    if let Ok(bytes) = hex::decode(hex_text) {
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(&bytes) {
            return Ok(PublicKey::P256(key));
        }
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_sec1_bytes(&bytes) {
            return Ok(PublicKey::P256(key));
        }
    }
    STANDARD
        .decode(text)
        .ok()
        .and_then(|bytes| p256::ecdsa::VerifyingKey::from_public_key_der(&bytes).ok())
        .map(PublicKey::P256)
        .ok_or(KeyError::P256Format)
}

/// Why the authorizer configuration is inconsistent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizerConfigError {
    /// A required authorizer has no public key.
    #[error("required authorizer {id:?} has no public key configured")]
    RequiredWithoutKey {
        /// The authorizer ID.
        id: String,
    },
}

/// Why a request's authorizer signatures were rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// A required authorizer did not sign.
    #[error("missing required authorizer signature: {id}")]
    MissingAuthorizerSignature {
        /// The authorizer ID.
        id: String,
    },
    /// A signature names an authorizer that is not configured.
    #[error("authorizer {id:?} is not configured")]
    UnknownAuthorizer {
        /// The authorizer ID as sent.
        id: String,
    },
    /// A configured authorizer's signature does not verify.
    #[error("authorizer {id:?} signature verification failed")]
    InvalidAuthorizerSignature {
        /// The authorizer ID.
        id: String,
    },
}

impl AuthorizationError {
    /// Stable code sent to the client.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::MissingAuthorizerSignature { .. } => ErrorCode::MissingAuthorizerSignature,
            Self::UnknownAuthorizer { .. } | Self::InvalidAuthorizerSignature { .. } => {
                ErrorCode::InvalidAuthorizerSignature
            }
        }
    }
}

/// The configured authorizers: public keys by ID and the IDs whose signature is required.
#[derive(Clone, Debug)]
pub struct Authorizers {
    keys: BTreeMap<String, PublicKey>,
    required: Vec<String>,
}

impl Authorizers {
    /// Checks that every required authorizer has a key.
    pub fn new(
        keys: BTreeMap<String, PublicKey>,
        required: Vec<String>,
    ) -> Result<Self, AuthorizerConfigError> {
        if let Some(id) = required.iter().find(|id| !keys.contains_key(*id)) {
            return Err(AuthorizerConfigError::RequiredWithoutKey { id: id.clone() });
        }
        Ok(Self { keys, required })
    }

    /// Verifies a request's authorizer signatures as the reference does: all required
    /// authorizers present, then every provided signature known and valid (in order).
    pub fn verify(&self, msg: &impl InitiatorMessage) -> Result<(), AuthorizationError> {
        let sigs = msg.authorizer_signatures();
        if let Some(id) = self
            .required
            .iter()
            .find(|id| !sigs.iter().any(|s| &s.authorizer_id == *id))
        {
            return Err(AuthorizationError::MissingAuthorizerSignature { id: id.clone() });
        }
        if sigs.is_empty() {
            return Ok(());
        }
        let payload = msg.authorizer_payload();
        for sig in sigs {
            let id = &sig.authorizer_id;
            let key = self
                .keys
                .get(id)
                .ok_or_else(|| AuthorizationError::UnknownAuthorizer { id: id.clone() })?;
            key.verify(&payload, &sig.signature)
                .map_err(|_| AuthorizationError::InvalidAuthorizerSignature { id: id.clone() })?;
        }
        Ok(())
    }
}
