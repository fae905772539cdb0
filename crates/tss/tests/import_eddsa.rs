//! Ed25519 shares of a Go mpcium cluster (tss-lib, evaluation points = the nodes' party keys),
//! imported through `mpcium-migrate` and `mpcium_tss::import` into FROST shares whose identifiers
//! are those points: every 2-of-3 committee signs, ed25519-dalek verifies strictly under the
//! reference's public key; an HD child (the reference's scheme) signs under the child key; a
//! refresh and a move to a new committee by our resharing keep the key and sign again. Honest
//! runs are simulated in-process (`round_based::sim`).

mod import_support;

use ed25519_dalek::{Signature, VerifyingKey};
use import_support::*;
use mpcium_migrate::record::KeyType;
use mpcium_tss::eddsa::sign::{sign, SignMsg};
use mpcium_tss::eddsa::EddsaKeyShare;
use mpcium_tss::import::{eddsa_share, ShareParts};
use mpcium_tss::reshare::{reshare_eddsa, EddsaReshareMsg, ReshareSetup};
use mpcium_tss::{Participants, ProtocolKind, SessionId, Threshold};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Imports wallet `wallet` on every node. Returns the public key, the shares by keygen index
/// and, for each keygen index, the node holding it.
fn must_imported_shares(
    wallet: &str,
    seed: u64,
    reshared: bool,
) -> ([u8; 32], Vec<EddsaKeyShare>, Vec<String>) {
    let (reference, records) = must_import(KeyType::Ed25519, wallet, seed, reshared);
    let key: [u8; 32] = reference.public_key().try_into().unwrap();
    let mut by_index: Vec<Option<EddsaKeyShare>> = vec![None; 3];
    let mut committee: Vec<String> = Vec::new();
    for record in &records {
        let (points, publics, own) = in_node_order(record);
        let imported = eddsa_share(&ShareParts {
            evaluation_points: &points,
            public_shares: &publics,
            own_position: own,
            secret_share: record.secret_share().expose(),
            public_key: record.public_key(),
            signers: record.threshold_signers(),
        })
        .unwrap();
        let order: Vec<String> = imported
            .holder_order
            .iter()
            .map(|&p| NODES[p].to_string())
            .collect();
        if committee.is_empty() {
            committee = order.clone();
        }
        assert_eq!(
            order, committee,
            "every node derives the same committee order"
        );
        let share = imported.share;
        assert_eq!(share.public_key().unwrap(), key);
        assert_eq!((share.min_signers(), share.max_signers()), (2, 3));
        let index = share.party_of(&share.identifier()).unwrap();
        assert_ne!(
            Some(share.identifier()),
            frost_ed25519::Identifier::try_from(index + 1).ok(),
            "identifiers are the tss-lib points, not 1..=n"
        );
        assert_eq!(committee[usize::from(index)], NODES[usize::from(own)]);
        by_index[usize::from(index)] = Some(share);
    }
    let shares = by_index.into_iter().map(|s| s.unwrap()).collect();
    (key, shares, committee)
}

fn session(kind: ProtocolKind, request: &str, nodes: &[String]) -> SessionId {
    SessionId::derive(
        kind,
        request.as_bytes(),
        &Participants::new(nodes.to_vec()).unwrap(),
    )
}

/// FROST signing by the keygen indices `signers`.
fn must_sign(shares: &[EddsaKeyShare], signers: &[u16], message: &[u8]) -> [u8; 64] {
    let names: Vec<String> = signers.iter().map(|s| format!("signer{s}")).collect();
    let sid = session(ProtocolKind::EddsaSign, "sign imported", &names);
    let outputs = round_based::sim::run_with_setup(
        signers.iter().map(|&s| {
            (
                shares[usize::from(s)].clone(),
                ChaCha20Rng::seed_from_u64(u64::from(s) + 40),
            )
        }),
        |i, party: round_based::state_machine::MpcParty<SignMsg>, (share, mut rng)| async move {
            sign(party, sid, i, signers, &share, message, &mut rng).await
        },
    )
    .expect("simulation")
    .expect_ok()
    .into_vec();
    assert!(outputs.iter().all(|o| *o == outputs[0]));
    outputs[0]
}

fn must_verify_strict(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) {
    VerifyingKey::from_bytes(key)
        .unwrap()
        .verify_strict(message, &Signature::from_bytes(signature))
        .expect("signature verifies strictly");
}

#[test]
fn every_2_of_3_committee_of_an_imported_key_signs_under_the_reference_public_key() {
    let (key, shares, _) = must_imported_shares("w-eddsa", 1, false);
    let message = b"\x00\x00 leading zeros are signed too";
    for signers in [[0u16, 1], [0, 2], [2, 1]] {
        must_verify_strict(&key, message, &must_sign(&shares, &signers, message));
    }
}

#[test]
fn an_imported_key_signs_for_the_hd_child_the_reference_derives() {
    let (key, shares, _) = must_imported_shares("w-eddsa-hd", 2, true);
    let path = [44u32, 501, 0, 9];
    let expected = mpcium_tss::hd::derive_ed25519(&key, &CHAIN_CODE, &path).unwrap();
    let children: Vec<EddsaKeyShare> = shares
        .iter()
        .map(|s| {
            let (child, derived) = s.derive_child(&CHAIN_CODE, &path).unwrap();
            assert_eq!(derived, expected);
            child
        })
        .collect();
    let message = b"hd transfer";
    must_verify_strict(
        &expected.public_key,
        message,
        &must_sign(&children, &[1, 2], message),
    );
}

/// Reshares the imported key from `dealers` (keygen indices) to `new_nodes` with `t_new` signers;
/// returns the new shares by new index.
fn must_reshare(
    old: &[EddsaKeyShare],
    old_nodes: &[String],
    dealers: &[u16],
    new_nodes: &[String],
    t_new: u16,
) -> Vec<EddsaKeyShare> {
    let dealers: Vec<(String, u16)> = dealers
        .iter()
        .map(|&k| (old_nodes[usize::from(k)].clone(), k))
        .collect();
    let threshold = Threshold::new(t_new, new_nodes.len() as u16).unwrap();
    let (participants, _) =
        ReshareSetup::from_nodes(&dealers[0].0, &dealers, new_nodes, threshold).unwrap();
    let sid = SessionId::derive(
        ProtocolKind::EddsaReshare,
        b"reshare imported",
        &participants,
    );
    let old_package = old[0].public_key_package().clone();
    let inputs: Vec<_> = participants
        .nodes()
        .iter()
        .enumerate()
        .map(|(i, me)| {
            let (_, setup) = ReshareSetup::from_nodes(me, &dealers, new_nodes, threshold).unwrap();
            let share = old_nodes
                .iter()
                .position(|n| n == me)
                .map(|k| old[k].clone());
            (setup, share, ChaCha20Rng::seed_from_u64(90 + i as u64))
        })
        .collect();
    let old_package = &old_package;
    let outputs = round_based::sim::run_with_setup(
        inputs,
        |_,
         party: round_based::state_machine::MpcParty<EddsaReshareMsg>,
         (setup, share, mut rng)| async move {
            reshare_eddsa(party, sid, &setup, old_package, share.as_ref(), &mut rng).await
        },
    )
    .expect("simulation")
    .expect_ok()
    .into_vec();
    let digest = outputs[0].new_key_digest;
    assert!(outputs.iter().all(|o| o.new_key_digest == digest));
    outputs
        .into_iter()
        .take(new_nodes.len())
        .map(|o| o.share.expect("new holder"))
        .collect()
}

#[test]
fn a_refresh_of_an_imported_key_keeps_the_key_and_its_hd_children_and_signs() {
    let (key, old, committee) = must_imported_shares("w-eddsa-refresh", 3, false);
    let new = must_reshare(&old, &committee, &[0, 2], &committee, 2);
    let path = [3u32, 1];
    for s in &new {
        assert_eq!(s.public_key().unwrap(), key);
        assert_eq!(
            s.derive_child(&CHAIN_CODE, &path).unwrap().1,
            old[0].derive_child(&CHAIN_CODE, &path).unwrap().1
        );
    }
    let message = b"after refresh";
    must_verify_strict(&key, message, &must_sign(&new, &[0, 1], message));
}

#[test]
fn an_imported_key_moves_to_a_new_committee_with_a_newcomer() {
    let (key, old, committee) = must_imported_shares("w-eddsa-move", 4, false);
    // The holder with keygen index 1 leaves; a new node joins.
    let new_nodes = vec![
        committee[0].clone(),
        committee[2].clone(),
        "newcomer".to_string(),
    ];
    let new = must_reshare(&old, &committee, &[1, 2], &new_nodes, 2);
    let message = b"after the move";
    must_verify_strict(&key, message, &must_sign(&new, &[1, 2], message));
}
