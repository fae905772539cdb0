//! [`ImportedShare`]: one node's share of one wallet key, carried over from the reference and
//! validated, in a neutral form that names no engine type — what `mpcium-cli import-mpcium` writes
//! into the node's encrypted store and what the node later converts with `mpcium_tss::import`.
//!
//! Every number is an integer modulo the group order, written as 32 big-endian bytes (tss-lib's
//! integers, reduced): evaluation points (tss-lib `Ks`), the secret share (`Xi`). Points are
//! compressed: SEC1 (33 bytes) for secp256k1, RFC 8032 (32 bytes) for Ed25519.
//!
//! Holders are in canonical order — ascending evaluation point — which is also the order FROST
//! keeps identifiers in. Nothing else about the order is meaningful; the node chooses its own
//! party order for ECDSA (it must match the aux info) and passes holders in that order.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::group::{self, Ed25519, Group, Secp256k1};

/// The format tag of the serialized record; a changed format gets a new tag.
pub const RECORD_FORMAT: &str = "mpcium-migrate/imported-share/v1";

/// Which key of a wallet: the reference creates both for every wallet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// ECDSA over secp256k1 (Badger prefix `ecdsa:`).
    Secp256k1,
    /// EdDSA over Ed25519 (Badger prefix `eddsa:`).
    Ed25519,
}

impl KeyType {
    /// The reference's storage prefix (`ecdsa` / `eddsa`), used in Badger keys and Consul keyinfo.
    pub fn store_prefix(self) -> &'static str {
        match self {
            Self::Secp256k1 => "ecdsa",
            Self::Ed25519 => "eddsa",
        }
    }

    /// The tss-lib curve name in `ECPoint` JSON.
    pub fn tss_curve_name(self) -> &'static str {
        match self {
            Self::Secp256k1 => "secp256k1",
            Self::Ed25519 => "ed25519",
        }
    }

    /// Length of a compressed point.
    pub fn point_len(self) -> usize {
        match self {
            Self::Secp256k1 => Secp256k1::ENCODED_LEN,
            Self::Ed25519 => Ed25519::ENCODED_LEN,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tss_curve_name())
    }
}

/// One holder of a wallet key: who it is and its public data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The reference node id (the value in `peers.json`).
    pub node_id: String,
    /// tss-lib's party key for this holder as big-endian bytes (`"<node id>:<version>"` in ASCII
    /// for mpcium), kept for audit; the evaluation point is this integer modulo the group order.
    #[serde(with = "hex_vec")]
    pub party_key: Vec<u8>,
    /// The Shamir evaluation point (tss-lib `Ks[j]` mod the group order), 32 bytes big-endian.
    #[serde(with = "hex_array")]
    pub evaluation_point: [u8; 32],
    /// The holder's public share `x_j·G` (tss-lib `BigXj[j]`), compressed.
    #[serde(with = "hex_vec")]
    pub public_share: Vec<u8>,
}

/// A secret scalar, 32 bytes big-endian; zeroized on drop, `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretShare(Zeroizing<[u8; 32]>);

impl SecretShare {
    /// Wraps big-endian bytes.
    pub fn new(bytes: Zeroizing<[u8; 32]>) -> Self {
        Self(bytes)
    }

    /// The big-endian bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretShare(<redacted>)")
    }
}

/// Why an [`ImportedShare`] is inconsistent (on construction or deserialization).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record names an unknown format.
    #[error("unknown record format {found:?} (expected {RECORD_FORMAT:?})")]
    Format {
        /// The tag found.
        found: String,
    },
    /// A structural rule is broken (counts, positions, lengths).
    #[error("inconsistent record: {0}")]
    Structure(String),
    /// A point or scalar does not decode.
    #[error("holder {holder}: {what}")]
    Holder {
        /// The holder's node id.
        holder: String,
        /// What is wrong.
        what: String,
    },
    /// The public shares do not lie on one polynomial of exactly the recorded degree through
    /// the public key.
    #[error("public shares do not match the public key at threshold {signers}")]
    Inconsistent {
        /// The recorded threshold.
        signers: u16,
    },
    /// The secret share is not the discrete log of our public share.
    #[error("the secret share does not match our public share")]
    SecretMismatch,
    /// Malformed serialized form.
    #[error("record does not decode: {0}")]
    Decode(String),
}

/// One node's validated share of one wallet key, carried over from the reference.
///
/// Invariants (checked by [`ImportedShare::new`] and on deserialization): at least two holders
/// with distinct non-zero evaluation points in ascending order and distinct node ids;
/// `2 ≤ threshold_signers ≤ holders`; every public share is a valid point and all of them lie on
/// one polynomial of degree exactly `threshold_signers − 1` whose value at zero is `public_key`;
/// `secret_share · G` is the public share of holder `own_position`.
#[derive(Clone, PartialEq, Eq)]
pub struct ImportedShare {
    key_type: KeyType,
    wallet_id: String,
    version: u64,
    threshold_signers: u16,
    holders: Vec<Holder>,
    own_position: u16,
    secret_share: SecretShare,
    public_key: Vec<u8>,
}

impl fmt::Debug for ImportedShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportedShare")
            .field("key_type", &self.key_type)
            .field("wallet_id", &self.wallet_id)
            .field("version", &self.version)
            .field("threshold_signers", &self.threshold_signers)
            .field("holders", &self.holders)
            .field("own_position", &self.own_position)
            .field("secret_share", &self.secret_share)
            .field("public_key", &hex::encode(&self.public_key))
            .finish()
    }
}

/// The parts of an [`ImportedShare`], before validation.
pub struct ShareParts {
    /// Which key.
    pub key_type: KeyType,
    /// The reference wallet id.
    pub wallet_id: String,
    /// The reference share version (0 = legacy unversioned key, 1 = keygen, +1 per reshare).
    pub version: u64,
    /// Signers required (tss-lib threshold + 1).
    pub threshold_signers: u16,
    /// All holders, in any order (sorted by [`ImportedShare::new`]).
    pub holders: Vec<Holder>,
    /// Node id of the holder whose secret share this is.
    pub own_node_id: String,
    /// The secret share.
    pub secret_share: SecretShare,
    /// The wallet's public key, compressed.
    pub public_key: Vec<u8>,
}

impl ImportedShare {
    /// Validates `parts` (see the type's invariants) and puts the holders in canonical order.
    pub fn new(parts: ShareParts) -> Result<Self, RecordError> {
        let ShareParts {
            key_type,
            wallet_id,
            version,
            threshold_signers,
            mut holders,
            own_node_id,
            secret_share,
            public_key,
        } = parts;
        holders.sort_by_key(|h| h.evaluation_point);
        let own_position = holders
            .iter()
            .position(|h| h.node_id == own_node_id)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| {
                RecordError::Structure(format!("node {own_node_id} is not among the holders"))
            })?;
        let share = Self {
            key_type,
            wallet_id,
            version,
            threshold_signers,
            holders,
            own_position,
            secret_share,
            public_key,
        };
        share.validate()?;
        Ok(share)
    }

    fn validate(&self) -> Result<(), RecordError> {
        let n = self.holders.len();
        if n < 2 || n > usize::from(u16::MAX) {
            return Err(RecordError::Structure(format!(
                "{n} holders (at least 2 needed)"
            )));
        }
        let t = usize::from(self.threshold_signers);
        if t < 2 || t > n {
            return Err(RecordError::Structure(format!(
                "threshold {t} does not fit {n} holders"
            )));
        }
        for (k, pair) in self.holders.windows(2).enumerate() {
            if let [a, b] = pair {
                if a.evaluation_point >= b.evaluation_point {
                    return Err(RecordError::Structure(format!(
                        "holders {k} and {} are not in strictly ascending evaluation-point order",
                        k + 1
                    )));
                }
            }
        }
        for (k, h) in self.holders.iter().enumerate() {
            if self
                .holders
                .get(..k)
                .unwrap_or_default()
                .iter()
                .any(|e| e.node_id == h.node_id)
            {
                return Err(RecordError::Structure(format!(
                    "node {} holds two shares",
                    h.node_id
                )));
            }
        }
        if usize::from(self.own_position) >= n {
            return Err(RecordError::Structure("own position out of range".into()));
        }
        match self.key_type {
            KeyType::Secp256k1 => self.validate_in::<Secp256k1>(),
            KeyType::Ed25519 => self.validate_in::<Ed25519>(),
        }
    }

    fn validate_in<G: Group>(&self) -> Result<(), RecordError> {
        let holder_error = |h: &Holder, what: &str| RecordError::Holder {
            holder: h.node_id.clone(),
            what: what.into(),
        };
        let mut xs = Vec::with_capacity(self.holders.len());
        let mut points = Vec::with_capacity(self.holders.len());
        for h in &self.holders {
            let x = G::scalar_from_be(&h.evaluation_point)
                .filter(|x| *x != G::zero())
                .ok_or_else(|| holder_error(h, "evaluation point is zero or not reduced"))?;
            let p = G::decode(&h.public_share)
                .map_err(|e| holder_error(h, &format!("public share {e}")))?;
            xs.push(x);
            points.push(p);
        }
        let public_key = G::decode(&self.public_key)
            .map_err(|e| RecordError::Structure(format!("public key {e}")))?;
        // Exactly this threshold: on a polynomial of degree t − 1, and on none of lower degree.
        if !on_polynomial::<G>(&xs, &points, &public_key, self.threshold_signers)
            || on_polynomial::<G>(&xs, &points, &public_key, self.threshold_signers - 1)
        {
            return Err(RecordError::Inconsistent {
                signers: self.threshold_signers,
            });
        }
        let mut secret = G::scalar_from_be(self.secret_share.expose())
            .ok_or_else(|| RecordError::Structure("secret share is not reduced".into()))?;
        let own = points
            .get(usize::from(self.own_position))
            .copied()
            .ok_or_else(|| RecordError::Structure("own position out of range".into()))?;
        let matches = G::mul_base(&secret) == own;
        zeroize::Zeroize::zeroize(&mut secret);
        if !matches {
            return Err(RecordError::SecretMismatch);
        }
        Ok(())
    }

    /// Which key.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The reference wallet id.
    pub fn wallet_id(&self) -> &str {
        &self.wallet_id
    }

    /// The reference share version (0 legacy, 1 keygen, +1 per reshare).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Signers required (tss-lib's threshold is this minus one).
    pub fn threshold_signers(&self) -> u16 {
        self.threshold_signers
    }

    /// All holders in canonical (ascending evaluation point) order.
    pub fn holders(&self) -> &[Holder] {
        &self.holders
    }

    /// Our position in [`ImportedShare::holders`].
    pub fn own_position(&self) -> u16 {
        self.own_position
    }

    /// Our holder entry.
    pub fn own_holder(&self) -> Option<&Holder> {
        self.holders.get(usize::from(self.own_position))
    }

    /// The secret share (32 bytes big-endian).
    pub fn secret_share(&self) -> &SecretShare {
        &self.secret_share
    }

    /// The wallet's public key, compressed (SEC1 for secp256k1, RFC 8032 for Ed25519).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// The public key in the reference's result encoding, to compare with the addresses its
    /// clients derived: secp256k1 affine X‖Y (64 bytes, no `0x04`), Ed25519 the 32-byte key.
    pub fn reference_public_key(&self) -> Result<Vec<u8>, RecordError> {
        let bad = |e: group::PointError| RecordError::Structure(format!("public key {e}"));
        match self.key_type {
            KeyType::Secp256k1 => {
                let (x, y) =
                    Secp256k1::to_coords(&Secp256k1::decode(&self.public_key).map_err(bad)?);
                Ok([x, y].concat())
            }
            KeyType::Ed25519 => Ok(self.public_key.clone()),
        }
    }

    /// Evaluation points of all holders, in holder order.
    pub fn evaluation_points(&self) -> Vec<[u8; 32]> {
        self.holders.iter().map(|h| h.evaluation_point).collect()
    }

    /// Public shares of all holders, in holder order.
    pub fn public_shares(&self) -> Vec<Vec<u8>> {
        self.holders
            .iter()
            .map(|h| h.public_share.clone())
            .collect()
    }

    /// SHA-256 over everything public in the record (key type, wallet, version, threshold, every
    /// holder's node id, evaluation point and public share, public key). Every holder of the same
    /// key version computes the same fingerprint; the node compares them over the network before
    /// it marks an imported wallet usable.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"mpcium-migrate/imported-share/fingerprint/v1");
        absorb(&mut h, self.key_type.tss_curve_name().as_bytes());
        absorb(&mut h, self.wallet_id.as_bytes());
        h.update(self.version.to_be_bytes());
        h.update(self.threshold_signers.to_be_bytes());
        h.update((self.holders.len() as u64).to_be_bytes());
        for holder in &self.holders {
            absorb(&mut h, holder.node_id.as_bytes());
            absorb(&mut h, &holder.party_key);
            absorb(&mut h, &holder.evaluation_point);
            absorb(&mut h, &holder.public_share);
        }
        absorb(&mut h, &self.public_key);
        h.finalize().into()
    }

    /// The JSON form (secret inside: the buffer is zeroized on drop; encrypt it before storing).
    pub fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, RecordError> {
        let mut out = Zeroizing::new(Vec::with_capacity(2048));
        serde_json::to_writer(&mut *out, self)
            .map_err(|e| RecordError::Decode(format!("cannot serialize: {}", describe(&e))))?;
        Ok(out)
    }

    /// Decodes and validates [`ImportedShare::to_json`]'s output.
    pub fn from_json(bytes: &[u8]) -> Result<Self, RecordError> {
        let wire: Wire =
            serde_json::from_slice(bytes).map_err(|e| RecordError::Decode(describe(&e)))?;
        Self::from_wire(wire)
    }

    fn from_wire(wire: Wire) -> Result<Self, RecordError> {
        if wire.format != RECORD_FORMAT {
            return Err(RecordError::Format { found: wire.format });
        }
        let share = Self {
            key_type: wire.key_type,
            wallet_id: wire.wallet_id,
            version: wire.version,
            threshold_signers: wire.threshold_signers,
            holders: wire.holders,
            own_position: wire.own_position,
            secret_share: wire.secret_share,
            public_key: wire.public_key,
        };
        share.validate()?;
        Ok(share)
    }
}

/// Whether all `points` lie on one polynomial of degree `signers − 1` whose value at zero is
/// `public_key`: the first `signers` points interpolate to the key, and every further point is
/// the value of the polynomial through the first `signers` at its evaluation point.
pub(crate) fn on_polynomial<G: Group>(
    xs: &[G::Scalar],
    points: &[G::Point],
    public_key: &G::Point,
    signers: u16,
) -> bool {
    let t = usize::from(signers);
    let (Some(base_x), Some(base_p)) = (xs.get(..t), points.get(..t)) else {
        return false;
    };
    if group::interpolate::<G>(base_x, base_p, &G::zero()) != Some(*public_key) {
        return false;
    }
    xs.iter()
        .zip(points)
        .skip(t)
        .all(|(x, p)| group::interpolate::<G>(base_x, base_p, x) == Some(*p))
}

fn absorb(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// serde_json's error without its message, which may quote the offending (secret) value.
pub(crate) fn describe(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "i/o error",
        serde_json::error::Category::Syntax => "malformed json",
        serde_json::error::Category::Data => "unexpected structure or value",
        serde_json::error::Category::Eof => "truncated",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

#[derive(Serialize, Deserialize)]
struct Wire {
    format: String,
    key_type: KeyType,
    wallet_id: String,
    version: u64,
    threshold_signers: u16,
    holders: Vec<Holder>,
    own_position: u16,
    #[serde(with = "secret_hex")]
    secret_share: SecretShare,
    #[serde(with = "hex_vec")]
    public_key: Vec<u8>,
}

impl Serialize for ImportedShare {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Wire {
            format: RECORD_FORMAT.into(),
            key_type: self.key_type,
            wallet_id: self.wallet_id.clone(),
            version: self.version,
            threshold_signers: self.threshold_signers,
            holders: self.holders.clone(),
            own_position: self.own_position,
            secret_share: self.secret_share.clone(),
            public_key: self.public_key.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ImportedShare {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The message is ours (RecordError never quotes a secret).
        Self::from_wire(Wire::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

mod hex_vec {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hex::decode(text.as_ref()).map_err(|_| serde::de::Error::custom("not hex"))
    }
}

mod hex_array {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let v = super::hex_vec::deserialize(d)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("not 32 bytes"))
    }
}

/// Hex of a secret, through zeroizing buffers only.
mod secret_hex {
    use std::fmt;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use zeroize::Zeroizing;

    use super::SecretShare;

    pub fn serialize<S: Serializer>(v: &SecretShare, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = Zeroizing::new([0u8; 64]);
        hex::encode_to_slice(v.expose(), &mut *buf)
            .map_err(|_| serde::ser::Error::custom("secret share encoding"))?;
        let text = std::str::from_utf8(&*buf)
            .map_err(|_| serde::ser::Error::custom("secret share encoding"))?;
        s.serialize_str(text)
    }

    struct SecretVisitor;

    impl Visitor<'_> for SecretVisitor {
        type Value = SecretShare;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("64 hex digits")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretShare, E> {
            let mut out = Zeroizing::new([0u8; 32]);
            hex::decode_to_slice(v, &mut *out)
                .map_err(|_| E::custom("secret share is not 64 hex digits"))?;
            Ok(SecretShare::new(out))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretShare, D::Error> {
        d.deserialize_str(SecretVisitor)
    }
}
