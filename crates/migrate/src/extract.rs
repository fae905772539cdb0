//! From a restored Badger state to validated [`ImportedShare`]s: finds every share key, picks the
//! version to import per wallet key, decodes the tss-lib save data and checks it offline.
//!
//! Checks per share (all must pass, else the whole extraction fails and nothing is returned):
//! * every `Ks` entry is an mpcium party key `"<node id>:<version>"` of a node in `peers.json`,
//!   at the version of the Badger key; no node twice;
//! * the evaluation points (`Ks` mod the group order) are non-zero and distinct;
//! * `ShareID` is one of `Ks` and names this node;
//! * every `BigXj` and the public key are valid points (on the curve, not the identity, Ed25519
//!   in the prime-order subgroup), and `Xi·G = BigXj[own]`;
//! * all `BigXj` lie on one polynomial through the public key whose lowest degree is
//!   `signers − 1` (a random tss-lib polynomial fits no lower one), where `signers` must equal the
//!   keyinfo's `threshold + 1` when keyinfo is given — a wrong `BigXj` is named then;
//! * with keyinfo: its participants are exactly the holders.
//!
//! Which version: the keyinfo's when given (a node left out of the latest reshare still has the
//! old version in its store and must not import it); without keyinfo, the highest version the
//! node holds, which the node must confirm with the other holders over the network
//! ([`ImportedShare::fingerprint`]) before it uses the wallet.

use std::collections::BTreeMap;

use zeroize::{Zeroize, Zeroizing};

use crate::badger::Snapshot;
use crate::group::{Ed25519, Group, PointError, Secp256k1};
use crate::record::{
    on_polynomial, Holder, ImportedShare, KeyType, RecordError, SecretShare, ShareParts,
};
use crate::reference::{decode_party_key, KeyInfoSet, PeerMap, ReferenceKeyInfo, ShareKey};
use crate::tsslib::{self, SaveData, SaveDataError};

/// Who we are and what we know about the reference cluster.
#[derive(Clone, Copy, Debug)]
pub struct ExtractOptions<'a> {
    /// This node's reference id (its value in `peers.json`).
    pub node_id: &'a str,
    /// The reference's `peers.json`.
    pub peers: &'a PeerMap,
    /// The Consul keyinfo (`consul kv export threshold_keyinfo/`), if available.
    pub keyinfo: Option<&'a KeyInfoSet>,
}

/// What an extraction found.
#[derive(Debug, Default)]
pub struct Extraction {
    /// The shares to import: one per wallet key this node holds at the chosen version.
    pub shares: Vec<ImportedShare>,
    /// Older versions left behind (the reference never deletes them).
    pub superseded: Vec<ShareKey>,
    /// Wallet keys whose current version (per keyinfo) this node does not hold: it was left out
    /// of their latest reshare. Their older shares are not imported.
    pub not_held: Vec<ShareKey>,
    /// Wallet keys without keyinfo while keyinfo was given (the reference never finished their
    /// keygen, so it cannot sign with them either); not imported.
    pub without_keyinfo: Vec<ShareKey>,
    /// Badger keys that are not shares (`pre_params_0`, …), by name.
    pub other_keys: Vec<String>,
}

/// Why one share was refused. Names the party (by `Ks` index and node id) where one is at fault;
/// never contains secret material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// The save data does not decode.
    #[error(transparent)]
    SaveData(#[from] SaveDataError),
    /// Fewer than two parties.
    #[error("the share has {parties} parties; at least 2 are needed")]
    TooFewParties {
        /// Number of `Ks`.
        parties: usize,
    },
    /// A `Ks` entry is not an mpcium party key.
    #[error("Ks[{index}] is not an mpcium party key (\"<node id>:<version>\" as an integer)")]
    PartyKey {
        /// The index.
        index: usize,
    },
    /// A `Ks` entry names a node that is not in `peers.json`.
    #[error("Ks[{index}] names node {node_id}, which is not in peers.json")]
    UnknownNode {
        /// The index.
        index: usize,
        /// The node id it names.
        node_id: String,
    },
    /// `Ks` entries name different versions, or not the version of the Badger key.
    #[error("Ks[{index}] is a party key of version {found}, but the share is version {expected}")]
    VersionMismatch {
        /// The index.
        index: usize,
        /// The version it names.
        found: u64,
        /// The version expected.
        expected: u64,
    },
    /// Two parties share a node or an evaluation point.
    #[error("Ks[{first}] and Ks[{second}] are the same party or the same evaluation point")]
    DuplicateParty {
        /// One index.
        first: usize,
        /// The other.
        second: usize,
    },
    /// An evaluation point is zero modulo the group order.
    #[error("Ks[{index}] is zero modulo the group order")]
    ZeroEvaluationPoint {
        /// The index.
        index: usize,
    },
    /// `ShareID` is not among `Ks`.
    #[error("ShareID is not one of Ks")]
    ShareIdNotInKs,
    /// `ShareID` names another node.
    #[error("the share belongs to node {owner}, not to this node {expected}")]
    NotOurShare {
        /// The node `ShareID` names.
        owner: String,
        /// This node.
        expected: String,
    },
    /// A point is invalid.
    #[error("{field} {error}")]
    Point {
        /// The field (`BigXj[2]`, `ECDSAPub`, …).
        field: String,
        /// What is wrong.
        error: PointError,
    },
    /// `Xi·G ≠ BigXj[own]`.
    #[error("Xi does not match this node's public share BigXj[{index}]")]
    SecretMismatch {
        /// Our index.
        index: usize,
    },
    /// The public shares do not lie on one polynomial through the public key.
    #[error("the public shares do not match the public key{}{}", signers.map(|s| format!(" at threshold {s}")).unwrap_or_default(), if culprits.is_empty() { String::new() } else { format!(" (off the polynomial: {})", culprits.join(", ")) })]
    Inconsistent {
        /// The threshold tried (from keyinfo), if any.
        signers: Option<u16>,
        /// Node ids whose `BigXj` is off the polynomial through the public key and the first
        /// `signers − 1` shares.
        culprits: Vec<String>,
    },
    /// Keyinfo names another threshold than the one the shares have.
    #[error(
        "keyinfo says {keyinfo_signers} signers but the shares are a {share_signers}-of-n sharing"
    )]
    ThresholdMismatch {
        /// Keyinfo's threshold + 1.
        keyinfo_signers: u16,
        /// The sharing's actual threshold.
        share_signers: u16,
    },
    /// Every share equals the key (a constant polynomial): not a threshold sharing.
    #[error("every public share equals the public key: not a threshold sharing")]
    Degenerate,
    /// Keyinfo's participants are not the holders.
    #[error("keyinfo lists participants {keyinfo:?} but the share's holders are {holders:?}")]
    ParticipantsMismatch {
        /// Keyinfo's participants (sorted).
        keyinfo: Vec<String>,
        /// The holders (sorted).
        holders: Vec<String>,
    },
    /// Keyinfo's threshold does not fit the holders.
    #[error("keyinfo threshold {threshold} does not fit {holders} holders")]
    BadThreshold {
        /// Keyinfo's tss-lib threshold.
        threshold: u16,
        /// Number of holders.
        holders: usize,
    },
    /// The record could not be built (a bug: every rule was checked before).
    #[error("record: {0}")]
    Record(#[from] RecordError),
}

/// What kind of failure an [`ExtractError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtractErrorKind {
    /// A share is malformed or inconsistent.
    InvalidShare,
    /// A share this node must hold (per keyinfo) is absent.
    MissingVersion,
}

/// Why an extraction failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// A share was refused.
    #[error("{key}: {source}")]
    Share {
        /// The Badger key.
        key: String,
        /// Why.
        source: ShareError,
    },
    /// Keyinfo says this node holds version `version`, but its store has no such share.
    #[error("keyinfo says this node holds {key}, but the backups have no such share (older backups only?)")]
    MissingVersion {
        /// The Badger key expected.
        key: String,
    },
}

impl ExtractError {
    /// The class of this error.
    pub fn kind(&self) -> ExtractErrorKind {
        match self {
            Self::Share { .. } => ExtractErrorKind::InvalidShare,
            Self::MissingVersion { .. } => ExtractErrorKind::MissingVersion,
        }
    }
}

/// A share key found in the store, read with the version its `Ks` name.
struct Candidate<'s> {
    key: ShareKey,
    raw_key: String,
    value: &'s [u8],
}

/// Extracts every share this node should import from `snapshot`.
pub fn extract(snapshot: &Snapshot, opts: &ExtractOptions<'_>) -> Result<Extraction, ExtractError> {
    let mut out = Extraction::default();
    let mut wallets: BTreeMap<(KeyType, String), Vec<Candidate<'_>>> = BTreeMap::new();
    for (raw_key, value) in snapshot.iter() {
        let Some(key) = ShareKey::parse(raw_key) else {
            out.other_keys
                .push(String::from_utf8_lossy(raw_key).into_owned());
            continue;
        };
        let key = resolve_reading(key, value);
        wallets
            .entry((key.key_type, key.wallet_id.clone()))
            .or_default()
            .push(Candidate {
                raw_key: String::from_utf8_lossy(raw_key).into_owned(),
                key,
                value,
            });
    }
    for ((key_type, wallet), mut candidates) in wallets {
        candidates.sort_by_key(|c| c.key.version);
        let info = opts.keyinfo.map(|set| set.get(key_type, &wallet));
        let chosen = match info {
            None => candidates.len().checked_sub(1),
            Some(None) => {
                out.without_keyinfo
                    .extend(candidates.into_iter().map(|c| c.key));
                continue;
            }
            Some(Some(info)) => {
                let found = candidates
                    .iter()
                    .position(|c| c.key.version == info.version);
                if found.is_none() {
                    let key = ShareKey {
                        key_type,
                        wallet_id: wallet.clone(),
                        version: info.version,
                    };
                    if info.participant_peer_ids.iter().any(|p| p == opts.node_id) {
                        return Err(ExtractError::MissingVersion {
                            key: key.badger_key(),
                        });
                    }
                    out.not_held.push(key);
                    out.superseded.extend(candidates.into_iter().map(|c| c.key));
                    continue;
                }
                found
            }
        };
        let expected = info.flatten();
        for (i, c) in candidates.into_iter().enumerate() {
            if Some(i) != chosen {
                out.superseded.push(c.key);
                continue;
            }
            let share = import_share(&c.key, c.value, opts, expected).map_err(|source| {
                ExtractError::Share {
                    key: c.raw_key.clone(),
                    source,
                }
            })?;
            out.shares.push(share);
        }
    }
    Ok(out)
}

/// Reads `ecdsa:<x>_v<n>` as the legacy wallet `<x>_v<n>` at version 0 when the stored party
/// keys say version 0 (a legacy wallet id may end in `_v<n>`).
fn resolve_reading(key: ShareKey, value: &[u8]) -> ShareKey {
    let Some(legacy) = key.legacy_reading() else {
        return key;
    };
    let Ok(data) = tsslib::parse(key.key_type, value) else {
        return key;
    };
    let all_legacy = !data.ks.is_empty()
        && data
            .ks
            .iter()
            .all(|k| decode_party_key(k).is_some_and(|(_, v)| v == 0));
    if all_legacy {
        legacy
    } else {
        key
    }
}

/// Decodes and checks one stored share (see the module docs); `expected` is its keyinfo.
pub fn import_share(
    key: &ShareKey,
    value: &[u8],
    opts: &ExtractOptions<'_>,
    expected: Option<&ReferenceKeyInfo>,
) -> Result<ImportedShare, ShareError> {
    let data = tsslib::parse(key.key_type, value)?;
    match key.key_type {
        KeyType::Secp256k1 => convert::<Secp256k1>(key, data, opts, expected),
        KeyType::Ed25519 => convert::<Ed25519>(key, data, opts, expected),
    }
}

fn convert<G: Group>(
    key: &ShareKey,
    data: SaveData,
    opts: &ExtractOptions<'_>,
    expected: Option<&ReferenceKeyInfo>,
) -> Result<ImportedShare, ShareError> {
    let n = data.ks.len();
    if n < 2 {
        return Err(ShareError::TooFewParties { parties: n });
    }
    // Parties: node ids and versions from the party keys.
    let mut nodes: Vec<String> = Vec::with_capacity(n);
    for (index, k) in data.ks.iter().enumerate() {
        let (node_id, version) = decode_party_key(k).ok_or(ShareError::PartyKey { index })?;
        if version != key.version {
            return Err(ShareError::VersionMismatch {
                index,
                found: version,
                expected: key.version,
            });
        }
        if !opts.peers.contains_id(&node_id) {
            return Err(ShareError::UnknownNode { index, node_id });
        }
        if let Some(first) = nodes.iter().position(|m| *m == node_id) {
            return Err(ShareError::DuplicateParty {
                first,
                second: index,
            });
        }
        nodes.push(node_id);
    }
    // Evaluation points.
    let mut xs = Vec::with_capacity(n);
    for (index, k) in data.ks.iter().enumerate() {
        let x = G::reduce_be(k);
        if x == G::zero() {
            return Err(ShareError::ZeroEvaluationPoint { index });
        }
        if let Some(first) = xs.iter().position(|y| *y == x) {
            return Err(ShareError::DuplicateParty {
                first,
                second: index,
            });
        }
        xs.push(x);
    }
    let own = data
        .ks
        .iter()
        .position(|k| *k == data.share_id)
        .ok_or(ShareError::ShareIdNotInKs)?;
    let own_node = nodes.get(own).cloned().unwrap_or_default();
    if own_node != opts.node_id {
        return Err(ShareError::NotOurShare {
            owner: own_node,
            expected: opts.node_id.to_string(),
        });
    }
    // Points.
    let mut points = Vec::with_capacity(n);
    for (j, c) in data.big_xj.iter().enumerate() {
        points.push(
            G::from_coords(&c.x, &c.y).map_err(|error| ShareError::Point {
                field: format!("BigXj[{j}]"),
                error,
            })?,
        );
    }
    let pub_field = match key.key_type {
        KeyType::Secp256k1 => "ECDSAPub",
        KeyType::Ed25519 => "EDDSAPub",
    };
    let public_key = G::from_coords(&data.public_key.x, &data.public_key.y).map_err(|error| {
        ShareError::Point {
            field: pub_field.into(),
            error,
        }
    })?;
    // Our secret share.
    let mut xi = G::reduce_be(&data.xi);
    let own_point = points.get(own).copied();
    if own_point != Some(G::mul_base(&xi)) {
        xi.zeroize();
        return Err(ShareError::SecretMismatch { index: own });
    }
    let secret = SecretShare::new(Zeroizing::new(G::scalar_to_be(&xi)));
    xi.zeroize();
    // Threshold.
    let signers = match expected {
        Some(info) => {
            let signers = info
                .threshold
                .checked_add(1)
                .filter(|s| *s >= 2 && usize::from(*s) <= n)
                .ok_or(ShareError::BadThreshold {
                    threshold: info.threshold,
                    holders: n,
                })?;
            if !on_polynomial::<G>(&xs, &points, &public_key, signers) {
                return Err(ShareError::Inconsistent {
                    signers: Some(signers),
                    culprits: off_polynomial::<G>(&xs, &points, &public_key, signers, &nodes),
                });
            }
            let exact = minimal_signers::<G>(&xs, &points, &public_key)?;
            if exact != signers {
                return Err(ShareError::ThresholdMismatch {
                    keyinfo_signers: signers,
                    share_signers: exact,
                });
            }
            let mut listed = info.participant_peer_ids.clone();
            listed.sort();
            let mut holders = nodes.clone();
            holders.sort();
            if listed != holders {
                return Err(ShareError::ParticipantsMismatch {
                    keyinfo: listed,
                    holders,
                });
            }
            signers
        }
        None => minimal_signers::<G>(&xs, &points, &public_key)?,
    };
    let holders = nodes
        .iter()
        .zip(&data.ks)
        .zip(xs.iter().zip(&points))
        .map(|((node_id, k), (x, p))| Holder {
            node_id: node_id.clone(),
            party_key: k.clone(),
            evaluation_point: G::scalar_to_be(x),
            public_share: G::encode(p),
        })
        .collect();
    Ok(ImportedShare::new(ShareParts {
        key_type: key.key_type,
        wallet_id: key.wallet_id.clone(),
        version: key.version,
        threshold_signers: signers,
        holders,
        own_node_id: own_node,
        secret_share: secret,
        public_key: G::encode(&public_key),
    })?)
}

/// The threshold of the sharing: one more than the lowest degree of a polynomial through the
/// public key (at zero) and every public share. A degree-0 "sharing" (every share is the key
/// itself) is refused.
fn minimal_signers<G: Group>(
    xs: &[G::Scalar],
    points: &[G::Point],
    public_key: &G::Point,
) -> Result<u16, ShareError> {
    let n = u16::try_from(xs.len()).unwrap_or(u16::MAX);
    match (1..=n).find(|s| on_polynomial::<G>(xs, points, public_key, *s)) {
        Some(1) => Err(ShareError::Degenerate),
        Some(s) => Ok(s),
        None => Err(ShareError::Inconsistent {
            signers: None,
            culprits: Vec::new(),
        }),
    }
}

/// Node ids whose public share is off the polynomial through the public key (at zero) and the
/// first `signers − 1` public shares. If one of those first shares is itself wrong, every other
/// holder is reported.
fn off_polynomial<G: Group>(
    xs: &[G::Scalar],
    points: &[G::Point],
    public_key: &G::Point,
    signers: u16,
    nodes: &[String],
) -> Vec<String> {
    let base = usize::from(signers).saturating_sub(1);
    let (Some(bx), Some(bp)) = (xs.get(..base), points.get(..base)) else {
        return Vec::new();
    };
    let mut base_x = vec![G::zero()];
    base_x.extend_from_slice(bx);
    let mut base_p = vec![*public_key];
    base_p.extend_from_slice(bp);
    xs.iter()
        .zip(points)
        .zip(nodes)
        .skip(base)
        .filter(|((x, p), _)| crate::group::interpolate::<G>(&base_x, &base_p, x) != Some(**p))
        .map(|(_, node)| node.clone())
        .collect()
}
