//! The backup file format (version 1): sealing a store snapshot into bytes and opening it again.
//!
//! ```text
//! "MPCIUM_RS_BACKUP" (16 bytes) ‖ u8 format version ‖ u32 BE header length ‖ header JSON ‖
//! XChaCha20-Poly1305(key, nonce, record stream, AAD = every byte before the ciphertext)
//! ```
//! The header (see [`Header`]) is readable without the password; it names the node, the time,
//! the record count, the Argon2id parameters and random salt of the backup key, the nonce, a
//! key-check value (SHA-256 of a label and the key, so a wrong password is told apart from a
//! modified file) and the SHA-256 of the record stream. The record stream is, per record,
//! `u8 table-name length ‖ table name ‖ u32 BE key length ‖ key ‖ u32 BE value length ‖ value`,
//! with values exactly as the store holds them (still sealed under the store key).

use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::BackupError;
use crate::store::{table_name, KdfParams, SecretPassword, Snapshot, StoredRecord};

/// First bytes of every backup file.
pub const MAGIC: &[u8; 16] = b"MPCIUM_RS_BACKUP";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Largest header accepted; real headers are a few hundred bytes.
const MAX_HEADER_LEN: usize = 64 * 1024;
/// Bytes before the header: magic, version, header length.
pub(crate) const PREFIX_LEN: usize = MAGIC.len() + 1 + 4;
const CIPHER: &str = "xchacha20poly1305";
const KDF: &str = "argon2id";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
const TAG_LEN: u64 = 16;
const KEY_CHECK_LABEL: &[u8] = b"mpcium-rs backup key check v1";
/// The costliest Argon2id parameters a header may name: 16 times the memory and 20 times the
/// passes of the defaults backups are written with. The header is read before anything is
/// authenticated, so without a cap a crafted file would make the reader allocate up to 4 TiB
/// (an abort) or run for days.
const MAX_KDF_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_KDF_ITERATIONS: u32 = 64;
const MAX_KDF_PARALLELISM: u32 = 64;

/// The unencrypted header of a backup file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Name of the node whose store this is.
    pub node: String,
    /// When the snapshot was taken, RFC 3339 UTC.
    pub created_at: String,
    /// The store's schema version.
    pub schema_version: u32,
    /// Number of records in the stream.
    pub records: u64,
    /// How the backup key is derived from the password.
    pub kdf: KdfHeader,
    /// The AEAD, `xchacha20poly1305`.
    pub cipher: String,
    /// AEAD nonce, hex.
    pub nonce: String,
    /// SHA-256 of a fixed label and the backup key, hex.
    pub key_check: String,
    /// Length of the record stream in bytes (the ciphertext is 16 bytes longer).
    pub stream_bytes: u64,
    /// SHA-256 of the record stream, hex.
    pub plaintext_sha256: String,
}

/// Argon2id parameters and salt of the backup key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfHeader {
    /// Always `argon2id`.
    pub algorithm: String,
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Random salt, hex.
    pub salt: String,
}

/// A decrypted backup: its header and the snapshot it holds.
#[derive(Debug)]
pub struct Opened {
    /// The file's header.
    pub header: Header,
    /// The store records, as stored.
    pub snapshot: Snapshot,
}

/// The record stream of a snapshot and its SHA-256.
pub(crate) struct Stream {
    pub(crate) bytes: Zeroizing<Vec<u8>>,
    pub(crate) digest: String,
}

/// Serialises `snapshot`'s records into the record stream.
pub(crate) fn encode_stream(snapshot: &Snapshot) -> Result<Stream, BackupError> {
    let size: usize = snapshot
        .records
        .iter()
        .map(|r| 9 + r.table.len() + r.key.len() + r.sealed.len())
        .sum();
    let mut out = Zeroizing::new(Vec::with_capacity(size));
    let too_long = || BackupError::Bug {
        what: "a store record is too long for the backup stream",
    };
    for record in &snapshot.records {
        let name_len = u8::try_from(record.table.len()).map_err(|_| too_long())?;
        out.push(name_len);
        out.extend_from_slice(record.table.as_bytes());
        for part in [&record.key, &record.sealed] {
            let len = u32::try_from(part.len()).map_err(|_| too_long())?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    let digest = hex::encode(Sha256::digest(out.as_slice()));
    Ok(Stream { bytes: out, digest })
}

/// Seals `snapshot` into the bytes of a backup file.
pub(crate) fn seal(
    node: &str,
    created_at: String,
    snapshot: &Snapshot,
    stream: &Stream,
    password: &SecretPassword,
    kdf: KdfParams,
) -> Result<Vec<u8>, BackupError> {
    let mut salt = [0u8; SALT_LEN];
    OsRng.fill_bytes(&mut salt);
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let key = derive_key(password, &kdf, &salt)?;
    let header = Header {
        node: node.to_owned(),
        created_at,
        schema_version: snapshot.schema_version,
        records: u64::try_from(snapshot.records.len()).map_err(|_| BackupError::Bug {
            what: "record count does not fit in u64",
        })?,
        kdf: KdfHeader {
            algorithm: KDF.to_owned(),
            memory_kib: kdf.memory_kib,
            iterations: kdf.iterations,
            parallelism: kdf.parallelism,
            salt: hex::encode(salt),
        },
        cipher: CIPHER.to_owned(),
        nonce: hex::encode(nonce),
        key_check: key_check(&key),
        stream_bytes: u64::try_from(stream.bytes.len()).map_err(|_| BackupError::Bug {
            what: "stream length does not fit in u64",
        })?,
        plaintext_sha256: stream.digest.clone(),
    };
    let header_json = serde_json::to_vec(&header).map_err(|_| BackupError::Bug {
        what: "the backup header does not serialise",
    })?;
    let header_len = u32::try_from(header_json.len()).map_err(|_| BackupError::Bug {
        what: "the backup header is too long",
    })?;
    let mut out = Vec::with_capacity(PREFIX_LEN + header_json.len() + stream.bytes.len() + 16);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&header_len.to_be_bytes());
    out.extend_from_slice(&header_json);
    let ciphertext = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key.as_slice()))
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: stream.bytes.as_slice(),
                aad: &out,
            },
        )
        .map_err(|_| BackupError::Bug {
            what: "xchacha20poly1305 refused to encrypt a backup",
        })?;
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Length of the header that follows the prefix, checking magic and version; `path` labels
/// errors.
pub(crate) fn header_len(path: &Path, prefix: &[u8]) -> Result<usize, BackupError> {
    let magic = prefix.get(..MAGIC.len());
    if magic != Some(MAGIC.as_slice()) {
        return Err(if prefix.len() < MAGIC.len() && MAGIC.starts_with(prefix) {
            truncated(path, "magic")
        } else {
            BackupError::NotABackup {
                path: path.to_path_buf(),
            }
        });
    }
    let version = *prefix
        .get(MAGIC.len())
        .ok_or_else(|| truncated(path, "format version"))?;
    if version != FORMAT_VERSION {
        return Err(BackupError::UnsupportedVersion {
            path: path.to_path_buf(),
            version,
            supported: FORMAT_VERSION,
        });
    }
    let len: [u8; 4] = prefix
        .get(MAGIC.len() + 1..PREFIX_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| truncated(path, "header length"))?;
    let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
    if len > MAX_HEADER_LEN {
        return Err(bad_header(
            path,
            format!("header length {len} exceeds {MAX_HEADER_LEN}"),
        ));
    }
    Ok(len)
}

/// Parses and checks the header JSON.
pub(crate) fn parse_header(path: &Path, json: &[u8]) -> Result<Header, BackupError> {
    let header: Header =
        serde_json::from_slice(json).map_err(|e| bad_header(path, format!("not valid: {e}")))?;
    if header.cipher != CIPHER {
        return Err(bad_header(
            path,
            format!("unknown cipher {:?}", header.cipher),
        ));
    }
    if header.kdf.algorithm != KDF {
        return Err(bad_header(
            path,
            format!("unknown kdf {:?}", header.kdf.algorithm),
        ));
    }
    let kdf = &header.kdf;
    for (what, value, max) in [
        ("memory_kib", kdf.memory_kib, MAX_KDF_MEMORY_KIB),
        ("iterations", kdf.iterations, MAX_KDF_ITERATIONS),
        ("parallelism", kdf.parallelism, MAX_KDF_PARALLELISM),
    ] {
        if value > max {
            return Err(bad_header(
                path,
                format!("kdf {what} {value} exceeds the limit of {max}"),
            ));
        }
    }
    Ok(header)
}

/// Reads the header of a whole backup file without decrypting.
pub(crate) fn read_header(path: &Path, bytes: &[u8]) -> Result<(Header, usize), BackupError> {
    let len = header_len(path, bytes)?;
    let end = PREFIX_LEN + len;
    let json = bytes
        .get(PREFIX_LEN..end)
        .ok_or_else(|| truncated(path, "header"))?;
    Ok((parse_header(path, json)?, end))
}

/// Decrypts a backup file's bytes and checks digest and record count.
pub(crate) fn open(
    path: &Path,
    bytes: &[u8],
    password: &SecretPassword,
) -> Result<Opened, BackupError> {
    if password.is_empty() {
        return Err(BackupError::EmptyPassword);
    }
    let (header, end) = read_header(path, bytes)?;
    let (aad, ciphertext) = bytes
        .split_at_checked(end)
        .ok_or_else(|| truncated(path, "header"))?;
    let salt: [u8; SALT_LEN] = decode_hex(path, "salt", &header.kdf.salt)?;
    let nonce: [u8; NONCE_LEN] = decode_hex(path, "nonce", &header.nonce)?;
    let kdf = KdfParams {
        memory_kib: header.kdf.memory_kib,
        iterations: header.kdf.iterations,
        parallelism: header.kdf.parallelism,
    };
    let key = derive_key(password, &kdf, &salt).map_err(|e| match e {
        BackupError::InvalidKdfParams { reason } => bad_header(path, reason),
        other => other,
    })?;
    if key_check(&key) != header.key_check {
        return Err(BackupError::WrongPassword {
            path: path.to_path_buf(),
        });
    }
    let expected = header.stream_bytes.checked_add(TAG_LEN);
    match u64::try_from(ciphertext.len()).ok() {
        found if found < expected => return Err(truncated(path, "ciphertext")),
        found if found > expected => {
            return Err(BackupError::Tampered {
                path: path.to_path_buf(),
            })
        }
        _ => {}
    }
    let stream = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key.as_slice()))
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| BackupError::Tampered {
            path: path.to_path_buf(),
        })?;
    if hex::encode(Sha256::digest(stream.as_slice())) != header.plaintext_sha256 {
        return Err(BackupError::DigestMismatch {
            path: path.to_path_buf(),
        });
    }
    let records = decode_stream(path, &stream)?;
    let found = u64::try_from(records.len()).unwrap_or(u64::MAX);
    if found != header.records {
        return Err(BackupError::RecordCountMismatch {
            path: path.to_path_buf(),
            expected: header.records,
            found,
        });
    }
    let snapshot = Snapshot {
        schema_version: header.schema_version,
        records,
    };
    Ok(Opened { header, snapshot })
}

fn decode_stream(path: &Path, mut rest: &[u8]) -> Result<Vec<StoredRecord>, BackupError> {
    let malformed = |what: String| BackupError::MalformedRecords {
        path: path.to_path_buf(),
        what,
    };
    let take = |n: usize, rest: &mut &[u8]| -> Result<Vec<u8>, BackupError> {
        let (head, tail) = rest
            .split_at_checked(n)
            .ok_or_else(|| malformed("a record is cut short".to_owned()))?;
        *rest = tail;
        Ok(head.to_vec())
    };
    let mut records = Vec::new();
    while let Some((&name_len, tail)) = rest.split_first() {
        rest = tail;
        let name = take(usize::from(name_len), &mut rest)?;
        let name = String::from_utf8_lossy(&name);
        let table = table_name(&name).ok_or_else(|| BackupError::MalformedRecords {
            path: path.to_path_buf(),
            what: format!("unknown table {name:?}"),
        })?;
        let mut parts = [Vec::new(), Vec::new()];
        for part in &mut parts {
            let len: [u8; 4] = take(4, &mut rest)?
                .try_into()
                .map_err(|_| BackupError::Bug {
                    what: "took 4 bytes but got another count",
                })?;
            let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
            *part = take(len, &mut rest)?;
        }
        let [key, sealed] = parts;
        records.push(StoredRecord { table, key, sealed });
    }
    Ok(records)
}

fn derive_key(
    password: &SecretPassword,
    kdf: &KdfParams,
    salt: &[u8; SALT_LEN],
) -> Result<Zeroizing<[u8; 32]>, BackupError> {
    if password.is_empty() {
        return Err(BackupError::EmptyPassword);
    }
    let invalid = |e: argon2::Error| BackupError::InvalidKdfParams {
        reason: e.to_string(),
    };
    let params =
        Params::new(kdf.memory_kib, kdf.iterations, kdf.parallelism, Some(32)).map_err(invalid)?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, key.as_mut())
        .map_err(invalid)?;
    Ok(key)
}

fn key_check(key: &Zeroizing<[u8; 32]>) -> String {
    let mut hash = Sha256::new();
    hash.update(KEY_CHECK_LABEL);
    hash.update(key.as_slice());
    hex::encode(hash.finalize())
}

fn decode_hex<const N: usize>(path: &Path, what: &str, text: &str) -> Result<[u8; N], BackupError> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| <[u8; N]>::try_from(bytes).ok())
        .ok_or_else(|| bad_header(path, format!("{what} is not {N} bytes of hex")))
}

fn truncated(path: &Path, what: &'static str) -> BackupError {
    BackupError::Truncated {
        path: path.to_path_buf(),
        what,
    }
}

fn bad_header(path: &Path, detail: String) -> BackupError {
    BackupError::BadHeader {
        path: path.to_path_buf(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn must_snapshot() -> Snapshot {
        Snapshot {
            schema_version: 1,
            records: vec![
                StoredRecord {
                    table: "meta",
                    key: b"schema_version".to_vec(),
                    sealed: 1u32.to_be_bytes().to_vec(),
                },
                StoredRecord {
                    table: "shares",
                    key: b"golden-key".to_vec(),
                    sealed: b"golden sealed value".to_vec(),
                },
            ],
        }
    }

    fn must_seal(snapshot: &Snapshot, password: &str) -> Vec<u8> {
        let stream = encode_stream(snapshot).unwrap();
        seal(
            "node0",
            "2026-01-01T00:00:00Z".to_owned(),
            snapshot,
            &stream,
            &SecretPassword::new(password.to_owned()),
            KdfParams::insecure_for_tests(),
        )
        .unwrap()
    }

    #[test]
    fn a_sealed_snapshot_opens_to_the_same_records() {
        let snapshot = must_snapshot();
        let bytes = must_seal(&snapshot, "pw");
        let opened = open(Path::new("f"), &bytes, &SecretPassword::new("pw".into())).unwrap();
        assert_eq!(opened.snapshot, snapshot);
        assert_eq!(opened.header.node, "node0");
        assert_eq!(opened.header.records, 2);
    }

    #[test]
    fn two_backups_of_one_snapshot_share_the_digest_but_not_the_ciphertext() {
        let snapshot = must_snapshot();
        let (a, b) = (must_seal(&snapshot, "pw"), must_seal(&snapshot, "pw"));
        let (ha, _) = read_header(Path::new("a"), &a).unwrap();
        let (hb, _) = read_header(Path::new("b"), &b).unwrap();
        assert_eq!(ha.plaintext_sha256, hb.plaintext_sha256);
        assert_ne!(ha.kdf.salt, hb.kdf.salt);
        assert_ne!(a, b);
    }

    #[test]
    fn a_stream_naming_an_unknown_table_is_malformed() {
        let mut stream = vec![3u8];
        stream.extend_from_slice(b"xyz");
        let err = decode_stream(Path::new("f"), &stream).unwrap_err();
        assert!(err.to_string().contains("unknown table"), "{err}");
        let err = decode_stream(Path::new("f"), &[6, b's']).unwrap_err();
        assert!(err.to_string().contains("cut short"), "{err}");
    }

    #[test]
    fn a_header_naming_an_excessive_kdf_cost_is_refused_before_deriving() {
        let bytes = must_seal(&must_snapshot(), "pw");
        let (header, end) = read_header(Path::new("f"), &bytes).unwrap();
        for edit in [
            |h: &mut Header| h.kdf.memory_kib = u32::MAX,
            |h: &mut Header| h.kdf.iterations = u32::MAX,
            |h: &mut Header| h.kdf.parallelism = MAX_KDF_PARALLELISM + 1,
        ] {
            let mut costly = header.clone();
            edit(&mut costly);
            let json = serde_json::to_vec(&costly).unwrap();
            let mut file = bytes[..MAGIC.len() + 1].to_vec();
            file.extend_from_slice(&(json.len() as u32).to_be_bytes());
            file.extend_from_slice(&json);
            file.extend_from_slice(&bytes[end..]);
            let err = open(Path::new("f"), &file, &SecretPassword::new("pw".into())).unwrap_err();
            assert!(
                matches!(&err, BackupError::BadHeader { detail, .. } if detail.contains("exceeds the limit")),
                "{err}"
            );
        }
    }

    /// A version-1 backup of [`must_snapshot`] under "golden password" (test-cost Argon2id).
    const GOLDEN: &str = "4d504349554d5f52535f4241434b555001000001d97b226e6f6465223a226e6f646530222c22637265617465\
                          645f6174223a22323032362d30312d30315430303a30303a30305a222c22736368656d615f76657273696f6e\
                          223a312c227265636f726473223a322c226b6466223a7b22616c676f726974686d223a226172676f6e326964\
                          222c226d656d6f72795f6b6962223a382c22697465726174696f6e73223a312c22706172616c6c656c69736d\
                          223a312c2273616c74223a223036346133323033326238656534323936356638313337643461373037303465\
                          227d2c22636970686572223a22786368616368613230706f6c7931333035222c226e6f6e6365223a22366435\
                          3832353561313133363836616535656165396231303035623538383162353865323936666364343632626665\
                          34222c226b65795f636865636b223a2263396465646663356262353363613334646434323565313463646365\
                          313864343937653630396330633664306530666164346262333961666666393033333335222c227374726561\
                          6d5f6279746573223a37352c22706c61696e746578745f736861323536223a22386365323461363135373065\
                          3965336236633230613239343961386562383566383034323937353834376338356236303861353864666465\
                          3665643965633965227d07c0a0f7cad471f58171c5da86a3699d15f8d9e801592c4b5f1bfa2957194fde94dd\
                          069f03e4e8cfeda4864e7b804e4507f404e2254f0a40d5f003c02303fc58311f897370a6f35404667421259a\
                          9a6eed6dd9daf4c2d568365c09";

    /// Pins format version 1: written once by this code; if it stops opening, every backup
    /// taken so far stops opening too.
    #[test]
    fn a_backup_written_by_an_earlier_build_still_opens() {
        let bytes = hex::decode(GOLDEN).unwrap();
        let opened = open(
            Path::new("golden"),
            &bytes,
            &SecretPassword::new("golden password".to_owned()),
        )
        .unwrap();
        assert_eq!(opened.snapshot, must_snapshot());
        assert_eq!(opened.header.created_at, "2026-01-01T00:00:00Z");
    }
}
