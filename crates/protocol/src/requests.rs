//! Client requests (`GenerateKeyMessage`, `SignTxMessage`, `ResharingMessage`), their JSON form
//! and the canonical bytes the event initiator signs (reference `Raw()`).
//!
//! Decoding (`from_json`) validates once at the edge: sizes, types, base64, key type, and IDs
//! usable in NATS subjects (see [`crate::ids`]). Encoding (`to_json`) produces Go `json.Marshal`
//! bytes, so a Rust client's messages are indistinguishable from the Go client's.
//!
//! Go's nil-versus-empty distinction survives a round trip where it is signed or visible:
//! `node_ids` and `derivation_path` are `Option<Vec<_>>` (`None` ⇒ `null`, `Some(vec![])` ⇒ `[]`).
//! Signatures are plain `Vec<u8>` (empty ⇒ `null`, as the reference's unsigned messages show them).
//!
//! What is signed (reference behaviour, kept for compatibility):
//! * keygen: the UTF-8 bytes of `wallet_id`;
//! * signing ([`SignTxForm`]): `{key_type, wallet_id, network_internal_code, tx_id, tx}` in
//!   mpcium v0.3.5 (`derivation_path` **not** covered); upstream master (fystack/mpcium#163)
//!   appends `derivation_path` with `omitempty`, so a request without a path signs the same five
//!   fields and one with a path signs six;
//! * resharing: `{session_id, node_ids, new_threshold, key_type, wallet_id}`.
//!
//! `protocol` (upstream, optional, keygen and signing): absent or a value naming the engine these
//! nodes run ([`SECP256K1_PROTOCOLS`], [`ED25519_PROTOCOLS`]) decodes; any other value is refused
//! at decode time, naming it, and never falls back to another engine. It is not part of the
//! signed bytes (see `docs/protocol.md`, §2.1).
//!
//! The extended signing form (ours, additive): a request with `"request_version": 2` signs
//! `{key_type, wallet_id, network_internal_code, tx_id, tx, derivation_path, hash,
//! request_version}`, so the derivation path and the hash mode are covered too. With `hash`
//! (extended form only, secp256k1 only) `tx` is the message and nodes hash it themselves;
//! without it a secp256k1 `tx` must be the 32-byte digest. See `docs/protocol.md`.

use std::borrow::Borrow;

use crate::canonical::ObjectWriter;
use crate::decode::FieldProblem;
use crate::decode::{
    parse_object, DecodeError, Fields, MAX_AUTHORIZER_SIGNATURES, MAX_DERIVATION_DEPTH,
    MAX_NODE_IDS, MAX_SIGNATURE_BYTES, MAX_TEXT_BYTES, MAX_TX_BYTES,
};
use crate::key_type::KeyType;
use crate::message_hash::MessageHash;

/// First hardened BIP-32 index; derivation paths are non-hardened only.
pub const HARDENED_INDEX: u32 = 1 << 31;

/// The only `request_version` defined: the extended signing form.
pub const EXTENDED_REQUEST_VERSION: u32 = 2;

/// `protocol` values naming the secp256k1 engine these nodes run (CGGMP).
pub const SECP256K1_PROTOCOLS: &[&str] = &["cggmp", "cggmp21", "cggmp24"];

/// `protocol` values naming the Ed25519 engine these nodes run (FROST).
pub const ED25519_PROTOCOLS: &[&str] = &["frost"];

/// Longest `protocol` value read; longer ones are refused as too long.
const MAX_PROTOCOL_BYTES: usize = 64;

/// The optional `protocol` field (upstream, `omitempty`): absent or empty ⇒ `None`; a value is
/// kept as sent when it is in `accepted`, anything else is refused naming it.
fn protocol_field(
    fields: &Fields<'_>,
    accepted: &[&str],
    supported: &'static str,
) -> Result<Option<String>, DecodeError> {
    let value = fields.text("protocol", MAX_PROTOCOL_BYTES)?;
    if value.is_empty() {
        return Ok(None);
    }
    if accepted.contains(&value.as_str()) {
        return Ok(Some(value));
    }
    Err(DecodeError::Field {
        field: "protocol".to_owned(),
        problem: FieldProblem::UnsupportedProtocol {
            found: value,
            supported,
        },
    })
}

/// Length of the digest a secp256k1 request carries in `tx` when it names no `hash`.
pub const DIGEST_BYTES: usize = 32;

/// A co-signature by an authorizer over the initiator's request (see [`InitiatorMessage::authorizer_payload`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizerSignature {
    /// Which configured authorizer signed.
    pub authorizer_id: String,
    /// Ed25519 raw or P-256 DER signature over the authorizer payload.
    pub signature: Vec<u8>,
}

/// A request signed by the event initiator.
pub trait InitiatorMessage {
    /// The canonical bytes the initiator signs (reference `Raw()`).
    fn signed_bytes(&self) -> Vec<u8>;
    /// The ID the reference logs the request under (`InitiatorID()`): wallet, tx or wallet ID.
    fn initiator_id(&self) -> &str;
    /// The initiator's signature over [`InitiatorMessage::signed_bytes`].
    fn initiator_signature(&self) -> &[u8];
    /// Authorizer co-signatures, possibly none.
    fn authorizer_signatures(&self) -> &[AuthorizerSignature];

    /// The bytes every authorizer signs: Go `json.Marshal` of
    /// `{initiator_id, initiator_raw: base64(signed_bytes), initiator_sig: base64(signature)}`.
    fn authorizer_payload(&self) -> Vec<u8> {
        let raw = self.signed_bytes();
        let sig = self.initiator_signature();
        let mut w = ObjectWriter::new();
        w.string("initiator_id", self.initiator_id())
            .bytes("initiator_raw", Some(&raw))
            .bytes("initiator_sig", nil_if_empty(sig));
        w.finish()
    }
}

/// Which bytes a signing request's initiator signature covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignTxForm {
    /// mpcium v0.3.5: `{key_type, wallet_id, network_internal_code, tx_id, tx}`; the
    /// derivation path is not covered.
    Reference,
    /// Upstream master (fystack/mpcium#163): the reference fields followed by
    /// `derivation_path` when the path is non-empty (Go `omitempty`), so without a path the
    /// bytes equal [`SignTxForm::Reference`].
    PathBound,
    /// Ours (`request_version: 2`): the reference fields, `derivation_path`, `hash`,
    /// `request_version`.
    Extended,
}

/// A signing request viewed as signed in one [`SignTxForm`]: its [`InitiatorMessage`] bytes
/// (and so its authorizer payload) are those of `form`. `R` is the request or a reference to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAs<R> {
    /// The request.
    pub request: R,
    /// The form its signatures cover.
    pub form: SignTxForm,
}

impl<R: Borrow<SignTxMessage>> InitiatorMessage for SignedAs<R> {
    fn signed_bytes(&self) -> Vec<u8> {
        self.request.borrow().signed_bytes_in(self.form)
    }

    fn initiator_id(&self) -> &str {
        self.request.borrow().initiator_id()
    }

    fn initiator_signature(&self) -> &[u8] {
        self.request.borrow().initiator_signature()
    }

    fn authorizer_signatures(&self) -> &[AuthorizerSignature] {
        self.request.borrow().authorizer_signatures()
    }
}

/// Request to create a wallet (one secp256k1 and one Ed25519 key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateKeyMessage {
    /// Client-chosen wallet ID.
    pub wallet_id: String,
    /// Initiator signature over the wallet ID.
    pub signature: Vec<u8>,
    /// Authorizer co-signatures (omitted from JSON when empty).
    pub authorizer_signatures: Vec<AuthorizerSignature>,
    /// Upstream's optional engine choice (`omitempty`): one of [`SECP256K1_PROTOCOLS`] or
    /// [`ED25519_PROTOCOLS`] (a wallet gets both keys); anything else does not decode.
    pub protocol: Option<String>,
}

/// Request to sign a transaction with one of a wallet's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignTxMessage {
    /// Which of the wallet's keys signs.
    pub key_type: KeyType,
    /// Wallet whose key signs.
    pub wallet_id: String,
    /// Opaque network tag echoed back in the result.
    pub network_internal_code: String,
    /// Client-chosen unique transaction ID.
    pub tx_id: String,
    /// What to sign: for secp256k1 the 32-byte digest, or the message when [`Self::hash`] is
    /// set; for Ed25519 the full message.
    pub tx: Vec<u8>,
    /// Initiator signature over the bytes of one of [`SignTxMessage::accepted_forms`].
    pub signature: Vec<u8>,
    /// Non-hardened child-key path; `None` is JSON `null` (no omitempty in the reference).
    pub derivation_path: Option<Vec<u32>>,
    /// Authorizer co-signatures (omitted from JSON when empty).
    pub authorizer_signatures: Vec<AuthorizerSignature>,
    /// `Some(2)` selects the extended form; `None` (omitted from JSON) the upstream or reference form.
    pub request_version: Option<u32>,
    /// How nodes hash `tx` before ECDSA signing (extended form only; omitted when `None`).
    pub hash: Option<MessageHash>,
    /// Upstream's optional engine choice (`omitempty`): one of [`SECP256K1_PROTOCOLS`] or
    /// [`ED25519_PROTOCOLS`] matching `key_type`; anything else does not decode.
    pub protocol: Option<String>,
}

/// Request to move a wallet key to a new committee and threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResharingMessage {
    /// Client-chosen resharing session ID (names the result subject).
    pub session_id: String,
    /// Node IDs of the new committee; `None` is JSON `null`, which is signed as such.
    pub node_ids: Option<Vec<String>>,
    /// New threshold exactly as sent. mpcium-rs nodes read it as the number of signers
    /// required (see [`crate::Threshold`]) and refuse a value that only makes sense as a
    /// polynomial degree with `ERROR_INVALID_THRESHOLD`.
    pub new_threshold: u16,
    /// Which of the wallet's keys is reshared.
    pub key_type: KeyType,
    /// Wallet whose key is reshared.
    pub wallet_id: String,
    /// Initiator signature (omitted from JSON when empty).
    pub signature: Vec<u8>,
    /// Authorizer co-signatures (omitted from JSON when empty).
    pub authorizer_signatures: Vec<AuthorizerSignature>,
}

fn nil_if_empty(bytes: &[u8]) -> Option<&[u8]> {
    (!bytes.is_empty()).then_some(bytes)
}

fn signature_field(fields: &Fields<'_>) -> Result<Vec<u8>, DecodeError> {
    Ok(fields
        .bytes("signature", MAX_SIGNATURE_BYTES)?
        .unwrap_or_default())
}

fn decode_authorizers(fields: &Fields<'_>) -> Result<Vec<AuthorizerSignature>, DecodeError> {
    fields
        .objects("authorizer_signatures", MAX_AUTHORIZER_SIGNATURES)?
        .iter()
        .map(|entry| {
            Ok(AuthorizerSignature {
                authorizer_id: entry.required_text("authorizer_id", MAX_TEXT_BYTES)?,
                signature: signature_field(entry)?,
            })
        })
        .collect()
}

/// Writes `authorizer_signatures` unless empty (`omitempty`).
fn write_authorizers(w: &mut ObjectWriter, sigs: &[AuthorizerSignature]) {
    if sigs.is_empty() {
        return;
    }
    let mut array = vec![b'['];
    for (i, sig) in sigs.iter().enumerate() {
        if i > 0 {
            array.push(b',');
        }
        let mut entry = ObjectWriter::new();
        entry
            .string("authorizer_id", &sig.authorizer_id)
            .bytes("signature", nil_if_empty(&sig.signature));
        array.extend_from_slice(&entry.finish());
    }
    array.push(b']');
    w.raw("authorizer_signatures", &array);
}

impl GenerateKeyMessage {
    /// Decodes and validates a request received from the network.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        let map = parse_object(bytes)?;
        let f = Fields::new(&map, String::new());
        let accepted: Vec<&str> = SECP256K1_PROTOCOLS
            .iter()
            .chain(ED25519_PROTOCOLS)
            .copied()
            .collect();
        Ok(Self {
            wallet_id: f.id("wallet_id")?,
            signature: signature_field(&f)?,
            authorizer_signatures: decode_authorizers(&f)?,
            protocol: protocol_field(
                &f,
                &accepted,
                "\"cggmp\", \"cggmp21\", \"cggmp24\", \"frost\"",
            )?,
        })
    }

    /// Encodes the request as Go `json.Marshal` does (`protocol` only when set).
    pub fn to_json(&self) -> Vec<u8> {
        let mut w = ObjectWriter::new();
        w.string("wallet_id", &self.wallet_id);
        if let Some(protocol) = &self.protocol {
            w.string("protocol", protocol);
        }
        w.bytes("signature", nil_if_empty(&self.signature));
        write_authorizers(&mut w, &self.authorizer_signatures);
        w.finish()
    }
}

impl InitiatorMessage for GenerateKeyMessage {
    fn signed_bytes(&self) -> Vec<u8> {
        self.wallet_id.as_bytes().to_vec()
    }

    fn initiator_id(&self) -> &str {
        &self.wallet_id
    }

    fn initiator_signature(&self) -> &[u8] {
        &self.signature
    }

    fn authorizer_signatures(&self) -> &[AuthorizerSignature] {
        &self.authorizer_signatures
    }
}

impl SignTxMessage {
    /// Decodes and validates a request received from the network.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        let map = parse_object(bytes)?;
        let f = Fields::new(&map, String::new());
        let key_type = f.key_type("key_type")?;
        let protocol = match key_type {
            KeyType::Secp256k1 => protocol_field(
                &f,
                SECP256K1_PROTOCOLS,
                "\"cggmp\", \"cggmp21\", \"cggmp24\" for secp256k1",
            )?,
            KeyType::Ed25519 => protocol_field(&f, ED25519_PROTOCOLS, "\"frost\" for ed25519")?,
        };
        Self {
            key_type,
            protocol,
            wallet_id: f.id("wallet_id")?,
            network_internal_code: f.text("network_internal_code", MAX_TEXT_BYTES)?,
            tx_id: f.id("tx_id")?,
            tx: f.required_bytes("tx", MAX_TX_BYTES)?,
            signature: signature_field(&f)?,
            derivation_path: f.u32s("derivation_path", MAX_DERIVATION_DEPTH, HARDENED_INDEX)?,
            authorizer_signatures: decode_authorizers(&f)?,
            request_version: f.request_version("request_version", EXTENDED_REQUEST_VERSION)?,
            hash: f.message_hash("hash")?,
        }
        .checked()
    }

    /// Cross-field rules of the extended form, applied after every field decoded on its own.
    fn checked(self) -> Result<Self, DecodeError> {
        let problem = |field: &str, problem| {
            Err(DecodeError::Field {
                field: field.to_owned(),
                problem,
            })
        };
        match (self.hash, self.key_type) {
            (Some(_), _) if self.request_version.is_none() => {
                problem("hash", FieldProblem::HashNeedsRequestVersion)
            }
            (Some(_), KeyType::Ed25519) => problem("hash", FieldProblem::HashWithEd25519),
            (None, KeyType::Secp256k1) if self.tx.len() != DIGEST_BYTES => {
                problem("tx", FieldProblem::NotADigest { len: self.tx.len() })
            }
            _ => Ok(self),
        }
    }

    /// The 32-byte digest a secp256k1 signature covers: `hash(tx)` when a hash mode is named,
    /// else `tx` itself. `None` for Ed25519, or for a hand-built request whose `tx` is not a
    /// digest (decoded requests never are).
    pub fn ecdsa_digest(&self) -> Option<[u8; 32]> {
        if self.key_type != KeyType::Secp256k1 {
            return None;
        }
        match self.hash {
            Some(hash) => Some(hash.digest(&self.tx)),
            None => self.tx.as_slice().try_into().ok(),
        }
    }

    /// Encodes the request as Go `json.Marshal` would, with `protocol` (after `key_type`),
    /// `hash` and `request_version` written only when set (`omitempty`), so reference-form
    /// requests are unchanged.
    pub fn to_json(&self) -> Vec<u8> {
        let mut w = ObjectWriter::new();
        w.string("key_type", self.key_type.as_str());
        if let Some(protocol) = &self.protocol {
            w.string("protocol", protocol);
        }
        w.string("wallet_id", &self.wallet_id)
            .string("network_internal_code", &self.network_internal_code)
            .string("tx_id", &self.tx_id)
            .bytes("tx", Some(&self.tx))
            .bytes("signature", nil_if_empty(&self.signature))
            .integers("derivation_path", self.derivation_path.as_deref());
        write_authorizers(&mut w, &self.authorizer_signatures);
        if let Some(hash) = self.hash {
            w.string("hash", hash.as_str());
        }
        if let Some(version) = self.request_version {
            w.integer("request_version", i64::from(version));
        }
        w.finish()
    }
}

impl SignTxMessage {
    /// Whether the request names a non-empty derivation path (what Go's `omitempty` keeps).
    pub fn has_path(&self) -> bool {
        self.derivation_path
            .as_deref()
            .is_some_and(|p| !p.is_empty())
    }

    /// The form a client signs this request in by default: [`SignTxForm::Extended`] with
    /// `request_version`, else [`SignTxForm::PathBound`] (upstream master).
    pub fn default_form(&self) -> SignTxForm {
        match self.request_version {
            Some(_) => SignTxForm::Extended,
            None => SignTxForm::PathBound,
        }
    }

    /// The forms a node accepts this request's signature in, in the order it tries them:
    /// `request_version: 2` only in the extended form; a request with a path in the
    /// upstream-master form, then the v0.3.5 form (subject to the node's policy); one without a
    /// path in the form both share.
    pub fn accepted_forms(&self) -> &'static [SignTxForm] {
        match (self.request_version, self.has_path()) {
            (Some(_), _) => &[SignTxForm::Extended],
            (None, true) => &[SignTxForm::PathBound, SignTxForm::Reference],
            (None, false) => &[SignTxForm::PathBound],
        }
    }

    /// The bytes the initiator signs in `form` (see [`SignTxForm`]). `Extended` writes
    /// `request_version` as sent, or 2 for a request built without it.
    pub fn signed_bytes_in(&self, form: SignTxForm) -> Vec<u8> {
        let mut w = ObjectWriter::new();
        w.string("key_type", self.key_type.as_str())
            .string("wallet_id", &self.wallet_id)
            .string("network_internal_code", &self.network_internal_code)
            .string("tx_id", &self.tx_id)
            .bytes("tx", Some(&self.tx));
        match form {
            SignTxForm::Reference => {}
            SignTxForm::PathBound => {
                if self.has_path() {
                    w.integers("derivation_path", self.derivation_path.as_deref());
                }
            }
            SignTxForm::Extended => {
                w.integers("derivation_path", self.derivation_path.as_deref());
                match self.hash {
                    Some(hash) => w.string("hash", hash.as_str()),
                    None => w.raw("hash", b"null"),
                };
                let version = self.request_version.unwrap_or(EXTENDED_REQUEST_VERSION);
                w.integer("request_version", i64::from(version));
            }
        }
        w.finish()
    }

    /// This request viewed as signed in `form`.
    pub fn signed_as(&self, form: SignTxForm) -> SignedAs<&Self> {
        SignedAs {
            request: self,
            form,
        }
    }
}

impl InitiatorMessage for SignTxMessage {
    /// The bytes of [`SignTxMessage::default_form`].
    fn signed_bytes(&self) -> Vec<u8> {
        self.signed_bytes_in(self.default_form())
    }

    fn initiator_id(&self) -> &str {
        &self.tx_id
    }

    fn initiator_signature(&self) -> &[u8] {
        &self.signature
    }

    fn authorizer_signatures(&self) -> &[AuthorizerSignature] {
        &self.authorizer_signatures
    }
}

impl ResharingMessage {
    /// Decodes and validates a request received from the network.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        let map = parse_object(bytes)?;
        let f = Fields::new(&map, String::new());
        Ok(Self {
            session_id: f.id("session_id")?,
            node_ids: f.ids("node_ids", MAX_NODE_IDS)?,
            new_threshold: f.u16("new_threshold")?,
            key_type: f.key_type("key_type")?,
            wallet_id: f.id("wallet_id")?,
            signature: signature_field(&f)?,
            authorizer_signatures: decode_authorizers(&f)?,
        })
    }

    fn unsigned_fields(&self) -> ObjectWriter {
        let mut w = ObjectWriter::new();
        w.string("session_id", &self.session_id)
            .strings("node_ids", self.node_ids.as_deref())
            .integer("new_threshold", i64::from(self.new_threshold))
            .string("key_type", self.key_type.as_str())
            .string("wallet_id", &self.wallet_id);
        w
    }

    /// Encodes the request as Go `json.Marshal` does.
    pub fn to_json(&self) -> Vec<u8> {
        let mut w = self.unsigned_fields();
        if !self.signature.is_empty() {
            w.bytes("signature", Some(&self.signature));
        }
        write_authorizers(&mut w, &self.authorizer_signatures);
        w.finish()
    }
}

impl InitiatorMessage for ResharingMessage {
    fn signed_bytes(&self) -> Vec<u8> {
        self.unsigned_fields().finish()
    }

    fn initiator_id(&self) -> &str {
        &self.wallet_id
    }

    fn initiator_signature(&self) -> &[u8] {
        &self.signature
    }

    fn authorizer_signatures(&self) -> &[AuthorizerSignature] {
        &self.authorizer_signatures
    }
}
