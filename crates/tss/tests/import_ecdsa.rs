//! ECDSA shares of a Go mpcium cluster (tss-lib, evaluation points = the nodes' party keys),
//! imported through `mpcium-migrate` and `mpcium_tss::import`, then used as native cggmp24
//! shares: every 2-of-3 committee signs a digest that `k256` verifies under the reference's
//! public key, an HD child signs under the child key the reference's scheme derives, and a
//! refresh by our resharing keeps the key (and its children) and signs again. Parties run on
//! their own threads behind the real byte delivery; aux info comes from the TEST-ONLY fixtures.

mod ecdsa_support;
mod import_support;

use ecdsa_support::*;
use import_support::*;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use mpcium_migrate::record::KeyType;
use mpcium_tss::delivery::connect;
use mpcium_tss::ecdsa::{sign_digest, EcdsaPublicKey, EcdsaSignature, KeyShare};
use mpcium_tss::import::{ecdsa_share, ShareParts};
use mpcium_tss::reshare::{reshare_ecdsa, EcdsaKeyInfo, ReshareSetup};
use mpcium_tss::{ProtocolKind, SessionId, Threshold};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Imports wallet `wallet` on every node and completes the shares with the fixture aux info.
fn must_imported_shares(
    wallet: &str,
    seed: u64,
    reshared: bool,
) -> (EcdsaPublicKey, Vec<KeyShare>) {
    let (reference, records) = must_import(KeyType::Secp256k1, wallet, seed, reshared);
    let key = EcdsaPublicKey::from_compressed(reference.public_key().try_into().unwrap()).unwrap();
    let shares: Vec<KeyShare> = records
        .iter()
        .zip(must_test_aux(3))
        .enumerate()
        .map(|(j, (record, aux))| {
            let (points, publics, own) = in_node_order(record);
            assert_eq!(usize::from(own), j, "node order is aux-info order");
            let incomplete = ecdsa_share(
                &ShareParts {
                    evaluation_points: &points,
                    public_shares: &publics,
                    own_position: own,
                    secret_share: record.secret_share().expose(),
                    public_key: record.public_key(),
                    signers: record.threshold_signers(),
                },
                CHAIN_CODE,
            )
            .unwrap();
            assert_eq!(incomplete.public_key(), key);
            KeyShare::from_parts(incomplete, aux).unwrap()
        })
        .collect();
    for s in &shares {
        assert_eq!(
            (s.n(), s.threshold(), s.chain_code()),
            (3, 2, Some(CHAIN_CODE))
        );
    }
    (key, shares)
}

fn must_sign(
    shares: &[KeyShare],
    signers: &[u16],
    digest: [u8; 32],
    path: &[u32],
) -> EcdsaSignature {
    let t = signers.len() as u16;
    let committee = shares[0].committee(signers.to_vec()).unwrap();
    let session = must_session(
        ProtocolKind::EcdsaSign,
        &format!("imported {signers:?} {path:?}"),
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
    assert!(sigs.iter().all(|s| *s == sigs[0]));
    sigs[0]
}

/// `k256` verification and public-key recovery.
fn must_verify(sig: &EcdsaSignature, digest: &[u8; 32], key: &EcdsaPublicKey) {
    let vk = VerifyingKey::from_sec1_bytes(&key.compressed()).unwrap();
    let k = Signature::from_scalars(sig.r, sig.s).unwrap();
    vk.verify_prehash(digest, &k).unwrap();
    let rid = RecoveryId::from_byte(sig.recovery_id).unwrap();
    assert_eq!(
        VerifyingKey::recover_from_prehash(digest, &k, rid).unwrap(),
        vk
    );
}

#[test]
fn every_2_of_3_committee_of_an_imported_key_signs_under_the_reference_public_key() {
    let (key, shares) = must_imported_shares("w-ecdsa", 1, false);
    let digest = [0x17; 32];
    for signers in [[0u16, 1], [0, 2], [1, 2]] {
        must_verify(&must_sign(&shares, &signers, digest, &[]), &digest, &key);
    }
}

#[test]
fn an_imported_key_signs_for_the_hd_child_the_reference_derives() {
    let (key, shares) = must_imported_shares("w-ecdsa-hd", 2, true);
    let path = [44u32, 60, 0, 0, 3];
    let derived = mpcium_tss::hd::derive_secp256k1(&key.compressed(), &CHAIN_CODE, &path).unwrap();
    let child = EcdsaPublicKey::from_compressed(&derived.public_key).unwrap();
    assert_eq!(shares[2].derive_public_key(&path).unwrap(), child);
    let digest = [0x29; 32];
    must_verify(&must_sign(&shares, &[2, 0], digest, &path), &digest, &child);
}

#[test]
fn a_refresh_of_an_imported_key_keeps_the_key_and_signs() {
    let (key, old) = must_imported_shares("w-ecdsa-refresh", 3, false);
    let nodes: Vec<String> = NODES.iter().map(|s| s.to_string()).collect();
    let dealers: Vec<(String, u16)> = vec![(nodes[1].clone(), 1), (nodes[2].clone(), 2)];
    let threshold = Threshold::new(2, 3).unwrap();
    let (participants, _) =
        ReshareSetup::from_nodes(&nodes[0], &dealers, &nodes, threshold).unwrap();
    let session = SessionId::derive(
        ProtocolKind::EcdsaReshare,
        b"refresh imported",
        &participants,
    );
    let old_info = EcdsaKeyInfo::of(&old[0]).unwrap();
    assert_eq!(old_info.public_key().unwrap(), key);
    let outputs = must_all_ok(run_parties(3, None, |i, rx, tx| {
        let me = participants.node(i).unwrap().to_string();
        let (_, setup) = ReshareSetup::from_nodes(&me, &dealers, &nodes, threshold).unwrap();
        let share = nodes.iter().position(|n| *n == me).map(|k| &old[k]);
        let old_info = &old_info;
        async move {
            let mut rng = ChaCha20Rng::seed_from_u64(70 + u64::from(i));
            reshare_ecdsa(
                connect(session, i, 3, rx, tx),
                session,
                &setup,
                old_info,
                share,
                &mut rng,
            )
            .await
        }
    }));
    let digest = outputs[0].new_key.digest().unwrap();
    assert!(outputs
        .iter()
        .all(|o| o.new_key.digest().unwrap() == digest));
    let new: Vec<KeyShare> = outputs
        .into_iter()
        .zip(must_test_aux(3))
        .map(|(o, aux)| KeyShare::from_parts(o.share.unwrap(), aux).unwrap())
        .collect();
    let path = [7u32, 8];
    for s in &new {
        assert_eq!(s.public_key(), key, "the key is kept");
        assert_eq!(
            s.derive_public_key(&path).unwrap(),
            old[0].derive_public_key(&path).unwrap()
        );
    }
    let digest = [0x33; 32];
    must_verify(&must_sign(&new, &[0, 2], digest, &[]), &digest, &key);
}
