//! FROST Ed25519 distributed key generation (RFC 9591 appendix C / `frost_ed25519::keys::dkg`) as a
//! two-communication-round `round_based` protocol.
//!
//! 1. **Commit** (broadcast): each party's polynomial commitment and proof of knowledge.
//! 2. **Echo** (broadcast) and **Share** (point to point), sent together: a SHA-256 of the session
//!    id and of every round-1 package the party received (its own included, in party order), and
//!    the secret share `f_i(j)` for each other party `j`.
//!
//! FROST's DKG needs a reliable broadcast in round 1: a party that shows different commitments to
//! different peers would leave them with different group keys, and no FROST check notices it (each
//! peer verifies its share against the commitment *it* saw). The echo round closes that gap: a party
//! only finishes if every peer hashed exactly the packages it saw. A mismatch names the peer whose
//! echo differs — that peer saw a different round-1 view, so either it or the party that
//! equivocated to it is faulty; honest parties abort rather than output diverging keys. Shares can
//! go out before the echo is checked because they only depend on the sender's own polynomial.

use std::collections::BTreeMap;

use frost_ed25519::keys::dkg;
use rand_core::{CryptoRng, RngCore};
use round_based::rounds_router::simple_store::RoundInput;
use round_based::rounds_router::RoundsRouter;
use round_based::{Delivery, Mpc, MpcParty, Outgoing, ProtocolMessage, SinkExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{check_session, frost_error, identifier, keygen_party_of, round_error, EddsaKeyShare};
use crate::error::{PartyIndex, TssError};
use crate::session::SessionId;
use crate::Threshold;

/// Messages of the DKG, one variant per round.
#[derive(Clone, Debug, PartialEq, ProtocolMessage, Serialize, Deserialize)]
pub enum KeygenMsg {
    /// Round 1 (broadcast).
    Commit(CommitMsg),
    /// Round 2 (broadcast).
    Echo(EchoMsg),
    /// Round 3 (point to point), sent in the same communication round as the echo.
    Share(ShareMsg),
}

/// Round 1: the sender's commitment and proof of knowledge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommitMsg {
    /// Session the message belongs to.
    pub session: [u8; 32],
    /// FROST round-1 package.
    pub package: dkg::round1::Package,
}

/// Round 2: hash of the sender's view of round 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EchoMsg {
    /// Session the message belongs to.
    pub session: [u8; 32],
    /// SHA-256 over the session id and all round-1 packages in party order.
    pub view: [u8; 32],
}

/// Round 3: the sender's secret share for the recipient (confidential; `Debug` redacts it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareMsg {
    /// Session the message belongs to.
    pub session: [u8; 32],
    /// FROST round-2 package.
    pub package: dkg::round2::Package,
}

/// Runs the DKG as party `i` of `n` (every committee member takes part), producing this party's
/// share of a fresh Ed25519 key that any `threshold.signers()` parties can sign with.
///
/// Errors: [`TssError::Misbehaviour`] naming the parties whose proof, share or echo is invalid;
/// [`TssError::BadMessage`] for foreign-session, duplicated or malformed messages;
/// [`TssError::InvalidInput`] for inconsistent arguments.
pub async fn keygen<M, R>(
    party: M,
    session: SessionId,
    i: PartyIndex,
    n: u16,
    threshold: Threshold,
    rng: &mut R,
) -> Result<EddsaKeyShare, TssError>
where
    M: Mpc<ProtocolMessage = KeygenMsg>,
    R: RngCore + CryptoRng,
{
    if i >= n {
        return Err(TssError::InvalidInput(format!(
            "party index {i} is not below n = {n}"
        )));
    }
    let t = threshold.signers();
    if t > n || n < 2 {
        return Err(TssError::InvalidInput(format!(
            "threshold {t} does not fit a committee of {n}"
        )));
    }
    let sid = *session.as_bytes();
    let MpcParty { delivery, .. } = party.into_party();
    let (incoming, mut outgoing) = delivery.split();
    let mut rounds = RoundsRouter::<KeygenMsg>::builder();
    let round1 = rounds.add_round(RoundInput::<CommitMsg>::broadcast(i, n));
    let round2 = rounds.add_round(RoundInput::<EchoMsg>::broadcast(i, n));
    let round3 = rounds.add_round(RoundInput::<ShareMsg>::p2p(i, n));
    let mut rounds = rounds.listen(incoming);
    let send_failed = |e: M::SendError| TssError::Transport(format!("sending failed: {e}"));

    // Round 1: commit.
    let (secret1, package1) = dkg::part1(identifier(i)?, n, t, &mut *rng)
        .map_err(|e| TssError::InvalidInput(format!("dkg parameters: {e}")))?;
    let own1 = CommitMsg {
        session: sid,
        package: package1,
    };
    outgoing
        .send(Outgoing::broadcast(KeygenMsg::Commit(own1.clone())))
        .await
        .map_err(send_failed)?;
    let received1 = rounds.complete(round1).await.map_err(|e| round_error(&e))?;

    let mut packages1 = BTreeMap::new();
    let mut hasher = Sha256::new();
    hasher.update(b"mpcium-rs/eddsa-keygen/echo/v1");
    hasher.update(sid);
    for (j, _, msg) in received1.iter_indexed() {
        check_session(&session, &msg.session, j)?;
        // FROST checks the commitment length only as a whole; blame the sender here instead.
        if msg.package.commitment().serialize().map(|c| c.len()).ok() != Some(usize::from(t)) {
            return Err(TssError::BadMessage {
                sender: j,
                reason: format!("commitment does not have {t} coefficients"),
            });
        }
        packages1.insert(identifier(j)?, msg.package.clone());
    }
    for (j, msg) in (0..n).zip(received1.iter_including_me(&own1)) {
        let bytes = msg
            .package
            .serialize()
            .map_err(|e| TssError::Bug(format!("encode round-1 package of party {j}: {e}")))?;
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(&bytes);
    }
    let view: [u8; 32] = hasher.finalize().into();

    // Round 2: echo our view and deal our shares.
    let (secret2, shares) = dkg::part2(secret1, &packages1).map_err(|e| {
        frost_error(e, "invalid proof of knowledge in round 1", |id| {
            keygen_party_of(n, id)
        })
    })?;
    outgoing
        .feed(Outgoing::broadcast(KeygenMsg::Echo(EchoMsg {
            session: sid,
            view,
        })))
        .await
        .map_err(send_failed)?;
    for j in (0..n).filter(|&j| j != i) {
        let package = shares
            .get(&identifier(j)?)
            .cloned()
            .ok_or_else(|| TssError::Bug(format!("dkg produced no share for party {j}")))?;
        outgoing
            .feed(Outgoing::p2p(
                j,
                KeygenMsg::Share(ShareMsg {
                    session: sid,
                    package,
                }),
            ))
            .await
            .map_err(send_failed)?;
    }
    outgoing.flush().await.map_err(send_failed)?;

    let echoes = rounds.complete(round2).await.map_err(|e| round_error(&e))?;
    for (j, _, msg) in echoes.iter_indexed() {
        check_session(&session, &msg.session, j)?;
        if msg.view != view {
            return Err(TssError::Misbehaviour {
                culprits: vec![j],
                reason: "saw different round-1 commitments than we did (equivocation)".into(),
            });
        }
    }

    let received3 = rounds.complete(round3).await.map_err(|e| round_error(&e))?;
    let mut packages2 = BTreeMap::new();
    for (j, _, msg) in received3.into_iter_indexed() {
        check_session(&session, &msg.session, j)?;
        packages2.insert(identifier(j)?, msg.package);
    }
    let (key_package, public_key_package) =
        dkg::part3(&secret2, &packages1, &packages2).map_err(|e| {
            frost_error(e, "sent an invalid secret share", |id| {
                keygen_party_of(n, id)
            })
        })?;
    EddsaKeyShare::new(key_package, public_key_package)
}
