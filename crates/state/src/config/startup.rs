//! Everything a node must have before it joins the cluster, loaded and cross-checked in one
//! place: the configuration validated against the committee in `peers.json`, the Badger
//! password, this node's private key (plain or age-encrypted) and every peer's public identity.
//!
//! The `mpcium start` flags map one-to-one onto [`StartOptions`].

use std::path::{Path, PathBuf};

use crate::identity::{
    files, load_node_signing_key, load_peer_identities, IdentityError, NodeIdentity,
    NodeSigningKey, Peer, Peers, PeersError, SecretText,
};

use super::{Config, ConfigError, NodeSettings};

/// How to find the node's inputs (the `mpcium start` flags).
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// This node's name, as in peers.json.
    pub name: String,
    /// Config file; `None` searches the usual places.
    pub config: Option<PathBuf>,
    /// File holding the Badger password (overrides `badger_password`).
    pub password_file: Option<PathBuf>,
    /// File holding the passphrase of the `.age` private key.
    pub identity_password_file: Option<PathBuf>,
    /// Read `<name>_private.key.age` instead of `<name>_private.key`.
    pub decrypt_private_key: bool,
    /// Prompt on the terminal for the Badger password.
    pub prompt_credentials: bool,
    /// peers.json; `None` means `./peers.json`.
    pub peers: Option<PathBuf>,
    /// Directory holding identity files (the reference uses `./identity`).
    pub identity_dir: PathBuf,
}

/// The checked inputs of a node.
#[derive(Debug)]
pub struct NodeInputs {
    /// The configuration as loaded (Badger password filled in from the flags).
    pub config: Config,
    /// The validated settings.
    pub settings: NodeSettings,
    /// Config keys that were ignored.
    pub unknown_keys: Vec<String>,
    /// The committee.
    pub peers: Peers,
    /// This node.
    pub me: Peer,
    /// This node's signing key.
    pub signing_key: NodeSigningKey,
    /// Every peer's public identity, in `peers` order.
    pub identities: Vec<NodeIdentity>,
}

/// Why a node cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Configuration problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// peers.json problem.
    #[error(transparent)]
    Peers(#[from] PeersError),
    /// Identity or key file problem.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// `--name` is not in peers.json.
    #[error("node {name:?} is not in {} (it lists {listed}); check --name", peers_path.display())]
    NotAPeer {
        /// The requested name.
        name: String,
        /// The peers file.
        peers_path: PathBuf,
        /// The names it lists.
        listed: String,
    },
    /// A password or passphrase could not be read.
    #[error("{what}: {detail}")]
    Password {
        /// Which secret.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// The private key does not belong to the node's public identity.
    #[error(
        "{}: the private key does not match the public key in {}; the identity directory mixes \
         files from different runs of generate-identity",
        key_dir.display(), identity.display()
    )]
    KeyMismatch {
        /// Directory of the key.
        key_dir: PathBuf,
        /// The identity file.
        identity: PathBuf,
    },
}

/// Loads and cross-checks everything; prompts on the terminal only when the options ask for it.
pub fn load_node_inputs(opts: &StartOptions) -> Result<NodeInputs, StartError> {
    let loaded = Config::load(opts.config.as_deref())?;
    let mut config = loaded.config;
    if let Some(path) = &opts.password_file {
        config.badger_password = Some(read_secret_file("--password-file", path)?);
    } else if opts.prompt_credentials {
        config.badger_password = Some(prompt_badger_password()?);
    }

    let peers_path = opts
        .peers
        .clone()
        .unwrap_or_else(|| PathBuf::from("peers.json"));
    let peers = Peers::load(&peers_path)?;
    let me = peers
        .by_name(&opts.name)
        .cloned()
        .ok_or_else(|| StartError::NotAPeer {
            name: opts.name.clone(),
            peers_path: peers_path.clone(),
            listed: peers
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let settings = config
        .validate_for_node(peers.len())
        .map_err(ConfigError::from)?;

    let passphrase = if opts.decrypt_private_key {
        Some(match &opts.identity_password_file {
            Some(path) => read_secret_file("--identity-password-file", path)?,
            None => prompt_once("Enter passphrase to decrypt the node's private key: ")?,
        })
    } else {
        None
    };
    let signing_key = load_node_signing_key(&opts.identity_dir, &me.name, passphrase.as_ref())?;
    let identities = load_peer_identities(&opts.identity_dir, &peers)?;
    let mine = identities.iter().find(|i| i.node_name == me.name);
    if mine.map(|i| i.public_key.as_str()) != Some(signing_key.public_key_hex().as_str()) {
        return Err(StartError::KeyMismatch {
            key_dir: opts.identity_dir.clone(),
            identity: opts
                .identity_dir
                .join(crate::identity::node::identity_file_name(&me.name)),
        });
    }
    Ok(NodeInputs {
        config,
        settings,
        unknown_keys: loaded.unknown_keys,
        peers,
        me,
        signing_key,
        identities,
    })
}

fn read_secret_file(what: &'static str, path: &Path) -> Result<SecretText, StartError> {
    let bytes = zeroize::Zeroizing::new(files::read_small_file(path).map_err(|e| {
        StartError::Password {
            what,
            detail: e.to_string(),
        }
    })?);
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| StartError::Password {
        what,
        detail: format!("{} is not UTF-8 text", path.display()),
    })?;
    let secret = SecretText::from_file_text(text);
    if secret.is_empty() {
        return Err(StartError::Password {
            what,
            detail: format!("{} is empty", path.display()),
        });
    }
    Ok(secret)
}

fn prompt_once(prompt: &str) -> Result<SecretText, StartError> {
    rpassword::prompt_password(prompt)
        .map(SecretText::new)
        .map_err(|e| StartError::Password {
            what: "passphrase prompt",
            detail: format!("{e}; pass --identity-password-file when not on a terminal"),
        })
}

fn prompt_badger_password() -> Result<SecretText, StartError> {
    let err = |e: std::io::Error| StartError::Password {
        what: "--prompt-credentials",
        detail: format!("{e}; pass --password-file when not on a terminal"),
    };
    let first =
        SecretText::new(rpassword::prompt_password("Enter Badger password: ").map_err(err)?);
    let second =
        SecretText::new(rpassword::prompt_password("Confirm Badger password: ").map_err(err)?);
    if first != second {
        return Err(StartError::Password {
            what: "--prompt-credentials",
            detail: "the two entries do not match".to_owned(),
        });
    }
    Ok(first)
}
