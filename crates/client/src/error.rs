//! The client's errors: [`ConnectError`] for setting up, [`ClientError`] for each request.
//! Every failure is a value; the SDK never exits or panics the host process.

use std::fmt;

use mpcium_protocol::{DecodeError, ErrorCode};

use crate::signer::SignerError;

/// Which operation a [`ClientError::Timeout`] concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Wallet creation (keygen), correlated by wallet ID.
    Keygen,
    /// Signing, correlated by transaction ID.
    Signing,
    /// Resharing, correlated by session ID.
    Reshare,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Keygen => "keygen",
            Self::Signing => "signing",
            Self::Reshare => "resharing",
        })
    }
}

/// Why [`crate::Client::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The NATS server could not be reached.
    #[error("cannot connect to nats at {url}: {reason}")]
    Nats {
        /// The URL tried, credentials redacted.
        url: String,
        /// What async-nats reported, credentials redacted.
        reason: String,
    },
    /// A stream could not be found or created (JetStream disabled, or a conflicting config).
    #[error("cannot open or create jetstream stream {stream}: {reason}; is jetstream enabled?")]
    Stream {
        /// The stream name.
        stream: String,
        /// What the server reported.
        reason: String,
    },
    /// A durable result consumer could not be created or opened.
    #[error("cannot create result consumer {consumer}: {reason}")]
    Consumer {
        /// The durable consumer name.
        consumer: String,
        /// What the server reported.
        reason: String,
    },
}

/// Broad category of a [`ClientError`], to match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientErrorKind {
    /// The request was refused locally before sending.
    InvalidRequest,
    /// A signer failed.
    Signer,
    /// The request could not be handed to NATS / JetStream.
    Publish,
    /// No result arrived in time.
    Timeout,
    /// The cluster answered with an error result.
    Failed,
    /// The client's result consumers are gone.
    Closed,
    /// A state the client should never reach.
    Bug,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request would be refused by the nodes (bad ID, wrong `tx` length, ...); nothing was
    /// sent. Fix the request.
    #[error("request refused before sending: {0}")]
    InvalidRequest(#[from] DecodeError),
    /// The initiator or an authorizer could not sign; nothing was sent.
    #[error("{signer} could not sign the request: {source}")]
    Sign {
        /// `initiator` or `authorizer <id>`.
        signer: String,
        /// The signer's error.
        #[source]
        source: SignerError,
    },
    /// Publishing failed or JetStream did not confirm storing the request; it may or may not
    /// have been stored, so retry with the same ID (identical retries are de-duplicated).
    #[error("cannot publish to {subject}: {reason}")]
    Publish {
        /// The subject.
        subject: String,
        /// What async-nats reported.
        reason: String,
    },
    /// No result arrived before the deadline. The request may still complete; its result then
    /// appears on [`crate::Client::results`].
    #[error(
        "no {what} result for {id} before the deadline; it may still arrive on the results stream"
    )]
    Timeout {
        /// The operation.
        what: Operation,
        /// The wallet, transaction or session ID.
        id: String,
    },
    /// The cluster answered with an error result.
    #[error("the cluster refused the request ({code}): {reason}")]
    Failed {
        /// The result's `error_code`.
        code: ErrorCode,
        /// The result's `error_reason`.
        reason: String,
    },
    /// The client's result consumers stopped (the client was dropped while waiting).
    #[error("the client's result dispatcher has stopped; create a new client")]
    Closed,
    /// A state the client should never reach (a bug in this crate); please report it.
    #[error("internal error in mpcium-client: {0}; please report this")]
    Bug(&'static str),
}

impl ClientError {
    /// The category, for matching.
    pub fn kind(&self) -> ClientErrorKind {
        match self {
            Self::InvalidRequest(_) => ClientErrorKind::InvalidRequest,
            Self::Sign { .. } => ClientErrorKind::Signer,
            Self::Publish { .. } => ClientErrorKind::Publish,
            Self::Timeout { .. } => ClientErrorKind::Timeout,
            Self::Failed { .. } => ClientErrorKind::Failed,
            Self::Closed => ClientErrorKind::Closed,
            Self::Bug(_) => ClientErrorKind::Bug,
        }
    }

    /// The cluster's error code, for [`ClientError::Failed`].
    pub fn error_code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Failed { code, .. } => Some(code),
            _ => None,
        }
    }
}
