//! Affine coordinates of Ed25519 points, which `curve25519-dalek` does not expose.
//!
//! The reference's derivation hashes an Edwards point in a secp-style 33-byte form that needs the
//! full affine X coordinate, while the standard 32-byte encoding only carries Y and X's parity. This
//! module recovers X from the encoding (RFC 8032 §5.1.3 decoding). Inputs are public keys, so the
//! variable-time big-integer arithmetic used here leaks nothing secret.

use num_bigint::BigUint;

/// Affine coordinates (x, y) of an Edwards point, both fully reduced modulo p = 2^255 − 19.
pub(super) struct Affine {
    pub(super) x: BigUint,
    pub(super) y: BigUint,
}

fn prime() -> BigUint {
    (BigUint::from(1u8) << 255u32) - BigUint::from(19u8)
}

fn inverse(a: &BigUint, p: &BigUint) -> BigUint {
    a.modpow(&(p - BigUint::from(2u8)), p)
}

/// Recovers the affine coordinates from a canonical 32-byte encoding (as produced by
/// `CompressedEdwardsY` of a decompressed point). Returns `None` if the bytes are not a point.
pub(super) fn affine_from_canonical(encoded: &[u8; 32]) -> Option<Affine> {
    let p = prime();
    let mut y_bytes = *encoded;
    let x_is_odd = y_bytes[31] >> 7 == 1;
    y_bytes[31] &= 0x7f;
    let y = BigUint::from_bytes_le(&y_bytes);
    if y >= p {
        return None;
    }
    // d = −121665 / 121666 (RFC 8032 §5.1).
    let d = (&p - BigUint::from(121_665u32)) * inverse(&BigUint::from(121_666u32), &p) % &p;
    let one = BigUint::from(1u8);
    let yy = &y * &y % &p;
    let u = (&yy + &p - &one) % &p;
    let v = (&d * &yy + &one) % &p;
    let xx = u * inverse(&v, &p) % &p;
    // p ≡ 5 (mod 8): candidate root xx^((p+3)/8), fixed up by sqrt(−1) = 2^((p−1)/4) if needed.
    let mut x = xx.modpow(&((&p + BigUint::from(3u8)) >> 3u32), &p);
    if &x * &x % &p != xx {
        let sqrt_m1 = BigUint::from(2u8).modpow(&((&p - &one) >> 2u32), &p);
        x = x * sqrt_m1 % &p;
        if &x * &x % &p != xx {
            return None;
        }
    }
    if x.bit(0) != x_is_odd {
        if x == BigUint::from(0u8) {
            return None;
        }
        x = &p - x;
    }
    Some(Affine { x, y })
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;

    #[test]
    fn the_base_point_has_the_rfc_8032_coordinates() {
        let g = affine_from_canonical(ED25519_BASEPOINT_POINT.compress().as_bytes())
            .unwrap_or_else(|| panic!("base point must decode"));
        let x: BigUint =
            "15112221349535400772501151409588531511454012693041857206046113283949847762202"
                .parse()
                .unwrap_or_else(|_| panic!("constant"));
        let y: BigUint =
            "46316835694926478169428394003475163141307993866256225615783033603165251855960"
                .parse()
                .unwrap_or_else(|_| panic!("constant"));
        assert_eq!(g.x, x);
        assert_eq!(g.y, y);
    }

    #[test]
    fn the_sign_bit_selects_the_odd_root() {
        let mut neg = (-ED25519_BASEPOINT_POINT).compress().to_bytes();
        let a = affine_from_canonical(&neg).unwrap_or_else(|| panic!("-G must decode"));
        assert!(a.x.bit(0) == (neg[31] >> 7 == 1));
        neg[31] ^= 0x80;
        let b = affine_from_canonical(&neg).unwrap_or_else(|| panic!("G must decode"));
        assert_eq!(a.x.clone() + b.x, prime());
    }

    #[test]
    fn a_y_without_a_matching_x_is_rejected() {
        // y = 2 is not the y coordinate of any Ed25519 point.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        assert!(affine_from_canonical(&bytes).is_none());
    }
}
