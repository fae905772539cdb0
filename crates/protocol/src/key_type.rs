//! The wallet key types a request can name (`key_type` on the wire).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Curve of a wallet key: every wallet has one key of each type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KeyType {
    /// ECDSA over secp256k1 (`"secp256k1"`).
    #[serde(rename = "secp256k1")]
    Secp256k1,
    /// EdDSA over Ed25519 (`"ed25519"`).
    #[serde(rename = "ed25519")]
    Ed25519,
}

/// A `key_type` string that names no supported key type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown key type: expected \"secp256k1\" or \"ed25519\"")]
pub struct UnknownKeyType;

impl KeyType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secp256k1 => "secp256k1",
            Self::Ed25519 => "ed25519",
        }
    }
}

impl FromStr for KeyType {
    type Err = UnknownKeyType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "secp256k1" => Ok(Self::Secp256k1),
            "ed25519" => Ok(Self::Ed25519),
            _ => Err(UnknownKeyType),
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_types_round_trip_through_their_wire_names() {
        for kt in [KeyType::Secp256k1, KeyType::Ed25519] {
            assert_eq!(kt.as_str().parse::<KeyType>(), Ok(kt));
            assert_eq!(
                serde_json::to_string(&kt).unwrap(),
                format!("\"{}\"", kt.as_str())
            );
            assert_eq!(
                serde_json::from_str::<KeyType>(&format!("\"{kt}\"")).unwrap(),
                kt
            );
        }
    }

    #[test]
    fn key_type_names_are_case_sensitive_and_closed() {
        assert_eq!("ECDSA".parse::<KeyType>(), Err(UnknownKeyType));
        assert_eq!("Ed25519".parse::<KeyType>(), Err(UnknownKeyType));
        assert!(serde_json::from_str::<KeyType>("\"p256\"").is_err());
    }
}
