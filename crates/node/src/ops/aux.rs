//! ECDSA preparation: safe primes and aux info.
//!
//! Every node needs one set of four 1536-bit safe primes per aux-info run (tens of seconds of
//! CPU); [`ensure_primes`] generates them in the background, logs progress and keeps them sealed
//! in the store: at start-up, and for a run that finds none, at normal priority; to replace what
//! a run used, at idle CPU priority ([`crate::idle_cpu`]). Aux info (Paillier and ring-Pedersen
//! parameters) is produced once per node set by a joint run that the lowest node id of the set coordinates ([`maintain`]) —
//! for the whole cluster at start-up, for a reshare's new committee on demand ([`run_for`]);
//! each run is named by its nonce and stored under it, and a keygen names the run it uses, so
//! nodes can never combine aux info from different runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mpcium_state::store::{Store, StoreError};
use mpcium_tss::ecdsa::{self, AuxInfo, Primes, PrimesJob};
use mpcium_tss::{Participants, ProtocolKind, SessionId};
use sha2::{Digest, Sha256};

use crate::context::{store_io, NodeContext};
use crate::error::{BadRequest, Io, NodeError, NotReady, ProtocolFault};
use crate::idle_cpu;
use crate::session::control::{Operation, Output, Start};
use crate::session::io::{engine_error, participants, run_error, run_protocol, SessionIo};
use crate::session::orchestrate;

const CURRENT_PREFIX: &str = "ecdsa-aux-current/";
const RUN_PREFIX: &str = "ecdsa-aux/";
/// How long a participant waits for its own safe primes before giving up on an aux-info run.
const PRIMES_WAIT: Duration = Duration::from_secs(600);

fn set_digest(node_ids: &[String]) -> String {
    let mut h = Sha256::new();
    for id in node_ids {
        h.update((id.len() as u64).to_be_bytes());
        h.update(id.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

fn run_name(node_ids: &[String], run: &str) -> String {
    format!("{RUN_PREFIX}{}/{run}", set_digest(node_ids))
}

fn current_name(node_ids: &[String]) -> String {
    format!("{CURRENT_PREFIX}{}", set_digest(node_ids))
}

fn storage(error: impl std::fmt::Display) -> NodeError {
    NodeError::io(Io::StorageRead, error.to_string())
}

fn write(error: StoreError) -> NodeError {
    NodeError::io(Io::StorageWrite, error.to_string())
}

fn preparation(reason: impl Into<String>) -> NodeError {
    NodeError::protocol(ProtocolFault::AuxInfo, reason)
}

/// The run id of the aux info this node uses for `node_ids`, if it has one.
pub fn current_run(store: &Store, node_ids: &[String]) -> Result<Option<String>, NodeError> {
    let Some(bytes) = store.aux(&current_name(node_ids)).map_err(storage)? else {
        return Ok(None);
    };
    String::from_utf8(bytes.expose().to_vec())
        .map(Some)
        .map_err(|_| NodeError::io(Io::Corrupt, "aux-info pointer is not text"))
}

/// [`current_run`] from async code (on the blocking pool).
pub async fn stored_run(
    ctx: &NodeContext,
    node_ids: &[String],
) -> Result<Option<String>, NodeError> {
    let node_ids = node_ids.to_vec();
    store_io(&ctx.store, move |s| current_run(s, &node_ids)).await
}

/// How often a request waiting for aux info looks at the store again.
const AUX_POLL: Duration = Duration::from_millis(500);

/// The cluster's aux-info run for keygen, waiting while it is being prepared: a keygen that
/// arrives during preparation is held (its JetStream message is kept in progress by the
/// consumer) until this node stores the run, for at most `aux_info_timeout_seconds`. It fails
/// with `ERROR_CLUSTER_NOT_READY` at once when a node of the cluster is not ready (preparation
/// cannot finish then) and when the wait runs out.
pub async fn wait_for_cluster_run(ctx: &NodeContext) -> Result<String, NodeError> {
    let deadline = tokio::time::Instant::now() + ctx.deadlines.aux_info;
    let mut waiting = false;
    loop {
        let ready = ctx.ready_nodes().await?;
        let missing: Vec<&str> = ctx
            .node_ids
            .iter()
            .filter(|n| !ready.contains(*n))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(NodeError::not_ready(
                NotReady::Cluster,
                format!("keygen needs every node; not ready: {}", missing.join(", ")),
            ));
        }
        if let Some(run) = stored_run(ctx, &ctx.node_ids).await? {
            if waiting {
                tracing::info!("ECDSA aux info is ready: the waiting keygen runs now");
            }
            return Ok(run);
        }
        if !waiting {
            tracing::info!(
                wait_at_most_s = ctx.deadlines.aux_info.as_secs(),
                "keygen waits: ECDSA aux info is still being prepared"
            );
            waiting = true;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(NodeError::not_ready(
                NotReady::Cluster,
                format!(
                    "ECDSA aux info was not ready within {} s; retry later",
                    ctx.deadlines.aux_info.as_secs()
                ),
            ));
        }
        tokio::time::sleep(AUX_POLL).await;
    }
}

/// [`load`] for a participant that may get a start naming run `run` a moment before it has
/// stored that run itself (the coordinator's own part of the aux-info run finished first):
/// waits for it until `within` has passed.
pub async fn load_waiting(
    ctx: &NodeContext,
    parts: &Participants,
    run: &str,
    within: Duration,
) -> Result<Option<AuxInfo>, NodeError> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (set, named) = (parts.clone(), run.to_owned());
        let loaded = store_io(&ctx.store, move |s| load(s, &set, &named)).await?;
        if loaded.is_some() || tokio::time::Instant::now() >= deadline {
            return Ok(loaded);
        }
        tokio::time::sleep(AUX_POLL).await;
    }
}

/// Loads the aux info of run `run` for the participants `parts`.
pub fn load(store: &Store, parts: &Participants, run: &str) -> Result<Option<AuxInfo>, NodeError> {
    let Some(sealed) = store.aux(&run_name(parts.nodes(), run)).map_err(storage)? else {
        return Ok(None);
    };
    AuxInfo::open(sealed.expose())
        .map(Some)
        .map_err(|e| NodeError::io(Io::KeyLoad, format!("aux info: {e}")))
}

/// Stores this node's sealed aux info of run `run` for `node_ids` and makes it current. Also
/// the import path for aux info generated elsewhere for exactly this node set and party order.
pub fn store_run(
    store: &Store,
    node_ids: &[String],
    run: &str,
    sealed: &[u8],
) -> Result<(), NodeError> {
    store
        .put_aux(&run_name(node_ids, run), sealed)
        .map_err(write)?;
    store
        .put_aux(&current_name(node_ids), run.as_bytes())
        .map_err(write)
}

/// Who waits for the primes [`ensure_primes`] makes, which decides the CPU priority they are
/// made at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrimesFor {
    /// An aux-info run (at start-up, or one that found none): normal priority.
    Awaited,
    /// The stock for a later run, after a run used it: idle priority ([`idle_cpu`]), so live
    /// sessions keep the cores.
    Stock,
}

/// Makes sure one set of safe primes is stored, generating it (with progress logs) if not, off
/// the async reactor.
pub async fn ensure_primes(store: Store, wanted: PrimesFor) -> Result<(), NodeError> {
    let available = store_io(&store, |s| s.primes_count().map_err(storage)).await?;
    if available > 0 {
        tracing::info!(available, "safe primes ready");
        return Ok(());
    }
    let started = std::time::Instant::now();
    let generate = move |priority: Option<idle_cpu::Priority>| {
        tracing::info!(
            ?wanted,
            ?priority,
            "generating safe primes for ECDSA aux info (4 x 1536 bits; typically 20-80 s of CPU)"
        );
        PrimesJob::new().run(|p| tracing::info!(done = p.done, total = p.total, "safe prime found"))
    };
    let generated = match wanted {
        PrimesFor::Awaited => tokio::task::spawn_blocking(move || generate(None))
            .await
            .ok(),
        PrimesFor::Stock => idle_cpu::run("safe-primes", move |p| generate(Some(p)))
            .await
            .ok(),
    };
    let primes = generated
        .ok_or_else(|| NodeError::bug("prime generation panicked"))?
        .map_err(|e| preparation(e.to_string()))?;
    let sealed = primes.seal().map_err(|e| preparation(e.to_string()))?;
    store_io(&store, move |s| s.push_primes(&sealed).map_err(write)).await?;
    tracing::info!(elapsed_s = started.elapsed().as_secs(), "safe primes ready");
    Ok(())
}

/// [`ensure_primes`] for a background task: failures are logged.
pub async fn ensure_primes_logged(store: Store, wanted: PrimesFor) {
    if let Err(failure) = ensure_primes(store, wanted).await {
        tracing::error!(reason = %failure, "cannot prepare safe primes; ECDSA keygen will be unavailable");
    }
}

/// Whether this node runs an [`PrimesFor::Awaited`] job, so the start-up job and aux-info runs
/// that find no primes start one between them, not one each.
#[derive(Debug, Default)]
pub struct AwaitedPrimes(AtomicBool);

/// [`ensure_primes_logged`] at normal priority, unless such a job already runs on this node.
pub async fn ensure_awaited_primes(store: Store, running: Arc<AwaitedPrimes>) {
    if running.0.swap(true, Ordering::AcqRel) {
        return;
    }
    struct Release(Arc<AwaitedPrimes>);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0 .0.store(false, Ordering::Release);
        }
    }
    let _release = Release(running);
    ensure_primes_logged(store, PrimesFor::Awaited).await;
}

/// Waits (polling the store) until a set of primes is available, then takes it.
async fn take_primes(ctx: &NodeContext) -> Result<Primes, NodeError> {
    let deadline = tokio::time::Instant::now() + PRIMES_WAIT;
    let mut asked = false;
    loop {
        if let Some(sealed) = store_io(&ctx.store, |s| s.take_primes().map_err(storage)).await? {
            return Primes::open(sealed.expose())
                .map_err(|e| NodeError::io(Io::KeyLoad, format!("stored primes: {e}")));
        }
        if !asked {
            // A stock job at idle priority may be starved on a busy node, and this run waits:
            // make a set at normal priority (an idle job still running only adds to the stock).
            asked = true;
            tokio::spawn(ensure_awaited_primes(
                ctx.store.clone(),
                ctx.awaited_primes.clone(),
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(preparation(
                "no safe primes became available in time for aux-info generation",
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The coordinator's deadline for an aux-info run: the run itself plus the wait for primes.
pub(crate) fn aux_deadline(ctx: &NodeContext) -> Duration {
    ctx.deadlines.aux_info + PRIMES_WAIT
}

/// Whether `participants` is a node set aux info can be generated for: at least two known
/// nodes of the cluster, sorted, each once.
fn is_node_set(ctx: &NodeContext, participants: &[String]) -> bool {
    participants.len() >= 2
        && participants.windows(2).all(|w| w[0] < w[1])
        && participants.iter().all(|p| ctx.node_ids.contains(p))
}

/// This node's part of an aux-info run for the node set `start.participants` (the whole
/// cluster, or a reshare's new committee).
pub async fn participate(ctx: Arc<NodeContext>, start: &Start) -> Result<Output, NodeError> {
    if !is_node_set(&ctx, &start.participants) {
        return Err(NodeError::bad_request(
            BadRequest::IncompatiblePeers,
            "aux-info participants are not a sorted set of this cluster's nodes",
        ));
    }
    let (parts, me) = participants(&ctx.me, &start.participants)?;
    let sid = SessionId::derive(ProtocolKind::EcdsaAuxInfo, start.nonce.as_bytes(), &parts);
    let io = SessionIo::open(&ctx.sessions, ProtocolKind::EcdsaAuxInfo, sid, &parts, me)?;
    let primes = take_primes(&ctx).await?;
    let n = parts.len();
    let run = move || ecdsa::aux_info(sid, me, n, primes, io.party::<ecdsa::AuxInfoMsg>());
    let aux = run_protocol(
        ctx.deadlines.aux_info,
        ctx.sessions.gone(parts.nodes()),
        run,
    )
    .await
    .map_err(|e| run_error(e, "aux-info generation"))?
    .map_err(|e| engine_error(ProtocolFault::AuxInfo, &parts, e))?;
    let sealed = aux
        .seal()
        .map_err(|e| NodeError::io(Io::KeySave, e.to_string()))?;
    let (nodes, run) = (parts.nodes().to_vec(), start.nonce.clone());
    store_io(&ctx.store, move |s| store_run(s, &nodes, &run, &sealed)).await?;
    tracing::info!(run = %start.nonce, "aux info ready");
    // Replace the primes this run consumed, in the background.
    tokio::spawn(ensure_primes_logged(ctx.store.clone(), PrimesFor::Stock));
    Ok(Output::AuxInfo)
}

/// The aux-info run for the node set `node_ids` (sorted): this node's current one, or a new
/// joint run coordinated by this node. Returns the run id to name in a session start.
pub async fn run_for(ctx: &NodeContext, node_ids: &[String]) -> Result<String, NodeError> {
    if let Some(run) = stored_run(ctx, node_ids).await? {
        return Ok(run);
    }
    tracing::info!(
        nodes = node_ids.len(),
        "starting aux-info generation for a new node set"
    );
    let start = Start::new(Operation::AuxInfo, node_ids.to_vec(), Vec::new());
    let run = start.nonce.clone();
    orchestrate::run(&ctx.sessions, start, aux_deadline(ctx)).await?;
    Ok(run)
}

/// Keeps aux info available for the node set: the lowest node id runs a joint aux-info session
/// whenever it has none and every node is ready; the others take part when asked. Runs until
/// the task is aborted.
pub async fn maintain(ctx: Arc<NodeContext>) {
    if ctx.node_ids.first() != Some(&ctx.me) {
        return;
    }
    match stored_run(&ctx, &ctx.node_ids).await {
        Ok(Some(_)) => return,
        Ok(None) => {}
        Err(failure) => tracing::error!(reason = %failure, "cannot read aux-info state"),
    }
    loop {
        match ctx.all_ready().await {
            Ok(true) => {
                tracing::info!("all nodes ready: starting aux-info generation for the node set");
                let start = Start::new(Operation::AuxInfo, ctx.node_ids.clone(), Vec::new());
                match orchestrate::run(&ctx.sessions, start, aux_deadline(&ctx)).await {
                    Ok(_) => {
                        tracing::info!("aux-info generation finished on every node");
                        return;
                    }
                    Err(failure) => {
                        tracing::warn!(reason = %failure, "aux-info generation failed; retrying")
                    }
                }
            }
            Ok(false) => {}
            Err(failure) => tracing::warn!(reason = %failure, "cannot read readiness"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
