//! The node's operations HTTP listener (`healthcheck.address`): `/health` with the reference's
//! JSON, Kubernetes-style `/healthz` (liveness) and `/readyz` (readiness), and Prometheus
//! `/metrics` when a metrics handle is given.
//!
//! What "healthy" means is asked of a [`ProbeHealth`] on every request, so tests supply a fake
//! and the node supplies [`NodeProbes`] (NATS connection state, registry reachability, ready
//! nodes against the signing threshold, request consumers, ECDSA aux info). Ready = NATS
//! connected ∧ registry reachable ∧ a signing majority ready (as in the reference) ∧ every
//! request consumer up. Whether this node holds ECDSA aux info is reported but not required:
//! keygen requests that arrive before it wait for it ([`crate::ops::aux::wait_for_cluster_run`]).
//! [`log_changes`] writes the same facts to the log whenever one of them changes.
//!
//! Timeouts follow the reference's 5 s read/write: request headers must arrive within
//! [`HTTP_TIMEOUT`], a probe that has not answered within [`PROBE_DEADLINE`] counts as not
//! ready, and no connection lives longer than [`CONNECTION_LIFETIME`].

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_nats::connection::State;
use axum::extract::State as AxumState;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::BoxFuture;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use metrics_exporter_prometheus::PrometheusHandle;
use mpcium_protocol::Threshold;
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::context::NodeContext;
use crate::metrics;
use crate::request::consumer::ConsumerHealth;
use mpcium_state::registry::{AnyRegistry, ReadyView, Registry};
use mpcium_state::store::Store;

/// Time a client has to send its request headers (the reference's read timeout).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a probe has to answer before the node counts as not ready; below [`HTTP_TIMEOUT`] so
/// the answer still goes out within the reference's write timeout.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(4);
/// Time each backend check inside [`NodeProbes`] may take (they run concurrently).
pub const CHECK_DEADLINE: Duration = Duration::from_secs(3);
/// Longest a connection is kept, so a stalled client cannot hold a task forever.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One look at what the node's readiness depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthReport {
    /// The NATS connection is up.
    pub nats_connected: bool,
    /// The registry (Consul or NATS KV) answered its health check.
    pub registry_connected: bool,
    /// Cluster nodes whose readiness is current, this node included.
    pub peers_ready: usize,
    /// Cluster nodes in total.
    pub peers_total: usize,
    /// Ready nodes needed to sign (the threshold).
    pub signers_required: usize,
    /// Successful NATS connects since start (for the reconnect counter; not in `/health`).
    pub nats_connects: u64,
    /// Request consumers receiving messages.
    pub consumers_up: usize,
    /// Request consumers the node should have (0 when not reported).
    pub consumers_expected: usize,
    /// This node holds current ECDSA aux info for the cluster (`None`: not checked).
    pub aux_info_ready: Option<bool>,
}

impl HealthReport {
    /// Every cluster node is ready.
    pub fn all_peers_ready(&self) -> bool {
        self.peers_total > 0 && self.peers_ready >= self.peers_total
    }

    /// Enough nodes are ready to sign.
    pub fn majority_ready(&self) -> bool {
        self.signers_required > 0 && self.peers_ready >= self.signers_required
    }

    /// Every request consumer the node should have is receiving messages.
    pub fn consumers_ready(&self) -> bool {
        self.consumers_up >= self.consumers_expected
    }

    /// The node can serve requests: NATS and registry up, a signing majority ready and every
    /// request consumer up.
    pub fn ready(&self) -> bool {
        self.nats_connected
            && self.registry_connected
            && self.majority_ready()
            && self.consumers_ready()
    }

    /// The `/readyz` JSON body: [`HealthReport::body`] plus what else readiness was decided
    /// from (request consumers) and whether ECDSA aux info is prepared.
    pub fn detailed_body(&self) -> HealthBody {
        let mut body = self.body();
        body.details.consumers_ready =
            Some(format!("{}/{}", self.consumers_up, self.consumers_expected));
        body.details.aux_info_ready = self.aux_info_ready;
        body
    }

    /// The `/health` body, in the reference's shape.
    pub fn body(&self) -> HealthBody {
        let ready = self.ready();
        HealthBody {
            status: if ready { "ready" } else { "not_ready" },
            live: true,
            ready,
            details: HealthDetails {
                nats_connected: self.nats_connected,
                consul_connected: self.registry_connected,
                peers_ready_count: format!("{}/{}", self.peers_ready, self.peers_total),
                all_peers_ready: self.all_peers_ready(),
                majority_ready: self.majority_ready(),
                consumers_ready: None,
                aux_info_ready: None,
            },
        }
    }
}

/// The `/health` JSON body, field for field as the reference writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthBody {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// Always true: the process answers.
    pub live: bool,
    /// Whether the node can serve requests.
    pub ready: bool,
    /// What readiness was decided from.
    pub details: HealthDetails,
}

/// The `details` object of [`HealthBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthDetails {
    /// The NATS connection is up.
    pub nats_connected: bool,
    /// The registry answered (named after Consul, as in the reference, whatever the backend).
    pub consul_connected: bool,
    /// `"<ready>/<total>"` cluster nodes.
    pub peers_ready_count: String,
    /// Every cluster node is ready.
    pub all_peers_ready: bool,
    /// Enough nodes are ready to sign.
    pub majority_ready: bool,
    /// `"<up>/<expected>"` request consumers (`/readyz` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumers_ready: Option<String>,
    /// This node holds ECDSA aux info (`/readyz` only, when checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux_info_ready: Option<bool>,
}

/// Looks at what the node's readiness depends on.
pub trait ProbeHealth: Send + Sync + 'static {
    /// A fresh report. Should answer within [`PROBE_DEADLINE`]; a slower answer is treated as
    /// "not ready" and the future is dropped, so it must be cancel safe.
    fn probe(&self) -> BoxFuture<'_, HealthReport>;
}

/// The running node's probes: its NATS client and its registry.
#[derive(Debug)]
pub struct NodeProbes {
    client: async_nats::Client,
    registry: Arc<AnyRegistry>,
    ready: ReadyView,
    node_ids: Vec<String>,
    signers_required: usize,
    consumers: Option<Arc<ConsumerHealth>>,
    store: Option<Store>,
}

impl NodeProbes {
    /// Probes for the node described by `ctx`, connected through `client`, whose request
    /// consumers report to `consumers`.
    pub fn new(
        ctx: &NodeContext,
        client: async_nats::Client,
        consumers: Arc<ConsumerHealth>,
    ) -> Self {
        let mut probes = Self::from_parts(
            client,
            ctx.registry.clone(),
            ctx.ready.clone(),
            ctx.node_ids.clone(),
            ctx.threshold,
        );
        probes.consumers = Some(consumers);
        probes.store = Some(ctx.store.clone());
        probes
    }

    /// Probes over explicit parts: the registry, its readiness view, the cluster's node ids and
    /// its signing threshold.
    pub fn from_parts(
        client: async_nats::Client,
        registry: Arc<AnyRegistry>,
        ready: ReadyView,
        node_ids: Vec<String>,
        threshold: Threshold,
    ) -> Self {
        Self {
            client,
            registry,
            ready,
            node_ids,
            signers_required: usize::from(threshold.signers()),
            consumers: None,
            store: None,
        }
    }
}

impl ProbeHealth for NodeProbes {
    fn probe(&self) -> BoxFuture<'_, HealthReport> {
        Box::pin(async move {
            let registry = async {
                matches!(
                    tokio::time::timeout(CHECK_DEADLINE, self.registry.healthy()).await,
                    Ok(Ok(()))
                )
            };
            let peers_ready = match self.ready.ready_nodes() {
                Ok(ready) => self.node_ids.iter().filter(|n| ready.contains(*n)).count(),
                Err(_) => 0,
            };
            let aux = async {
                let store = self.store.clone()?;
                let node_ids = self.node_ids.clone();
                let read = crate::context::store_io(&store, move |s| {
                    crate::ops::aux::current_run(s, &node_ids)
                });
                Some(matches!(
                    tokio::time::timeout(CHECK_DEADLINE, read).await,
                    Ok(Ok(Some(_)))
                ))
            };
            let (registry_reachable, aux_info_ready) = tokio::join!(registry, aux);
            let registry_connected = registry_reachable && self.ready.is_live();
            let (consumers_up, consumers_expected) =
                self.consumers.as_ref().map_or((0, 0), |c| c.counts());
            HealthReport {
                nats_connected: self.client.connection_state() == State::Connected,
                registry_connected,
                peers_ready,
                peers_total: self.node_ids.len(),
                signers_required: self.signers_required,
                nats_connects: self
                    .client
                    .statistics()
                    .connects
                    .load(std::sync::atomic::Ordering::Relaxed),
                consumers_up,
                consumers_expected,
                aux_info_ready,
            }
        })
    }
}

/// How often [`log_changes`] looks at readiness.
const LOG_EVERY: Duration = Duration::from_secs(2);

/// Logs what the node is ready for each time it changes (the facts `/readyz` reports): peers
/// registered, request consumers up, ECDSA aux info, and so whether it serves signing and
/// keygen. Runs until aborted.
pub async fn log_changes(probes: Arc<dyn ProbeHealth>) {
    let mut last = None;
    loop {
        let report = observe(probes.as_ref()).await;
        let facts = (
            report.ready(),
            report.peers_ready,
            report.consumers_up,
            report.consumers_expected,
            report.aux_info_ready,
        );
        if last != Some(facts) {
            let serves = match (report.ready(), report.aux_info_ready) {
                (false, _) => "nothing yet",
                (true, Some(true)) => "signing and keygen",
                (true, _) => "signing (keygen waits for aux info)",
            };
            tracing::info!(
                ready = report.ready(),
                peers_ready = %format!("{}/{}", report.peers_ready, report.peers_total),
                signers_required = report.signers_required,
                consumers_up = %format!("{}/{}", report.consumers_up, report.consumers_expected),
                aux_info_ready = report.aux_info_ready.unwrap_or(false),
                serves,
                "readiness changed"
            );
            last = Some(facts);
        }
        tokio::time::sleep(LOG_EVERY).await;
    }
}

/// Binds `address` and serves the operations endpoints on it; `/metrics` only when `metrics`
/// is given. Binding happens before this returns, so a bad address fails start-up. Returns the
/// server task (abort it on shutdown; that also closes open connections) and the bound address.
pub async fn serve(
    address: SocketAddr,
    probes: Arc<dyn ProbeHealth>,
    metrics: Option<PrometheusHandle>,
) -> Result<(JoinHandle<()>, SocketAddr), io::Error> {
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let app = router(probes, metrics);
    tracing::info!(address = %bound, "health server listening");
    Ok((tokio::spawn(accept_loop(listener, app)), bound))
}

#[derive(Clone)]
struct AppState {
    probes: Arc<dyn ProbeHealth>,
    metrics: Option<PrometheusHandle>,
}

fn router(probes: Arc<dyn ProbeHealth>, metrics: Option<PrometheusHandle>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/readyz", get(readyz))
        .route("/healthz", get(live))
        .route("/metrics", get(render_metrics))
        .with_state(AppState { probes, metrics })
}

/// Accepts until the task is aborted; connections live in a set owned by this task, so
/// aborting it closes them too.
async fn accept_loop(listener: TcpListener, app: Router) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, app.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "health server cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(stream: TcpStream, app: Router) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HTTP_TIMEOUT);
    let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    match tokio::time::timeout(CONNECTION_LIFETIME, connection).await {
        Ok(Ok(())) | Err(_) => {}
        Ok(Err(error)) => tracing::debug!(%error, "health connection ended with an error"),
    }
}

/// Probes under [`PROBE_DEADLINE`] and keeps the readiness gauges current.
async fn observe(probes: &dyn ProbeHealth) -> HealthReport {
    let report = tokio::time::timeout(PROBE_DEADLINE, probes.probe())
        .await
        .unwrap_or_default();
    metrics::set_readiness(report.ready(), report.peers_ready, report.peers_total);
    metrics::set_nats_connects(report.nats_connects);
    report
}

/// 200 when the node is ready, else 503.
fn status_of(report: &HealthReport) -> StatusCode {
    if report.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn health(AxumState(state): AxumState<AppState>) -> Response {
    let report = observe(state.probes.as_ref()).await;
    (status_of(&report), Json(report.body())).into_response()
}

async fn readyz(AxumState(state): AxumState<AppState>) -> Response {
    let report = observe(state.probes.as_ref()).await;
    (status_of(&report), Json(report.detailed_body())).into_response()
}

async fn live() -> Response {
    (StatusCode::OK, Json(serde_json::json!({ "live": true }))).into_response()
}

async fn render_metrics(AxumState(state): AxumState<AppState>) -> Response {
    let Some(handle) = &state.metrics else {
        return StatusCode::NOT_FOUND.into_response();
    };
    observe(state.probes.as_ref()).await;
    metrics::refresh_backup_age(SystemTime::now());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(nats: bool, registry: bool, ready: usize) -> HealthReport {
        HealthReport {
            nats_connected: nats,
            registry_connected: registry,
            peers_ready: ready,
            peers_total: 3,
            signers_required: 2,
            nats_connects: 1,
            ..Default::default()
        }
    }

    #[test]
    fn a_node_with_a_signing_majority_and_its_backends_up_is_ready() {
        let body = report(true, true, 2).body();
        assert_eq!(body.status, "ready");
        assert!(body.ready && body.live);
        assert_eq!(body.details.peers_ready_count, "2/3");
        assert!(body.details.majority_ready);
        assert!(!body.details.all_peers_ready);
    }

    #[test]
    fn a_node_is_not_ready_without_nats_the_registry_or_a_majority() {
        for r in [
            report(false, true, 3),
            report(true, false, 3),
            report(true, true, 1),
            HealthReport {
                consumers_up: 3,
                consumers_expected: 4,
                ..report(true, true, 3)
            },
        ] {
            let body = r.body();
            assert_eq!(body.status, "not_ready", "{r:?}");
            assert!(!body.ready && body.live);
        }
    }

    #[test]
    fn readyz_also_names_the_consumers_and_aux_info() {
        let r = HealthReport {
            consumers_up: 3,
            consumers_expected: 4,
            aux_info_ready: Some(false),
            ..report(true, true, 3)
        };
        assert_eq!(r.body().details.consumers_ready, None);
        let details = r.detailed_body().details;
        assert_eq!(details.consumers_ready.as_deref(), Some("3/4"));
        assert_eq!(details.aux_info_ready, Some(false));
    }

    #[test]
    fn the_default_report_is_not_ready() {
        assert!(!HealthReport::default().ready());
        assert!(!HealthReport::default().all_peers_ready());
    }
}
