//! Our own check of the round-1 encryption proofs of CGGMP24 signing, in front of the engine.
//!
//! # The gap it closes
//! In round 1 of presigning (and of full signing, which runs the same state machine) every
//! signer `j` broadcasts Paillier ciphertexts `K_j = enc_j(k_j)`, `G_j = enc_j(γ_j)` with ElGamal
//! commitments `(Y_j, A_j1, A_j2, B_j1, B_j2)` (round 1a), and sends each peer `i` two Π^enc-elg
//! proofs made against `i`'s ring-Pedersen parameters (round 1b): `ψ⁰` (`K_j` encrypts the
//! exponent of `A_j2 - a·Y_j`, in range) and `ψ¹` (the same for `G_j`, `B_j1`, `B_j2`).
//! cggmp24 `=0.7.0-alpha.3` (`src/signing.rs:997-1042`) checks them with
//! `verify(ψ⁰).err()?; verify(ψ¹).err()`: the party is blamed only if **both** fail, so an
//! out-of-range `K_j` with a valid `ψ¹` — the missing range proof behind key-extraction attacks —
//! and an unproven `G_j` with a valid `ψ⁰` are both accepted.
//!
//! # What this module does
//! [`guard`] wraps the incoming half of the party handed to cggmp24. Round-1a messages are
//! recorded (the first one per sender; they pass straight on, the engine only reads them after
//! round 1b is complete). A round-1b message is held until its sender's round 1a has arrived, then
//! both proofs are verified exactly as cggmp24 verifies `ψ⁰` — same statement, same verifier
//! parameters (our own ring-Pedersen parameters, the prover's Paillier key from the aux info), same
//! security parameters and the same Fiat–Shamir shared state ([`ProofEnc`]: execution id, prover's
//! signing position, proof number) — using `paillier_zk`'s public verifier. Only a message whose
//! two proofs verify reaches the engine. A bad one ends the session at once: the guard stops
//! delivering and signals the [`Abort`] handle, and [`race`] returns
//! [`TssError::Misbehaviour`] naming the prover (the engine future is dropped mid-round). A
//! second round-1 message from one sender, or a round-1 message of the wrong kind (broadcast vs
//! point-to-point), is a [`TssError::BadMessage`] from that sender and never reaches the engine
//! either. Buffering is bounded: one held message and one recorded statement per peer.
//!
//! The engine still runs its own (weaker) check afterwards; ours costs two more Π^enc-elg
//! verifications per peer and session (see docs/crypto.md for the measured cost).
//!
//! cggmp24's shared-state type is private; [`ProofEnc`] reproduces it from the pinned source
//! (`src/signing.rs:366-373`). Every honest session pins it: a mismatch would make every honest
//! proof fail here (tests/ecdsa_signing.rs, tests/ecdsa_round1_check.rs).

use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use cggmp24::security_level::SecurityLevel;
use cggmp24::signing::msg::{Msg, MsgRound1a, MsgRound1b};
use cggmp24::ExecutionId;
use futures::channel::oneshot;
use futures::future::{self, Either, Future};
use futures::Stream;
use paillier_zk::fast_paillier::EncryptionKey;
use paillier_zk::paillier_encryption_in_range_with_el_gamal as pi_enc_elg;
use round_based::{Delivery, Incoming, MessageType, Mpc, MpcParty};

use super::committee::SigningCommittee;
use super::keys::KeyShare;
use super::{Curve, Level, ProtocolDigest, SigningMsg};
use crate::error::PartyIndex;
use crate::session::SessionId;
use crate::TssError;

/// The Fiat–Shamir shared state cggmp24 binds each round-1 Π^enc-elg proof to: its private
/// `signing::unambiguous::ProofEnc` (same tag, same field names, types and order — `udigest`
/// encodes exactly these).
#[derive(udigest::Digestable)]
#[udigest(tag = "dfns.cggmp24.signing.proof_enc")]
struct ProofEnc<'a> {
    sid: ExecutionId<'a>,
    /// The prover's position in the signing committee.
    prover: u16,
    /// `0` for `ψ⁰` (about `K`), `1` for `ψ¹` (about `G`).
    num: u8,
}

/// What our party needs to verify its peers' round-1 proofs. Holds our own ring-Pedersen
/// parameters, which may carry their secret CRT precomputation (as they do inside cggmp24): it has
/// no `Debug` and never leaves this module.
pub(super) struct Round1Verifier {
    session: SessionId,
    /// Our position in the committee.
    me: PartyIndex,
    /// Our ring-Pedersen parameters: the verifier's aux data of every proof sent to us.
    verifier_aux: pi_enc_elg::Aux,
    /// Paillier key of each committee position (the prover's `N_j`).
    keys: Vec<EncryptionKey>,
    security: pi_enc_elg::SecurityParams,
}

impl Round1Verifier {
    /// Prepares the check for our position `me` in `committee`, signing with `share`.
    pub(super) fn new(
        session: SessionId,
        share: &KeyShare,
        committee: &SigningCommittee,
        me: PartyIndex,
    ) -> Result<Self, TssError> {
        let aux = &share.0.aux;
        let keygen_index = |pos: PartyIndex| {
            committee
                .keygen_indices()
                .get(usize::from(pos))
                .map(|&k| usize::from(k))
                .ok_or_else(|| TssError::Bug(format!("committee has no position {pos}")))
        };
        let verifier_aux = aux
            .pedersen_params
            .get(keygen_index(me)?)
            .ok_or_else(|| TssError::Bug("aux info lacks our ring-Pedersen parameters".into()))?
            .into();
        let keys = (0..committee.len())
            .map(|pos| {
                aux.N
                    .get(keygen_index(pos)?)
                    .cloned()
                    .map(EncryptionKey::from_n)
                    .ok_or_else(|| TssError::Bug(format!("aux info lacks the key of {pos}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            session,
            me,
            verifier_aux,
            keys,
            security: pi_enc_elg::SecurityParams {
                l: Level::ELL,
                epsilon: Level::EPSILON,
            },
        })
    }

    /// Number of signers.
    fn n(&self) -> u16 {
        // The committee's length, a u16.
        self.keys.len() as u16
    }

    /// Verifies both proofs `prover` sent us against its round-1a `statement`; on failure, the
    /// error names the prover and which proofs failed.
    pub(super) fn verify(
        &self,
        prover: PartyIndex,
        statement: &MsgRound1a<Curve>,
        proofs: &MsgRound1b<Curve>,
    ) -> Result<(), TssError> {
        let key = self.keys.get(usize::from(prover)).ok_or_else(|| {
            TssError::Bug(format!("round-1 check asked about unknown party {prover}"))
        })?;
        let sid = ExecutionId::new(self.session.as_bytes());
        let check =
            |num: u8, data: pi_enc_elg::Data<'_, Curve>, proof: &pi_enc_elg::NiProof<Curve>| {
                let shared_state = ProofEnc { sid, prover, num };
                pi_enc_elg::non_interactive::verify::<Curve, ProtocolDigest>(
                    &shared_state,
                    &self.verifier_aux,
                    data,
                    proof,
                    &self.security,
                )
            };
        // Both are always checked, so the error says exactly which failed.
        let psi0 = check(
            0,
            pi_enc_elg::Data {
                key,
                ciphertext: &statement.K,
                a: &statement.Y,
                b: &statement.A1,
                x: &statement.A2,
            },
            &proofs.psi0,
        );
        let psi1 = check(
            1,
            pi_enc_elg::Data {
                key,
                ciphertext: &statement.G,
                a: &statement.Y,
                b: &statement.B1,
                x: &statement.B2,
            },
            &proofs.psi1,
        );
        let failed: Vec<String> = [("psi0 (about K)", psi0), ("psi1 (about G)", psi1)]
            .into_iter()
            .filter_map(|(name, r)| r.err().map(|e| format!("{name}: {e:?}")))
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        Err(TssError::Misbehaviour {
            culprits: vec![prover],
            reason: format!(
                "signing round 1b: encryption proof of party {prover} rejected before the \
                 engine: {}",
                failed.join(", ")
            ),
        })
    }
}

/// The receiving end of the guard's failure signal; pass it to [`race`].
pub(super) struct Abort(oneshot::Receiver<TssError>);

/// Wraps `party` so that every round-1b message is checked by `verifier` before the engine sees
/// it. Run the protocol on the returned party under [`race`] with the returned [`Abort`].
pub(super) fn guard<P>(
    party: P,
    verifier: Round1Verifier,
) -> (impl Mpc<ProtocolMessage = SigningMsg>, Abort)
where
    P: Mpc<ProtocolMessage = SigningMsg>,
{
    let MpcParty {
        delivery, runtime, ..
    } = party.into_party();
    let (incoming, outgoing) = delivery.split();
    let (signal, abort) = oneshot::channel();
    let n = usize::from(verifier.n());
    let guarded = Round1Guard {
        inner: incoming,
        verifier,
        statements: vec![None; n],
        held: (0..n).map(|_| None).collect(),
        proofs_seen: vec![false; n],
        released: None,
        signal: Some(signal),
    };
    let party = MpcParty::connected((guarded, outgoing)).set_runtime(runtime);
    (party, Abort(abort))
}

/// Runs `protocol` (a signing protocol over a [`guard`]ed party) until it finishes or the guard
/// rejects a message, whichever comes first.
pub(super) async fn race<T, F>(protocol: F, abort: Abort) -> Result<T, TssError>
where
    F: Future<Output = Result<T, TssError>>,
{
    let protocol = pin!(protocol);
    match future::select(protocol, abort.0).await {
        // The guard's verdict wins over whatever the engine made of the missing message.
        Either::Left((Err(err), mut abort)) => match abort.try_recv() {
            Ok(Some(rejected)) => Err(rejected),
            _ => Err(err),
        },
        Either::Left((ok, _)) => ok,
        Either::Right((Ok(rejected), _)) => Err(rejected),
        // The guard was dropped without a verdict: only the engine can finish now.
        Either::Right((Err(oneshot::Canceled), protocol)) => protocol.await,
    }
}

/// The guarded incoming stream (see the module docs).
struct Round1Guard<S> {
    inner: S,
    verifier: Round1Verifier,
    /// First round-1a message of each sender.
    statements: Vec<Option<MsgRound1a<Curve>>>,
    /// A round-1b message waiting for its sender's round 1a.
    held: Vec<Option<Incoming<SigningMsg>>>,
    /// Whether a round-1b message of this sender was seen.
    proofs_seen: Vec<bool>,
    /// A checked round-1b message to deliver right after the round 1a that released it.
    released: Option<Incoming<SigningMsg>>,
    /// Taken when a message is rejected; `None` afterwards (the stream then stays silent).
    signal: Option<oneshot::Sender<TssError>>,
}

impl<S> Round1Guard<S> {
    /// Decides about one incoming message: deliver it (`Some`), hold it (`None`) or reject it.
    /// A round-1a message that releases a held round 1b leaves that in `released`.
    fn admit(
        &mut self,
        msg: Incoming<SigningMsg>,
    ) -> Result<Option<Incoming<SigningMsg>>, TssError> {
        let sender = msg.sender;
        let j = usize::from(sender);
        // Out-of-range or self-addressed senders are the router's to reject; they carry nothing
        // the engine would use.
        if sender == self.verifier.me || j >= self.statements.len() {
            return Ok(Some(msg));
        }
        let bad = |reason: &str| {
            Err(TssError::BadMessage {
                sender,
                reason: reason.into(),
            })
        };
        match &msg.msg {
            Msg::Round1a(statement) => {
                if msg.msg_type != MessageType::Broadcast {
                    return bad("round 1a must be broadcast");
                }
                if self.statements[j].is_some() {
                    return bad("sent two messages in round 1a");
                }
                self.statements[j] = Some(statement.clone());
                if let Some(proofs) = self.held[j].take() {
                    self.check(sender, &proofs)?;
                    self.released = Some(proofs);
                }
                Ok(Some(msg))
            }
            Msg::Round1b(_) => {
                if msg.msg_type != MessageType::P2P {
                    return bad("round 1b must be point-to-point");
                }
                if self.proofs_seen[j] {
                    return bad("sent two messages in round 1b");
                }
                self.proofs_seen[j] = true;
                if self.statements[j].is_none() {
                    self.held[j] = Some(msg);
                    return Ok(None);
                }
                self.check(sender, &msg)?;
                Ok(Some(msg))
            }
            _ => Ok(Some(msg)),
        }
    }

    fn check(&self, sender: PartyIndex, msg: &Incoming<SigningMsg>) -> Result<(), TssError> {
        match (&self.statements[usize::from(sender)], &msg.msg) {
            (Some(statement), Msg::Round1b(proofs)) => {
                self.verifier.verify(sender, statement, proofs)
            }
            _ => Err(TssError::Bug(
                "round-1 check without a statement or proofs".into(),
            )),
        }
    }
}

impl<S, E> Stream for Round1Guard<S>
where
    S: Stream<Item = Result<Incoming<SigningMsg>, E>> + Unpin,
{
    type Item = Result<Incoming<SigningMsg>, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.signal.is_none() {
                // A message was rejected: deliver nothing more; `race` ends the session.
                return Poll::Pending;
            }
            if let Some(msg) = this.released.take() {
                return Poll::Ready(Some(Ok(msg)));
            }
            let msg = match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(msg))) => msg,
                other => return other,
            };
            match this.admit(msg) {
                Ok(Some(msg)) => return Poll::Ready(Some(Ok(msg))),
                Ok(None) => continue,
                Err(err) => {
                    if let Some(signal) = this.signal.take() {
                        // The receiver lives as long as `race`, which is polling us now.
                        let _ = signal.send(err);
                    }
                }
            }
        }
    }
}
