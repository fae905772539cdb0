//! FROST Ed25519 DKG, simulated in-process: honest runs for several thresholds, and hostile parties
//! (an invalid proof of knowledge, an echo that disagrees with the others' view of round 1) that
//! must be named by every honest party.

use std::collections::BTreeMap;

use frost_ed25519::keys::dkg;
use mpcium_tss::eddsa::keygen::{keygen, CommitMsg, EchoMsg, KeygenMsg, ShareMsg};
use mpcium_tss::eddsa::EddsaKeyShare;
use mpcium_tss::{ErrorKind, Participants, ProtocolKind, SessionId, Threshold, TssError};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use round_based::rounds_router::simple_store::RoundInput;
use round_based::rounds_router::RoundsRouter;
use round_based::sim::Simulation;
use round_based::{Delivery, Mpc, MpcParty, Outgoing, SinkExt};

fn session(n: u16) -> SessionId {
    let nodes = (0..n).map(|i| format!("node{i}")).collect();
    SessionId::derive(
        ProtocolKind::EddsaKeygen,
        b"wallet-1",
        &Participants::new(nodes).expect("ids"),
    )
}

fn run_keygen(t: u16, n: u16) -> Vec<EddsaKeyShare> {
    let sid = session(n);
    let threshold = Threshold::new(t, n).expect("threshold");
    round_based::sim::run_with_setup(
        (0..n).map(|i| ChaCha20Rng::seed_from_u64(u64::from(i))),
        |i, party: round_based::state_machine::MpcParty<KeygenMsg>, mut rng| async move {
            keygen(party, sid, i, n, threshold, &mut rng).await
        },
    )
    .expect("simulation")
    .expect_ok()
    .into_vec()
}

fn must_agree(shares: &[EddsaKeyShare], t: u16, n: u16) {
    let pk = shares[0].public_key().expect("public key");
    for (i, share) in shares.iter().enumerate() {
        assert_eq!(share.public_key().expect("public key"), pk, "party {i}");
        assert_eq!(
            share.public_key_package(),
            shares[0].public_key_package(),
            "party {i}"
        );
        assert_eq!(share.min_signers(), t);
        assert_eq!(share.max_signers(), n);
        assert_eq!(share.party_of(&share.identifier()), Some(i as u16));
    }
}

#[test]
fn two_of_three_keygen_gives_every_party_the_same_group_key() {
    must_agree(&run_keygen(2, 3), 2, 3);
}

#[test]
fn three_of_five_keygen_gives_every_party_the_same_group_key() {
    must_agree(&run_keygen(3, 5), 3, 5);
}

#[test]
fn n_of_n_keygen_gives_every_party_the_same_group_key() {
    must_agree(&run_keygen(4, 4), 4, 4);
}

#[derive(Clone, Copy)]
enum Attack {
    /// Round 1 carries a proof of knowledge made for another identifier.
    ForgedProof,
    /// Round 2 echoes a view of round 1 that differs from everyone else's.
    LyingEcho,
}

/// A DKG party that deviates as `attack` says and then stops.
async fn hostile_party<M: Mpc<ProtocolMessage = KeygenMsg>>(
    party: M,
    sid: SessionId,
    i: u16,
    n: u16,
    t: u16,
    attack: Attack,
) -> Result<EddsaKeyShare, TssError> {
    let mut rng = ChaCha20Rng::seed_from_u64(666);
    let MpcParty { delivery, .. } = party.into_party();
    let (incoming, mut outgoing) = delivery.split();
    let mut rounds = RoundsRouter::<KeygenMsg>::builder();
    let r1 = rounds.add_round(RoundInput::<CommitMsg>::broadcast(i, n));
    let _r2 = rounds.add_round(RoundInput::<EchoMsg>::broadcast(i, n));
    let _r3 = rounds.add_round(RoundInput::<ShareMsg>::p2p(i, n));
    let mut rounds = rounds.listen(incoming);

    let me = frost_ed25519::Identifier::try_from(i + 1).expect("id");
    let (secret, package) = dkg::part1(me, n, t, &mut rng).expect("part1");
    let package = match attack {
        Attack::ForgedProof => {
            let other = frost_ed25519::Identifier::try_from(n + 7).expect("id");
            dkg::part1(other, n, t, &mut rng).expect("part1").1
        }
        Attack::LyingEcho => package,
    };
    let session = *sid.as_bytes();
    let commit = KeygenMsg::Commit(CommitMsg { session, package });
    outgoing
        .send(Outgoing::broadcast(commit))
        .await
        .expect("send");
    let received = rounds.complete(r1).await.expect("round 1");
    if let Attack::LyingEcho = attack {
        let mut others = BTreeMap::new();
        for (j, _, msg) in received.into_iter_indexed() {
            others.insert(
                frost_ed25519::Identifier::try_from(j + 1).expect("id"),
                msg.package,
            );
        }
        let (_, shares) = dkg::part2(secret, &others).expect("part2");
        let echo = KeygenMsg::Echo(EchoMsg {
            session,
            view: [0x5a; 32],
        });
        outgoing
            .send(Outgoing::broadcast(echo))
            .await
            .expect("send");
        for j in (0..n).filter(|&j| j != i) {
            let id = frost_ed25519::Identifier::try_from(j + 1).expect("id");
            let package = shares[&id].clone();
            let msg = KeygenMsg::Share(ShareMsg { session, package });
            outgoing.send(Outgoing::p2p(j, msg)).await.expect("send");
        }
    }
    Err(TssError::InvalidInput("hostile party".into()))
}

fn run_with_hostile_party(
    t: u16,
    n: u16,
    bad: u16,
    attack: Attack,
) -> Vec<Result<EddsaKeyShare, TssError>> {
    let sid = session(n);
    let threshold = Threshold::new(t, n).expect("threshold");
    let mut sim = Simulation::<Result<EddsaKeyShare, TssError>, KeygenMsg>::empty();
    for i in 0..n {
        if i == bad {
            sim.add_async_party(move |party| hostile_party(party, sid, i, n, t, attack));
        } else {
            sim.add_async_party(move |party| async move {
                let mut rng = ChaCha20Rng::seed_from_u64(u64::from(i));
                keygen(party, sid, i, n, threshold, &mut rng).await
            });
        }
    }
    sim.run().expect("simulation").into_vec()
}

fn must_all_honest_blame(outputs: &[Result<EddsaKeyShare, TssError>], bad: u16) {
    for (i, out) in outputs.iter().enumerate() {
        if i == usize::from(bad) {
            continue;
        }
        let err = out.as_ref().expect_err("honest parties abort");
        assert_eq!(err.kind(), ErrorKind::Misbehaviour, "party {i}: {err}");
        assert_eq!(err.culprits(), &[bad], "party {i} blames the hostile party");
    }
}

#[test]
fn a_forged_proof_of_knowledge_aborts_keygen_and_names_its_sender() {
    must_all_honest_blame(&run_with_hostile_party(2, 3, 1, Attack::ForgedProof), 1);
}

#[test]
fn an_echo_that_disagrees_about_round_one_aborts_keygen_and_names_the_echoing_party() {
    must_all_honest_blame(&run_with_hostile_party(3, 4, 2, Attack::LyingEcho), 2);
}
