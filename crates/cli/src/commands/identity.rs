//! `generate-identity`: a node's Ed25519 identity, then sharing of public identity files with
//! sibling node directories (the seed's `./identity/node0`, `./identity/node1`, …) so every
//! node directory ends up holding every node's `<name>_identity.json`. Private keys never leave
//! their own directory.

use std::path::{Path, PathBuf};

use mpcium_state::identity::files::{self, Overwrite};
use mpcium_state::identity::node::{identity_file_name, private_key_file_name};
use mpcium_state::identity::{NodeIdentity, NodeSigningKey, Peer, Peers};

use crate::args::GenerateIdentityArgs;
use crate::error::CliError;
use crate::keyfile::{self, KeyPairPaths};

/// Generates the identity of `--node` into `--output-dir` and shares public files.
pub fn generate(args: &GenerateIdentityArgs) -> Result<(), CliError> {
    let peers = Peers::load(&args.peers)?;
    let me = peers.by_name(&args.node).cloned().ok_or_else(|| {
        let names: Vec<&str> = peers.iter().map(|p| p.name.as_str()).collect();
        CliError::Usage(format!(
            "node {:?} is not in {} (it lists {})",
            args.node,
            args.peers.display(),
            names.join(", ")
        ))
    })?;
    keyfile::ensure_dir(&args.output_dir)?;
    let paths = KeyPairPaths {
        identity: args.output_dir.join(identity_file_name(&me.name)),
        plain_key: args.output_dir.join(private_key_file_name(&me.name, false)),
    };
    keyfile::preflight(&paths, &args.key)?;
    let passphrase = keyfile::passphrase_for(&args.key)?;

    let key = NodeSigningKey::generate();
    let identity = NodeIdentity::new(&me.name, &me.id, &key);
    let json = identity
        .to_json()
        .map_err(|e| CliError::Key(format!("cannot encode the identity: {e}")))?;
    let key_path = keyfile::write_key_pair(
        &paths,
        &json,
        &key.to_key_text(),
        passphrase.as_ref(),
        &args.key,
    )?;
    println!("Generated identity for {} ({})", me.name, me.id);
    println!("- Private key: {}", key_path.display());
    println!("- Identity:    {}", paths.identity.display());

    let shared = share_with_siblings(
        &args.output_dir,
        &me,
        &peers,
        keyfile::overwrite_mode(&args.key),
    )?;
    for (from, to) in shared {
        println!("- Shared {} -> {}", from.display(), to.display());
    }
    Ok(())
}

/// When `dir` is `<parent>/<me>`, exchanges public identity files with every `<parent>/<peer>`
/// directory that exists. Returns the copies made.
fn share_with_siblings(
    dir: &Path,
    me: &Peer,
    peers: &Peers,
    overwrite: Overwrite,
) -> Result<Vec<(PathBuf, PathBuf)>, CliError> {
    if dir.file_name().and_then(|n| n.to_str()) != Some(me.name.as_str()) {
        return Ok(Vec::new()); // flat layout: all identities already live in one directory
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mine = dir.join(identity_file_name(&me.name));
    let mut copies = Vec::new();
    for peer in peers.iter().filter(|p| p.name != me.name) {
        let peer_dir = parent.join(&peer.name);
        if !peer_dir.is_dir() {
            continue;
        }
        let theirs = peer_dir.join(identity_file_name(&peer.name));
        if theirs.is_file() {
            let identity = NodeIdentity::load(&theirs)?;
            if identity.node_name != peer.name || identity.node_id != peer.id {
                return Err(CliError::Usage(format!(
                    "{} belongs to {} ({}) but peers.json lists {} with id {}; regenerate {}'s \
                     identity with --overwrite",
                    theirs.display(),
                    identity.node_name,
                    identity.node_id,
                    peer.name,
                    peer.id,
                    peer.name
                )));
            }
            copies.extend(copy_public(
                &theirs,
                &dir.join(identity_file_name(&peer.name)),
                overwrite,
            )?);
        }
        copies.extend(copy_public(
            &mine,
            &peer_dir.join(identity_file_name(&me.name)),
            overwrite,
        )?);
    }
    Ok(copies)
}

/// Copies a public file; identical destinations are left alone, differing ones need overwrite.
fn copy_public(
    from: &Path,
    to: &Path,
    overwrite: Overwrite,
) -> Result<Option<(PathBuf, PathBuf)>, CliError> {
    let bytes = files::read_small_file(from)?;
    if to.exists() {
        if files::read_small_file(to)? == bytes {
            return Ok(None);
        }
        if overwrite == Overwrite::Refuse {
            return Err(CliError::Usage(format!(
                "{} differs from {}; pass --overwrite to replace it",
                to.display(),
                from.display()
            )));
        }
    }
    files::write_private_file(to, &bytes, Overwrite::Allow)?;
    Ok(Some((from.to_path_buf(), to.to_path_buf())))
}
