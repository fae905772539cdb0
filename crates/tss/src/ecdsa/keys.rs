//! ECDSA key material: aux info, incomplete and complete key shares (secret, redacted `Debug`,
//! persisted through [`crate::material`] envelopes) and the public key in the encodings the node
//! needs.

use cggmp24::generic_ec::{NonZero, Point};
use cggmp24::key_share::{AnyKeyShare, DirtyIncompleteKeyShare, Valid};
use serde::{de::DeserializeOwned, Serialize};
use zeroize::Zeroizing;

use super::committee::SigningCommittee;
use super::{Curve, Level};
use crate::error::PartyIndex;
use crate::material::{self, MaterialKind};
use crate::TssError;

macro_rules! redacted_debug {
    ($ty:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($ty), "(<redacted>)"))
            }
        }
    };
}

/// CGGMP24 aux info of one party for one node set (its Paillier secret key and everybody's
/// public parameters). Secret; reusable for every key of the same node set.
#[derive(Clone)]
pub struct AuxInfo(pub(super) cggmp24::key_share::AuxInfo<Level>);
redacted_debug!(AuxInfo);

/// One party's share of a key from [`keygen`](super::keygen), before aux info is attached.
/// Secret.
#[derive(Clone)]
pub struct IncompleteKeyShare(pub(super) cggmp24::IncompleteKeyShare<Curve>);
redacted_debug!(IncompleteKeyShare);

/// A key share ready to sign: the keygen output plus the node set's aux info. Secret.
#[derive(Clone)]
pub struct KeyShare(pub(super) cggmp24::KeyShare<Curve, Level>);
redacted_debug!(KeyShare);

fn seal_as<T: Serialize>(kind: MaterialKind, v: &T) -> Result<Zeroizing<Vec<u8>>, TssError> {
    material::seal(kind, v)
}

fn open_as<T: DeserializeOwned>(kind: MaterialKind, bytes: &[u8]) -> Result<T, TssError> {
    // cggmp24's `Valid<T>` validates while deserializing, so an inconsistent share is refused here.
    material::open(kind, bytes)
}

impl AuxInfo {
    /// Serializes into a versioned envelope ([`MaterialKind::EcdsaAuxInfo`]).
    pub fn seal(&self) -> Result<Zeroizing<Vec<u8>>, TssError> {
        seal_as(MaterialKind::EcdsaAuxInfo, &self.0)
    }

    /// Decodes and validates an envelope written by [`AuxInfo::seal`].
    pub fn open(bytes: &[u8]) -> Result<Self, TssError> {
        open_as(MaterialKind::EcdsaAuxInfo, bytes).map(Self)
    }

    /// Number of parties in the node set.
    pub fn n(&self) -> u16 {
        // Valid aux info has one Paillier key per party, n ≤ u16::MAX.
        self.0.N.len() as u16
    }
}

impl IncompleteKeyShare {
    /// Serializes into a versioned envelope ([`MaterialKind::EcdsaIncompleteKeyShare`]).
    pub fn seal(&self) -> Result<Zeroizing<Vec<u8>>, TssError> {
        seal_as(MaterialKind::EcdsaIncompleteKeyShare, &self.0)
    }

    /// Decodes and validates an envelope written by [`IncompleteKeyShare::seal`].
    pub fn open(bytes: &[u8]) -> Result<Self, TssError> {
        open_as(MaterialKind::EcdsaIncompleteKeyShare, bytes).map(Self)
    }

    /// The shared (master) public key.
    pub fn public_key(&self) -> EcdsaPublicKey {
        EcdsaPublicKey::from_point(&self.0.shared_public_key)
    }

    /// This party's index at keygen.
    pub fn index(&self) -> PartyIndex {
        self.0.i
    }

    /// Replaces the chain code with `chain_code` (the cluster's, identical on every node).
    pub(super) fn with_chain_code(self, chain_code: [u8; 32]) -> Result<Self, TssError> {
        let mut dirty: DirtyIncompleteKeyShare<Curve> = self.0.into_inner();
        dirty.key_info.chain_code = Some(chain_code);
        Valid::validate(dirty).map(Self).map_err(|e| {
            TssError::Bug(format!(
                "key share invalid after setting chain code: {}",
                e.error()
            ))
        })
    }
}

impl KeyShare {
    /// Completes a keygen share with the node set's aux info; they must come from the same
    /// party of the same node set.
    pub fn from_parts(share: IncompleteKeyShare, aux: AuxInfo) -> Result<Self, TssError> {
        cggmp24::KeyShare::from_parts((share.0, aux.0))
            .map(Self)
            .map_err(|e| {
                TssError::InvalidInput(format!(
                    "key share and aux info do not belong together: {}",
                    e.error()
                ))
            })
    }

    /// Serializes into a versioned envelope ([`MaterialKind::EcdsaKeyShare`]).
    pub fn seal(&self) -> Result<Zeroizing<Vec<u8>>, TssError> {
        seal_as(MaterialKind::EcdsaKeyShare, &self.0)
    }

    /// Decodes and validates an envelope written by [`KeyShare::seal`].
    pub fn open(bytes: &[u8]) -> Result<Self, TssError> {
        open_as(MaterialKind::EcdsaKeyShare, bytes).map(Self)
    }

    /// The shared (master) public key.
    pub fn public_key(&self) -> EcdsaPublicKey {
        EcdsaPublicKey::from_point(&self.0.core.shared_public_key)
    }

    /// This party's index at keygen.
    pub fn index(&self) -> PartyIndex {
        self.0.core.i
    }

    /// Number of key holders.
    pub fn n(&self) -> u16 {
        self.0.n()
    }

    /// Signers required.
    pub fn threshold(&self) -> u16 {
        self.0.min_signers()
    }

    /// The cluster chain code set at keygen.
    pub fn chain_code(&self) -> Option<[u8; 32]> {
        self.0.core.chain_code
    }

    /// Validates a signing committee for this key.
    pub fn committee(&self, keygen_indices: Vec<PartyIndex>) -> Result<SigningCommittee, TssError> {
        SigningCommittee::new(keygen_indices, self.n(), self.threshold())
    }

    /// The public key of the non-hardened child at `path` (BIP32 CKDpub with the cluster chain
    /// code), or the master key for an empty path. This is the key the signatures of
    /// [`sign_digest`](super::sign_digest) etc. with the same path verify under.
    pub fn derive_public_key(&self, path: &[u32]) -> Result<EcdsaPublicKey, TssError> {
        self.derived_point(path)
            .map(|p| EcdsaPublicKey::from_point(&p))
    }

    /// The child public key point at `path` (cggmp24's SLIP-10, i.e. BIP32 for secp256k1).
    pub(super) fn derived_point(&self, path: &[u32]) -> Result<NonZero<Point<Curve>>, TssError> {
        if path.is_empty() {
            return Ok(self.0.core.shared_public_key);
        }
        let child = self
            .0
            .derive_child_public_key::<cggmp24::hd_wallet::Slip10, _>(path.iter().copied())
            .map_err(|e| TssError::InvalidInput(format!("cannot derive along the HD path: {e}")))?;
        NonZero::from_point(child.public_key).ok_or_else(|| {
            TssError::InvalidInput("the HD path derives the point at infinity".into())
        })
    }
}

/// A secp256k1 public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EcdsaPublicKey([u8; 33]);

impl EcdsaPublicKey {
    pub(super) fn from_point(point: &NonZero<Point<Curve>>) -> Self {
        let mut out = [0u8; 33];
        out.copy_from_slice(&point.to_bytes(true));
        Self(out)
    }

    /// Parses a SEC1-compressed key.
    pub fn from_compressed(bytes: &[u8; 33]) -> Result<Self, TssError> {
        k256::PublicKey::from_sec1_bytes(bytes)
            .map(|_| Self(*bytes))
            .map_err(|_| TssError::InvalidInput("not a compressed secp256k1 public key".into()))
    }

    /// SEC1-compressed encoding (33 bytes).
    pub fn compressed(&self) -> [u8; 33] {
        self.0
    }

    /// The reference's encoding: affine X‖Y, 64 bytes, without the `0x04` prefix.
    pub fn uncompressed_xy(&self) -> Result<[u8; 64], TssError> {
        let key = k256::PublicKey::from_sec1_bytes(&self.0)
            .map_err(|_| TssError::Bug("stored public key is not on the curve".into()))?;
        let point = k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&key, false);
        let bytes = point.as_bytes();
        let mut out = [0u8; 64];
        out.copy_from_slice(
            bytes
                .get(1..65)
                .ok_or_else(|| TssError::Bug("short SEC1 point".into()))?,
        );
        Ok(out)
    }

    /// The key as a `k256` verifying key.
    pub fn to_k256(&self) -> Result<k256::ecdsa::VerifyingKey, TssError> {
        k256::ecdsa::VerifyingKey::from_sec1_bytes(&self.0)
            .map_err(|_| TssError::Bug("stored public key is not on the curve".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_encodings_agree_with_k256() {
        let sk = k256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let pk = sk.public_key();
        let compressed: [u8; 33] =
            k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&pk, true)
                .as_bytes()
                .try_into()
                .unwrap();
        let key = EcdsaPublicKey::from_compressed(&compressed).unwrap();
        let full = k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&pk, false);
        assert_eq!(&key.uncompressed_xy().unwrap()[..], &full.as_bytes()[1..]);
        assert!(EcdsaPublicKey::from_compressed(&[0u8; 33]).is_err());
    }
}
