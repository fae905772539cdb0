//! The round messages of resharing ([`ReshareMsg`]), generic over the curve, and the hashes that
//! bind them: the dealer's round-1 commitment and the view every party confirms in round 4.

use generic_ec::{Curve, Point, SecretScalar};
use round_based::ProtocolMessage;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::key_info::absorb;
use crate::error::PartyIndex;

/// Messages of one resharing, one variant per round.
#[derive(Clone, Debug, ProtocolMessage, Serialize, Deserialize)]
#[serde(bound = "")]
pub enum ReshareMsg<E: Curve> {
    /// Round 1 (broadcast, dealers).
    Commit(CommitMsg),
    /// Round 2 (broadcast, dealers).
    Reveal(RevealMsg<E>),
    /// Round 3 (point to point, dealer → new holder), sent with round 2.
    SubShare(SubShareMsg<E>),
    /// Round 4 (broadcast, new holders).
    Confirm(ConfirmMsg),
}

/// Round 1: a dealer's hash commitment to its Feldman commitments, and the digest of the old key
/// info it deals from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitMsg {
    /// Session the message belongs to.
    pub session: [u8; 32],
    /// Digest of the old key info (every party compares it with its own).
    pub old_key: [u8; 32],
    /// [`RevealMsg::commitment`] of the round-2 message to come.
    pub commitment: [u8; 32],
}

/// Round 2: a dealer's Feldman commitments `C_{i,0..t'}` and the salt that opens its commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct RevealMsg<E: Curve> {
    /// Session the message belongs to.
    pub session: [u8; 32],
    /// `a_{i,k}·G` for the coefficients of the dealer's polynomial, constant term first.
    pub coefficients: Vec<Point<E>>,
    /// Random salt of the round-1 commitment.
    pub salt: [u8; 32],
}

impl<E: Curve> RevealMsg<E> {
    /// The hash dealer `dealer` commits to in round 1: session, dealer, coefficients, salt.
    pub fn commitment(&self, dealer: PartyIndex) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"mpcium-rs/reshare/commit/v1");
        h.update(self.session);
        h.update(dealer.to_be_bytes());
        h.update((self.coefficients.len() as u64).to_be_bytes());
        for c in &self.coefficients {
            absorb(&mut h, &c.to_bytes(true));
        }
        h.update(self.salt);
        h.finalize().into()
    }
}

/// Round 3: the dealer's sub-share `f_i(j)` for new holder `j`. Confidential: the transport must
/// encrypt it; `Debug` prints `<redacted>`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct SubShareMsg<E: Curve> {
    /// Session the message belongs to.
    pub session: [u8; 32],
    /// `f_i(j)`.
    pub share: SecretScalar<E>,
}

impl<E: Curve> std::fmt::Debug for SubShareMsg<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubShareMsg")
            .field("session", &hex::encode(self.session))
            .field("share", &"<redacted>")
            .finish()
    }
}

/// Round 4: a new holder's confirmation that it verified its sub-shares and derived the new key
/// info, and which dealings it saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmMsg {
    /// Session the message belongs to.
    pub session: [u8; 32],
    /// Hash of the session, the roles, the old key info and every dealer's coefficients.
    pub view: [u8; 32],
    /// Digest of the new key info.
    pub new_key: [u8; 32],
}

/// The view a party confirms: everything the new key is computed from.
pub(super) fn view<E: Curve>(
    session: &[u8; 32],
    setup: &[u8; 32],
    old_key: &[u8; 32],
    dealings: &[(PartyIndex, &[Point<E>])],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"mpcium-rs/reshare/view/v1");
    h.update(session);
    h.update(setup);
    h.update(old_key);
    h.update((dealings.len() as u64).to_be_bytes());
    for (dealer, coefficients) in dealings {
        h.update(dealer.to_be_bytes());
        h.update((coefficients.len() as u64).to_be_bytes());
        for c in coefficients.iter() {
            absorb(&mut h, &c.to_bytes(true));
        }
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use generic_ec::curves::Secp256k1;
    use generic_ec::Scalar;

    #[test]
    fn debug_output_of_a_sub_share_redacts_the_share() {
        let mut s = Scalar::<Secp256k1>::from(0xdead_beef_u32);
        let msg = SubShareMsg::<Secp256k1> {
            session: [0; 32],
            share: SecretScalar::new(&mut s),
        };
        let printed = format!("{msg:?}");
        assert!(printed.contains("<redacted>"), "{printed}");
        assert!(!printed.contains("deadbeef"), "{printed}");
    }

    #[test]
    fn the_commitment_binds_dealer_coefficients_and_salt() {
        let reveal = RevealMsg::<Secp256k1> {
            session: [1; 32],
            coefficients: vec![Point::generator().into()],
            salt: [2; 32],
        };
        let base = reveal.commitment(0);
        assert_ne!(base, reveal.commitment(1));
        let mut other = reveal.clone();
        other.salt = [3; 32];
        assert_ne!(base, other.commitment(0));
        other = reveal.clone();
        other.coefficients.push(Point::zero());
        assert_ne!(base, other.commitment(0));
    }
}
