//! CGGMP24 keygen and signing end to end, every party on its own thread behind the real byte
//! delivery: 2-of-3 (every signer subset), 3-of-5, n-of-n, HD-derived keys, presignatures, and
//! signatures checked by `k256` (verify and public-key recovery). Aux info comes from the
//! TEST-ONLY fixtures.

mod ecdsa_support;

use ecdsa_support::*;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use mpcium_tss::delivery::connect;
use mpcium_tss::ecdsa::{
    keygen, presign, sign_digest, sign_message, sign_with_presignature, EcdsaPublicKey,
    EcdsaSignature, KeyShare, MessageHash, Presignature,
};
use mpcium_tss::{ErrorKind, ProtocolKind, Threshold};

const CHAIN_CODE: [u8; 32] = [0x42; 32];

/// Runs keygen for `t`-of-`n` and completes the shares with the fixture aux info.
fn must_keygen(n: u16, t: u16, request: &str) -> Vec<KeyShare> {
    let session = must_session(ProtocolKind::EcdsaKeygen, request, n);
    let threshold = Threshold::new(t, n).unwrap();
    let incomplete = must_all_ok(run_parties(n, None, |i, rx, tx| async move {
        keygen(
            session,
            i,
            n,
            threshold,
            CHAIN_CODE,
            connect(session, i, n, rx, tx),
        )
        .await
    }));
    let shares: Vec<KeyShare> = incomplete
        .into_iter()
        .zip(must_test_aux(n))
        .map(|(s, a)| KeyShare::from_parts(s, a).unwrap())
        .collect();
    for s in &shares {
        assert_eq!(s.public_key(), shares[0].public_key());
        assert_eq!((s.n(), s.threshold()), (n, t));
        assert_eq!(s.chain_code(), Some(CHAIN_CODE));
    }
    shares
}

/// Independent check with `k256`: low-s, verifies, and the recovery id recovers `key`.
fn must_verify(sig: &EcdsaSignature, digest: &[u8; 32], key: &EcdsaPublicKey) {
    let vk = VerifyingKey::from_sec1_bytes(&key.compressed()).unwrap();
    let k = Signature::from_scalars(sig.r, sig.s).unwrap();
    assert!(k.normalize_s().is_none(), "s must be low");
    vk.verify_prehash(digest, &k).unwrap();
    let rid = RecoveryId::from_byte(sig.recovery_id).unwrap();
    assert_eq!(
        VerifyingKey::recover_from_prehash(digest, &k, rid).unwrap(),
        vk
    );
}

/// Full interactive digest signing by the keygen parties `signers`.
fn must_sign_digest(
    shares: &[KeyShare],
    signers: &[u16],
    digest: [u8; 32],
    path: &[u32],
) -> EcdsaSignature {
    let t = signers.len() as u16;
    let committee = shares[0].committee(signers.to_vec()).unwrap();
    let session = must_session(
        ProtocolKind::EcdsaSign,
        &format!("sign {signers:?} {path:?}"),
        t,
    );
    let sigs = must_all_ok(run_parties(t, None, |pos, rx, tx| {
        let share = &shares[usize::from(committee.keygen_indices()[usize::from(pos)])];
        let committee = &committee;
        async move {
            sign_digest(
                session,
                share,
                committee,
                &digest,
                path,
                connect(session, pos, t, rx, tx),
            )
            .await
        }
    }));
    assert!(
        sigs.iter().all(|s| *s == sigs[0]),
        "all signers output the same signature"
    );
    sigs[0]
}

#[test]
fn every_signer_subset_of_a_2_of_3_key_signs_a_digest_that_k256_verifies() {
    let shares = must_keygen(3, 2, "keygen 2-of-3 subsets");
    let digest = [7u8; 32];
    for signers in [[0u16, 1], [0, 2], [1, 2]] {
        let sig = must_sign_digest(&shares, &signers, digest, &[]);
        must_verify(&sig, &digest, &shares[0].public_key());
    }
}

#[test]
fn a_3_of_5_key_signs_a_keccak_hashed_message() {
    let shares = must_keygen(5, 3, "keygen 3-of-5");
    let committee = shares[0].committee(vec![4, 0, 2]).unwrap();
    let session = must_session(ProtocolKind::EcdsaSign, "sign 3-of-5", 3);
    let msg = b"transfer 1 eth to alice";
    let sigs = must_all_ok(run_parties(3, None, |pos, rx, tx| {
        let share = &shares[usize::from(committee.keygen_indices()[usize::from(pos)])];
        let committee = &committee;
        async move {
            let party = connect(session, pos, 3, rx, tx);
            sign_message(
                session,
                share,
                committee,
                msg,
                MessageHash::Keccak256,
                &[],
                party,
            )
            .await
        }
    }));
    must_verify(
        &sigs[0],
        &MessageHash::Keccak256.digest(msg),
        &shares[0].public_key(),
    );
}

#[test]
fn an_n_of_n_key_needs_and_accepts_all_parties() {
    let shares = must_keygen(3, 3, "keygen 3-of-3");
    assert!(shares[0].committee(vec![0, 1]).is_err());
    let digest = [9u8; 32];
    let sig = must_sign_digest(&shares, &[0, 1, 2], digest, &[]);
    must_verify(&sig, &digest, &shares[0].public_key());
}

#[test]
fn an_hd_signature_verifies_under_the_child_key_of_the_reference_derivation() {
    let shares = must_keygen(3, 2, "keygen 2-of-3 hd");
    let path = [44u32, 60, 0, 0, 7];
    let parent = shares[0].public_key().compressed();
    let derived = mpcium_tss::hd::derive_secp256k1(&parent, &CHAIN_CODE, &path).unwrap();
    let child = shares[0].derive_public_key(&path).unwrap();
    assert_eq!(
        child.compressed(),
        derived.public_key,
        "cggmp24 and hd.rs derive the same child"
    );
    let digest = [3u8; 32];
    let sig = must_sign_digest(&shares, &[1, 2], digest, &path);
    must_verify(
        &sig,
        &digest,
        &EcdsaPublicKey::from_compressed(&derived.public_key).unwrap(),
    );
}

#[test]
fn a_presignature_survives_sealing_and_signs_a_message_in_one_round() {
    let shares = must_keygen(3, 2, "keygen 2-of-3 presign");
    let committee = shares[0].committee(vec![0, 2]).unwrap();
    let path = [5u32];
    let session = must_session(ProtocolKind::EcdsaPresign, "presign", 2);
    let sealed = must_all_ok(run_parties(2, None, |pos, rx, tx| {
        let share = &shares[usize::from(committee.keygen_indices()[usize::from(pos)])];
        let committee = &committee;
        async move {
            let p = presign(
                session,
                share,
                committee,
                &path,
                connect(session, pos, 2, rx, tx),
            )
            .await?;
            assert_eq!(format!("{p:?}"), "Presignature(<redacted>)");
            p.seal()
        }
    }));
    let msg = b"bitcoin tx bytes";
    let online = must_session(ProtocolKind::EcdsaSign, "online", 2);
    let sigs = must_all_ok(run_parties(2, None, |pos, rx, tx| {
        let p = Presignature::open(&sealed[usize::from(pos)]).unwrap();
        assert_eq!((p.position(), p.path()), (pos, &path[..]));
        async move {
            sign_with_presignature(
                p,
                msg,
                MessageHash::Sha256d,
                connect(online, pos, 2, rx, tx),
            )
            .await
        }
    }));
    assert_eq!(sigs[0], sigs[1]);
    let child = shares[0].derive_public_key(&path).unwrap();
    must_verify(&sigs[0], &MessageHash::Sha256d.digest(msg), &child);
}

#[test]
fn a_digest_of_the_wrong_length_is_rejected_before_any_message_is_sent() {
    let shares = must_keygen(3, 2, "keygen 2-of-3 digest length");
    let committee = shares[0].committee(vec![0, 1]).unwrap();
    let session = must_session(ProtocolKind::EcdsaSign, "short digest", 2);
    let results = run_parties(2, None, |pos, rx, tx| {
        let share = &shares[usize::from(pos)];
        let committee = &committee;
        async move {
            sign_digest(
                session,
                share,
                committee,
                &[1u8; 20],
                &[],
                connect(session, pos, 2, rx, tx),
            )
            .await
        }
    });
    for r in results {
        let err = r.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("32 bytes"), "{err}");
    }
}
