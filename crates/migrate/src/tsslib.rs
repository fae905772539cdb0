//! tss-lib's `LocalPartySaveData` JSON, the value the reference stores under
//! `ecdsa:<wallet>[_v<n>]` and `eddsa:<wallet>[_v<n>]`.
//!
//! The Go structs (fystack/tss-lib `ecdsa/keygen/save_data.go`, `eddsa/keygen/save_data.go`) have
//! no JSON tags and embed `LocalPreParams` / `LocalSecrets`, so `encoding/json` writes every field
//! under its Go name at the top level:
//! * ECDSA: `PaillierSK`, `NTildei`, `H1i`, `H2i`, `Alpha`, `Beta`, `P`, `Q` (pre-params, skipped),
//!   `Xi`, `ShareID`, `Ks`, `NTildej`, `H1j`, `H2j`, `BigXj`, `PaillierPKs`, `ECDSAPub`;
//! * EdDSA: `Xi`, `ShareID`, `Ks`, `BigXj`, `EDDSAPub`.
//!
//! `*big.Int` is a bare decimal number of any size ([`crate::number`]); a `*crypto.ECPoint` is
//! `{"Curve": "secp256k1"|"ed25519", "Coords": [X, Y]}` with affine coordinates
//! (`crypto/ecpoint.go`, `MarshalJSON`). Skipped fields (Paillier keys, ring-Pedersen parameters:
//! thousands of digits) are never converted to numbers, only checked for their length.

use serde::Deserialize;
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use crate::number::{self, NumberError};
use crate::record::{describe, KeyType};

/// Why a save-data value does not decode. Never quotes a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaveDataError {
    /// Not JSON of the expected shape.
    #[error("not tss-lib save data: {0}")]
    Json(String),
    /// A required field is absent or null.
    #[error("field {0} is missing")]
    Missing(&'static str),
    /// An integer field is not a non-negative integer.
    #[error("field {field} {error}")]
    Number {
        /// The field (with index for arrays, e.g. `Ks[2]`).
        field: String,
        /// What is wrong.
        error: NumberError,
    },
    /// A point names another curve than the key type's.
    #[error("field {field} is a point of curve {found:?}, expected {expected:?}")]
    Curve {
        /// The field.
        field: String,
        /// The curve named.
        found: String,
        /// The curve expected.
        expected: &'static str,
    },
    /// Per-party arrays have different lengths.
    #[error("field {field} has {found} entries but Ks has {expected}")]
    Length {
        /// The field.
        field: &'static str,
        /// Its length.
        found: usize,
        /// Length of `Ks`.
        expected: usize,
    },
}

/// Affine coordinates of a tss-lib point, as minimal big-endian integers (public).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coords {
    /// X.
    pub x: Vec<u8>,
    /// Y.
    pub y: Vec<u8>,
}

/// The fields of a save-data record this crate uses, decoded exactly (not yet checked against
/// each other: see [`crate::extract`](mod@crate::extract)).
pub struct SaveData {
    /// `Xi`: our secret share, big-endian; zeroized on drop.
    pub xi: Zeroizing<Vec<u8>>,
    /// `ShareID`: our party key.
    pub share_id: Vec<u8>,
    /// `Ks`: every party's key (Shamir x-coordinate before reduction), tss-lib order.
    pub ks: Vec<Vec<u8>>,
    /// `BigXj`: every party's public share, same order as `ks`.
    pub big_xj: Vec<Coords>,
    /// `ECDSAPub` / `EDDSAPub`: the public key.
    pub public_key: Coords,
}

impl std::fmt::Debug for SaveData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaveData")
            .field("xi", &"<redacted>")
            .field("parties", &self.ks.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct RawSaveData<'a> {
    #[serde(rename = "Xi", borrow)]
    xi: Option<&'a RawValue>,
    #[serde(rename = "ShareID", borrow)]
    share_id: Option<&'a RawValue>,
    #[serde(rename = "Ks", borrow)]
    ks: Option<Vec<&'a RawValue>>,
    #[serde(rename = "BigXj", borrow)]
    big_xj: Option<Vec<&'a RawValue>>,
    #[serde(rename = "ECDSAPub", borrow)]
    ecdsa_pub: Option<&'a RawValue>,
    #[serde(rename = "EDDSAPub", borrow)]
    eddsa_pub: Option<&'a RawValue>,
    // ECDSA per-party parameters: only their lengths are checked.
    #[serde(rename = "NTildej", borrow)]
    ntilde_j: Option<Vec<&'a RawValue>>,
    #[serde(rename = "H1j", borrow)]
    h1_j: Option<Vec<&'a RawValue>>,
    #[serde(rename = "H2j", borrow)]
    h2_j: Option<Vec<&'a RawValue>>,
    #[serde(rename = "PaillierPKs", borrow)]
    paillier_pks: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct RawPoint<'a> {
    #[serde(rename = "Curve")]
    curve: String,
    #[serde(rename = "Coords", borrow)]
    coords: [&'a RawValue; 2],
}

fn json_error(e: &serde_json::Error) -> SaveDataError {
    SaveDataError::Json(describe(e))
}

fn integer(raw: Option<&RawValue>, field: &str) -> Result<Zeroizing<Vec<u8>>, SaveDataError> {
    let raw = raw.ok_or(SaveDataError::Number {
        field: field.into(),
        error: NumberError::Null,
    })?;
    number::decode(raw).map_err(|error| SaveDataError::Number {
        field: field.into(),
        error,
    })
}

fn point(raw: &RawValue, field: &str, key_type: KeyType) -> Result<Coords, SaveDataError> {
    if raw.get().trim() == "null" {
        return Err(SaveDataError::Number {
            field: field.into(),
            error: NumberError::Null,
        });
    }
    let p: RawPoint<'_> = serde_json::from_str(raw.get()).map_err(|e| json_error(&e))?;
    if p.curve != key_type.tss_curve_name() {
        return Err(SaveDataError::Curve {
            field: field.into(),
            found: p.curve,
            expected: key_type.tss_curve_name(),
        });
    }
    let [x, y] = p.coords;
    Ok(Coords {
        x: integer(Some(x), &format!("{field}.X"))?.to_vec(),
        y: integer(Some(y), &format!("{field}.Y"))?.to_vec(),
    })
}

/// Decodes the save data of a key of `key_type` from the stored JSON `bytes`.
pub fn parse(key_type: KeyType, bytes: &[u8]) -> Result<SaveData, SaveDataError> {
    let raw: RawSaveData<'_> = serde_json::from_slice(bytes).map_err(|e| json_error(&e))?;
    let (pub_field, pub_raw) = match key_type {
        KeyType::Secp256k1 => ("ECDSAPub", raw.ecdsa_pub),
        KeyType::Ed25519 => ("EDDSAPub", raw.eddsa_pub),
    };
    let xi = integer(Some(raw.xi.ok_or(SaveDataError::Missing("Xi"))?), "Xi")?;
    let share_id = integer(raw.share_id, "ShareID")?.to_vec();
    let ks_raw = raw.ks.ok_or(SaveDataError::Missing("Ks"))?;
    let ks = ks_raw
        .iter()
        .enumerate()
        .map(|(j, k)| integer(Some(k), &format!("Ks[{j}]")).map(|v| v.to_vec()))
        .collect::<Result<Vec<_>, _>>()?;
    let big_xj_raw = raw.big_xj.ok_or(SaveDataError::Missing("BigXj"))?;
    if big_xj_raw.len() != ks.len() {
        return Err(SaveDataError::Length {
            field: "BigXj",
            found: big_xj_raw.len(),
            expected: ks.len(),
        });
    }
    let big_xj = big_xj_raw
        .iter()
        .enumerate()
        .map(|(j, p)| point(p, &format!("BigXj[{j}]"), key_type))
        .collect::<Result<Vec<_>, _>>()?;
    let public_key = point(
        pub_raw.ok_or(SaveDataError::Missing(pub_field))?,
        pub_field,
        key_type,
    )?;
    if key_type == KeyType::Secp256k1 {
        for (field, values) in [
            ("NTildej", &raw.ntilde_j),
            ("H1j", &raw.h1_j),
            ("H2j", &raw.h2_j),
            ("PaillierPKs", &raw.paillier_pks),
        ] {
            if let Some(values) = values {
                if values.len() != ks.len() {
                    return Err(SaveDataError::Length {
                        field,
                        found: values.len(),
                        expected: ks.len(),
                    });
                }
            }
        }
    }
    Ok(SaveData {
        xi,
        share_id,
        ks,
        big_xj,
        public_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eddsa_json(xi: &str) -> String {
        format!(
            r#"{{"Xi":{xi},"ShareID":7,"Ks":[7,9],"BigXj":[{{"Curve":"ed25519","Coords":[1,2]}},{{"Curve":"ed25519","Coords":[3,4]}}],"EDDSAPub":{{"Curve":"ed25519","Coords":[5,6]}}}}"#
        )
    }

    #[test]
    fn fields_decode_exactly_and_unknown_huge_numbers_are_skipped() {
        let huge = "9".repeat(1300);
        let json = format!(
            r#"{{"PaillierSK":{{"N":{huge},"LambdaN":{huge},"PhiN":{huge}}},"NTildei":{huge},"Alpha":{huge},"Xi":123456789012345678901234567890,"ShareID":7,"Ks":[7,9],"NTildej":[{huge},{huge}],"H1j":[1,2],"H2j":[1,2],"BigXj":[{{"Curve":"secp256k1","Coords":[1,2]}},{{"Curve":"secp256k1","Coords":[3,4]}}],"PaillierPKs":[{{"N":{huge}}},{{"N":{huge}}}],"ECDSAPub":{{"Curve":"secp256k1","Coords":[5,6]}}}}"#
        );
        let data = parse(KeyType::Secp256k1, json.as_bytes()).unwrap();
        assert_eq!(
            *data.xi,
            number::decode_text("123456789012345678901234567890")
                .unwrap()
                .to_vec()
        );
        assert_eq!(data.ks, vec![vec![7], vec![9]]);
        assert_eq!(
            data.big_xj[1],
            Coords {
                x: vec![3],
                y: vec![4]
            }
        );
        assert_eq!(
            data.public_key,
            Coords {
                x: vec![5],
                y: vec![6]
            }
        );
    }

    #[test]
    fn a_point_of_the_other_curve_is_refused() {
        let json = eddsa_json("1");
        let err = parse(KeyType::Secp256k1, json.as_bytes()).unwrap_err();
        assert!(
            matches!(err, SaveDataError::Curve { .. } | SaveDataError::Missing(_)),
            "{err}"
        );
        let ok = parse(KeyType::Ed25519, json.as_bytes()).unwrap();
        assert_eq!(ok.ks.len(), 2);
    }

    #[test]
    fn errors_name_the_field_and_never_the_secret() {
        let err = parse(KeyType::Ed25519, eddsa_json("-424242").as_bytes()).unwrap_err();
        assert_eq!(
            err,
            SaveDataError::Number {
                field: "Xi".into(),
                error: NumberError::Negative
            }
        );
        let err = parse(KeyType::Ed25519, eddsa_json("\"424242\"").as_bytes()).unwrap_err();
        assert!(!err.to_string().contains("424242"), "{err}");
        let truncated = eddsa_json("424242");
        let err = parse(KeyType::Ed25519, &truncated.as_bytes()[..20]).unwrap_err();
        assert!(!err.to_string().contains("424242"), "{err}");
    }

    #[test]
    fn mismatched_party_arrays_are_refused() {
        let json = r#"{"Xi":1,"ShareID":7,"Ks":[7,9,11],"BigXj":[{"Curve":"ed25519","Coords":[1,2]}],"EDDSAPub":{"Curve":"ed25519","Coords":[5,6]}}"#;
        assert!(matches!(
            parse(KeyType::Ed25519, json.as_bytes()),
            Err(SaveDataError::Length { field: "BigXj", .. })
        ));
    }
}
