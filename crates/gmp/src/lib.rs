//! Run-time choice of GMP's multiplication kernels by CPUID feature bits.
//!
//! `gmp-mpfr-sys` builds GMP 6.3 with `--enable-fat`: one library carries kernels for many CPUs and
//! `__gmpn_cpuvec_init` fills a table of function pointers (`__gmpn_cpuvec`) by vendor, family and
//! **model number**. Intel models newer than Kaby Lake (0x9e) get the generic x86-64 kernels, and
//! even the Broadwell/Skylake branches never reach the mulx/adx kernels in 6.3 (their BMI2 test
//! reads stale CPUID data), so current server CPUs run GMP — and so the Paillier arithmetic of
//! ECDSA — at roughly two thirds of its speed.
//!
//! [`select_from_env`] runs GMP's own initialisation, then, if the CPU reports the instructions a
//! kernel set uses (BMI2, ADX), points the multiplication slots of that table at the kernels of a
//! CPU GMP knows, which the same library already contains. Nothing is compiled for the build
//! machine, so a release binary stays portable: a CPU without the bits keeps GMP's choice. The
//! override `MPCIUM_GMP_KERNELS=auto|gmp|haswell|broadwell` exists for measurement and as an
//! escape hatch; a set the CPU cannot run is refused, never installed.
//!
//! Call it first thing in `main`, before anything uses GMP: the table layout is verified against
//! GMP's not-yet-initialised table, which only exists until GMP's first use.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

#[cfg(target_arch = "x86_64")]
mod cpuvec;

/// The environment variable read by [`select_from_env`].
pub const ENV: &str = "MPCIUM_GMP_KERNELS";

/// A set of kernels for GMP's multiplication slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernels {
    /// What GMP's own dispatch chose (the generic x86-64 kernels on CPUs it does not know).
    Gmp,
    /// GMP's Haswell kernels: `mulx` (needs BMI2).
    Haswell,
    /// GMP's Broadwell kernels: `mulx` with the two carry chains of `adcx`/`adox` (needs BMI2 and
    /// ADX); the Haswell kernels for the slots Broadwell has none of its own.
    Broadwell,
}

impl Kernels {
    /// All sets, in the order [`Request::Auto`] prefers them (best first).
    pub const ALL: [Kernels; 3] = [Kernels::Broadwell, Kernels::Haswell, Kernels::Gmp];

    /// The name used by [`ENV`] and the log line.
    pub fn name(self) -> &'static str {
        match self {
            Kernels::Gmp => "gmp",
            Kernels::Haswell => "haswell",
            Kernels::Broadwell => "broadwell",
        }
    }

    /// The first CPU feature this set needs and this CPU lacks, if any.
    pub fn missing_feature(self) -> Option<&'static str> {
        let (bmi2, adx) = cpu_features();
        match self {
            Kernels::Gmp => None,
            Kernels::Haswell => (!bmi2).then_some("BMI2"),
            Kernels::Broadwell => (!bmi2).then_some("BMI2").or((!adx).then_some("ADX")),
        }
    }
}

impl fmt::Display for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the caller asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// The best set the CPU supports, unless GMP's own dispatch already uses `mulx` kernels.
    Auto,
    /// Exactly this set, if the CPU supports it; otherwise GMP's own choice.
    Use(Kernels),
}

/// A value of [`ENV`] that names no request.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownRequest(pub String);

impl fmt::Display for UnknownRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown GMP kernel set {:?} (expected auto, gmp, haswell or broadwell)",
            self.0
        )
    }
}

impl std::error::Error for UnknownRequest {}

impl FromStr for Request {
    type Err = UnknownRequest;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Request::Auto);
        }
        Kernels::ALL
            .into_iter()
            .find(|k| s.eq_ignore_ascii_case(k.name()))
            .map(Request::Use)
            .ok_or_else(|| UnknownRequest(s.to_owned()))
    }
}

/// The outcome of a selection: the installed set and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    kernels: Kernels,
    why: String,
}

impl Selection {
    /// The set now in GMP's table.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// Why this set, in words.
    pub fn why(&self) -> &str {
        &self.why
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GMP kernels: {} ({})", self.kernels, self.why)
    }
}

/// Reads [`ENV`] (default `auto`), installs the chosen set once per process and logs one line
/// naming it; later calls return the first outcome.
pub fn select_from_env() -> &'static Selection {
    static CHOSEN: OnceLock<Selection> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        let raw = std::env::var(ENV).ok();
        let (request, bad) = match raw.as_deref().map(str::parse::<Request>) {
            None => (Request::Auto, None),
            Some(Ok(request)) => (request, None),
            Some(Err(e)) => (Request::Auto, Some(e)),
        };
        if let Some(e) = &bad {
            tracing::warn!(error = %e, "{ENV} ignored; choosing automatically");
        }
        let selection = select(request);
        tracing::info!(
            kernels = selection.kernels.name(),
            why = %selection.why,
            "GMP kernels"
        );
        selection
    })
}

/// Installs the set `request` names if the CPU supports it, or GMP's own choice otherwise.
///
/// May be called again (tests switch sets to compare them); a switch while other threads run GMP
/// is harmless, as every slot holds a correct kernel for its function before and after.
pub fn select(request: Request) -> Selection {
    #[cfg(target_arch = "x86_64")]
    {
        cpuvec::select(request)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = request;
        Selection {
            kernels: Kernels::Gmp,
            why: "not x86-64: GMP's own choice".to_owned(),
        }
    }
}

/// (BMI2, ADX) as CPUID and the OS report them.
fn cpu_features() -> (bool, bool) {
    #[cfg(target_arch = "x86_64")]
    {
        (
            std::arch::is_x86_feature_detected!("bmi2"),
            std::arch::is_x86_feature_detected!("adx"),
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        (false, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_case_insensitively_and_reject_unknown_names() {
        assert_eq!("auto".parse(), Ok(Request::Auto));
        assert_eq!(" Broadwell ".parse(), Ok(Request::Use(Kernels::Broadwell)));
        assert_eq!("haswell".parse(), Ok(Request::Use(Kernels::Haswell)));
        assert_eq!("GMP".parse(), Ok(Request::Use(Kernels::Gmp)));
        assert_eq!(
            "skylake".parse::<Request>(),
            Err(UnknownRequest("skylake".to_owned()))
        );
    }

    #[test]
    fn gmps_own_choice_needs_no_cpu_feature() {
        assert_eq!(Kernels::Gmp.missing_feature(), None);
    }
}
