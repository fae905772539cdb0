//! Safe-prime generation for CGGMP24 aux info: the one slow step (17–74 s per party here), run as
//! a cancellable background job that reports progress after each of the four primes.
//!
//! The job is synchronous and CPU-bound: the node runs it on a blocking thread, persists the
//! sealed [`Primes`] (encrypted) and consumes each set in exactly one [`aux_info`](super::aux_info)
//! run. Test fixtures of pre-generated primes live under `tests/fixtures/` only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cggmp24::backend::Integer;
use cggmp24::security_level::SecurityLevel;
use cggmp24::PregeneratedPrimes;
use rand_core::RngCore;

use super::Level;
use crate::material::{self, MaterialKind};
use crate::TssError;

/// Number of safe primes one party needs (two for Paillier, two for ring-Pedersen).
const PRIMES: u8 = 4;

/// Four safe primes for one party's aux info. Secret: anyone holding them can decrypt the party's
/// Paillier ciphertexts. `Debug` is redacted; the big-int backend (GMP) cannot zeroize them.
pub struct Primes(pub(super) PregeneratedPrimes<Level>);

impl std::fmt::Debug for Primes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Primes(<redacted>)")
    }
}

impl Primes {
    /// Serializes into a versioned envelope ([`MaterialKind::EcdsaPrimes`]).
    pub fn seal(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, TssError> {
        material::seal(MaterialKind::EcdsaPrimes, &self.0)
    }

    /// Decodes an envelope written by [`Primes::seal`]; rejects primes below the security level.
    pub fn open(bytes: &[u8]) -> Result<Self, TssError> {
        // cggmp24's derived `Deserialize` does not check sizes; `TryFrom` does.
        let raw: PregeneratedPrimes<Level> = material::open(MaterialKind::EcdsaPrimes, bytes)?;
        PregeneratedPrimes::try_from(raw.into_primes())
            .map(Self)
            .map_err(|_| TssError::Material("stored primes are below the security level".into()))
    }
}

/// Progress of a [`PrimesJob`]: `done` of `total` primes found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrimesProgress {
    /// Primes found so far.
    pub done: u8,
    /// Primes needed.
    pub total: u8,
}

/// Why a [`PrimesJob`] produced no primes.
#[derive(Debug, thiserror::Error)]
pub enum PrimesError {
    /// The job was cancelled through its [`PrimesJob::cancel_handle`].
    #[error("prime generation was cancelled")]
    Cancelled,
    /// The random number generator or the prime search failed: a bug or a broken platform.
    #[error("prime generation failed: {0}")]
    Failed(String),
}

/// A background job generating one party's [`Primes`].
#[derive(Debug, Default)]
pub struct PrimesJob {
    cancel: Arc<AtomicBool>,
}

impl PrimesJob {
    /// A job that has not started.
    pub fn new() -> Self {
        Self::default()
    }

    /// A flag that, once set, stops the job before its next prime.
    pub fn cancel_handle(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    /// Runs the job on the current thread (blocking, tens of seconds), calling `progress` after
    /// each prime. Run it off any async reactor.
    pub fn run(self, progress: impl FnMut(PrimesProgress)) -> Result<Primes, PrimesError> {
        let mut rng = super::rng().map_err(|e| PrimesError::Failed(e.to_string()))?;
        let primes = generate_each(Level::RSA_PRIME_BITLEN, &mut rng, &self.cancel, progress)?;
        PregeneratedPrimes::try_from(primes)
            .map(Primes)
            .map_err(|_| {
                PrimesError::Failed("generated primes are below the security level".into())
            })
    }
}

/// Generates the four safe primes of `bits` bits one by one, checking `cancel` before each.
fn generate_each(
    bits: u32,
    rng: &mut impl RngCore,
    cancel: &AtomicBool,
    mut progress: impl FnMut(PrimesProgress),
) -> Result<[Integer; 4], PrimesError> {
    let mut found = Vec::with_capacity(usize::from(PRIMES));
    for done in 1..=PRIMES {
        if cancel.load(Ordering::Relaxed) {
            return Err(PrimesError::Cancelled);
        }
        found.push(Integer::generate_safe_prime(rng, bits));
        progress(PrimesProgress {
            done,
            total: PRIMES,
        });
    }
    found
        .try_into()
        .map_err(|_| PrimesError::Failed("prime count mismatch".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn each_prime_is_reported_as_it_is_found() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let mut seen = vec![];
        let primes =
            generate_each(64, &mut rng, &AtomicBool::new(false), |p| seen.push(p)).unwrap();
        assert_eq!(
            seen.iter().map(|p| p.done).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert!(seen.iter().all(|p| p.total == 4));
        assert_eq!(primes.len(), 4);
    }

    #[test]
    fn a_cancelled_job_stops_before_searching() {
        let job = PrimesJob::new();
        job.cancel_handle().store(true, Ordering::Relaxed);
        let mut calls = 0;
        let res = job.run(|_| calls += 1);
        assert!(matches!(res, Err(PrimesError::Cancelled)));
        assert_eq!(calls, 0);
    }

    #[test]
    fn primes_below_the_security_level_do_not_open() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let small = generate_each(64, &mut rng, &AtomicBool::new(false), |_| {}).unwrap();
        // Bypass the size check to build an envelope holding undersized primes.
        let bytes = material::seal(
            MaterialKind::EcdsaPrimes,
            &serde_json::json!({ "primes": small, "_phantom": null }),
        )
        .unwrap();
        let err = Primes::open(&bytes).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Material);
    }
}
