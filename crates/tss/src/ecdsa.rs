//! ECDSA over secp256k1: thin, typed wrappers over LFDT-Lockness `cggmp24` (CGGMP24 with its
//! threshold extension) at 128-bit security with SHA-256 as the protocol hash.
//!
//! The life of a key:
//! 1. [`PrimesJob`] — each node generates four safe primes in the background (tens of seconds);
//!    the node persists them (sealed, encrypted) and uses each set once.
//! 2. [`aux_info`] — once per node set: Paillier and ring-Pedersen parameters from the primes.
//!    Reused for every key of that node set.
//! 3. [`keygen`] — threshold DKG among all `n` nodes, yielding an [`IncompleteKeyShare`] bound to
//!    the cluster chain code; [`KeyShare::from_parts`] completes it with the aux info.
//! 4. Signing by a [`SigningCommittee`] of exactly `t` keygen indices:
//!    * [`sign_digest`] — the reference's request: a client-supplied 32-byte digest, always by
//!      full interactive signing (cggmp24 forbids presignatures on data whose preimage the
//!      signers never saw: RUSTSEC-2025-0127);
//!    * [`sign_message`] — message bytes plus a [`MessageHash`] the nodes compute themselves,
//!      by full interactive signing;
//!    * [`presign`] then [`sign_with_presignature`] (one broadcast round) for the same message
//!      mode; the HD path is fixed at presigning and a [`Presignature`] is consumed by value.
//!
//! Every output signature is low-s normalised and carries the recovery id that recovers the
//! (possibly HD-derived) public key ([`EcdsaSignature`]).
//!
//! Party indices: keygen and aux info use the node set's order (`0..n`); a signing session uses
//! positions in the committee (`0..t`), and the committee maps them to keygen indices.

mod blame;
mod committee;
mod keys;
mod presignature;
mod primes;
mod protocols;
mod round1_check;
mod round4_blame;
mod signature;

pub use committee::SigningCommittee;
pub use keys::{AuxInfo, EcdsaPublicKey, IncompleteKeyShare, KeyShare};
pub use presignature::{sign_with_presignature, PartialSignature, PendingSignature, Presignature};
pub use primes::{Primes, PrimesJob, PrimesProgress};
pub use protocols::{aux_info, keygen, presign, sign_digest, sign_message};
pub use signature::{EcdsaSignature, MessageHash};

/// The curve.
type Curve = cggmp24::supported_curves::Secp256k1;
/// The security level: 1536-bit safe primes, 3072-bit Paillier moduli.
type Level = cggmp24::security_level::SecurityLevel128;
/// The hash the protocols use for commitments and Fiat–Shamir.
type ProtocolDigest = sha2::Sha256;

/// Round messages of [`aux_info`].
pub type AuxInfoMsg = cggmp24::key_refresh::msg::Msg<ProtocolDigest, Level>;
/// Round messages of [`keygen`].
pub type KeygenMsg = cggmp24::keygen::ThresholdMsg<Curve, Level, ProtocolDigest>;
/// Round messages of [`presign`], [`sign_digest`] and [`sign_message`].
pub type SigningMsg = cggmp24::signing::msg::Msg<Curve, ProtocolDigest>;
/// Round message of [`sign_with_presignature`].
pub type OnlineMsg = presignature::OnlineMsg;

/// A fresh userspace CSPRNG seeded from the OS: about 2.5× faster than `OsRng` for prime search,
/// where every 32-bit draw would otherwise be a syscall.
fn rng() -> Result<rand_chacha::ChaCha20Rng, crate::TssError> {
    use rand_core::SeedableRng;
    rand_chacha::ChaCha20Rng::from_rng(rand_core::OsRng)
        .map_err(|e| crate::TssError::Bug(format!("os random number generator failed: {e}")))
}
