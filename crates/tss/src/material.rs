//! The versioned envelope around every piece of key material the node persists (key shares, aux
//! info, primes, presignatures, FROST key packages).
//!
//! An envelope is a fixed binary header — magic `MPCM`, the [`MaterialKind`] code and a format
//! version, both big-endian `u16` — followed by the payload as JSON (the serialization the
//! cryptography crates test and keep backwards compatible). [`seal`] always writes
//! [`CURRENT_VERSION`]; [`open`] accepts every version that [`migrate`] knows how to bring up to
//! date, so a format change adds a migration step here and a golden file under
//! `tests/fixtures/material/`, never a silent reinterpretation.
//!
//! This module does not encrypt: the node encrypts sealed bytes at rest.

use std::borrow::Cow;

use serde::{de::DeserializeOwned, Serialize};
use zeroize::Zeroizing;

use crate::error::TssError;

/// Magic bytes at the start of every envelope.
const MAGIC: [u8; 4] = *b"MPCM";
/// Header: magic, kind, version.
const HEADER_LEN: usize = 4 + 2 + 2;

/// The format version [`seal`] writes.
pub const CURRENT_VERSION: u16 = 1;

/// What an envelope holds. The numeric codes are stored and must never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MaterialKind {
    /// Four safe primes for one party's CGGMP24 aux info (secret).
    EcdsaPrimes,
    /// CGGMP24 aux info: Paillier key and ring-Pedersen parameters of a node set (secret).
    EcdsaAuxInfo,
    /// CGGMP24 key share from keygen, without aux info (secret).
    EcdsaIncompleteKeyShare,
    /// CGGMP24 complete key share (key share plus aux info; secret).
    EcdsaKeyShare,
    /// One CGGMP24 presignature with its public commitments (secret, single use).
    EcdsaPresignature,
    /// FROST Ed25519 secret key package (secret).
    EddsaKeyPackage,
    /// FROST Ed25519 public key package.
    EddsaPublicKeyPackage,
}

impl MaterialKind {
    /// Every kind, for exhaustive tests.
    pub const ALL: [MaterialKind; 7] = [
        Self::EcdsaPrimes,
        Self::EcdsaAuxInfo,
        Self::EcdsaIncompleteKeyShare,
        Self::EcdsaKeyShare,
        Self::EcdsaPresignature,
        Self::EddsaKeyPackage,
        Self::EddsaPublicKeyPackage,
    ];

    /// The stored code of this kind.
    pub fn code(self) -> u16 {
        match self {
            Self::EcdsaPrimes => 1,
            Self::EcdsaAuxInfo => 2,
            Self::EcdsaIncompleteKeyShare => 3,
            Self::EcdsaKeyShare => 4,
            Self::EcdsaPresignature => 5,
            Self::EddsaKeyPackage => 101,
            Self::EddsaPublicKeyPackage => 102,
        }
    }

    /// The kind with stored code `code`, if any.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// Serializes `value` into an envelope of kind `kind` at [`CURRENT_VERSION`]. The buffer is
/// zeroized on drop because most material is secret.
pub fn seal<T: Serialize>(kind: MaterialKind, value: &T) -> Result<Zeroizing<Vec<u8>>, TssError> {
    let mut out = Zeroizing::new(Vec::with_capacity(16 * 1024));
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&kind.code().to_be_bytes());
    out.extend_from_slice(&CURRENT_VERSION.to_be_bytes());
    serde_json::to_writer(&mut *out, value)
        .map_err(|e| TssError::Bug(format!("cannot serialize {kind:?}: {e}")))?;
    Ok(out)
}

/// Decodes an envelope that must hold `kind`, migrating older versions first.
///
/// Errors (all [`TssError::Material`]): not an envelope, another kind, a version this build does
/// not know (written by a newer node: upgrade this node), or a payload that does not decode.
pub fn open<T: DeserializeOwned>(kind: MaterialKind, bytes: &[u8]) -> Result<T, TssError> {
    let (version, payload) = header(kind, bytes)?;
    let payload = migrate(kind, version, payload)?;
    serde_json::from_slice(&payload).map_err(|e| {
        TssError::Material(format!(
            "{kind:?} v{version} does not decode: {}",
            describe(&e)
        ))
    })
}

/// Where and how a payload failed to decode, without serde_json's message: that message may
/// quote the offending value, which can be secret.
pub(crate) fn describe(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "i/o error",
        serde_json::error::Category::Syntax => "malformed json",
        serde_json::error::Category::Data => "unexpected structure or value",
        serde_json::error::Category::Eof => "truncated",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// Reads the kind and version of an envelope without decoding the payload.
pub fn peek(bytes: &[u8]) -> Result<(MaterialKind, u16), TssError> {
    let (h, _) = split_header(bytes)?;
    let kind = MaterialKind::from_code(h.kind)
        .ok_or_else(|| TssError::Material(format!("unknown material kind code {}", h.kind)))?;
    Ok((kind, h.version))
}

struct Header {
    kind: u16,
    version: u16,
}

fn split_header(bytes: &[u8]) -> Result<(Header, &[u8]), TssError> {
    let (head, payload) = bytes
        .split_first_chunk::<HEADER_LEN>()
        .ok_or_else(|| TssError::Material("shorter than an envelope header".into()))?;
    let [m0, m1, m2, m3, k0, k1, v0, v1] = *head;
    if [m0, m1, m2, m3] != MAGIC {
        return Err(TssError::Material(
            "not a key material envelope (bad magic)".into(),
        ));
    }
    let h = Header {
        kind: u16::from_be_bytes([k0, k1]),
        version: u16::from_be_bytes([v0, v1]),
    };
    Ok((h, payload))
}

fn header(kind: MaterialKind, bytes: &[u8]) -> Result<(u16, &[u8]), TssError> {
    let (h, payload) = split_header(bytes)?;
    if h.kind != kind.code() {
        let found = MaterialKind::from_code(h.kind)
            .map(|k| format!("{k:?}"))
            .unwrap_or_else(|| format!("unknown code {}", h.kind));
        return Err(TssError::Material(format!(
            "expected {kind:?}, found {found}"
        )));
    }
    Ok((h.version, payload))
}

/// Brings a payload of `kind` written at `version` up to [`CURRENT_VERSION`].
///
/// This is the place for migrations: when a format changes, bump [`CURRENT_VERSION`], add an arm
/// that rewrites the old payload into the new one, and check in a golden file of the old version.
fn migrate(kind: MaterialKind, version: u16, payload: &[u8]) -> Result<Cow<'_, [u8]>, TssError> {
    match version {
        CURRENT_VERSION => Ok(Cow::Borrowed(payload)),
        0 => Err(TssError::Material(format!("{kind:?} has invalid version 0"))),
        v => Err(TssError::Material(format!(
            "{kind:?} v{v} is newer than this build understands (v{CURRENT_VERSION}): upgrade the node"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        a: u32,
        b: String,
    }

    fn sample() -> Sample {
        Sample {
            a: 7,
            b: "x".into(),
        }
    }

    #[test]
    fn sealed_material_opens_as_the_same_kind() {
        let bytes = seal(MaterialKind::EcdsaAuxInfo, &sample()).unwrap();
        assert_eq!(&bytes[..4], b"MPCM");
        let back: Sample = open(MaterialKind::EcdsaAuxInfo, &bytes).unwrap();
        assert_eq!(back, sample());
        assert_eq!(
            peek(&bytes).unwrap(),
            (MaterialKind::EcdsaAuxInfo, CURRENT_VERSION)
        );
    }

    #[test]
    fn opening_as_another_kind_names_both_kinds() {
        let bytes = seal(MaterialKind::EcdsaKeyShare, &sample()).unwrap();
        let err = open::<Sample>(MaterialKind::EcdsaPresignature, &bytes).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Material);
        let msg = err.to_string();
        assert!(
            msg.contains("EcdsaPresignature") && msg.contains("EcdsaKeyShare"),
            "{msg}"
        );
    }

    #[test]
    fn a_newer_version_is_refused_with_advice_to_upgrade() {
        let mut bytes = seal(MaterialKind::EcdsaKeyShare, &sample()).unwrap();
        bytes[6..8].copy_from_slice(&(CURRENT_VERSION + 1).to_be_bytes());
        let err = open::<Sample>(MaterialKind::EcdsaKeyShare, &bytes).unwrap_err();
        assert!(err.to_string().contains("upgrade"), "{err}");
    }

    #[test]
    fn corrupt_truncated_or_foreign_bytes_are_material_errors() {
        let bytes = seal(MaterialKind::EcdsaKeyShare, &sample()).unwrap();
        for bad in [
            &bytes[..bytes.len() - 2],
            &bytes[..5],
            b"{\"a\":1}".as_slice(),
        ] {
            let err = open::<Sample>(MaterialKind::EcdsaKeyShare, bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Material, "{err}");
        }
    }

    #[test]
    fn a_decode_error_does_not_quote_the_stored_value() {
        #[derive(Serialize)]
        struct Stored {
            a: &'static str,
        }
        let bytes = seal(
            MaterialKind::EcdsaKeyShare,
            &Stored {
                a: "topsecret-share",
            },
        )
        .unwrap();
        let err = open::<Sample>(MaterialKind::EcdsaKeyShare, &bytes).unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("topsecret"), "{msg}");
        assert!(msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn kind_codes_are_distinct_and_round_trip() {
        for k in MaterialKind::ALL {
            assert_eq!(MaterialKind::from_code(k.code()), Some(k));
        }
        let mut codes: Vec<u16> = MaterialKind::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), MaterialKind::ALL.len());
    }
}
