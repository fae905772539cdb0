//! The signing committee: which keygen parties sign, validated once so that signing code cannot
//! be called with a wrong count, duplicates or unknown indices.

use crate::error::PartyIndex;
use crate::TssError;

/// Exactly `t` distinct keygen indices, sorted ascending. A signer's party index in the signing
/// session is its position in this list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningCommittee {
    keygen_indices: Vec<PartyIndex>,
}

impl SigningCommittee {
    /// Validates `keygen_indices` for a key held by `n` parties with threshold `t` (signers
    /// required). The order given does not matter; the committee is sorted.
    pub fn new(mut keygen_indices: Vec<PartyIndex>, n: u16, t: u16) -> Result<Self, TssError> {
        keygen_indices.sort_unstable();
        if keygen_indices.len() != usize::from(t) {
            return Err(TssError::InvalidInput(format!(
                "a signing committee needs exactly {t} signers, got {}",
                keygen_indices.len()
            )));
        }
        if let Some(bad) = keygen_indices.iter().find(|&&i| i >= n) {
            return Err(TssError::InvalidInput(format!(
                "signer {bad} is not one of the {n} key holders"
            )));
        }
        if let Some(dup) = keygen_indices.windows(2).find(|w| w.first() == w.get(1)) {
            return Err(TssError::InvalidInput(format!(
                "signer {:?} is listed twice",
                dup.first()
            )));
        }
        Ok(Self { keygen_indices })
    }

    /// Keygen indices of the signers, in signing-session order.
    pub fn keygen_indices(&self) -> &[PartyIndex] {
        &self.keygen_indices
    }

    /// Number of signers.
    pub fn len(&self) -> u16 {
        // Bounded by `t: u16` in `new`.
        self.keygen_indices.len() as u16
    }

    /// Always false: a validated committee has `t ≥ 1` signers.
    pub fn is_empty(&self) -> bool {
        self.keygen_indices.is_empty()
    }

    /// The signing-session index of the party that had `keygen_index` at keygen.
    pub fn position_of(&self, keygen_index: PartyIndex) -> Option<PartyIndex> {
        self.keygen_indices
            .binary_search(&keygen_index)
            .ok()
            .map(|p| p as PartyIndex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committee_is_sorted_and_maps_keygen_indices_to_positions() {
        let c = SigningCommittee::new(vec![4, 1, 2], 5, 3).unwrap();
        assert_eq!(c.keygen_indices(), &[1, 2, 4]);
        assert_eq!(c.position_of(4), Some(2));
        assert_eq!(c.position_of(0), None);
    }

    #[test]
    fn wrong_size_duplicates_and_unknown_signers_are_rejected() {
        assert!(SigningCommittee::new(vec![0], 3, 2).is_err());
        assert!(SigningCommittee::new(vec![0, 1, 2], 3, 2).is_err());
        assert!(SigningCommittee::new(vec![1, 1], 3, 2).is_err());
        let err = SigningCommittee::new(vec![0, 3], 3, 2).unwrap_err();
        assert!(err.to_string().contains("signer 3"), "{err}");
    }
}
