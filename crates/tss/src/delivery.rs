//! The byte-level adapter between a node transport and a typed `round_based` protocol.
//!
//! A node moves [`WireMessage`]s (session id, sender, recipient, round, payload bytes); a protocol
//! wants typed `Incoming<M>` / `Outgoing<M>`. [`delivery`] bridges the two: outgoing messages are
//! serialized and stamped with the session, our index and the round; incoming ones are checked
//! (session, sender, recipient, size, payload decodes, declared round matches) and rejected with a
//! [`DeliveryError::BadMessage`] naming the sender, which aborts the protocol.
//!
//! [`protocol_error`] is the one place that turns a failed protocol's error chain into a
//! [`TssError`]: it finds delivery errors and `round_based` routing errors (a duplicated message)
//! and keeps the sender. Scheme-specific blame (invalid proofs) is added by the scheme modules.
//!
//! A message for a round that is already complete is dropped by `round_based`'s router (it can no
//! longer influence the protocol); a second message from the same sender for a pending round is
//! an error naming the sender.
//!
//! Left to the node: authenticating the sender of every message, encrypting point-to-point
//! payloads, routing by session, and deadlines.

use std::error::Error as StdError;

use futures::{future, Sink, SinkExt, Stream, StreamExt};
use round_based::rounds_router::simple_store::RoundInputError;
use round_based::{
    Delivery, Incoming, MessageDestination, MessageType, MpcParty, Outgoing, ProtocolMessage,
};
use serde::{de::DeserializeOwned, Serialize};
use zeroize::Zeroizing;

use crate::error::{PartyIndex, TssError};
use crate::session::SessionId;

/// Largest accepted payload of one protocol message. The biggest message we send (a CGGMP24
/// aux-info round with its proofs for 3072-bit moduli) is a few hundred KiB as JSON.
pub const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;

/// Version byte leading every [`WireMessage::encode`]d frame.
const WIRE_VERSION: u8 = 1;
/// Encoded header: version, session, sender, recipient flag, recipient, round, payload length.
const HEADER_LEN: usize = 1 + 32 + 2 + 1 + 2 + 2 + 4;

/// A protocol message as it travels between nodes (the node signs/encrypts the whole thing).
///
/// The payload of a point-to-point message is confidential (it may carry a secret share), so it
/// is zeroized on drop and left out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct WireMessage {
    /// The execution this message belongs to.
    pub session: SessionId,
    /// Party index of the sender.
    pub sender: PartyIndex,
    /// Party index of the recipient, or `None` for a broadcast.
    pub recipient: Option<PartyIndex>,
    /// Protocol round the payload belongs to.
    pub round: u16,
    /// The serialized protocol message.
    pub payload: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for WireMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireMessage")
            .field("session", &self.session)
            .field("sender", &self.sender)
            .field("recipient", &self.recipient)
            .field("round", &self.round)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .finish()
    }
}

impl WireMessage {
    /// Encodes the message as a compact, deterministic frame (the bytes a node signs).
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(HEADER_LEN + self.payload.len()));
        out.push(WIRE_VERSION);
        out.extend_from_slice(self.session.as_bytes());
        out.extend_from_slice(&self.sender.to_be_bytes());
        out.push(u8::from(self.recipient.is_some()));
        out.extend_from_slice(&self.recipient.unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&self.round.to_be_bytes());
        // Payloads are bounded by MAX_PAYLOAD_BYTES on both paths, far below u32::MAX.
        out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    /// Decodes a frame produced by [`WireMessage::encode`]; rejects truncated, oversized or
    /// trailing bytes. The sender is not yet known to be genuine, so errors are `InvalidInput`.
    pub fn decode(bytes: &[u8]) -> Result<Self, TssError> {
        let bad = |what: &str| TssError::InvalidInput(format!("wire frame: {what}"));
        let (header, payload) = bytes
            .split_at_checked(HEADER_LEN)
            .ok_or_else(|| bad("shorter than its header"))?;
        let mut r = Reader(header);
        if r.array::<1>()? != [WIRE_VERSION] {
            return Err(bad("unknown version"));
        }
        let session = SessionId::from_bytes(r.array::<32>()?);
        let sender = u16::from_be_bytes(r.array::<2>()?);
        let has_recipient = r.array::<1>()?;
        let recipient = u16::from_be_bytes(r.array::<2>()?);
        let round = u16::from_be_bytes(r.array::<2>()?);
        let len = u32::from_be_bytes(r.array::<4>()?) as usize;
        if len > MAX_PAYLOAD_BYTES {
            return Err(bad("payload exceeds the size limit"));
        }
        if payload.len() != len {
            return Err(bad("payload length does not match its header"));
        }
        // One encoding per message: a broadcast carries recipient 0, as `encode` writes it.
        let recipient = match (has_recipient, recipient) {
            ([0], 0) => None,
            ([0], _) => return Err(bad("broadcast frame names a recipient")),
            ([1], recipient) => Some(recipient),
            _ => return Err(bad("invalid recipient flag")),
        };
        Ok(Self {
            session,
            sender,
            recipient,
            round,
            payload: Zeroizing::new(payload.to_vec()),
        })
    }
}

/// Cursor over a fixed-size header.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], TssError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| TssError::Bug("wire header cursor overran".into()))?;
        self.0 = rest;
        Ok(*head)
    }
}

/// Why the delivery refused a message. Surfaces through the protocol's error chain; convert the
/// protocol's error with [`protocol_error`].
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// An incoming message is invalid; `sender` is the party it claims to come from.
    #[error("bad message from party {sender}: {reason}")]
    BadMessage {
        /// Party index of the sender.
        sender: PartyIndex,
        /// What is wrong with it.
        reason: String,
    },
    /// An outgoing message could not be encoded: a bug in this crate.
    #[error("cannot encode outgoing message: {0}")]
    Encode(String),
    /// The node's outgoing channel failed.
    #[error("outgoing channel failed: {0}")]
    Send(String),
}

impl From<&DeliveryError> for TssError {
    fn from(err: &DeliveryError) -> Self {
        match err {
            DeliveryError::BadMessage { sender, reason } => TssError::BadMessage {
                sender: *sender,
                reason: reason.clone(),
            },
            DeliveryError::Encode(what) => TssError::Bug(format!("cannot encode message: {what}")),
            DeliveryError::Send(what) => TssError::Transport(what.clone()),
        }
    }
}

/// Wraps byte channels into a `round_based` [`Delivery`] for message type `M` of the session
/// `session`, where we are party `me` of `n`.
///
/// Outgoing typed messages are serialized (JSON, the format the cryptography crates test) and
/// stamped with `session`, `me` and their round. Incoming ones must belong to `session`, come from
/// another participant, be addressed to us or broadcast, fit [`MAX_PAYLOAD_BYTES`], decode as `M`
/// and belong to the round they declare; anything else ends the protocol with
/// [`DeliveryError::BadMessage`] naming the sender.
pub fn delivery<M, I, O>(
    session: SessionId,
    me: PartyIndex,
    n: u16,
    incoming: I,
    outgoing: O,
) -> impl Delivery<M, ReceiveError = DeliveryError, SendError = DeliveryError>
where
    M: ProtocolMessage + Serialize + DeserializeOwned + Unpin,
    I: Stream<Item = WireMessage> + Unpin,
    O: Sink<WireMessage> + Unpin,
    O::Error: std::fmt::Display,
{
    let inbound = incoming
        .enumerate()
        .map(move |(seq, wire)| accept::<M>(session, me, n, seq as u64, wire));
    let outbound = outgoing
        .sink_map_err(|e| DeliveryError::Send(e.to_string()))
        .with(move |out: Outgoing<M>| future::ready(stamp(session, me, out)));
    (inbound, outbound)
}

/// [`delivery`] wrapped into the party handle a protocol takes.
pub fn connect<M, I, O>(
    session: SessionId,
    me: PartyIndex,
    n: u16,
    incoming: I,
    outgoing: O,
) -> MpcParty<M, impl Delivery<M>>
where
    M: ProtocolMessage + Serialize + DeserializeOwned + Unpin,
    I: Stream<Item = WireMessage> + Unpin,
    O: Sink<WireMessage> + Unpin,
    O::Error: std::fmt::Display,
{
    MpcParty::connected(delivery(session, me, n, incoming, outgoing))
}

/// Checks one incoming message and decodes it.
fn accept<M>(
    session: SessionId,
    me: PartyIndex,
    n: u16,
    seq: u64,
    wire: WireMessage,
) -> Result<Incoming<M>, DeliveryError>
where
    M: ProtocolMessage + DeserializeOwned,
{
    let sender = wire.sender;
    let bad = |reason: String| DeliveryError::BadMessage { sender, reason };
    if wire.session != session {
        return Err(bad("out of session".into()));
    }
    if sender >= n {
        return Err(bad(format!("sender is not one of the {n} participants")));
    }
    if sender == me {
        return Err(bad("message claims to come from ourselves".into()));
    }
    let msg_type = match wire.recipient {
        None => MessageType::Broadcast,
        Some(r) if r == me => MessageType::P2P,
        Some(r) => return Err(bad(format!("addressed to party {r}, not to us"))),
    };
    if wire.payload.len() > MAX_PAYLOAD_BYTES {
        return Err(bad(format!(
            "payload of {} bytes exceeds the limit of {MAX_PAYLOAD_BYTES}",
            wire.payload.len()
        )));
    }
    let msg: M = serde_json::from_slice(&wire.payload).map_err(|e| {
        bad(format!(
            "payload does not decode: {}",
            crate::material::describe(&e)
        ))
    })?;
    if msg.round() != wire.round {
        return Err(bad(format!(
            "declares round {} but carries a round {} message",
            wire.round,
            msg.round()
        )));
    }
    Ok(Incoming {
        id: (seq << 16) | u64::from(sender),
        sender,
        msg_type,
        msg,
    })
}

/// Serializes one outgoing message and stamps it.
fn stamp<M>(
    session: SessionId,
    me: PartyIndex,
    out: Outgoing<M>,
) -> Result<WireMessage, DeliveryError>
where
    M: ProtocolMessage + Serialize,
{
    let payload = Zeroizing::new(
        serde_json::to_vec(&out.msg)
            .map_err(|e| DeliveryError::Encode(crate::material::describe(&e)))?,
    );
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(DeliveryError::Encode(format!(
            "payload of {} bytes exceeds the limit",
            payload.len()
        )));
    }
    Ok(WireMessage {
        session,
        sender: me,
        recipient: match out.recipient {
            MessageDestination::AllParties => None,
            MessageDestination::OneParty(r) => Some(r),
        },
        round: out.msg.round(),
        payload,
    })
}

/// The sender of an incoming message, recovered from the message id this delivery assigned
/// (`sequence << 16 | sender`), so errors that report only message ids can still blame a party.
pub fn sender_of(msg_id: round_based::MsgId) -> PartyIndex {
    (msg_id & 0xffff) as PartyIndex
}

/// Converts a failed protocol's error into a [`TssError`] if the failure came from the delivery
/// or from message routing (bad, duplicated or missing messages), keeping the sender.
///
/// Walks the `source()` chain, so it works through any wrapper a protocol crate puts around the
/// `round_based` errors. Returns `None` if neither is involved: the caller then classifies the
/// error itself (e.g. an invalid proof).
pub fn protocol_error(err: &(dyn StdError + 'static)) -> Option<TssError> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(d) = e.downcast_ref::<DeliveryError>() {
            return Some(d.into());
        }
        if let Some(r) = e.downcast_ref::<RoundInputError>() {
            return Some(match r {
                RoundInputError::AttemptToOverwriteReceivedMsg { sender, .. } => {
                    TssError::BadMessage {
                        sender: *sender,
                        reason: "sent two messages in one round".into(),
                    }
                }
                RoundInputError::SenderIndexOutOfRange { sender, .. } => TssError::BadMessage {
                    sender: *sender,
                    reason: "sender index out of range".into(),
                },
                RoundInputError::MismatchedMessageType { msg_id, .. } => TssError::BadMessage {
                    sender: sender_of(*msg_id),
                    reason: "broadcast and point-to-point mixed up in one round".into(),
                },
            });
        }
        if let Some(round_based::rounds_router::errors::IoError::<DeliveryError>::UnexpectedEof) =
            e.downcast_ref()
        {
            return Some(TssError::Transport(
                "incoming channel closed mid-protocol".into(),
            ));
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Participants, ProtocolKind};
    use futures::channel::mpsc;
    use round_based::ProtocolMessage;
    use serde::Deserialize;

    #[derive(Clone, Debug, PartialEq, ProtocolMessage, Serialize, Deserialize)]
    enum Msg {
        One(u32),
        Two(String),
    }

    fn must_session(request: &[u8]) -> SessionId {
        let parties = Participants::new(vec!["a".into(), "b".into(), "c".into()]).unwrap();
        SessionId::derive(ProtocolKind::EcdsaSign, request, &parties)
    }

    fn must_wire(
        session: SessionId,
        sender: u16,
        recipient: Option<u16>,
        msg: &Msg,
    ) -> WireMessage {
        WireMessage {
            session,
            sender,
            recipient,
            round: msg.round(),
            payload: Zeroizing::new(serde_json::to_vec(msg).unwrap()),
        }
    }

    /// Feeds `wire` to party 1 of 3 in session "s" and returns what the protocol sees.
    fn must_receive(wire: WireMessage) -> Result<Incoming<Msg>, DeliveryError> {
        let (tx, rx) = mpsc::unbounded();
        let (out_tx, _out_rx) = mpsc::unbounded::<WireMessage>();
        tx.unbounded_send(wire).unwrap();
        let d = delivery::<Msg, _, _>(must_session(b"s"), 1, 3, rx, out_tx);
        let (mut incoming, _outgoing) = d.split();
        futures::executor::block_on(incoming.next()).unwrap()
    }

    fn must_be_bad_from(res: Result<Incoming<Msg>, DeliveryError>, who: u16, why: &str) {
        match res {
            Err(DeliveryError::BadMessage { sender, reason }) => {
                assert_eq!(sender, who);
                assert!(reason.contains(why), "{reason:?} should mention {why:?}");
            }
            other => panic!("expected a bad message, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_broadcast_and_a_valid_p2p_message_are_delivered() {
        let s = must_session(b"s");
        let got = must_receive(must_wire(s, 2, None, &Msg::One(7))).unwrap();
        assert_eq!(
            (got.sender, got.msg_type, got.msg),
            (2, MessageType::Broadcast, Msg::One(7))
        );
        let got = must_receive(must_wire(s, 0, Some(1), &Msg::Two("x".into()))).unwrap();
        assert_eq!(got.msg_type, MessageType::P2P);
    }

    #[test]
    fn a_message_from_another_session_is_rejected_naming_its_sender() {
        let other = must_session(b"other");
        must_be_bad_from(
            must_receive(must_wire(other, 2, None, &Msg::One(1))),
            2,
            "out of session",
        );
    }

    #[test]
    fn a_message_for_another_recipient_is_rejected() {
        let s = must_session(b"s");
        must_be_bad_from(
            must_receive(must_wire(s, 0, Some(2), &Msg::One(1))),
            0,
            "addressed to party 2",
        );
    }

    #[test]
    fn unknown_senders_and_our_own_index_are_rejected() {
        let s = must_session(b"s");
        must_be_bad_from(
            must_receive(must_wire(s, 3, None, &Msg::One(1))),
            3,
            "not one of",
        );
        must_be_bad_from(
            must_receive(must_wire(s, 1, None, &Msg::One(1))),
            1,
            "ourselves",
        );
    }

    #[test]
    fn a_garbage_payload_is_rejected_naming_its_sender() {
        let mut wire = must_wire(must_session(b"s"), 2, None, &Msg::One(1));
        wire.payload = Zeroizing::new(b"\x00garbage".to_vec());
        must_be_bad_from(must_receive(wire), 2, "does not decode");
    }

    #[test]
    fn an_oversized_payload_is_rejected_before_decoding() {
        let mut wire = must_wire(must_session(b"s"), 0, None, &Msg::One(1));
        wire.payload = Zeroizing::new(vec![b' '; MAX_PAYLOAD_BYTES + 1]);
        must_be_bad_from(must_receive(wire), 0, "exceeds the limit");
    }

    #[test]
    fn a_message_declaring_the_wrong_round_is_rejected() {
        let mut wire = must_wire(must_session(b"s"), 2, None, &Msg::One(1));
        wire.round = 1;
        must_be_bad_from(must_receive(wire), 2, "declares round 1");
    }

    #[test]
    fn outgoing_messages_are_stamped_with_session_sender_recipient_and_round() {
        let s = must_session(b"s");
        let (_tx, rx) = mpsc::unbounded::<WireMessage>();
        let (out_tx, mut out_rx) = mpsc::unbounded::<WireMessage>();
        let (_incoming, mut outgoing) = delivery::<Msg, _, _>(s, 1, 3, rx, out_tx).split();
        futures::executor::block_on(async {
            outgoing
                .send(Outgoing::p2p(2, Msg::Two("hi".into())))
                .await
                .unwrap();
            outgoing
                .send(Outgoing::broadcast(Msg::One(5)))
                .await
                .unwrap();
        });
        let first = out_rx.try_recv().unwrap();
        assert_eq!(
            (first.session, first.sender, first.recipient, first.round),
            (s, 1, Some(2), 1)
        );
        let second = out_rx.try_recv().unwrap();
        assert_eq!((second.recipient, second.round), (None, 0));
        assert_eq!(
            serde_json::from_slice::<Msg>(&second.payload).unwrap(),
            Msg::One(5)
        );
    }

    #[test]
    fn wire_frames_round_trip_and_reject_truncation_and_trailing_bytes() {
        let wire = must_wire(must_session(b"s"), 2, Some(0), &Msg::Two("abc".into()));
        let bytes = wire.encode();
        assert_eq!(WireMessage::decode(&bytes).unwrap(), wire);
        assert!(WireMessage::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(WireMessage::decode(&longer).is_err());
        assert!(WireMessage::decode(&bytes[..10]).is_err());
    }

    /// Found by the `wire_message` fuzz target: the recipient bytes of a broadcast were
    /// ignored, so two frames decoded to one message.
    #[test]
    fn a_broadcast_frame_naming_a_recipient_is_refused() {
        let wire = must_wire(must_session(b"s"), 2, None, &Msg::Two("abc".into()));
        let mut bytes = wire.encode().to_vec();
        assert_eq!(WireMessage::decode(&bytes).unwrap(), wire);
        // version, session, sender, recipient flag, then the recipient.
        bytes[1 + 32 + 2 + 1] = 0xa8;
        assert!(WireMessage::decode(&bytes).is_err());
    }

    #[test]
    fn wire_message_debug_hides_the_payload() {
        let mut wire = must_wire(
            must_session(b"s"),
            2,
            None,
            &Msg::Two("secret-share".into()),
        );
        wire.payload = Zeroizing::new(b"secret-share".to_vec());
        let shown = format!("{wire:?}");
        assert!(!shown.contains("secret-share"), "{shown}");
        assert!(shown.contains("12 bytes"));
    }

    #[test]
    fn a_duplicated_message_in_a_pending_round_is_blamed_on_its_sender() {
        use round_based::rounds_router::{simple_store::RoundInput, RoundsRouter};
        let s = must_session(b"s");
        let (tx, rx) = mpsc::unbounded();
        let (out_tx, _out_rx) = mpsc::unbounded::<WireMessage>();
        for wire in [
            must_wire(s, 2, None, &Msg::One(1)),
            must_wire(s, 2, None, &Msg::One(2)),
            must_wire(s, 0, None, &Msg::One(3)),
        ] {
            tx.unbounded_send(wire).unwrap();
        }
        let (incoming, _outgoing) = delivery::<Msg, _, _>(s, 1, 3, rx, out_tx).split();
        let mut rounds = RoundsRouter::<Msg>::builder();
        let round = rounds.add_round(RoundInput::<u32>::broadcast(1, 3));
        let mut rounds = rounds.listen(incoming);
        let err = futures::executor::block_on(rounds.complete(round)).unwrap_err();
        let mapped = protocol_error(&err).unwrap();
        assert_eq!(mapped.kind(), crate::ErrorKind::BadMessage, "{mapped}");
        assert_eq!(mapped.culprits(), &[2]);
    }

    #[test]
    fn delivery_errors_found_deep_in_a_chain_keep_the_sender() {
        #[derive(Debug, thiserror::Error)]
        #[error("wrapper")]
        struct Wrapper(#[source] DeliveryError);
        let err = Wrapper(DeliveryError::BadMessage {
            sender: 4,
            reason: "out of session".into(),
        });
        let mapped = protocol_error(&err).unwrap();
        assert_eq!(mapped.culprits(), &[4]);
        assert!(protocol_error(&std::fmt::Error).is_none());
    }
}
