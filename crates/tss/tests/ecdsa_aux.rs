//! Aux info generation from pre-generated primes, an upstream finding about its ring-Pedersen
//! proof, and the generator of the TEST-ONLY aux info fixtures the other ECDSA tests load
//! (regenerate with `cargo test -p mpcium-tss --release --test ecdsa_aux -- --ignored`).

mod ecdsa_support;

use std::sync::OnceLock;

use ecdsa_support::*;
use mpcium_tss::delivery::{connect, WireMessage};
use mpcium_tss::ecdsa::{aux_info, AuxInfo, AuxInfoMsg};
use mpcium_tss::ProtocolKind;

fn must_run_aux(n: u16, request: &str, tamper: Option<Tamper>) -> Vec<AuxInfo> {
    let session = must_session(ProtocolKind::EcdsaAuxInfo, request, n);
    must_all_ok(run_parties(n, tamper, |i, rx, tx| {
        let primes = must_test_primes(usize::from(i));
        async move { aux_info(session, i, n, primes, connect(session, i, n, rx, tx)).await }
    }))
}

/// One aux-info run of three parties with every message recorded, shared by the tests below (it
/// takes seconds).
fn observed_run() -> &'static (Vec<AuxInfo>, Vec<WireMessage>) {
    static RUN: OnceLock<(Vec<AuxInfo>, Vec<WireMessage>)> = OnceLock::new();
    RUN.get_or_init(|| {
        let (hook, seen) = recorder();
        let aux = must_run_aux(3, "aux-test", Some(hook));
        let messages = seen.lock().unwrap().clone();
        (aux, messages)
    })
}

#[test]
fn aux_info_from_pregenerated_primes_completes_for_three_parties_and_survives_sealing() {
    let (aux, _) = observed_run();
    for a in aux {
        assert_eq!(a.n(), 3);
        let reopened = AuxInfo::open(&a.seal().unwrap()).unwrap();
        assert_eq!(reopened.n(), 3);
    }
}

/// Upstream finding (docs/crypto.md, "Findings"): cggmp24 =0.7.0-alpha.3's Π^prm
/// (`src/zk/ring_pedersen_parameters.rs:61-72`) never increments `bits_generated`, so of its
/// M = 128 challenge bits only the first 32 are random and the rest are always 0 — soundness
/// 2^-32 instead of 2^-128. The bits are read off honest proofs from a real run: for challenge
/// bit e the proof answers `t^z = s^e · A mod N̂`, so `e = 1` exactly where `t^z ≠ A`. This test
/// fails once the bug is fixed; then turn it around.
#[test]
fn the_ring_pedersen_proof_of_aux_info_has_only_32_random_challenge_bits_upstream_gap() {
    let (_, messages) = observed_run();
    // Round numbers follow the message enum: Round2 (the decommitment) is 1.
    let round2: Vec<_> = messages.iter().filter(|m| m.round == 1).collect();
    assert_eq!(round2.len(), 3, "one broadcast per party");
    for m in round2 {
        let msg: AuxInfoMsg = serde_json::from_slice(&m.payload).unwrap();
        let cggmp24::key_refresh::msg::Msg::Round2(d) = msg else {
            panic!("round 1 of aux info carries the decommitment")
        };
        let proof = &d.params_proof;
        let bits: Vec<bool> = proof
            .commitment
            .iter()
            .zip(&proof.zs)
            .map(|(a, z)| d.t.pow_mod_ref(z, &d.hat_N).unwrap() != *a)
            .collect();
        assert_eq!(bits.len(), 128);
        assert!(
            bits[32..].iter().all(|e| !e),
            "party {}: challenge bits beyond 32 are not all zero: {bits:?}",
            m.sender
        );
        assert!(
            bits[..32].iter().any(|e| *e),
            "party {}: {bits:?}",
            m.sender
        );
    }
}

#[test]
fn aux_info_debug_does_not_print_secret_primes() {
    let aux = must_test_aux(3);
    let shown = format!("{:?}", aux[0]);
    assert_eq!(shown, "AuxInfo(<redacted>)");
    let shown = format!("{:?}", must_test_primes(0));
    assert_eq!(shown, "Primes(<redacted>)");
}

#[test]
#[ignore = "generator: rewrites the TEST-ONLY aux info fixtures"]
fn generate_test_only_aux_info_fixtures() {
    for n in [3u16, 5] {
        let aux = must_run_aux(n, &format!("TEST-ONLY aux fixture n={n}"), None);
        let hexes: Vec<String> = aux
            .iter()
            .map(|a| hex::encode(&*a.seal().unwrap()))
            .collect();
        std::fs::write(
            fixture_path(&aux_fixture_name(n)),
            serde_json::to_string(&hexes).unwrap(),
        )
        .unwrap();
    }
}
