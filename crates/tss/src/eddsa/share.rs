//! [`EddsaKeyShare`]: one party's FROST Ed25519 key material (secret key package plus the public
//! key package of the whole committee), its persisted form, and its HD-derived child.

use std::collections::BTreeMap;

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::{EdwardsPoint, Scalar};
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage, SigningShare, VerifyingShare};
use frost_ed25519::{Identifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{PartyIndex, TssError};
use crate::hd::{self, DerivedEd25519};
use crate::material::{self, MaterialKind};

/// One party's Ed25519 threshold key: its secret [`KeyPackage`] and the committee's
/// [`PublicKeyPackage`].
///
/// Invariant (checked by [`EddsaKeyShare::new`] and on deserialization): both packages name the
/// same group key, the threshold agrees, and the committee's verifying share for our identifier is
/// ours. `Debug` never prints the signing share.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawShare", into = "RawShare")]
pub struct EddsaKeyShare {
    key_package: KeyPackage,
    public_key_package: PublicKeyPackage,
}

/// The two envelopes of a sealed [`EddsaKeyShare`].
pub struct SealedEddsaShare {
    /// [`MaterialKind::EddsaKeyPackage`] envelope (secret).
    pub secret: Zeroizing<Vec<u8>>,
    /// [`MaterialKind::EddsaPublicKeyPackage`] envelope.
    pub public: Zeroizing<Vec<u8>>,
}

/// The unchecked serialized form.
#[derive(Clone, Serialize, Deserialize)]
struct RawShare {
    key_package: KeyPackage,
    public_key_package: PublicKeyPackage,
}

impl TryFrom<RawShare> for EddsaKeyShare {
    type Error = TssError;
    fn try_from(raw: RawShare) -> Result<Self, TssError> {
        Self::new(raw.key_package, raw.public_key_package)
    }
}

impl From<EddsaKeyShare> for RawShare {
    fn from(share: EddsaKeyShare) -> Self {
        Self {
            key_package: share.key_package,
            public_key_package: share.public_key_package,
        }
    }
}

impl std::fmt::Debug for EddsaKeyShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EddsaKeyShare")
            .field(
                "public_key",
                &hex::encode(self.public_key().unwrap_or_default()),
            )
            .field("min_signers", self.key_package.min_signers())
            .field("max_signers", &self.public_key_package.max_signers())
            .field("signing_share", &"<redacted>")
            .finish()
    }
}

fn material_error(what: &str) -> TssError {
    TssError::Material(format!("eddsa key share: {what}"))
}

impl EddsaKeyShare {
    /// Pairs a key package with its committee's public key package, checking they belong together.
    pub fn new(
        key_package: KeyPackage,
        public_key_package: PublicKeyPackage,
    ) -> Result<Self, TssError> {
        if key_package.verifying_key() != public_key_package.verifying_key() {
            return Err(material_error("the two packages name different group keys"));
        }
        if public_key_package.min_signers() != Some(*key_package.min_signers()) {
            return Err(material_error("the two packages disagree on the threshold"));
        }
        match public_key_package
            .verifying_shares()
            .get(key_package.identifier())
        {
            Some(share) if share == key_package.verifying_share() => {}
            _ => {
                return Err(material_error(
                    "our verifying share is missing from the committee",
                ))
            }
        }
        if VerifyingShare::from(*key_package.signing_share()) != *key_package.verifying_share() {
            return Err(material_error(
                "the signing share does not match its verifying share",
            ));
        }
        Ok(Self {
            key_package,
            public_key_package,
        })
    }

    /// The secret key package (identifier, signing share, verifying share, group key).
    pub fn key_package(&self) -> &KeyPackage {
        &self.key_package
    }

    /// The committee's public key package.
    pub fn public_key_package(&self) -> &PublicKeyPackage {
        &self.public_key_package
    }

    /// Number of signers required.
    pub fn min_signers(&self) -> u16 {
        *self.key_package.min_signers()
    }

    /// Size of the keygen committee.
    pub fn max_signers(&self) -> u16 {
        self.public_key_package.max_signers()
    }

    /// Our FROST identifier.
    pub fn identifier(&self) -> Identifier {
        *self.key_package.identifier()
    }

    /// The group public key as the 32-byte RFC 8032 encoding (what results carry).
    pub fn public_key(&self) -> Result<[u8; 32], TssError> {
        verifying_key_bytes(self.key_package.verifying_key())
    }

    /// The keygen index of identifier `id`, if it is in the committee: its rank among the
    /// committee's identifiers in ascending order (`id − 1` for keys from our keygen, whose
    /// identifiers are `1..=n`; imported keys keep the identifiers of their evaluation points).
    pub fn party_of(&self, id: &Identifier) -> Option<PartyIndex> {
        self.public_key_package
            .verifying_shares()
            .keys()
            .position(|k| k == id)
            .and_then(|p| PartyIndex::try_from(p).ok())
    }

    /// The identifier of the holder with keygen index `index` (inverse of
    /// [`EddsaKeyShare::party_of`]).
    pub fn identifier_of(&self, index: PartyIndex) -> Option<Identifier> {
        self.public_key_package
            .verifying_shares()
            .keys()
            .nth(usize::from(index))
            .copied()
    }

    /// Seals the secret key package and the public key package into two material envelopes; the
    /// node stores (and encrypts) them.
    pub fn seal(&self) -> Result<SealedEddsaShare, TssError> {
        Ok(SealedEddsaShare {
            secret: material::seal(MaterialKind::EddsaKeyPackage, &self.key_package)?,
            public: material::seal(
                MaterialKind::EddsaPublicKeyPackage,
                &self.public_key_package,
            )?,
        })
    }

    /// Opens envelopes written by [`EddsaKeyShare::seal`], checking they belong together.
    pub fn open(secret: &[u8], public: &[u8]) -> Result<Self, TssError> {
        let key_package: KeyPackage = material::open(MaterialKind::EddsaKeyPackage, secret)?;
        let public_key_package: PublicKeyPackage =
            material::open(MaterialKind::EddsaPublicKeyPackage, public)?;
        Self::new(key_package, public_key_package)
    }

    /// The share of the child key at the non-hardened `path` under mpcium's HD scheme
    /// ([`hd::derive_ed25519`]), with the derivation result (child public key and tweak δ).
    ///
    /// Every share moves by δ and every verifying share and the group key by δ·B. Since Lagrange
    /// coefficients over any signing set sum to one, the shared secret moves by exactly δ, so the
    /// child share signs for the child public key with the usual protocol.
    pub fn derive_child(
        &self,
        chain_code: &[u8; 32],
        path: &[u32],
    ) -> Result<(Self, DerivedEd25519), TssError> {
        let derived = hd::derive_ed25519(&self.public_key()?, chain_code, path)
            .map_err(|e| TssError::InvalidInput(format!("derivation path: {e}")))?;
        let delta = Scalar::from_canonical_bytes(derived.tweak)
            .into_option()
            .ok_or_else(|| TssError::Bug("hd tweak is not a canonical scalar".into()))?;
        let shift = EdwardsPoint::mul_base(&delta);

        let secret = Zeroizing::new(self.key_package.signing_share().serialize());
        let secret: [u8; 32] = secret
            .as_slice()
            .try_into()
            .map_err(|_| TssError::Bug("ed25519 signing share is not 32 bytes".into()))?;
        let secret = Zeroizing::new(secret);
        let share = Scalar::from_canonical_bytes(*secret)
            .into_option()
            .ok_or_else(|| material_error("signing share is not a canonical scalar"))?;
        let tweaked = Zeroizing::new((share + delta).to_bytes());
        let signing_share = SigningShare::deserialize(tweaked.as_slice())
            .map_err(|e| TssError::Bug(format!("tweaked signing share: {e}")))?;

        let verifying_key = VerifyingKey::deserialize(&derived.public_key)
            .map_err(|e| TssError::Bug(format!("derived group key: {e}")))?;
        let verifying_shares = self
            .public_key_package
            .verifying_shares()
            .iter()
            .map(|(id, vs)| Ok((*id, shift_verifying_share(vs, &shift)?)))
            .collect::<Result<BTreeMap<_, _>, TssError>>()?;
        let own = verifying_shares
            .get(self.key_package.identifier())
            .copied()
            .ok_or_else(|| material_error("our verifying share is missing from the committee"))?;
        let key_package = KeyPackage::new(
            self.identifier(),
            signing_share,
            own,
            verifying_key,
            self.min_signers(),
        );
        let public_key_package =
            PublicKeyPackage::new(verifying_shares, verifying_key, Some(self.min_signers()));
        Ok((Self::new(key_package, public_key_package)?, derived))
    }
}

fn verifying_key_bytes(key: &VerifyingKey) -> Result<[u8; 32], TssError> {
    let bytes = key
        .serialize()
        .map_err(|e| TssError::Bug(format!("group key encoding: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| TssError::Bug("ed25519 group key is not 32 bytes".into()))
}

fn shift_verifying_share(
    share: &VerifyingShare,
    shift: &EdwardsPoint,
) -> Result<VerifyingShare, TssError> {
    let bytes = share
        .serialize()
        .map_err(|e| TssError::Bug(format!("verifying share: {e}")))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| TssError::Bug("verifying share is not 32 bytes".into()))?;
    let point = CompressedEdwardsY(bytes)
        .decompress()
        .ok_or_else(|| material_error("a verifying share is not a curve point"))?;
    VerifyingShare::deserialize((point + shift).compress().as_bytes())
        .map_err(|e| TssError::Bug(format!("shifted verifying share: {e}")))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use frost_ed25519::keys::IdentifierList;
    use rand_chacha::rand_core::SeedableRng;

    pub(crate) fn must_dealer_shares(t: u16, n: u16) -> Vec<EddsaKeyShare> {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let (shares, pkp) =
            frost_ed25519::keys::generate_with_dealer(n, t, IdentifierList::Default, &mut rng)
                .expect("dealer");
        shares
            .into_values()
            .map(|s| {
                let kp = KeyPackage::try_from(s).expect("valid share");
                EddsaKeyShare::new(kp, pkp.clone()).expect("consistent")
            })
            .collect()
    }

    #[test]
    fn debug_output_redacts_the_signing_share() {
        let share = must_dealer_shares(2, 3).remove(0);
        let secret_hex = hex::encode(share.key_package().signing_share().serialize());
        let printed = format!("{share:?}");
        assert!(printed.contains("<redacted>"));
        assert!(!printed.contains(&secret_hex));
    }

    #[test]
    fn a_share_survives_seal_and_open() {
        let share = must_dealer_shares(2, 3).remove(1);
        let sealed = share.seal().expect("seal");
        let back = EddsaKeyShare::open(&sealed.secret, &sealed.public).expect("open");
        assert_eq!(back, share);
    }

    #[test]
    fn a_share_survives_json_round_trip() {
        let share = must_dealer_shares(2, 3).remove(2);
        let json = serde_json::to_vec(&share).expect("serialize");
        let back: EddsaKeyShare = serde_json::from_slice(&json).expect("deserialize");
        assert_eq!(back, share);
    }

    #[test]
    fn packages_of_different_keys_are_refused() {
        let a = must_dealer_shares(2, 3).remove(0);
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(99);
        let (_, other) =
            frost_ed25519::keys::generate_with_dealer(3, 2, IdentifierList::Default, &mut rng)
                .expect("dealer");
        let err = EddsaKeyShare::new(a.key_package().clone(), other).expect_err("mismatch");
        assert_eq!(err.kind(), crate::ErrorKind::Material);
    }

    #[test]
    fn party_of_inverts_the_identifier_mapping() {
        let share = must_dealer_shares(2, 3).remove(0);
        for i in 0..3 {
            let id = super::super::identifier(i).expect("id");
            assert_eq!(share.party_of(&id), Some(i));
            assert_eq!(share.identifier_of(i), Some(id));
        }
        assert_eq!(share.identifier_of(3), None);
        let outsider = super::super::identifier(3).expect("id");
        assert_eq!(share.party_of(&outsider), None);
    }

    #[test]
    fn a_derived_share_names_the_derived_public_key() {
        let share = must_dealer_shares(2, 3).remove(0);
        let (child, derived) = share
            .derive_child(&[3u8; 32], &[44, 501, 0, 0])
            .expect("derive");
        assert_eq!(child.public_key().expect("key"), derived.public_key);
        assert_ne!(derived.public_key, share.public_key().expect("key"));
        assert_eq!(child.identifier(), share.identifier());
    }
}
