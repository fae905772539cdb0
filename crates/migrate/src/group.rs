//! The two groups tss-lib shares live in — secp256k1 (`k256`) and edwards25519
//! (`curve25519-dalek`) — behind one small trait, so the share checks are written once:
//! tss-lib coordinates → validated points, integers → scalars modulo the group order, and
//! Lagrange interpolation in the exponent.

use std::ops::{Add, Mul, Sub};

use num_bigint::BigUint;
use zeroize::Zeroize;

use crate::record::KeyType;

/// Why tss-lib coordinates do not give a usable group element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PointError {
    /// A coordinate is not below the field modulus.
    #[error("a coordinate is out of range")]
    CoordinateOutOfRange,
    /// The coordinates do not satisfy the curve equation.
    #[error("is not on the curve")]
    NotOnCurve,
    /// The identity element (no public share or key may be the identity).
    #[error("is the identity")]
    Identity,
    /// An Ed25519 point outside the prime-order subgroup.
    #[error("has a small-order component")]
    NotInPrimeOrderSubgroup,
}

/// A prime-order group with the operations the share checks need.
pub trait Group {
    /// Scalars modulo the group order.
    type Scalar: Copy
        + PartialEq
        + Zeroize
        + Add<Output = Self::Scalar>
        + Sub<Output = Self::Scalar>
        + Mul<Output = Self::Scalar>;
    /// Group elements.
    type Point: Copy
        + PartialEq
        + Add<Output = Self::Point>
        + Mul<Self::Scalar, Output = Self::Point>;

    /// The key type the group carries.
    const KEY_TYPE: KeyType;
    /// Length of [`Group::encode`].
    const ENCODED_LEN: usize;

    /// `0`.
    fn zero() -> Self::Scalar;
    /// The integer with big-endian bytes `be` (any length), reduced modulo the group order.
    fn reduce_be(be: &[u8]) -> Self::Scalar;
    /// The canonical 32-byte big-endian encoding of a scalar.
    fn scalar_to_be(s: &Self::Scalar) -> [u8; 32];
    /// The scalar with canonical 32-byte big-endian encoding `be` (`None` if not below the order).
    fn scalar_from_be(be: &[u8; 32]) -> Option<Self::Scalar>;
    /// `1/s`, `None` for zero.
    fn invert(s: &Self::Scalar) -> Option<Self::Scalar>;
    /// `s·G`.
    fn mul_base(s: &Self::Scalar) -> Self::Point;
    /// The identity element.
    fn identity() -> Self::Point;
    /// The point with tss-lib affine coordinates `(x, y)` (big-endian integers), validated: on
    /// the curve, not the identity, and (Ed25519) in the prime-order subgroup.
    fn from_coords(x: &[u8], y: &[u8]) -> Result<Self::Point, PointError>;
    /// The compressed encoding: SEC1 (33 bytes) for secp256k1, RFC 8032 (32 bytes) for Ed25519.
    fn encode(p: &Self::Point) -> Vec<u8>;
    /// Decodes [`Group::encode`]'s output with the same validation as [`Group::from_coords`].
    fn decode(bytes: &[u8]) -> Result<Self::Point, PointError>;
    /// Affine `(x, y)` as big-endian integers, the form tss-lib writes (public values only).
    fn to_coords(p: &Self::Point) -> (Vec<u8>, Vec<u8>);
}

/// secp256k1.
pub enum Secp256k1 {}

/// edwards25519.
pub enum Ed25519 {}

/// Horner's rule over bytes: `Σ b_i·256^(len-1-i)` in the scalar field.
fn horner<S: Copy + Add<Output = S> + Mul<Output = S>>(
    be: &[u8],
    from_u8: impl Fn(u8) -> S,
    zero: S,
) -> S {
    let base = from_u8(0xff) + from_u8(1);
    be.iter().fold(zero, |acc, b| acc * base + from_u8(*b))
}

impl Group for Secp256k1 {
    type Scalar = k256::Scalar;
    type Point = k256::ProjectivePoint;
    const KEY_TYPE: KeyType = KeyType::Secp256k1;
    const ENCODED_LEN: usize = 33;

    fn zero() -> Self::Scalar {
        k256::Scalar::ZERO
    }

    fn reduce_be(be: &[u8]) -> Self::Scalar {
        horner(be, |b| k256::Scalar::from(u64::from(b)), k256::Scalar::ZERO)
    }

    fn scalar_to_be(s: &Self::Scalar) -> [u8; 32] {
        s.to_bytes().into()
    }

    fn scalar_from_be(be: &[u8; 32]) -> Option<Self::Scalar> {
        use k256::elliptic_curve::PrimeField;
        k256::Scalar::from_repr((*be).into()).into_option()
    }

    fn invert(s: &Self::Scalar) -> Option<Self::Scalar> {
        s.invert().into_option()
    }

    fn mul_base(s: &Self::Scalar) -> Self::Point {
        k256::ProjectivePoint::GENERATOR * s
    }

    fn identity() -> Self::Point {
        k256::ProjectivePoint::IDENTITY
    }

    fn from_coords(x: &[u8], y: &[u8]) -> Result<Self::Point, PointError> {
        use k256::elliptic_curve::sec1::FromEncodedPoint;
        let x = crate::number::to_fixed::<32>(x).ok_or(PointError::CoordinateOutOfRange)?;
        let y = crate::number::to_fixed::<32>(y).ok_or(PointError::CoordinateOutOfRange)?;
        let encoded =
            k256::EncodedPoint::from_affine_coordinates(&(*x).into(), &(*y).into(), false);
        // Rejects coordinates ≥ p as well as points off the curve; affine points are never the
        // identity.
        let affine = k256::AffinePoint::from_encoded_point(&encoded)
            .into_option()
            .ok_or(PointError::NotOnCurve)?;
        Ok(affine.into())
    }

    fn encode(p: &Self::Point) -> Vec<u8> {
        use k256::elliptic_curve::sec1::ToEncodedPoint;
        p.to_affine().to_encoded_point(true).as_bytes().to_vec()
    }

    fn decode(bytes: &[u8]) -> Result<Self::Point, PointError> {
        use k256::elliptic_curve::sec1::FromEncodedPoint;
        let encoded = k256::EncodedPoint::from_bytes(bytes).map_err(|_| PointError::NotOnCurve)?;
        if encoded.is_identity() {
            return Err(PointError::Identity);
        }
        let affine = k256::AffinePoint::from_encoded_point(&encoded)
            .into_option()
            .ok_or(PointError::NotOnCurve)?;
        Ok(affine.into())
    }

    fn to_coords(p: &Self::Point) -> (Vec<u8>, Vec<u8>) {
        secp256k1_coords(p)
    }
}

/// The edwards25519 field modulus `2^255 − 19`.
fn field_modulus() -> BigUint {
    (BigUint::from(1u8) << 255u32) - BigUint::from(19u8)
}

/// The curve constant `d = −121665/121666 mod p`.
fn curve_d(p: &BigUint) -> BigUint {
    let inv = BigUint::from(121_666u32).modpow(&(p - BigUint::from(2u8)), p);
    ((p - BigUint::from(121_665u32)) * inv) % p
}

/// Whether `−x² + y² = 1 + d·x²·y² (mod p)`, the twisted Edwards equation tss-lib's
/// `edwards.Edwards()` curve uses (the Ed25519 curve).
fn on_edwards_curve(x: &BigUint, y: &BigUint, p: &BigUint) -> bool {
    let d = curve_d(p);
    let x2 = (x * x) % p;
    let y2 = (y * y) % p;
    let lhs = (&y2 + p - &x2) % p;
    let rhs = (BigUint::from(1u8) + d * &x2 % p * &y2) % p;
    lhs == rhs
}

impl Group for Ed25519 {
    type Scalar = curve25519_dalek::Scalar;
    type Point = curve25519_dalek::EdwardsPoint;
    const KEY_TYPE: KeyType = KeyType::Ed25519;
    const ENCODED_LEN: usize = 32;

    fn zero() -> Self::Scalar {
        curve25519_dalek::Scalar::ZERO
    }

    fn reduce_be(be: &[u8]) -> Self::Scalar {
        horner(
            be,
            curve25519_dalek::Scalar::from,
            curve25519_dalek::Scalar::ZERO,
        )
    }

    fn scalar_to_be(s: &Self::Scalar) -> [u8; 32] {
        let mut out = s.to_bytes();
        out.reverse();
        out
    }

    fn scalar_from_be(be: &[u8; 32]) -> Option<Self::Scalar> {
        let mut le = *be;
        le.reverse();
        let s = curve25519_dalek::Scalar::from_canonical_bytes(le).into_option();
        le.zeroize();
        s
    }

    fn invert(s: &Self::Scalar) -> Option<Self::Scalar> {
        (*s != curve25519_dalek::Scalar::ZERO).then(|| s.invert())
    }

    fn mul_base(s: &Self::Scalar) -> Self::Point {
        curve25519_dalek::EdwardsPoint::mul_base(s)
    }

    fn identity() -> Self::Point {
        use curve25519_dalek::traits::Identity;
        curve25519_dalek::EdwardsPoint::identity()
    }

    fn from_coords(x: &[u8], y: &[u8]) -> Result<Self::Point, PointError> {
        let p = field_modulus();
        let xi = BigUint::from_bytes_be(x);
        let yi = BigUint::from_bytes_be(y);
        if xi >= p || yi >= p {
            return Err(PointError::CoordinateOutOfRange);
        }
        if !on_edwards_curve(&xi, &yi, &p) {
            return Err(PointError::NotOnCurve);
        }
        // RFC 8032 encoding: y little-endian, top bit = parity of x. For a given y the curve has
        // exactly the two points (±x, y), of opposite parity, so this names (x, y) itself.
        let mut encoded = [0u8; 32];
        let y_le = yi.to_bytes_le();
        encoded
            .get_mut(..y_le.len())
            .ok_or(PointError::CoordinateOutOfRange)?
            .copy_from_slice(&y_le);
        if xi.bit(0) {
            encoded[31] |= 0x80;
        }
        Self::decode(&encoded)
    }

    fn encode(p: &Self::Point) -> Vec<u8> {
        p.compress().as_bytes().to_vec()
    }

    fn decode(bytes: &[u8]) -> Result<Self::Point, PointError> {
        use curve25519_dalek::traits::IsIdentity;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| PointError::NotOnCurve)?;
        let point = curve25519_dalek::edwards::CompressedEdwardsY(bytes)
            .decompress()
            .ok_or(PointError::NotOnCurve)?;
        // Only canonical encodings: decompress accepts y ≥ p and "negative zero" x.
        if point.compress().as_bytes() != &bytes {
            return Err(PointError::CoordinateOutOfRange);
        }
        if point.is_identity() {
            return Err(PointError::Identity);
        }
        if !point.is_torsion_free() {
            return Err(PointError::NotInPrimeOrderSubgroup);
        }
        Ok(point)
    }

    fn to_coords(p: &Self::Point) -> (Vec<u8>, Vec<u8>) {
        ed25519_coords(p)
    }
}

/// Affine coordinates `(x, y)` of an Ed25519 point as big-endian integers, the form tss-lib
/// writes. Public values only.
pub fn ed25519_coords(p: &curve25519_dalek::EdwardsPoint) -> (Vec<u8>, Vec<u8>) {
    let prime = field_modulus();
    let mut compressed = p.compress().to_bytes();
    let x_negative = compressed[31] & 0x80 != 0;
    compressed[31] &= 0x7f;
    let y = BigUint::from_bytes_le(&compressed);
    // x² = (y² − 1) / (d·y² + 1); p ≡ 5 (mod 8), so a square root is u^((p+3)/8), times √−1
    // when that squares to −u.
    let y2 = (&y * &y) % &prime;
    let num = (&y2 + &prime - BigUint::from(1u8)) % &prime;
    let den = (curve_d(&prime) * &y2 + BigUint::from(1u8)) % &prime;
    let u = num * den.modpow(&(&prime - BigUint::from(2u8)), &prime) % &prime;
    let mut x = u.modpow(&((&prime + BigUint::from(3u8)) >> 3u32), &prime);
    if (&x * &x) % &prime != u {
        let sqrt_m1 = BigUint::from(2u8).modpow(&((&prime - BigUint::from(1u8)) >> 2u32), &prime);
        x = x * sqrt_m1 % &prime;
    }
    if x.bit(0) != x_negative {
        x = (&prime - x) % &prime;
    }
    (x.to_bytes_be(), y.to_bytes_be())
}

/// Affine coordinates `(x, y)` of a secp256k1 point as big-endian bytes. Public values only.
pub fn secp256k1_coords(p: &k256::ProjectivePoint) -> (Vec<u8>, Vec<u8>) {
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    let encoded = p.to_affine().to_encoded_point(false);
    let x = encoded.x().map(|x| x.to_vec()).unwrap_or_default();
    let y = encoded.y().map(|y| y.to_vec()).unwrap_or_default();
    (x, y)
}

/// The Lagrange weight at zero of `points[position]` over all of `points`:
/// `Π_{m≠j} x_m / (x_m − x_j)`. `None` if two points are equal.
pub fn lagrange_at_zero<G: Group>(points: &[G::Scalar], position: usize) -> Option<G::Scalar> {
    let me = *points.get(position)?;
    let mut numerator = G::reduce_be(&[1]);
    let mut denominator = G::reduce_be(&[1]);
    for (m, other) in points.iter().enumerate() {
        if m == position {
            continue;
        }
        numerator = numerator * *other;
        denominator = denominator * (*other - me);
    }
    Some(numerator * G::invert(&denominator)?)
}

/// The value at `at` of the polynomial through `(x_j, P_j)` (in the exponent):
/// `Σ_j P_j · Π_{m≠j} (at − x_m) / (x_j − x_m)`. `None` if two `x_j` are equal.
pub fn interpolate<G: Group>(
    xs: &[G::Scalar],
    points: &[G::Point],
    at: &G::Scalar,
) -> Option<G::Point> {
    let mut acc = G::identity();
    for (j, (xj, pj)) in xs.iter().zip(points).enumerate() {
        let mut numerator = G::reduce_be(&[1]);
        let mut denominator = G::reduce_be(&[1]);
        for (m, xm) in xs.iter().enumerate() {
            if m == j {
                continue;
            }
            numerator = numerator * (*at - *xm);
            denominator = denominator * (*xj - *xm);
        }
        acc = acc + *pj * (numerator * G::invert(&denominator)?);
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduction_matches_the_curve_libraries() {
        // 2^256 + 5 reduces to 2^256 + 5 − n.
        let mut be = vec![1u8];
        be.extend([0u8; 31]);
        be.push(5);
        let k = <Secp256k1 as Group>::reduce_be(&be);
        let mut wide = [0u8; 64];
        wide[31] = 1;
        wide[63] = 5;
        use k256::elliptic_curve::ops::Reduce;
        let expected = <k256::Scalar as Reduce<k256::elliptic_curve::bigint::U512>>::reduce(
            k256::elliptic_curve::bigint::U512::from_be_slice(&wide),
        );
        assert_eq!(k, expected);
        let mut le = [0u8; 64];
        le[32] = 1;
        le[0] = 5;
        assert_eq!(
            <Ed25519 as Group>::reduce_be(&be),
            curve25519_dalek::Scalar::from_bytes_mod_order_wide(&le)
        );
    }

    #[test]
    fn coordinates_round_trip_and_off_curve_points_are_refused() {
        let s = <Ed25519 as Group>::reduce_be(b"some scalar");
        let p = Ed25519::mul_base(&s);
        let (x, y) = ed25519_coords(&p);
        assert_eq!(Ed25519::from_coords(&x, &y).unwrap(), p);
        let mut bad_x = x.clone();
        *bad_x.last_mut().unwrap() ^= 2;
        assert_eq!(
            Ed25519::from_coords(&bad_x, &y),
            Err(PointError::NotOnCurve)
        );

        let s = <Secp256k1 as Group>::reduce_be(b"some scalar");
        let p = Secp256k1::mul_base(&s);
        let (x, y) = secp256k1_coords(&p);
        assert_eq!(Secp256k1::from_coords(&x, &y).unwrap(), p);
        let mut bad_y = y.clone();
        bad_y[31] ^= 1;
        assert_eq!(
            Secp256k1::from_coords(&x, &bad_y),
            Err(PointError::NotOnCurve)
        );
    }

    #[test]
    fn ed25519_identity_and_small_order_points_are_refused() {
        // Identity (0, 1).
        assert_eq!(Ed25519::from_coords(&[], &[1]), Err(PointError::Identity));
        // A point of order 2: (0, −1).
        let p = field_modulus();
        let minus_one = (&p - BigUint::from(1u8)).to_bytes_be();
        assert_eq!(
            Ed25519::from_coords(&[], &minus_one),
            Err(PointError::NotInPrimeOrderSubgroup)
        );
    }

    #[test]
    fn interpolation_recovers_the_constant_term() {
        let r = |b: &[u8]| <Secp256k1 as Group>::reduce_be(b);
        let (a0, a1) = (r(b"secret"), r(b"coefficient"));
        let xs = [r(b"x1"), r(b"x2"), r(b"x3")];
        let ys: Vec<_> = xs
            .iter()
            .map(|x| Secp256k1::mul_base(&(a0 + a1 * *x)))
            .collect();
        let zero = Secp256k1::zero();
        assert_eq!(
            interpolate::<Secp256k1>(&xs[..2], &ys[..2], &zero),
            Some(Secp256k1::mul_base(&a0))
        );
        assert_eq!(
            interpolate::<Secp256k1>(&xs[..2], &ys[..2], &xs[2]),
            Some(ys[2])
        );
        let w: Vec<_> = (0..3)
            .map(|j| lagrange_at_zero::<Secp256k1>(&xs, j).unwrap())
            .collect();
        let sum = xs
            .iter()
            .zip(&w)
            .fold(Secp256k1::zero(), |acc, (x, w)| acc + *w * (a0 + a1 * *x));
        assert_eq!(sum, a0);
        assert!(interpolate::<Secp256k1>(&[xs[0], xs[0]], &ys[..2], &zero).is_none());
    }
}
