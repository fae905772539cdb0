//! FROST Ed25519 threshold signing (RFC 9591) as a two-round `round_based` protocol without a
//! coordinator: every signer broadcasts its nonce commitments, then its signature share, and then
//! aggregates all shares itself, verifying each one so an invalid share names its sender.
//!
//! The message is signed exactly as given — every byte, leading zeros included — and the output
//! is a standard RFC 8032 signature (`R ‖ s`, 64 bytes) under the share's group key.

use std::collections::BTreeMap;

use frost_ed25519::round1::SigningCommitments;
use frost_ed25519::round2::SignatureShare;
use frost_ed25519::{CheaterDetection, Identifier, SigningPackage};
use rand_core::{CryptoRng, RngCore};
use round_based::rounds_router::simple_store::RoundInput;
use round_based::rounds_router::RoundsRouter;
use round_based::{Delivery, Mpc, MpcParty, Outgoing, ProtocolMessage, SinkExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{check_session, frost_error, round_error, EddsaKeyShare};
use crate::error::{PartyIndex, TssError};
use crate::session::SessionId;

/// Messages of signing, one variant per round.
// Messages live for one round; boxing the commitments would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, ProtocolMessage, Serialize, Deserialize)]
pub enum SignMsg {
    /// Round 1 (broadcast).
    Commit(CommitMsg),
    /// Round 2 (broadcast).
    Share(ShareMsg),
}

/// Round 1: the sender's nonce commitments, and the digest of the message it was asked to sign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommitMsg {
    /// Session the message belongs to.
    pub session: [u8; 32],
    /// SHA-256 of the message to sign, so signers asked to sign different messages stop before
    /// producing shares.
    pub message_digest: [u8; 32],
    /// FROST round-1 commitments.
    pub commitments: SigningCommitments,
}

/// Round 2: the sender's signature share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareMsg {
    /// Session the message belongs to.
    pub session: [u8; 32],
    /// SHA-256 of the signing package (all commitments and the message) the share was made for,
    /// so a commitment shown differently to different signers is reported as such rather than as
    /// an invalid share of an honest signer.
    pub view: [u8; 32],
    /// FROST signature share.
    pub share: SignatureShare,
}

/// Signs `message` as party `i` of a signing session whose parties have the keygen indices
/// `signers` (in session order, so `signers[i]` is ours), with key `share` (or a child from
/// [`EddsaKeyShare::derive_child`]). Returns the 64-byte RFC 8032 signature.
///
/// Errors: [`TssError::Misbehaviour`] naming (by session index) every party whose signature share
/// is invalid; [`TssError::BadMessage`] for foreign-session, duplicated or malformed messages or a
/// peer that signs a different message; [`TssError::InvalidInput`] for a bad signer list.
pub async fn sign<M, R>(
    party: M,
    session: SessionId,
    i: PartyIndex,
    signers: &[PartyIndex],
    share: &EddsaKeyShare,
    message: &[u8],
    rng: &mut R,
) -> Result<[u8; 64], TssError>
where
    M: Mpc<ProtocolMessage = SignMsg>,
    R: RngCore + CryptoRng,
{
    let ids = signer_identifiers(i, signers, share)?;
    let n =
        u16::try_from(ids.len()).map_err(|_| TssError::InvalidInput("too many signers".into()))?;
    let party_of = |id: &Identifier| ids.iter().position(|x| x == id).map(|p| p as PartyIndex);
    let sid = *session.as_bytes();
    let message_digest: [u8; 32] = Sha256::digest(message).into();

    let MpcParty { delivery, .. } = party.into_party();
    let (incoming, mut outgoing) = delivery.split();
    let mut rounds = RoundsRouter::<SignMsg>::builder();
    let round1 = rounds.add_round(RoundInput::<CommitMsg>::broadcast(i, n));
    let round2 = rounds.add_round(RoundInput::<ShareMsg>::broadcast(i, n));
    let mut rounds = rounds.listen(incoming);
    let send_failed = |e: M::SendError| TssError::Transport(format!("sending failed: {e}"));

    // Round 1: nonce commitments.
    let (nonces, commitments) =
        frost_ed25519::round1::commit(share.key_package().signing_share(), &mut *rng);
    let own1 = CommitMsg {
        session: sid,
        message_digest,
        commitments,
    };
    outgoing
        .send(Outgoing::broadcast(SignMsg::Commit(own1)))
        .await
        .map_err(send_failed)?;
    let received1 = rounds.complete(round1).await.map_err(|e| round_error(&e))?;
    let mut all_commitments = BTreeMap::new();
    all_commitments.insert(share.identifier(), commitments);
    for (j, _, msg) in received1.into_iter_indexed() {
        check_session(&session, &msg.session, j)?;
        if msg.message_digest != message_digest {
            return Err(TssError::BadMessage {
                sender: j,
                reason: "was asked to sign a different message".into(),
            });
        }
        let id = ids
            .get(usize::from(j))
            .copied()
            .ok_or_else(|| out_of_range(j))?;
        all_commitments.insert(id, msg.commitments);
    }
    let signing_package = SigningPackage::new(all_commitments, message);
    let view = view_of(&signing_package)?;

    // Round 2: signature shares.
    let own_share = frost_ed25519::round2::sign(&signing_package, &nonces, share.key_package())
        .map_err(|e| frost_error(e, "invalid commitment", party_of))?;
    drop(nonces);
    outgoing
        .send(Outgoing::broadcast(SignMsg::Share(ShareMsg {
            session: sid,
            view,
            share: own_share,
        })))
        .await
        .map_err(send_failed)?;
    let received2 = rounds.complete(round2).await.map_err(|e| round_error(&e))?;
    let mut shares = BTreeMap::new();
    shares.insert(share.identifier(), own_share);
    for (j, _, msg) in received2.into_iter_indexed() {
        check_session(&session, &msg.session, j)?;
        if msg.view != view {
            return Err(TssError::Misbehaviour {
                culprits: vec![j],
                reason: "signed over different round-1 commitments than we saw (equivocation)"
                    .into(),
            });
        }
        let id = ids
            .get(usize::from(j))
            .copied()
            .ok_or_else(|| out_of_range(j))?;
        shares.insert(id, msg.share);
    }

    let signature = frost_ed25519::aggregate_custom(
        &signing_package,
        &shares,
        share.public_key_package(),
        CheaterDetection::AllCheaters,
    )
    .map_err(|e| frost_error(e, "sent an invalid signature share", party_of))?;
    let bytes = signature
        .serialize()
        .map_err(|e| TssError::Bug(format!("signature encoding: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| TssError::Bug("ed25519 signature is not 64 bytes".into()))
}

/// Hash of a signing package: what a signature share commits to.
pub fn view_of(package: &SigningPackage) -> Result<[u8; 32], TssError> {
    let bytes = package
        .serialize()
        .map_err(|e| TssError::Bug(format!("encode signing package: {e}")))?;
    let mut h = Sha256::new();
    h.update(b"mpcium-rs/eddsa-sign/view/v1");
    h.update(&bytes);
    Ok(h.finalize().into())
}

fn out_of_range(j: PartyIndex) -> TssError {
    TssError::Bug(format!("round delivered a message from unknown party {j}"))
}

/// Validates the signer list and returns each signing party's keygen identifier.
fn signer_identifiers(
    i: PartyIndex,
    signers: &[PartyIndex],
    share: &EddsaKeyShare,
) -> Result<Vec<Identifier>, TssError> {
    let bad = |what: String| Err(TssError::InvalidInput(what));
    if signers.len() < usize::from(share.min_signers()) {
        return bad(format!(
            "{} signers given but the key needs {}",
            signers.len(),
            share.min_signers()
        ));
    }
    if signers.len() < 2 {
        return bad("signing needs at least two parties".into());
    }
    for (pos, s) in signers.iter().enumerate() {
        if *s >= share.max_signers() {
            return bad(format!(
                "signer {s} is not in the keygen committee of {}",
                share.max_signers()
            ));
        }
        if signers.get(..pos).is_some_and(|before| before.contains(s)) {
            return bad(format!("signer {s} is listed twice"));
        }
    }
    let ids = signers
        .iter()
        .map(|s| {
            share
                .identifier_of(*s)
                .ok_or_else(|| TssError::Bug(format!("signer {s} has no identifier")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    match ids.get(usize::from(i)) {
        Some(id) if *id == share.identifier() => Ok(ids),
        Some(_) => bad(format!(
            "signer list says party {i} holds another share than ours"
        )),
        None => bad(format!(
            "party index {i} is not below the {} signers",
            signers.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_lists_that_do_not_fit_the_share_are_refused() {
        let share = super::super::share::tests::must_dealer_shares(2, 3).remove(1);
        assert!(signer_identifiers(0, &[1, 2], &share).is_ok());
        assert!(
            signer_identifiers(0, &[1], &share).is_err(),
            "below threshold"
        );
        assert!(signer_identifiers(0, &[1, 1], &share).is_err(), "duplicate");
        assert!(
            signer_identifiers(0, &[1, 3], &share).is_err(),
            "outside committee"
        );
        assert!(
            signer_identifiers(1, &[1, 2], &share).is_err(),
            "not our share"
        );
        assert!(
            signer_identifiers(2, &[1, 2], &share).is_err(),
            "index out of range"
        );
    }
}
