//! Node-to-node transport: authenticated, encrypted envelopes over NATS.
//!
//! Every message between nodes travels in an [`envelope::Envelope`] whose header binds it to a
//! session, a protocol, a round, a sender, a recipient and a per-sender sequence number. The
//! payload is encrypted with a key only the sender and the recipient share ([`keys`]), and the whole
//! envelope is signed with the sender's Ed25519 identity. Nodes receive on one subject each
//! (`mpc.node.<nodeID>`), so there is no per-session subscription to race against.

pub mod bus;
pub mod envelope;
pub mod keys;
