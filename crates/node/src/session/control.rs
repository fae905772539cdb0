//! Session control messages between a coordinator and the participants of a session.
//!
//! A coordinator sends [`Start`] to every participant (itself included) on the
//! [`START`](crate::transport::channel::START) channel; each participant answers with an
//! [`Outcome`] in the coordinator's outcome session ([`outcome_session`]). Both travel in signed,
//! encrypted envelopes like protocol messages, so neither can be forged or read by outsiders.

use base64::Engine as _;
use mpcium_state::registry::KeyInfo;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::error::Failure;

/// Which operation a session performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// CGGMP24 aux info for the whole node set (once per node set).
    AuxInfo,
    /// Key generation: one secp256k1 and one Ed25519 key for a wallet.
    Keygen,
    /// One signature.
    Sign,
    /// Resharing one of a wallet's keys; new holders keep the new share pending.
    Reshare,
    /// Switches every participant of a finished reshare (named by [`Start::commit_of`]) to the
    /// pending share and keyinfo.
    ReshareCommit,
    /// One ECDSA presignature for a pool (background refill; [`Start::request`] holds the
    /// order, [`Start::presignature`] its id).
    Presign,
    /// Confirms (and, given an aux run, converts and stores) wallets imported from a Go mpcium
    /// cluster (`ops::import`).
    Import,
}

/// A coordinator's order to run a session. `Debug` leaves out the client's request (it holds
/// the message to sign).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Start {
    /// What to run.
    pub operation: Operation,
    /// Chosen by the coordinator per attempt (32 hex chars); makes every session id unique.
    pub nonce: String,
    /// When the coordinator issued it (its wall clock, Unix milliseconds); participants refuse
    /// stale and replayed orders by it ([`super::start_window`]). 0 from nodes that predate it.
    #[serde(default)]
    pub issued_at_ms: u64,
    /// The participants in party order (node ids).
    pub participants: Vec<String>,
    /// The client's request exactly as received (empty for aux info), so that every participant
    /// verifies the initiator's signature itself.
    #[serde(with = "base64_bytes")]
    pub request: Vec<u8>,
    /// For keygen and reshare: the aux-info run (nonce) whose parameters complete the ECDSA key
    /// share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aux_run: Option<String>,
    /// For reshare: the dealing quorum (node ids, old holders of the key), in dealing order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dealers: Vec<String>,
    /// For a reshare commit: the nonce of the reshare session whose pending share to switch to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_of: Option<String>,
    /// For reshare: the wallet's current key as the coordinator holds it (public data), so a
    /// new member without a share of it can take part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_key: Option<OldKey>,
    /// For signing: the presignature (its id in the committee's pool) every participant must
    /// consume, instead of running the full protocol. For presigning: the id to store it under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presignature: Option<u64>,
}

impl std::fmt::Debug for Start {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Start")
            .field("operation", &self.operation)
            .field("nonce", &self.nonce)
            .field("issued_at_ms", &self.issued_at_ms)
            .field("participants", &self.participants)
            .field("request", &format_args!("<{} bytes>", self.request.len()))
            .field("aux_run", &self.aux_run)
            .field("dealers", &self.dealers)
            .field("commit_of", &self.commit_of)
            .field("presignature", &self.presignature)
            .finish_non_exhaustive()
    }
}

/// The public description of the key a reshare starts from, for new members that hold no share
/// of it. Nothing here is trusted blindly: every dealer commits to the digest of the same old
/// key info and the protocol checks each dealing against it, so a coordinator that lies here
/// only makes the reshare fail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldKey {
    /// The wallet's current keyinfo (holders in keygen order, threshold, version).
    pub keyinfo: KeyInfo,
    /// The old key's public key info: the JSON of an `EcdsaKeyInfo` (secp256k1) or a sealed
    /// FROST public key package (Ed25519).
    #[serde(with = "base64_bytes")]
    pub public: Vec<u8>,
}

impl Start {
    /// An order with a fresh nonce.
    pub fn new(operation: Operation, participants: Vec<String>, request: Vec<u8>) -> Self {
        Self {
            operation,
            nonce: new_nonce(),
            issued_at_ms: super::start_window::now_ms(),
            participants,
            request,
            aux_run: None,
            dealers: Vec::new(),
            commit_of: None,
            old_key: None,
            presignature: None,
        }
    }
}

/// A participant's report of how its part of a session ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The nonce of the [`Start`] this answers.
    pub nonce: String,
    /// What the participant produced, or why it failed.
    pub result: Result<Output, Failure>,
}

/// The public result of a participant's part. Identical on every honest participant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// Aux info is stored.
    AuxInfo,
    /// The imported wallets agree with this node's (and, at commit, are stored).
    Imported,
    /// Both keys of a wallet: compressed secp256k1 (33 bytes) and Ed25519 (32 bytes), hex.
    Keygen {
        /// Compressed secp256k1 public key, hex.
        ecdsa: String,
        /// Compressed Ed25519 public key, hex.
        eddsa: String,
    },
    /// An ECDSA signature.
    Ecdsa {
        /// `r`, hex.
        r: String,
        /// Low-s normalised `s`, hex.
        s: String,
        /// Recovery id consistent with `s`.
        recovery_id: u8,
    },
    /// An Ed25519 signature `R ‖ S`, hex.
    Eddsa {
        /// The 64-byte signature, hex.
        signature: String,
    },
    /// A reshare ran: the new key's public info as this participant computed it.
    Reshare {
        /// The (unchanged) public key: compressed secp256k1 (33 bytes) or Ed25519 (32), hex.
        public_key: String,
        /// Digest of the new key info (public shares, threshold), hex; equal on every
        /// participant of a successful reshare.
        new_key_digest: String,
    },
    /// The pending share and keyinfo of a reshare are now current on this participant.
    ReshareCommitted,
    /// This participant stored its share of a new presignature.
    Presigned,
}

/// The session id under which participants send their [`Outcome`] for the session started with
/// `nonce` (the coordinator registers it before sending [`Start`]).
pub fn outcome_session(nonce: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"mpcium-rs/outcome/v1");
    h.update(nonce.as_bytes());
    h.finalize().into()
}

/// The session id of a [`Start`] envelope (so replayed starts are recognised).
pub fn start_session(nonce: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"mpcium-rs/start/v1");
    h.update(nonce.as_bytes());
    h.finalize().into()
}

/// A fresh nonce: 16 random bytes, hex.
pub fn new_nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

mod base64_bytes {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_round_trips_through_json() {
        let start = Start::new(
            Operation::Sign,
            vec!["a".into(), "b".into()],
            b"{\"tx\":\"AA==\"}".to_vec(),
        );
        let json = serde_json::to_vec(&start).unwrap();
        assert_eq!(serde_json::from_slice::<Start>(&json).unwrap(), start);
    }

    #[test]
    fn a_start_without_an_old_key_omits_it_and_one_with_it_round_trips() {
        let mut start = Start::new(Operation::Reshare, vec!["a".into()], b"{}".to_vec());
        let json = serde_json::to_string(&start).unwrap();
        assert!(!json.contains("old_key"), "{json}");
        start.old_key = Some(OldKey {
            keyinfo: KeyInfo {
                participant_peer_ids: vec!["a".into(), "b".into()],
                threshold: 2,
                version: 3,
            },
            public: vec![1, 2, 3],
        });
        let json = serde_json::to_vec(&start).unwrap();
        assert_eq!(serde_json::from_slice::<Start>(&json).unwrap(), start);
    }

    #[test]
    fn debug_output_leaves_out_the_clients_message() {
        let start = Start::new(
            Operation::Sign,
            vec!["a".into()],
            b"secret transfer to mallory".to_vec(),
        );
        let text = format!("{start:?}");
        assert!(
            !text.contains("mallory") && !text.contains("115, 101"),
            "{text}"
        );
        assert!(text.contains("<26 bytes>"), "{text}");
    }

    #[test]
    fn outcome_and_start_sessions_differ_per_nonce_and_kind() {
        assert_ne!(outcome_session("n1"), outcome_session("n2"));
        assert_ne!(outcome_session("n1"), start_session("n1"));
    }
}
