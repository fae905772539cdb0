//! The [`Signer`] trait the client signs requests with (event initiator and authorizers), and
//! [`Authorizer`], a signer under a configured authorizer ID.
//!
//! [`crate::LocalSigner`] implements it for key files; a KMS or HSM plugs in by implementing it.

use std::fmt;
use std::sync::Arc;

use mpcium_protocol::InitiatorAlgorithm;

/// Why a signer could not produce a signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The backing service (KMS, HSM, agent) failed or refused; the text names it and why.
    #[error("signing backend failed: {0}")]
    Backend(String),
}

/// Something that signs request bytes as an event initiator or authorizer.
///
/// Signatures must be what the nodes verify (see `mpcium_protocol::PublicKey::verify`):
/// Ed25519 — 64 raw bytes over the message; P-256 — ASN.1 DER ECDSA over SHA-256 of the message.
///
/// `sign` is synchronous and is called on the async runtime; an implementation that does
/// network I/O (a KMS) may block, so keep it short or wrap the client call in
/// `tokio::task::spawn_blocking`.
pub trait Signer: Send + Sync {
    /// The signature algorithm of the key.
    fn algorithm(&self) -> InitiatorAlgorithm;
    /// The public key as configuration text (Ed25519: hex of 32 bytes; P-256: hex of SPKI DER),
    /// the value nodes have as `event_initiator_pubkey` or an authorizer's `public_key`.
    fn public_key_hex(&self) -> String;
    /// Signs `msg`.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// An authorizer: the ID nodes know it by and the signer holding its key.
#[derive(Clone)]
pub struct Authorizer {
    /// The authorizer ID from the nodes' `authorization` configuration.
    pub id: String,
    /// Its key.
    pub signer: Arc<dyn Signer>,
}

impl Authorizer {
    /// An authorizer `id` signing with `signer`.
    pub fn new(id: impl Into<String>, signer: Arc<dyn Signer>) -> Self {
        Self {
            id: id.into(),
            signer,
        }
    }
}

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("id", &self.id)
            .field("algorithm", &self.signer.algorithm())
            .field("public_key", &self.signer.public_key_hex())
            .finish()
    }
}
