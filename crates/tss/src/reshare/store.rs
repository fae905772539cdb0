//! [`FromSenders`]: a `round_based` message store for a round in which only some parties speak
//! (dealers in rounds 1–3, new holders in round 4). It accepts exactly one message of the round's
//! type from each expected sender and refuses anything else, naming the sender.

use std::collections::{BTreeMap, BTreeSet};

use round_based::rounds_router::MessagesStore;
use round_based::{Incoming, MessageType};

use crate::error::{PartyIndex, TssError};

/// Collects one message from each of a fixed set of senders.
pub(super) struct FromSenders<M> {
    expected: BTreeSet<PartyIndex>,
    msg_type: MessageType,
    received: BTreeMap<PartyIndex, M>,
}

impl<M> FromSenders<M> {
    /// Expects one `msg_type` message from each of `senders` except `me`.
    pub fn new(
        me: PartyIndex,
        senders: impl IntoIterator<Item = PartyIndex>,
        msg_type: MessageType,
    ) -> Self {
        Self {
            expected: senders.into_iter().filter(|&p| p != me).collect(),
            msg_type,
            received: BTreeMap::new(),
        }
    }
}

/// A message the round did not expect.
#[derive(Debug, thiserror::Error)]
#[error("unexpected message from party {sender}: {reason}")]
pub(super) struct UnexpectedMessage {
    /// Who sent it.
    pub sender: PartyIndex,
    /// Why it is refused.
    pub reason: &'static str,
}

impl From<UnexpectedMessage> for TssError {
    fn from(e: UnexpectedMessage) -> Self {
        TssError::BadMessage {
            sender: e.sender,
            reason: e.reason.into(),
        }
    }
}

impl<M: Send + 'static> MessagesStore for FromSenders<M> {
    type Msg = M;
    type Output = BTreeMap<PartyIndex, M>;
    type Error = UnexpectedMessage;

    fn add_message(&mut self, msg: Incoming<M>) -> Result<(), UnexpectedMessage> {
        let refuse = |reason| {
            Err(UnexpectedMessage {
                sender: msg.sender,
                reason,
            })
        };
        if msg.msg_type != self.msg_type {
            return refuse("sent point to point what must be broadcast, or the reverse");
        }
        if !self.expected.contains(&msg.sender) {
            return refuse("has no role in this round");
        }
        if self.received.contains_key(&msg.sender) {
            return refuse("sent two messages in one round");
        }
        self.received.insert(msg.sender, msg.msg);
        Ok(())
    }

    fn wants_more(&self) -> bool {
        self.received.len() < self.expected.len()
    }

    fn output(self) -> Result<Self::Output, Self> {
        if self.wants_more() {
            Err(self)
        } else {
            Ok(self.received)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(sender: PartyIndex, msg_type: MessageType) -> Incoming<u8> {
        Incoming {
            id: u64::from(sender),
            sender,
            msg_type,
            msg: 7,
        }
    }

    #[test]
    fn a_round_completes_once_every_expected_sender_spoke() {
        let mut store = FromSenders::<u8>::new(0, [0, 2, 3], MessageType::Broadcast);
        assert!(store.wants_more());
        store
            .add_message(incoming(2, MessageType::Broadcast))
            .expect("expected sender");
        store
            .add_message(incoming(3, MessageType::Broadcast))
            .expect("expected sender");
        assert!(!store.wants_more());
        let out = store.output().ok().expect("complete");
        assert_eq!(out.keys().copied().collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn a_round_without_senders_is_complete_at_once() {
        let store = FromSenders::<u8>::new(1, [1], MessageType::P2P);
        assert!(!store.wants_more());
    }

    #[test]
    fn strangers_duplicates_and_wrong_message_types_name_the_sender() {
        let mut store = FromSenders::<u8>::new(0, [1, 2], MessageType::Broadcast);
        let e = store
            .add_message(incoming(3, MessageType::Broadcast))
            .expect_err("stranger");
        assert_eq!(e.sender, 3);
        let e = store
            .add_message(incoming(1, MessageType::P2P))
            .expect_err("wrong type");
        assert_eq!(e.sender, 1);
        store
            .add_message(incoming(2, MessageType::Broadcast))
            .expect("expected");
        let e = store
            .add_message(incoming(2, MessageType::Broadcast))
            .expect_err("duplicate");
        assert_eq!(TssError::from(e).culprits(), &[2]);
    }
}
