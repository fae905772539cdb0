//! EdDSA over Ed25519: FROST (RFC 9591, ZcashFoundation `frost-ed25519`) distributed key
//! generation and threshold signing as `round_based` protocols, plus the key share they produce
//! and its HD-derived (additively tweaked) form.
//!
//! * [`keygen::keygen`] — DKG among all `n` parties: a broadcast of commitments, then an echo of
//!   their hash (so no party can show different commitments to different peers) together with the
//!   point-to-point secret shares.
//! * [`sign::sign`] — two broadcast rounds (nonce commitments, signature shares); every signer
//!   aggregates and checks every share, so a bad share names its sender.
//! * [`EddsaKeyShare`] — what keygen outputs and the node stores.
//!
//! Party indices: in keygen, party `i` of the session owns FROST identifier `i + 1`. A holder's
//! keygen index is the rank of its identifier in the committee ([`EddsaKeyShare::party_of`]),
//! which is `identifier − 1` for our keygen's keys and covers imported keys whose identifiers are
//! other evaluation points ([`crate::import`]). A signing session is a subset of the keygen
//! committee in its own order; the caller passes, for each signing party, its keygen index, and
//! signers keep their keygen identifiers.
//!
//! Every round message carries the [`SessionId`](crate::SessionId) and is rejected (naming its
//! sender) if the id differs, on top of whatever the delivery checks.

pub mod keygen;
mod share;
pub mod sign;

pub use share::{EddsaKeyShare, SealedEddsaShare};

use frost_ed25519::Identifier;

use crate::error::{PartyIndex, TssError};
use crate::session::SessionId;

/// FROST identifier of the keygen party with index `index`.
fn identifier(index: PartyIndex) -> Result<Identifier, TssError> {
    let one_based = index
        .checked_add(1)
        .ok_or_else(|| TssError::InvalidInput(format!("party index {index} is too large")))?;
    Identifier::try_from(one_based)
        .map_err(|e| TssError::Bug(format!("identifier for party {index}: {e}")))
}

/// Keygen party index of identifier `id` in a committee of `n`.
fn keygen_party_of(n: u16, id: &Identifier) -> Option<PartyIndex> {
    (0..n).find(|&j| identifier(j).ok().as_ref() == Some(id))
}

/// Rejects a round message whose session id is not ours, naming its sender.
fn check_session(ours: &SessionId, theirs: &[u8; 32], sender: PartyIndex) -> Result<(), TssError> {
    if ours.as_bytes() == theirs {
        Ok(())
    } else {
        Err(TssError::BadMessage {
            sender,
            reason: "message belongs to another session".into(),
        })
    }
}

/// Converts a failed round into a [`TssError`], keeping the sender where routing names one.
fn round_error(err: &(dyn std::error::Error + 'static)) -> TssError {
    crate::delivery::protocol_error(err)
        .unwrap_or_else(|| TssError::Transport(format!("round failed: {err}")))
}

/// Maps a FROST error to a [`TssError`]: blame (with `reason`) when FROST names culprits,
/// translated into session party indices by `party_of`; otherwise a bug, since every peer input
/// FROST could reject without naming someone is validated before it is handed over.
fn frost_error(
    err: frost_ed25519::Error,
    reason: &str,
    party_of: impl Fn(&Identifier) -> Option<PartyIndex>,
) -> TssError {
    let culprits: Vec<PartyIndex> = err.culprits().iter().filter_map(&party_of).collect();
    if culprits.is_empty() {
        TssError::Bug(format!(
            "frost rejected the protocol state: {}",
            err.to_string().to_lowercase()
        ))
    } else {
        TssError::Misbehaviour {
            culprits,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_one_based_party_indices() {
        assert_eq!(identifier(0).ok(), Identifier::try_from(1u16).ok());
        assert_eq!(identifier(4).ok(), Identifier::try_from(5u16).ok());
        assert!(identifier(u16::MAX).is_err());
    }

    #[test]
    fn a_foreign_session_id_is_blamed_on_the_sender() {
        let ours = SessionId::from_bytes([1; 32]);
        let err = check_session(&ours, &[2; 32], 3).expect_err("foreign session");
        assert_eq!(err.culprits(), &[3]);
        assert!(check_session(&ours, &[1; 32], 3).is_ok());
    }
}
