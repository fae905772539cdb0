//! [`ReshareSetup`]: who takes part in one resharing and in which role — the dealing quorum of the
//! old committee, the new committee with its threshold — validated once, plus the documented way
//! to derive the session's participant order from node ids ([`ReshareSetup::from_nodes`]).

use sha2::{Digest, Sha256};

use crate::error::PartyIndex;
use crate::session::Participants;
use crate::{Threshold, TssError};

/// One member of the dealing quorum: its party index in the reshare session and its index in the
/// old key (its keygen index, `0..n_old`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dealer {
    /// Party index in the reshare session.
    pub party: PartyIndex,
    /// Holder index in the old key (keygen index; FROST identifier minus one).
    pub old_index: u16,
}

/// The roles of one resharing, identical on every participant.
///
/// * `dealers` — the old quorum, in a fixed order (any `≥ t_old` holders of the old key);
/// * `new_committee` — the session party index of each new holder; the holder at position `j`
///   gets index `j` in the new key (share index / FROST identifier `j + 1`);
/// * `new_threshold` — signers the new key requires, valid for `new_committee.len()` holders.
///
/// A party may be a dealer, a new holder, or both; every session party has at least one role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReshareSetup {
    me: PartyIndex,
    parties: u16,
    dealers: Vec<Dealer>,
    new_committee: Vec<PartyIndex>,
    new_threshold: Threshold,
}

impl ReshareSetup {
    /// Validates the roles for party `me` of a session of `parties`.
    ///
    /// Errors ([`TssError::InvalidInput`]): an index out of range, a party or old index listed
    /// twice, a party without a role, no dealers, or a threshold that is not valid for the new
    /// committee (`⌊n'/2⌋ + 1 ≤ t' ≤ n'`, see [`Threshold::new`]).
    pub fn new(
        me: PartyIndex,
        parties: u16,
        dealers: Vec<Dealer>,
        new_committee: Vec<PartyIndex>,
        new_threshold: Threshold,
    ) -> Result<Self, TssError> {
        let invalid = |what: String| Err(TssError::InvalidInput(what));
        if me >= parties {
            return invalid(format!("party {me} is not one of {parties} participants"));
        }
        if dealers.is_empty() {
            return invalid("a reshare needs at least one dealer".into());
        }
        let n_new = u16::try_from(new_committee.len())
            .map_err(|_| TssError::InvalidInput("the new committee is too large".into()))?;
        Threshold::new(new_threshold.signers(), n_new).map_err(|e| {
            TssError::InvalidInput(format!("new threshold for {n_new} holders: {e}"))
        })?;
        for (k, d) in dealers.iter().enumerate() {
            if d.party >= parties {
                return invalid(format!("dealer party {} is out of range", d.party));
            }
            let earlier = dealers.get(..k).unwrap_or_default();
            if earlier
                .iter()
                .any(|e| e.party == d.party || e.old_index == d.old_index)
            {
                return invalid(format!(
                    "dealer party {} or old index {} is listed twice",
                    d.party, d.old_index
                ));
            }
        }
        for (k, &p) in new_committee.iter().enumerate() {
            if p >= parties {
                return invalid(format!("new holder party {p} is out of range"));
            }
            if new_committee.get(..k).unwrap_or_default().contains(&p) {
                return invalid(format!("new holder party {p} is listed twice"));
            }
        }
        if let Some(idle) = (0..parties)
            .find(|p| !new_committee.contains(p) && !dealers.iter().any(|d| d.party == *p))
        {
            return invalid(format!("party {idle} is neither a dealer nor a new holder"));
        }
        Ok(Self {
            me,
            parties,
            dealers,
            new_committee,
            new_threshold,
        })
    }

    /// Builds the session participants and the setup from node ids, in the documented order:
    /// the new committee first (in new-index order), then the dealers that leave (in `dealers`
    /// order). `dealers` pairs each dealing node with its old index; `me` is our node id.
    pub fn from_nodes(
        me: &str,
        dealers: &[(String, u16)],
        new_committee: &[String],
        new_threshold: Threshold,
    ) -> Result<(Participants, Self), TssError> {
        let mut nodes: Vec<String> = new_committee.to_vec();
        for (node, _) in dealers {
            if !nodes.contains(node) {
                nodes.push(node.clone());
            }
        }
        let participants = Participants::new(nodes)?;
        let index = |node: &str| {
            participants
                .index_of(node)
                .ok_or_else(|| TssError::Bug(format!("node {node} missing from participants")))
        };
        let dealers = dealers
            .iter()
            .map(|(node, old_index)| {
                Ok(Dealer {
                    party: index(node)?,
                    old_index: *old_index,
                })
            })
            .collect::<Result<Vec<_>, TssError>>()?;
        let new_committee = new_committee
            .iter()
            .map(|node| index(node))
            .collect::<Result<Vec<_>, TssError>>()?;
        let me = participants
            .index_of(me)
            .ok_or_else(|| TssError::InvalidInput(format!("node {me} takes no part")))?;
        let setup = Self::new(
            me,
            participants.len(),
            dealers,
            new_committee,
            new_threshold,
        )?;
        Ok((participants, setup))
    }

    /// Our party index.
    pub fn me(&self) -> PartyIndex {
        self.me
    }

    /// Number of session participants.
    pub fn parties(&self) -> u16 {
        self.parties
    }

    /// The dealing quorum.
    pub fn dealers(&self) -> &[Dealer] {
        &self.dealers
    }

    /// Session party index of each new holder, in new-index order.
    pub fn new_committee(&self) -> &[PartyIndex] {
        &self.new_committee
    }

    /// Signers the new key requires.
    pub fn new_threshold(&self) -> Threshold {
        self.new_threshold
    }

    /// Our entry in the dealing quorum, if we deal.
    pub fn my_dealer(&self) -> Option<Dealer> {
        self.dealers.iter().copied().find(|d| d.party == self.me)
    }

    /// Our holder index in the new key, if we receive.
    pub fn my_new_index(&self) -> Option<u16> {
        self.new_committee
            .iter()
            .position(|&p| p == self.me)
            .map(|j| j as u16)
    }

    /// SHA-256 of the roles (not of `me`), bound into every commitment and confirmation so that
    /// parties that disagree on the roles cannot finish.
    pub(super) fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"mpcium-rs/reshare/setup/v1");
        h.update(self.parties.to_be_bytes());
        h.update((self.dealers.len() as u64).to_be_bytes());
        for d in &self.dealers {
            h.update(d.party.to_be_bytes());
            h.update(d.old_index.to_be_bytes());
        }
        h.update((self.new_committee.len() as u64).to_be_bytes());
        for p in &self.new_committee {
            h.update(p.to_be_bytes());
        }
        h.update(self.new_threshold.signers().to_be_bytes());
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn must_threshold(t: u16, n: u16) -> Threshold {
        Threshold::new(t, n).expect("threshold")
    }

    #[test]
    fn from_nodes_puts_the_new_committee_first_and_leaving_dealers_after_it() {
        let dealers = vec![("c".to_string(), 2), ("a".to_string(), 0)];
        let (participants, setup) =
            ReshareSetup::from_nodes("c", &dealers, &ids(&["a", "b"]), must_threshold(2, 2))
                .expect("setup");
        assert_eq!(participants.nodes(), ids(&["a", "b", "c"]).as_slice());
        assert_eq!(setup.me(), 2);
        assert_eq!(
            setup.my_dealer(),
            Some(Dealer {
                party: 2,
                old_index: 2
            })
        );
        assert_eq!(setup.my_new_index(), None);
        assert_eq!(setup.new_committee(), &[0, 1]);
    }

    #[test]
    fn a_threshold_below_majority_of_the_new_committee_is_refused() {
        let dealers = vec![Dealer {
            party: 0,
            old_index: 0,
        }];
        // A Threshold valid for 3 holders reused for a committee of 5.
        let err = ReshareSetup::new(0, 5, dealers, vec![0, 1, 2, 3, 4], must_threshold(2, 3))
            .expect_err("below majority");
        assert!(err.to_string().contains("new threshold"), "{err}");
    }

    #[test]
    fn duplicated_roles_and_idle_parties_are_refused() {
        let d = |party, old_index| Dealer { party, old_index };
        let t = must_threshold(2, 3);
        assert!(ReshareSetup::new(0, 3, vec![d(0, 0), d(1, 0)], vec![0, 1, 2], t).is_err());
        assert!(ReshareSetup::new(0, 3, vec![d(0, 0), d(0, 1)], vec![0, 1, 2], t).is_err());
        assert!(ReshareSetup::new(0, 3, vec![d(0, 0)], vec![0, 1, 1], t).is_err());
        assert!(ReshareSetup::new(0, 4, vec![d(0, 0)], vec![0, 1, 2], t).is_err());
        assert!(ReshareSetup::new(0, 3, vec![], vec![0, 1, 2], t).is_err());
        assert!(ReshareSetup::new(0, 3, vec![d(0, 0)], vec![0, 1, 2], t).is_ok());
    }

    #[test]
    fn the_digest_binds_the_roles() {
        let d = |party, old_index| Dealer { party, old_index };
        let t = must_threshold(2, 3);
        let a = ReshareSetup::new(0, 3, vec![d(0, 0), d(1, 1)], vec![0, 1, 2], t).expect("a");
        let b = ReshareSetup::new(1, 3, vec![d(0, 0), d(1, 1)], vec![0, 1, 2], t).expect("b");
        let c = ReshareSetup::new(0, 3, vec![d(0, 0), d(1, 2)], vec![0, 1, 2], t).expect("c");
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
    }
}
