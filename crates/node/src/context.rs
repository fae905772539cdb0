//! Everything a running node shares between its tasks: who it is, who its peers are, its
//! transport, store and registry, the trusted initiator, and the cluster parameters.

use std::sync::Arc;
use std::time::Duration;

use mpcium_protocol::{
    Authorizers, ErrorCode, InitiatorMessage, PublicKey, SignTxMessage, Threshold,
};

use crate::control::Failure;
use crate::registry::AnyRegistry;
use crate::session::router::Router;
use crate::store::Store;
use crate::transport::bus::Bus;

/// Deadlines of the operations a node takes part in.
#[derive(Clone, Debug)]
pub struct Deadlines {
    /// Keygen (both keys), from start to outcome.
    pub keygen: Duration,
    /// One signature, from start to outcome.
    pub signing: Duration,
    /// Aux-info generation for the node set.
    pub aux_info: Duration,
    /// How long a participant waits for its own safe primes before giving up on an aux-info run.
    pub primes_wait: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            keygen: Duration::from_secs(60),
            signing: Duration::from_secs(60),
            aux_info: Duration::from_secs(600),
            primes_wait: Duration::from_secs(600),
        }
    }
}

/// Shared state of a running node.
pub struct NodeContext {
    /// This node's id.
    pub me: String,
    /// Every node of the cluster (ids), sorted: the keygen party order.
    pub node_ids: Vec<String>,
    /// Sends envelopes.
    pub bus: Bus,
    /// Routes received envelopes to sessions.
    pub router: Router,
    /// The encrypted local store.
    pub store: Arc<Store>,
    /// The shared registry (peers, readiness, keyinfo).
    pub registry: Arc<AnyRegistry>,
    /// The event initiator's public key.
    pub initiator: PublicKey,
    /// Authorizers whose co-signatures are required, when authorization is enabled.
    pub authorizers: Option<Authorizers>,
    /// Signers required for new keys.
    pub threshold: Threshold,
    /// Cluster-wide HD chain code.
    pub chain_code: [u8; 32],
    /// Operation deadlines.
    pub deadlines: Deadlines,
    /// Refuse reference-form signing requests (their signature does not cover the path).
    pub require_extended_requests: bool,
    /// How long a share superseded by a reshare is kept before it is wiped.
    pub share_wipe_grace: Duration,
}

impl std::fmt::Debug for NodeContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeContext")
            .field("me", &self.me)
            .field("node_ids", &self.node_ids)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl NodeContext {
    /// [`NodeContext::authenticate`] for a signing request, plus the cluster's policy on the
    /// request form: with `require_extended_requests`, only requests whose initiator signature
    /// covers the derivation path and hash mode (`request_version: 2`) are accepted.
    pub fn authenticate_signing(&self, request: &SignTxMessage) -> Result<(), Failure> {
        self.authenticate(request)?;
        if self.require_extended_requests && request.request_version.is_none() {
            return Err(Failure::new(
                ErrorCode::MsgValidation,
                "this cluster requires extended signing requests (request_version 2), whose \
                 initiator signature covers derivation_path; upgrade the client",
            ));
        }
        Ok(())
    }

    /// Checks the initiator's signature and, when enabled, the authorizers' co-signatures.
    pub fn authenticate(&self, request: &impl InitiatorMessage) -> Result<(), Failure> {
        self.initiator.verify_request(request).map_err(|e| {
            Failure::new(
                ErrorCode::InvalidInitiatorSignature,
                format!("invalid signature from initiator: {e}"),
            )
        })?;
        if let Some(authorizers) = &self.authorizers {
            authorizers
                .verify(request)
                .map_err(|e| Failure::new(e.error_code(), e.to_string()))?;
        }
        Ok(())
    }
}
