//! Floor benchmark for CGGMP24 ECDSA: safe primes, aux info, keygen, presign, the online step and
//! full signing, all parties simulated on one thread with `round_based::sim` (no network, no
//! serialization), one JSON object per measurement on stdout. `p50_ms`/`p99_ms` are per run for
//! the whole committee; `per_party_ms` is the median divided by the number of parties, i.e. the
//! CPU one party spends. Prime sets are generated on two threads and timed one by one.
//! `ecdsa_round1b_check` times alone what our round-1 check (`src/ecdsa/round1_check.rs`) adds per
//! peer and session: two Π^enc-elg verifications at the signing parameters (20 runs).
//!
//! Run: `cargo run --release -p mpcium-tss --example floor [runs]` (default 3 runs; aux info
//! runs once per node set — it takes tens of seconds). GMP's kernels are chosen as in the node
//! (`MPCIUM_GMP_KERNELS`, default `auto`; `gmp` measures GMP's own dispatch); the choice goes
//! to stderr.

use std::time::{Duration, Instant};

use mpcium_tss::ecdsa::{
    aux_info, keygen, presign, sign_digest, AuxInfo, AuxInfoMsg, KeyShare, KeygenMsg, MessageHash,
    Presignature, Primes, PrimesJob, SigningMsg,
};
use mpcium_tss::{Participants, ProtocolKind, SessionId, Threshold};

type Error = Box<dyn std::error::Error>;

fn session(kind: ProtocolKind, request: &str, n: u16) -> Result<SessionId, Error> {
    let nodes = (0..n).map(|i| format!("node{i}")).collect();
    Ok(SessionId::derive(
        kind,
        request.as_bytes(),
        &Participants::new(nodes)?,
    ))
}

fn timed<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<(T, Duration), Error> {
    let start = Instant::now();
    let out = f()?;
    Ok((out, start.elapsed()))
}

fn report(bench: &str, n: u16, t: Option<u16>, parties: u16, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let pick = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).copied().map(ms).unwrap_or(f64::NAN)
    };
    let p50 = pick(0.5);
    let line = serde_json::json!({
        "bench": bench, "n": n, "t": t, "runs": samples.len(),
        "p50_ms": p50, "p99_ms": pick(0.99), "per_party_ms": p50 / f64::from(parties),
    });
    println!("{line}");
}

/// Generates `count` prime sets on two threads; returns them sealed with each set's time.
fn primes(count: usize) -> Result<Vec<(Vec<u8>, Duration)>, Error> {
    let per_thread = count.div_ceil(2);
    let handles: Vec<_> = (0..2)
        .map(|k| {
            let mine = per_thread.min(count.saturating_sub(k * per_thread));
            std::thread::spawn(move || -> Result<Vec<(Vec<u8>, Duration)>, String> {
                (0..mine)
                    .map(|_| {
                        let start = Instant::now();
                        let p = PrimesJob::new().run(|_| {}).map_err(|e| e.to_string())?;
                        let sealed = p.seal().map_err(|e| e.to_string())?.to_vec();
                        Ok((sealed, start.elapsed()))
                    })
                    .collect()
            })
        })
        .collect();
    let mut out = vec![];
    for h in handles {
        out.extend(h.join().map_err(|_| "prime thread panicked")??);
    }
    Ok(out)
}

fn run_aux(n: u16, sealed_primes: &[(Vec<u8>, Duration)]) -> Result<Vec<AuxInfo>, Error> {
    let sid = session(ProtocolKind::EcdsaAuxInfo, "floor aux", n)?;
    let primes = sealed_primes
        .iter()
        .take(usize::from(n))
        .map(|(s, _)| Primes::open(s))
        .collect::<Result<Vec<_>, _>>()?;
    let out = round_based::sim::run_with_setup(
        primes,
        |i, party: round_based::state_machine::MpcParty<AuxInfoMsg>, p| async move {
            aux_info(sid, i, n, p, party).await
        },
    )?;
    Ok(out.into_vec().into_iter().collect::<Result<_, _>>()?)
}

fn run_keygen(n: u16, t: u16, run: usize, aux: &[AuxInfo]) -> Result<Vec<KeyShare>, Error> {
    let sid = session(ProtocolKind::EcdsaKeygen, &format!("floor keygen {run}"), n)?;
    let threshold = Threshold::new(t, n)?;
    let out = round_based::sim::run(
        n,
        |i, party: round_based::state_machine::MpcParty<KeygenMsg>| async move {
            keygen(sid, i, n, threshold, [7; 32], party).await
        },
    )?;
    out.into_vec()
        .into_iter()
        .zip(aux.iter().cloned())
        .map(|(s, a)| Ok(KeyShare::from_parts(s?, a)?))
        .collect()
}

fn run_presign(shares: &[KeyShare], t: u16, run: usize) -> Result<Vec<Presignature>, Error> {
    let sid = session(
        ProtocolKind::EcdsaPresign,
        &format!("floor presign {run}"),
        t,
    )?;
    let committee = shares
        .first()
        .ok_or("no shares")?
        .committee((0..t).collect())?;
    let committee = &committee;
    let out = round_based::sim::run_with_setup(
        shares.iter().take(usize::from(t)),
        |_, party: round_based::state_machine::MpcParty<SigningMsg>, share| async move {
            presign(sid, share, committee, &[], party).await
        },
    )?;
    Ok(out.into_vec().into_iter().collect::<Result<_, _>>()?)
}

fn run_sign(shares: &[KeyShare], t: u16, run: usize) -> Result<(), Error> {
    let sid = session(ProtocolKind::EcdsaSign, &format!("floor sign {run}"), t)?;
    let committee = shares
        .first()
        .ok_or("no shares")?
        .committee((0..t).collect())?;
    let committee = &committee;
    let out = round_based::sim::run_with_setup(
        shares.iter().take(usize::from(t)),
        |_, party: round_based::state_machine::MpcParty<SigningMsg>, share| async move {
            sign_digest(sid, share, committee, &[9; 32], &[], party).await
        },
    )?;
    for r in out.into_vec() {
        r?;
    }
    Ok(())
}

fn online(presigs: Vec<Presignature>) -> Result<(), Error> {
    let (partials, pending): (Vec<_>, Vec<_>) = presigs
        .into_iter()
        .map(|p| p.issue(b"floor message", MessageHash::Sha256))
        .unzip();
    pending
        .first()
        .ok_or("no presignatures")?
        .combine(&partials)?;
    Ok(())
}

/// Two Π^enc-elg verifications as our round-1 check does them, `runs` times: a prover's Paillier
/// key from one prime set, a verifier's ring-Pedersen parameters with the CRT precomputation
/// cggmp24 keeps for its own (as aux info generates them) from another, proofs made as in round 1.
fn round1b_check(
    sealed_primes: &[(Vec<u8>, Duration)],
    runs: usize,
) -> Result<Vec<Duration>, Error> {
    use cggmp24::generic_ec::{curves::Secp256k1, Point, Scalar};
    use cggmp24::security_level::{SecurityLevel, SecurityLevel128};
    use paillier_zk::fast_paillier::{backend::Integer, utils::CrtExp, DecryptionKey};
    use paillier_zk::paillier_encryption_in_range_with_el_gamal as pi;
    use paillier_zk::IntegerExt;

    let primes = |k: usize| -> Result<[Integer; 4], Error> {
        let sealed = &sealed_primes.get(k).ok_or("too few prime sets")?.0;
        let raw: cggmp24::PregeneratedPrimes<SecurityLevel128> =
            mpcium_tss::material::open(mpcium_tss::material::MaterialKind::EcdsaPrimes, sealed)?;
        Ok(raw.into_primes())
    };
    let rng = &mut rand_core::OsRng;
    let [p, q, _, _] = primes(0)?;
    let key = DecryptionKey::from_primes(p, q).map_err(|_| "bad paillier primes")?;
    let [_, _, hat_p, hat_q] = primes(1)?;
    let hat_n = &hat_p * &hat_q;
    let crt = CrtExp::build_n(&hat_p, &hat_q).ok_or("bad ring-pedersen primes")?;
    let phi: Integer = (&hat_p - 1u8) * (&hat_q - 1u8);
    let t = Integer::sample_in_mult_group_of(rng, &hat_n)
        .square()
        .modulo(&hat_n);
    let lambda = (phi >> 2u32).random_below(rng);
    let s = crt
        .exp(&t, &crt.prepare_exponent(&lambda))
        .ok_or("pow mod")?;
    let aux = pi::Aux {
        s,
        t,
        rsa_modulo: hat_n,
        multiexp: None,
        crt: Some(crt),
    };
    let security = pi::SecurityParams {
        l: SecurityLevel128::ELL,
        epsilon: SecurityLevel128::EPSILON,
    };

    let plaintext = Integer::from_rng_half_pm(rng, &Integer::curve_order::<Secp256k1>());
    let nonce = Integer::sample_in_mult_group_of(rng, key.n());
    let ciphertext = key
        .encrypt_with(&plaintext, &nonce)
        .map_err(|_| "encrypt")?;
    let a = Scalar::<Secp256k1>::random(rng);
    let y = Point::generator() * Scalar::<Secp256k1>::random(rng);
    let (big_a, big_x) = (
        Point::generator() * a,
        y * a + Point::generator() * plaintext.to_scalar(),
    );
    let data = pi::Data {
        key: &key,
        ciphertext: &ciphertext,
        a: &y,
        b: &big_a,
        x: &big_x,
    };
    let private = pi::PrivateData {
        plaintext: &plaintext,
        nonce: &nonce,
        b: &a,
    };
    let state = "floor round1b check";
    let proof = pi::non_interactive::prove::<Secp256k1, sha2::Sha256>(
        &state, &aux, data, private, &security, rng,
    )?;
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..2 {
                pi::non_interactive::verify::<Secp256k1, sha2::Sha256>(
                    &state, &aux, data, &proof, &security,
                )
                .map_err(|e| format!("honest proof rejected: {e:?}"))?;
            }
            Ok(start.elapsed())
        })
        .collect()
}

fn main() -> Result<(), Error> {
    // Before any GMP use; stderr keeps stdout one measurement per line.
    eprintln!("{}", mpcium_gmp::select_from_env());
    let runs: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(3);
    let sealed_primes = primes(5)?;
    report(
        "ecdsa_primes",
        1,
        None,
        1,
        sealed_primes.iter().map(|(_, d)| *d).collect(),
    );
    report(
        "ecdsa_round1b_check",
        1,
        None,
        1,
        round1b_check(&sealed_primes, 20)?,
    );
    for (n, t) in [(3u16, 2u16), (5, 3)] {
        let (aux, d) = timed(|| run_aux(n, &sealed_primes))?;
        report("ecdsa_aux_info", n, None, n, vec![d]);
        let mut keygen_s = vec![];
        let mut presign_s = vec![];
        let mut online_s = vec![];
        let mut sign_s = vec![];
        let mut shares = vec![];
        for run in 0..runs {
            let (s, d) = timed(|| run_keygen(n, t, run, &aux))?;
            keygen_s.push(d);
            shares = s;
            let (presigs, d) = timed(|| run_presign(&shares, t, run))?;
            presign_s.push(d);
            online_s.push(timed(|| online(presigs))?.1);
            sign_s.push(timed(|| run_sign(&shares, t, run))?.1);
        }
        report("ecdsa_keygen", n, Some(t), n, keygen_s);
        report("ecdsa_presign", n, Some(t), t, presign_s);
        report("ecdsa_online_sign", n, Some(t), t, online_s);
        report("ecdsa_full_sign", n, Some(t), t, sign_s);
    }
    Ok(())
}
