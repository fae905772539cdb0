//! Wallets taken over from a Go mpcium cluster: `mpcium-cli import-mpcium` leaves each node's
//! validated shares in its store as pending imports (`mpcium_migrate::pending`); here the
//! holders agree on them over the network before any of them is usable.
//!
//! [`maintain`] runs at start-up. For every holder set of this node's pending imports whose
//! lowest node id is this node, once every holder is ready and the node set's own aux info
//! exists (so the two aux-info runs never compete for the nodes' safe primes), it runs:
//! 1. an [`Operation::Import`] check: each holder compares the coordinator's list — key type,
//!    wallet, version and [`ImportedShare::fingerprint`] (the public key, every holder's
//!    evaluation point and `BigXj`, the threshold) — with its own pending imports for that set.
//!    Any difference (another public key or `BigXj` set, a wallet only some hold) is refused by
//!    the holder that sees it, logged there and at the coordinator, and the import stops;
//! 2. a fresh ECDSA aux-info generation for the holder set: tss-lib's Paillier keys are never
//!    carried over;
//! 3. an [`Operation::Import`] commit naming that run: each holder checks the list again,
//!    converts its shares with `mpcium_tss::import` (ECDSA keygen index = position in the sorted
//!    holder set, the aux info's order; EdDSA by ascending FROST identifier) and stores shares and
//!    keyinfo and drops the pending records in one transaction. The wallet is usable from then on;
//!    a done marker (public: the fingerprint) lets a repeated check or commit succeed.
//!
//! The coordinator then publishes the keyinfo to the registry, as keygen does.
//!
//! The check guards against imports that do not fit together (wrong, damaged or stale backups on
//! some node): honest holders only commit a list that matches their own records. It is no defence
//! against a lying holder; such a holder can only make the wallet unusable, as with any share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mpcium_migrate::{parse_pending_name, ImportedShare, KeyType as MigrateKeyType};
use mpcium_protocol::{ErrorCode, KeyType};
use mpcium_state::registry::{KeyInfo, Registry};
use mpcium_state::store::{Batch, Store};
use mpcium_tss::ecdsa::{AuxInfo, KeyShare};
use mpcium_tss::import::{ecdsa_share, eddsa_share, ShareParts};
use serde::{Deserialize, Serialize};

use super::{aux, wallet};
use crate::context::{store_io, NodeContext};
use crate::error::{BadRequest, Io, NodeError};
use crate::session::control::{Operation, Output, Start};
use crate::session::io::participants;
use crate::session::orchestrate;

/// Names of the done markers: `mpcium-import-done/<ecdsa|eddsa>/<wallet id>` → fingerprint hex.
const DONE_PREFIX: &str = "mpcium-import-done/";
/// How long the coordinator waits between attempts that failed for a passing reason.
const RETRY_EVERY: Duration = Duration::from_secs(5);

/// Which step of an import a session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// Compare the list with the pending imports.
    Check,
    /// Compare again, convert and store.
    Commit,
}

/// One wallet key of an import, as every holder must hold it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Entry {
    key_type: MigrateKeyType,
    wallet_id: String,
    version: u64,
    /// [`ImportedShare::fingerprint`], hex.
    fingerprint: String,
}

impl Entry {
    fn of(share: &ImportedShare) -> Self {
        Self {
            key_type: share.key_type(),
            wallet_id: share.wallet_id().to_owned(),
            version: share.version(),
            fingerprint: hex::encode(share.fingerprint()),
        }
    }
}

/// The request of an [`Operation::Import`] session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Order {
    phase: Phase,
    /// Sorted.
    entries: Vec<Entry>,
}

/// A pending import: its record name and the share.
type Pending = (String, ImportedShare);

/// The pending imports in `store`, grouped by holder set (sorted node ids).
fn pending_by_holders(store: &Store) -> Result<BTreeMap<Vec<String>, Vec<Pending>>, NodeError> {
    let names = store
        .aux_names(mpcium_migrate::PENDING_PREFIX)
        .map_err(|e| NodeError::io(Io::StorageRead, e.to_string()))?;
    let mut groups: BTreeMap<Vec<String>, Vec<Pending>> = BTreeMap::new();
    for name in names {
        if parse_pending_name(&name).is_none() {
            continue;
        }
        let Some(bytes) = store
            .aux(&name)
            .map_err(|e| NodeError::io(Io::StorageRead, e.to_string()))?
        else {
            continue;
        };
        let share = ImportedShare::from_json(bytes.expose())
            .map_err(|e| NodeError::io(Io::Corrupt, format!("pending import {name}: {e}")))?;
        let mut holders: Vec<String> = share.holders().iter().map(|h| h.node_id.clone()).collect();
        holders.sort();
        groups.entry(holders).or_default().push((name, share));
    }
    Ok(groups)
}

fn done_name(key_type: MigrateKeyType, wallet_id: &str) -> String {
    format!("{DONE_PREFIX}{}/{wallet_id}", key_type.store_prefix())
}

fn disagreement(reason: String) -> NodeError {
    NodeError::bad_request(BadRequest::IncompatiblePeers, reason)
}

/// What this node holds of `order` for the holder set `holders`: the pending imports still to
/// convert. Fails if the order and this node's imports differ in any way.
fn check(store: &Store, holders: &[String], order: &Order) -> Result<Vec<Pending>, NodeError> {
    let pending = pending_by_holders(store)?
        .remove(holders)
        .unwrap_or_default();
    let mut remaining = Vec::new();
    for entry in &order.entries {
        let mine = pending
            .iter()
            .find(|(_, s)| s.key_type() == entry.key_type && s.wallet_id() == entry.wallet_id);
        match mine {
            Some((name, share)) => {
                if Entry::of(share) != *entry {
                    return Err(disagreement(format!(
                        "import of the {} key of wallet {}: this node holds version {} with \
                         fingerprint {}, the coordinator version {} with fingerprint {} (another \
                         public key or BigXj set); refusing the import",
                        entry.key_type,
                        entry.wallet_id,
                        share.version(),
                        hex::encode(share.fingerprint()),
                        entry.version,
                        entry.fingerprint
                    )));
                }
                remaining.push((name.clone(), share.clone()));
            }
            None => {
                let done = store
                    .aux(&done_name(entry.key_type, &entry.wallet_id))
                    .map_err(|e| NodeError::io(Io::StorageRead, e.to_string()))?;
                if done.is_none_or(|d| d.expose() != entry.fingerprint.as_bytes()) {
                    return Err(disagreement(format!(
                        "the coordinator imports the {} key of wallet {}, which this node has no \
                         import of; refusing the import",
                        entry.key_type, entry.wallet_id
                    )));
                }
            }
        }
    }
    if let Some((_, extra)) = pending
        .iter()
        .find(|(_, s)| !order.entries.contains(&Entry::of(s)))
    {
        return Err(disagreement(format!(
            "this node has an import of the {} key of wallet {} that the coordinator lacks; \
             refusing the import",
            extra.key_type(),
            extra.wallet_id()
        )));
    }
    Ok(remaining)
}

/// This node's part of an [`Operation::Import`] session.
pub async fn participate(ctx: Arc<NodeContext>, start: &Start) -> Result<Output, NodeError> {
    let order: Order = serde_json::from_slice(&start.request).map_err(|e| {
        NodeError::bad_request(
            BadRequest::Incomplete,
            format!("import order does not decode: {e}"),
        )
    })?;
    let (parts, _) = participants(&ctx.me, &start.participants)?;
    if !start.participants.windows(2).all(|w| w[0] < w[1])
        || !start.participants.iter().all(|p| ctx.node_ids.contains(p))
    {
        return Err(disagreement(
            "import participants are not a sorted set of this cluster's nodes".into(),
        ));
    }
    let run = match order.phase {
        Phase::Check => None,
        Phase::Commit => Some(start.aux_run.clone().ok_or_else(|| {
            NodeError::bad_request(BadRequest::Incomplete, "import commit names no aux run")
        })?),
    };
    let holders = start.participants.clone();
    let chain_code = ctx.chain_code;
    let me = ctx.me.clone();
    store_io(&ctx.store, move |store| {
        let remaining = check(store, &holders, &order)?;
        if let Some(run) = run {
            let aux = aux::load(store, &parts, &run)?.ok_or_else(|| {
                NodeError::bad_request(
                    BadRequest::Incomplete,
                    format!("this node lacks aux-info run {run} for the holder set"),
                )
            })?;
            commit(store, &me, &holders, &remaining, &aux, chain_code)?;
            tracing::info!(
                keys = remaining.len(),
                "imported wallets converted and stored: usable"
            );
        }
        Ok(Output::Imported)
    })
    .await
}

/// Converts every share and stores shares, keyinfo and done markers, dropping the pending
/// records, in one transaction.
fn commit(
    store: &Store,
    me: &str,
    holders: &[String],
    shares: &[Pending],
    aux: &AuxInfo,
    chain_code: [u8; 32],
) -> Result<(), NodeError> {
    let mut batch = Batch::new();
    for (name, share) in shares {
        let (key_type, blob, info) = convert(share, me, holders, aux, chain_code)?;
        // A wallet created here after the import was written (a keygen with the same id) wins;
        // the import of it is refused rather than overwriting its keyinfo.
        if wallet::load_keyinfo(store, key_type, share.wallet_id())?.is_some() {
            return Err(NodeError::bad_request(
                BadRequest::KeyExists,
                format!(
                    "the {} key of wallet {} already exists on this node; refusing its import",
                    share.key_type(),
                    share.wallet_id()
                ),
            ));
        }
        let info_json =
            serde_json::to_vec(&info).map_err(|e| NodeError::io(Io::Encode, e.to_string()))?;
        let store_type = wallet::store_key_type(key_type);
        batch.put_share(store_type, share.wallet_id(), share.version(), &blob);
        batch.put_keyinfo(store_type, share.wallet_id(), &info_json);
        batch.put_aux(
            &done_name(share.key_type(), share.wallet_id()),
            hex::encode(share.fingerprint()).as_bytes(),
        );
        batch.delete_aux(name);
    }
    store
        .commit(batch)
        .map_err(|e| NodeError::io(Io::StorageWrite, e.to_string()))
}

/// The engine share (sealed, as the store keeps it) and keyinfo of one imported share.
fn convert(
    share: &ImportedShare,
    me: &str,
    holders: &[String],
    aux: &AuxInfo,
    chain_code: [u8; 32],
) -> Result<(KeyType, zeroize::Zeroizing<Vec<u8>>, KeyInfo), NodeError> {
    let failed = |e: &dyn std::fmt::Display| {
        NodeError::io(
            Io::KeyLoad,
            format!(
                "cannot convert the imported {} key of wallet {}: {e}",
                share.key_type(),
                share.wallet_id()
            ),
        )
    };
    let info = |participants: Vec<String>| KeyInfo {
        participant_peer_ids: participants,
        threshold: u32::from(share.threshold_signers()),
        version: share.version(),
    };
    match share.key_type() {
        MigrateKeyType::Secp256k1 => {
            // Keygen index k = position in the sorted holder set, the aux info's party order.
            let by_node = |id: &String| share.holders().iter().find(|h| h.node_id == *id);
            let ordered = holders
                .iter()
                .map(by_node)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| NodeError::bug("holder set and share holders differ"))?;
            let points: Vec<[u8; 32]> = ordered.iter().map(|h| h.evaluation_point).collect();
            let publics: Vec<Vec<u8>> = ordered.iter().map(|h| h.public_share.clone()).collect();
            let own = holders
                .iter()
                .position(|h| h == me)
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| NodeError::bug("this node is not a holder"))?;
            let incomplete = ecdsa_share(
                &ShareParts {
                    evaluation_points: &points,
                    public_shares: &publics,
                    own_position: own,
                    secret_share: share.secret_share().expose(),
                    public_key: share.public_key(),
                    signers: share.threshold_signers(),
                },
                chain_code,
            )
            .map_err(|e| failed(&e))?;
            let full = KeyShare::from_parts(incomplete, aux.clone()).map_err(|e| failed(&e))?;
            if full.public_key().compressed().as_slice() != share.public_key() {
                return Err(failed(&"the converted key has another public key"));
            }
            let sealed = full.seal().map_err(|e| failed(&e))?;
            Ok((KeyType::Secp256k1, sealed, info(holders.to_vec())))
        }
        MigrateKeyType::Ed25519 => {
            let points = share.evaluation_points();
            let publics = share.public_shares();
            let imported = eddsa_share(&ShareParts {
                evaluation_points: &points,
                public_shares: &publics,
                own_position: share.own_position(),
                secret_share: share.secret_share().expose(),
                public_key: share.public_key(),
                signers: share.threshold_signers(),
            })
            .map_err(|e| failed(&e))?;
            if imported
                .share
                .public_key()
                .map_err(|e| failed(&e))?
                .as_slice()
                != share.public_key()
            {
                return Err(failed(&"the converted key has another public key"));
            }
            let committee = imported
                .holder_order
                .iter()
                .map(|&k| share.holders().get(k).map(|h| h.node_id.clone()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| NodeError::bug("holder order out of range"))?;
            let sealed = imported.share.seal().map_err(|e| failed(&e))?;
            let blob = wallet::pack(&sealed.secret, &sealed.public);
            Ok((KeyType::Ed25519, blob, info(committee)))
        }
    }
}

/// Confirms this node's pending imports with their other holders and makes them usable (see
/// the module docs). This node coordinates the holder sets it is the lowest node id of; it takes
/// part in the others when asked. Stops on a disagreement (logged) and when done.
pub async fn maintain(ctx: Arc<NodeContext>) {
    let groups = match store_io(&ctx.store, pending_by_holders).await {
        Ok(groups) => groups,
        Err(failure) => {
            tracing::error!(reason = %failure, "cannot read pending imports");
            return;
        }
    };
    for (holders, shares) in groups {
        let entries: Vec<Entry> = {
            let mut e: Vec<Entry> = shares.iter().map(|(_, s)| Entry::of(s)).collect();
            e.sort();
            e
        };
        let wallets = entries.len();
        if let Some(stranger) = holders.iter().find(|h| !ctx.node_ids.contains(*h)) {
            tracing::error!(
                node = %stranger,
                wallets,
                "pending imports name a holder that is not in peers.json; they stay unusable"
            );
            continue;
        }
        if holders.first() != Some(&ctx.me) {
            tracing::info!(
                wallets,
                coordinator = %holders.first().map(String::as_str).unwrap_or_default(),
                "pending imports wait for their coordinator"
            );
            continue;
        }
        tracing::info!(
            wallets,
            holders = holders.len(),
            "confirming pending imports with the other holders"
        );
        // A commit that failed on some holder is retried with the same aux info: holders that
        // already committed used it.
        let mut run = None;
        loop {
            match confirm(&ctx, &holders, &entries, &mut run).await {
                Ok(()) => {
                    tracing::info!(
                        wallets,
                        "imported wallets agreed by every holder and usable"
                    );
                    break;
                }
                Err(failure)
                    if matches!(
                        failure.code(),
                        ErrorCode::IncompatiblePeerIds | ErrorCode::KeyAlreadyExists
                    ) =>
                {
                    tracing::error!(
                        reason = %failure,
                        wallets,
                        "holders disagree on the imported wallets: import refused, the wallets \
                         stay unusable; compare the backups and re-import"
                    );
                    break;
                }
                Err(failure) => {
                    if failure.code() == ErrorCode::ClusterNotReady {
                        tracing::info!(reason = %failure, "import waits; retrying");
                    } else {
                        tracing::warn!(reason = %failure, "import not confirmed yet; retrying");
                    }
                    tokio::time::sleep(RETRY_EVERY).await;
                }
            }
        }
    }
}

/// One attempt: every holder ready and the cluster's aux info in place → check → fresh aux info
/// (once: `run` keeps it) → commit → registry keyinfo.
async fn confirm(
    ctx: &NodeContext,
    holders: &[String],
    entries: &[Entry],
    run: &mut Option<String>,
) -> Result<(), NodeError> {
    let ready = ctx.ready_nodes().await?;
    let missing: Vec<&str> = holders
        .iter()
        .filter(|h| !ready.contains(*h))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(NodeError::not_ready(
            crate::error::NotReady::Cluster,
            format!("waiting for holders: {}", missing.join(", ")),
        ));
    }
    // The cluster's own aux-info run (ops::aux::maintain) goes first: run at the same time, the
    // two could each hold one node's only set of safe primes while waiting for another's.
    if run.is_none() && aux::stored_run(ctx, &ctx.node_ids).await?.is_none() {
        return Err(NodeError::not_ready(
            crate::error::NotReady::Cluster,
            "waiting for the node set's aux info before the import's own run",
        ));
    }
    let order = |phase| {
        serde_json::to_vec(&Order {
            phase,
            entries: entries.to_vec(),
        })
        .map_err(|e| NodeError::io(Io::Encode, e.to_string()))
    };
    let deadline = ctx.deadlines.keygen + mpcium_state::config::Deadlines::COORDINATOR_SLACK;
    let check = Start::new(Operation::Import, holders.to_vec(), order(Phase::Check)?);
    orchestrate::run(&ctx.sessions, check, deadline).await?;
    tracing::info!("every holder holds the same public keys and BigXj sets");

    let aux_run = match run {
        Some(run) => run.clone(),
        None => {
            let aux_start = Start::new(Operation::AuxInfo, holders.to_vec(), Vec::new());
            let fresh = aux_start.nonce.clone();
            orchestrate::run(&ctx.sessions, aux_start, aux::aux_deadline(ctx)).await?;
            tracing::info!(run = %fresh, "fresh aux info generated for the holder set");
            run.insert(fresh).clone()
        }
    };

    let mut commit = Start::new(Operation::Import, holders.to_vec(), order(Phase::Commit)?);
    commit.aux_run = Some(aux_run);
    orchestrate::run(&ctx.sessions, commit, deadline).await?;

    let wallets: Vec<(KeyType, String)> = entries
        .iter()
        .map(|entry| {
            let key_type = match entry.key_type {
                MigrateKeyType::Secp256k1 => KeyType::Secp256k1,
                MigrateKeyType::Ed25519 => KeyType::Ed25519,
            };
            (key_type, entry.wallet_id.clone())
        })
        .collect();
    let infos = store_io(&ctx.store, move |s| {
        wallets
            .into_iter()
            .map(|(key_type, id)| Ok((key_type, wallet::load_keyinfo(s, key_type, &id)?, id)))
            .collect::<Result<Vec<_>, NodeError>>()
    })
    .await?;
    for (key_type, info, wallet_id) in infos {
        match info {
            Some(info) => {
                if let Err(error) = ctx
                    .registry
                    .put_keyinfo(wallet::store_key_type(key_type), &wallet_id, &info)
                    .await
                {
                    tracing::warn!(%error, "cannot publish keyinfo to the registry (nodes keep their own copy)");
                }
            }
            None => {
                return Err(NodeError::bug(
                    "an imported wallet has no keyinfo after commit",
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::test_support::must_store;
    use mpcium_migrate::extract::import_share;
    use mpcium_migrate::testing::ReferenceKey;
    use mpcium_migrate::{pending_name, ExtractOptions, PeerMap, ShareKey};
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];

    fn holders() -> Vec<String> {
        NODES.iter().map(|n| n.to_string()).collect()
    }

    /// Node `NODES[0]`'s record of a random 2-of-3 key of `wallet`.
    fn must_record(key_type: MigrateKeyType, wallet: &str, seed: u64) -> ImportedShare {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let key = ReferenceKey::random(&mut rng, key_type, wallet, 1, &NODES, 2);
        let peers =
            PeerMap::from_pairs(NODES.iter().map(|n| (n.to_string(), n.to_string()))).unwrap();
        import_share(
            &ShareKey {
                key_type,
                wallet_id: wallet.into(),
                version: 1,
            },
            &key.save_data_json(&mut rng, NODES[0]).unwrap(),
            &ExtractOptions {
                node_id: NODES[0],
                peers: &peers,
                keyinfo: None,
            },
            None,
        )
        .unwrap()
    }

    fn must_put_pending(store: &Store, share: &ImportedShare) {
        store
            .put_aux(
                &pending_name(share.key_type(), share.wallet_id()),
                &share.to_json().unwrap(),
            )
            .unwrap();
    }

    fn order(shares: &[&ImportedShare]) -> Order {
        let mut entries: Vec<Entry> = shares.iter().map(|s| Entry::of(s)).collect();
        entries.sort();
        Order {
            phase: Phase::Check,
            entries,
        }
    }

    fn must_disagree(store: &Store, order: &Order, expected: &str) {
        let error = check(store, &holders(), order).unwrap_err();
        assert_eq!(error.code(), ErrorCode::IncompatiblePeerIds);
        assert!(error.to_string().contains(expected), "{error}");
    }

    #[test]
    fn the_same_imports_are_agreed_and_any_difference_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = must_store(dir.path());
        let ecdsa = must_record(MigrateKeyType::Secp256k1, "w1", 1);
        let eddsa = must_record(MigrateKeyType::Ed25519, "w1", 2);
        must_put_pending(&store, &ecdsa);
        must_put_pending(&store, &eddsa);
        let groups = pending_by_holders(&store).unwrap();
        assert_eq!(groups.keys().collect::<Vec<_>>(), vec![&holders()]);

        let remaining = check(&store, &holders(), &order(&[&ecdsa, &eddsa])).unwrap();
        assert_eq!(remaining.len(), 2);

        // Another key for the same wallet: another public key and BigXj set.
        let other = must_record(MigrateKeyType::Secp256k1, "w1", 3);
        must_disagree(&store, &order(&[&other, &eddsa]), "fingerprint");
        // A wallet this node did not import.
        let stranger = must_record(MigrateKeyType::Ed25519, "w2", 4);
        must_disagree(
            &store,
            &order(&[&ecdsa, &eddsa, &stranger]),
            "has no import of",
        );
        // A wallet the coordinator did not import.
        must_disagree(&store, &order(&[&ecdsa]), "coordinator lacks");
        // Another holder set.
        let mut fewer = holders();
        fewer.pop();
        let error = check(&store, &fewer, &order(&[&ecdsa, &eddsa])).unwrap_err();
        assert_eq!(error.code(), ErrorCode::IncompatiblePeerIds);
    }

    #[test]
    fn an_imported_key_is_agreed_again_by_its_done_marker_and_not_converted_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = must_store(dir.path());
        let ecdsa = must_record(MigrateKeyType::Secp256k1, "w1", 1);
        let eddsa = must_record(MigrateKeyType::Ed25519, "w1", 2);
        must_put_pending(&store, &eddsa);
        store
            .put_aux(
                &done_name(ecdsa.key_type(), ecdsa.wallet_id()),
                hex::encode(ecdsa.fingerprint()).as_bytes(),
            )
            .unwrap();
        let remaining = check(&store, &holders(), &order(&[&ecdsa, &eddsa])).unwrap();
        assert_eq!(remaining.len(), 1);
        assert_eq!(remaining[0].1, eddsa);
        let other = must_record(MigrateKeyType::Secp256k1, "w1", 3);
        must_disagree(&store, &order(&[&other, &eddsa]), "has no import of");
    }
}
