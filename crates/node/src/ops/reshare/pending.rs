//! The pending half of the atomic switch: what a reshare participant keeps between the end of
//! the protocol and the coordinator's commit order — the new keyinfo and (for new holders) the
//! new sealed share — in the store's encrypted aux table under
//! `pending-reshare/<keytype>/<wallet>/<nonce>`. The wallet's current keyinfo and share are not
//! touched until [`commit`] switches to the pending version in one store transaction. An
//! abandoned record is never read again (its nonce is never committed).

use mpcium_state::registry::KeyInfo;
use mpcium_state::store::{Batch, KeyType, Store};
use zeroize::Zeroizing;

use crate::error::{Io, NodeError, ProtocolFault};
use crate::ops::wallet;

/// A reshare result waiting for its commit.
pub(crate) struct Pending {
    /// The keyinfo the wallet gets at commit (new committee, threshold, version v+1).
    pub(crate) info: KeyInfo,
    /// The new sealed share, for members of the new committee.
    pub(crate) share: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("info", &self.info)
            .field("share", &self.share.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The aux-table name of the pending record of reshare `nonce`.
fn name(key_type: KeyType, wallet: &str, nonce: &str) -> String {
    format!("pending-reshare/{}/{wallet}/{nonce}", key_type.as_str())
}

fn write_failure(error: impl std::fmt::Display) -> NodeError {
    NodeError::io(Io::StorageWrite, error.to_string())
}

/// Stores the pending result of reshare `nonce`.
pub(crate) fn put(
    store: &Store,
    key_type: KeyType,
    wallet: &str,
    nonce: &str,
    pending: &Pending,
) -> Result<(), NodeError> {
    let info = serde_json::to_vec(&pending.info).map_err(write_failure)?;
    let share = pending.share.as_ref().map_or(&[][..], |s| s.as_slice());
    let record = wallet::pack(&info, share);
    store
        .put_aux(&name(key_type, wallet, nonce), &record)
        .map_err(write_failure)
}

/// The pending result of reshare `nonce`, if this node keeps one.
pub(crate) fn load(
    store: &Store,
    key_type: KeyType,
    wallet: &str,
    nonce: &str,
) -> Result<Option<Pending>, NodeError> {
    let Some(record) = store
        .aux(&name(key_type, wallet, nonce))
        .map_err(|e| NodeError::io(Io::StorageRead, e.to_string()))?
    else {
        return Ok(None);
    };
    if record.expose().is_empty() {
        return Ok(None);
    }
    let corrupt = || {
        NodeError::io(
            Io::Corrupt,
            format!("pending reshare record of {wallet} is malformed"),
        )
    };
    let (info, share) = wallet::unpack(record.expose()).ok_or_else(corrupt)?;
    let info: KeyInfo = serde_json::from_slice(info).map_err(|_| corrupt())?;
    let share = (!share.is_empty()).then(|| Zeroizing::new(share.to_vec()));
    Ok(Some(Pending { info, share }))
}

/// Makes the pending result of reshare `nonce` current in one transaction: the new share as
/// version v+1 (members of the new committee), the new keyinfo, and the pending record emptied.
/// Returns the keyinfo now current, or `None` if there is no such pending record.
pub(crate) fn commit(
    store: &Store,
    key_type: KeyType,
    wallet: &str,
    nonce: &str,
) -> Result<Option<KeyInfo>, NodeError> {
    let Some(pending) = load(store, key_type, wallet, nonce)? else {
        return Ok(None);
    };
    let current = store
        .keyinfo(key_type, wallet)
        .map_err(|e| NodeError::io(Io::StorageRead, e.to_string()))?
        .and_then(|bytes| serde_json::from_slice::<KeyInfo>(&bytes).ok());
    if current.is_some_and(|c| c.version >= pending.info.version) {
        // Another reshare of the same version switched first: this one is stale.
        return Err(NodeError::protocol(
            ProtocolFault::Reshare,
            format!(
                "wallet {wallet} is already at version {} or later; a concurrent reshare won",
                pending.info.version
            ),
        ));
    }
    let info = serde_json::to_vec(&pending.info).map_err(write_failure)?;
    let mut batch = Batch::new();
    if let Some(share) = &pending.share {
        batch.put_share(key_type, wallet, pending.info.version, share);
    }
    batch.put_keyinfo(key_type, wallet, &info);
    batch.put_aux(&name(key_type, wallet, nonce), &[]);
    store.commit(batch).map_err(write_failure)?;
    Ok(Some(pending.info))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::must_store;
    use mpcium_protocol::ErrorCode;

    fn info(version: u64) -> KeyInfo {
        KeyInfo {
            participant_peer_ids: vec!["a".into(), "b".into()],
            threshold: 2,
            version,
        }
    }

    #[test]
    fn a_pending_share_becomes_current_only_at_commit_and_only_once() {
        let dir = tempfile::tempdir().expect("dir");
        let store = must_store(&dir);
        let pending = Pending {
            info: info(2),
            share: Some(Zeroizing::new(b"new share".to_vec())),
        };
        put(&store, KeyType::Eddsa, "w", "n1", &pending).expect("put");
        assert_eq!(store.keyinfo(KeyType::Eddsa, "w").expect("read"), None);
        assert!(store.share(KeyType::Eddsa, "w", 2).expect("read").is_none());

        assert_eq!(
            commit(&store, KeyType::Eddsa, "w", "other").expect("commit"),
            None
        );
        assert_eq!(
            commit(&store, KeyType::Eddsa, "w", "n1").expect("commit"),
            Some(info(2))
        );
        let share = store.share(KeyType::Eddsa, "w", 2).expect("read");
        assert_eq!(share.expect("share").expose(), b"new share");
        let stored: KeyInfo = serde_json::from_slice(
            &store
                .keyinfo(KeyType::Eddsa, "w")
                .expect("read")
                .expect("info"),
        )
        .expect("json");
        assert_eq!(stored, info(2));
        assert!(load(&store, KeyType::Eddsa, "w", "n1")
            .expect("load")
            .is_none());
    }

    #[test]
    fn a_second_reshare_of_the_same_version_cannot_switch_after_the_first() {
        let dir = tempfile::tempdir().expect("dir");
        let store = must_store(&dir);
        for nonce in ["first", "second"] {
            let pending = Pending {
                info: info(2),
                share: None,
            };
            put(&store, KeyType::Ecdsa, "w", nonce, &pending).expect("put");
        }
        assert!(commit(&store, KeyType::Ecdsa, "w", "first")
            .expect("commit")
            .is_some());
        let failure = commit(&store, KeyType::Ecdsa, "w", "second").expect_err("stale");
        assert_eq!(failure.code(), ErrorCode::ReshareFailure);
    }

    #[test]
    fn a_pending_record_prints_no_share() {
        let pending = Pending {
            info: info(2),
            share: Some(Zeroizing::new(b"secret share".to_vec())),
        };
        let text = format!("{pending:?}");
        assert!(text.contains("<redacted>"));
        assert!(!text.contains("secret"));
    }
}
