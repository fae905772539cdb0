//! Public child-key derivation, so a client can compute the address a derivation path signs
//! for: mpcium's scheme from `mpcium_protocol::hd`, plus adapters from the key encodings keygen
//! results use.

pub use mpcium_protocol::hd::{
    bip32_secp256k1_ckd_pub, derive_ed25519, derive_secp256k1, DerivedEd25519, DerivedSecp256k1,
    HdError, HARDENED_OFFSET,
};

/// Why a keygen public key could not be read as a secp256k1 point encoding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a secp256k1 public key must be 33 (compressed), 64 (X‖Y, keygen results) or 65 (0x04‖X‖Y) bytes, got {len}")]
pub struct PublicKeyLength {
    /// Length received.
    pub len: usize,
}

/// SEC1-compresses a secp256k1 key given as keygen results carry it (64 bytes X‖Y), as an
/// uncompressed point (65 bytes) or already compressed (33 bytes). The point itself is
/// checked by the derivation functions.
pub fn compress_secp256k1(key: &[u8]) -> Result<[u8; 33], PublicKeyLength> {
    let xy = match key.len() {
        33 => {
            return key
                .try_into()
                .map_err(|_| PublicKeyLength { len: key.len() })
        }
        64 => key,
        65 if key.first() == Some(&0x04) => key.get(1..).unwrap_or_default(),
        len => return Err(PublicKeyLength { len }),
    };
    let (x, y) = xy
        .split_at_checked(32)
        .ok_or(PublicKeyLength { len: key.len() })?;
    let mut out = Vec::with_capacity(33);
    out.push(0x02 | (y.last().copied().unwrap_or_default() & 1));
    out.extend_from_slice(x);
    out.try_into()
        .map_err(|_| PublicKeyLength { len: key.len() })
}

/// The child secp256k1 key at `path` under a wallet's key from a keygen result.
pub fn derive_secp256k1_from_keygen(
    ecdsa_pub_key: &[u8],
    chain_code: &[u8; 32],
    path: &[u32],
) -> Result<DerivedSecp256k1, ChildKeyError> {
    let parent = compress_secp256k1(ecdsa_pub_key)?;
    Ok(derive_secp256k1(&parent, chain_code, path)?)
}

/// Why a child key could not be computed from a keygen public key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChildKeyError {
    /// The parent key has the wrong length.
    #[error(transparent)]
    Length(#[from] PublicKeyLength),
    /// Derivation failed.
    #[error(transparent)]
    Derive(#[from] HdError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn must_generator_xy() -> Vec<u8> {
        // The secp256k1 generator G, X‖Y.
        hex::decode(concat!(
            "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
            "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
        ))
        .unwrap()
    }

    #[test]
    fn keygen_encodings_compress_to_the_same_sec1_point() {
        let xy = must_generator_xy();
        let compressed = compress_secp256k1(&xy).unwrap();
        assert_eq!(
            hex::encode(compressed),
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
        let mut uncompressed = vec![0x04];
        uncompressed.extend_from_slice(&xy);
        assert_eq!(compress_secp256k1(&uncompressed), Ok(compressed));
        assert_eq!(compress_secp256k1(&compressed), Ok(compressed));
        assert_eq!(
            compress_secp256k1(&[0; 10]),
            Err(PublicKeyLength { len: 10 })
        );
    }

    #[test]
    fn deriving_from_a_keygen_key_matches_deriving_from_its_compressed_form() {
        let xy = must_generator_xy();
        let chain = [5u8; 32];
        let via_keygen = derive_secp256k1_from_keygen(&xy, &chain, &[0, 1]).unwrap();
        let direct = derive_secp256k1(&compress_secp256k1(&xy).unwrap(), &chain, &[0, 1]).unwrap();
        assert_eq!(via_keygen, direct);
        assert_ne!(via_keygen.public_key, compress_secp256k1(&xy).unwrap());
        assert!(matches!(
            derive_secp256k1_from_keygen(&xy, &chain, &[HARDENED_OFFSET]),
            Err(ChildKeyError::Derive(HdError::HardenedNotSupported { .. }))
        ));
    }
}
