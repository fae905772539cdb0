//! Names the sender of a bad partial signature in the last round of full signing.
//!
//! cggmp24 `=0.7.0-alpha.3` checks every partial signature `σ_j` of round 4 against its
//! presignature commitment inside `PartialSignature::combine`, but reports a failure only as
//! `SignatureInvalid`, without the sender (`src/signing.rs:1476-1482`; identifiable abort is not
//! implemented). Everything that check needs is public and passes our delivery: `Γ_j` (round 2),
//! `δ_j, Δ_j, S_j` (round 3) and `σ_j` (round 4) of every signer, ours included. [`observe`]
//! records the first of each (as the engine keeps the first) on both halves of the party, and
//! after such an abort [`Transcript::culprits`] repeats the check per signer:
//! `δ·σ_j·Γ = m·Δ_j + r·S_j` with `Γ = Σ Γ_j`, `δ = Σ δ_j`, `r = x(Γ)` — cggmp24's
//! `σ_j·Γ = m·Δ̃_j + r·S̃_j` with `Δ̃_j = δ⁻¹·Δ_j`, `S̃_j = δ⁻¹·S_j`, multiplied by `δ`.
//!
//! Only public values are recorded. The observation changes nothing that is delivered or sent.

use std::sync::{Arc, Mutex, PoisonError};

use cggmp24::generic_ec::coords::AlwaysHasAffineX;
use cggmp24::generic_ec::{NonZero, Point, Scalar};
use cggmp24::signing::msg::Msg;
use futures::{future, SinkExt, StreamExt};
use round_based::{Delivery, Incoming, Mpc, MpcParty, Outgoing};

use super::{Curve, SigningMsg};
use crate::error::PartyIndex;
use crate::TssError;

/// Round 3 values of one signer: `(δ_j, Δ_j, S_j)`.
type Round3 = (Scalar<Curve>, Point<Curve>, Point<Curve>);

/// The public values of every signer that the partial-signature check needs, first seen wins.
pub(super) struct Transcript {
    gamma: Vec<Option<Point<Curve>>>,
    round3: Vec<Option<Round3>>,
    sigma: Vec<Option<Scalar<Curve>>>,
}

impl Transcript {
    fn new(n: usize) -> Self {
        Self {
            gamma: vec![None; n],
            round3: vec![None; n],
            sigma: vec![None; n],
        }
    }

    fn record(&mut self, sender: PartyIndex, msg: &SigningMsg) {
        fn first<T: Clone>(slot: Option<&mut Option<T>>, value: &T) {
            if let Some(slot @ None) = slot {
                *slot = Some(value.clone());
            }
        }
        let j = usize::from(sender);
        match msg {
            Msg::Round2(m) => first(self.gamma.get_mut(j), &m.Gamma),
            Msg::Round3(m) => first(self.round3.get_mut(j), &(m.delta, m.Delta, m.S)),
            Msg::Round4(m) => first(self.sigma.get_mut(j), &m.partial_sig.sigma),
            _ => {}
        }
    }

    /// The signers whose partial signature on the message scalar `m` does not match their
    /// commitment, or `None` if the transcript is incomplete (the abort came earlier).
    pub(super) fn culprits(&self, m: Scalar<Curve>) -> Option<Vec<PartyIndex>> {
        let gamma: Point<Curve> = self.gamma.iter().copied().sum::<Option<Point<Curve>>>()?;
        let round3: Vec<Round3> = self.round3.iter().copied().collect::<Option<_>>()?;
        let sigma: Vec<Scalar<Curve>> = self.sigma.iter().copied().collect::<Option<_>>()?;
        let delta: Scalar<Curve> = round3.iter().map(|(d, _, _)| d).sum();
        let r = NonZero::from_point(gamma)?.x().to_scalar();
        Some(
            round3
                .iter()
                .zip(&sigma)
                .enumerate()
                .filter(|(_, ((_, big_delta, s), sigma))| {
                    delta * *sigma * gamma != m * big_delta + r * s
                })
                .map(|(j, _)| j as PartyIndex)
                .collect(),
        )
    }
}

/// Wraps `party` (our position `me` of `n` signers) so that both directions are recorded into
/// the returned transcript.
pub(super) fn observe<P>(
    party: P,
    me: PartyIndex,
    n: u16,
) -> (
    impl Mpc<ProtocolMessage = SigningMsg>,
    Arc<Mutex<Transcript>>,
)
where
    P: Mpc<ProtocolMessage = SigningMsg>,
{
    let transcript = Arc::new(Mutex::new(Transcript::new(usize::from(n))));
    let MpcParty {
        delivery, runtime, ..
    } = party.into_party();
    let (incoming, outgoing) = delivery.split();
    let seen = Arc::clone(&transcript);
    let incoming = incoming.inspect(move |item: &Result<Incoming<SigningMsg>, _>| {
        if let Ok(m) = item {
            lock(&seen).record(m.sender, &m.msg);
        }
    });
    let sent = Arc::clone(&transcript);
    let outgoing = outgoing.with(move |out: Outgoing<SigningMsg>| {
        lock(&sent).record(me, &out.msg);
        future::ready(Ok::<_, P::SendError>(out))
    });
    let party = MpcParty::connected((incoming, outgoing)).set_runtime(runtime);
    (party, transcript)
}

/// Names the round-4 culprits in `err` if it is an abort without culprits and the transcript
/// shows whose partial signature on `m` is bad; otherwise returns `err` unchanged.
pub(super) fn name_culprits(
    err: TssError,
    transcript: &Mutex<Transcript>,
    m: Scalar<Curve>,
) -> TssError {
    if !matches!(&err, TssError::Misbehaviour { culprits, .. } if culprits.is_empty()) {
        return err;
    }
    match lock(transcript).culprits(m) {
        Some(culprits) if !culprits.is_empty() => TssError::Misbehaviour {
            culprits,
            reason: "signing round 4: partial signature does not match the sender's \
                     presignature commitment (named by our layer)"
                .into(),
        },
        _ => err,
    }
}

/// The transcript only ever holds complete values, so a poisoned lock is still usable.
fn lock(t: &Mutex<Transcript>) -> std::sync::MutexGuard<'_, Transcript> {
    t.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incomplete_transcript_names_nobody() {
        let mut t = Transcript::new(2);
        assert!(t.culprits(Scalar::one()).is_none());
        t.gamma = vec![Some(Point::generator().to_point()); 2];
        t.round3 = vec![Some((Scalar::one(), Point::zero(), Point::zero())); 2];
        t.sigma = vec![Some(Scalar::one()), None];
        assert!(t.culprits(Scalar::one()).is_none());
    }
}
