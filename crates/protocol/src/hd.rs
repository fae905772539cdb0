//! Non-hardened child-key derivation for both curves, as pure functions of public data.
//!
//! Two schemes live here:
//! * **mpcium's scheme** ([`derive_secp256k1`], [`derive_ed25519`]), reproduced byte for byte from
//!   the Go reference so derivation paths keep yielding the same child keys and addresses. Per index
//!   `i`: `I = HMAC-SHA512(chain_code, ser33(P) ‖ ser32be(i))`, `δ_i = int(I[..32]) mod n`,
//!   `P' = P + δ_i·G`, next chain code `I[32..]`. `ser33` is SEC1 compression (`0x02`/`0x03` by the
//!   parity of affine Y, then affine X big-endian) — applied to Edwards points too, which makes the
//!   Ed25519 variant a bespoke scheme (neither SLIP-10 nor BIP32-Ed25519). The tweak of the whole
//!   path is `Σ δ_i mod n`; signers add it to their shares.
//! * **standard BIP32** public derivation for secp256k1 ([`bip32_secp256k1_ckd_pub`]), which rejects
//!   `int(I[..32]) ≥ n` instead of reducing it.
//!
//! Nothing here depends on the threshold protocols, so client SDKs can compute child public keys.
//! Hardened indices (≥ 2^31) need the private key and are rejected.

mod edwards;

use curve25519_dalek::edwards::CompressedEdwardsY;
use hmac::digest::crypto_common::{KeyInit, KeySizeUser};
use hmac::digest::generic_array::GenericArray;
use hmac::{Hmac, Mac};
use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, EncodedPoint, ProjectivePoint, U256};
use sha2::Sha512;

/// First hardened child index (2^31); indices at or above it are rejected.
pub const HARDENED_OFFSET: u32 = 0x8000_0000;

/// Why a derivation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HdError {
    /// The path contains a hardened index, which public derivation cannot compute.
    #[error("hardened derivation is not supported (index {index}); use indices below 2^31")]
    HardenedNotSupported {
        /// The offending index.
        index: u32,
    },
    /// The parent public key does not encode a point of the curve.
    #[error("the parent public key is not a valid {curve} point")]
    InvalidPublicKey {
        /// Curve name.
        curve: &'static str,
    },
    /// This index yields no valid child (zero or out-of-range tweak, or a degenerate point);
    /// callers should use the next index, as BIP32 prescribes.
    #[error("index {index} yields no valid child key; use the next index")]
    InvalidChild {
        /// The offending index.
        index: u32,
    },
}

/// A derived secp256k1 child key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DerivedSecp256k1 {
    /// SEC1-compressed child public key.
    pub public_key: [u8; 33],
    /// Chain code of the child (the last step's `I[32..]`).
    pub chain_code: [u8; 32],
    /// Sum of the per-step tweaks modulo n, as a 32-byte big-endian scalar: child = parent + tweak·G.
    pub tweak: [u8; 32],
}

/// A derived Ed25519 child key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DerivedEd25519 {
    /// RFC 8032 32-byte encoding of the child public key.
    pub public_key: [u8; 32],
    /// Chain code of the child (the last step's `I[32..]`).
    pub chain_code: [u8; 32],
    /// Sum of the per-step tweaks modulo ℓ, as a 32-byte little-endian scalar (RFC 8032 order):
    /// child = parent + tweak·B.
    pub tweak: [u8; 32],
}

/// `HMAC-SHA512(chain_code, ser33 ‖ ser32be(index))`, split into (IL, IR).
fn ckd_hmac(chain_code: &[u8; 32], ser33: &[u8; 33], index: u32) -> ([u8; 32], [u8; 32]) {
    // HMAC zero-pads keys shorter than the hash block, so padding the 32-byte chain code to the
    // 128-byte SHA-512 block ourselves gives the same MAC through the infallible constructor.
    let mut key = GenericArray::<u8, <Hmac<Sha512> as KeySizeUser>::KeySize>::default();
    if let Some(prefix) = key.get_mut(..32) {
        prefix.copy_from_slice(chain_code);
    }
    let mut mac = <Hmac<Sha512> as KeyInit>::new(&key);
    mac.update(ser33);
    mac.update(&index.to_be_bytes());
    let out = mac.finalize().into_bytes();
    let mut il = [0u8; 32];
    let mut ir = [0u8; 32];
    let (left, right) = out.split_at(32);
    il.copy_from_slice(left);
    ir.copy_from_slice(right);
    (il, ir)
}

fn check_index(index: u32) -> Result<(), HdError> {
    if index >= HARDENED_OFFSET {
        return Err(HdError::HardenedNotSupported { index });
    }
    Ok(())
}

const SECP: &str = "secp256k1";

fn parse_secp(parent: &[u8; 33]) -> Result<ProjectivePoint, HdError> {
    // Only SEC1 compressed points (`EncodedPoint` would also take the 0x05 "compact" tag).
    if !matches!(parent.first(), Some(0x02 | 0x03)) {
        return Err(HdError::InvalidPublicKey { curve: SECP });
    }
    let encoded =
        EncodedPoint::from_bytes(parent).map_err(|_| HdError::InvalidPublicKey { curve: SECP })?;
    Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&encoded))
        .map(ProjectivePoint::from)
        .ok_or(HdError::InvalidPublicKey { curve: SECP })
}

fn ser33_secp(point: &ProjectivePoint) -> Result<[u8; 33], HdError> {
    let encoded = point.to_affine().to_encoded_point(true);
    <[u8; 33]>::try_from(encoded.as_bytes()).map_err(|_| HdError::InvalidPublicKey { curve: SECP })
}

/// How a secp256k1 step turns IL into a scalar.
#[derive(Clone, Copy)]
enum IlRule {
    /// mpcium: reduce modulo n.
    Reduce,
    /// BIP32: reject IL ≥ n.
    Reject,
}

fn derive_secp(
    parent: &[u8; 33],
    chain_code: &[u8; 32],
    path: &[u32],
    rule: IlRule,
) -> Result<DerivedSecp256k1, HdError> {
    let mut point = parse_secp(parent)?;
    let mut chain = *chain_code;
    let mut tweak = k256::Scalar::ZERO;
    for &index in path {
        check_index(index)?;
        let (il, ir) = ckd_hmac(&chain, &ser33_secp(&point)?, index);
        let delta = match rule {
            IlRule::Reduce => <k256::Scalar as Reduce<U256>>::reduce_bytes(&il.into()),
            IlRule::Reject => Option::<k256::Scalar>::from(k256::Scalar::from_repr(il.into()))
                .ok_or(HdError::InvalidChild { index })?,
        };
        if bool::from(delta.is_zero()) {
            return Err(HdError::InvalidChild { index });
        }
        point += ProjectivePoint::GENERATOR * delta;
        if point == ProjectivePoint::IDENTITY {
            return Err(HdError::InvalidChild { index });
        }
        tweak += delta;
        chain = ir;
    }
    Ok(DerivedSecp256k1 {
        public_key: ser33_secp(&point)?,
        chain_code: chain,
        tweak: tweak.to_bytes().into(),
    })
}

/// Derives a secp256k1 child public key with mpcium's scheme (IL reduced modulo n).
pub fn derive_secp256k1(
    parent: &[u8; 33],
    chain_code: &[u8; 32],
    path: &[u32],
) -> Result<DerivedSecp256k1, HdError> {
    derive_secp(parent, chain_code, path, IlRule::Reduce)
}

/// Standard BIP32 `CKDpub` along a non-hardened path: like [`derive_secp256k1`] except that an IL
/// of at least n makes the index invalid ([`HdError::InvalidChild`]) instead of being reduced.
pub fn bip32_secp256k1_ckd_pub(
    parent: &[u8; 33],
    chain_code: &[u8; 32],
    path: &[u32],
) -> Result<DerivedSecp256k1, HdError> {
    derive_secp(parent, chain_code, path, IlRule::Reject)
}

const ED: &str = "ed25519";

/// mpcium's `ser33` of an Edwards point: `0x02 | parity(y)`, then affine X as 32 bytes big-endian.
/// Errors if the point is degenerate (X or Y zero), which the reference also refuses.
fn ser33_edwards(encoded: &[u8; 32]) -> Option<[u8; 33]> {
    let affine = edwards::affine_from_canonical(encoded)?;
    let zero = num_bigint::BigUint::from(0u8);
    if affine.x == zero || affine.y == zero {
        return None;
    }
    let x = affine.x.to_bytes_be();
    let mut out = [0u8; 33];
    out[0] = if affine.y.bit(0) { 0x03 } else { 0x02 };
    // x < p < 2^255, so it fits in 32 bytes; left-pad with zeros.
    let start = 33usize.checked_sub(x.len())?;
    out.get_mut(start..)?.copy_from_slice(&x);
    Some(out)
}

/// Derives an Ed25519 child public key with mpcium's scheme (see the module docs).
pub fn derive_ed25519(
    parent: &[u8; 32],
    chain_code: &[u8; 32],
    path: &[u32],
) -> Result<DerivedEd25519, HdError> {
    let mut point = CompressedEdwardsY(*parent)
        .decompress()
        .ok_or(HdError::InvalidPublicKey { curve: ED })?;
    // Work from the canonical re-encoding, as the reference does from parsed coordinates.
    let mut encoded = point.compress().to_bytes();
    let mut ser33 = ser33_edwards(&encoded).ok_or(HdError::InvalidPublicKey { curve: ED })?;
    let mut chain = *chain_code;
    let mut tweak = curve25519_dalek::Scalar::ZERO;
    for &index in path {
        check_index(index)?;
        let (il, ir) = ckd_hmac(&chain, &ser33, index);
        // IL is a big-endian integer (Go's big.Int.SetBytes); dalek reads little-endian.
        let mut il_le = il;
        il_le.reverse();
        let delta = curve25519_dalek::Scalar::from_bytes_mod_order(il_le);
        if delta == curve25519_dalek::Scalar::ZERO {
            return Err(HdError::InvalidChild { index });
        }
        point += curve25519_dalek::EdwardsPoint::mul_base(&delta);
        encoded = point.compress().to_bytes();
        ser33 = ser33_edwards(&encoded).ok_or(HdError::InvalidChild { index })?;
        tweak += delta;
        chain = ir;
    }
    Ok(DerivedEd25519 {
        public_key: encoded,
        chain_code: chain,
        tweak: tweak.to_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;

    fn must_hex<const N: usize>(s: &str) -> [u8; N] {
        let bytes = hex::decode(s).expect("valid hex");
        bytes.try_into().expect("right length")
    }

    fn secp_generator() -> [u8; 33] {
        ser33_secp(&ProjectivePoint::GENERATOR).expect("generator encodes")
    }

    fn counting_chain_code() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    // Golden vectors pinned by the reference (pkg/ckdutil golden_compat_test.go, captured against
    // fystack/tss-lib v3.0.1): master = the curve's generator, chain code 00 01 .. 1f.
    #[test]
    fn secp256k1_derivation_matches_the_reference_golden_vectors() {
        let cases = [
            (
                "0250390820cfe4ddbba5f230b99288b194177e928896802d5b3a745339ed55805f",
                [44, 60, 0, 0, 0],
            ),
            (
                "02c8c491ebdaa1b7576cc3b72c457dad089e954a45f0e2d1b4006600cd72085194",
                [44, 60, 0, 0, 7],
            ),
        ];
        for (want, path) in cases {
            let got = derive_secp256k1(&secp_generator(), &counting_chain_code(), &path)
                .expect("derivation succeeds");
            assert_eq!(hex::encode(got.public_key), want, "path {path:?}");
        }
    }

    #[test]
    fn ed25519_derivation_matches_the_reference_golden_vectors() {
        let cases = [
            (
                "cf7d5569333be69b5488e36dd2ee07cd7f4b068a287638d02a1958cd64011a64",
                [44, 501, 0, 0],
            ),
            (
                "1b36b2acad34ac48134cd6f1fce6e1e9be975e6f33dfc39888aaee23e4918d6c",
                [44, 501, 7, 0],
            ),
        ];
        let g = ED25519_BASEPOINT_POINT.compress().to_bytes();
        for (want, path) in cases {
            let got =
                derive_ed25519(&g, &counting_chain_code(), &path).expect("derivation succeeds");
            assert_eq!(hex::encode(got.public_key), want, "path {path:?}");
        }
    }

    #[test]
    fn the_ed25519_tweak_moves_the_parent_to_the_child() {
        let parent = (ED25519_BASEPOINT_POINT * curve25519_dalek::Scalar::from(7u8)).compress();
        let d = derive_ed25519(parent.as_bytes(), &[9u8; 32], &[1, 2, 3]).expect("derives");
        let tweak = curve25519_dalek::Scalar::from_canonical_bytes(d.tweak).expect("canonical");
        let expected = parent.decompress().expect("point") + ED25519_BASEPOINT_POINT * tweak;
        assert_eq!(expected.compress().to_bytes(), d.public_key);
    }

    #[test]
    fn the_secp256k1_tweak_moves_the_parent_to_the_child() {
        let d = derive_secp256k1(&secp_generator(), &[5u8; 32], &[0, 1]).expect("derives");
        let tweak = Option::<k256::Scalar>::from(k256::Scalar::from_repr(d.tweak.into()))
            .expect("canonical");
        let expected = ProjectivePoint::GENERATOR * (k256::Scalar::ONE + tweak);
        assert_eq!(ser33_secp(&expected).expect("encodes"), d.public_key);
    }

    #[test]
    fn an_empty_path_returns_the_parent_with_a_zero_tweak() {
        let g = ED25519_BASEPOINT_POINT.compress().to_bytes();
        let d = derive_ed25519(&g, &[1u8; 32], &[]).expect("derives");
        assert_eq!(d.public_key, g);
        assert_eq!(d.tweak, [0u8; 32]);
        assert_eq!(d.chain_code, [1u8; 32]);
    }

    #[test]
    fn derivation_is_path_composable() {
        let g = ED25519_BASEPOINT_POINT.compress().to_bytes();
        let cc = counting_chain_code();
        let whole = derive_ed25519(&g, &cc, &[44, 501, 7, 0]).expect("derives");
        let head = derive_ed25519(&g, &cc, &[44, 501]).expect("derives");
        let tail = derive_ed25519(&head.public_key, &head.chain_code, &[7, 0]).expect("derives");
        assert_eq!(whole.public_key, tail.public_key);
        assert_eq!(whole.chain_code, tail.chain_code);
    }

    #[test]
    fn hardened_indices_are_rejected_with_the_index() {
        let err = derive_secp256k1(&secp_generator(), &[0u8; 32], &[1, HARDENED_OFFSET + 5])
            .expect_err("hardened");
        assert_eq!(
            err,
            HdError::HardenedNotSupported {
                index: HARDENED_OFFSET + 5
            }
        );
        let g = ED25519_BASEPOINT_POINT.compress().to_bytes();
        let err = derive_ed25519(&g, &[0u8; 32], &[HARDENED_OFFSET]).expect_err("hardened");
        assert_eq!(
            err,
            HdError::HardenedNotSupported {
                index: HARDENED_OFFSET
            }
        );
    }

    #[test]
    fn invalid_parent_keys_are_rejected() {
        let mut bad = secp_generator();
        bad[0] = 0x05;
        assert_eq!(
            derive_secp256k1(&bad, &[0u8; 32], &[0]),
            Err(HdError::InvalidPublicKey { curve: "secp256k1" })
        );
        // secp256k1 has no point with X = 0 (7 is not a square modulo p).
        let mut off_curve = [0u8; 33];
        off_curve[0] = 0x02;
        assert_eq!(
            derive_secp256k1(&off_curve, &[0u8; 32], &[0]),
            Err(HdError::InvalidPublicKey { curve: "secp256k1" })
        );
        // The identity is a valid encoding but has X = 0, which the reference refuses.
        let identity =
            must_hex::<32>("0100000000000000000000000000000000000000000000000000000000000000");
        assert_eq!(
            derive_ed25519(&identity, &[0u8; 32], &[0]),
            Err(HdError::InvalidPublicKey { curve: "ed25519" })
        );
    }

    #[test]
    fn edwards_ser33_is_sec1_style_big_endian_x_with_y_parity_prefix() {
        let g = ED25519_BASEPOINT_POINT.compress().to_bytes();
        let got = ser33_edwards(&g).expect("base point");
        // Gx = 0x216936d3...25d51a, Gy = 0x6666...6658 (even).
        let want =
            must_hex::<33>("02216936d3cd6e53fec0a4e231fdd6dc5c692cc7609525a7b2c9562d608f25d51a");
        assert_eq!(got, want);
    }
}
