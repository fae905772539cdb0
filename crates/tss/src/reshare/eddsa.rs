//! The Ed25519 adapter: reads the old key from a FROST public key package (and, for dealers, their
//! key package), runs the generic protocol, and writes the new share as a FROST `KeyPackage` plus
//! the committee's `PublicKeyPackage` with identifiers `1..=n'`.
//!
//! Holder `k` of the old key is the holder with the `k`-th smallest FROST identifier, and its share
//! index is that identifier as a scalar (the convention of [`crate::eddsa`]): `k + 1` for keys from
//! our keygen or a previous reshare, the tss-lib evaluation point for imported keys
//! ([`crate::import`]). The new key always gets identifiers `1..=n'`.

use std::collections::BTreeMap;

use frost_ed25519::keys::{KeyPackage, PublicKeyPackage, SigningShare, VerifyingShare};
use frost_ed25519::{Identifier, VerifyingKey};
use generic_ec::curves::Ed25519;
use generic_ec::{NonZero, Point, Scalar, SecretScalar};
use rand_core::{CryptoRng, RngCore};
use round_based::Mpc;
use zeroize::Zeroizing;

use super::key_info::KeyInfo;
use super::protocol::{self, Plan};
use super::{EddsaReshareMsg, ReshareSetup};
use crate::eddsa::EddsaKeyShare;
use crate::session::SessionId;
use crate::TssError;

/// What an EdDSA resharing gives one participant.
#[derive(Debug)]
pub struct EddsaReshareOutput {
    /// Our share in the new committee (if we are in it), with FROST identifier `new index + 1`.
    pub share: Option<EddsaKeyShare>,
    /// The new committee's public key package (same group key).
    pub public_key_package: PublicKeyPackage,
    /// Digest of the new key info, equal on every participant; the node compares it before it
    /// switches to the new shares.
    pub new_key_digest: [u8; 32],
}

/// Reshares an Ed25519 key as party `setup.me()`.
///
/// `old` is the old committee's public key package (every participant must pass the same; dealers
/// check it against their share); `my_share` is our old share and is required if we deal.
///
/// Errors as for [`super::reshare_ecdsa`].
pub async fn reshare_eddsa<M, R>(
    party: M,
    session: SessionId,
    setup: &ReshareSetup,
    old: &PublicKeyPackage,
    my_share: Option<&EddsaKeyShare>,
    rng: &mut R,
) -> Result<EddsaReshareOutput, TssError>
where
    M: Mpc<ProtocolMessage = EddsaReshareMsg>,
    R: RngCore + CryptoRng,
{
    let old_info = key_info(old)?;
    let my_secret = match (setup.my_dealer(), my_share) {
        (Some(_), Some(share)) => {
            if share.public_key_package() != old {
                return Err(TssError::InvalidInput(
                    "our key share belongs to another key than the one being reshared".into(),
                ));
            }
            let bytes = Zeroizing::new(share.key_package().signing_share().serialize());
            Some(
                SecretScalar::<Ed25519>::from_le_bytes(&bytes)
                    .map_err(|_| TssError::Material("signing share is not a scalar".into()))?,
            )
        }
        _ => None,
    };
    let plan = Plan {
        session,
        setup,
        old: &old_info,
        my_old_share: my_secret.as_ref(),
    };
    let outcome = protocol::run(party, plan, rng).await?;

    let t = outcome.new_key.min_signers();
    let group_key = VerifyingKey::deserialize(&outcome.new_key.shared_public_key().to_bytes(true))
        .map_err(|e| TssError::Bug(format!("group key encoding: {e}")))?;
    let mut verifying_shares = BTreeMap::new();
    for (k, point) in (0u16..).zip(outcome.new_key.public_shares()) {
        verifying_shares.insert(identifier(k)?, verifying_share(point)?);
    }
    let public_key_package = PublicKeyPackage::new(verifying_shares, group_key, Some(t));
    let share = match outcome.share {
        Some((j, x)) => {
            let scalar: &generic_ec::Scalar<Ed25519> = x.as_ref();
            let bytes = Zeroizing::new(scalar.to_le_bytes().as_bytes().to_vec());
            let signing_share = SigningShare::deserialize(&bytes)
                .map_err(|e| TssError::Bug(format!("new signing share encoding: {e}")))?;
            let own = outcome
                .new_key
                .public_share(j)
                .ok_or_else(|| TssError::Bug("our new public share is missing".into()))?;
            let key_package = KeyPackage::new(
                identifier(j)?,
                signing_share,
                verifying_share(&own)?,
                group_key,
                t,
            );
            Some(EddsaKeyShare::new(key_package, public_key_package.clone())?)
        }
        None => None,
    };
    Ok(EddsaReshareOutput {
        share,
        public_key_package,
        new_key_digest: outcome.new_key.digest(),
    })
}

/// FROST identifier of holder `k`.
fn identifier(k: u16) -> Result<Identifier, TssError> {
    k.checked_add(1)
        .and_then(|id| Identifier::try_from(id).ok())
        .ok_or_else(|| TssError::InvalidInput(format!("holder index {k} is too large")))
}

fn verifying_share(point: &NonZero<Point<Ed25519>>) -> Result<VerifyingShare, TssError> {
    VerifyingShare::deserialize(&point.to_bytes(true))
        .map_err(|e| TssError::Bug(format!("verifying share encoding: {e}")))
}

/// The generic key info of a public key package: holders in ascending identifier order, each
/// with its identifier as share index.
fn key_info(package: &PublicKeyPackage) -> Result<KeyInfo<Ed25519>, TssError> {
    let bad = |what: String| TssError::Material(format!("eddsa public key package: {what}"));
    let min_signers = package
        .min_signers()
        .ok_or_else(|| bad("does not record its threshold".into()))?;
    let group_key = package
        .verifying_key()
        .serialize()
        .map_err(|e| bad(format!("group key encoding: {e}")))?;
    let shared_public_key = Point::<Ed25519>::from_bytes(&group_key)
        .ok()
        .and_then(NonZero::from_point)
        .ok_or_else(|| bad("group key is not a valid point".into()))?;
    let n = package.verifying_shares().len();
    let mut indices = Vec::with_capacity(n);
    let mut public_shares = Vec::with_capacity(n);
    // A BTreeMap iterates in ascending identifier order: holder k is the k-th.
    for (k, (id, share)) in package.verifying_shares().iter().enumerate() {
        let bytes = share
            .serialize()
            .map_err(|e| bad(format!("verifying share encoding: {e}")))?;
        let point = Point::<Ed25519>::from_bytes(&bytes)
            .ok()
            .and_then(NonZero::from_point)
            .ok_or_else(|| bad(format!("share {k} is not a valid point")))?;
        let index = Scalar::<Ed25519>::from_le_bytes(id.serialize())
            .ok()
            .and_then(NonZero::from_scalar)
            .ok_or_else(|| bad(format!("identifier of holder {k} is not a non-zero scalar")))?;
        indices.push(index);
        public_shares.push(point);
    }
    KeyInfo::new(shared_public_key, min_signers, indices, public_shares, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eddsa::EddsaKeyShare;
    use frost_ed25519::keys::IdentifierList;
    use rand_chacha::rand_core::SeedableRng;

    fn must_shares(t: u16, n: u16) -> Vec<EddsaKeyShare> {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let (shares, pkp) =
            frost_ed25519::keys::generate_with_dealer(n, t, IdentifierList::Default, &mut rng)
                .expect("dealer");
        shares
            .into_values()
            .map(|s| {
                EddsaKeyShare::new(KeyPackage::try_from(s).expect("valid"), pkp.clone())
                    .expect("consistent")
            })
            .collect()
    }

    #[test]
    fn a_frost_public_key_package_converts_to_consistent_key_info() {
        let shares = must_shares(2, 3);
        let info = key_info(shares[0].public_key_package()).expect("key info");
        assert_eq!(info.min_signers(), 2);
        assert_eq!(info.holders(), 3);
        assert_eq!(
            info.shared_public_key().to_bytes(true).as_bytes(),
            shares[0].public_key().expect("key").as_slice()
        );
        // The signing share of holder k is the discrete log of public share k.
        for (k, share) in (0u16..).zip(&shares) {
            let bytes = share.key_package().signing_share().serialize();
            let x = SecretScalar::<Ed25519>::from_le_bytes(&bytes).expect("scalar");
            assert_eq!(
                info.public_share(k).map(Point::from),
                Some(Point::generator() * &x)
            );
        }
    }
}
