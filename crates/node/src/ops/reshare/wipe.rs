//! Wiping superseded shares after a reshare.
//!
//! When a reshare commits, the share version it replaced is scheduled for deletion after the
//! configured grace period (`reshare_grace_seconds`): on nodes that stay in the committee the old
//! version is simply obsolete, and a node that left keeps nothing usable once it expires. The
//! schedule is a record in the store's encrypted aux table (`wipe-share/<keytype>/<wallet>/<version>`
//! → due time), so it survives restarts; [`run`] deletes due shares, logging each one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mpcium_state::store::{Batch, KeyType, Store, StoreError};

use crate::error::{Io, NodeError};

const PREFIX: &str = "wipe-share/";
/// How often due wipes are looked for (at most; shorter grace periods poll faster).
const POLL: Duration = Duration::from_secs(5);

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Schedules version `version` of a wallet's `key_type` share for deletion after `grace`.
pub(crate) fn schedule(
    store: &Store,
    key_type: KeyType,
    wallet: &str,
    version: u64,
    grace: Duration,
) -> Result<(), NodeError> {
    let due = now_secs().saturating_add(grace.as_secs());
    let name = format!("{PREFIX}{}/{wallet}/{version}", key_type.as_str());
    store
        .put_aux(&name, &due.to_be_bytes())
        .map_err(|e| NodeError::io(Io::StorageWrite, e.to_string()))
}

/// Deletes every share whose wipe is due; returns how many were wiped.
pub(crate) fn wipe_due(store: &Store) -> Result<usize, StoreError> {
    let now = now_secs();
    let mut wiped = 0;
    for name in store.aux_names(PREFIX)? {
        let Some(due) = store.aux(&name)? else {
            continue;
        };
        let due = due.expose().try_into().map(u64::from_be_bytes).unwrap_or(0);
        if due > now {
            continue;
        }
        let Some((key_type, wallet, version)) = parse(&name) else {
            tracing::warn!(record = %name, "dropping a malformed wipe schedule");
            store.commit({
                let mut b = Batch::new();
                b.delete_aux(&name);
                b
            })?;
            continue;
        };
        let mut batch = Batch::new();
        batch
            .delete_share(key_type, wallet, version)
            .delete_aux(&name);
        store.commit(batch)?;
        tracing::info!(wallet_id = %wallet, %key_type, version, "wiped old share after reshare grace period");
        wiped += 1;
    }
    Ok(wiped)
}

fn parse(name: &str) -> Option<(KeyType, &str, u64)> {
    let rest = name.strip_prefix(PREFIX)?;
    let (key_type, rest) = rest.split_once('/')?;
    let (wallet, version) = rest.rsplit_once('/')?;
    let key_type = match key_type {
        "ecdsa" => KeyType::Ecdsa,
        "eddsa" => KeyType::Eddsa,
        _ => return None,
    };
    Some((key_type, wallet, version.parse().ok()?))
}

/// Wipes due shares until the task is dropped, polling at most every `grace` (and at least every
/// few seconds).
pub async fn run(store: Store, grace: Duration) {
    let every = grace.clamp(Duration::from_millis(200), POLL);
    loop {
        let task_store = store.clone();
        match tokio::task::spawn_blocking(move || wipe_due(&task_store)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(%error, "cannot wipe superseded shares; retrying"),
            Err(error) => tracing::error!(%error, "share wipe task failed; retrying"),
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::must_store;

    #[test]
    fn a_due_share_is_wiped_and_a_future_one_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = must_store(&dir);
        store.put_share(KeyType::Ecdsa, "w/1", 1, b"old").unwrap();
        store.put_share(KeyType::Ecdsa, "w/1", 2, b"new").unwrap();
        store.put_share(KeyType::Eddsa, "w2", 1, b"later").unwrap();
        schedule(&store, KeyType::Ecdsa, "w/1", 1, Duration::ZERO).unwrap();
        schedule(&store, KeyType::Eddsa, "w2", 1, Duration::from_secs(3600)).unwrap();

        assert_eq!(wipe_due(&store).unwrap(), 1);
        assert!(store.share(KeyType::Ecdsa, "w/1", 1).unwrap().is_none());
        assert!(store.share(KeyType::Ecdsa, "w/1", 2).unwrap().is_some());
        assert!(store.share(KeyType::Eddsa, "w2", 1).unwrap().is_some());
        assert_eq!(store.aux_names(PREFIX).unwrap().len(), 1);
        assert_eq!(wipe_due(&store).unwrap(), 0);
    }

    #[test]
    fn schedule_names_round_trip_even_with_slashes_in_wallet_ids() {
        assert_eq!(
            parse("wipe-share/eddsa/a/b/7"),
            Some((KeyType::Eddsa, "a/b", 7))
        );
        assert_eq!(parse("wipe-share/rsa/a/7"), None);
        assert_eq!(parse("wipe-share/ecdsa/a/x"), None);
    }
}
