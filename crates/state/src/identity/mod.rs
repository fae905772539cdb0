//! Identities on disk: `peers.json`, node identity and key files, initiator and authorizer key
//! files, passphrase (age) encryption and the owner-only atomic file writer they all use.
//!
//! File formats match the Go reference (fystack/mpcium) so files made by either tool work with
//! both; where the seed deployment guide names files differently, its names are written and the
//! reference's are accepted on input.

pub mod age_file;
pub mod files;
pub mod initiator;
pub mod node;
pub mod peers;
pub mod secret;

pub use age_file::AgeError;
pub use files::{FileError, Overwrite};
pub use initiator::{InitiatorAlgorithm, InitiatorSigningKey};
pub use node::{
    load_node_signing_key, load_peer_identities, IdentityError, NodeIdentity, NodeSigningKey,
};
pub use peers::{Peer, Peers, PeersError};
pub use secret::{check_passphrase_strength, SecretText, WeakPassphrase};
