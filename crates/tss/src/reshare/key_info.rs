//! [`KeyInfo`]: the public description of a Shamir-shared key that resharing reads (the old key)
//! and writes (the new key) — shared public key, threshold, every holder's index and public share,
//! chain code — and its digest, which parties compare instead of the whole structure.

use generic_ec::{Curve, NonZero, Point, Scalar};
use sha2::{Digest, Sha256};

use super::vss;
use crate::TssError;

/// Public key info of a Shamir-shared key, curve-generic.
///
/// Invariant (checked by [`KeyInfo::new`]): at least two holders, `2 ≤ min_signers ≤ holders`,
/// one distinct non-zero index per holder, and every public share lies on the polynomial whose
/// value at zero is `shared_public_key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct KeyInfo<E: Curve> {
    shared_public_key: NonZero<Point<E>>,
    min_signers: u16,
    indices: Vec<NonZero<Scalar<E>>>,
    public_shares: Vec<NonZero<Point<E>>>,
    chain_code: Option<[u8; 32]>,
}

impl<E: Curve> KeyInfo<E> {
    /// Checks and wraps the parts; errors are [`TssError::Material`] (inconsistent key info).
    pub fn new(
        shared_public_key: NonZero<Point<E>>,
        min_signers: u16,
        indices: Vec<NonZero<Scalar<E>>>,
        public_shares: Vec<NonZero<Point<E>>>,
        chain_code: Option<[u8; 32]>,
    ) -> Result<Self, TssError> {
        let bad = |what: &str| TssError::Material(format!("key info: {what}"));
        let n = public_shares.len();
        if n < 2 || indices.len() != n {
            return Err(bad("needs at least two holders, each with one index"));
        }
        if min_signers < 2 || usize::from(min_signers) > n {
            return Err(bad("threshold does not fit the holders"));
        }
        let shares: Vec<(NonZero<Scalar<E>>, Point<E>)> = indices
            .iter()
            .zip(&public_shares)
            .map(|(i, x)| (*i, (*x).into()))
            .collect();
        let first = shares
            .get(..usize::from(min_signers))
            .ok_or_else(|| bad("threshold does not fit the holders"))?;
        if vss::interpolate_at_zero(first) != Some(shared_public_key.into()) {
            return Err(bad(
                "public shares do not interpolate to the shared public key (or indices repeat)",
            ));
        }
        // Every further share must lie on the same polynomial: interpolating any `min_signers`
        // of them gives the same value at zero.
        for extra in shares.iter().skip(usize::from(min_signers)) {
            let set: Vec<_> = first
                .iter()
                .skip(1)
                .chain(std::iter::once(extra))
                .copied()
                .collect();
            if vss::interpolate_at_zero(&set) != Some(shared_public_key.into()) {
                return Err(bad("a public share is not on the key's polynomial"));
            }
        }
        Ok(Self {
            shared_public_key,
            min_signers,
            indices,
            public_shares,
            chain_code,
        })
    }

    /// The shared public key.
    pub fn shared_public_key(&self) -> NonZero<Point<E>> {
        self.shared_public_key
    }

    /// Signers required.
    pub fn min_signers(&self) -> u16 {
        self.min_signers
    }

    /// Number of holders.
    pub fn holders(&self) -> usize {
        self.public_shares.len()
    }

    /// Share index of holder `k`.
    pub fn index(&self, k: u16) -> Option<NonZero<Scalar<E>>> {
        self.indices.get(usize::from(k)).copied()
    }

    /// Public share of holder `k`.
    pub fn public_share(&self, k: u16) -> Option<NonZero<Point<E>>> {
        self.public_shares.get(usize::from(k)).copied()
    }

    /// All share indices in holder order.
    pub fn indices(&self) -> &[NonZero<Scalar<E>>] {
        &self.indices
    }

    /// All public shares in holder order.
    pub fn public_shares(&self) -> &[NonZero<Point<E>>] {
        &self.public_shares
    }

    /// The chain code carried with the key (ECDSA HD derivation), if any.
    pub fn chain_code(&self) -> Option<[u8; 32]> {
        self.chain_code
    }

    /// SHA-256 over everything above, domain-separated and length-prefixed; equal digests mean
    /// equal key infos.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"mpcium-rs/reshare/key-info/v1");
        absorb(&mut h, E::CURVE_NAME.as_bytes());
        absorb(&mut h, &self.shared_public_key.to_bytes(true));
        h.update(self.min_signers.to_be_bytes());
        h.update((self.public_shares.len() as u64).to_be_bytes());
        for (i, x) in self.indices.iter().zip(&self.public_shares) {
            absorb(&mut h, &i.to_be_bytes());
            absorb(&mut h, &x.to_bytes(true));
        }
        match self.chain_code {
            Some(code) => {
                h.update([1]);
                h.update(code);
            }
            None => h.update([0]),
        }
        h.finalize().into()
    }
}

/// Length-prefixed absorb, so that field boundaries cannot shift.
pub(super) fn absorb(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use generic_ec::curves::Secp256k1;
    use generic_ec::SecretScalar;
    use rand_chacha::rand_core::SeedableRng;

    /// Key info of a random 2-of-3 sharing.
    fn must_key_info() -> KeyInfo<Secp256k1> {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let secret = SecretScalar::random(&mut rng);
        let f = vss::Polynomial::random_with_constant(secret.clone(), 2, &mut rng);
        let indices: Vec<_> = (1..=3)
            .map(|j| vss::index_scalar(j).expect("index"))
            .collect();
        let shares = indices
            .iter()
            .map(|i| NonZero::from_point(Point::generator() * f.evaluate(i.as_ref())))
            .collect::<Option<Vec<_>>>()
            .expect("non-zero shares");
        let pk = NonZero::from_point(Point::generator() * &secret).expect("non-zero key");
        KeyInfo::new(pk, 2, indices, shares, Some([9; 32])).expect("consistent")
    }

    #[test]
    fn consistent_key_info_is_accepted_and_digests_stably() {
        let info = must_key_info();
        assert_eq!(info.digest(), info.clone().digest());
        let mut other = info.clone();
        other.chain_code = None;
        assert_ne!(info.digest(), other.digest());
    }

    #[test]
    fn a_public_share_off_the_polynomial_is_refused() {
        let info = must_key_info();
        let mut shares = info.public_shares.clone();
        shares.swap(1, 2);
        let err = KeyInfo::new(
            info.shared_public_key,
            2,
            info.indices.clone(),
            shares,
            None,
        )
        .expect_err("inconsistent");
        assert_eq!(err.kind(), crate::ErrorKind::Material);
    }

    #[test]
    fn a_threshold_that_does_not_fit_is_refused() {
        let info = must_key_info();
        for t in [1, 4] {
            assert!(KeyInfo::new(
                info.shared_public_key,
                t,
                info.indices.clone(),
                info.public_shares.clone(),
                None,
            )
            .is_err());
        }
    }
}
