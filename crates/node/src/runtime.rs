//! `mpcium start`: brings a node up from its checked inputs, serves until shutdown, and drains.
//!
//! Order matters: the node subscribes to its transport subject before it declares itself ready,
//! so no peer ever sends into the void; it declares itself ready before it consumes requests;
//! on shutdown it stops consuming, lets in-flight sessions finish (bounded), clears its ready
//! flag and drains its NATS connection.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use mpcium_protocol::subjects;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::aux;
use crate::config::{NodeInputs, RegistryKind};
use crate::context::{Deadlines, NodeContext};
use crate::control::Operation;
use crate::coordinator;
use crate::jetstream::{
    ensure_streams, request_consumer, RESHARE_CONSUMER, RESHARE_REQUEST_SUBJECTS, RESHARE_STREAM,
};
use crate::participant;
use crate::registry::{
    AnyRegistry, ConsulRegistry, ConsulSettings, NatsKvRegistry, NatsKvSettings, Registry,
};
use crate::session::router::{Router, RouterLimits};
use crate::store::{SecretPassword, Store};
use crate::transport::bus::Bus;
use crate::transport::keys::{KeyRing, LocalKeys};

/// How long a readiness mark lives without a heartbeat.
const READY_TTL: Duration = Duration::from_secs(15);
/// How often the readiness mark is renewed.
const READY_EVERY: Duration = Duration::from_secs(5);
/// Queue group of the core-NATS request subscriptions (one node takes each request).
const CORE_QUEUE_GROUP: &str = "mpcium";
/// How long shutdown waits for in-flight sessions.
const DRAIN_FOR: Duration = Duration::from_secs(30);

/// Why the node stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// NATS could not be reached.
    #[error("Failed to connect to NATS at {url}: {reason}")]
    Nats {
        /// The configured URL.
        url: String,
        /// Cause.
        reason: String,
    },
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

    let password = config
        .badger_password
        .as_ref()
        .map(|p| SecretPassword::new(p.expose().to_owned()))
        .ok_or_else(|| RuntimeError::Store("badger_password is not set".into()))?;
    let db_path = config.db_path.join(&me.name);
    let store = Arc::new(
        tokio::task::spawn_blocking(move || Store::open(&db_path, &password))
            .await
            .map_err(|_| RuntimeError::Store("store open panicked".into()))?
            .map_err(|e| RuntimeError::Store(e.to_string()))?,
    );
    tracing::info!(path = %store.path().display(), "Connected to badger kv store (redb, encrypted)");

    let client = connect_nats(&config).await?;
    tracing::info!(url = %redact_url(&config.nats.url), "Connected to NATS");

    let registry = Arc::new(open_registry(&config, Some(&client)).await?);
    let backend = match config.registry {
        RegistryKind::Consul => "consul",
        RegistryKind::Nats => "nats",
    };
    let registered = registry.peers().await.map_err(|e| {
        // Spelled as the deployment guide's troubleshooting section quotes it.
        let name = if backend == "consul" {
            "Consul"
        } else {
            "NATS KV"
        };
        RuntimeError::Registry(format!("Failed to load peers from {name}: {e}"))
    })?;
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

    let mut peer_keys = Vec::with_capacity(identities.len());
    for identity in &identities {
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

    let router = Router::new(RouterLimits::default());
    let (start_tx, mut start_rx) = mpsc::channel(256);
    let (bus, bus_task) = Bus::start(client.clone(), Arc::new(keys), router.clone(), start_tx)
        .await
        .map_err(|e| RuntimeError::Startup(e.to_string()))?;
    let js = jetstream::new(client.clone());
    ensure_streams(&js)
        .await
        .map_err(|e| RuntimeError::Startup(e.to_string()))?;

    let mut node_ids: Vec<String> = peers.iter().map(|p| p.id.clone()).collect();
    node_ids.sort();
    let ctx = Arc::new(NodeContext {
        me: me.id.clone(),
        node_ids,
        bus,
        router,
        store: store.clone(),
        registry: registry.clone(),
        initiator: settings.initiator_key.clone(),
        authorizers: settings.authorizers.clone(),
        threshold: settings.threshold,
        chain_code: settings.chain_code,
        deadlines: Deadlines::default(),
        require_extended_requests: settings.require_extended_requests,
        share_wipe_grace: Duration::from_secs(config.reshare_grace_seconds.max(0).unsigned_abs()),
    });

    let tasks = TaskTracker::new();
    let background = CancellationToken::new();
    tasks.spawn(cancel_on(
        background.clone(),
        crate::metrics::upkeep(metrics_handle.clone()),
    ));
    tasks.spawn(cancel_on(
        background.clone(),
        crate::reshare::wipe::run(Store::clone(&store), ctx.share_wipe_grace),
    ));
    if let Some(backup_settings) = crate::backup::BackupSettings::from_config(&config, &me.name)
        .map_err(|e| RuntimeError::Startup(e.to_string()))?
    {
        tasks.spawn(crate::backup::run_periodic(
            Store::clone(&store),
            backup_settings,
            background.clone(),
        ));
    }
    let health_server = if config.healthcheck.enabled {
        let address: std::net::SocketAddr = config.healthcheck.address.parse().map_err(|e| {
            RuntimeError::Startup(format!(
                "healthcheck.address {:?} is not ip:port: {e}",
                config.healthcheck.address
            ))
        })?;
        let probes = Arc::new(crate::health::NodeProbes::new(&ctx, client.clone()));
        let (task, bound) = crate::health::serve(address, probes, Some(metrics_handle.clone()))
            .await
            .map_err(|e| {
                RuntimeError::Startup(format!(
                    "cannot listen on healthcheck.address {address}: {e}"
                ))
            })?;
        tracing::info!(address = %bound, "health and metrics server listening (/health, /healthz, /readyz, /metrics)");
        Some(task)
    } else {
        None
    };
    tasks.spawn(cancel_on(
        background.clone(),
        aux::ensure_primes_logged(store.clone()),
    ));
    let session_ctx = ctx.clone();
    let sessions = tasks.clone();
    let start_loop = tokio::spawn(async move {
        while let Some(opened) = start_rx.recv().await {
            sessions.spawn(participant::handle_start(session_ctx.clone(), opened));
        }
    });

    registry
        .set_ready(&ctx.me, READY_TTL)
        .await
        .map_err(|e| RuntimeError::Registry(e.to_string()))?;
    tracing::info!(node = %me.name, node_id = %me.id, "[READY] Node is ready");
    tasks.spawn(cancel_on(background.clone(), heartbeat(ctx.clone())));
    tasks.spawn(cancel_on(background.clone(), aux::maintain(ctx.clone())));

    tracing::info!("Starting consumers");
    let consumers = CancellationToken::new();
    for (op, stream, durable, filter, limit) in [
        (
            Operation::Keygen,
            subjects::KEYGEN_STREAM,
            subjects::KEYGEN_CONSUMER,
            subjects::KEYGEN_REQUEST_SUBJECTS,
            settings.max_concurrent_keygen,
        ),
        (
            Operation::Sign,
            subjects::SIGNING_STREAM,
            subjects::SIGNING_CONSUMER,
            subjects::SIGNING_REQUEST_SUBJECTS,
            settings.max_concurrent_signing,
        ),
        (
            Operation::Reshare,
            RESHARE_STREAM,
            RESHARE_CONSUMER,
            RESHARE_REQUEST_SUBJECTS,
            settings.max_concurrent_keygen,
        ),
    ] {
        let consumer = request_consumer(&js, stream, durable, filter, limit)
            .await
            .map_err(|e| RuntimeError::Startup(e.to_string()))?;
        let serve = coordinator::serve(ctx.clone(), js.clone(), consumer, op, limit, tasks.clone());
        tokio::spawn(cancel_on(consumers.clone(), serve));
    }
    // The reference's core-NATS resharing subject: one node of the queue group takes each.
    let core_reshare = client
        .queue_subscribe(subjects::RESHARE_SUBJECT, CORE_QUEUE_GROUP.to_owned())
        .await
        .map_err(|e| {
            RuntimeError::Startup(format!(
                "cannot subscribe to {}: {e}",
                subjects::RESHARE_SUBJECT
            ))
        })?;
    let serve = coordinator::serve_core(
        ctx.clone(),
        js.clone(),
        core_reshare,
        Operation::Reshare,
        settings.max_concurrent_keygen,
        tasks.clone(),
    );
    tokio::spawn(cancel_on(consumers.clone(), serve));

    shutdown.cancelled().await;
    tracing::info!("shutting down: no new requests; waiting for in-flight sessions");
    consumers.cancel();
    start_loop.abort();
    background.cancel();
    tasks.close();
    if tokio::time::timeout(DRAIN_FOR, tasks.wait()).await.is_err() {
        tracing::warn!("in-flight sessions did not finish within {DRAIN_FOR:?}; stopping anyway");
    }
    if let Err(error) = registry.clear_ready(&ctx.me).await {
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
    Ok(())
}

async fn cancel_on(token: CancellationToken, fut: impl std::future::Future<Output = ()>) {
    tokio::select! {
        _ = token.cancelled() => {}
        _ = fut => {}
    }
}

async fn heartbeat(ctx: Arc<NodeContext>) {
    loop {
        tokio::time::sleep(READY_EVERY).await;
        if let Err(error) = ctx.registry.set_ready(&ctx.me, READY_TTL).await {
            tracing::warn!(%error, "cannot renew readiness");
        }
    }
}

/// Connects to NATS as configured (credentials and TLS when set).
pub async fn connect_nats(
    config: &crate::config::Config,
) -> Result<async_nats::Client, RuntimeError> {
    let nats = &config.nats;
    let mut options = async_nats::ConnectOptions::new()
        .name("mpcium")
        .connection_timeout(Duration::from_secs(5))
        .ping_interval(Duration::from_secs(20))
        .max_reconnects(None)
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Disconnected => {
                    tracing::warn!("NATS disconnected; reconnecting")
                }
                async_nats::Event::Connected => tracing::info!("NATS connected"),
                other => tracing::debug!(event = %other, "NATS event"),
            }
        });
    if let (Some(user), Some(password)) = (&nats.username, &nats.password) {
        options = options.user_and_password(user.clone(), password.expose().to_owned());
    }
    if let Some(tls) = &nats.tls {
        if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if let Some(ca) = &tls.ca_cert {
            options = options.add_root_certificates(ca.clone());
        }
        options = options.require_tls(true);
    }
    options
        .connect(nats.url.as_str())
        .await
        .map_err(|e| RuntimeError::Nats {
            url: nats.url.clone(),
            reason: e.to_string(),
        })
}

/// Opens the configured registry backend; the NATS backend needs a connected `client`.
pub async fn open_registry(
    config: &crate::config::Config,
    client: Option<&async_nats::Client>,
) -> Result<AnyRegistry, RuntimeError> {
    match config.registry {
        RegistryKind::Consul => {
            let consul = &config.consul;
            let mut settings = ConsulSettings::new(consul.address.clone());
            settings.token = consul.token.as_ref().map(|t| t.expose().to_owned().into());
            settings.username = consul.username.clone();
            settings.password = consul
                .password
                .as_ref()
                .map(|p| p.expose().to_owned().into());
            ConsulRegistry::new(settings)
                .map(AnyRegistry::Consul)
                .map_err(|e| {
                    RuntimeError::Registry(format!("Failed to load peers from Consul: {e}"))
                })
        }
        RegistryKind::Nats => {
            let client = client.ok_or_else(|| {
                RuntimeError::Registry("the nats registry needs a NATS connection".into())
            })?;
            NatsKvRegistry::open(client.clone(), &NatsKvSettings::default())
                .await
                .map(AnyRegistry::Nats)
                .map_err(|e| RuntimeError::Registry(e.to_string()))
        }
    }
}

/// `url` with any `user:password@` part replaced, for logs and errors.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://<redacted>@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_nats_url_never_reach_the_logs() {
        assert_eq!(
            redact_url("nats://user:s3cret@nats:4222"),
            "nats://<redacted>@nats:4222"
        );
        assert_eq!(redact_url("nats://nats:4222"), "nats://nats:4222");
    }
}
