//! The engine's error type. It keeps three causes apart — a peer misbehaved (and which one), the
//! caller asked for something invalid, or the engine itself has a bug — so the node can blame,
//! reject or alert accordingly. Messages are lower-case and never contain secret material.

/// Party index within one session's ordered participant list.
pub type PartyIndex = u16;

/// What went wrong, in a form the node can match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller supplied invalid arguments (bad threshold, unknown party, wrong digest length, ...).
    InvalidInput,
    /// One or more identified peers sent something invalid (a bad proof, share or commitment).
    Misbehaviour,
    /// A message could not be decoded, or arrived for another session, round or recipient.
    BadMessage,
    /// Delivering or receiving messages failed.
    Transport,
    /// Stored key material could not be decoded or is inconsistent.
    Material,
    /// An internal invariant was violated: a bug in this crate or a dependency.
    Bug,
}

/// An error from a threshold protocol or from handling its key material.
#[derive(Debug, thiserror::Error)]
pub enum TssError {
    /// The caller supplied invalid arguments.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Identified peers misbehaved; the protocol aborted.
    #[error("protocol aborted: {reason} (culprits: {culprits:?})")]
    Misbehaviour {
        /// Party indices (in the session's participant order) that misbehaved.
        culprits: Vec<PartyIndex>,
        /// What they did, as reported by the protocol.
        reason: String,
    },
    /// A message from `sender` was malformed, out of session, duplicated or misaddressed.
    #[error("bad message from party {sender}: {reason}")]
    BadMessage {
        /// Party index of the sender.
        sender: PartyIndex,
        /// What is wrong with it.
        reason: String,
    },
    /// Sending or receiving failed.
    #[error("transport failed: {0}")]
    Transport(String),
    /// Key material could not be decoded or is inconsistent.
    #[error("key material: {0}")]
    Material(String),
    /// An internal invariant was violated.
    #[error("bug: {0}")]
    Bug(String),
}

impl TssError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidInput(_) => ErrorKind::InvalidInput,
            Self::Misbehaviour { .. } => ErrorKind::Misbehaviour,
            Self::BadMessage { .. } => ErrorKind::BadMessage,
            Self::Transport(_) => ErrorKind::Transport,
            Self::Material(_) => ErrorKind::Material,
            Self::Bug(_) => ErrorKind::Bug,
        }
    }

    /// The parties this error blames, if any.
    pub fn culprits(&self) -> &[PartyIndex] {
        match self {
            Self::Misbehaviour { culprits, .. } => culprits,
            Self::BadMessage { sender, .. } => std::slice::from_ref(sender),
            _ => &[],
        }
    }
}
