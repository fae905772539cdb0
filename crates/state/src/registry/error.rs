//! The registry's error type, shared by both backends.

/// Why a registry operation failed. Messages never contain tokens or passwords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The backend settings are unusable.
    #[error("invalid registry settings: {reason}")]
    InvalidSettings {
        /// What is wrong.
        reason: String,
    },
    /// The key cannot be stored by this backend.
    #[error("invalid registry key {key:?}: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Consul could not be reached (connection refused, timeout, DNS).
    #[error("failed to reach consul at {address}: {source}")]
    ConsulUnreachable {
        /// The configured address.
        address: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// Consul refused the credentials.
    #[error("consul at {address} denied {method} {key} ({status}); check the consul token and credentials")]
    ConsulDenied {
        /// The configured address.
        address: String,
        /// HTTP method.
        method: &'static str,
        /// Key or path.
        key: String,
        /// HTTP status.
        status: u16,
    },
    /// Consul answered with an unexpected status.
    #[error("consul at {address} answered {status} to {method} {key}: {body}")]
    ConsulStatus {
        /// The configured address.
        address: String,
        /// HTTP method.
        method: &'static str,
        /// Key or path.
        key: String,
        /// HTTP status.
        status: u16,
        /// Start of the response body.
        body: String,
    },
    /// Consul has no elected leader, so writes would fail.
    #[error("consul at {address} has no leader")]
    ConsulNoLeader {
        /// The configured address.
        address: String,
    },
    /// A KV bucket could not be created or opened.
    #[error("failed to open nats kv bucket {bucket} (needs nats-server >= 2.11 with jetstream enabled): {source}")]
    NatsBucket {
        /// Bucket name.
        bucket: &'static str,
        /// The client's error.
        #[source]
        source: async_nats::Error,
    },
    /// A NATS KV operation failed.
    #[error("nats kv failed to {op} {key}: {source}")]
    Nats {
        /// Operation.
        op: &'static str,
        /// Key (registry form).
        key: String,
        /// The client's error.
        #[source]
        source: async_nats::Error,
    },
    /// The in-memory readiness view has not been loaded from the registry yet.
    #[error("the readiness view is not loaded yet (the registry watch has not started)")]
    ViewNotLoaded,
    /// A stored value is not what the key's type requires.
    #[error("registry value at {key} is malformed: {reason}")]
    Malformed {
        /// Key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A peer name is already registered with another node id.
    #[error("peer {name} is already registered with id {registered}, not {requested}; delete mpc_peers/{name} first if the node was really replaced")]
    PeerIdConflict {
        /// Peer name.
        name: String,
        /// The id in the registry.
        registered: String,
        /// The id we tried to register.
        requested: String,
    },
}

/// What kind of failure a [`RegistryError`] is, for callers deciding whether to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryErrorKind {
    /// Settings or key are unusable: fix the caller or the configuration.
    InvalidInput,
    /// The backend is unreachable, leaderless or failing: retry later.
    Unavailable,
    /// The backend refused our credentials: fix the configuration.
    Denied,
    /// A stored value is not what its key requires.
    Malformed,
    /// The write conflicts with what is registered.
    Conflict,
}

impl RegistryError {
    /// The kind of failure.
    pub fn kind(&self) -> RegistryErrorKind {
        match self {
            RegistryError::InvalidSettings { .. } | RegistryError::InvalidKey { .. } => {
                RegistryErrorKind::InvalidInput
            }
            RegistryError::ConsulUnreachable { .. }
            | RegistryError::ConsulStatus { .. }
            | RegistryError::ConsulNoLeader { .. }
            | RegistryError::NatsBucket { .. }
            | RegistryError::Nats { .. }
            | RegistryError::ViewNotLoaded => RegistryErrorKind::Unavailable,
            RegistryError::ConsulDenied { .. } => RegistryErrorKind::Denied,
            RegistryError::Malformed { .. } => RegistryErrorKind::Malformed,
            RegistryError::PeerIdConflict { .. } => RegistryErrorKind::Conflict,
        }
    }
}
