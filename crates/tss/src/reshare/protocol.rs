//! The resharing protocol itself, generic over the curve: four message rounds (three
//! communication rounds) between the dealing quorum of the old key and the new committee. See
//! `docs/resharing.md` for the rounds, the checks and why each is there; the curve adapters
//! (`super::ecdsa`, `super::eddsa`) turn stored shares into a [`Plan`] and the [`Outcome`] into
//! stored shares.

use std::collections::BTreeMap;

use generic_ec::{Curve, NonZero, Point, Scalar, SecretScalar};
use rand_core::{CryptoRng, RngCore};
use round_based::rounds_router::{CompleteRoundError, RoundsRouter};
use round_based::{Delivery, MessageType, Mpc, MpcParty, Outgoing, SinkExt};

use super::key_info::KeyInfo;
use super::messages::{self, CommitMsg, ConfirmMsg, ReshareMsg, RevealMsg, SubShareMsg};
use super::setup::ReshareSetup;
use super::store::{FromSenders, UnexpectedMessage};
use super::vss::{self, Polynomial};
use crate::error::{PartyIndex, TssError};
use crate::session::SessionId;

/// Everything one party needs to run a resharing.
pub(super) struct Plan<'a, E: Curve> {
    /// The session (binds request, participants and protocol).
    pub session: SessionId,
    /// The roles.
    pub setup: &'a ReshareSetup,
    /// The old key's public info (validated).
    pub old: &'a KeyInfo<E>,
    /// Our old secret share; required if we deal, ignored otherwise.
    pub my_old_share: Option<&'a SecretScalar<E>>,
}

/// What one party ends with.
pub(super) struct Outcome<E: Curve> {
    /// The new key's public info (same public key and chain code, new threshold and shares).
    pub new_key: KeyInfo<E>,
    /// Our new holder index and secret share, if we are in the new committee.
    pub share: Option<(u16, NonZero<SecretScalar<E>>)>,
}

/// One dealer's accepted dealing.
struct Dealing<E: Curve> {
    party: PartyIndex,
    coefficients: Vec<Point<E>>,
}

/// Runs the resharing as `plan.setup.me()`.
pub(super) async fn run<E, M, R>(
    party: M,
    plan: Plan<'_, E>,
    rng: &mut R,
) -> Result<Outcome<E>, TssError>
where
    E: Curve,
    M: Mpc<ProtocolMessage = ReshareMsg<E>>,
    R: RngCore + CryptoRng,
{
    let Plan {
        session,
        setup,
        old,
        my_old_share,
    } = plan;
    let me = setup.me();
    let sid = *session.as_bytes();
    let t_new = setup.new_threshold().signers();
    let old_key = old.digest();
    let weights = dealer_weights(setup, old)?;
    let my_new_index = setup.my_new_index();
    let my_secret = match setup
        .dealers()
        .iter()
        .zip(&weights)
        .find(|(d, _)| d.party == me)
    {
        Some((dealer, weight)) => Some(my_weighted_share(
            old,
            dealer.old_index,
            my_old_share,
            weight,
        )?),
        None => None,
    };

    let MpcParty { delivery, .. } = party.into_party();
    let (incoming, mut outgoing) = delivery.split();
    let dealer_parties: Vec<PartyIndex> = setup.dealers().iter().map(|d| d.party).collect();
    let mut rounds = RoundsRouter::<ReshareMsg<E>>::builder();
    let round1 = rounds.add_round(FromSenders::<CommitMsg>::new(
        me,
        dealer_parties.iter().copied(),
        MessageType::Broadcast,
    ));
    let round2 = rounds.add_round(FromSenders::<RevealMsg<E>>::new(
        me,
        dealer_parties.iter().copied(),
        MessageType::Broadcast,
    ));
    let sub_share_senders = if my_new_index.is_some() {
        dealer_parties.clone()
    } else {
        Vec::new()
    };
    let round3 = rounds.add_round(FromSenders::<SubShareMsg<E>>::new(
        me,
        sub_share_senders,
        MessageType::P2P,
    ));
    let round4 = rounds.add_round(FromSenders::<ConfirmMsg>::new(
        me,
        setup.new_committee().iter().copied(),
        MessageType::Broadcast,
    ));
    let mut rounds = rounds.listen(incoming);
    let send_failed = |e: M::SendError| TssError::Transport(format!("sending failed: {e}"));

    // Round 1: dealers commit to their polynomial.
    let own_dealing = match my_secret {
        Some(w) => {
            let f = Polynomial::random_with_constant(w, t_new, rng);
            let mut salt = [0u8; 32];
            rng.fill_bytes(&mut salt);
            let reveal = RevealMsg {
                session: sid,
                coefficients: f.commitments(),
                salt,
            };
            let commit = CommitMsg {
                session: sid,
                old_key,
                commitment: reveal.commitment(me),
            };
            outgoing
                .send(Outgoing::broadcast(ReshareMsg::Commit(commit)))
                .await
                .map_err(send_failed)?;
            Some((f, reveal))
        }
        None => None,
    };
    let commits = rounds.complete(round1).await.map_err(round_failed)?;
    for (&j, msg) in &commits {
        check_session(&sid, &msg.session, j)?;
        if msg.old_key != old_key {
            return Err(blame(j, "deals from different old key info than ours"));
        }
    }

    // Rounds 2 and 3: dealers reveal their commitments and deal the sub-shares.
    if let Some((f, reveal)) = &own_dealing {
        outgoing
            .feed(Outgoing::broadcast(ReshareMsg::Reveal(reveal.clone())))
            .await
            .map_err(send_failed)?;
        for (j, &p) in (0u16..).zip(setup.new_committee()) {
            if p == me {
                continue;
            }
            let msg = SubShareMsg {
                session: sid,
                share: f.evaluate(&new_index_scalar::<E>(j)?.into()),
            };
            outgoing
                .feed(Outgoing::p2p(p, ReshareMsg::SubShare(msg)))
                .await
                .map_err(send_failed)?;
        }
        outgoing.flush().await.map_err(send_failed)?;
    }
    let mut reveals = rounds.complete(round2).await.map_err(round_failed)?;
    let mut dealings = Vec::with_capacity(setup.dealers().len());
    for (dealer, weight) in setup.dealers().iter().zip(&weights) {
        let coefficients = if dealer.party == me {
            own_dealing
                .as_ref()
                .map(|(_, reveal)| reveal.coefficients.clone())
                .ok_or_else(|| TssError::Bug("a dealer without a dealing".into()))?
        } else {
            let reveal = reveals
                .remove(&dealer.party)
                .ok_or_else(|| TssError::Bug(format!("no reveal from dealer {}", dealer.party)))?;
            let commit = commits
                .get(&dealer.party)
                .ok_or_else(|| TssError::Bug(format!("no commit from dealer {}", dealer.party)))?;
            check_session(&sid, &reveal.session, dealer.party)?;
            check_reveal(
                old,
                dealer.old_index,
                weight,
                t_new,
                commit,
                &reveal,
                dealer.party,
            )?;
            reveal.coefficients
        };
        dealings.push(Dealing {
            party: dealer.party,
            coefficients,
        });
    }

    let share = match my_new_index {
        Some(j) => {
            let sub_shares = rounds.complete(round3).await.map_err(round_failed)?;
            let x = sum_sub_shares(
                &sid,
                j,
                &dealings,
                own_dealing.as_ref().map(|d| &d.0),
                &sub_shares,
                me,
            )?;
            Some((j, x))
        }
        None => None,
    };

    // Everyone: the new key info from the accepted dealings.
    let new_key = new_key_info(old, t_new, setup.new_committee().len(), &dealings)?;
    if let Some((j, x)) = &share {
        let expected: Point<E> = (Point::generator() * x).into();
        if new_key.public_share(*j).map(Point::from) != Some(expected) {
            return Err(TssError::Bug(
                "our new share does not match our new public share".into(),
            ));
        }
    }
    let dealt: Vec<(PartyIndex, &[Point<E>])> = dealings
        .iter()
        .map(|d| (d.party, d.coefficients.as_slice()))
        .collect();
    let view = messages::view(&sid, &setup.digest(), &old_key, &dealt);
    let confirm = ConfirmMsg {
        session: sid,
        view,
        new_key: new_key.digest(),
    };

    // Round 4: new holders confirm; everyone compares.
    if share.is_some() {
        outgoing
            .send(Outgoing::broadcast(ReshareMsg::Confirm(confirm.clone())))
            .await
            .map_err(send_failed)?;
    }
    let confirms = rounds.complete(round4).await.map_err(round_failed)?;
    for (&j, msg) in &confirms {
        check_session(&sid, &msg.session, j)?;
        if msg.view != confirm.view || msg.new_key != confirm.new_key {
            return Err(blame(
                j,
                "confirmed other dealings or another new key than we saw (equivocation)",
            ));
        }
    }
    Ok(Outcome { new_key, share })
}

/// Lagrange weight at zero of every dealer over the dealing quorum's old indices.
fn dealer_weights<E: Curve>(
    setup: &ReshareSetup,
    old: &KeyInfo<E>,
) -> Result<Vec<Scalar<E>>, TssError> {
    if setup.dealers().len() < usize::from(old.min_signers()) {
        return Err(TssError::InvalidInput(format!(
            "{} dealers cannot reshare a key that needs {} signers",
            setup.dealers().len(),
            old.min_signers()
        )));
    }
    let indices = setup
        .dealers()
        .iter()
        .map(|d| {
            old.index(d.old_index).ok_or_else(|| {
                TssError::InvalidInput(format!(
                    "old index {} is not one of the {} holders of the old key",
                    d.old_index,
                    old.holders()
                ))
            })
        })
        .collect::<Result<Vec<_>, TssError>>()?;
    (0..indices.len())
        .map(|k| {
            vss::lagrange_at_zero(&indices, k)
                .ok_or_else(|| TssError::Material("old key info repeats a share index".into()))
        })
        .collect()
}

/// `λ_i·x_i` for our own dealing, after checking our old share against the old key info.
fn my_weighted_share<E: Curve>(
    old: &KeyInfo<E>,
    old_index: u16,
    my_old_share: Option<&SecretScalar<E>>,
    weight: &Scalar<E>,
) -> Result<SecretScalar<E>, TssError> {
    let x = my_old_share.ok_or_else(|| {
        TssError::InvalidInput("we are a dealer but were given no old share".into())
    })?;
    if old.public_share(old_index).map(Point::from) != Some(Point::generator() * x) {
        return Err(TssError::InvalidInput(format!(
            "our old share is not the share of old holder {old_index}"
        )));
    }
    let mut w = weight * x.as_ref();
    Ok(SecretScalar::new(&mut w))
}

/// Checks a revealed dealing: it opens the round-1 commitment, has `t_new` coefficients, and its
/// constant term is the dealer's weighted old public share `λ_i·X_i`.
fn check_reveal<E: Curve>(
    old: &KeyInfo<E>,
    old_index: u16,
    weight: &Scalar<E>,
    t_new: u16,
    commit: &CommitMsg,
    reveal: &RevealMsg<E>,
    dealer: PartyIndex,
) -> Result<(), TssError> {
    if reveal.commitment(dealer) != commit.commitment {
        return Err(blame(
            dealer,
            "revealed commitments that do not open its round-1 hash",
        ));
    }
    if reveal.coefficients.len() != usize::from(t_new) {
        return Err(blame(dealer, "dealt a polynomial of the wrong degree"));
    }
    let expected = old
        .public_share(old_index)
        .map(|x| weight * Point::from(x))
        .ok_or_else(|| TssError::Bug(format!("old holder {old_index} vanished")))?;
    if reveal.coefficients.first() != Some(&expected) {
        return Err(blame(
            dealer,
            "dealt a constant term that is not its weighted old share",
        ));
    }
    Ok(())
}

/// Verifies every sub-share we received against its dealer's commitments and sums them (with our
/// own, if we also deal) into our new share `x'_j = Σ_i f_i(j + 1)`.
fn sum_sub_shares<E: Curve>(
    sid: &[u8; 32],
    j: u16,
    dealings: &[Dealing<E>],
    own_polynomial: Option<&Polynomial<E>>,
    sub_shares: &BTreeMap<PartyIndex, SubShareMsg<E>>,
    me: PartyIndex,
) -> Result<NonZero<SecretScalar<E>>, TssError> {
    let x = new_index_scalar::<E>(j)?;
    let mut acc = Scalar::<E>::zero();
    for dealing in dealings {
        if dealing.party == me {
            let f = own_polynomial
                .ok_or_else(|| TssError::Bug("a dealer without a polynomial".into()))?;
            acc += f.evaluate(&x).as_ref();
            continue;
        }
        let msg = sub_shares
            .get(&dealing.party)
            .ok_or_else(|| TssError::Bug(format!("no sub-share from dealer {}", dealing.party)))?;
        check_session(sid, &msg.session, dealing.party)?;
        if Point::generator() * &msg.share != vss::evaluate_commitments(&dealing.coefficients, &x) {
            return Err(blame(
                dealing.party,
                "sent a sub-share that does not match its commitments",
            ));
        }
        acc += msg.share.as_ref();
    }
    NonZero::from_secret_scalar(SecretScalar::new(&mut acc)).ok_or_else(|| {
        TssError::Bug(
            "the new share is zero (negligible probability): run the reshare again".into(),
        )
    })
}

/// The new key info: public shares `X'_m = Σ_i F_i(m + 1)·G` of every new holder, checked to
/// interpolate to the unchanged public key.
fn new_key_info<E: Curve>(
    old: &KeyInfo<E>,
    t_new: u16,
    n_new: usize,
    dealings: &[Dealing<E>],
) -> Result<KeyInfo<E>, TssError> {
    let mut summed = vec![Point::<E>::zero(); usize::from(t_new)];
    for dealing in dealings {
        for (acc, c) in summed.iter_mut().zip(&dealing.coefficients) {
            *acc += c;
        }
    }
    if summed.first() != Some(&Point::from(old.shared_public_key())) {
        return Err(TssError::Bug(
            "the dealings do not sum to the shared public key".into(),
        ));
    }
    let mut indices = Vec::with_capacity(n_new);
    let mut public_shares = Vec::with_capacity(n_new);
    for m in 0..n_new {
        let m = u16::try_from(m).map_err(|_| TssError::Bug("new committee too large".into()))?;
        let index = new_index_scalar::<E>(m)?;
        let share =
            NonZero::from_point(vss::evaluate_commitments(&summed, &index)).ok_or_else(|| {
                TssError::Bug(format!(
                    "new public share {m} is the identity: run the reshare again"
                ))
            })?;
        indices.push(index);
        public_shares.push(share);
    }
    KeyInfo::new(
        old.shared_public_key(),
        t_new,
        indices,
        public_shares,
        old.chain_code(),
    )
    .map_err(|e| TssError::Bug(format!("new key info is inconsistent: {e}")))
}

/// Share index of new holder `j`: `j + 1`.
fn new_index_scalar<E: Curve>(j: u16) -> Result<NonZero<Scalar<E>>, TssError> {
    j.checked_add(1)
        .and_then(vss::index_scalar)
        .ok_or_else(|| TssError::InvalidInput(format!("new holder index {j} is too large")))
}

fn check_session(ours: &[u8; 32], theirs: &[u8; 32], sender: PartyIndex) -> Result<(), TssError> {
    if ours == theirs {
        Ok(())
    } else {
        Err(TssError::BadMessage {
            sender,
            reason: "message belongs to another session".into(),
        })
    }
}

fn blame(culprit: PartyIndex, reason: &str) -> TssError {
    TssError::Misbehaviour {
        culprits: vec![culprit],
        reason: reason.into(),
    }
}

fn round_failed<IoErr>(err: CompleteRoundError<UnexpectedMessage, IoErr>) -> TssError
where
    IoErr: std::error::Error + Send + Sync + 'static,
{
    match err {
        CompleteRoundError::ProcessMessage(e) => e.into(),
        other => crate::delivery::protocol_error(&other)
            .unwrap_or_else(|| TssError::Transport(format!("round failed: {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reshare::setup::Dealer;
    use crate::Threshold;
    use generic_ec::curves::Secp256k1;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use round_based::sim::Simulation;

    type E = Secp256k1;

    /// A dealer-made 2-of-3 key: its key info and the three secret shares.
    fn must_old_key() -> (KeyInfo<E>, Vec<SecretScalar<E>>) {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let secret = SecretScalar::<E>::random(&mut rng);
        let f = Polynomial::random_with_constant(secret.clone(), 2, &mut rng);
        let indices: Vec<_> = (1..=3)
            .map(|j| vss::index_scalar(j).expect("index"))
            .collect();
        let shares: Vec<_> = indices.iter().map(|i| f.evaluate(i.as_ref())).collect();
        let public_shares = shares
            .iter()
            .map(|x| NonZero::from_point(Point::generator() * x).expect("non-zero"))
            .collect();
        let pk = NonZero::from_point(Point::generator() * &secret).expect("non-zero");
        let info = KeyInfo::new(pk, 2, indices, public_shares, None).expect("key info");
        (info, shares)
    }

    fn must_setup(me: PartyIndex) -> ReshareSetup {
        let dealers = vec![
            Dealer {
                party: 0,
                old_index: 0,
            },
            Dealer {
                party: 1,
                old_index: 1,
            },
        ];
        let threshold = Threshold::new(2, 3).expect("threshold");
        ReshareSetup::new(me, 3, dealers, vec![0, 1, 2], threshold).expect("setup")
    }

    /// Party 0 of [`must_setup`]: commits to and deals a polynomial whose constant term is its
    /// weighted old share plus one — consistently, so only the constant-term check can catch it.
    async fn dealer_with_a_shifted_constant<M: Mpc<ProtocolMessage = ReshareMsg<E>>>(
        party: M,
        sid: SessionId,
        old: KeyInfo<E>,
        x0: SecretScalar<E>,
    ) -> Result<(), TssError> {
        let setup = must_setup(0);
        let MpcParty { delivery, .. } = party.into_party();
        let (_incoming, mut outgoing) = delivery.split();
        let failed = |e: M::SendError| TssError::Transport(e.to_string());
        let weight = dealer_weights(&setup, &old)?
            .first()
            .copied()
            .ok_or_else(|| TssError::Bug("no weight".into()))?;
        let mut w = weight * x0.as_ref() + Scalar::one();
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let f = Polynomial::random_with_constant(SecretScalar::new(&mut w), 2, &mut rng);
        let session = *sid.as_bytes();
        let reveal = RevealMsg {
            session,
            coefficients: f.commitments(),
            salt: [7; 32],
        };
        let commit = CommitMsg {
            session,
            old_key: old.digest(),
            commitment: reveal.commitment(0),
        };
        outgoing
            .send(Outgoing::broadcast(ReshareMsg::Commit(commit)))
            .await
            .map_err(failed)?;
        outgoing
            .send(Outgoing::broadcast(ReshareMsg::Reveal(reveal)))
            .await
            .map_err(failed)?;
        for j in 1..3u16 {
            let share = f.evaluate(&new_index_scalar::<E>(j)?.into());
            outgoing
                .send(Outgoing::p2p(
                    j,
                    ReshareMsg::SubShare(SubShareMsg { session, share }),
                ))
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    #[test]
    fn a_dealer_whose_constant_term_is_not_its_weighted_old_share_is_named_by_everyone() {
        let (old, shares) = must_old_key();
        let sid = SessionId::from_bytes([3; 32]);
        let mut sim = Simulation::<Result<(), TssError>, ReshareMsg<E>>::empty();
        let (old0, x0) = (old.clone(), shares[0].clone());
        sim.add_async_party(move |party| dealer_with_a_shifted_constant(party, sid, old0, x0));
        for me in 1..3u16 {
            let old = old.clone();
            let x = shares[usize::from(me)].clone();
            sim.add_async_party(move |party| async move {
                let setup = must_setup(me);
                let plan = Plan {
                    session: sid,
                    setup: &setup,
                    old: &old,
                    my_old_share: Some(&x),
                };
                let mut rng = ChaCha20Rng::seed_from_u64(u64::from(me));
                run(party, plan, &mut rng).await.map(|_| ())
            });
        }
        let results = sim.run().expect("simulation").into_vec();
        for (i, r) in results.iter().enumerate().skip(1) {
            let err = r.as_ref().expect_err("honest parties abort");
            assert_eq!(err.culprits(), &[0], "party {i}: {err}");
            assert!(err.to_string().contains("constant term"), "{err}");
        }
    }

    #[test]
    fn fewer_dealers_than_the_old_threshold_are_refused() {
        let (old, _) = must_old_key();
        let dealers = vec![Dealer {
            party: 0,
            old_index: 0,
        }];
        let setup = ReshareSetup::new(
            0,
            3,
            dealers,
            vec![0, 1, 2],
            Threshold::new(2, 3).expect("threshold"),
        )
        .expect("setup");
        let err = dealer_weights(&setup, &old).expect_err("one dealer for a 2-of-3 key");
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_dealer_given_another_holders_share_is_refused() {
        let (old, shares) = must_old_key();
        let err = my_weighted_share(&old, 0, Some(&shares[1]), &Scalar::one())
            .expect_err("share of holder 1 used as holder 0");
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
    }
}
