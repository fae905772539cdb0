//! `import-mpcium`: takes over one Go mpcium node's wallets, offline. Reads the node's reference
//! backup chain (every incremental file in order; key id and GCM tag of each checked by
//! `mpcium-migrate`), extracts and checks its tss-lib shares (every `BigXj` on one polynomial of
//! the keyinfo's degree through the public key, `Xi` matching its `BigXj`, distinct non-zero
//! evaluation points) into engine-neutral records, and writes them into this node's encrypted
//! store as pending imports — in one transaction, and only after every check passed, so a
//! refused import leaves the store as it was. The node confirms them with the other holders when
//! it starts, then converts them into engine shares (`ops::import` in the node); only then are
//! the wallets usable.
//!
//! Passwords: the Go node's `badger_password` (the backups' key) from `--backup-password-file`,
//! this node's database password from `--password-file`; a password without a file is read from
//! stdin when it is not a terminal (one line each, the backup password first), else prompted
//! for. Output is progress and public data only.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use mpcium_migrate::{
    extract, pending_name, BackupChain, BackupKey, ExtractOptions, ImportedShare, KeyInfoSet,
    KeyType, PeerMap, PENDING_PREFIX,
};
use mpcium_state::identity::{files, Peers, SecretText};
use mpcium_state::store::{Batch, SecretPassword, Store};
use zeroize::Zeroizing;

use crate::args::ImportMpciumArgs;
use crate::error::CliError;

/// `mpcium-cli import-mpcium`.
pub fn run(args: &ImportMpciumArgs) -> Result<(), CliError> {
    let peers = Peers::load(&args.peers)?;
    let peer_map = PeerMap::from_pairs(peers.iter().map(|p| (p.name.clone(), p.id.clone())))
        .map_err(|e| CliError::Import(e.to_string()))?;
    let node_id = peer_map
        .id_of(&args.node)
        .ok_or_else(|| {
            CliError::Import(format!(
                "node {} is not in {}",
                args.node,
                args.peers.display()
            ))
        })?
        .to_owned();
    let keyinfo = match &args.keyinfo {
        Some(path) => Some(
            KeyInfoSet::from_consul_export(&files::read_small_file(path)?)
                .map_err(|e| CliError::Import(e.to_string()))?,
        ),
        None => None,
    };

    let chain = BackupChain::open_dir(&args.backup_dir, Some(&args.node)).map_err(refused)?;
    println!(
        "found {} backup files of {} in {} ({})",
        chain.files().len(),
        chain.node(),
        args.backup_dir.display(),
        if chain.latest_version_checked() {
            "chain complete up to latest.version"
        } else {
            "no latest.version: the newest file is taken as the last"
        }
    );
    for file in chain.files() {
        let meta = file.metadata();
        println!(
            "  {} (Badger versions {}..{})",
            file.label(),
            meta.since,
            meta.next_since
        );
    }
    let backup_key = read_backup_key(args.backup_password_file.as_deref())?;
    let snapshot = chain.restore(&backup_key).map_err(refused)?;
    drop(backup_key);
    println!(
        "decrypted and verified {} files (key id and GCM tag of each); {} keys restored",
        chain.files().len(),
        snapshot.len()
    );
    let extraction = extract(
        &snapshot,
        &ExtractOptions {
            node_id: &node_id,
            peers: &peer_map,
            keyinfo: keyinfo.as_ref(),
        },
    )
    .map_err(refused)?;
    drop(snapshot);
    if extraction.shares.is_empty() {
        return Err(CliError::Import(format!(
            "the backups of {} hold no share this node should import; nothing was written",
            args.node
        )));
    }
    for share in &extraction.shares {
        print_share(share)?;
    }
    for (what, keys) in [
        ("superseded older versions", &extraction.superseded),
        (
            "left out of the latest reshare (not imported)",
            &extraction.not_held,
        ),
        (
            "without keyinfo (keygen never finished; not imported)",
            &extraction.without_keyinfo,
        ),
    ] {
        if !keys.is_empty() {
            let names: Vec<String> = keys.iter().map(|k| k.badger_key()).collect();
            println!("{what}: {}", names.join(", "));
        }
    }
    if keyinfo.is_none() {
        println!(
            "no --keyinfo given: the newest version of each key was taken; the node confirms it \
             with the other holders before using it"
        );
    }

    let password = read_store_password(args.password_file.as_deref())?;
    let store = Store::open(&args.store, &password).map_err(|e| {
        CliError::Import(format!(
            "cannot open the store {}: {e}",
            args.store.display()
        ))
    })?;
    let written = write_pending(&store, &extraction.shares)?;
    println!(
        "wrote {written} pending imports into {} ({} already pending); start the node: it \
         confirms them with the other holders, runs a fresh ECDSA aux-info generation and only \
         then marks the wallets usable",
        store.path().display(),
        extraction.shares.len() - written
    );
    Ok(())
}

/// Backup and extraction errors carry their own wording (file or key, what is wrong).
fn refused(error: impl std::fmt::Display) -> CliError {
    CliError::Import(format!("import refused, the store is untouched: {error}"))
}

fn print_share(share: &ImportedShare) -> Result<(), CliError> {
    let public = share
        .reference_public_key()
        .map_err(|e| CliError::Import(e.to_string()))?;
    let holders: Vec<&str> = share.holders().iter().map(|h| h.node_id.as_str()).collect();
    println!(
        "{} wallet {} v{}: {}-of-{} ({}), public key {}",
        share.key_type(),
        share.wallet_id(),
        share.version(),
        share.threshold_signers(),
        holders.len(),
        holders.join(", "),
        hex::encode(public)
    );
    Ok(())
}

/// Queues every share as a pending import and commits them in one transaction. A wallet key the
/// store already holds is refused; the same import already pending is skipped, another one is
/// refused. Returns how many were written.
fn write_pending(store: &Store, shares: &[ImportedShare]) -> Result<usize, CliError> {
    let storage = |e: mpcium_state::store::StoreError| CliError::Import(e.to_string());
    let pending: Vec<String> = store.aux_names(PENDING_PREFIX).map_err(storage)?;
    let mut batch = Batch::new();
    for share in shares {
        let store_type = store_key_type(share.key_type());
        if store
            .keyinfo(store_type, share.wallet_id())
            .map_err(storage)?
            .is_some()
        {
            return Err(CliError::Import(format!(
                "the store already holds the {} key of wallet {}; nothing was written",
                share.key_type(),
                share.wallet_id()
            )));
        }
        let name = pending_name(share.key_type(), share.wallet_id());
        if pending.contains(&name) {
            let existing = store
                .aux(&name)
                .map_err(storage)?
                .map(|bytes| ImportedShare::from_json(bytes.expose()))
                .transpose()
                .map_err(|e| CliError::Import(format!("pending import {name}: {e}")))?;
            if existing.is_some_and(|e| e.fingerprint() == share.fingerprint()) {
                continue;
            }
            return Err(CliError::Import(format!(
                "another import of the {} key of wallet {} is already pending; nothing was written",
                share.key_type(),
                share.wallet_id()
            )));
        }
        let json = share
            .to_json()
            .map_err(|e| CliError::Import(e.to_string()))?;
        batch.put_aux(&name, &json);
    }
    let written = batch.len();
    store.commit(batch).map_err(storage)?;
    Ok(written)
}

fn store_key_type(key_type: KeyType) -> mpcium_state::store::KeyType {
    match key_type {
        KeyType::Secp256k1 => mpcium_state::store::KeyType::Ecdsa,
        KeyType::Ed25519 => mpcium_state::store::KeyType::Eddsa,
    }
}

/// The next line of stdin, `None` when stdin is a terminal.
fn stdin_line(what: &str) -> Result<Option<SecretText>, CliError> {
    if std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Usage(format!("cannot read {what} from stdin: {e}")))?;
    Ok(Some(SecretText::from_file_text(line)))
}

/// A secret from `file`, else a line of stdin, else a terminal prompt.
fn read_secret(
    file: Option<&Path>,
    what: &str,
    flag: &str,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let text = match file {
        Some(path) => Zeroizing::new(files::read_small_file(path)?),
        None => match stdin_line(what)? {
            Some(text) => Zeroizing::new(text.expose().as_bytes().to_vec()),
            None => Zeroizing::new(
                SecretText::new(
                    rpassword::prompt_password(format!("Enter {what}: ")).map_err(|e| {
                        CliError::Usage(format!("cannot read {what}: {e}; pass {flag} <FILE>"))
                    })?,
                )
                .expose()
                .as_bytes()
                .to_vec(),
            ),
        },
    };
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(CliError::Usage(format!(
            "no {what} given; pass {flag} <FILE> or type it"
        )));
    }
    Ok(text)
}

fn read_backup_key(file: Option<&Path>) -> Result<BackupKey, CliError> {
    let bytes = read_secret(
        file,
        "the Go node's badger_password (the backups' key)",
        "--backup-password-file",
    )?;
    BackupKey::from_password_file(&bytes).map_err(refused)
}

fn read_store_password(file: Option<&Path>) -> Result<SecretPassword, CliError> {
    let bytes = read_secret(
        file,
        "this node's database password (badger_password)",
        "--password-file",
    )?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| CliError::Usage("the database password is not UTF-8 text".to_owned()))?;
    Ok(SecretPassword::new(
        SecretText::from_file_text(text).expose().to_owned(),
    ))
}
