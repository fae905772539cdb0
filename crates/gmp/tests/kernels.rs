//! The kernel sets compute exactly what GMP's own choice computes (on a CPU GMP does not know,
//! the generic x86-64 kernels), over the sizes ECDSA's Paillier arithmetic uses and beyond.

use std::sync::{Mutex, MutexGuard};

use mpcium_gmp::{select, Kernels, Request};
use rug::integer::Order;
use rug::rand::RandState;
use rug::{Assign, Integer};

/// Serialises the tests (they switch one process-wide table) and makes the first selection happen
/// before any GMP use in this process.
fn exclusive() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    let guard = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let own = select(Request::Use(Kernels::Gmp));
    assert_eq!(own.kernels(), Kernels::Gmp, "{own}");
    guard
}

/// Products, squares, truncated products, divisions, modular powers and gcds of seeded random
/// numbers from one limb to past the FFT threshold.
fn workload() -> Vec<Integer> {
    let mut rand = RandState::new();
    rand.seed(&Integer::from(0x6d70_6369_756d_u64));
    let mut out = Vec::new();
    for bits in [
        64u32, 200, 512, 1000, 1536, 2048, 3072, 4096, 6144, 20_000, 250_000,
    ] {
        let a = Integer::from(Integer::random_bits(bits, &mut rand));
        let b = Integer::from(Integer::random_bits(bits, &mut rand));
        let product = Integer::from(&a * &b);
        let mut low = product.clone();
        low.keep_bits_mut(bits);
        let d = Integer::from(Integer::random_bits(bits / 2 + 1, &mut rand)) + 1u32;
        let (q, r) = product.clone().div_rem(d.clone());
        out.extend([Integer::from(&a * &a), product, low, q, r]);
        out.push(Integer::from(a.gcd_ref(&b)));
        if bits <= 6144 {
            let modulus = Integer::from(Integer::random_bits(bits, &mut rand)) | 1u32;
            let exponent = Integer::from(Integer::random_bits(bits, &mut rand));
            let mut power = Integer::new();
            power.assign(a.pow_mod_ref(&exponent, &modulus).expect("odd modulus"));
            out.push(power);
        }
    }
    // Every limb of a dense all-ones operand exercises each carry path.
    let ones = Integer::from_digits(&[u64::MAX; 97], Order::Lsf);
    out.push(Integer::from(&ones * &ones));
    out
}

#[test]
fn every_kernel_set_the_cpu_runs_computes_what_gmps_own_choice_computes() {
    let _serial = exclusive();
    let reference = workload();
    for set in [Kernels::Haswell, Kernels::Broadwell] {
        let selection = select(Request::Use(set));
        if set.missing_feature().is_some() {
            assert_eq!(selection.kernels(), Kernels::Gmp, "{selection}");
            continue;
        }
        assert_eq!(selection.kernels(), set, "{selection}");
        let got = workload();
        assert_eq!(got.len(), reference.len());
        for (i, (g, r)) in got.iter().zip(&reference).enumerate() {
            assert!(g == r, "{set}: result {i} differs from GMP's own kernels");
        }
    }
    select(Request::Use(Kernels::Gmp));
}

#[test]
fn auto_picks_a_set_the_cpu_runs_and_the_best_one_with_bmi2_and_adx() {
    let _serial = exclusive();
    let selection = select(Request::Auto);
    assert_eq!(selection.kernels().missing_feature(), None, "{selection}");
    let best = Kernels::ALL
        .into_iter()
        .find(|k| k.missing_feature().is_none());
    if selection.kernels() != Kernels::Gmp {
        assert_eq!(Some(selection.kernels()), best, "{selection}");
    } else if best != Some(Kernels::Gmp) {
        assert!(selection.why().contains("already uses mulx"), "{selection}");
    }
    select(Request::Use(Kernels::Gmp));
}
