//! The hash a node applies to a signing request's message before ECDSA signing (`hash` on the
//! wire, extended request form only).
//!
//! With a hash mode the client sends the message itself and every node computes the 32-byte
//! digest, so nodes know what they sign. Without one (the reference form) `tx` *is* the digest.
//! Ed25519 never uses this: it signs the message itself (RFC 8032 hashes internally).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};
use sha3::Keccak256;

/// How a node turns a message into the 32-byte digest it signs with ECDSA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageHash {
    /// Keccak-256 (Ethereum), wire `"keccak256"`.
    Keccak256,
    /// SHA-256, wire `"sha256"`.
    Sha256,
    /// SHA-256 applied twice (Bitcoin), wire `"sha256d"`.
    Sha256d,
}

/// A `hash` string that names no supported hash mode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash: expected \"keccak256\", \"sha256\" or \"sha256d\"")]
pub struct UnknownMessageHash;

impl MessageHash {
    /// Every mode, in wire-documentation order.
    pub const ALL: [MessageHash; 3] = [Self::Keccak256, Self::Sha256, Self::Sha256d];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keccak256 => "keccak256",
            Self::Sha256 => "sha256",
            Self::Sha256d => "sha256d",
        }
    }

    /// The 32-byte digest of `msg`.
    pub fn digest(self, msg: &[u8]) -> [u8; 32] {
        match self {
            Self::Keccak256 => Keccak256::digest(msg).into(),
            Self::Sha256 => Sha256::digest(msg).into(),
            Self::Sha256d => Sha256::digest(Sha256::digest(msg)).into(),
        }
    }
}

impl FromStr for MessageHash {
    type Err = UnknownMessageHash;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or(UnknownMessageHash)
    }
}

impl fmt::Display for MessageHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_published_test_vectors() {
        assert_eq!(
            hex::encode(MessageHash::Sha256.digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(MessageHash::Keccak256.digest(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert_eq!(
            hex::encode(MessageHash::Sha256d.digest(b"abc")),
            "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358"
        );
    }

    #[test]
    fn every_mode_round_trips_through_its_wire_string() {
        for h in MessageHash::ALL {
            assert_eq!(h.as_str().parse::<MessageHash>(), Ok(h));
            assert_eq!(h.to_string(), h.as_str());
        }
    }

    #[test]
    fn unknown_and_differently_cased_names_are_rejected() {
        for s in ["", "SHA256", "keccak-256", "sha3", "blake2b"] {
            assert_eq!(s.parse::<MessageHash>(), Err(UnknownMessageHash), "{s}");
        }
    }
}
