//! Stored ECDSA formats are pinned: golden v1 envelopes under `tests/fixtures/material/` (a
//! 2-of-3 key's shares and one presignature pair, written once by the ignored generator below)
//! must keep opening, and the presignatures must still combine into a signature that `k256`
//! verifies under the stored public key.

mod ecdsa_support;

use ecdsa_support::*;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use mpcium_tss::delivery::connect;
use mpcium_tss::ecdsa::{
    keygen, presign, EcdsaPublicKey, IncompleteKeyShare, KeyShare, MessageHash, Presignature,
};
use mpcium_tss::material::{self, MaterialKind, CURRENT_VERSION};
use mpcium_tss::{ErrorKind, ProtocolKind, Threshold};

const PATH: [u32; 2] = [0, 3];
const MESSAGE: &[u8] = b"golden message";

fn golden(name: &str) -> std::path::PathBuf {
    fixture_path("material").join(name)
}

fn must_read(name: &str) -> Vec<u8> {
    std::fs::read(golden(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn v1_key_shares_still_open_and_agree_on_the_public_key() {
    let expected: serde_json::Value =
        serde_json::from_slice(&must_read("ecdsa-expected-v1.json")).unwrap();
    let key_hex = expected["public_key"].as_str().unwrap();
    for i in 0..2 {
        let bytes = must_read(&format!("ecdsa-key-share-v1-p{i}.bin"));
        assert_eq!(
            material::peek(&bytes).unwrap(),
            (MaterialKind::EcdsaKeyShare, 1)
        );
        let share = KeyShare::open(&bytes).unwrap();
        assert_eq!(share.index(), i);
        assert_eq!((share.n(), share.threshold()), (3, 2));
        assert_eq!(hex::encode(share.public_key().compressed()), key_hex);
    }
    let incomplete =
        IncompleteKeyShare::open(&must_read("ecdsa-incomplete-key-share-v1-p0.bin")).unwrap();
    assert_eq!(hex::encode(incomplete.public_key().compressed()), key_hex);
}

#[test]
fn v1_presignatures_still_open_and_combine_into_a_valid_signature() {
    let expected: serde_json::Value =
        serde_json::from_slice(&must_read("ecdsa-expected-v1.json")).unwrap();
    let child_hex = expected["child_public_key"].as_str().unwrap();
    let mut partials = vec![];
    let mut pending = vec![];
    for i in 0..2u16 {
        let p = Presignature::open(&must_read(&format!("ecdsa-presignature-v1-p{i}.bin"))).unwrap();
        assert_eq!(
            (p.position(), p.path(), p.committee()),
            (i, &PATH[..], &[0u16, 1][..])
        );
        assert_eq!(hex::encode(p.public_key().compressed()), child_hex);
        let (partial, rest) = p.issue(MESSAGE, MessageHash::Keccak256);
        partials.push(partial);
        pending.push(rest);
    }
    let sig = pending[0].combine(&partials).unwrap();
    assert_eq!(pending[1].combine(&partials).unwrap(), sig);
    let child =
        EcdsaPublicKey::from_compressed(&hex::decode(child_hex).unwrap().try_into().unwrap())
            .unwrap();
    let k = k256::ecdsa::Signature::from_scalars(sig.r, sig.s).unwrap();
    child
        .to_k256()
        .unwrap()
        .verify_prehash(&MessageHash::Keccak256.digest(MESSAGE), &k)
        .unwrap();
}

#[test]
fn a_key_share_envelope_does_not_open_as_a_presignature() {
    let err = Presignature::open(&must_read("ecdsa-key-share-v1-p0.bin")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Material);
}

#[test]
fn secret_ecdsa_material_debug_prints_redacted() {
    let share = KeyShare::open(&must_read("ecdsa-key-share-v1-p0.bin")).unwrap();
    assert_eq!(format!("{share:?}"), "KeyShare(<redacted>)");
    let incomplete =
        IncompleteKeyShare::open(&must_read("ecdsa-incomplete-key-share-v1-p0.bin")).unwrap();
    assert_eq!(format!("{incomplete:?}"), "IncompleteKeyShare(<redacted>)");
    let p = Presignature::open(&must_read("ecdsa-presignature-v1-p0.bin")).unwrap();
    assert_eq!(format!("{p:?}"), "Presignature(<redacted>)");
}

#[test]
#[ignore = "generator: rewrites the golden v1 ECDSA material (only when adding a new version)"]
fn generate_golden_v1_ecdsa_material() {
    assert_eq!(CURRENT_VERSION, 1, "golden files are named v1");
    let n = 3;
    let session = must_session(ProtocolKind::EcdsaKeygen, "golden keygen", n);
    let t = Threshold::new(2, n).unwrap();
    let incomplete = must_all_ok(run_parties(n, None, |i, rx, tx| async move {
        keygen(session, i, n, t, [0x24; 32], connect(session, i, n, rx, tx)).await
    }));
    std::fs::create_dir_all(golden("")).unwrap();
    std::fs::write(
        golden("ecdsa-incomplete-key-share-v1-p0.bin"),
        &*incomplete[0].seal().unwrap(),
    )
    .unwrap();
    let shares: Vec<KeyShare> = incomplete
        .into_iter()
        .zip(must_test_aux(n))
        .map(|(s, a)| KeyShare::from_parts(s, a).unwrap())
        .collect();
    let committee = shares[0].committee(vec![0, 1]).unwrap();
    let presign_session = must_session(ProtocolKind::EcdsaPresign, "golden presign", 2);
    let presigs = must_all_ok(run_parties(2, None, |pos, rx, tx| {
        let share = &shares[usize::from(pos)];
        let committee = &committee;
        async move {
            presign(
                presign_session,
                share,
                committee,
                &PATH,
                connect(presign_session, pos, 2, rx, tx),
            )
            .await?
            .seal()
        }
    }));
    for i in 0..2 {
        std::fs::write(
            golden(&format!("ecdsa-key-share-v1-p{i}.bin")),
            &*shares[i].seal().unwrap(),
        )
        .unwrap();
        std::fs::write(
            golden(&format!("ecdsa-presignature-v1-p{i}.bin")),
            &*presigs[i],
        )
        .unwrap();
    }
    let expected = serde_json::json!({
        "note": "TEST-ONLY golden material: a throwaway 2-of-3 key; never load in production",
        "public_key": hex::encode(shares[0].public_key().compressed()),
        "child_public_key": hex::encode(shares[0].derive_public_key(&PATH).unwrap().compressed()),
    });
    std::fs::write(
        golden("ecdsa-expected-v1.json"),
        serde_json::to_vec_pretty(&expected).unwrap(),
    )
    .unwrap();
}
