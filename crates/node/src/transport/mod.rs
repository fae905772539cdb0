//! Node-to-node transport, the bottom of the node: authenticated, encrypted envelopes over NATS.
//!
//! Every message between nodes travels in an [`envelope`] whose header binds it to a channel
//! ([`channel`]), a session, a round, a sender, a recipient and a per-sender sequence number. The
//! payload is encrypted with a key only the sender and the recipient share ([`keys`]), and the
//! whole envelope is signed with the sender's Ed25519 identity. Nodes receive on one subject each
//! (`mpcium.p2p.<nodeID>`, [`bus`]), so there is no per-session subscription to race against.
//! This layer knows nothing of sessions: it hands verified envelopes up as a bounded stream.

pub mod bus;
pub mod channel;
pub mod envelope;
pub mod keys;
