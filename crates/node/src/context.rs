//! Everything a running node shares between its tasks: who it is, who its peers are, its
//! sessions handle, store and registry, the trusted initiator, the cluster parameters and
//! policies — and the checks every operation asks of them (authentication, readiness).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use mpcium_protocol::{
    Authorizers, InitiatorMessage, PublicKey, SignTxForm, SignTxMessage, Threshold,
};
use mpcium_state::config::Deadlines;
use mpcium_state::registry::{AnyRegistry, ReadyView};
use mpcium_state::store::Store;

use crate::error::{BadRequest, Io, NodeError};
use crate::session::start_window::StartWindow;
use crate::session::Sessions;

/// Shared state of a running node.
pub struct NodeContext {
    /// This node's id.
    pub me: String,
    /// Every node of the cluster (ids), sorted: the keygen party order.
    pub node_ids: Vec<String>,
    /// Sends envelopes and routes received ones to sessions.
    pub sessions: Sessions,
    /// The encrypted local store; its calls block, so async code goes through [`store_io`].
    pub store: Store,
    /// Which session starts this node accepts (replay protection across restarts).
    pub start_window: StartWindow,
    /// The shared registry (peers, readiness, keyinfo, results).
    pub registry: Arc<AnyRegistry>,
    /// The node's one long-lived view of the registry's readiness keys; requests read
    /// readiness from it, never from the registry.
    pub ready: ReadyView,
    /// The event initiator's public key.
    pub initiator: PublicKey,
    /// Authorizers whose co-signatures are required, when authorization is enabled.
    pub authorizers: Option<Authorizers>,
    /// Signers required for new keys.
    pub threshold: Threshold,
    /// Cluster-wide HD chain code.
    pub chain_code: [u8; 32],
    /// Session deadlines.
    pub deadlines: Deadlines,
    /// Refuse signing requests whose initiator signature does not cover their derivation path.
    pub require_extended_requests: bool,
    /// How long a share superseded by a reshare is kept before it is wiped.
    pub share_wipe_grace: Duration,
    /// How long a final result stays in the result cache.
    pub result_cache_ttl: Duration,
    /// The presignature pools of message-mode ECDSA signing.
    pub presign: Arc<crate::ops::presign::Pools>,
    /// Whether safe primes are being made for a waiting aux-info run.
    pub awaited_primes: Arc<crate::ops::aux::AwaitedPrimes>,
}

/// Runs `f` on the store on the blocking pool and returns its result: every store call (a redb
/// read, an fsync'd write) blocks, so async code never calls the store on a worker thread.
/// Cancel safety: dropping the future lets `f` finish in the background (a write is committed
/// or not, never half-done).
pub async fn store_io<T, F>(store: &Store, f: F) -> Result<T, NodeError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, NodeError> + Send + 'static,
{
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|_| NodeError::bug("a store call panicked"))?
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
    /// [`NodeContext::authenticate`] for a signing request, in the first of its
    /// [`SignTxMessage::accepted_forms`] the initiator signature verifies in (authorizers are
    /// checked over that form's payload). A signature covering none of them is
    /// `ERROR_INVALID_INITIATOR_SIGNATURE`. With `require_extended_requests`, a request whose
    /// signature does not cover the path it names (the v0.3.5 form with a path) is refused.
    pub fn authenticate_signing(&self, request: &SignTxMessage) -> Result<(), NodeError> {
        let forms = request.accepted_forms();
        let form = forms
            .iter()
            .copied()
            .find(|form| {
                self.initiator
                    .verify_request(&request.signed_as(*form))
                    .is_ok()
            })
            .unwrap_or_else(|| request.default_form());
        let signed = request.signed_as(form);
        self.authenticate(&signed)?;
        if self.require_extended_requests && form == SignTxForm::Reference {
            return Err(NodeError::bad_request(
                BadRequest::Policy,
                "this cluster requires signing requests whose initiator signature covers \
                 derivation_path (the upstream-master six-field form or request_version 2); \
                 upgrade the client",
            ));
        }
        Ok(())
    }

    /// Checks the initiator's signature and, when enabled, the authorizers' co-signatures.
    pub fn authenticate(&self, request: &impl InitiatorMessage) -> Result<(), NodeError> {
        self.initiator.verify_request(request).map_err(|e| {
            NodeError::bad_request(
                BadRequest::InitiatorSignature,
                format!("invalid signature from initiator: {e}"),
            )
        })?;
        if let Some(authorizers) = &self.authorizers {
            authorizers.verify(request).map_err(|e| {
                NodeError::bad_request(BadRequest::Authorizer(e.error_code()), e.to_string())
            })?;
        }
        Ok(())
    }

    /// Nodes whose readiness is current, from the in-memory [`ReadyView`]. When the view lacks a
    /// node of the cluster it is brought up to date first ([`ReadyView::refresh`]: nothing for
    /// NATS KV, one read for Consul), so a request right after a node became ready is not
    /// refused on a stale view.
    pub async fn ready_nodes(&self) -> Result<BTreeSet<String>, NodeError> {
        let read = || {
            self.ready
                .ready_nodes()
                .map_err(|e| NodeError::io(Io::Network, format!("cannot read readiness: {e}")))
        };
        let ready = read()?;
        if self.node_ids.iter().all(|n| ready.contains(n)) {
            return Ok(ready);
        }
        self.ready.refresh().await;
        read()
    }

    /// Whether every node of the cluster is ready.
    pub async fn all_ready(&self) -> Result<bool, NodeError> {
        let ready = self.ready_nodes().await?;
        Ok(self.node_ids.iter().all(|n| ready.contains(n)))
    }
}
