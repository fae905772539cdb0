//! Property tests (the `proptest` twins of the `fuzz/` targets `envelope`, `wire_message` and
//! `store_record`): the decoders a peer or a damaged disk can feed never panic; a sealed
//! envelope opens only at its recipient, unchanged, and not after any one byte changes or when
//! cut short; wire frames round-trip; stored key material that does not decode is an error.
//!
//! Cases per property: 64, or `PROPTEST_CASES` (see `docs/reliability.md` for longer runs).

use ed25519_dalek::SigningKey;
use mpcium_node::transport::envelope::{self, Channel, Header};
use mpcium_node::transport::keys::{KeyRing, LocalKeys};
use mpcium_tss::delivery::WireMessage;
use mpcium_tss::ecdsa::{AuxInfo, IncompleteKeyShare, KeyShare};
use mpcium_tss::eddsa::EddsaKeyShare;
use mpcium_tss::material::{self, MaterialKind};
use mpcium_tss::SessionId;
use proptest::collection::vec;
use proptest::prelude::*;
use zeroize::Zeroizing;

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 64;
    }
    config
}

const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];

/// The key rings of three nodes with fixed identities.
fn must_rings() -> Vec<KeyRing> {
    let keys: Vec<SigningKey> = (1..=3u8)
        .map(|i| SigningKey::from_bytes(&[i; 32]))
        .collect();
    let publics: Vec<(String, ed25519_dalek::VerifyingKey)> = NODES
        .iter()
        .zip(&keys)
        .map(|(id, k)| ((*id).to_owned(), k.verifying_key()))
        .collect();
    NODES
        .iter()
        .zip(&keys)
        .map(|(id, k)| {
            KeyRing::new(LocalKeys::new((*id).to_owned(), k.clone()), publics.clone())
                .expect("ring")
        })
        .collect()
}

fn header() -> impl Strategy<Value = Header> {
    (
        any::<u8>(),
        any::<[u8; 32]>(),
        any::<u16>(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(channel, session, round, seq, broadcast)| Header {
            channel: Channel(channel),
            session,
            round,
            seq,
            broadcast,
            from: NODES[0].to_owned(),
            to: NODES[1].to_owned(),
        })
}

fn wire_message() -> impl Strategy<Value = WireMessage> {
    (
        any::<[u8; 32]>(),
        any::<u16>(),
        prop::option::of(any::<u16>()),
        any::<u16>(),
        vec(any::<u8>(), 0..256),
    )
        .prop_map(|(session, sender, recipient, round, payload)| WireMessage {
            session: SessionId::from_bytes(session),
            sender,
            recipient,
            round,
            payload: Zeroizing::new(payload),
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_open_as_an_envelope(bytes in vec(any::<u8>(), 0..1024)) {
        let rings = must_rings();
        prop_assert!(envelope::open(&rings[1], &bytes).is_err());
    }

    #[test]
    fn a_sealed_envelope_opens_unchanged_at_its_recipient_only(
        header in header(),
        payload in vec(any::<u8>(), 0..512),
    ) {
        let rings = must_rings();
        let wire = envelope::seal(&rings[0], &header, &payload).expect("seal");
        let opened = envelope::open(&rings[1], &wire).expect("opens");
        prop_assert_eq!(&opened.header, &header);
        prop_assert_eq!(&opened.payload, &payload);
        prop_assert!(envelope::open(&rings[2], &wire).is_err());
    }

    #[test]
    fn an_envelope_with_any_byte_changed_or_cut_short_is_rejected(
        header in header(),
        payload in vec(any::<u8>(), 0..256),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let rings = must_rings();
        let wire = envelope::seal(&rings[0], &header, &payload).expect("seal");
        let mut changed = wire.clone();
        changed[at.index(wire.len())] ^= flip;
        prop_assert!(envelope::open(&rings[1], &changed).is_err());
        prop_assert!(envelope::open(&rings[1], &wire[..cut.index(wire.len())]).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_wire_frame_decoder(bytes in vec(any::<u8>(), 0..512)) {
        if let Ok(decoded) = WireMessage::decode(&bytes) {
            let encoded = decoded.encode();
            prop_assert_eq!(encoded.as_slice(), bytes.as_slice());
        }
    }

    #[test]
    fn a_wire_frame_round_trips_and_refuses_any_truncation(
        message in wire_message(),
        cut in any::<prop::sample::Index>(),
    ) {
        let frame = message.encode();
        prop_assert_eq!(WireMessage::decode(&frame).expect("decodes"), message);
        prop_assert!(WireMessage::decode(&frame[..cut.index(frame.len())]).is_err());
    }

    #[test]
    fn stored_key_material_that_does_not_decode_is_an_error(
        bytes in vec(any::<u8>(), 0..512),
        kind in prop::sample::select(MaterialKind::ALL.to_vec()),
        body in "\\PC{0,64}",
    ) {
        // Raw bytes, and a valid material header of each kind over arbitrary JSON-ish text.
        let mut framed = b"MPCM".to_vec();
        framed.extend_from_slice(&kind.code().to_be_bytes());
        framed.extend_from_slice(&material::CURRENT_VERSION.to_be_bytes());
        framed.extend_from_slice(body.as_bytes());
        for input in [&bytes, &framed] {
            let _ = material::peek(input);
            prop_assert!(KeyShare::open(input).is_err());
            prop_assert!(IncompleteKeyShare::open(input).is_err());
            prop_assert!(AuxInfo::open(input).is_err());
            prop_assert!(EddsaKeyShare::open(input, input).is_err());
            let _ = material::open::<serde_json::Value>(kind, input);
        }
    }
}
