//! The participant side of a session: a node receives a coordinator's [`Start`], checks it
//! against its own view (initiator signature, peer set, stored keyinfo), runs its part of the
//! protocol and reports an [`Outcome`] to the coordinator.
//!
//! A participant never trusts the coordinator's word for what the client asked: it verifies the
//! initiator's signature over the original request itself, and it signs only with the committee
//! its own store recorded at keygen, whatever the registry says.

use std::sync::Arc;
use std::time::Instant;

use mpcium_protocol::{ErrorCode, GenerateKeyMessage, KeyType, SignTxMessage};
use mpcium_tss::delivery;
use mpcium_tss::ecdsa::{self, KeyShare};
use mpcium_tss::eddsa;
use mpcium_tss::{Participants, ProtocolKind, SessionId, TssError};
use rand::rngs::OsRng;

use crate::aux;
use crate::context::NodeContext;
use crate::control::{self, Failure, Operation, Outcome, Output, Start};
use crate::coordinator;
use crate::cpu::{run_protocol, RunError};
use crate::keys::{self, CommitteeIndices};
use crate::session::router::{RegisterError, SessionInbox};
use crate::session::wire::{self, channel_of, OUTCOME};
use crate::transport::bus::Bus;
use crate::transport::envelope::{Channel, Header, Opened};

/// Handles one session-start order: runs this node's part and reports the outcome.
pub async fn handle_start(ctx: Arc<NodeContext>, opened: Opened) {
    let coordinator = opened.header.from.clone();
    let start: Start = match serde_json::from_slice(&opened.payload) {
        Ok(start) => start,
        Err(error) => {
            tracing::warn!(%coordinator, %error, "dropped malformed session start");
            return;
        }
    };
    // A start is accepted once: its nonce names a session that must be new.
    let key = (wire::START, control::start_session(&start.nonce));
    match ctx.router.register(key, [], Instant::now()) {
        Ok(marker) => drop(marker),
        Err(RegisterError::Reused) => {
            tracing::warn!(%coordinator, nonce = %start.nonce, "dropped replayed session start");
            return;
        }
    }
    let span =
        tracing::info_span!("session", op = ?start.operation, nonce = %start.nonce, %coordinator);
    let result = tracing::Instrument::instrument(run(ctx.clone(), &start), span).await;
    if let Err(failure) = &result {
        tracing::warn!(nonce = %start.nonce, code = %failure.code, reason = %failure.reason, "session part failed");
    }
    let outcome = Outcome {
        nonce: start.nonce.clone(),
        result,
    };
    let payload = match serde_json::to_vec(&outcome) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::error!(%error, "cannot encode outcome");
            return;
        }
    };
    let header = Header {
        channel: OUTCOME,
        session: control::outcome_session(&start.nonce),
        round: 0,
        seq: 0,
        broadcast: false,
        from: ctx.me.clone(),
        to: coordinator,
    };
    if let Err(error) = ctx.bus.send(&header, &payload).await {
        tracing::error!(%error, "cannot report session outcome to the coordinator");
    }
}

async fn run(ctx: Arc<NodeContext>, start: &Start) -> Result<Output, Failure> {
    match start.operation {
        Operation::AuxInfo => aux::participate(ctx, start).await,
        Operation::Keygen => keygen(ctx, start).await,
        Operation::Sign => sign(ctx, start).await,
        Operation::Reshare => crate::reshare::part::participate(ctx, start).await,
        Operation::ReshareCommit => crate::reshare::part::commit(ctx, start).await,
    }
}

/// The ordered participants of `start`, with this node's index among them.
fn participants(ctx: &NodeContext, start: &Start) -> Result<(Participants, u16), Failure> {
    let parts = Participants::new(start.participants.clone())
        .map_err(|e| Failure::new(ErrorCode::IncompatiblePeerIds, e.to_string()))?;
    let me = parts.index_of(&ctx.me).ok_or_else(|| {
        Failure::new(
            ErrorCode::ParticipantNotFound,
            "this node is not a participant of the session",
        )
    })?;
    Ok((parts, me))
}

/// A registered session, ready to be connected to a protocol on the thread that runs it.
pub(crate) struct SessionIo {
    inbox: SessionInbox,
    bus: Bus,
    channel: Channel,
    session: SessionId,
    parts: Participants,
    me: u16,
}

impl SessionIo {
    /// Registers the session with the router, so messages for it are kept from now on.
    pub(crate) fn open(
        ctx: &NodeContext,
        kind: ProtocolKind,
        session: SessionId,
        parts: &Participants,
        me: u16,
    ) -> Result<Self, Failure> {
        let channel = channel_of(kind);
        let inbox = ctx
            .router
            .register(
                (channel, *session.as_bytes()),
                parts.nodes().to_vec(),
                Instant::now(),
            )
            .map_err(|e| Failure::new(ErrorCode::SessionDuplicate, e.to_string()))?;
        Ok(Self {
            inbox,
            bus: ctx.bus.clone(),
            channel,
            session,
            parts: parts.clone(),
            me,
        })
    }

    /// The `round_based` party handle a protocol takes.
    pub(crate) fn party<M>(self) -> round_based::MpcParty<M, impl round_based::Delivery<M>>
    where
        M: round_based::ProtocolMessage + serde::Serialize + serde::de::DeserializeOwned + Unpin,
    {
        let n = self.parts.len();
        let incoming = wire::incoming(self.inbox, self.session, self.parts.clone());
        let outgoing = wire::outgoing(self.bus, self.channel, self.parts);
        delivery::connect::<M, _, _>(self.session, self.me, n, incoming, outgoing)
    }
}

/// Turns an engine error into a client-facing failure, naming blamed parties by node id.
pub(crate) fn engine_failure(code: ErrorCode, parts: &Participants, error: TssError) -> Failure {
    let culprits: Vec<&str> = error
        .culprits()
        .iter()
        .filter_map(|i| parts.node(*i))
        .collect();
    if culprits.is_empty() {
        Failure::new(code, error.to_string())
    } else {
        Failure::new(
            code,
            format!("{error}; misbehaving nodes: {}", culprits.join(", ")),
        )
    }
}

pub(crate) fn timeout_failure(error: RunError, what: &str) -> Failure {
    match error {
        RunError::TimedOut(after) => Failure::new(
            ErrorCode::SessionTimeout,
            format!("{what} did not finish within {after:?}: a participant did not answer"),
        ),
        RunError::Panicked => {
            Failure::new(ErrorCode::Unknown, format!("{what} failed unexpectedly"))
        }
    }
}

async fn keygen(ctx: Arc<NodeContext>, start: &Start) -> Result<Output, Failure> {
    let request = GenerateKeyMessage::from_json(&start.request)
        .map_err(|e| Failure::new(e.error_code(), e.to_string()))?;
    ctx.authenticate(&request)?;
    if start.participants != ctx.node_ids {
        return Err(Failure::new(
            ErrorCode::IncompatiblePeerIds,
            "keygen participants differ from this node's peer list",
        ));
    }
    let wallet = request.wallet_id.clone();
    if let Some(existing) = keys::load_keyinfo(&ctx.store, KeyType::Secp256k1, &wallet)? {
        // A redelivered request for a wallet we already hold: report the same keys again.
        if existing.participant_peer_ids == ctx.node_ids {
            return keys::stored_public_keys(&ctx.store, &wallet);
        }
        return Err(Failure::new(
            ErrorCode::KeyAlreadyExists,
            format!("wallet {wallet} already exists"),
        ));
    }
    let (parts, me) = participants(&ctx, start)?;
    let n = parts.len();
    let run = start.aux_run.as_deref().ok_or_else(|| {
        Failure::new(
            ErrorCode::MsgValidation,
            "keygen start names no aux-info run",
        )
    })?;
    let aux = aux::load(&ctx.store, &parts, run)?.ok_or_else(|| {
        Failure::new(
            ErrorCode::ClusterNotReady,
            format!("this node lacks aux-info run {run} for the node set; retry shortly"),
        )
    })?;
    let request_id = format!("keygen/{wallet}/{}", start.nonce);
    let ecdsa_sid = SessionId::derive(ProtocolKind::EcdsaKeygen, request_id.as_bytes(), &parts);
    let eddsa_sid = SessionId::derive(ProtocolKind::EddsaKeygen, request_id.as_bytes(), &parts);
    let ecdsa_io = SessionIo::open(&ctx, ProtocolKind::EcdsaKeygen, ecdsa_sid, &parts, me)?;
    let eddsa_io = SessionIo::open(&ctx, ProtocolKind::EddsaKeygen, eddsa_sid, &parts, me)?;
    let threshold = ctx.threshold;
    let chain_code = ctx.chain_code;

    let both = move || async move {
        let ecdsa = ecdsa::keygen(ecdsa_sid, me, n, threshold, chain_code, ecdsa_io.party());
        let eddsa = async move {
            let mut rng = OsRng;
            eddsa::keygen::keygen(eddsa_io.party(), eddsa_sid, me, n, threshold, &mut rng).await
        };
        futures::join!(ecdsa, eddsa)
    };
    let (ecdsa_share, eddsa_share) = run_protocol(ctx.deadlines.keygen, both)
        .await
        .map_err(|e| timeout_failure(e, "keygen"))?;
    let ecdsa_share =
        ecdsa_share.map_err(|e| engine_failure(ErrorCode::KeyGeneration, &parts, e))?;
    let eddsa_share =
        eddsa_share.map_err(|e| engine_failure(ErrorCode::KeyGeneration, &parts, e))?;
    let ecdsa_share = KeyShare::from_parts(ecdsa_share, aux)
        .map_err(|e| engine_failure(ErrorCode::KeyGeneration, &parts, e))?;

    let info = crate::registry::KeyInfo {
        participant_peer_ids: ctx.node_ids.clone(),
        threshold: u32::from(threshold.signers()),
        version: 1,
    };
    let output = keys::store_new_wallet(&ctx.store, &wallet, &info, &ecdsa_share, &eddsa_share)?;
    tracing::info!(wallet_id = %wallet, "keygen success: shares stored");
    Ok(output)
}

async fn sign(ctx: Arc<NodeContext>, start: &Start) -> Result<Output, Failure> {
    let request = SignTxMessage::from_json(&start.request)
        .map_err(|e| Failure::new(e.error_code(), e.to_string()))?;
    ctx.authenticate_signing(&request)?;
    // Never a second signature for an answered transaction, even if a coordinator asks: the
    // initiator's signature alone cannot stop a replay of its own request.
    let cache_key = coordinator::signing_cache_key(&request.tx_id);
    if coordinator::cached(&ctx, &cache_key, &coordinator::digest(&start.request))
        .await?
        .is_some()
    {
        return Err(Failure::new(
            ErrorCode::SessionDuplicate,
            format!("transaction {} was already signed", request.tx_id),
        ));
    }
    let wallet = request.wallet_id.clone();
    let info = keys::load_keyinfo(&ctx.store, request.key_type, &wallet)?.ok_or_else(|| {
        Failure::new(
            ErrorCode::KeyNotFound,
            format!(
                "wallet {wallet} has no {} key on this node",
                request.key_type
            ),
        )
    })?;
    let (parts, me) = participants(&ctx, start)?;
    // Sign only with the committee this node recorded at keygen, and exactly `threshold` of it.
    let signers = info.keygen_indices(parts.nodes())?;
    if signers.len() != info.threshold as usize {
        return Err(Failure::new(
            ErrorCode::InsufficientParticipants,
            format!(
                "signing needs exactly {} participants, got {}",
                info.threshold,
                signers.len()
            ),
        ));
    }
    let path = request.derivation_path.clone().unwrap_or_default();
    let request_id = format!("sign/{wallet}/{}/{}", request.tx_id, start.nonce);
    let deadline = ctx.deadlines.signing;
    let output = match request.key_type {
        KeyType::Secp256k1 => {
            let share = keys::load_ecdsa_share(&ctx.store, &wallet, info.version)?;
            let committee = share
                .committee(signers)
                .map_err(|e| engine_failure(ErrorCode::SigningFailure, &parts, e))?;
            let sid = SessionId::derive(ProtocolKind::EcdsaSign, request_id.as_bytes(), &parts);
            let io = SessionIo::open(&ctx, ProtocolKind::EcdsaSign, sid, &parts, me)?;
            let tx = request.tx.clone();
            let hash = request.hash;
            let signing = move || async move {
                let party = io.party();
                match hash {
                    None => ecdsa::sign_digest(sid, &share, &committee, &tx, &path, party).await,
                    Some(hash) => {
                        ecdsa::sign_message(sid, &share, &committee, &tx, hash, &path, party).await
                    }
                }
            };
            let signature = run_protocol(deadline, signing)
                .await
                .map_err(|e| timeout_failure(e, "signing"))?
                .map_err(|e| engine_failure(ErrorCode::SigningFailure, &parts, e))?;
            Output::Ecdsa {
                r: hex::encode(signature.r),
                s: hex::encode(signature.s),
                recovery_id: signature.recovery_id,
            }
        }
        KeyType::Ed25519 => {
            let share = keys::load_eddsa_share(&ctx.store, &wallet, info.version)?;
            let share = if path.is_empty() {
                share
            } else {
                share
                    .derive_child(&ctx.chain_code, &path)
                    .map_err(|e| engine_failure(ErrorCode::SigningFailure, &parts, e))?
                    .0
            };
            let sid = SessionId::derive(ProtocolKind::EddsaSign, request_id.as_bytes(), &parts);
            let io = SessionIo::open(&ctx, ProtocolKind::EddsaSign, sid, &parts, me)?;
            let message = request.tx.clone();
            let signing = move || async move {
                let mut rng = OsRng;
                eddsa::sign::sign(io.party(), sid, me, &signers, &share, &message, &mut rng).await
            };
            let signature = run_protocol(deadline, signing)
                .await
                .map_err(|e| timeout_failure(e, "signing"))?
                .map_err(|e| engine_failure(ErrorCode::SigningFailure, &parts, e))?;
            Output::Eddsa {
                signature: hex::encode(signature),
            }
        }
    };
    tracing::info!(wallet_id = %wallet, tx_id = %request.tx_id, "signing success");
    Ok(output)
}
