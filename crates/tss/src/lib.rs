//! The threshold-signature engine of mpcium: distributed key generation, signing, presigning,
//! resharing and HD derivation for ECDSA over secp256k1 (CGGMP24, via LFDT-Lockness `cggmp24`) and
//! EdDSA over Ed25519 (FROST, RFC 9591, via ZcashFoundation `frost-ed25519`).
//!
//! The engine is pure and transport-agnostic: every interactive protocol is an `async fn` over a
//! [`round_based::MpcParty`], i.e. a stream of incoming and a sink of outgoing messages. The node
//! supplies a delivery that authenticates, encrypts and routes messages; tests run all parties
//! in-process with `round_based::sim`. Nothing here does network or disk I/O or reads the clock.
//!
//! # What the transport must guarantee
//! * every message is authenticated as coming from the claimed sender and bound to its session
//!   ([`session::SessionId`]);
//! * point-to-point messages are confidential;
//! * protocols whose docs say so need a reliable broadcast (cggmp24 checks it with an extra echo
//!   round; FROST DKG commitments are echoed in the same way).
//!
//! # Threshold convention
//! [`Threshold`] is the number of signers required (the seed guide's `mpc_threshold`), never the
//! polynomial degree. See [`mpcium_protocol::threshold`].

pub mod error;
pub mod session;

pub mod delivery;
pub mod ecdsa;
pub mod eddsa;
pub mod import;
pub mod material;
pub mod reshare;

/// HD derivation lives in `mpcium-protocol` so clients can derive child keys without the engine.
pub use mpcium_protocol::hd;

pub use error::{ErrorKind, TssError};
pub use mpcium_protocol::{Threshold, ThresholdError};
pub use session::{Participants, ProtocolKind, SessionId};
