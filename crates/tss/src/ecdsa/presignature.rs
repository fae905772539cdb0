//! Presignatures and the one-round online step.
//!
//! A [`Presignature`] is single-use: it is not `Clone`, has no `Serialize`, and both
//! [`Presignature::issue`] and [`Presignature::seal`] take it by value, so one in-memory value
//! yields at most one partial signature or one stored copy. (The node's storage must likewise
//! delete a stored presignature when it loads it.) It signs only message bytes hashed by the node
//! ([`MessageHash`]), never a client digest, and only for the HD path fixed when it was generated.
//!
//! ```compile_fail,E0382
//! # fn reuse(p: mpcium_tss::ecdsa::Presignature) {
//! use mpcium_tss::ecdsa::MessageHash;
//! let _first = p.issue(b"pay alice", MessageHash::Sha256);
//! let _second = p.issue(b"pay mallory", MessageHash::Sha256); // use of moved value
//! # }
//! ```

use cggmp24::generic_ec::coords::AlwaysHasAffineX;
use cggmp24::generic_ec::{NonZero, Point, Scalar};
use cggmp24::signing::{PresignatureCommitment, PresignaturePublicData};
use round_based::rounds_router::simple_store::RoundInput;
use round_based::rounds_router::RoundsRouter;
use round_based::{Delivery, Mpc, MpcParty, Outgoing, ProtocolMessage};
use serde::{Deserialize, Serialize};

use super::keys::EcdsaPublicKey;
use super::signature::{data_to_sign, EcdsaSignature, MessageHash};
use super::Curve;
use crate::delivery::protocol_error;
use crate::error::PartyIndex;
use crate::material::{self, MaterialKind};
use crate::TssError;

/// One signer's share of a presignature, bound to a committee, an HD path and the signing key.
pub struct Presignature(Stored);

impl std::fmt::Debug for Presignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Presignature(<redacted>)")
    }
}

/// The persisted form (private: only `seal`/`open` touch it).
#[derive(Serialize, Deserialize)]
struct Stored {
    secret: cggmp24::signing::Presignature<Curve>,
    gamma: NonZero<Point<Curve>>,
    /// `(tilde_Delta_j, tilde_S_j)` of every signer, in committee order.
    commitments: Vec<(Point<Curve>, Point<Curve>)>,
    /// Our position in the committee.
    position: PartyIndex,
    /// Keygen indices of the committee.
    committee: Vec<PartyIndex>,
    /// HD path fixed at presigning (empty: the master key).
    path: Vec<u32>,
    /// The key the final signature verifies under (derived along `path`).
    public_key: NonZero<Point<Curve>>,
}

impl Presignature {
    pub(super) fn new(
        secret: cggmp24::signing::Presignature<Curve>,
        public: PresignaturePublicData<Curve>,
        position: PartyIndex,
        committee: Vec<PartyIndex>,
        path: Vec<u32>,
        public_key: NonZero<Point<Curve>>,
    ) -> Self {
        Self(Stored {
            secret,
            gamma: public.Gamma,
            commitments: public
                .commitments
                .into_iter()
                .map(|c| (c.tilde_Delta, c.tilde_S))
                .collect(),
            position,
            committee,
            path,
            public_key,
        })
    }

    /// Serializes into a versioned envelope ([`MaterialKind::EcdsaPresignature`]), consuming the
    /// presignature so the in-memory copy cannot also be used.
    pub fn seal(self) -> Result<zeroize::Zeroizing<Vec<u8>>, TssError> {
        material::seal(MaterialKind::EcdsaPresignature, &self.0)
    }

    /// Decodes an envelope written by [`Presignature::seal`]. The caller must make sure the
    /// stored copy can never be opened again (delete it first).
    pub fn open(bytes: &[u8]) -> Result<Self, TssError> {
        let stored: Stored = material::open(MaterialKind::EcdsaPresignature, bytes)?;
        let position = usize::from(stored.position);
        if stored.commitments.len() != stored.committee.len() || position >= stored.committee.len()
        {
            return Err(TssError::Material(
                "presignature committee is inconsistent".into(),
            ));
        }
        Ok(Self(stored))
    }

    /// Keygen indices of the committee that must complete the signature.
    pub fn committee(&self) -> &[PartyIndex] {
        &self.0.committee
    }

    /// Our party index in the online round (position in the committee).
    pub fn position(&self) -> PartyIndex {
        self.0.position
    }

    /// The HD path this presignature is bound to.
    pub fn path(&self) -> &[u32] {
        &self.0.path
    }

    /// The key the final signature will verify under.
    pub fn public_key(&self) -> EcdsaPublicKey {
        EcdsaPublicKey::from_point(&self.0.public_key)
    }

    /// Issues our partial signature on `msg` hashed with `hash`, consuming the presignature.
    /// Returns the partial signature to send to every other signer and the state that combines
    /// all of them.
    pub fn issue(self, msg: &[u8], hash: MessageHash) -> (PartialSignature, PendingSignature) {
        let Stored {
            secret,
            gamma,
            commitments,
            position,
            public_key,
            ..
        } = self.0;
        let data = data_to_sign(hash, msg);
        let partial = PartialSignature(secret.issue_partial_signature(data));
        let pending = PendingSignature {
            gamma,
            commitments,
            position,
            data,
            digest: hash.digest(msg),
            public_key: EcdsaPublicKey::from_point(&public_key),
        };
        (partial, pending)
    }
}

/// A signer's partial signature from a presignature. Not secret.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct PartialSignature(cggmp24::signing::PartialSignature<Curve>);

/// Everything needed to combine the committee's partial signatures into a signature, after our
/// own presignature has been consumed. Holds only public data.
#[derive(Debug)]
pub struct PendingSignature {
    gamma: NonZero<Point<Curve>>,
    commitments: Vec<(Point<Curve>, Point<Curve>)>,
    position: PartyIndex,
    data: cggmp24::DataToSign<Curve>,
    digest: [u8; 32],
    public_key: EcdsaPublicKey,
}

impl PendingSignature {
    /// Combines the partial signatures of the whole committee (`partials[j]` from committee
    /// position `j`, ours included) after checking each against its commitment, so a bad one
    /// names its sender.
    pub fn combine(&self, partials: &[PartialSignature]) -> Result<EcdsaSignature, TssError> {
        if partials.len() != self.commitments.len() {
            return Err(TssError::InvalidInput(format!(
                "need {} partial signatures, got {}",
                self.commitments.len(),
                partials.len()
            )));
        }
        let gamma: Point<Curve> = *self.gamma;
        let r = self.gamma.x().to_scalar();
        let m: Scalar<Curve> = self.data.to_scalar();
        let culprits: Vec<PartyIndex> = partials
            .iter()
            .zip(&self.commitments)
            .enumerate()
            .filter(|(_, (p, (delta, s)))| p.0.sigma * gamma != m * delta + r * s)
            .map(|(j, _)| j as PartyIndex)
            .collect();
        if !culprits.is_empty() {
            return Err(TssError::Misbehaviour {
                culprits,
                reason: "partial signature does not match the presignature commitment".into(),
            });
        }
        let public = PresignaturePublicData {
            Gamma: self.gamma,
            commitments: self
                .commitments
                .iter()
                .map(|(d, s)| PresignatureCommitment {
                    tilde_Delta: *d,
                    tilde_S: *s,
                })
                .collect(),
        };
        let raw: Vec<_> = partials.iter().map(|p| p.0).collect();
        let sig = cggmp24::signing::PartialSignature::combine(&raw, &public, self.data)
            .ok_or_else(|| TssError::Bug("checked partial signatures did not combine".into()))?;
        EcdsaSignature::finish(sig, &self.digest, &self.public_key)
    }

    /// Our position in the committee.
    pub fn position(&self) -> PartyIndex {
        self.position
    }
}

/// The online round's only message: a partial signature, broadcast.
#[derive(Clone, Debug, Serialize, Deserialize, ProtocolMessage)]
pub enum OnlineMsg {
    /// Round 0: the sender's partial signature.
    Partial(PartialSignature),
}

/// The online step as a one-round protocol among the presignature's committee: every signer
/// broadcasts its partial signature, and every signer combines and checks all of them.
pub async fn sign_with_presignature<P>(
    presignature: Presignature,
    msg: &[u8],
    hash: MessageHash,
    party: P,
) -> Result<EcdsaSignature, TssError>
where
    P: Mpc<ProtocolMessage = OnlineMsg>,
{
    use futures::SinkExt;

    let n = presignature.committee().len() as u16;
    let me = presignature.position();
    let MpcParty { delivery, .. } = party.into_party();
    let (incoming, mut outgoing) = delivery.split();
    let mut rounds = RoundsRouter::<OnlineMsg>::builder();
    let round = rounds.add_round(RoundInput::<PartialSignature>::broadcast(me, n));
    let mut rounds = rounds.listen(incoming);

    let (mine, pending) = presignature.issue(msg, hash);
    outgoing
        .send(Outgoing::broadcast(OnlineMsg::Partial(mine)))
        .await
        .map_err(|e| online_error(&e))?;
    let theirs = rounds.complete(round).await.map_err(|e| online_error(&e))?;
    pending.combine(&theirs.into_vec_including_me(mine))
}

fn online_error(err: &(dyn std::error::Error + 'static)) -> TssError {
    protocol_error(err)
        .unwrap_or_else(|| TssError::Transport(format!("online signing round: {err}")))
}
