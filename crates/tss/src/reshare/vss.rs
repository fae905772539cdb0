//! The curve-generic arithmetic of resharing: secret polynomials and their Feldman commitments,
//! evaluation of committed polynomials at an index, Lagrange weights at zero, and interpolation of
//! public shares. Written once over `generic-ec` curves; the protocol and the curve adapters use
//! nothing else.

use generic_ec::{Curve, NonZero, Point, Scalar, SecretScalar};
use rand_core::{CryptoRng, RngCore};

/// A secret polynomial `f(x) = a_0 + a_1·x + … + a_{t-1}·x^{t-1}`, i.e. a Shamir sharing that
/// `t` evaluations reconstruct. Coefficients are zeroized on drop; `Debug` is not implemented.
pub(super) struct Polynomial<E: Curve> {
    coefficients: Vec<SecretScalar<E>>,
}

impl<E: Curve> Polynomial<E> {
    /// A random polynomial with `f(0) = constant` that `signers` evaluations reconstruct.
    pub fn random_with_constant<R: RngCore + CryptoRng>(
        constant: SecretScalar<E>,
        signers: u16,
        rng: &mut R,
    ) -> Self {
        let mut coefficients = Vec::with_capacity(usize::from(signers));
        coefficients.push(constant);
        for _ in 1..signers {
            coefficients.push(SecretScalar::random(rng));
        }
        Self { coefficients }
    }

    /// Feldman commitments `C_k = a_k·G`, one per coefficient.
    pub fn commitments(&self) -> Vec<Point<E>> {
        self.coefficients
            .iter()
            .map(|a| Point::generator() * a)
            .collect()
    }

    /// `f(x)` by Horner's rule.
    pub fn evaluate(&self, x: &Scalar<E>) -> SecretScalar<E> {
        let mut acc = Scalar::<E>::zero();
        for a in self.coefficients.iter().rev() {
            acc = acc * x + a.as_ref();
        }
        SecretScalar::new(&mut acc)
    }
}

/// `F(x)·G = Σ_k x^k·C_k` for Feldman commitments `C` (Horner's rule on points).
pub(super) fn evaluate_commitments<E: Curve>(commitments: &[Point<E>], x: &Scalar<E>) -> Point<E> {
    commitments
        .iter()
        .rev()
        .fold(Point::zero(), |acc, c| acc * x + c)
}

/// The Lagrange weight at zero of the `position`-th of `indices`:
/// `λ = Π_{k≠position} I_k / (I_k − I_position)`, so that `Σ λ_i·f(I_i) = f(0)` for any polynomial
/// of degree below `indices.len()`. `None` if the indices are not pairwise distinct or `position`
/// is out of range.
pub(super) fn lagrange_at_zero<E: Curve>(
    indices: &[NonZero<Scalar<E>>],
    position: usize,
) -> Option<Scalar<E>> {
    let me: Scalar<E> = (*indices.get(position)?).into();
    let mut numerator = Scalar::<E>::one();
    let mut denominator = Scalar::<E>::one();
    for (k, other) in indices.iter().enumerate() {
        if k == position {
            continue;
        }
        let other: Scalar<E> = (*other).into();
        numerator *= other;
        denominator *= other - me;
    }
    Some(numerator * denominator.invert()?)
}

/// `Σ λ_i·P_i` over `(index, point)` pairs: the value at zero of the committed polynomial whose
/// evaluations the points are. `None` if the indices are not pairwise distinct.
pub(super) fn interpolate_at_zero<E: Curve>(
    shares: &[(NonZero<Scalar<E>>, Point<E>)],
) -> Option<Point<E>> {
    let indices: Vec<NonZero<Scalar<E>>> = shares.iter().map(|(i, _)| *i).collect();
    let mut acc = Point::zero();
    for (position, (_, point)) in shares.iter().enumerate() {
        acc += lagrange_at_zero(&indices, position)? * point;
    }
    Some(acc)
}

/// The scalar index `j` (a small positive integer) as a non-zero scalar.
pub(super) fn index_scalar<E: Curve>(j: u16) -> Option<NonZero<Scalar<E>>> {
    NonZero::from_scalar(Scalar::from(j))
}

#[cfg(test)]
mod tests {
    use super::*;
    use generic_ec::curves::{Ed25519, Secp256k1};
    use rand_chacha::rand_core::SeedableRng;

    fn must_indices<E: Curve>(js: &[u16]) -> Vec<NonZero<Scalar<E>>> {
        js.iter()
            .map(|&j| index_scalar(j).expect("non-zero"))
            .collect()
    }

    fn shares_reconstruct_the_constant<E: Curve>() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let secret = SecretScalar::<E>::random(&mut rng);
        let f = Polynomial::random_with_constant(secret.clone(), 3, &mut rng);
        let commitments = f.commitments();
        let indices = must_indices::<E>(&[2, 5, 9]);
        let mut sum = Scalar::<E>::zero();
        for (position, i) in indices.iter().enumerate() {
            let share = f.evaluate(i.as_ref());
            assert_eq!(
                Point::generator() * &share,
                evaluate_commitments(&commitments, i.as_ref()),
                "a share matches the commitments"
            );
            sum += lagrange_at_zero(&indices, position).expect("distinct") * share.as_ref();
        }
        assert_eq!(sum, *secret.as_ref());
        let points: Vec<_> = indices
            .iter()
            .map(|i| (*i, evaluate_commitments(&commitments, i.as_ref())))
            .collect();
        assert_eq!(
            interpolate_at_zero(&points),
            Some(Point::generator() * &secret)
        );
        // Two evaluations of a degree-2 polynomial do not determine its constant.
        assert_ne!(
            interpolate_at_zero(&points[..2]),
            Some(Point::generator() * &secret)
        );
    }

    #[test]
    fn three_shares_of_a_secp256k1_polynomial_reconstruct_its_constant_and_two_do_not() {
        shares_reconstruct_the_constant::<Secp256k1>();
    }

    #[test]
    fn three_shares_of_an_ed25519_polynomial_reconstruct_its_constant_and_two_do_not() {
        shares_reconstruct_the_constant::<Ed25519>();
    }

    #[test]
    fn repeated_indices_have_no_lagrange_weight() {
        let indices = must_indices::<Secp256k1>(&[1, 1]);
        assert!(lagrange_at_zero(&indices, 0).is_none());
        assert!(lagrange_at_zero(&must_indices::<Secp256k1>(&[1, 2]), 2).is_none());
    }

    #[test]
    fn a_shifted_share_does_not_match_the_commitments() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let f = Polynomial::<Secp256k1>::random_with_constant(
            SecretScalar::random(&mut rng),
            2,
            &mut rng,
        );
        let x = Scalar::from(4u16);
        let bad = f.evaluate(&x).as_ref() + Scalar::one();
        assert_ne!(
            Point::generator() * bad,
            evaluate_commitments(&f.commitments(), &x)
        );
    }
}
