//! Key shares carried over from another Shamir-based threshold implementation — tss-lib shares of
//! a Go mpcium cluster, read and checked by `mpcium-migrate` — into the engine's share types,
//! keeping every holder's evaluation point, so the key, its addresses and its HD children stay
//! the same and no key is ever reassembled.
//!
//! The inputs are plain bytes ([`ShareParts`]), so the caller needs no migration types:
//! * [`ecdsa_share`] builds a cggmp24 incomplete key share whose VSS setup is
//!   `{ min_signers, I = the given points }` and validates it with cggmp24's own validator. Holder
//!   `k` of the input becomes keygen index `k`: pass the holders in the order of the node set's
//!   aux info, then complete the share with a fresh aux info run
//!   ([`crate::ecdsa::KeyShare::from_parts`]; nothing of tss-lib's Paillier material is reused).
//! * [`eddsa_share`] builds an [`EddsaKeyShare`] whose FROST identifiers are the given points.
//!   FROST keeps identifiers sorted, and the engine's EdDSA keygen index of a holder is the rank
//!   of its identifier (for keys from our own keygen, identifier `k + 1` has rank `k`), so the
//!   output says which input holder has which keygen index ([`ImportedEddsaShare::holder_order`]).
//!
//! Both refuse inconsistent input: the public shares must lie on a polynomial of degree exactly
//! `signers − 1` through the public key, the evaluation points must be non-zero and distinct, and
//! the secret share must be the discrete log of our public share.
//!
//! Scalars are 32-byte big-endian integers below the group order (for Ed25519 too: converted to
//! RFC 8032's little-endian here); points are compressed (SEC1 for secp256k1, RFC 8032 for
//! Ed25519).

use std::collections::BTreeMap;

use cggmp24::key_share::{
    DirtyIncompleteKeyShare as DirtyCoreKeyShare, DirtyKeyInfo, Valid, VssSetup,
};
use frost_ed25519::keys::{KeyPackage, PublicKeyPackage, SigningShare, VerifyingShare};
use frost_ed25519::{Identifier, VerifyingKey};
use generic_ec::curves::{Ed25519, Secp256k1};
use generic_ec::{Curve, NonZero, Point, Scalar, SecretScalar};
use zeroize::Zeroizing;

use crate::ecdsa::IncompleteKeyShare;
use crate::eddsa::EddsaKeyShare;
use crate::error::PartyIndex;
use crate::material::{self, MaterialKind};
use crate::TssError;

/// One holder's share of a Shamir-shared key, as plain bytes. Holders are listed in the same
/// order in `evaluation_points` and `public_shares`.
#[derive(Clone, Copy)]
pub struct ShareParts<'a> {
    /// Every holder's evaluation point (Shamir x-coordinate), 32 bytes big-endian, non-zero.
    pub evaluation_points: &'a [[u8; 32]],
    /// Every holder's public share `x_k·G`, compressed.
    pub public_shares: &'a [Vec<u8>],
    /// Our position among the holders.
    pub own_position: PartyIndex,
    /// Our secret share `x`, 32 bytes big-endian (the caller keeps it zeroizing).
    pub secret_share: &'a [u8; 32],
    /// The shared public key, compressed.
    pub public_key: &'a [u8],
    /// Signers required (the polynomial degree plus one), `2 ≤ signers ≤ holders`.
    pub signers: u16,
}

impl std::fmt::Debug for ShareParts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareParts")
            .field("holders", &self.evaluation_points.len())
            .field("own_position", &self.own_position)
            .field("signers", &self.signers)
            .field("secret_share", &"<redacted>")
            .finish()
    }
}

/// An imported Ed25519 share and the keygen index order of its holders.
#[derive(Debug)]
pub struct ImportedEddsaShare {
    /// The share, with FROST identifiers from the evaluation points.
    pub share: EddsaKeyShare,
    /// `holder_order[k]` is the input position of the holder with keygen index `k` (ascending
    /// identifier). The node records the committee in this order.
    pub holder_order: Vec<usize>,
}

fn invalid(what: impl Into<String>) -> TssError {
    TssError::InvalidInput(format!("imported share: {}", what.into()))
}

/// The public key info of the input over curve `E`, checked by cggmp24's validator (which also
/// covers Ed25519: it is curve-generic), and with exactly the given threshold.
fn key_info<E: Curve>(parts: &ShareParts<'_>) -> Result<DirtyKeyInfo<E>, TssError> {
    let n = parts.evaluation_points.len();
    if n < 2 || n > usize::from(u16::MAX) {
        return Err(invalid(format!("{n} holders; at least 2 are needed")));
    }
    if parts.public_shares.len() != n {
        return Err(invalid(format!(
            "{n} evaluation points but {} public shares",
            parts.public_shares.len()
        )));
    }
    if usize::from(parts.own_position) >= n {
        return Err(invalid(format!(
            "own position {} is not below {n} holders",
            parts.own_position
        )));
    }
    if parts.signers < 2 || usize::from(parts.signers) > n {
        return Err(invalid(format!(
            "threshold {} does not fit {n} holders",
            parts.signers
        )));
    }
    let mut indices: Vec<NonZero<Scalar<E>>> = Vec::with_capacity(n);
    for (k, bytes) in parts.evaluation_points.iter().enumerate() {
        let index = Scalar::<E>::from_be_bytes(bytes)
            .ok()
            .and_then(NonZero::from_scalar)
            .ok_or_else(|| invalid(format!("evaluation point {k} is zero or not reduced")))?;
        if indices.contains(&index) {
            return Err(invalid(format!(
                "evaluation point {k} repeats an earlier one"
            )));
        }
        indices.push(index);
    }
    let point = |bytes: &[u8], what: &str| {
        Point::<E>::from_bytes(bytes)
            .ok()
            .and_then(NonZero::from_point)
            .ok_or_else(|| invalid(format!("{what} is not a valid point")))
    };
    let public_shares = parts
        .public_shares
        .iter()
        .enumerate()
        .map(|(k, b)| point(b, &format!("public share {k}")))
        .collect::<Result<Vec<_>, _>>()?;
    let info = DirtyKeyInfo {
        curve: Default::default(),
        shared_public_key: point(parts.public_key, "the public key")?,
        public_shares,
        vss_setup: Some(VssSetup {
            min_signers: parts.signers,
            I: indices,
        }),
        chain_code: None,
    };
    Valid::validate(info.clone()).map_err(|e| {
        invalid(format!(
            "public shares do not match the public key at threshold {}: {}",
            parts.signers,
            e.error()
        ))
    })?;
    // cggmp24 accepts a sharing of lower degree than declared; the declared threshold must be
    // the real one.
    let lower_fits = match parts.signers - 1 {
        1 => info
            .public_shares
            .iter()
            .all(|x| *x == info.shared_public_key),
        lower => {
            let mut probe = info.clone();
            if let Some(vss) = probe.vss_setup.as_mut() {
                vss.min_signers = lower;
            }
            Valid::validate(probe).is_ok()
        }
    };
    if lower_fits {
        return Err(invalid(format!(
            "the shares are a sharing of lower threshold than {}",
            parts.signers
        )));
    }
    Ok(info)
}

/// Builds a cggmp24 ECDSA key share from `parts`, with the cluster's `chain_code` (so HD
/// derivation is the reference's). Holder `k` of the input gets keygen index `k`.
///
/// Errors: [`TssError::InvalidInput`] for inconsistent parts (see the module docs).
pub fn ecdsa_share(
    parts: &ShareParts<'_>,
    chain_code: [u8; 32],
) -> Result<IncompleteKeyShare, TssError> {
    let mut key_info = key_info::<Secp256k1>(parts)?;
    key_info.chain_code = Some(chain_code);
    let x = SecretScalar::<Secp256k1>::from_be_bytes(parts.secret_share)
        .ok()
        .and_then(NonZero::from_secret_scalar)
        .ok_or_else(|| invalid("the secret share is zero or not reduced"))?;
    let core = DirtyCoreKeyShare {
        i: parts.own_position,
        key_info,
        x,
    };
    let valid = Valid::validate(core)
        .map_err(|e| invalid(format!("the secret share does not fit: {}", e.error())))?;
    // The ECDSA wrappers keep their cggmp24 value private; their sealed envelope is the public
    // form (and opening it re-runs the validation).
    let sealed = material::seal(MaterialKind::EcdsaIncompleteKeyShare, &valid)?;
    IncompleteKeyShare::open(&sealed)
}

/// Builds an Ed25519 FROST share from `parts`, with identifiers from the evaluation points.
///
/// Errors: [`TssError::InvalidInput`] for inconsistent parts (see the module docs).
pub fn eddsa_share(parts: &ShareParts<'_>) -> Result<ImportedEddsaShare, TssError> {
    key_info::<Ed25519>(parts)?;
    let identifier = |k: usize, be: &[u8; 32]| {
        let mut le = *be;
        le.reverse();
        Identifier::deserialize(&le)
            .map_err(|_| invalid(format!("evaluation point {k} is not a FROST identifier")))
    };
    let verifying_share = |k: usize, bytes: &[u8]| {
        VerifyingShare::deserialize(bytes)
            .map_err(|_| invalid(format!("public share {k} is not a FROST verifying share")))
    };
    let mut shares = BTreeMap::new();
    let mut ids = Vec::with_capacity(parts.evaluation_points.len());
    for (k, (point, public)) in parts
        .evaluation_points
        .iter()
        .zip(parts.public_shares)
        .enumerate()
    {
        let id = identifier(k, point)?;
        shares.insert(id, verifying_share(k, public)?);
        ids.push(id);
    }
    let own = usize::from(parts.own_position);
    let own_id = *ids
        .get(own)
        .ok_or_else(|| invalid("own position out of range"))?;
    let own_share = *shares
        .get(&own_id)
        .ok_or_else(|| TssError::Bug("own verifying share vanished".into()))?;
    let group_key = VerifyingKey::deserialize(parts.public_key)
        .map_err(|_| invalid("the public key is not a FROST verifying key"))?;
    let mut le = Zeroizing::new(*parts.secret_share);
    le.reverse();
    let signing_share = SigningShare::deserialize(le.as_slice())
        .map_err(|_| invalid("the secret share is not a canonical scalar"))?;
    let key_package = KeyPackage::new(own_id, signing_share, own_share, group_key, parts.signers);
    let public_key_package = PublicKeyPackage::new(shares, group_key, Some(parts.signers));
    let share = EddsaKeyShare::new(key_package, public_key_package)
        .map_err(|e| invalid(format!("the secret share does not fit: {e}")))?;
    let mut holder_order: Vec<usize> = (0..ids.len()).collect();
    holder_order.sort_by_key(|&k| ids.get(k).copied());
    Ok(ImportedEddsaShare {
        share,
        holder_order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    /// A random sharing as the bytes [`ShareParts`] takes.
    struct Split {
        secrets: Vec<[u8; 32]>,
        points: Vec<[u8; 32]>,
        publics: Vec<Vec<u8>>,
        public_key: Vec<u8>,
    }

    /// A random `t`-of-`points.len()` sharing over `E` at the given points.
    fn must_split<E: Curve>(t: u16, points: &[u16]) -> Split {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
        let coefficients: Vec<Scalar<E>> = (0..t).map(|_| Scalar::random(&mut rng)).collect();
        let eval = |x: &Scalar<E>| {
            coefficients
                .iter()
                .rev()
                .fold(Scalar::zero(), |acc, a| acc * x + a)
        };
        let be = |s: Scalar<E>| -> [u8; 32] { s.to_be_bytes().as_bytes().try_into().unwrap() };
        let xs: Vec<Scalar<E>> = points.iter().map(|p| Scalar::from(*p)).collect();
        Split {
            secrets: xs.iter().map(|x| be(eval(x))).collect(),
            points: xs.iter().map(|x| be(*x)).collect(),
            publics: xs
                .iter()
                .map(|x| (Point::generator() * eval(x)).to_bytes(true).to_vec())
                .collect(),
            public_key: (Point::generator() * coefficients[0])
                .to_bytes(true)
                .to_vec(),
        }
    }

    #[test]
    fn inconsistent_parts_are_refused_before_any_share_is_built() {
        let Split {
            secrets,
            points,
            publics,
            public_key: pk,
        } = must_split::<Secp256k1>(2, &[7, 3, 9]);
        let parts = ShareParts {
            evaluation_points: &points,
            public_shares: &publics,
            own_position: 1,
            secret_share: &secrets[1],
            public_key: &pk,
            signers: 2,
        };
        assert!(ecdsa_share(&parts, [0; 32]).is_ok());
        let wrong_secret = ShareParts {
            secret_share: &secrets[0],
            ..parts
        };
        assert!(ecdsa_share(&wrong_secret, [0; 32]).is_err());
        let higher = ShareParts {
            signers: 3,
            ..parts
        };
        let err = ecdsa_share(&higher, [0; 32]).unwrap_err();
        assert!(err.to_string().contains("lower threshold"), "{err}");
        let repeated = [points[0], points[0], points[2]];
        let err = ecdsa_share(
            &ShareParts {
                evaluation_points: &repeated,
                ..parts
            },
            [0; 32],
        )
        .unwrap_err();
        assert!(err.to_string().contains("repeats"), "{err}");
        let swapped = vec![publics[1].clone(), publics[0].clone(), publics[2].clone()];
        assert!(ecdsa_share(
            &ShareParts {
                public_shares: &swapped,
                ..parts
            },
            [0; 32]
        )
        .is_err());
    }

    #[test]
    fn eddsa_holders_get_keygen_indices_by_ascending_identifier() {
        let Split {
            secrets,
            points,
            publics,
            public_key: pk,
        } = must_split::<Ed25519>(2, &[7, 3, 9]);
        let imported = eddsa_share(&ShareParts {
            evaluation_points: &points,
            public_shares: &publics,
            own_position: 0,
            secret_share: &secrets[0],
            public_key: &pk,
            signers: 2,
        })
        .unwrap();
        // Points 7, 3, 9 → ranks: 3 (input 1), 7 (input 0), 9 (input 2).
        assert_eq!(imported.holder_order, vec![1, 0, 2]);
        assert_eq!(
            imported.share.party_of(&imported.share.identifier()),
            Some(1)
        );
        let printed = format!("{:?}", imported.share);
        assert!(!printed.contains(&hex::encode(secrets[0])), "{printed}");
    }
}
