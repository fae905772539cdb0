//! The pending half of the atomic switch: what a reshare participant keeps between the end of
//! the protocol and the switch — the new keyinfo and (for new holders) the new sealed share — in
//! the store's encrypted aux table under `pending-reshare/<keytype>/<wallet>/<nonce>`. The
//! wallet's current keyinfo and share are not touched until [`commit`] switches to the pending
//! version in one store transaction, which also replaces the record by a marker
//! `committed-reshare/<keytype>/<wallet>/<nonce>` (the version, 8 bytes big-endian; one per key
//! of a wallet), so a repeated commit order is answered, not refused. A record whose reshare is
//! never decided is [`discard`]ed by the catch-up (`super::catch_up`).

use std::sync::Mutex;

use mpcium_state::registry::KeyInfo;
use mpcium_state::store::{Batch, KeyType, Store};
use zeroize::Zeroizing;

use crate::error::{Io, NodeError, ProtocolFault};
use crate::ops::wallet;

/// One switch at a time in this process: the commit order and the catch-up may name the same
/// record at once, and exactly one of them must switch.
static SWITCHING: Mutex<()> = Mutex::new(());

const PENDING: &str = "pending-reshare/";
const COMMITTED: &str = "committed-reshare/";

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

/// Which pending record: a wallet's key and the reshare session's nonce.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PendingName {
    pub(crate) key_type: KeyType,
    pub(crate) wallet: String,
    pub(crate) nonce: String,
}

/// What [`commit`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Switch {
    /// Switched now to this keyinfo.
    Now(KeyInfo),
    /// This reshare had switched here before; the keyinfo now current.
    Earlier(Option<KeyInfo>),
}

/// The aux-table name of the pending record of reshare `nonce`.
fn name(key_type: KeyType, wallet: &str, nonce: &str) -> String {
    format!("{PENDING}{}/{wallet}/{nonce}", key_type.as_str())
}

/// The aux-table name of the marker a commit of reshare `nonce` leaves.
fn committed_name(key_type: KeyType, wallet: &str, nonce: &str) -> String {
    format!("{COMMITTED}{}/{wallet}/{nonce}", key_type.as_str())
}

/// The record `name` (below `prefix`) names; `None` for a name of another shape.
fn parse(prefix: &str, name: &str) -> Option<PendingName> {
    let rest = name.strip_prefix(prefix)?;
    let (key_type, rest) = rest.split_once('/')?;
    let (wallet, nonce) = rest.rsplit_once('/')?;
    let key_type = [KeyType::Ecdsa, KeyType::Eddsa]
        .into_iter()
        .find(|k| k.as_str() == key_type)?;
    (!wallet.is_empty() && !nonce.is_empty()).then(|| PendingName {
        key_type,
        wallet: wallet.to_owned(),
        nonce: nonce.to_owned(),
    })
}

fn write_failure(error: impl std::fmt::Display) -> NodeError {
    NodeError::io(Io::StorageWrite, error.to_string())
}

fn read_failure(error: impl std::fmt::Display) -> NodeError {
    NodeError::io(Io::StorageRead, error.to_string())
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

/// Every pending record this node keeps. Empty records (how commits of earlier releases marked
/// themselves) are listed too: [`load`] reads them as none, and [`discard`] removes them.
pub(crate) fn list(store: &Store) -> Result<Vec<PendingName>, NodeError> {
    let names = store.aux_names(PENDING).map_err(read_failure)?;
    Ok(names.iter().filter_map(|n| parse(PENDING, n)).collect())
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
        .map_err(read_failure)?
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

/// Deletes the pending record of a reshare that will never switch.
pub(crate) fn discard(store: &Store, pending: &PendingName) -> Result<(), NodeError> {
    let mut batch = Batch::new();
    batch.delete_aux(&name(pending.key_type, &pending.wallet, &pending.nonce));
    store.commit(batch).map_err(write_failure)
}

fn current_keyinfo(
    store: &Store,
    key_type: KeyType,
    wallet: &str,
) -> Result<Option<KeyInfo>, NodeError> {
    Ok(store
        .keyinfo(key_type, wallet)
        .map_err(read_failure)?
        .and_then(|bytes| serde_json::from_slice::<KeyInfo>(&bytes).ok()))
}

/// Makes the pending result of reshare `nonce` current in one transaction: the new share as
/// version v+1 (members of the new committee), the new keyinfo, and the pending record replaced
/// by the commit marker (earlier markers of the wallet's key removed). [`Switch::Earlier`] when
/// this reshare switched here before; `None` when this node knows nothing of it.
pub(crate) fn commit(
    store: &Store,
    key_type: KeyType,
    wallet: &str,
    nonce: &str,
) -> Result<Option<Switch>, NodeError> {
    let _one_at_a_time = SWITCHING.lock().unwrap_or_else(|e| e.into_inner());
    let Some(pending) = load(store, key_type, wallet, nonce)? else {
        let marker = store
            .aux(&committed_name(key_type, wallet, nonce))
            .map_err(read_failure)?;
        return match marker {
            Some(_) => Ok(Some(Switch::Earlier(current_keyinfo(
                store, key_type, wallet,
            )?))),
            None => Ok(None),
        };
    };
    let current = current_keyinfo(store, key_type, wallet)?;
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
    batch.delete_aux(&name(key_type, wallet, nonce));
    let markers = store
        .aux_names(&format!("{COMMITTED}{}/{wallet}/", key_type.as_str()))
        .map_err(read_failure)?;
    for marker in markers {
        // `wallet/` may prefix another wallet's id: remove only this wallet's markers.
        if parse(COMMITTED, &marker).is_some_and(|m| m.key_type == key_type && m.wallet == wallet) {
            batch.delete_aux(&marker);
        }
    }
    batch.put_aux(
        &committed_name(key_type, wallet, nonce),
        &pending.info.version.to_be_bytes(),
    );
    store.commit(batch).map_err(write_failure)?;
    Ok(Some(Switch::Now(pending.info)))
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
            Some(Switch::Now(info(2)))
        );
        // A repeated order is answered with what is current, and switches nothing again.
        assert_eq!(
            commit(&store, KeyType::Eddsa, "w", "n1").expect("again"),
            Some(Switch::Earlier(Some(info(2))))
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
    fn pending_records_are_listed_until_they_switch_or_are_discarded() {
        let dir = tempfile::tempdir().expect("dir");
        let store = must_store(&dir);
        for (wallet, nonce) in [("w", "n1"), ("w/x", "n2"), ("v", "n3")] {
            let pending = Pending {
                info: info(2),
                share: None,
            };
            put(&store, KeyType::Ecdsa, wallet, nonce, &pending).expect("put");
        }
        let named = |wallet: &str, nonce: &str| PendingName {
            key_type: KeyType::Ecdsa,
            wallet: wallet.into(),
            nonce: nonce.into(),
        };
        let mut listed = list(&store).expect("list");
        listed.sort_by(|a, b| a.nonce.cmp(&b.nonce));
        assert_eq!(
            listed,
            vec![named("w", "n1"), named("w/x", "n2"), named("v", "n3")]
        );
        commit(&store, KeyType::Ecdsa, "w", "n1").expect("commit");
        discard(&store, &named("v", "n3")).expect("discard");
        assert_eq!(list(&store).expect("list"), vec![named("w/x", "n2")]);
        // The commit of wallet `w` left the marker of `w/x` alone.
        commit(&store, KeyType::Ecdsa, "w/x", "n2").expect("commit");
        assert!(matches!(
            commit(&store, KeyType::Ecdsa, "w", "n1").expect("again"),
            Some(Switch::Earlier(_))
        ));
    }

    #[test]
    fn a_wallet_key_keeps_only_the_marker_of_its_last_commit() {
        let dir = tempfile::tempdir().expect("dir");
        let store = must_store(&dir);
        for (nonce, version) in [("n1", 2), ("n2", 3)] {
            let pending = Pending {
                info: info(version),
                share: None,
            };
            put(&store, KeyType::Eddsa, "w", nonce, &pending).expect("put");
            commit(&store, KeyType::Eddsa, "w", nonce).expect("commit");
        }
        let markers = store.aux_names(COMMITTED).expect("names");
        assert_eq!(markers, vec!["committed-reshare/eddsa/w/n2".to_owned()]);
        assert_eq!(
            commit(&store, KeyType::Eddsa, "w", "n1").expect("old"),
            None
        );
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
