//! The node's one internal error type, [`NodeError`], and the single place where it becomes a
//! wire error code ([`NodeError::code`]) or a participant's report ([`Failure`]).
//!
//! Variants say what kind of thing went wrong, because that decides what happens next: a bad
//! request is answered and never retried, a cluster that is not ready may be retried, a peer that
//! misbehaved is named, our own I/O failing is logged as ours, and a bug is a bug. Culprits stay
//! node ids in a list from the engine's blame up to the result; they are flattened into text only
//! where the client's `error_reason` is written.

use mpcium_protocol::ErrorCode;
use serde::{Deserialize, Serialize};

/// Why a request or a session part failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The request is malformed, unauthenticated or not allowed; sent again unchanged it fails
    /// again.
    #[error("{reason}")]
    BadRequest {
        /// What is wrong with it.
        kind: BadRequest,
        /// For people; never secrets.
        reason: String,
    },
    /// The cluster or this node cannot serve the request yet.
    #[error("{reason}")]
    NotReady {
        /// What is missing.
        kind: NotReady,
        /// For people.
        reason: String,
    },
    /// A protocol run failed; `culprits` names the nodes the engine blamed (empty when it blamed
    /// nobody).
    #[error("{reason}")]
    Protocol {
        /// Which protocol.
        kind: ProtocolFault,
        /// Node ids of misbehaving peers.
        culprits: Vec<String>,
        /// For people.
        reason: String,
    },
    /// This node's own I/O failed (store, registry, NATS, encoding).
    #[error("{reason}")]
    Io {
        /// Which I/O.
        kind: Io,
        /// For people.
        reason: String,
    },
    /// A deadline passed; `missing` names the nodes that did not answer, when known.
    #[error("{reason}")]
    Timeout {
        /// Node ids that did not answer.
        missing: Vec<String>,
        /// For people.
        reason: String,
    },
    /// A participant reported that its part failed, with its own code; relayed by the
    /// coordinator.
    #[error("node {node}: {reason}")]
    Reported {
        /// The reporting participant.
        node: String,
        /// The code the participant chose.
        code: ErrorCode,
        /// Nodes the participant blamed.
        culprits: Vec<String>,
        /// Nodes the participant found not answering.
        missing: Vec<String>,
        /// The participant's reason.
        reason: String,
    },
    /// A state this node should never reach.
    #[error("{reason}")]
    Bug {
        /// For people.
        reason: String,
    },
}

/// What is wrong with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadRequest {
    /// It does not decode; the code is the one the protocol decoder chose.
    Undecodable(ErrorCode),
    /// The initiator's signature does not verify.
    InitiatorSignature,
    /// Authorizer co-signatures are missing or invalid; the code is the authorizer check's.
    Authorizer(ErrorCode),
    /// The cluster's policy refuses this form of request.
    Policy,
    /// A session order lacks something its operation needs.
    Incomplete,
    /// The request id was used for another request, or the operation was already done.
    Duplicate,
    /// The wallet exists already.
    KeyExists,
    /// The wallet or key is unknown (here).
    UnknownKey,
    /// The threshold is out of range.
    InvalidThreshold,
    /// Participants or committee do not fit the cluster or the wallet.
    IncompatiblePeers,
    /// This node is not a participant of the session it was asked to join.
    NotAParticipant,
    /// The number of signers or dealers is not what the wallet needs.
    WrongParticipantCount,
    /// It refers to an older state than this node holds.
    Stale,
}

/// What the cluster lacks to serve a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotReady {
    /// Nodes, aux info or other preparation are missing.
    Cluster,
    /// Fewer holders of the wallet are ready than it needs.
    TooFewSigners,
}

/// Which protocol failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolFault {
    /// Keygen.
    Keygen,
    /// Signing.
    Signing,
    /// Resharing (or its commit).
    Reshare,
    /// Aux-info or safe-prime generation.
    AuxInfo,
    /// A participant reported a key or signature that does not decode.
    MalformedOutput,
}

/// Which of this node's I/O failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Io {
    /// Reading the local store.
    StorageRead,
    /// Writing the local store.
    StorageWrite,
    /// A stored record does not decode.
    Corrupt,
    /// Stored key material does not open.
    KeyLoad,
    /// Key material cannot be sealed for storage.
    KeySave,
    /// Keyinfo cannot be read from the registry.
    KeyInfoLoad,
    /// The registry or NATS cannot be reached.
    Network,
    /// A peer cannot be reached.
    PeerUnreachable,
    /// A message cannot be encoded.
    Encode,
    /// A session's inbox closed under it.
    SessionClosed,
    /// A session id is in use or was used recently.
    SessionReused,
    /// The node runs as many sessions as its `max_concurrent_sessions` allows.
    SessionLimit,
    /// A memory bound (remembered session ids) is reached.
    MemoryLimit,
}

impl NodeError {
    /// A [`NodeError::BadRequest`].
    pub fn bad_request(kind: BadRequest, reason: impl Into<String>) -> Self {
        Self::BadRequest {
            kind,
            reason: reason.into(),
        }
    }

    /// A [`NodeError::NotReady`].
    pub fn not_ready(kind: NotReady, reason: impl Into<String>) -> Self {
        Self::NotReady {
            kind,
            reason: reason.into(),
        }
    }

    /// A [`NodeError::Protocol`] that blames nobody.
    pub fn protocol(kind: ProtocolFault, reason: impl Into<String>) -> Self {
        Self::Protocol {
            kind,
            culprits: Vec::new(),
            reason: reason.into(),
        }
    }

    /// A [`NodeError::Io`].
    pub fn io(kind: Io, reason: impl Into<String>) -> Self {
        Self::Io {
            kind,
            reason: reason.into(),
        }
    }

    /// A [`NodeError::Bug`].
    pub fn bug(reason: impl Into<String>) -> Self {
        Self::Bug {
            reason: reason.into(),
        }
    }

    /// The wire error code: the one mapping from internal errors to the client contract.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadRequest { kind, .. } => match kind {
                BadRequest::Undecodable(code) | BadRequest::Authorizer(code) => code.clone(),
                BadRequest::InitiatorSignature => ErrorCode::InvalidInitiatorSignature,
                BadRequest::Policy | BadRequest::Incomplete => ErrorCode::MsgValidation,
                BadRequest::Duplicate => ErrorCode::SessionDuplicate,
                BadRequest::KeyExists => ErrorCode::KeyAlreadyExists,
                BadRequest::UnknownKey => ErrorCode::KeyNotFound,
                BadRequest::InvalidThreshold => ErrorCode::InvalidThreshold,
                BadRequest::IncompatiblePeers => ErrorCode::IncompatiblePeerIds,
                BadRequest::NotAParticipant => ErrorCode::ParticipantNotFound,
                BadRequest::WrongParticipantCount => ErrorCode::InsufficientParticipants,
                BadRequest::Stale => ErrorCode::SessionStale,
            },
            Self::NotReady { kind, .. } => match kind {
                NotReady::Cluster => ErrorCode::ClusterNotReady,
                NotReady::TooFewSigners => ErrorCode::InsufficientParticipants,
            },
            Self::Protocol { kind, .. } => match kind {
                ProtocolFault::Keygen => ErrorCode::KeyGeneration,
                ProtocolFault::Signing => ErrorCode::SigningFailure,
                ProtocolFault::Reshare => ErrorCode::ReshareFailure,
                ProtocolFault::AuxInfo => ErrorCode::PreParamsGeneration,
                ProtocolFault::MalformedOutput => ErrorCode::KeyEncoding,
            },
            Self::Io { kind, .. } => match kind {
                Io::StorageRead => ErrorCode::StorageRead,
                Io::StorageWrite => ErrorCode::StorageWrite,
                Io::Corrupt => ErrorCode::DataCorruption,
                Io::KeyLoad => ErrorCode::KeyLoad,
                Io::KeySave => ErrorCode::KeySave,
                Io::KeyInfoLoad => ErrorCode::KeyInfoLoad,
                Io::Network => ErrorCode::NetworkConnection,
                Io::PeerUnreachable => ErrorCode::PeerUnavailable,
                Io::Encode => ErrorCode::MarshalFailure,
                Io::SessionClosed => ErrorCode::SessionCleanup,
                Io::SessionReused => ErrorCode::SessionDuplicate,
                Io::SessionLimit => ErrorCode::ConcurrencyLimit,
                Io::MemoryLimit => ErrorCode::ResourceExhausted,
            },
            Self::Timeout { .. } => ErrorCode::SessionTimeout,
            Self::Reported { code, .. } => code.clone(),
            Self::Bug { .. } => ErrorCode::Unknown,
        }
    }

    /// Nodes blamed for the failure, if any.
    pub fn culprits(&self) -> &[String] {
        match self {
            Self::Protocol { culprits, .. } | Self::Reported { culprits, .. } => culprits,
            _ => &[],
        }
    }

    /// Nodes that stopped answering (died, froze or lost readiness), if known: signing can
    /// retry without them.
    pub fn missing(&self) -> &[String] {
        match self {
            Self::Timeout { missing, .. } | Self::Reported { missing, .. } => missing,
            _ => &[],
        }
    }

    /// The participant that reported the failure, when a coordinator relays one.
    pub fn reporter(&self) -> Option<&str> {
        match self {
            Self::Reported { node, .. } => Some(node),
            _ => None,
        }
    }

    /// The text for a client's `error_reason`: the reason, and the blamed nodes when there are
    /// any.
    pub fn client_reason(&self) -> String {
        let culprits = self.culprits();
        if culprits.is_empty() {
            self.to_string()
        } else {
            format!("{self}; misbehaving nodes: {}", culprits.join(", "))
        }
    }

    /// This error as a participant reports it to its coordinator.
    pub fn to_failure(&self) -> Failure {
        let reason = match self {
            // Relayed failures keep the original participant's words; the reporter is in `node`.
            Self::Reported { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        Failure {
            code: self.code().as_str().to_owned(),
            reason,
            node: self.reporter().map(str::to_owned),
            culprits: self.culprits().to_vec(),
            missing: self.missing().to_vec(),
        }
    }

    /// The error participant `node` reported in `failure`.
    pub fn reported_by(node: &str, failure: Failure) -> Self {
        Self::Reported {
            node: node.to_owned(),
            code: failure.error_code(),
            culprits: failure.culprits,
            missing: failure.missing,
            reason: failure.reason,
        }
    }
}

/// A failure as it travels between nodes, in a participant's outcome report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Stable error code for the client.
    pub code: String,
    /// What went wrong, for people; never contains secrets.
    pub reason: String,
    /// The participant that reported the failure, when a coordinator relays one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Nodes the reporter blamed (node ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub culprits: Vec<String>,
    /// Nodes the reporter found not answering (node ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl Failure {
    /// The error code.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::from_wire(&self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_category_maps_to_its_wire_code() {
        let cases = [
            (
                NodeError::bad_request(BadRequest::InitiatorSignature, "x"),
                ErrorCode::InvalidInitiatorSignature,
            ),
            (
                NodeError::not_ready(NotReady::Cluster, "x"),
                ErrorCode::ClusterNotReady,
            ),
            (
                NodeError::protocol(ProtocolFault::Signing, "x"),
                ErrorCode::SigningFailure,
            ),
            (
                NodeError::io(Io::StorageWrite, "x"),
                ErrorCode::StorageWrite,
            ),
            (
                NodeError::Timeout {
                    missing: vec!["b".into()],
                    reason: "x".into(),
                },
                ErrorCode::SessionTimeout,
            ),
            (NodeError::bug("x"), ErrorCode::Unknown),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error:?}");
        }
    }

    #[test]
    fn culprits_survive_the_trip_through_a_participants_report() {
        let error = NodeError::Protocol {
            kind: ProtocolFault::Signing,
            culprits: vec!["node-b".into()],
            reason: "bad proof".into(),
        };
        let failure = error.to_failure();
        let json = serde_json::to_string(&failure).unwrap();
        let back: Failure = serde_json::from_str(&json).unwrap();
        let relayed = NodeError::reported_by("node-a", back);
        assert_eq!(relayed.code(), ErrorCode::SigningFailure);
        assert_eq!(relayed.culprits(), ["node-b".to_owned()]);
        assert_eq!(relayed.reporter(), Some("node-a"));
        assert!(relayed.client_reason().contains("node-b"));
    }

    #[test]
    fn missing_nodes_survive_the_trip_through_a_participants_report() {
        let error = NodeError::Timeout {
            missing: vec!["node-c".into()],
            reason: "gone".into(),
        };
        let back: Failure =
            serde_json::from_str(&serde_json::to_string(&error.to_failure()).unwrap()).unwrap();
        let relayed = NodeError::reported_by("node-a", back);
        assert_eq!(relayed.code(), ErrorCode::SessionTimeout);
        assert_eq!(relayed.missing(), ["node-c".to_owned()]);
    }

    #[test]
    fn a_report_without_culprits_keeps_the_earlier_wire_form() {
        let failure = NodeError::io(Io::StorageRead, "disk").to_failure();
        let json = serde_json::to_string(&failure).unwrap();
        assert_eq!(json, r#"{"code":"ERROR_STORAGE_READ","reason":"disk"}"#);
    }
}
