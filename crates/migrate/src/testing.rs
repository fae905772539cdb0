//! TEST SUPPORT ONLY (feature `test-support`): writes reference-format data from the
//! reference's definitions, so the readers are tested against what a Go mpcium node would have
//! produced — never against themselves.
//!
//! * [`ReferenceKey::random`] splits a random key the tss-lib way: a random polynomial of degree
//!   `signers − 1` whose constant is the key, evaluated at each holder's party key
//!   (`"<node id>:<version>"` as a big-endian integer, reduced modulo the group order), holders
//!   sorted by party key (`tss.SortPartyIDs`); [`ReferenceKey::reshare`] re-splits the same key
//!   among new holders at the next version, as tss-lib resharing does.
//! * [`ReferenceKey::save_data_json`] encodes one holder's share as tss-lib `LocalPartySaveData`
//!   JSON (ECDSA with dummy Paillier and ring-Pedersen numbers of realistic size).
//! * [`BackupWriter`] keeps a Badger-like versioned log and writes `DB.Backup(since)` streams,
//!   encrypted and framed exactly as `badger_backup.go` does, with `latest.version`.
//!
//! Everything here creates secrets in the clear for tests; nothing may use it in production.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::backup::{BackupKey, BackupMetadata, LatestVersion, ALGO, LATEST_VERSION_FILE, MAGIC};
use crate::badger::{self, Kv};
use crate::group::{Ed25519, Group, Secp256k1};
use crate::number::to_decimal;
use crate::record::KeyType;
use crate::reference::{party_key, ShareKey};

/// Affine big-endian coordinates `(x, y)`.
pub type Coords = (Vec<u8>, Vec<u8>);

/// One holder of a [`ReferenceKey`], with the values tss-lib would store for it. Fields are
/// public so tests can tamper with them.
#[derive(Clone)]
pub struct Party {
    /// The holder's node id.
    pub node_id: String,
    /// Its party key (big-endian bytes of `"<node id>:<version>"`).
    pub party_key: Vec<u8>,
    /// Its secret share `Xi`, minimal big-endian (secret).
    pub xi: Zeroizing<Vec<u8>>,
    /// Its public share `BigXj`, affine big-endian coordinates.
    pub big_xj: (Vec<u8>, Vec<u8>),
}

impl std::fmt::Debug for Party {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Party")
            .field("node_id", &self.node_id)
            .field("xi", &"<redacted>")
            .finish()
    }
}

/// A wallet key split among its holders as tss-lib splits it.
#[derive(Clone)]
pub struct ReferenceKey {
    key_type: KeyType,
    wallet_id: String,
    version: u64,
    signers: u16,
    secret: Zeroizing<[u8; 32]>,
    /// Holders in tss-lib order (ascending party key).
    pub parties: Vec<Party>,
    /// The public key's affine coordinates.
    pub public_key_coords: (Vec<u8>, Vec<u8>),
    public_key: Vec<u8>,
}

impl std::fmt::Debug for ReferenceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceKey")
            .field("key_type", &self.key_type)
            .field("wallet_id", &self.wallet_id)
            .field("version", &self.version)
            .field("signers", &self.signers)
            .field("parties", &self.parties)
            .finish()
    }
}

fn random_scalar<G: Group, R: RngCore + CryptoRng>(rng: &mut R) -> G::Scalar {
    let mut wide = Zeroizing::new([0u8; 64]);
    rng.fill_bytes(&mut *wide);
    G::reduce_be(&*wide)
}

/// tss-lib's party order: ascending integer value of the party key.
fn sort_by_party_key(parties: &mut [Party]) {
    parties.sort_by(|a, b| {
        a.party_key
            .len()
            .cmp(&b.party_key.len())
            .then_with(|| a.party_key.cmp(&b.party_key))
    });
}

fn minimal(be: &[u8]) -> Vec<u8> {
    be.iter().copied().skip_while(|b| *b == 0).collect()
}

fn split<G: Group, R: RngCore + CryptoRng>(
    rng: &mut R,
    secret: G::Scalar,
    holders: &[&str],
    version: u64,
    signers: u16,
) -> (Vec<Party>, G::Point) {
    let mut coefficients = vec![secret];
    for _ in 1..signers {
        coefficients.push(random_scalar::<G, R>(rng));
    }
    let mut parties: Vec<Party> = holders
        .iter()
        .map(|node| {
            let key = party_key(node, version);
            let x = G::reduce_be(&key);
            // Horner: f(x) = a_0 + x(a_1 + x(a_2 + …)).
            let fx = coefficients
                .iter()
                .rev()
                .fold(G::zero(), |acc, a| acc * x + *a);
            let xi = Zeroizing::new(minimal(&G::scalar_to_be(&fx)));
            Party {
                node_id: (*node).to_string(),
                party_key: key,
                big_xj: G::to_coords(&G::mul_base(&fx)),
                xi,
            }
        })
        .collect();
    sort_by_party_key(&mut parties);
    for c in &mut coefficients {
        zeroize::Zeroize::zeroize(c);
    }
    (parties, G::mul_base(&secret))
}

impl ReferenceKey {
    /// A random key of `key_type` for `wallet_id` at share `version` (1 after keygen), split
    /// among `holders` (node ids) so that `signers` of them can sign.
    pub fn random<R: RngCore + CryptoRng>(
        rng: &mut R,
        key_type: KeyType,
        wallet_id: &str,
        version: u64,
        holders: &[&str],
        signers: u16,
    ) -> Self {
        let mut secret = Zeroizing::new([0u8; 32]);
        match key_type {
            KeyType::Secp256k1 => {
                *secret = Secp256k1::scalar_to_be(&random_scalar::<Secp256k1, R>(rng))
            }
            KeyType::Ed25519 => *secret = Ed25519::scalar_to_be(&random_scalar::<Ed25519, R>(rng)),
        }
        Self::with_secret(rng, key_type, wallet_id, version, secret, holders, signers)
    }

    fn with_secret<R: RngCore + CryptoRng>(
        rng: &mut R,
        key_type: KeyType,
        wallet_id: &str,
        version: u64,
        secret: Zeroizing<[u8; 32]>,
        holders: &[&str],
        signers: u16,
    ) -> Self {
        fn go<G: Group, R: RngCore + CryptoRng>(
            rng: &mut R,
            secret: &[u8; 32],
            holders: &[&str],
            version: u64,
            signers: u16,
        ) -> (Vec<Party>, Coords, Vec<u8>) {
            let s = G::reduce_be(secret);
            let (parties, pk) = split::<G, R>(rng, s, holders, version, signers);
            (parties, G::to_coords(&pk), G::encode(&pk))
        }
        let (parties, public_key_coords, public_key) = match key_type {
            KeyType::Secp256k1 => go::<Secp256k1, R>(rng, &secret, holders, version, signers),
            KeyType::Ed25519 => go::<Ed25519, R>(rng, &secret, holders, version, signers),
        };
        Self {
            key_type,
            wallet_id: wallet_id.to_string(),
            version,
            signers,
            secret,
            parties,
            public_key_coords,
            public_key,
        }
    }

    /// The same key re-split among `holders` with `signers`, at the next version (what tss-lib
    /// resharing gives the new committee).
    pub fn reshare<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        holders: &[&str],
        signers: u16,
    ) -> Self {
        Self::with_secret(
            rng,
            self.key_type,
            &self.wallet_id,
            self.version + 1,
            self.secret.clone(),
            holders,
            signers,
        )
    }

    /// Which key.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The wallet id.
    pub fn wallet_id(&self) -> &str {
        &self.wallet_id
    }

    /// The share version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Signers required.
    pub fn signers(&self) -> u16 {
        self.signers
    }

    /// The public key, compressed (SEC1 / RFC 8032).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// The Badger key the reference stores this version under.
    pub fn badger_key(&self) -> String {
        ShareKey {
            key_type: self.key_type,
            wallet_id: self.wallet_id.clone(),
            version: self.version,
        }
        .badger_key()
    }

    /// The holder `node_id`, if it holds a share.
    pub fn party(&self, node_id: &str) -> Option<&Party> {
        self.parties.iter().find(|p| p.node_id == node_id)
    }

    /// tss-lib `LocalPartySaveData` JSON of holder `node_id`'s share, as `json.Marshal` writes
    /// it (field order of the Go structs). `None` if `node_id` holds no share.
    pub fn save_data_json<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        node_id: &str,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let me = self.party(node_id)?;
        let curve = self.key_type.tss_curve_name();
        let point = |(x, y): &(Vec<u8>, Vec<u8>)| {
            format!(
                r#"{{"Curve":"{curve}","Coords":[{},{}]}}"#,
                to_decimal(x),
                to_decimal(y)
            )
        };
        let list = |items: Vec<String>| format!("[{}]", items.join(","));
        let ks = list(
            self.parties
                .iter()
                .map(|p| to_decimal(&p.party_key))
                .collect(),
        );
        let big_xj = list(self.parties.iter().map(|p| point(&p.big_xj)).collect());
        let mut out = Zeroizing::new(String::with_capacity(32 * 1024));
        let n = self.parties.len();
        let _ = match self.key_type {
            KeyType::Secp256k1 => {
                // Values the import skips; sized like the real ones (2048-bit Paillier moduli
                // and ring-Pedersen parameters, 1024-bit primes).
                let mut big = |bits: usize| to_decimal(&random_bytes(rng, bits / 8));
                let pre = format!(
                    r#""PaillierSK":{{"N":{},"LambdaN":{},"PhiN":{},"P":{},"Q":{}}},"NTildei":{},"H1i":{},"H2i":{},"Alpha":{},"Beta":{},"P":{},"Q":{},"#,
                    big(2048),
                    big(2048),
                    big(2048),
                    big(1024),
                    big(1024),
                    big(2048),
                    big(2048),
                    big(2048),
                    big(2048),
                    big(2048),
                    big(1024),
                    big(1024)
                );
                let per_party = |big: &mut dyn FnMut(usize) -> String| {
                    list((0..n).map(|_| big(2048)).collect())
                };
                let ntilde = per_party(&mut big);
                let h1 = per_party(&mut big);
                let h2 = per_party(&mut big);
                let pks = list(
                    (0..n)
                        .map(|_| format!(r#"{{"N":{}}}"#, big(2048)))
                        .collect(),
                );
                write!(
                    out,
                    r#"{{{pre}"Xi":{},"ShareID":{},"Ks":{ks},"NTildej":{ntilde},"H1j":{h1},"H2j":{h2},"BigXj":{big_xj},"PaillierPKs":{pks},"ECDSAPub":{}}}"#,
                    to_decimal(&me.xi),
                    to_decimal(&me.party_key),
                    point(&self.public_key_coords)
                )
            }
            KeyType::Ed25519 => write!(
                out,
                r#"{{"Xi":{},"ShareID":{},"Ks":{ks},"BigXj":{big_xj},"EDDSAPub":{}}}"#,
                to_decimal(&me.xi),
                to_decimal(&me.party_key),
                point(&self.public_key_coords)
            ),
        };
        Some(Zeroizing::new(out.as_bytes().to_vec()))
    }
}

fn random_bytes<R: RngCore>(rng: &mut R, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    if let Some(first) = v.first_mut() {
        *first |= 0x80;
    }
    v
}

/// A node's Badger store as a versioned log, and the backups the reference would write of it.
pub struct BackupWriter {
    node: String,
    key: BackupKey,
    log: Vec<Kv>,
    badger_version: u64,
    counter: u64,
    since: u64,
    files: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for BackupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupWriter")
            .field("node", &self.node)
            .field("files", &self.files.len())
            .finish()
    }
}

impl BackupWriter {
    /// The store of node `node_name`, backed up with `key` (its Badger password).
    pub fn new(node_name: &str, key: BackupKey) -> Self {
        Self {
            node: node_name.to_string(),
            key,
            log: Vec::new(),
            badger_version: 0,
            counter: 0,
            since: 0,
            files: Vec::new(),
        }
    }

    /// Commits `txn.Set(key, value)` at the next Badger version.
    pub fn set(&mut self, key: &str, value: &[u8]) {
        self.badger_version += 1;
        self.log.push(badger::set_entry(
            key.as_bytes(),
            value,
            self.badger_version,
        ));
    }

    /// Commits `txn.Delete(key)` at the next Badger version.
    pub fn delete(&mut self, key: &str) {
        self.badger_version += 1;
        self.log
            .push(badger::delete_entry(key.as_bytes(), self.badger_version));
    }

    /// What `DB.Backup(since)` streams: per key, its versions ≥ `since`, newest first, down to and
    /// including the first deletion; batches of at most `batch` entries. Returns the stream and the
    /// highest version in it.
    fn stream(&self, batch: usize) -> (Zeroizing<Vec<u8>>, u64) {
        let mut keys: Vec<&[u8]> = self.log.iter().map(|kv| kv.key.as_slice()).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut entries = Vec::new();
        for key in keys {
            let mut versions: Vec<&Kv> = self
                .log
                .iter()
                .filter(|kv| kv.key == key && kv.version >= self.since)
                .collect();
            versions.sort_by_key(|kv| std::cmp::Reverse(kv.version));
            for kv in versions {
                entries.push(kv.clone());
                if kv.meta.first().is_some_and(|m| m & 1 != 0) {
                    break;
                }
            }
        }
        let max = entries.iter().map(|kv| kv.version).max().unwrap_or(0);
        let mut out = Zeroizing::new(Vec::new());
        let mut rest = entries;
        while !rest.is_empty() {
            let tail = rest.split_off(batch.min(rest.len()));
            out.extend(badger::encode_batch(rest));
            rest = tail;
        }
        (out, max)
    }

    /// Runs one backup as `badgerBackupExecutor.Execute` does: skipped (returns `None`) when
    /// nothing changed, else writes the next file (batches of two entries, so multi-batch
    /// streams are exercised) and returns its name.
    pub fn backup<R: RngCore + CryptoRng>(&mut self, rng: &mut R) -> Option<String> {
        let (plain, next_since) = self.stream(2);
        if plain.is_empty() || next_since == self.since {
            return None;
        }
        let mut nonce = [0u8; 12];
        rng.fill_bytes(&mut nonce);
        let ciphertext = self.key.encrypt(&nonce, &plain)?;
        self.counter += 1;
        let timestamp = format!(
            "2025-06-01_12-{:02}-{:02}",
            self.counter / 60,
            self.counter % 60
        );
        let meta = BackupMetadata {
            algo: ALGO.into(),
            nonce_b64: base64::engine::general_purpose::STANDARD.encode(nonce),
            created_at: "2025-06-01T12:00:00Z".into(),
            since: self.since,
            next_since,
            encryption_key_id: self.key.key_id(),
        };
        let meta_json = serde_json::to_vec(&meta).ok()?;
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&u32::try_from(meta_json.len()).ok()?.to_be_bytes());
        file.extend_from_slice(&meta_json);
        file.extend_from_slice(&ciphertext);
        let name = format!("backup-{}-{timestamp}-{}.enc", self.node, self.counter);
        self.files.push((name.clone(), file));
        self.since = next_since;
        Some(name)
    }

    /// The files written so far, `(name, bytes)`, oldest first.
    pub fn files(&self) -> &[(String, Vec<u8>)] {
        &self.files
    }

    /// The contents of `latest.version`.
    pub fn latest_version(&self) -> Vec<u8> {
        serde_json::to_vec(&LatestVersion {
            version: self.counter,
            since: self.since,
            updated_at: "2025-06-01T12:00:00Z".into(),
        })
        .unwrap_or_default()
    }

    /// Writes every file and `latest.version` into `dir`.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        for (name, bytes) in &self.files {
            std::fs::write(dir.join(name), bytes)?;
        }
        std::fs::write(dir.join(LATEST_VERSION_FILE), self.latest_version())
    }
}

/// Writes node `node_name`'s (`node_id`) backups of `keys` into `dir` as the reference would
/// have: each key's save data committed in turn with a backup after each, so the chain has one
/// incremental file per key, and `latest.version`. Keys `node_id` holds no share of are
/// skipped. Returns the file names, oldest first.
pub fn write_node_backups<R: RngCore + CryptoRng>(
    rng: &mut R,
    dir: &Path,
    node_name: &str,
    node_id: &str,
    key: BackupKey,
    keys: &[&ReferenceKey],
) -> std::io::Result<Vec<String>> {
    let mut writer = BackupWriter::new(node_name, key);
    writer.set("pre_params_0", b"{}");
    for reference in keys {
        let Some(json) = reference.save_data_json(rng, node_id) else {
            continue;
        };
        writer.set(&reference.badger_key(), &json);
        writer.backup(rng);
    }
    writer.write_to(dir)?;
    Ok(writer
        .files()
        .iter()
        .map(|(name, _)| name.clone())
        .collect())
}
