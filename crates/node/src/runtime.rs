//! `mpcium start`: brings a node up from its checked inputs in named stages, serves until
//! shutdown, and drains.
//!
//! Order matters: the node subscribes to its transport subject, then at once replaces any mark a
//! previous process of this node left with a starting mark in its own incarnation (peers' sessions
//! with that process fail over now, not at their deadline), switches to any reshare decided
//! while it was away (`ops::reshare::catch_up`), and only then declares itself ready,
//! so no peer ever sends into the void; it declares itself ready before it consumes requests;
//! on shutdown it stops consuming, lets in-flight sessions finish (bounded), clears its ready
//! flag and drains its NATS connection. Every task it spawns is owned by one of two trackers —
//! request and session work (waited for on shutdown) and background duties (cancelled) — so
//! nothing outlives [`run`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use mpcium_protocol::subjects;
use mpcium_state::config::{Config, Environment, NodeInputs, NodeSettings, RegistryKind};
use mpcium_state::connect::{connect_nats, open_registry, redact_url, ConnectError};
use mpcium_state::identity::{NodeIdentity, NodeSigningKey, Peer, Peers};
use mpcium_state::registry::{AnyRegistry, ReadyView, Registry};
use mpcium_state::store::{SecretPassword, Store};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::background::{self, Readiness};
use crate::context::NodeContext;
use crate::ops;
use crate::request::consumer::{self, ConsumerHealth, Source};
use crate::request::streams::{
    ensure_streams, RESHARE_CONSUMER, RESHARE_REQUEST_SUBJECTS, RESHARE_STREAM,
};
use crate::session::control::Operation;
use crate::session::hold::Hold;
use crate::session::liveness::{Liveness, ReadyProbe};
use crate::session::router::{Router, RouterLimits};
use crate::session::start_window::StartWindow;
use crate::session::Sessions;
use crate::transport::bus::Bus;
use crate::transport::keys::{KeyRing, LocalKeys};

/// Queue group of the core-NATS request subscriptions (one node takes each request).
const CORE_QUEUE_GROUP: &str = "mpcium";
/// How long shutdown waits for in-flight sessions.
const DRAIN_FOR: Duration = Duration::from_secs(30);

/// Why the node stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// NATS or the registry could not be reached (credentials are never part of the message).
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The local store could not be opened.
    #[error("cannot open the local store: {0}")]
    Store(String),
    /// The registry could not be set up or disagrees with peers.json.
    #[error("registry: {0}")]
    Registry(String),
    /// Another start-up step failed.
    #[error("{0}")]
    Startup(String),
}

/// The two owners of everything a running node spawns.
struct Tasks {
    /// Request and session work: shutdown waits for it (bounded by [`DRAIN_FOR`]).
    work: TaskTracker,
    /// Background duties: cancelled on shutdown.
    background: TaskTracker,
    /// Cancels the background duties.
    stop_background: CancellationToken,
    /// Cancels what serves the cluster: request consumers, the readiness heartbeat, aux-info
    /// upkeep.
    stop_serving: CancellationToken,
}

impl Tasks {
    fn new() -> Self {
        Self {
            work: TaskTracker::new(),
            background: TaskTracker::new(),
            stop_background: CancellationToken::new(),
            stop_serving: CancellationToken::new(),
        }
    }

    /// Runs `fut` as a background duty until shutdown.
    fn background(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.background
            .spawn(cancel_on(self.stop_background.clone(), fut));
    }

    /// Runs `fut` until the node stops serving (the start of shutdown).
    fn serving(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.background
            .spawn(cancel_on(self.stop_serving.clone(), fut));
    }
}

/// Runs a node until `shutdown` is cancelled.
pub async fn run(inputs: NodeInputs, shutdown: CancellationToken) -> Result<(), RuntimeError> {
    let NodeInputs {
        config,
        settings,
        peers,
        me,
        signing_key,
        identities,
        ..
    } = inputs;
    let metrics_handle =
        crate::metrics::install().map_err(|e| RuntimeError::Startup(e.to_string()))?;
    let readiness = Readiness::from_env(settings.environment == Environment::Production)
        .map_err(RuntimeError::Startup)?;
    let tasks = Tasks::new();

    let store = start_store(&config, &me).await?;
    let client = connect_nats(&config).await?;
    tracing::info!(url = %redact_url(&config.nats.url), "Connected to NATS");
    let registry = start_registry(&config, &client, &peers).await?;

    let (ctx, inbound, bus_task) = start_transport(
        &config,
        &settings,
        &peers,
        &me,
        &signing_key,
        &identities,
        &client,
        store.clone(),
        registry.clone(),
        readiness,
    )
    .await?;
    // Subscribed: say at once that this is a new process (not ready yet; see `session::liveness`).
    registry
        .set_starting(&ctx.me, background::READY_TTL)
        .await
        .map_err(|e| RuntimeError::Registry(e.to_string()))?;
    let js = jetstream::new(client.clone());
    ensure_streams(&js)
        .await
        .map_err(|e| RuntimeError::Startup(e.to_string()))?;
    tasks.background(crate::inbound::route(
        ctx.clone(),
        inbound,
        tasks.work.clone(),
        settings.max_concurrent_sessions,
    ));

    start_background(&config, &me, &ctx, &tasks, &metrics_handle)?;
    let consumers = Arc::new(ConsumerHealth::default());
    let health_server = start_health(&config, &ctx, &client, &consumers, &metrics_handle).await?;

    // Switch to reshares decided while this node was away before it signs anything.
    let mut undecided = ops::reshare::catch_up::FirstSeen::new();
    match ops::reshare::catch_up::pass(&ctx, &mut undecided).await {
        Ok(0) => {}
        Ok(switched) => tracing::info!(
            switched,
            "caught up with reshares decided while this node was away"
        ),
        Err(error) => {
            tracing::warn!(%error, "cannot catch up with decided reshares yet; trying again every few seconds")
        }
    }
    ctx.start_window.wait_past_floor().await;
    registry
        .set_ready(&ctx.me, readiness.ttl)
        .await
        .map_err(|e| RuntimeError::Registry(e.to_string()))?;
    tracing::info!(
        node = %me.name,
        node_id = %me.id,
        incarnation = %registry.incarnation(),
        "[READY] Node is ready"
    );
    tasks.serving(background::heartbeat(ctx.clone(), readiness));
    tasks.serving(ops::aux::maintain(ctx.clone()));
    tasks.serving(ops::presign::refill::run(ctx.clone()));
    tasks.serving(ops::import::maintain(ctx.clone()));
    tasks.serving(ops::reshare::catch_up::run(ctx.clone()));

    start_consumers(&ctx, &settings, &client, &js, &consumers, &tasks);
    // What the node is ready for, logged as it changes (the facts `/readyz` reports).
    let probes = crate::health::NodeProbes::new(&ctx, client.clone(), consumers.clone());
    tasks.serving(crate::health::log_changes(Arc::new(probes)));

    shutdown.cancelled().await;
    drain(&ctx, tasks, health_server, bus_task, &client).await;
    Ok(())
}

/// Opens this node's encrypted store (Argon2id runs on the blocking pool).
async fn start_store(config: &Config, me: &Peer) -> Result<Store, RuntimeError> {
    let password = config
        .badger_password
        .as_ref()
        .map(|p| SecretPassword::new(p.expose().to_owned()))
        .ok_or_else(|| RuntimeError::Store("badger_password is not set".into()))?;
    let db_path = config.db_path.join(&me.name);
    let store = tokio::task::spawn_blocking(move || Store::open(&db_path, &password))
        .await
        .map_err(|_| RuntimeError::Store("store open panicked".into()))?
        .map_err(|e| RuntimeError::Store(e.to_string()))?;
    tracing::info!(path = %store.path().display(), "Connected to badger kv store (redb, encrypted)");
    Ok(store)
}

/// Opens the registry and registers (or checks) every peer of peers.json in it.
async fn start_registry(
    config: &Config,
    client: &async_nats::Client,
    peers: &Peers,
) -> Result<Arc<AnyRegistry>, RuntimeError> {
    let registry = Arc::new(open_registry(config, Some(client)).await?);
    let (backend, name) = match config.registry {
        RegistryKind::Consul => ("consul", "Consul"),
        RegistryKind::Nats => ("nats", "NATS KV"),
    };
    // Spelled as the deployment guide's troubleshooting section quotes it.
    let registered = registry
        .peers()
        .await
        .map_err(|e| RuntimeError::Registry(format!("Failed to load peers from {name}: {e}")))?;
    for peer in peers.iter() {
        match registered.iter().find(|(name, _)| *name == peer.name) {
            Some((_, id)) if *id == peer.id => {}
            Some((_, id)) => {
                return Err(RuntimeError::Registry(format!(
                    "peer {} is registered with id {id} but peers.json says {}; fix the registry or peers.json",
                    peer.name, peer.id
                )))
            }
            None => {
                registry
                    .register_peer(&peer.name, &peer.id)
                    .await
                    .map_err(|e| RuntimeError::Registry(e.to_string()))?;
            }
        }
    }
    tracing::info!(count = peers.len(), "Loaded peers from {backend}");
    Ok(registry)
}

/// Derives the pairwise transport keys, subscribes to this node's subject and builds the node
/// context around the resulting sessions handle.
#[allow(clippy::too_many_arguments)]
async fn start_transport(
    config: &Config,
    settings: &NodeSettings,
    peers: &Peers,
    me: &Peer,
    signing_key: &NodeSigningKey,
    identities: &[NodeIdentity],
    client: &async_nats::Client,
    store: Store,
    registry: Arc<AnyRegistry>,
    readiness: Readiness,
) -> Result<
    (
        Arc<NodeContext>,
        crate::transport::bus::Inbound,
        tokio::task::JoinHandle<()>,
    ),
    RuntimeError,
> {
    let mut peer_keys = Vec::with_capacity(identities.len());
    for identity in identities {
        let key = identity.verifying_key().map_err(|e| {
            RuntimeError::Startup(format!("identity of {}: {e}", identity.node_name))
        })?;
        peer_keys.push((identity.node_id.clone(), key));
    }
    let keys = KeyRing::new(
        LocalKeys::new(me.id.clone(), signing_key.signing_key().clone()),
        peer_keys,
    )
    .map_err(|e| RuntimeError::Startup(e.to_string()))?;
    let (bus, inbound, bus_task) = Bus::start(client.clone(), Arc::new(keys))
        .await
        .map_err(|e| RuntimeError::Startup(e.to_string()))?;

    // Runs until the process ends; requests and sessions read readiness from it.
    let ready = ReadyView::start(&registry, readiness.ttl);
    let mut node_ids: Vec<String> = peers.iter().map(|p| p.id.clone()).collect();
    node_ids.sort();
    let start_window = StartWindow::open(&store)
        .await
        .map_err(|e| RuntimeError::Store(e.to_string()))?;
    let ctx = Arc::new(NodeContext {
        me: me.id.clone(),
        node_ids,
        sessions: Sessions::new(
            bus,
            Router::new(RouterLimits {
                active_sessions: settings.max_concurrent_sessions,
                pending_bytes_total: settings.max_early_message_bytes,
                finished_sessions: settings.max_remembered_sessions,
                ..RouterLimits::default()
            }),
            readiness_watch(ready.clone()),
        )
        .with_hold(
            Hold::from_env(settings.environment == Environment::Production)
                .map_err(RuntimeError::Startup)?,
        ),
        start_window,
        store,
        ready,
        registry,
        initiator: settings.initiator_key.clone(),
        authorizers: settings.authorizers.clone(),
        threshold: settings.threshold,
        chain_code: settings.chain_code,
        deadlines: settings.deadlines,
        require_extended_requests: settings.require_extended_requests,
        share_wipe_grace: Duration::from_secs(config.reshare_grace_seconds.max(0).unsigned_abs()),
        result_cache_ttl: settings.result_cache_ttl,
        presign: Arc::new(ops::presign::Pools::new(settings.presignatures.clone())),
        awaited_primes: Default::default(),
    });
    Ok((ctx, inbound, bus_task))
}

/// Sessions' watch on peers' readiness and incarnations, over the node's standing view (never a
/// registry read).
fn readiness_watch(view: ReadyView) -> Liveness {
    let probe: ReadyProbe = Arc::new(move || view.readiness().ok());
    Liveness::new(probe, Liveness::DEFAULT_EVERY)
}

/// Starts the background duties: metrics upkeep, share wipes, backups, safe primes.
fn start_background(
    config: &Config,
    me: &Peer,
    ctx: &Arc<NodeContext>,
    tasks: &Tasks,
    metrics: &metrics_exporter_prometheus::PrometheusHandle,
) -> Result<(), RuntimeError> {
    tasks.background(crate::metrics::upkeep(metrics.clone()));
    tasks.background(ops::reshare::wipe::run(
        ctx.store.clone(),
        ctx.share_wipe_grace,
    ));
    if let Some(backup_settings) =
        mpcium_state::backup::BackupSettings::from_config(config, &me.name)
            .map_err(|e| RuntimeError::Startup(e.to_string()))?
    {
        tasks.background(background::run_periodic(
            ctx.store.clone(),
            backup_settings,
            tasks.stop_background.clone(),
        ));
    }
    tasks.background(ops::aux::ensure_awaited_primes(
        ctx.store.clone(),
        ctx.awaited_primes.clone(),
    ));
    tasks.background(ctx.start_window.clone().keep_ahead());
    tasks.background(crate::results::sweep_consul(ctx.registry.clone()));
    Ok(())
}

/// Starts the health and metrics listener when enabled; returns its task.
async fn start_health(
    config: &Config,
    ctx: &NodeContext,
    client: &async_nats::Client,
    consumers: &Arc<ConsumerHealth>,
    metrics: &metrics_exporter_prometheus::PrometheusHandle,
) -> Result<Option<tokio::task::JoinHandle<()>>, RuntimeError> {
    if !config.healthcheck.enabled {
        return Ok(None);
    }
    let address: std::net::SocketAddr = config.healthcheck.address.parse().map_err(|e| {
        RuntimeError::Startup(format!(
            "healthcheck.address {:?} is not ip:port: {e}",
            config.healthcheck.address
        ))
    })?;
    let probes = Arc::new(crate::health::NodeProbes::new(
        ctx,
        client.clone(),
        consumers.clone(),
    ));
    let (task, bound) = crate::health::serve(address, probes, Some(metrics.clone()))
        .await
        .map_err(|e| {
            RuntimeError::Startup(format!(
                "cannot listen on healthcheck.address {address}: {e}"
            ))
        })?;
    tracing::info!(address = %bound, "health and metrics server listening (/health, /healthz, /readyz, /metrics)");
    Ok(Some(task))
}

/// Starts the supervised request consumers and the core-NATS reshare subscription.
fn start_consumers(
    ctx: &Arc<NodeContext>,
    settings: &NodeSettings,
    client: &async_nats::Client,
    js: &jetstream::Context,
    consumers: &Arc<ConsumerHealth>,
    tasks: &Tasks,
) {
    tracing::info!("Starting consumers");
    for source in [
        Source {
            op: Operation::Keygen,
            stream: subjects::KEYGEN_STREAM,
            subjects: subjects::KEYGEN_REQUEST_SUBJECTS,
            durable: subjects::KEYGEN_CONSUMER,
            limit: settings.max_concurrent_keygen,
        },
        Source {
            op: Operation::Sign,
            stream: subjects::SIGNING_STREAM,
            subjects: subjects::SIGNING_REQUEST_SUBJECTS,
            durable: subjects::SIGNING_CONSUMER,
            limit: settings.max_concurrent_signing,
        },
        Source {
            op: Operation::Reshare,
            stream: RESHARE_STREAM,
            subjects: RESHARE_REQUEST_SUBJECTS,
            durable: RESHARE_CONSUMER,
            limit: settings.max_concurrent_keygen,
        },
    ] {
        consumers.expect(source.durable);
        tasks.serving(consumer::supervise(
            ctx.clone(),
            js.clone(),
            source,
            consumers.clone(),
            tasks.work.clone(),
        ));
    }
    // The reference's core-NATS resharing subject: one node of the queue group takes each.
    consumers.expect(consumer::CORE_RESHARE);
    tasks.serving(consumer::supervise_core(
        ctx.clone(),
        client.clone(),
        js.clone(),
        subjects::RESHARE_SUBJECT,
        CORE_QUEUE_GROUP,
        settings.max_concurrent_keygen,
        consumers.clone(),
        tasks.work.clone(),
    ));
}

/// Stops consuming, waits (bounded) for in-flight work, stops everything else, clears readiness
/// and drains the NATS connection.
async fn drain(
    ctx: &NodeContext,
    tasks: Tasks,
    health_server: Option<tokio::task::JoinHandle<()>>,
    bus_task: tokio::task::JoinHandle<()>,
    client: &async_nats::Client,
) {
    tracing::info!("shutting down: no new requests; waiting for in-flight sessions");
    tasks.stop_serving.cancel();
    tasks.work.close();
    if tokio::time::timeout(DRAIN_FOR, tasks.work.wait())
        .await
        .is_err()
    {
        tracing::warn!("in-flight sessions did not finish within {DRAIN_FOR:?}; stopping anyway");
    }
    tasks.stop_background.cancel();
    tasks.background.close();
    tasks.background.wait().await;
    if let Err(error) = ctx.registry.clear_ready(&ctx.me).await {
        tracing::warn!(%error, "cannot clear readiness");
    }
    if let Some(task) = health_server {
        task.abort();
    }
    bus_task.abort();
    if let Err(error) = client.drain().await {
        tracing::warn!(%error, "cannot drain the NATS connection");
    }
    tracing::info!("stopped");
}

async fn cancel_on(token: CancellationToken, fut: impl Future<Output = ()>) {
    tokio::select! {
        _ = token.cancelled() => {}
        _ = fut => {}
    }
}
