//! secp256k1 resharing end to end over cggmp24 key shares, every party on its own thread behind
//! the real byte delivery: refresh 2-of-3, 2-of-3 → 3-of-5 (add nodes), 3-of-5 → 2-of-3 (remove
//! nodes), replace one node, change only the threshold; each followed by CGGMP24 signing with the
//! new committee, verified with `k256` against the unchanged public key. A dealer that sends bad
//! sub-shares is named.
//!
//! New committees have 3 or 5 holders so that the TEST-ONLY aux-info fixtures complete the new
//! shares (aux info for 4 parties would cost ~30 s of CPU); the 3-of-4 cases run with EdDSA in
//! `reshare_eddsa.rs`.

mod ecdsa_support;

use ecdsa_support::*;
use generic_ec::{Scalar, SecretScalar};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{Signature, VerifyingKey};
use mpcium_tss::delivery::{connect, WireMessage};
use mpcium_tss::ecdsa::{keygen, sign_digest, EcdsaPublicKey, KeyShare};
use mpcium_tss::reshare::{
    reshare_ecdsa, EcdsaKeyInfo, EcdsaReshareMsg, EcdsaReshareOutput, ReshareMsg, ReshareSetup,
};
use mpcium_tss::{ErrorKind, ProtocolKind, SessionId, Threshold, TssError};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const CHAIN_CODE: [u8; 32] = [0x42; 32];

fn node(k: u16) -> String {
    format!("node{k}")
}

fn nodes(ks: &[u16]) -> Vec<String> {
    ks.iter().map(|&k| node(k)).collect()
}

/// Keygen for `t`-of-`n` among `node0..`, completed with the fixture aux info.
fn must_keygen(n: u16, t: u16, request: &str) -> Vec<KeyShare> {
    let session = must_session(ProtocolKind::EcdsaKeygen, request, n);
    let threshold = Threshold::new(t, n).unwrap();
    must_all_ok(run_parties(n, None, |i, rx, tx| async move {
        keygen(
            session,
            i,
            n,
            threshold,
            CHAIN_CODE,
            connect(session, i, n, rx, tx),
        )
        .await
    }))
    .into_iter()
    .zip(must_test_aux(n))
    .map(|(s, a)| KeyShare::from_parts(s, a).unwrap())
    .collect()
}

/// Runs a reshare from the holders `old_nodes` of `old_shares` (dealers given by old index) to
/// `new_nodes` with `t_new` signers, applying `tamper` in flight. Results are in session order:
/// the new committee first, then the leaving dealers.
fn run_reshare(
    old_shares: &[KeyShare],
    old_nodes: &[String],
    dealers: &[u16],
    new_nodes: &[String],
    t_new: u16,
    tamper: Option<Tamper>,
) -> Vec<Result<EcdsaReshareOutput, TssError>> {
    let dealers: Vec<(String, u16)> = dealers
        .iter()
        .map(|&k| (old_nodes[usize::from(k)].clone(), k))
        .collect();
    let threshold = Threshold::new(t_new, new_nodes.len() as u16).unwrap();
    let (participants, _) =
        ReshareSetup::from_nodes(&dealers[0].0, &dealers, new_nodes, threshold).unwrap();
    let session = SessionId::derive(ProtocolKind::EcdsaReshare, b"reshare", &participants);
    let old_info = EcdsaKeyInfo::of(&old_shares[0]).unwrap();
    let n = participants.len();
    run_parties(n, tamper, |i, rx, tx| {
        let me = participants.node(i).unwrap().to_string();
        let (_, setup) = ReshareSetup::from_nodes(&me, &dealers, new_nodes, threshold).unwrap();
        let share = old_nodes
            .iter()
            .position(|n| *n == me)
            .map(|k| &old_shares[k]);
        let old_info = &old_info;
        async move {
            let mut rng = ChaCha20Rng::seed_from_u64(300 + u64::from(i));
            let party = connect(session, i, n, rx, tx);
            reshare_ecdsa(party, session, &setup, old_info, share, &mut rng).await
        }
    })
}

/// Checks agreement and the unchanged key, and completes the new shares with the fixture aux
/// info of a node set of `n_new`.
fn must_new_shares(
    results: Vec<Result<EcdsaReshareOutput, TssError>>,
    old_key: EcdsaPublicKey,
    t_new: u16,
    n_new: u16,
) -> Vec<KeyShare> {
    let outputs = must_all_ok(results);
    let digest = outputs[0].new_key.digest().unwrap();
    for out in &outputs {
        assert_eq!(out.new_key.digest().unwrap(), digest, "every party agrees");
        assert_eq!(out.new_key.public_key().unwrap(), old_key);
        assert_eq!(
            (out.new_key.threshold(), out.new_key.holders()),
            (t_new, n_new)
        );
    }
    for out in outputs.iter().skip(usize::from(n_new)) {
        assert!(out.share.is_none(), "a leaving dealer gets no share");
    }
    let shares: Vec<KeyShare> = outputs
        .into_iter()
        .take(usize::from(n_new))
        .zip(must_test_aux(n_new))
        .map(|(o, aux)| KeyShare::from_parts(o.share.expect("new holder share"), aux).unwrap())
        .collect();
    for (j, s) in (0u16..).zip(&shares) {
        assert_eq!(s.public_key(), old_key, "public key kept");
        assert_eq!((s.index(), s.n(), s.threshold()), (j, n_new, t_new));
        assert_eq!(s.chain_code(), Some(CHAIN_CODE), "chain code kept");
    }
    shares
}

/// Full interactive signing of `digest` by the new holders `signers`, verified with `k256`.
fn must_sign_and_verify(shares: &[KeyShare], signers: &[u16], key: &EcdsaPublicKey) {
    let digest = [0x5a; 32];
    let t = signers.len() as u16;
    let committee = shares[0].committee(signers.to_vec()).unwrap();
    let session = must_session(ProtocolKind::EcdsaSign, &format!("sign {signers:?}"), t);
    let sigs = must_all_ok(run_parties(t, None, |pos, rx, tx| {
        let share = &shares[usize::from(committee.keygen_indices()[usize::from(pos)])];
        let committee = &committee;
        async move {
            sign_digest(
                session,
                share,
                committee,
                &digest,
                &[],
                connect(session, pos, t, rx, tx),
            )
            .await
        }
    }));
    let vk = VerifyingKey::from_sec1_bytes(&key.compressed()).unwrap();
    let sig = Signature::from_scalars(sigs[0].r, sigs[0].s).unwrap();
    vk.verify_prehash(&digest, &sig)
        .expect("the new committee's signature verifies under the old key");
}

#[test]
fn refreshing_a_2_of_3_key_keeps_the_key_and_its_hd_children_and_still_signs() {
    let old = must_keygen(3, 2, "keygen refresh");
    let key = old[0].public_key();
    let results = run_reshare(
        &old,
        &nodes(&[0, 1, 2]),
        &[0, 2],
        &nodes(&[0, 1, 2]),
        2,
        None,
    );
    let new = must_new_shares(results, key, 2, 3);
    let path = [44u32, 60, 0, 0, 1];
    assert_eq!(
        new[1].derive_public_key(&path).unwrap(),
        old[1].derive_public_key(&path).unwrap(),
        "hd child keys are unchanged"
    );
    assert_ne!(
        new[0].seal().unwrap(),
        old[0].seal().unwrap(),
        "the share is fresh"
    );
    must_sign_and_verify(&new, &[0, 1], &key);
}

#[test]
fn adding_nodes_turns_2_of_3_into_3_of_5() {
    let old = must_keygen(3, 2, "keygen add");
    let key = old[0].public_key();
    let results = run_reshare(
        &old,
        &nodes(&[0, 1, 2]),
        &[1, 2],
        &nodes(&[0, 1, 2, 3, 4]),
        3,
        None,
    );
    let new = must_new_shares(results, key, 3, 5);
    must_sign_and_verify(&new, &[0, 3, 4], &key);
}

#[test]
fn removing_nodes_turns_3_of_5_into_2_of_3() {
    let old = must_keygen(5, 3, "keygen remove");
    let key = old[0].public_key();
    // node3 and node4 leave; node4 still deals.
    let results = run_reshare(
        &old,
        &nodes(&[0, 1, 2, 3, 4]),
        &[0, 2, 4],
        &nodes(&[0, 1, 2]),
        2,
        None,
    );
    assert_eq!(results.len(), 4, "three holders and one leaving dealer");
    let new = must_new_shares(results, key, 2, 3);
    must_sign_and_verify(&new, &[1, 2], &key);
}

#[test]
fn replacing_one_node_moves_the_key_to_the_newcomer() {
    let old = must_keygen(3, 2, "keygen replace");
    let key = old[0].public_key();
    // node2 is replaced by node3, which holds new index 2.
    let results = run_reshare(
        &old,
        &nodes(&[0, 1, 2]),
        &[1, 2],
        &nodes(&[0, 1, 3]),
        2,
        None,
    );
    assert_eq!(results.len(), 4);
    let new = must_new_shares(results, key, 2, 3);
    must_sign_and_verify(&new, &[0, 2], &key);
}

#[test]
fn changing_only_the_threshold_turns_2_of_3_into_3_of_3() {
    let old = must_keygen(3, 2, "keygen threshold");
    let key = old[0].public_key();
    let results = run_reshare(
        &old,
        &nodes(&[0, 1, 2]),
        &[0, 1],
        &nodes(&[0, 1, 2]),
        3,
        None,
    );
    let new = must_new_shares(results, key, 3, 3);
    assert!(
        new[0].committee(vec![0, 1]).is_err(),
        "two no longer suffice"
    );
    must_sign_and_verify(&new, &[0, 1, 2], &key);
}

#[test]
fn a_dealer_that_sends_a_bad_sub_share_is_named_and_nobody_gets_a_new_share() {
    let old = must_keygen(3, 2, "keygen bad dealer");
    let bad: u16 = 2;
    let tamper: Tamper = Box::new(move |msg: &mut WireMessage| {
        if msg.sender != bad || msg.recipient.is_none() {
            return;
        }
        let mut decoded: EcdsaReshareMsg = serde_json::from_slice(&msg.payload).unwrap();
        if let ReshareMsg::SubShare(sub) = &mut decoded {
            let mut shifted = sub.share.as_ref() + Scalar::one();
            sub.share = SecretScalar::new(&mut shifted);
        }
        *msg.payload = serde_json::to_vec(&decoded).unwrap();
    });
    let results = run_reshare(
        &old,
        &nodes(&[0, 1, 2]),
        &[1, 2],
        &nodes(&[0, 1, 2]),
        2,
        Some(tamper),
    );
    assert!(results.iter().all(|r| r.is_err()), "nobody finishes");
    let named: Vec<&TssError> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| e.kind() == ErrorKind::Misbehaviour)
        .collect();
    assert!(!named.is_empty(), "a holder detected the bad sub-share");
    for err in named {
        assert_eq!(err.culprits(), &[bad], "{err}");
    }
}

#[test]
fn a_share_of_another_key_is_refused_as_dealer_input() {
    let a = must_keygen(3, 2, "keygen a");
    let b = must_keygen(3, 2, "keygen b");
    let threshold = Threshold::new(2, 3).unwrap();
    let dealers = vec![(node(0), 0), (node(1), 1)];
    let (participants, setup) =
        ReshareSetup::from_nodes(&node(0), &dealers, &nodes(&[0, 1, 2]), threshold).unwrap();
    let session = SessionId::derive(ProtocolKind::EcdsaReshare, b"wrong key", &participants);
    let old_info = EcdsaKeyInfo::of(&a[0]).unwrap();
    let results = run_parties(1, None, |i, rx, tx| {
        let (setup, old_info, share) = (&setup, &old_info, &b[0]);
        async move {
            let mut rng = ChaCha20Rng::seed_from_u64(1);
            let party = connect(session, i, 3, rx, tx);
            reshare_ecdsa(party, session, setup, old_info, Some(share), &mut rng).await
        }
    });
    let err = results.into_iter().next().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}
