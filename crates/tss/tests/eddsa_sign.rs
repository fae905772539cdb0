//! FROST Ed25519 signing, simulated in-process: threshold matrices, every signer subset, RFC 8032
//! strict verification with ed25519-dalek, leading-zero messages, HD-derived keys, and hostile
//! signers that must be named.

use ed25519_dalek::{Signature, VerifyingKey};
use mpcium_tss::eddsa::keygen::{keygen, KeygenMsg};
use mpcium_tss::eddsa::sign::{self, sign, SignMsg};
use mpcium_tss::eddsa::EddsaKeyShare;
use mpcium_tss::{ErrorKind, Participants, ProtocolKind, SessionId, Threshold, TssError};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use round_based::sim::Simulation;
use round_based::{Delivery, Mpc, MpcParty, Outgoing, SinkExt};

fn session(kind: ProtocolKind, request: &str, n: u16) -> SessionId {
    let nodes = (0..n).map(|i| format!("node{i}")).collect();
    SessionId::derive(
        kind,
        request.as_bytes(),
        &Participants::new(nodes).expect("participants"),
    )
}

fn must_keygen(t: u16, n: u16) -> Vec<EddsaKeyShare> {
    let sid = session(ProtocolKind::EddsaKeygen, "keygen", n);
    let threshold = Threshold::new(t, n).expect("threshold");
    round_based::sim::run_with_setup(
        (0..n).map(|i| ChaCha20Rng::seed_from_u64(1000 + u64::from(i))),
        |i, party: round_based::state_machine::MpcParty<KeygenMsg>, mut rng| async move {
            keygen(party, sid, i, n, threshold, &mut rng).await
        },
    )
    .expect("simulation")
    .expect_ok()
    .into_vec()
}

/// Signs `message` with the keygen parties `signers` (session order) and returns every signer's
/// output.
fn run_sign(
    shares: &[EddsaKeyShare],
    signers: &[u16],
    message: &[u8],
) -> Vec<Result<[u8; 64], TssError>> {
    let sid = session(ProtocolKind::EddsaSign, "sign", signers.len() as u16);
    round_based::sim::run_with_setup(
        signers.iter().map(|&s| {
            (
                shares[usize::from(s)].clone(),
                ChaCha20Rng::seed_from_u64(u64::from(s)),
            )
        }),
        |i, party: round_based::state_machine::MpcParty<SignMsg>, (share, mut rng)| async move {
            sign(party, sid, i, signers, &share, message, &mut rng).await
        },
    )
    .expect("simulation")
    .into_vec()
}

fn must_sign(shares: &[EddsaKeyShare], signers: &[u16], message: &[u8]) -> [u8; 64] {
    let outputs: Vec<[u8; 64]> = run_sign(shares, signers, message)
        .into_iter()
        .map(|r| r.expect("signing succeeds"))
        .collect();
    let first = outputs[0];
    assert!(
        outputs.iter().all(|o| *o == first),
        "all signers output the same signature"
    );
    first
}

fn must_verify_strict(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) {
    let key = VerifyingKey::from_bytes(public_key).expect("valid public key");
    key.verify_strict(message, &Signature::from_bytes(signature))
        .expect("signature verifies");
}

#[test]
fn two_of_three_signatures_verify_strictly_with_every_signer_subset() {
    let shares = must_keygen(2, 3);
    let pk = shares[0].public_key().expect("public key");
    let message = b"transfer 1 SOL";
    for signers in [[0u16, 1], [0, 2], [1, 2], [1, 0], [2, 0], [2, 1]] {
        let sig = must_sign(&shares, &signers, message);
        must_verify_strict(&pk, message, &sig);
    }
    for signers in [[0u16, 1, 2], [2, 0, 1]] {
        must_verify_strict(&pk, message, &must_sign(&shares, &signers, message));
    }
}

#[test]
fn three_of_five_signatures_verify_strictly() {
    let shares = must_keygen(3, 5);
    let pk = shares[3].public_key().expect("public key");
    for signers in [[0u16, 1, 2], [4, 2, 0], [1, 3, 4]] {
        let sig = must_sign(&shares, &signers, b"3-of-5");
        must_verify_strict(&pk, b"3-of-5", &sig);
    }
    must_verify_strict(&pk, b"all", &must_sign(&shares, &[0, 1, 2, 3, 4], b"all"));
}

#[test]
fn n_of_n_signatures_verify_strictly() {
    let shares = must_keygen(3, 3);
    let pk = shares[0].public_key().expect("public key");
    must_verify_strict(&pk, b"n-of-n", &must_sign(&shares, &[2, 1, 0], b"n-of-n"));
}

#[test]
fn messages_with_leading_zero_bytes_are_signed_in_full() {
    let shares = must_keygen(2, 3);
    let pk = shares[0].public_key().expect("public key");
    let message = [0u8, 0, 0, 7, 1, 2, 3];
    let sig = must_sign(&shares, &[0, 1], &message);
    must_verify_strict(&pk, &message, &sig);
    // The reference would have signed the truncated message; ours must not verify for it.
    let key = VerifyingKey::from_bytes(&pk).expect("key");
    assert!(key
        .verify_strict(&message[3..], &Signature::from_bytes(&sig))
        .is_err());
    // The empty message and an all-zero message are distinct messages too.
    must_verify_strict(&pk, &[], &must_sign(&shares, &[1, 2], &[]));
    must_verify_strict(&pk, &[0u8; 32], &must_sign(&shares, &[2, 0], &[0u8; 32]));
}

#[test]
fn hd_derived_signing_verifies_under_the_derived_public_key() {
    let shares = must_keygen(2, 3);
    let chain_code = [0x42u8; 32];
    let path = [44, 501, 3, 0];
    let children: Vec<EddsaKeyShare> = shares
        .iter()
        .map(|s| s.derive_child(&chain_code, &path).expect("derive").0)
        .collect();
    let (_, derived) = shares[0].derive_child(&chain_code, &path).expect("derive");
    // The client SDK computes the same child key from public data alone.
    let public =
        mpcium_tss::hd::derive_ed25519(&shares[1].public_key().expect("pk"), &chain_code, &path)
            .expect("public derivation");
    assert_eq!(public.public_key, derived.public_key);

    for signers in [[0u16, 1], [2, 1]] {
        let sig = must_sign(&children, &signers, b"derived");
        must_verify_strict(&derived.public_key, b"derived", &sig);
        let parent = VerifyingKey::from_bytes(&shares[0].public_key().expect("pk")).expect("key");
        assert!(parent
            .verify_strict(b"derived", &Signature::from_bytes(&sig))
            .is_err());
    }
}

/// Runs signing where party `bad` (session index) is hostile: it behaves honestly in round 1,
/// then broadcasts `tamper(own honest share msg)` in round 2.
fn run_with_hostile_signer(
    shares: &[EddsaKeyShare],
    signers: &[u16],
    bad: u16,
    tamper: impl Fn(sign::ShareMsg) -> sign::ShareMsg + Clone + 'static,
) -> Vec<Result<[u8; 64], TssError>> {
    let sid = session(ProtocolKind::EddsaSign, "hostile", signers.len() as u16);
    let message = b"hostile";
    let mut sim = Simulation::<Result<[u8; 64], TssError>, SignMsg>::empty();
    for (i, &s) in (0u16..).zip(signers) {
        let share = shares[usize::from(s)].clone();
        let signers = signers.to_vec();
        let tamper = tamper.clone();
        let mut rng = ChaCha20Rng::seed_from_u64(77 + u64::from(s));
        if i == bad {
            sim.add_async_party(move |party| async move {
                hostile_signer(party, sid, i, &signers, &share, message, &mut rng, tamper).await
            });
        } else {
            sim.add_async_party(move |party| async move {
                sign(party, sid, i, &signers, &share, message, &mut rng).await
            });
        }
    }
    sim.run().expect("simulation").into_vec()
}

/// A signer that runs round 1 honestly, computes its honest signature share with FROST directly,
/// and broadcasts `tamper(share)` instead; it then stops.
#[allow(clippy::too_many_arguments)]
async fn hostile_signer<M: Mpc<ProtocolMessage = SignMsg>>(
    party: M,
    sid: SessionId,
    i: u16,
    signers: &[u16],
    share: &EddsaKeyShare,
    message: &[u8],
    rng: &mut ChaCha20Rng,
    tamper: impl Fn(sign::ShareMsg) -> sign::ShareMsg,
) -> Result<[u8; 64], TssError> {
    use round_based::rounds_router::simple_store::RoundInput;
    use round_based::rounds_router::RoundsRouter;
    use sha2::Digest;
    use std::collections::BTreeMap;

    let n = signers.len() as u16;
    let MpcParty { delivery, .. } = party.into_party();
    let (incoming, mut outgoing) = delivery.split();
    let mut rounds = RoundsRouter::<SignMsg>::builder();
    let r1 = rounds.add_round(RoundInput::<sign::CommitMsg>::broadcast(i, n));
    let _r2 = rounds.add_round(RoundInput::<sign::ShareMsg>::broadcast(i, n));
    let mut rounds = rounds.listen(incoming);

    let (nonces, commitments) =
        frost_ed25519::round1::commit(share.key_package().signing_share(), rng);
    let own = sign::CommitMsg {
        session: *sid.as_bytes(),
        message_digest: sha2::Sha256::digest(message).into(),
        commitments,
    };
    outgoing
        .send(Outgoing::broadcast(SignMsg::Commit(own)))
        .await
        .expect("send");
    let received = rounds.complete(r1).await.expect("round 1");
    let mut all = BTreeMap::new();
    all.insert(share.identifier(), commitments);
    for (j, _, msg) in received.into_iter_indexed() {
        let id = frost_ed25519::Identifier::try_from(signers[usize::from(j)] + 1).expect("id");
        all.insert(id, msg.commitments);
    }
    let package = frost_ed25519::SigningPackage::new(all, message);
    let honest = frost_ed25519::round2::sign(&package, &nonces, share.key_package()).expect("sign");
    let honest = sign::ShareMsg {
        session: *sid.as_bytes(),
        view: sign::view_of(&package).expect("view"),
        share: honest,
    };
    let tampered = tamper(honest);
    outgoing
        .send(Outgoing::broadcast(SignMsg::Share(tampered)))
        .await
        .expect("send");
    Err(TssError::InvalidInput("hostile party".into()))
}

#[test]
fn a_tampered_signature_share_aborts_signing_and_names_its_sender() {
    let shares = must_keygen(2, 3);
    let outputs = run_with_hostile_signer(&shares, &[2, 0, 1], 1, |mut msg| {
        // Replace the share with another valid scalar encoding: 1.
        let mut one = [0u8; 32];
        one[0] = 1;
        msg.share = frost_ed25519::round2::SignatureShare::deserialize(&one).expect("scalar");
        msg
    });
    for (i, out) in outputs.iter().enumerate() {
        if i == 1 {
            continue;
        }
        let err = out.as_ref().expect_err("honest signers abort");
        assert_eq!(err.kind(), ErrorKind::Misbehaviour, "party {i}: {err}");
        assert_eq!(err.culprits(), &[1], "party {i} names the hostile signer");
    }
}

#[test]
fn a_share_made_for_other_commitments_is_reported_as_equivocation_of_its_sender() {
    let shares = must_keygen(2, 3);
    let outputs = run_with_hostile_signer(&shares, &[0, 1, 2], 2, |mut msg| {
        msg.view = [0x11; 32];
        msg
    });
    for out in &outputs[..2] {
        let err = out.as_ref().expect_err("honest signers abort");
        assert_eq!(err.kind(), ErrorKind::Misbehaviour);
        assert_eq!(err.culprits(), &[2]);
        assert!(err.to_string().contains("equivocation"), "{err}");
    }
}

#[test]
fn a_share_from_another_session_is_rejected_naming_its_sender() {
    let shares = must_keygen(2, 3);
    let outputs = run_with_hostile_signer(&shares, &[0, 1], 0, |mut msg| {
        msg.session = [0xee; 32];
        msg
    });
    let err = outputs[1].as_ref().expect_err("honest signer aborts");
    assert_eq!(err.kind(), ErrorKind::BadMessage);
    assert_eq!(err.culprits(), &[0]);
}
