//! Aux info generation from pre-generated primes, and the generator of the TEST-ONLY aux info
//! fixtures the other ECDSA tests load (regenerate with
//! `cargo test -p mpcium-tss --release --test ecdsa_aux -- --ignored`).

mod ecdsa_support;

use ecdsa_support::*;
use mpcium_tss::delivery::connect;
use mpcium_tss::ecdsa::{aux_info, AuxInfo};
use mpcium_tss::ProtocolKind;

fn must_run_aux(n: u16, request: &str) -> Vec<AuxInfo> {
    let session = must_session(ProtocolKind::EcdsaAuxInfo, request, n);
    must_all_ok(run_parties(n, None, |i, rx, tx| {
        let primes = must_test_primes(usize::from(i));
        async move { aux_info(session, i, n, primes, connect(session, i, n, rx, tx)).await }
    }))
}

#[test]
fn aux_info_from_pregenerated_primes_completes_for_three_parties_and_survives_sealing() {
    let aux = must_run_aux(3, "aux-test");
    for a in &aux {
        assert_eq!(a.n(), 3);
        let reopened = AuxInfo::open(&a.seal().unwrap()).unwrap();
        assert_eq!(reopened.n(), 3);
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
        let aux = must_run_aux(n, &format!("TEST-ONLY aux fixture n={n}"));
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
