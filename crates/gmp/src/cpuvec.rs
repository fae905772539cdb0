//! GMP 6.3's fat dispatch table (`struct cpuvec_t` in `gmp-impl.h`): 37 function pointers, one per
//! `mpn` function in alphabetical order, then five size thresholds. Only pointers are rewritten;
//! the thresholds stay as GMP's own initialisation set them.
//!
//! The layout is not trusted: before GMP's first use every slot holds the address of GMP's
//! `__gmpn_<function>_init` trampoline, and [`select`] refuses to touch the table unless all 37
//! slots hold exactly the trampolines of the functions this file expects there.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::{Kernels, Request, Selection, ENV};

/// Number of function slots in `struct cpuvec_t` of GMP 6.3.
const SLOTS: usize = 37;

// Slot indices (alphabetical position in `struct cpuvec_t`) of the functions we replace.
const ADD_N: usize = 0;
const ADDMUL_1: usize = 3;
const ADDMUL_2: usize = 4;
const MUL_1: usize = 25;
const MUL_BASECASE: usize = 26;
const MULLO_BASECASE: usize = 27;
const REDC_1: usize = 30;
const SQR_BASECASE: usize = 33;
const SUB_N: usize = 34;
const SUBMUL_1: usize = 36;

/// A C function we only take the address of (or, for `__gmpn_cpuvec_init`, call without arguments).
type Entry = unsafe extern "C" fn();

extern "C" {
    static mut __gmpn_cpuvec: [usize; SLOTS];
    static __gmpn_cpuvec_initialized: i32;
    fn __gmpn_cpuvec_init();

    // The trampolines GMP's table starts with, in slot order.
    fn __gmpn_add_n_init();
    fn __gmpn_addlsh1_n_init();
    fn __gmpn_addlsh2_n_init();
    fn __gmpn_addmul_1_init();
    fn __gmpn_addmul_2_init();
    fn __gmpn_bdiv_dbm1c_init();
    fn __gmpn_cnd_add_n_init();
    fn __gmpn_cnd_sub_n_init();
    fn __gmpn_com_init();
    fn __gmpn_copyd_init();
    fn __gmpn_copyi_init();
    fn __gmpn_divexact_1_init();
    fn __gmpn_divrem_1_init();
    fn __gmpn_gcd_11_init();
    fn __gmpn_lshift_init();
    fn __gmpn_lshiftc_init();
    fn __gmpn_mod_1_init();
    fn __gmpn_mod_1_1p_init();
    fn __gmpn_mod_1_1p_cps_init();
    fn __gmpn_mod_1s_2p_init();
    fn __gmpn_mod_1s_2p_cps_init();
    fn __gmpn_mod_1s_4p_init();
    fn __gmpn_mod_1s_4p_cps_init();
    fn __gmpn_mod_34lsub1_init();
    fn __gmpn_modexact_1c_odd_init();
    fn __gmpn_mul_1_init();
    fn __gmpn_mul_basecase_init();
    fn __gmpn_mullo_basecase_init();
    fn __gmpn_preinv_divrem_1_init();
    fn __gmpn_preinv_mod_1_init();
    fn __gmpn_redc_1_init();
    fn __gmpn_redc_2_init();
    fn __gmpn_rshift_init();
    fn __gmpn_sqr_basecase_init();
    fn __gmpn_sub_n_init();
    fn __gmpn_sublsh1_n_init();
    fn __gmpn_submul_1_init();

    // Kernels written for Haswell (x86_64/coreihwl). Disassembly of the gmp-mpfr-sys 1.7.1 build:
    // the multiplying ones use `mulx` (BMI2) and nothing newer; add_n/sub_n use only base x86-64.
    fn __gmpn_add_n_coreihwl();
    fn __gmpn_sub_n_coreihwl();
    fn __gmpn_addmul_1_coreihwl();
    fn __gmpn_addmul_2_coreihwl();
    fn __gmpn_mul_1_coreihwl();
    fn __gmpn_mul_basecase_coreihwl();
    fn __gmpn_mullo_basecase_coreihwl();
    fn __gmpn_redc_1_coreihwl();
    fn __gmpn_sqr_basecase_coreihwl();
    fn __gmpn_submul_1_coreihwl();

    // Kernels written for Broadwell (x86_64/coreibwl): `mulx` plus `adcx`/`adox` (ADX); the
    // squaring one also `shrx`/`sarx` (BMI2).
    fn __gmpn_addmul_1_coreibwl();
    fn __gmpn_mul_1_coreibwl();
    fn __gmpn_mul_basecase_coreibwl();
    fn __gmpn_mullo_basecase_coreibwl();
    fn __gmpn_sqr_basecase_coreibwl();

    // GMP's own mulx addmul_1 kernel for AMD Zen, only to recognise that GMP chose mulx itself.
    fn __gmpn_addmul_1_zen();
}

fn addr(f: Entry) -> usize {
    f as usize
}

/// What slot `i` must hold before GMP's initialisation.
fn trampolines() -> [usize; SLOTS] {
    [
        addr(__gmpn_add_n_init),
        addr(__gmpn_addlsh1_n_init),
        addr(__gmpn_addlsh2_n_init),
        addr(__gmpn_addmul_1_init),
        addr(__gmpn_addmul_2_init),
        addr(__gmpn_bdiv_dbm1c_init),
        addr(__gmpn_cnd_add_n_init),
        addr(__gmpn_cnd_sub_n_init),
        addr(__gmpn_com_init),
        addr(__gmpn_copyd_init),
        addr(__gmpn_copyi_init),
        addr(__gmpn_divexact_1_init),
        addr(__gmpn_divrem_1_init),
        addr(__gmpn_gcd_11_init),
        addr(__gmpn_lshift_init),
        addr(__gmpn_lshiftc_init),
        addr(__gmpn_mod_1_init),
        addr(__gmpn_mod_1_1p_init),
        addr(__gmpn_mod_1_1p_cps_init),
        addr(__gmpn_mod_1s_2p_init),
        addr(__gmpn_mod_1s_2p_cps_init),
        addr(__gmpn_mod_1s_4p_init),
        addr(__gmpn_mod_1s_4p_cps_init),
        addr(__gmpn_mod_34lsub1_init),
        addr(__gmpn_modexact_1c_odd_init),
        addr(__gmpn_mul_1_init),
        addr(__gmpn_mul_basecase_init),
        addr(__gmpn_mullo_basecase_init),
        addr(__gmpn_preinv_divrem_1_init),
        addr(__gmpn_preinv_mod_1_init),
        addr(__gmpn_redc_1_init),
        addr(__gmpn_redc_2_init),
        addr(__gmpn_rshift_init),
        addr(__gmpn_sqr_basecase_init),
        addr(__gmpn_sub_n_init),
        addr(__gmpn_sublsh1_n_init),
        addr(__gmpn_submul_1_init),
    ]
}

/// The (slot, kernel) pairs a set installs; [`Kernels::Gmp`] restores the saved table instead.
fn kernels_of(set: Kernels) -> Vec<(usize, usize)> {
    let haswell = [
        (ADD_N, addr(__gmpn_add_n_coreihwl)),
        (SUB_N, addr(__gmpn_sub_n_coreihwl)),
        (ADDMUL_1, addr(__gmpn_addmul_1_coreihwl)),
        (ADDMUL_2, addr(__gmpn_addmul_2_coreihwl)),
        (MUL_1, addr(__gmpn_mul_1_coreihwl)),
        (MUL_BASECASE, addr(__gmpn_mul_basecase_coreihwl)),
        (MULLO_BASECASE, addr(__gmpn_mullo_basecase_coreihwl)),
        (REDC_1, addr(__gmpn_redc_1_coreihwl)),
        (SQR_BASECASE, addr(__gmpn_sqr_basecase_coreihwl)),
        (SUBMUL_1, addr(__gmpn_submul_1_coreihwl)),
    ];
    let broadwell = [
        (ADDMUL_1, addr(__gmpn_addmul_1_coreibwl)),
        (MUL_1, addr(__gmpn_mul_1_coreibwl)),
        (MUL_BASECASE, addr(__gmpn_mul_basecase_coreibwl)),
        (MULLO_BASECASE, addr(__gmpn_mullo_basecase_coreibwl)),
        (SQR_BASECASE, addr(__gmpn_sqr_basecase_coreibwl)),
    ];
    match set {
        Kernels::Gmp => Vec::new(),
        Kernels::Haswell => haswell.to_vec(),
        // Broadwell overrides the Haswell kernels where it has its own.
        Kernels::Broadwell => haswell.into_iter().chain(broadwell).collect(),
    }
}

/// The table's address. Every access is an aligned word-sized atomic one, which is how GMP's
/// entry points (`jmp *slot`) read a slot concurrently on x86-64.
fn table() -> *mut AtomicUsize {
    (&raw mut __gmpn_cpuvec).cast::<AtomicUsize>()
}

fn slot(i: usize) -> &'static AtomicUsize {
    debug_assert!(i < SLOTS);
    // SAFETY: `i < SLOTS`, the table is a static of `SLOTS` words, verified in `gmp_choice`.
    unsafe { &*table().add(i) }
}

/// GMP's own table after its initialisation, or why the table cannot be used.
fn gmp_choice() -> &'static Result<[usize; SLOTS], String> {
    static SAVED: OnceLock<Result<[usize; SLOTS], String>> = OnceLock::new();
    SAVED.get_or_init(|| {
        let version = (gmp_mpfr_sys::gmp::VERSION, gmp_mpfr_sys::gmp::VERSION_MINOR);
        if version != (6, 3) {
            return Err(format!(
                "GMP {}.{} has an unverified table layout",
                version.0, version.1
            ));
        }
        // SAFETY: an aligned `int` static of GMP, read atomically.
        let initialized = unsafe {
            (*(&raw const __gmpn_cpuvec_initialized).cast::<AtomicI32>()).load(Ordering::Acquire)
        };
        if initialized != 0 {
            return Err("GMP was used before the kernel choice; layout unverifiable".to_owned());
        }
        let expected = trampolines();
        if let Some(i) = (0..SLOTS).find(|&i| slot(i).load(Ordering::Acquire) != expected[i]) {
            return Err(format!("GMP's dispatch table differs at slot {i}"));
        }
        // SAFETY: GMP's own, thread-safe initialisation (it may also run concurrently from a
        // trampoline; both write the same table).
        unsafe { __gmpn_cpuvec_init() };
        let mut saved = [0; SLOTS];
        for (i, s) in saved.iter_mut().enumerate() {
            *s = slot(i).load(Ordering::Acquire);
        }
        Ok(saved)
    })
}

fn install(set: Kernels, saved: &[usize; SLOTS]) {
    static WRITER: Mutex<()> = Mutex::new(());
    let _one_writer = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    for (i, own) in saved.iter().enumerate() {
        slot(i).store(*own, Ordering::Release);
    }
    for (i, kernel) in kernels_of(set) {
        slot(i).store(kernel, Ordering::Release);
    }
}

pub(crate) fn select(request: Request) -> Selection {
    let gmp = |why: String| Selection {
        kernels: Kernels::Gmp,
        why,
    };
    let saved = match gmp_choice() {
        Ok(saved) => saved,
        Err(e) => return gmp(e.clone()),
    };
    let own_mulx = [
        addr(__gmpn_addmul_1_coreihwl),
        addr(__gmpn_addmul_1_coreibwl),
        addr(__gmpn_addmul_1_zen),
    ]
    .contains(&saved[ADDMUL_1]);
    let (set, why) = match request {
        Request::Auto if own_mulx => (
            Kernels::Gmp,
            "auto: GMP's own dispatch already uses mulx kernels".to_owned(),
        ),
        Request::Auto => match [Kernels::Broadwell, Kernels::Haswell]
            .into_iter()
            .find(|k| k.missing_feature().is_none())
        {
            Some(k) => (
                k,
                format!(
                    "auto: the CPU reports {}; GMP's own dispatch chose kernels without mulx",
                    if k == Kernels::Broadwell {
                        "BMI2 and ADX"
                    } else {
                        "BMI2"
                    }
                ),
            ),
            None => (
                Kernels::Gmp,
                "auto: the CPU lacks BMI2; GMP's own choice".to_owned(),
            ),
        },
        Request::Use(k) => match k.missing_feature() {
            None => (k, format!("{ENV}={k}")),
            Some(feature) => (
                Kernels::Gmp,
                format!("{ENV}={k} refused: the CPU lacks {feature}"),
            ),
        },
    };
    install(set, saved);
    Selection { kernels: set, why }
}
