//! The signing threshold: how many parties must take part in a signature.
//!
//! Two readings of "threshold" exist in this field. The seed deployment guide (and this project)
//! means **the number of signers required** ("only t nodes needed for signing": `mpc_threshold: 2`
//! with three nodes is 2-of-3). The Go reference passes `mpc_threshold` to tss-lib, where it is the
//! **polynomial degree** (t+1 signers). [`Threshold`] always holds the first reading; the degree is
//! only ever derived from it with [`Threshold::degree`], so the two cannot be mixed up.

use serde::Serialize;

/// Number of parties that must take part in signing (seed semantics: `t` of `t`-of-`n`).
///
/// Valid for a committee of `n` parties when `⌊n/2⌋ + 1 ≤ t ≤ n` and `n ≥ 2`: an honest majority is
/// needed to sign, and no signature can ever need more parties than exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Threshold(u16);

/// Why a threshold is not valid for a committee.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// The committee has fewer than two parties.
    #[error("a committee needs at least 2 parties, got {parties}")]
    TooFewParties {
        /// Committee size.
        parties: u16,
    },
    /// Fewer signers than a majority of the committee.
    #[error(
        "threshold {signers} is below a majority of {parties} parties: it must be at least {minimum} \
         (the threshold is the number of signers required, not the polynomial degree)"
    )]
    BelowMajority {
        /// Requested signers.
        signers: u16,
        /// Committee size.
        parties: u16,
        /// Smallest valid threshold, `⌊n/2⌋ + 1`.
        minimum: u16,
    },
    /// More signers than parties.
    #[error("threshold {signers} exceeds the committee size {parties}")]
    AboveParties {
        /// Requested signers.
        signers: u16,
        /// Committee size.
        parties: u16,
    },
}

impl Threshold {
    /// Validates `signers` for a committee of `parties`.
    pub fn new(signers: u16, parties: u16) -> Result<Self, ThresholdError> {
        if parties < 2 {
            return Err(ThresholdError::TooFewParties { parties });
        }
        let minimum = parties / 2 + 1;
        if signers < minimum {
            return Err(ThresholdError::BelowMajority {
                signers,
                parties,
                minimum,
            });
        }
        if signers > parties {
            return Err(ThresholdError::AboveParties { signers, parties });
        }
        Ok(Self(signers))
    }

    /// Number of signers required.
    pub fn signers(self) -> u16 {
        self.0
    }

    /// Polynomial degree of the sharing (`signers - 1`): what tss-lib calls `t`.
    pub fn degree(self) -> u16 {
        self.0 - 1
    }
}

impl std::fmt::Display for Threshold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_of_three_is_valid_and_has_degree_one() {
        let t = Threshold::new(2, 3).unwrap();
        assert_eq!(t.signers(), 2);
        assert_eq!(t.degree(), 1);
    }

    #[test]
    fn n_of_n_is_valid() {
        assert!(Threshold::new(5, 5).is_ok());
    }

    #[test]
    fn degree_style_value_is_rejected_as_below_majority() {
        assert_eq!(
            Threshold::new(1, 3),
            Err(ThresholdError::BelowMajority {
                signers: 1,
                parties: 3,
                minimum: 2
            })
        );
        assert!(matches!(
            Threshold::new(2, 4),
            Err(ThresholdError::BelowMajority { .. })
        ));
    }

    #[test]
    fn more_signers_than_parties_is_rejected() {
        assert!(matches!(
            Threshold::new(4, 3),
            Err(ThresholdError::AboveParties { .. })
        ));
    }

    #[test]
    fn single_party_committee_is_rejected() {
        assert!(matches!(
            Threshold::new(1, 1),
            Err(ThresholdError::TooFewParties { .. })
        ));
    }
}
