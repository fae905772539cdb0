//! Badger's backup stream and the key–value state it restores to.
//!
//! `DB.Backup` (dgraph-io/badger v4 `backup.go`, `Stream.Backup` and `writeTo`) writes a sequence
//! of batches, each a little-endian `u64` length followed by a protobuf `KVList`
//! (`pb/badgerpb4.proto`):
//!
//! ```text
//! message KV     { bytes key = 1; bytes value = 2; bytes user_meta = 3; uint64 version = 4;
//!                  uint64 expires_at = 5; bytes meta = 6; uint32 stream_id = 10; bool stream_done = 11; }
//! message KVList { repeated KV kv = 1; uint64 alloc_ref = 10; }
//! ```
//!
//! Every version of a key at or above `since` is included, newest first, down to the first
//! deletion or discard marker; `meta` bit 0 (`bitDelete`) marks a deletion. `DB.Load` replays the
//! entries with their versions, so the restored state is, per key, the entry of the highest
//! version — absent if that entry is a deletion or has expired. [`Snapshot::replay`] computes that
//! state without a database.

use std::collections::BTreeMap;

use zeroize::{Zeroize, Zeroizing};

/// Badger's `bitDelete` (`value.go`).
const BIT_DELETE: u8 = 1 << 0;

/// One entry of a `KVList`.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct Kv {
    /// The user key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// The value (secret for share keys).
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
    /// One byte of user metadata.
    #[prost(bytes = "vec", tag = "3")]
    pub user_meta: Vec<u8>,
    /// The commit timestamp.
    #[prost(uint64, tag = "4")]
    pub version: u64,
    /// Expiry as Unix seconds, 0 for none.
    #[prost(uint64, tag = "5")]
    pub expires_at: u64,
    /// One byte of Badger metadata (`bitDelete`, …).
    #[prost(bytes = "vec", tag = "6")]
    pub meta: Vec<u8>,
    /// Stream id (internal).
    #[prost(uint32, tag = "10")]
    pub stream_id: u32,
    /// End-of-stream marker (internal, never in backups).
    #[prost(bool, tag = "11")]
    pub stream_done: bool,
}

impl Drop for Kv {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl std::fmt::Debug for Kv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kv")
            .field("key", &String::from_utf8_lossy(&self.key))
            .field("version", &self.version)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// One batch of the backup stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KvList {
    /// The entries.
    #[prost(message, repeated, tag = "1")]
    pub kv: Vec<Kv>,
    /// Badger-internal allocator reference.
    #[prost(uint64, tag = "10")]
    pub alloc_ref: u64,
}

/// Why a decrypted backup stream does not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The stream ends inside a length prefix or a batch.
    #[error("stream ends inside batch {batch} at byte {offset}")]
    Truncated {
        /// Index of the batch.
        batch: usize,
        /// Byte offset where it was cut.
        offset: usize,
    },
    /// A batch is not a protobuf `KVList`.
    #[error("batch {batch} at byte {offset} is not a KVList")]
    NotAKvList {
        /// Index of the batch.
        batch: usize,
        /// Byte offset of the batch.
        offset: usize,
    },
    /// An entry's version lies outside the backup's `[since, next_since]`.
    #[error("entry of version {version} lies outside the backup's range [{since}, {next_since}]")]
    VersionOutOfRange {
        /// The entry's version.
        version: u64,
        /// The backup's `since`.
        since: u64,
        /// The backup's `next_since`.
        next_since: u64,
    },
}

/// Decodes a backup stream into its entries.
pub fn decode_stream(stream: &[u8]) -> Result<Vec<Kv>, StreamError> {
    use prost::Message;
    let mut entries = Vec::new();
    let mut offset = 0usize;
    let mut batch = 0usize;
    while offset < stream.len() {
        let truncated = StreamError::Truncated { batch, offset };
        let len_bytes: [u8; 8] = stream
            .get(offset..offset + 8)
            .and_then(|b| b.try_into().ok())
            .ok_or(truncated.clone())?;
        let len = usize::try_from(u64::from_le_bytes(len_bytes)).map_err(|_| truncated.clone())?;
        let start = offset + 8;
        let end = start.checked_add(len).ok_or(truncated.clone())?;
        let body = stream.get(start..end).ok_or(truncated)?;
        let list = KvList::decode(body).map_err(|_| StreamError::NotAKvList { batch, offset })?;
        entries.extend(list.kv.into_iter().filter(|kv| !kv.stream_done));
        offset = end;
        batch += 1;
    }
    Ok(entries)
}

/// Encodes entries as one backup-stream batch (what `writeTo` writes).
pub fn encode_batch(entries: Vec<Kv>) -> Vec<u8> {
    use prost::Message;
    let list = KvList {
        kv: entries,
        alloc_ref: 0,
    };
    let body = list.encode_to_vec();
    let mut out = Vec::with_capacity(8 + body.len());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

struct Slot {
    version: u64,
    value: Option<Zeroizing<Vec<u8>>>,
}

/// The key–value state a chain of backups restores to. Values are zeroized on drop; `Debug`
/// prints only the number of keys.
#[derive(Default)]
pub struct Snapshot {
    slots: BTreeMap<Vec<u8>, Slot>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("keys", &self.len())
            .finish()
    }
}

impl Snapshot {
    /// Applies the entries of one backup, checking each version lies in `[since, next_since]`;
    /// `now` (Unix seconds) decides expiry. Backups must be replayed oldest first.
    pub fn replay(
        &mut self,
        entries: Vec<Kv>,
        since: u64,
        next_since: u64,
        now: u64,
    ) -> Result<(), StreamError> {
        for mut kv in entries {
            if kv.version < since || kv.version > next_since {
                return Err(StreamError::VersionOutOfRange {
                    version: kv.version,
                    since,
                    next_since,
                });
            }
            let deleted = kv.meta.first().is_some_and(|m| m & BIT_DELETE != 0);
            let expired = kv.expires_at != 0 && kv.expires_at <= now;
            let key = std::mem::take(&mut kv.key);
            let newer = self
                .slots
                .get(&key)
                .is_none_or(|slot| kv.version >= slot.version);
            if newer {
                let value =
                    (!deleted && !expired).then(|| Zeroizing::new(std::mem::take(&mut kv.value)));
                self.slots.insert(
                    key,
                    Slot {
                        version: kv.version,
                        value,
                    },
                );
            }
        }
        Ok(())
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.slots.get(key)?.value.as_deref().map(Vec::as_slice)
    }

    /// Every present key with its value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.slots
            .iter()
            .filter_map(|(k, s)| s.value.as_ref().map(|v| (k.as_slice(), v.as_slice())))
    }

    /// Number of present keys.
    pub fn len(&self) -> usize {
        self.slots.values().filter(|s| s.value.is_some()).count()
    }

    /// Whether no key is present.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A value entry (what a `txn.Set` backs up as).
pub fn set_entry(key: &[u8], value: &[u8], version: u64) -> Kv {
    Kv {
        key: key.to_vec(),
        value: value.to_vec(),
        user_meta: vec![0],
        version,
        expires_at: 0,
        meta: vec![0],
        stream_id: 0,
        stream_done: false,
    }
}

/// A deletion entry (what a `txn.Delete` backs up as).
pub fn delete_entry(key: &[u8], version: u64) -> Kv {
    Kv {
        key: key.to_vec(),
        value: Vec::new(),
        user_meta: vec![0],
        version,
        expires_at: 0,
        meta: vec![BIT_DELETE],
        stream_id: 0,
        stream_done: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_the_newest_version_wins() {
        let mut stream = encode_batch(vec![
            set_entry(b"a", b"1", 3),
            set_entry(b"a", b"0", 2),
            set_entry(b"b", b"x", 4),
        ]);
        stream.extend(encode_batch(vec![
            delete_entry(b"b", 5),
            set_entry(b"c", b"y", 5),
        ]));
        let entries = decode_stream(&stream).unwrap();
        assert_eq!(entries.len(), 5);
        let mut snap = Snapshot::default();
        snap.replay(entries, 0, 5, 0).unwrap();
        assert_eq!(snap.get(b"a"), Some(&b"1"[..]));
        assert_eq!(snap.get(b"b"), None, "deleted");
        assert_eq!(snap.get(b"c"), Some(&b"y"[..]));
        assert_eq!(snap.len(), 2);
        assert_eq!(format!("{snap:?}"), "Snapshot { keys: 2 }");
    }

    #[test]
    fn a_later_backup_overrides_and_expired_entries_vanish() {
        let mut snap = Snapshot::default();
        snap.replay(vec![set_entry(b"k", b"old", 2)], 0, 2, 100)
            .unwrap();
        let mut expiring = set_entry(b"e", b"v", 3);
        expiring.expires_at = 50;
        snap.replay(vec![set_entry(b"k", b"new", 3), expiring], 2, 3, 100)
            .unwrap();
        assert_eq!(snap.get(b"k"), Some(&b"new"[..]));
        assert_eq!(snap.get(b"e"), None);
    }

    #[test]
    fn truncated_or_foreign_streams_and_stray_versions_are_refused() {
        let stream = encode_batch(vec![set_entry(b"a", b"1", 3)]);
        for cut in [3, 8, stream.len() - 1] {
            assert!(matches!(
                decode_stream(&stream[..cut]),
                Err(StreamError::Truncated { batch: 0, .. })
            ));
        }
        let mut garbage = 4u64.to_le_bytes().to_vec();
        garbage.extend([0xff; 4]);
        assert!(matches!(
            decode_stream(&garbage),
            Err(StreamError::NotAKvList { .. })
        ));
        let mut snap = Snapshot::default();
        let entries = decode_stream(&stream).unwrap();
        assert!(matches!(
            snap.replay(entries, 4, 9, 0),
            Err(StreamError::VersionOutOfRange { version: 3, .. })
        ));
    }

    #[test]
    fn entry_debug_output_hides_the_value() {
        let kv = set_entry(b"ecdsa:w_v1", b"secret-share-bytes", 1);
        let printed = format!("{kv:?}");
        assert!(printed.contains("ecdsa:w_v1"));
        assert!(!printed.contains("secret-share"));
    }
}
