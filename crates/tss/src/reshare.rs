//! Resharing: moves a Shamir-shared key from a dealing quorum of its old committee to a new
//! committee with a new threshold, keeping the public key (and the ECDSA chain code). Refresh is
//! the special case "same committee, same threshold": new shares, same key.
//!
//! One protocol, written once over `generic-ec` curves ([`ReshareMsg`]), with two adapters:
//! * [`reshare_ecdsa`] — secp256k1 shares of cggmp24 (`key-share` types, checked by its validator);
//! * [`reshare_eddsa`] — Ed25519 FROST key packages.
//!
//! Rounds (details, checks and their reasons in `docs/resharing.md`):
//! 1. dealers broadcast the digest of the old key info and a hash commitment to their Feldman
//!    commitments;
//! 2. dealers reveal the commitments (broadcast) and
//! 3. send each new holder its sub-share (point to point) — sent together with round 2;
//! 4. new holders verify everything, derive their share and the new key info, and broadcast a
//!    confirmation (hash of every dealing they accepted and of the new key info); every
//!    participant — dealers included — checks that all confirmations equal its own view.
//!
//! A dealer whose commitment, constant term or sub-share is wrong is named in
//! [`TssError::Misbehaviour`](crate::TssError::Misbehaviour); a holder whose confirmation differs
//! is named too (it, or a dealer that equivocated to it, is faulty).
//!
//! Session: participants are the union of the dealing quorum and the new committee, in the order
//! [`ReshareSetup::from_nodes`] documents; use [`ProtocolKind::EcdsaReshare`] /
//! [`ProtocolKind::EddsaReshare`] in the [`SessionId`]. Dealers must destroy their old share only
//! after the node has confirmed the switch (every holder confirmed the same new key info digest).
//!
//! [`ProtocolKind::EcdsaReshare`]: crate::ProtocolKind::EcdsaReshare
//! [`ProtocolKind::EddsaReshare`]: crate::ProtocolKind::EddsaReshare
//! [`SessionId`]: crate::SessionId

mod ecdsa;
mod eddsa;
mod key_info;
mod messages;
mod protocol;
mod setup;
mod store;
mod vss;

pub use ecdsa::{reshare_ecdsa, EcdsaKeyInfo, EcdsaReshareOutput};
pub use eddsa::{reshare_eddsa, EddsaReshareOutput};
pub use messages::{CommitMsg, ConfirmMsg, ReshareMsg, RevealMsg, SubShareMsg};
pub use setup::{Dealer, ReshareSetup};

/// Round messages of [`reshare_ecdsa`].
pub type EcdsaReshareMsg = ReshareMsg<generic_ec::curves::Secp256k1>;
/// Round messages of [`reshare_eddsa`].
pub type EddsaReshareMsg = ReshareMsg<generic_ec::curves::Ed25519>;
