//! The client-facing contract of an mpcium cluster: request and result messages, error codes,
//! NATS stream/subject/consumer/header names, the canonical bytes an event initiator signs, and
//! initiator/authorizer signature verification.
//!
//! Everything here is byte-compatible with the Go reference (fystack/mpcium v0.3.5) so that its
//! clients work unchanged; extensions are additive and documented in `docs/protocol.md`.
//! This crate does no I/O.
//!
//! * [`requests`]: [`GenerateKeyMessage`], [`SignTxMessage`], [`ResharingMessage`] — decoded
//!   with limits and validation (`from_json`), encoded as Go would (`to_json`), and the bytes the
//!   initiator signs ([`InitiatorMessage::signed_bytes`]).
//! * [`results`]: [`KeygenResultEvent`], [`SigningResultEvent`], [`ResharingResultEvent`].
//! * [`message_hash`]: [`MessageHash`], how nodes hash a message in the extended signing form.
//! * [`error_code`]: [`ErrorCode`], every `ERROR_*` string, tolerant of unknown codes.
//! * [`subjects`]: streams, subjects, consumers, headers, `Nats-Msg-Id` keys.
//! * [`auth`]: [`PublicKey`] (Ed25519 / P-256) and [`Authorizers`].
//! * [`nats_url`]: credentials out of a NATS URL, and redacted copies for logs and errors.
//! * [`canonical`]: the Go `encoding/json`-compatible writer behind all of the above.
//!
//! A typical node-side check of an incoming signing request:
//!
//! ```
//! use mpcium_protocol::{InitiatorAlgorithm, InitiatorMessage, PublicKey, SignTxMessage};
//! # use ed25519_dalek::{Signer, SigningKey};
//! # let initiator = SigningKey::from_bytes(&[7; 32]);
//! # let config_pubkey = hex::encode(initiator.verifying_key().as_bytes());
//! # let mut msg = SignTxMessage::from_json(
//! #     br#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"sol","tx_id":"t1","tx":"aGk=","signature":null,"derivation_path":null}"#,
//! # ).unwrap();
//! # msg.signature = initiator.sign(&msg.signed_bytes()).to_bytes().to_vec();
//! # let wire = msg.to_json();
//! let key = PublicKey::parse(InitiatorAlgorithm::Ed25519, &config_pubkey)?;
//! let request = SignTxMessage::from_json(&wire)?;
//! key.verify_request(&request)?;
//! assert_eq!(request.initiator_id(), "t1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod auth;
pub mod canonical;
pub mod decode;
pub mod error_code;
pub mod hd;
pub mod ids;
pub mod key_type;
pub mod message_hash;
pub mod nats_url;
pub mod requests;
pub mod results;
pub mod subjects;
pub mod threshold;

pub use auth::{
    AuthorizationError, AuthorizerConfigError, Authorizers, InitiatorAlgorithm, KeyError,
    PublicKey, SignatureError,
};
pub use decode::{DecodeError, FieldProblem};
pub use error_code::ErrorCode;
pub use ids::{ClientId, IdError};
pub use key_type::{KeyType, UnknownKeyType};
pub use message_hash::{MessageHash, UnknownMessageHash};
pub use requests::{
    AuthorizerSignature, GenerateKeyMessage, InitiatorMessage, ResharingMessage, SignTxForm,
    SignTxMessage, SignedAs,
};
pub use results::{KeygenResultEvent, ResharingResultEvent, ResultType, SigningResultEvent};
pub use subjects::ResultKind;
pub use threshold::{Threshold, ThresholdError};
