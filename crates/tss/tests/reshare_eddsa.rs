//! Ed25519 resharing end to end: refresh, adding, removing and replacing a node, and changing
//! only the threshold. Every honest run is simulated in-process (`round_based::sim`) and followed
//! by FROST signing with the new committee, checked with ed25519-dalek `verify_strict` against the
//! unchanged public key. Hostile dealers run behind the real byte delivery on threads (the
//! simulator cannot end a run in which only some parties abort), and must be named.

mod ecdsa_support;

use ecdsa_support::{run_parties, Tamper};
use ed25519_dalek::{Signature, VerifyingKey};
use frost_ed25519::keys::PublicKeyPackage;
use generic_ec::curves::Ed25519;
use generic_ec::{Point, Scalar, SecretScalar};
use mpcium_tss::delivery::{connect, WireMessage};
use mpcium_tss::eddsa::keygen::{keygen, KeygenMsg};
use mpcium_tss::eddsa::sign::{sign, SignMsg};
use mpcium_tss::eddsa::EddsaKeyShare;
use mpcium_tss::reshare::{
    reshare_eddsa, EddsaReshareMsg, EddsaReshareOutput, ReshareMsg, ReshareSetup,
};
use mpcium_tss::{ErrorKind, Participants, ProtocolKind, SessionId, Threshold, TssError};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn node(k: u16) -> String {
    format!("node{k}")
}

/// Keygen among `node0..node{n-1}`: holder `k` is `node{k}`.
fn must_keygen(t: u16, n: u16) -> Vec<EddsaKeyShare> {
    let nodes = (0..n).map(node).collect();
    let sid = SessionId::derive(
        ProtocolKind::EddsaKeygen,
        format!("keygen {t}-of-{n}").as_bytes(),
        &Participants::new(nodes).expect("participants"),
    );
    let threshold = Threshold::new(t, n).expect("threshold");
    round_based::sim::run_with_setup(
        (0..n).map(|i| ChaCha20Rng::seed_from_u64(100 + u64::from(i))),
        |i, party: round_based::state_machine::MpcParty<KeygenMsg>, mut rng| async move {
            keygen(party, sid, i, n, threshold, &mut rng).await
        },
    )
    .expect("simulation")
    .expect_ok()
    .into_vec()
}

/// One reshare: the old holders named by `old_nodes` (holder `k` is `old_nodes[k]`), the dealing
/// quorum `dealers` (old holder indices), the new committee `new_nodes` with `t_new` signers.
struct Reshare<'a> {
    old_shares: &'a [EddsaKeyShare],
    old_nodes: &'a [String],
    dealers: &'a [u16],
    new_nodes: &'a [String],
    t_new: u16,
}

impl Reshare<'_> {
    /// Every participant's setup, in session order, and the session id.
    fn must_plan(&self) -> (SessionId, Vec<ReshareSetup>) {
        let dealers: Vec<(String, u16)> = self
            .dealers
            .iter()
            .map(|&k| (self.old_nodes[usize::from(k)].clone(), k))
            .collect();
        let threshold =
            Threshold::new(self.t_new, self.new_nodes.len() as u16).expect("new threshold");
        let (participants, _) =
            ReshareSetup::from_nodes(&dealers[0].0, &dealers, self.new_nodes, threshold)
                .expect("setup");
        let setups = participants
            .nodes()
            .iter()
            .map(|me| {
                ReshareSetup::from_nodes(me, &dealers, self.new_nodes, threshold)
                    .expect("setup")
                    .1
            })
            .collect();
        let sid = SessionId::derive(ProtocolKind::EddsaReshare, b"reshare", &participants);
        (sid, setups)
    }

    /// The old share of the participant with `setup`, if it held one.
    fn old_share_of(&self, setup: &ReshareSetup, participants: &[String]) -> Option<EddsaKeyShare> {
        let me = &participants[usize::from(setup.me())];
        self.old_nodes
            .iter()
            .position(|n| n == me)
            .map(|k| self.old_shares[k].clone())
    }

    fn participants(&self) -> Vec<String> {
        let mut nodes = self.new_nodes.to_vec();
        for &k in self.dealers {
            let n = &self.old_nodes[usize::from(k)];
            if !nodes.contains(n) {
                nodes.push(n.clone());
            }
        }
        nodes
    }

    fn old_package(&self) -> PublicKeyPackage {
        self.old_shares[0].public_key_package().clone()
    }

    /// Runs the reshare in the simulator; returns every participant's output in session order.
    fn must_run(&self) -> Vec<EddsaReshareOutput> {
        let (sid, setups) = self.must_plan();
        let participants = self.participants();
        let old = self.old_package();
        let inputs: Vec<_> = setups
            .into_iter()
            .map(|s| {
                let share = self.old_share_of(&s, &participants);
                let rng = ChaCha20Rng::seed_from_u64(500 + u64::from(s.me()));
                (s, share, rng)
            })
            .collect();
        let old = &old;
        round_based::sim::run_with_setup(
            inputs,
            |_,
             party: round_based::state_machine::MpcParty<EddsaReshareMsg>,
             (setup, share, mut rng)| async move {
                reshare_eddsa(party, sid, &setup, old, share.as_ref(), &mut rng).await
            },
        )
        .expect("simulation")
        .expect_ok()
        .into_vec()
    }

    /// Runs the reshare on threads behind the real delivery, with `tamper` applied in flight.
    fn run_tampered(&self, tamper: Tamper) -> Vec<Result<EddsaReshareOutput, TssError>> {
        let (sid, setups) = self.must_plan();
        let participants = self.participants();
        let old = self.old_package();
        let n = setups.len() as u16;
        run_parties(n, Some(tamper), |i, rx, tx| {
            let setup = setups[usize::from(i)].clone();
            let share = self.old_share_of(&setup, &participants);
            let old = &old;
            async move {
                let mut rng = ChaCha20Rng::seed_from_u64(900 + u64::from(i));
                let party = connect(sid, i, n, rx, tx);
                reshare_eddsa(party, sid, &setup, old, share.as_ref(), &mut rng).await
            }
        })
    }
}

/// Checks that every participant agrees on the new key, that it keeps the old public key, and
/// returns the new shares in new-holder order.
fn must_new_shares(
    outputs: Vec<EddsaReshareOutput>,
    old_key: [u8; 32],
    t_new: u16,
    n_new: u16,
) -> Vec<EddsaKeyShare> {
    let digest = outputs[0].new_key_digest;
    for out in &outputs {
        assert_eq!(out.new_key_digest, digest, "every participant agrees");
        assert_eq!(out.public_key_package, outputs[0].public_key_package);
    }
    // Session order puts the new committee first, in new-holder order.
    let shares: Vec<EddsaKeyShare> = outputs
        .into_iter()
        .take(usize::from(n_new))
        .map(|o| o.share.expect("a new holder gets a share"))
        .collect();
    for share in &shares {
        assert_eq!(share.public_key().expect("key"), old_key, "public key kept");
        assert_eq!(share.min_signers(), t_new);
        assert_eq!(share.max_signers(), n_new);
    }
    shares
}

fn must_sign_and_verify(shares: &[EddsaKeyShare], signers: &[u16], public_key: &[u8; 32]) {
    let message = format!("after reshare, signed by {signers:?}");
    let nodes = signers.iter().map(|&s| node(s)).collect();
    let sid = SessionId::derive(
        ProtocolKind::EddsaSign,
        message.as_bytes(),
        &Participants::new(nodes).expect("participants"),
    );
    let message = message.as_bytes();
    let sigs = round_based::sim::run_with_setup(
        signers.iter().map(|&s| {
            (
                shares[usize::from(s)].clone(),
                ChaCha20Rng::seed_from_u64(70 + u64::from(s)),
            )
        }),
        |i, party: round_based::state_machine::MpcParty<SignMsg>, (share, mut rng)| async move {
            sign(party, sid, i, signers, &share, message, &mut rng).await
        },
    )
    .expect("simulation")
    .expect_ok()
    .into_vec();
    let key = VerifyingKey::from_bytes(public_key).expect("public key");
    for sig in &sigs {
        key.verify_strict(message, &Signature::from_bytes(sig))
            .expect("signature of the new committee verifies under the old key");
    }
}

fn nodes(ks: &[u16]) -> Vec<String> {
    ks.iter().map(|&k| node(k)).collect()
}

#[test]
fn refreshing_a_2_of_3_key_gives_new_shares_that_sign_for_the_same_key() {
    let old = must_keygen(2, 3);
    let key = old[0].public_key().expect("key");
    let outputs = Reshare {
        old_shares: &old,
        old_nodes: &nodes(&[0, 1, 2]),
        dealers: &[0, 1],
        new_nodes: &nodes(&[0, 1, 2]),
        t_new: 2,
    }
    .must_run();
    let new = must_new_shares(outputs, key, 2, 3);
    for k in 0..3 {
        assert_ne!(
            new[k].key_package().signing_share(),
            old[k].key_package().signing_share(),
            "holder {k} has a fresh share"
        );
    }
    for signers in [[0u16, 1], [0, 2], [1, 2]] {
        must_sign_and_verify(&new, &signers, &key);
    }
}

#[test]
fn adding_a_node_turns_2_of_3_into_3_of_4() {
    let old = must_keygen(2, 3);
    let key = old[0].public_key().expect("key");
    let outputs = Reshare {
        old_shares: &old,
        old_nodes: &nodes(&[0, 1, 2]),
        dealers: &[1, 2],
        new_nodes: &nodes(&[0, 1, 2, 3]),
        t_new: 3,
    }
    .must_run();
    let new = must_new_shares(outputs, key, 3, 4);
    must_sign_and_verify(&new, &[0, 1, 3], &key);
    must_sign_and_verify(&new, &[1, 2, 3], &key);
}

#[test]
fn removing_a_node_turns_3_of_4_into_2_of_3_and_its_old_share_no_longer_combines() {
    let old = must_keygen(3, 4);
    let key = old[0].public_key().expect("key");
    let outputs = Reshare {
        old_shares: &old,
        old_nodes: &nodes(&[0, 1, 2, 3]),
        // The leaving node deals too.
        dealers: &[1, 2, 3],
        new_nodes: &nodes(&[0, 1, 2]),
        t_new: 2,
    }
    .must_run();
    assert_eq!(outputs.len(), 4);
    assert!(outputs[3].share.is_none(), "the leaving node gets no share");
    let new = must_new_shares(outputs, key, 2, 3);
    must_sign_and_verify(&new, &[0, 2], &key);

    // Two new shares reconstruct the key; the removed node's old share with any one new share
    // does not.
    let y = Point::<Ed25519>::from_bytes(key).expect("point");
    let scalar = |s: &EddsaKeyShare| {
        SecretScalar::<Ed25519>::from_le_bytes(&s.key_package().signing_share().serialize())
            .expect("scalar")
    };
    let combine = |parts: &[(u16, SecretScalar<Ed25519>)]| {
        let indices: Vec<Scalar<Ed25519>> = parts.iter().map(|(i, _)| Scalar::from(*i)).collect();
        let mut acc = Scalar::<Ed25519>::zero();
        for (k, (_, x)) in parts.iter().enumerate() {
            let mut lambda = Scalar::<Ed25519>::one();
            for (m, other) in indices.iter().enumerate() {
                if m != k {
                    lambda = lambda * other * (*other - indices[k]).invert().expect("distinct");
                }
            }
            acc += lambda * x.as_ref();
        }
        Point::generator() * acc
    };
    assert_eq!(combine(&[(1, scalar(&new[0])), (2, scalar(&new[1]))]), y);
    for (j, share) in (1u16..).zip(&new) {
        if j == 4 {
            continue;
        }
        assert_ne!(combine(&[(4, scalar(&old[3])), (j, scalar(share))]), y);
    }
}

#[test]
fn replacing_one_node_moves_its_share_to_the_newcomer() {
    let old = must_keygen(2, 3);
    let key = old[0].public_key().expect("key");
    let outputs = Reshare {
        old_shares: &old,
        old_nodes: &nodes(&[0, 1, 2]),
        dealers: &[0, 2],
        new_nodes: &nodes(&[0, 1, 3]),
        t_new: 2,
    }
    .must_run();
    let new = must_new_shares(outputs, key, 2, 3);
    must_sign_and_verify(&new, &[1, 2], &key);
    must_sign_and_verify(&new, &[0, 2], &key);
}

#[test]
fn changing_only_the_threshold_turns_2_of_3_into_3_of_3() {
    let old = must_keygen(2, 3);
    let key = old[0].public_key().expect("key");
    let outputs = Reshare {
        old_shares: &old,
        old_nodes: &nodes(&[0, 1, 2]),
        dealers: &[0, 1],
        new_nodes: &nodes(&[0, 1, 2]),
        t_new: 3,
    }
    .must_run();
    let new = must_new_shares(outputs, key, 3, 3);
    must_sign_and_verify(&new, &[0, 1, 2], &key);
}

#[test]
fn a_threshold_below_majority_of_the_new_committee_is_refused_before_any_message() {
    let threshold = Threshold::new(2, 3).expect("valid for three");
    let err = ReshareSetup::from_nodes(
        "node0",
        &[("node0".into(), 0), ("node1".into(), 1)],
        &nodes(&[0, 1, 2, 3, 4]),
        threshold,
    )
    .expect_err("2 of 5 is below majority");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

/// Changes the sub-shares `bad` sends (to every recipient) by adding one.
fn shift_sub_shares_of(bad: u16) -> Tamper {
    Box::new(move |msg: &mut WireMessage| {
        if msg.sender != bad || msg.recipient.is_none() {
            return;
        }
        let mut decoded: EddsaReshareMsg = serde_json::from_slice(&msg.payload).expect("decode");
        if let ReshareMsg::SubShare(sub) = &mut decoded {
            let mut shifted = sub.share.as_ref() + Scalar::one();
            sub.share = SecretScalar::new(&mut shifted);
        }
        *msg.payload = serde_json::to_vec(&decoded).expect("encode");
    })
}

#[test]
fn a_dealer_that_sends_a_bad_sub_share_is_named_by_the_holder_that_got_it() {
    let old = must_keygen(2, 3);
    let reshare = Reshare {
        old_shares: &old,
        old_nodes: &nodes(&[0, 1, 2]),
        dealers: &[0, 1],
        new_nodes: &nodes(&[0, 1, 2]),
        t_new: 2,
    };
    // Session party 1 (node1) deals bad sub-shares to parties 0 and 2.
    let results = reshare.run_tampered(shift_sub_shares_of(1));
    assert!(results.iter().all(|r| r.is_err()), "nobody switches keys");
    let named = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| e.kind() == ErrorKind::Misbehaviour)
        .collect::<Vec<_>>();
    assert!(!named.is_empty(), "some holder detected the bad sub-share");
    for err in named {
        assert_eq!(err.culprits(), &[1], "{err}");
        assert!(err.to_string().contains("sub-share"), "{err}");
    }
}

/// Moves the constant term of the commitments `bad` reveals.
fn shift_constant_term_of(bad: u16) -> Tamper {
    Box::new(move |msg: &mut WireMessage| {
        if msg.sender != bad {
            return;
        }
        let mut decoded: EddsaReshareMsg = serde_json::from_slice(&msg.payload).expect("decode");
        if let ReshareMsg::Reveal(reveal) = &mut decoded {
            reveal.coefficients[0] += Point::generator();
        }
        *msg.payload = serde_json::to_vec(&decoded).expect("encode");
    })
}

#[test]
fn a_dealer_whose_reveal_does_not_open_its_commitment_is_named_by_everyone_who_sees_it() {
    let old = must_keygen(2, 3);
    let reshare = Reshare {
        old_shares: &old,
        old_nodes: &nodes(&[0, 1, 2]),
        dealers: &[0, 2],
        new_nodes: &nodes(&[0, 1, 2]),
        t_new: 2,
    };
    let results = reshare.run_tampered(shift_constant_term_of(0));
    // The test network closes every inbox once a party aborts (a node would time out instead),
    // so a party that had not yet seen the bad reveal stops with a transport error; every party
    // that saw it names dealer 0, and nobody names anyone else.
    let mut named = 0;
    for (i, r) in results.iter().enumerate().skip(1) {
        let err = r.as_ref().expect_err("honest parties abort");
        if err.kind() == ErrorKind::Transport {
            continue;
        }
        assert_eq!(err.culprits(), &[0], "party {i}: {err}");
        assert_eq!(err.kind(), ErrorKind::Misbehaviour);
        named += 1;
    }
    assert!(named > 0, "nobody named the dealer");
}

#[test]
fn a_holder_whose_confirmation_differs_is_named() {
    let old = must_keygen(2, 3);
    let reshare = Reshare {
        old_shares: &old,
        old_nodes: &nodes(&[0, 1, 2]),
        dealers: &[0, 1],
        new_nodes: &nodes(&[0, 1, 2]),
        t_new: 2,
    };
    let liar: u16 = 2;
    let tamper: Tamper = Box::new(move |msg: &mut WireMessage| {
        if msg.sender != liar {
            return;
        }
        let mut decoded: EddsaReshareMsg = serde_json::from_slice(&msg.payload).expect("decode");
        if let ReshareMsg::Confirm(confirm) = &mut decoded {
            confirm.view[0] ^= 1;
        }
        *msg.payload = serde_json::to_vec(&decoded).expect("encode");
    });
    let results = reshare.run_tampered(tamper);
    // The liar itself may finish (every confirmation it saw matched); the honest holders must
    // not, and whoever names someone names the liar. The node switches only after every holder
    // confirmed, so the liar's share stays pending and is discarded.
    assert!(
        results[..usize::from(liar)].iter().all(|r| r.is_err()),
        "no honest holder finishes"
    );
    let named: Vec<&TssError> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| e.kind() == ErrorKind::Misbehaviour)
        .collect();
    assert!(!named.is_empty(), "an honest party noticed");
    for err in named {
        assert_eq!(err.culprits(), &[liar], "{err}");
    }
}
