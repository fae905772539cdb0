//! Session identity shared by every protocol: which protocol runs, for which request, among which
//! ordered participants. The [`SessionId`] is derived from all of these, so two executions that
//! differ in any of them can never accept each other's messages or proofs.

use sha2::{Digest, Sha256};

use crate::error::{PartyIndex, TssError};

/// The protocols this engine runs. Part of every [`SessionId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolKind {
    /// CGGMP24 auxiliary info (Paillier and ring-Pedersen parameters) for a node set.
    EcdsaAuxInfo,
    /// CGGMP24 threshold key generation.
    EcdsaKeygen,
    /// CGGMP24 presignature generation.
    EcdsaPresign,
    /// CGGMP24 full interactive signing.
    EcdsaSign,
    /// The one online round of signing from a presignature.
    EcdsaOnlineSign,
    /// Resharing of a secp256k1 key to a new committee.
    EcdsaReshare,
    /// FROST Ed25519 distributed key generation.
    EddsaKeygen,
    /// FROST Ed25519 signing.
    EddsaSign,
    /// Resharing of an Ed25519 key to a new committee.
    EddsaReshare,
}

impl ProtocolKind {
    /// Stable name, used in session-id derivation and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EcdsaAuxInfo => "ecdsa-aux-info",
            Self::EcdsaKeygen => "ecdsa-keygen",
            Self::EcdsaPresign => "ecdsa-presign",
            Self::EcdsaSign => "ecdsa-sign",
            Self::EcdsaOnlineSign => "ecdsa-online-sign",
            Self::EcdsaReshare => "ecdsa-reshare",
            Self::EddsaKeygen => "eddsa-keygen",
            Self::EddsaSign => "eddsa-sign",
            Self::EddsaReshare => "eddsa-reshare",
        }
    }
}

/// Unique identifier of one protocol execution (cggmp24's "execution id").
///
/// Invariant: derived with [`SessionId::derive`] from the protocol, the request id and the ordered
/// participant list, so every party that agrees on those three computes the same id, and no two
/// distinct executions share one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 32]);

impl SessionId {
    /// Derives the session id. `request_id` must be unique per request (e.g. the wallet id plus a
    /// request nonce chosen by the coordinator).
    pub fn derive(kind: ProtocolKind, request_id: &[u8], participants: &Participants) -> Self {
        let mut h = Sha256::new();
        h.update(b"mpcium-rs/session/v1");
        absorb(&mut h, kind.as_str().as_bytes());
        absorb(&mut h, request_id);
        h.update((participants.nodes.len() as u64).to_be_bytes());
        for node in &participants.nodes {
            absorb(&mut h, node.as_bytes());
        }
        Self(h.finalize().into())
    }

    /// Rebuilds an id received on the wire.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

fn absorb(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// The ordered participants of a session, identified by node id. A party's index in this list is
/// its party index in the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participants {
    nodes: Vec<String>,
}

impl Participants {
    /// Builds the list; ids must be non-empty and distinct, and there must be at least one.
    pub fn new(nodes: Vec<String>) -> Result<Self, TssError> {
        if nodes.is_empty() {
            return Err(TssError::InvalidInput(
                "a session needs at least one participant".into(),
            ));
        }
        if nodes.len() > usize::from(PartyIndex::MAX) {
            return Err(TssError::InvalidInput(format!(
                "too many participants: {}",
                nodes.len()
            )));
        }
        for (i, node) in nodes.iter().enumerate() {
            if node.is_empty() {
                return Err(TssError::InvalidInput(format!(
                    "participant {i} has an empty id"
                )));
            }
            if nodes[..i].contains(node) {
                return Err(TssError::InvalidInput(format!(
                    "participant {node} is listed twice"
                )));
            }
        }
        Ok(Self { nodes })
    }

    /// Number of participants.
    pub fn len(&self) -> u16 {
        // Bounded by `new`.
        self.nodes.len() as u16
    }

    /// Always false: a participant list is never empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Party index of `node`, if it participates.
    pub fn index_of(&self, node: &str) -> Option<PartyIndex> {
        self.nodes
            .iter()
            .position(|n| n == node)
            .map(|i| i as PartyIndex)
    }

    /// Node id at party index `i`.
    pub fn node(&self, i: PartyIndex) -> Option<&str> {
        self.nodes.get(usize::from(i)).map(String::as_str)
    }

    /// Node ids in party order.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parties(ids: &[&str]) -> Participants {
        Participants::new(ids.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn session_id_changes_with_protocol_request_and_participant_order() {
        let p = parties(&["a", "b", "c"]);
        let base = SessionId::derive(ProtocolKind::EcdsaSign, b"req-1", &p);
        assert_eq!(
            base,
            SessionId::derive(ProtocolKind::EcdsaSign, b"req-1", &p)
        );
        assert_ne!(
            base,
            SessionId::derive(ProtocolKind::EddsaSign, b"req-1", &p)
        );
        assert_ne!(
            base,
            SessionId::derive(ProtocolKind::EcdsaSign, b"req-2", &p)
        );
        assert_ne!(
            base,
            SessionId::derive(
                ProtocolKind::EcdsaSign,
                b"req-1",
                &parties(&["b", "a", "c"])
            )
        );
    }

    #[test]
    fn length_prefixing_prevents_boundary_ambiguity() {
        let a = SessionId::derive(ProtocolKind::EcdsaSign, b"ab", &parties(&["c"]));
        let b = SessionId::derive(ProtocolKind::EcdsaSign, b"a", &parties(&["bc"]));
        assert_ne!(a, b);
    }

    #[test]
    fn duplicate_or_empty_participants_are_rejected() {
        assert!(Participants::new(vec![]).is_err());
        assert!(Participants::new(vec!["a".into(), "a".into()]).is_err());
        assert!(Participants::new(vec!["".into()]).is_err());
    }
}
