//! Floor benchmark for FROST Ed25519: DKG and signing with all parties simulated on one thread
//! (no network), printing one JSON object per measurement. `per_party_ms` is the median wall time
//! divided by the number of parties, i.e. the CPU one party spends.
//!
//! Run: `cargo run --release -p mpcium-tss --example floor_eddsa [runs]`.

use std::time::{Duration, Instant};

use mpcium_tss::eddsa::keygen::{keygen, KeygenMsg};
use mpcium_tss::eddsa::sign::{sign, SignMsg};
use mpcium_tss::eddsa::EddsaKeyShare;
use mpcium_tss::{Participants, ProtocolKind, SessionId, Threshold, TssError};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn session(kind: ProtocolKind, n: u16) -> Result<SessionId, TssError> {
    let nodes = (0..n).map(|i| format!("node{i}")).collect();
    Ok(SessionId::derive(
        kind,
        b"floor",
        &Participants::new(nodes)?,
    ))
}

fn run_keygen(t: u16, n: u16, seed: u64) -> Result<Vec<EddsaKeyShare>, Box<dyn std::error::Error>> {
    let sid = session(ProtocolKind::EddsaKeygen, n)?;
    let threshold = Threshold::new(t, n)?;
    let outputs = round_based::sim::run_with_setup(
        (0..n).map(|i| ChaCha20Rng::seed_from_u64(seed * 1000 + u64::from(i))),
        |i, party: round_based::state_machine::MpcParty<KeygenMsg>, mut rng| async move {
            keygen(party, sid, i, n, threshold, &mut rng).await
        },
    )?;
    Ok(outputs
        .into_vec()
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?)
}

fn run_sign(shares: &[EddsaKeyShare], t: u16, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    let signers: Vec<u16> = (0..t).collect();
    let sid = session(ProtocolKind::EddsaSign, t)?;
    let signers_ref = &signers;
    let outputs = round_based::sim::run_with_setup(
        shares.iter().take(usize::from(t)).cloned().zip(0u64..),
        |i, party: round_based::state_machine::MpcParty<SignMsg>, (share, k)| async move {
            let mut rng = ChaCha20Rng::seed_from_u64(seed * 1000 + k);
            sign(
                party,
                sid,
                i,
                signers_ref,
                &share,
                b"floor benchmark",
                &mut rng,
            )
            .await
        },
    )?;
    outputs
        .into_vec()
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(idx).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn report(bench: &str, t: u16, n: u16, parties: u16, mut times: Vec<Duration>) {
    times.sort();
    let p50 = percentile(&times, 0.5);
    let line = serde_json::json!({
        "bench": bench,
        "n": n,
        "t": t,
        "runs": times.len(),
        "p50_ms": (p50 * 1000.0).round() / 1000.0,
        "p99_ms": (percentile(&times, 0.99) * 1000.0).round() / 1000.0,
        "per_party_ms": (p50 / f64::from(parties) * 1000.0).round() / 1000.0,
    });
    println!("{line}");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(50);
    for (t, n) in [(2u16, 3u16), (3, 5)] {
        let mut keygen_times = Vec::new();
        let mut shares = Vec::new();
        for r in 0..runs {
            let start = Instant::now();
            shares = run_keygen(t, n, r)?;
            keygen_times.push(start.elapsed());
        }
        report("eddsa_keygen", t, n, n, keygen_times);

        let mut sign_times = Vec::new();
        for r in 0..runs {
            let start = Instant::now();
            run_sign(&shares, t, r)?;
            sign_times.push(start.elapsed());
        }
        report("eddsa_sign", t, n, t, sign_times);
    }
    Ok(())
}
