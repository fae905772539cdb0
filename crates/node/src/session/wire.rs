//! Glue between a registered session and a `tss` protocol: turns the session's inbox into the
//! stream of [`WireMessage`]s a protocol reads, and a sink of [`WireMessage`]s into sealed
//! envelopes on the bus.
//!
//! The envelope layer has authenticated the sending *node*; this layer checks that what the node
//! says inside the payload agrees with the envelope (session, round, its own party index,
//! broadcast vs. direct), so an honest-looking envelope cannot carry a message in another
//! party's name.

use std::pin::Pin;

use futures::{Sink, Stream};
use mpcium_tss::delivery::WireMessage;
use mpcium_tss::{Participants, ProtocolKind, SessionId};

use super::hold::Hold;
use super::router::SessionInbox;
use crate::transport::bus::{Bus, BusError};
use crate::transport::channel;
use crate::transport::envelope::{Channel, Header, Opened};

/// The incoming half: verified protocol messages of one session.
pub fn incoming(
    inbox: SessionInbox,
    session: SessionId,
    participants: Participants,
) -> Pin<Box<dyn Stream<Item = WireMessage> + Send>> {
    Box::pin(futures::stream::unfold(
        (inbox, participants),
        move |(mut inbox, participants)| async move {
            loop {
                let opened = inbox.recv().await?;
                match check(&opened, session, &participants) {
                    Ok(wire) => return Some((wire, (inbox, participants))),
                    Err(reason) => {
                        crate::metrics::message_dropped(crate::metrics::Dropped::Inconsistent);
                        if crate::log_limit::DROPPED.allow() {
                            tracing::warn!(
                                from = %opened.header.from,
                                round = opened.header.round,
                                reason,
                                "dropped inconsistent protocol message"
                            );
                        }
                    }
                }
            }
        },
    ))
}

fn check(
    opened: &Opened,
    session: SessionId,
    participants: &Participants,
) -> Result<WireMessage, &'static str> {
    let wire = WireMessage::decode(&opened.payload).map_err(|_| "undecodable frame")?;
    if wire.session != session || opened.header.session != *session.as_bytes() {
        return Err("session differs from the envelope");
    }
    if wire.round != opened.header.round {
        return Err("round differs from the envelope");
    }
    if participants.index_of(&opened.header.from) != Some(wire.sender) {
        return Err("party index differs from the authenticated sender");
    }
    if wire.recipient.is_none() != opened.header.broadcast {
        return Err("broadcast flag differs from the envelope");
    }
    if let Some(to) = wire.recipient {
        if participants.node(to) != Some(opened.header.to.as_str()) {
            return Err("recipient differs from the envelope");
        }
    }
    Ok(wire)
}

/// The outgoing half: seals each protocol message of protocol `kind` for its recipient(s) and
/// publishes it, logging each at debug level ("round message sent", with the round) — the
/// progress events the fault suite waits for. `hold` is the fault suite's test hook.
pub fn outgoing(
    bus: Bus,
    kind: ProtocolKind,
    participants: Participants,
    hold: Hold,
) -> Pin<Box<dyn Sink<WireMessage, Error = BusError> + Send>> {
    let state = Outbox {
        bus,
        kind,
        channel: channel::of_protocol(kind),
        participants,
        hold,
        seq: 0,
    };
    Box::pin(futures::sink::unfold(
        state,
        |mut state, wire: WireMessage| async move {
            state.send(&wire).await?;
            Ok::<_, BusError>(state)
        },
    ))
}

struct Outbox {
    bus: Bus,
    kind: ProtocolKind,
    channel: Channel,
    participants: Participants,
    hold: Hold,
    seq: u64,
}

impl Outbox {
    async fn send(&mut self, wire: &WireMessage) -> Result<(), BusError> {
        self.hold.before_send(self.kind.as_str(), wire.round).await;
        let frame = match self
            .hold
            .tampered(self.kind.as_str(), wire.round, &wire.payload)
            .await
        {
            Some(payload) => WireMessage {
                payload,
                ..wire.clone()
            }
            .encode(),
            None => wire.encode(),
        };
        let me = self.bus.node_id().to_owned();
        let recipients: Vec<String> = match wire.recipient {
            Some(to) => self
                .participants
                .node(to)
                .map(str::to_owned)
                .into_iter()
                .collect(),
            None => self
                .participants
                .nodes()
                .iter()
                .filter(|n| **n != me)
                .cloned()
                .collect(),
        };
        for to in recipients {
            let header = Header {
                channel: self.channel,
                session: *wire.session.as_bytes(),
                round: wire.round,
                seq: self.seq,
                broadcast: wire.recipient.is_none(),
                from: me.clone(),
                to,
            };
            self.seq += 1;
            self.bus.send(&header, &frame).await?;
        }
        tracing::debug!(
            protocol = self.kind.as_str(),
            broadcast = wire.recipient.is_none(),
            round = wire.round,
            "round message sent"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn participants() -> Participants {
        Participants::new(vec!["a".into(), "b".into(), "c".into()]).unwrap()
    }

    fn session() -> SessionId {
        SessionId::from_bytes([4; 32])
    }

    /// A direct message from `b` (party 1) to `a` (party 0) in round 2, and its envelope.
    fn direct() -> (WireMessage, Header) {
        let wire = WireMessage {
            session: session(),
            sender: 1,
            recipient: Some(0),
            round: 2,
            payload: Zeroizing::new(b"round two".to_vec()),
        };
        let header = Header {
            channel: Channel(4),
            session: *session().as_bytes(),
            round: 2,
            seq: 0,
            broadcast: false,
            from: "b".into(),
            to: "a".into(),
        };
        (wire, header)
    }

    fn opened(wire: &WireMessage, header: &Header) -> Opened {
        Opened {
            header: header.clone(),
            payload: wire.encode().to_vec(),
        }
    }

    #[test]
    fn a_frame_that_agrees_with_its_envelope_passes() {
        let (wire, header) = direct();
        assert_eq!(
            check(&opened(&wire, &header), session(), &participants()),
            Ok(wire)
        );
    }

    #[test]
    fn a_frame_that_disagrees_with_its_envelope_is_refused_with_the_reason() {
        type Edit = fn(&mut WireMessage, &mut Header);
        let cases: [(&str, Edit); 6] = [
            ("session differs from the envelope", |w, _| {
                w.session = SessionId::from_bytes([5; 32])
            }),
            ("session differs from the envelope", |_, h| {
                h.session = [5; 32]
            }),
            ("round differs from the envelope", |w, _| w.round = 3),
            (
                "party index differs from the authenticated sender",
                |w, _| w.sender = 2,
            ),
            ("broadcast flag differs from the envelope", |_, h| {
                h.broadcast = true
            }),
            ("recipient differs from the envelope", |w, _| {
                w.recipient = Some(2)
            }),
        ];
        for (reason, edit) in cases {
            let (mut wire, mut header) = direct();
            edit(&mut wire, &mut header);
            assert_eq!(
                check(&opened(&wire, &header), session(), &participants()),
                Err(reason)
            );
        }
    }

    #[test]
    fn a_frame_that_does_not_decode_is_refused() {
        let (wire, header) = direct();
        let mut message = opened(&wire, &header);
        message.payload.truncate(10);
        assert_eq!(
            check(&message, session(), &participants()),
            Err("undecodable frame")
        );
    }
}
