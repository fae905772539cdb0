//! The round-1b encryption-proof check in front of cggmp24 (`src/ecdsa/round1_check.rs`).
//!
//! * Hostile sessions: the signer [`CHEATER`] sends corrupted `psi0`, `psi1` or both to every
//!   peer, in presigning and full signing, 2-of-3 and 3-of-5; every honest signer that stops on
//!   it names the cheater, with our check's verdict (cggmp24 alone accepts the first two).
//! * Replays: the round-1 messages an honest session sent to party 0 are fed to a fresh party 0
//!   of the same committee. Honest ones pass in either order (the engine then stops for lack of
//!   the next round: a transport error); replayed into another session, attributed to another
//!   prover, with the proofs swapped, duplicated or broadcast they are rejected naming the sender.

mod ecdsa_support;

use ecdsa_support::*;
use mpcium_tss::delivery::{connect, WireMessage};
use mpcium_tss::ecdsa::{presign, sign_digest, KeyShare};
use mpcium_tss::{ErrorKind, ProtocolKind, SessionId, TssError};
use zeroize::Zeroizing;

const CHEATER: u16 = 1;
/// `SigningMsg` round numbers (the enum's variant order).
const ROUND_1A: u16 = 0;
const ROUND_1B: u16 = 1;
/// Marks an error raised by our check rather than by the engine.
const OUR_VERDICT: &str = "rejected before the engine";

#[derive(Clone, Copy, Debug)]
enum Protocol {
    Presign,
    Sign,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Corrupt {
    Psi0,
    Psi1,
    Both,
}

impl Corrupt {
    fn proofs(self) -> &'static [&'static str] {
        match self {
            Self::Psi0 => &["psi0"],
            Self::Psi1 => &["psi1"],
            Self::Both => &["psi0", "psi1"],
        }
    }
}

fn edit_json(m: &mut WireMessage, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
    edit(&mut v);
    m.payload = Zeroizing::new(serde_json::to_vec(&v).unwrap());
}

/// Changes the last hex digit of `z1` in the named proofs of a round-1b message: it still
/// decodes, but the proof no longer holds.
fn corrupt_proofs(m: &mut WireMessage, which: Corrupt) {
    edit_json(m, |v| {
        for proof in which.proofs() {
            let z1 = v
                .pointer_mut(&format!("/Round1b/{proof}/proof/z1/value"))
                .unwrap_or_else(|| panic!("no {proof}.z1 in round 1b"));
            let serde_json::Value::String(s) = z1 else {
                panic!("z1 is not a string")
            };
            let last = s.pop().unwrap();
            s.push(if last == '1' { '2' } else { '1' });
        }
    });
}

fn request_name(protocol: Protocol, signers: &[u16], what: &str) -> String {
    format!("round1 check {protocol:?} {signers:?} {what}")
}

/// Runs `protocol` among the keygen parties `signers` (positions in that order) through the
/// test network with `tamper`.
fn run_session(
    shares: &[KeyShare],
    signers: &[u16],
    protocol: Protocol,
    request: &str,
    tamper: Option<Tamper>,
) -> (SessionId, Vec<Result<(), TssError>>) {
    let t = signers.len() as u16;
    let committee = shares[0].committee(signers.to_vec()).unwrap();
    let kind = match protocol {
        Protocol::Presign => ProtocolKind::EcdsaPresign,
        Protocol::Sign => ProtocolKind::EcdsaSign,
    };
    let session = must_session(kind, request, t);
    let results = run_parties(t, tamper, |pos, rx, tx| {
        let share = &shares[usize::from(signers[usize::from(pos)])];
        let committee = &committee;
        async move {
            let party = connect(session, pos, t, rx, tx);
            match protocol {
                Protocol::Presign => presign(session, share, committee, &[], party)
                    .await
                    .map(drop),
                Protocol::Sign => sign_digest(session, share, committee, &[7; 32], &[], party)
                    .await
                    .map(drop),
            }
        }
    });
    (session, results)
}

/// Every honest signer failed, each either cut off by the test network's fail-fast (transport)
/// or naming exactly the cheater with our check's verdict about `which`; at least one named it.
fn must_be_named_by_our_check(results: &[Result<(), TssError>], which: Corrupt, what: &str) {
    let mut named = 0;
    for (pos, r) in results.iter().enumerate() {
        let Err(err) = r else {
            panic!("{what}: signer {pos} finished despite the corrupted proofs")
        };
        if pos as u16 == CHEATER || err.kind() == ErrorKind::Transport {
            continue;
        }
        assert_eq!(err.kind(), ErrorKind::Misbehaviour, "{what}: {err}");
        assert_eq!(err.culprits(), &[CHEATER], "{what}: {err}");
        let text = err.to_string();
        assert!(text.contains(OUR_VERDICT), "{what}: {text}");
        for proof in ["psi0", "psi1"] {
            assert_eq!(
                text.contains(proof),
                which.proofs().contains(&proof),
                "{what}: {text}"
            );
        }
        named += 1;
    }
    assert!(named > 0, "{what}: nobody named the cheater");
}

/// Corrupts `which` in every round-1b message of the cheater, in presigning and full signing,
/// 2-of-3 (committee [0, 1]) and 3-of-5 (committee [0, 1, 3]).
fn must_abort_naming_the_prover(which: Corrupt) {
    for (n, t, signers) in [(3u16, 2u16, vec![0u16, 1]), (5, 3, vec![0, 1, 3])] {
        let shares = must_keygen_shares(n, t, &format!("round1 check keygen {n} {which:?}"));
        for protocol in [Protocol::Presign, Protocol::Sign] {
            let what = request_name(protocol, &signers, &format!("{which:?}"));
            let tamper: Tamper = Box::new(move |m: &mut WireMessage| {
                if m.sender == CHEATER && m.round == ROUND_1B {
                    corrupt_proofs(m, which);
                }
            });
            let (_, results) = run_session(&shares, &signers, protocol, &what, Some(tamper));
            must_be_named_by_our_check(&results, which, &what);
        }
    }
}

#[test]
fn a_corrupted_psi0_alone_aborts_presigning_and_signing_naming_the_prover() {
    must_abort_naming_the_prover(Corrupt::Psi0);
}

#[test]
fn a_corrupted_psi1_alone_aborts_presigning_and_signing_naming_the_prover() {
    must_abort_naming_the_prover(Corrupt::Psi1);
}

#[test]
fn corrupted_psi0_and_psi1_abort_presigning_and_signing_naming_the_prover() {
    must_abort_naming_the_prover(Corrupt::Both);
}

/// An honest session of `protocol` (it must succeed) and the round-1 messages it delivered to
/// position 0, in delivery order.
fn must_record_round_1_to_party_0(
    shares: &[KeyShare],
    signers: &[u16],
    protocol: Protocol,
) -> (SessionId, Vec<WireMessage>) {
    let (hook, seen) = recorder();
    let request = request_name(protocol, signers, "honest record");
    let (session, results) = run_session(shares, signers, protocol, &request, Some(hook));
    for (pos, r) in results.iter().enumerate() {
        assert!(r.is_ok(), "honest signer {pos}: {r:?}");
    }
    let to_party_0 = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.round == ROUND_1A || m.round == ROUND_1B)
        .filter(|m| m.recipient == Some(0) || (m.recipient.is_none() && m.sender != 0))
        .cloned()
        .collect();
    (session, to_party_0)
}

/// Runs a fresh position 0 of `signers` in `session`, fed exactly `inbox` (then end of input).
fn replay_to_party_0(
    shares: &[KeyShare],
    signers: &[u16],
    protocol: Protocol,
    session: SessionId,
    inbox: Vec<WireMessage>,
) -> TssError {
    let t = signers.len() as u16;
    let committee = shares[0].committee(signers.to_vec()).unwrap();
    let share = &shares[usize::from(signers[0])];
    let party = connect(
        session,
        0,
        t,
        futures::stream::iter(inbox),
        futures::sink::drain(),
    );
    let result = futures::executor::block_on(async {
        match protocol {
            Protocol::Presign => presign(session, share, &committee, &[], party)
                .await
                .map(drop),
            Protocol::Sign => sign_digest(session, share, &committee, &[7; 32], &[], party)
                .await
                .map(drop),
        }
    });
    result.expect_err("a replay of round 1 alone cannot complete")
}

/// Round 1 passed our check: the engine went on and ran out of input.
fn must_have_passed_round_1(err: &TssError) {
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
}

fn must_be_rejected(err: &TssError, kind: ErrorKind, culprit: u16, why: &str) {
    assert_eq!(err.kind(), kind, "{err}");
    assert_eq!(err.culprits(), &[culprit], "{err}");
    assert!(
        err.to_string().contains(why),
        "{err} should mention {why:?}"
    );
}

#[test]
fn honest_round_1_messages_pass_the_check_in_either_order() {
    let shares = must_keygen_shares(5, 3, "round1 check keygen order");
    let signers = [0, 1, 3];
    for protocol in [Protocol::Presign, Protocol::Sign] {
        let (session, inbox) = must_record_round_1_to_party_0(&shares, &signers, protocol);
        assert_eq!(inbox.len(), 4, "two broadcasts and two proofs for party 0");
        must_have_passed_round_1(&replay_to_party_0(
            &shares,
            &signers,
            protocol,
            session,
            inbox.clone(),
        ));
        // Every round-1b message arrives before any round-1a message: each is held, then
        // checked and released when its sender's round 1a comes in.
        let mut reordered = inbox;
        reordered.sort_by_key(|m| std::cmp::Reverse(m.round));
        assert_eq!(reordered[0].round, ROUND_1B);
        must_have_passed_round_1(&replay_to_party_0(
            &shares, &signers, protocol, session, reordered,
        ));
    }
}

#[test]
fn round_1_proofs_are_bound_to_their_session_prover_and_statement() {
    let shares = must_keygen_shares(5, 3, "round1 check keygen binding");
    let signers = [0, 1, 3];
    let (session, inbox) = must_record_round_1_to_party_0(&shares, &signers, Protocol::Presign);
    let from = |sender: u16, round: u16| {
        inbox
            .iter()
            .find(|m| m.sender == sender && m.round == round)
            .unwrap()
            .clone()
    };
    let run = |inbox: Vec<WireMessage>, session| {
        replay_to_party_0(&shares, &signers, Protocol::Presign, session, inbox)
    };

    // Another session (same committee and keys): the execution id is in every challenge.
    let other = must_session(ProtocolKind::EcdsaPresign, "round1 check elsewhere", 3);
    let moved = |mut m: WireMessage| {
        m.session = other;
        m
    };
    let err = run(
        vec![moved(from(1, ROUND_1A)), moved(from(1, ROUND_1B))],
        other,
    );
    must_be_rejected(&err, ErrorKind::Misbehaviour, 1, "psi0 (about K)");
    assert!(err.to_string().contains("psi1 (about G)"), "{err}");

    // Position 1's round 1 presented as position 2's: prover index and Paillier key differ.
    let as_2 = |mut m: WireMessage| {
        m.sender = 2;
        m
    };
    let err = run(
        vec![as_2(from(1, ROUND_1A)), as_2(from(1, ROUND_1B))],
        session,
    );
    must_be_rejected(&err, ErrorKind::Misbehaviour, 2, OUR_VERDICT);

    // psi0 and psi1 swapped: each is checked against the other ciphertext and proof number.
    let mut swapped = from(1, ROUND_1B);
    edit_json(&mut swapped, |v| {
        let body = v.pointer_mut("/Round1b").unwrap().as_object_mut().unwrap();
        let psi0 = body.remove("psi0").unwrap();
        let psi1 = body.remove("psi1").unwrap();
        body.insert("psi0".into(), psi1);
        body.insert("psi1".into(), psi0);
    });
    let err = run(vec![from(1, ROUND_1A), swapped], session);
    must_be_rejected(&err, ErrorKind::Misbehaviour, 1, "psi1 (about G)");

    // A second round-1b message, even an identical one, never reaches the engine.
    let err = run(
        vec![from(1, ROUND_1B), from(1, ROUND_1B), from(1, ROUND_1A)],
        session,
    );
    must_be_rejected(&err, ErrorKind::BadMessage, 1, "two messages in round 1b");

    // Round-1b proofs sent as a broadcast.
    let mut broadcast = from(2, ROUND_1B);
    broadcast.recipient = None;
    let err = run(vec![from(2, ROUND_1A), broadcast], session);
    must_be_rejected(&err, ErrorKind::BadMessage, 2, "must be point-to-point");
}
