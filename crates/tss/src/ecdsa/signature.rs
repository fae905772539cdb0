//! What is signed and what comes out: the two signing inputs (a client digest, or message bytes
//! with a named hash) and the final low-s signature with its recovery id.

use cggmp24::generic_ec::Scalar;
use k256::ecdsa::{RecoveryId, Signature as K256Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use sha3::Keccak256;

use super::keys::EcdsaPublicKey;
use super::Curve;
use crate::TssError;

pub use mpcium_protocol::MessageHash;

/// The data to sign for `msg` under `hash`, built from the message itself: the only input
/// cggmp24 accepts for presignatures, because the signers know the preimage.
pub(super) fn data_to_sign(hash: MessageHash, msg: &[u8]) -> cggmp24::DataToSign<Curve> {
    match hash {
        MessageHash::Keccak256 => cggmp24::DataToSign::digest::<Keccak256>(msg),
        MessageHash::Sha256 => cggmp24::DataToSign::digest::<Sha256>(msg),
        // The outer hash runs inside cggmp24 over the inner digest the node just computed.
        MessageHash::Sha256d => {
            cggmp24::DataToSign::from_digest(Sha256::new().chain_update(Sha256::digest(msg)))
        }
    }
}

/// A client-supplied digest: exactly 32 bytes.
pub(super) fn prehashed(
    digest: &[u8],
) -> Result<([u8; 32], cggmp24::signing::PrehashedDataToSign<Curve>), TssError> {
    let bytes: [u8; 32] = digest.try_into().map_err(|_| {
        TssError::InvalidInput(format!(
            "a digest must be exactly 32 bytes, got {}",
            digest.len()
        ))
    })?;
    let scalar = Scalar::<Curve>::from_be_bytes_mod_order(bytes);
    Ok((
        bytes,
        cggmp24::signing::PrehashedDataToSign::from_scalar(scalar),
    ))
}

/// A final ECDSA signature: `s` is in the lower half of the group order, and `recovery_id`
/// (0–3) recovers the signing public key from `(r, s)` and the digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcdsaSignature {
    /// `r`, 32 bytes big-endian.
    pub r: [u8; 32],
    /// `s`, 32 bytes big-endian, low-s normalised.
    pub s: [u8; 32],
    /// Recovery id consistent with the normalised `s`.
    pub recovery_id: u8,
}

impl EcdsaSignature {
    /// Builds the output from a cggmp24 signature: normalises `s`, then finds the recovery id by
    /// recovering with `k256` and comparing against `public_key`. Fails if no id recovers it,
    /// i.e. if the signature does not verify.
    pub(super) fn finish(
        sig: cggmp24::signing::Signature<Curve>,
        digest: &[u8; 32],
        public_key: &EcdsaPublicKey,
    ) -> Result<Self, TssError> {
        let sig = sig.normalize_s();
        let mut rs = [0u8; 64];
        sig.write_to_slice(&mut rs);
        let k = K256Signature::from_slice(&rs)
            .map_err(|_| TssError::Bug("signature components out of range".into()))?;
        let expected = public_key.to_k256()?;
        for id in 0u8..4 {
            let Some(rid) = RecoveryId::from_byte(id) else {
                continue;
            };
            if VerifyingKey::recover_from_prehash(digest, &k, rid).is_ok_and(|vk| vk == expected) {
                let (r, s) = rs.split_at(32);
                return Ok(Self {
                    r: r.try_into().map_err(|_| TssError::Bug("r length".into()))?,
                    s: s.try_into().map_err(|_| TssError::Bug("s length".into()))?,
                    recovery_id: id,
                });
            }
        }
        Err(TssError::Bug(
            "the signature does not verify under the expected public key".into(),
        ))
    }

    /// `r ‖ s`, 64 bytes.
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.r);
        out[32..].copy_from_slice(&self.s);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_to_sign_agrees_with_the_plain_digest() {
        for h in [
            MessageHash::Keccak256,
            MessageHash::Sha256,
            MessageHash::Sha256d,
        ] {
            let expect = Scalar::<Curve>::from_be_bytes_mod_order(h.digest(b"msg"));
            assert_eq!(data_to_sign(h, b"msg").to_scalar(), expect, "{h:?}");
        }
    }

    #[test]
    fn a_digest_that_is_not_32_bytes_is_rejected_naming_its_length() {
        let err = prehashed(&[0u8; 31]).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("got 31"), "{err}");
        assert!(prehashed(&[0u8; 33]).is_err());
        assert!(prehashed(&[1u8; 32]).is_ok());
    }
}
