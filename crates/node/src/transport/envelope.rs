//! The signed, encrypted envelope every node-to-node message travels in.
//!
//! Wire layout (all integers big-endian):
//!
//! ```text
//! u16 header_len ‖ header ‖ u32 body_len ‖ body ‖ signature[64]
//! header = version(1) ‖ channel(1) ‖ session[32] ‖ round u16 ‖ seq u64 ‖ broadcast(1)
//!          ‖ u8 len ‖ from ‖ u8 len ‖ to
//! body   = nonce[24] ‖ XChaCha20-Poly1305(pairwise key, aad = header, payload)
//! signature = Ed25519(sender identity, "mpcium-rs/envelope/v1" ‖ header ‖ body)
//! ```
//!
//! The receiver checks, in order: the layout and bounds, that `to` is itself, that `from` is a
//! known peer, the signature, then decrypts. Session membership, round and replay checks belong to
//! the session layer, which knows which sessions exist.

use chacha20poly1305::aead::{Aead, AeadCore, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use ed25519_dalek::{Signature, Signer};
use rand::rngs::OsRng;

use super::keys::KeyRing;

const VERSION: u8 = 1;
const SIGNING_DOMAIN: &[u8] = b"mpcium-rs/envelope/v1";
const NONCE_LEN: usize = 24;
const SIGNATURE_LEN: usize = 64;
/// Largest payload an envelope carries. Bigger protocol messages are a bug or an attack.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// What an envelope carries: session control, or a message of one threshold protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Channel(pub u8);

/// Everything an envelope binds its payload to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Protocol or control channel.
    pub channel: Channel,
    /// Session id (`mpcium_tss::SessionId` bytes, or a control-session id).
    pub session: [u8; 32],
    /// Protocol round the payload belongs to.
    pub round: u16,
    /// Per-sender, per-session sequence number; a repeated `(session, from, seq)` is a replay.
    pub seq: u64,
    /// Whether the sender broadcast this payload to every participant.
    pub broadcast: bool,
    /// Sender node id.
    pub from: String,
    /// Recipient node id (broadcasts are sent to each recipient in its own envelope).
    pub to: String,
}

/// A decrypted, verified envelope. `Debug` shows the header and only the payload's length: a
/// payload can carry a secret share.
#[derive(PartialEq, Eq)]
pub struct Opened {
    /// The authenticated header.
    pub header: Header,
    /// The decrypted payload.
    pub payload: Vec<u8>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("header", &self.header)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .finish()
    }
}

/// Why an envelope was rejected. Rejections are logged and counted by the caller, never answered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The bytes do not follow the layout.
    #[error("malformed envelope: {0}")]
    Malformed(&'static str),
    /// The envelope was produced by an unknown format version.
    #[error("unsupported envelope version {0}")]
    Version(u8),
    /// The envelope is addressed to another node.
    #[error("envelope addressed to {to}, not to this node")]
    NotForUs {
        /// The addressee.
        to: String,
    },
    /// The sender is not a peer of this cluster.
    #[error("envelope from unknown node {from}")]
    UnknownSender {
        /// Claimed sender.
        from: String,
    },
    /// The signature does not verify under the claimed sender's identity.
    #[error("envelope from {from} has an invalid signature")]
    BadSignature {
        /// Claimed sender.
        from: String,
    },
    /// The payload does not decrypt with the key shared with the sender.
    #[error("envelope from {from} does not decrypt")]
    Undecryptable {
        /// Sender.
        from: String,
    },
    /// The payload exceeds [`MAX_PAYLOAD`], or a node id exceeds 255 bytes.
    #[error("envelope too large")]
    TooLarge,
}

impl Header {
    fn encode(&self) -> Result<Vec<u8>, EnvelopeError> {
        let from = u8::try_from(self.from.len()).map_err(|_| EnvelopeError::TooLarge)?;
        let to = u8::try_from(self.to.len()).map_err(|_| EnvelopeError::TooLarge)?;
        let mut out = Vec::with_capacity(48 + self.from.len() + self.to.len());
        out.push(VERSION);
        out.push(self.channel.0);
        out.extend_from_slice(&self.session);
        out.extend_from_slice(&self.round.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.push(u8::from(self.broadcast));
        out.push(from);
        out.extend_from_slice(self.from.as_bytes());
        out.push(to);
        out.extend_from_slice(self.to.as_bytes());
        Ok(out)
    }

    fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let mut r = Reader(bytes);
        let version = r.u8()?;
        if version != VERSION {
            return Err(EnvelopeError::Version(version));
        }
        let channel = Channel(r.u8()?);
        let session = r.array::<32>()?;
        let round = u16::from_be_bytes(r.array::<2>()?);
        let seq = u64::from_be_bytes(r.array::<8>()?);
        let broadcast = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(EnvelopeError::Malformed("broadcast flag")),
        };
        let from = r.string()?;
        let to = r.string()?;
        if !r.0.is_empty() {
            return Err(EnvelopeError::Malformed("trailing header bytes"));
        }
        Ok(Self {
            channel,
            session,
            round,
            seq,
            broadcast,
            from,
            to,
        })
    }
}

/// Encrypts `payload` for `header.to` and signs the envelope as this node.
pub fn seal(keys: &KeyRing, header: &Header, payload: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(EnvelopeError::TooLarge);
    }
    let peer = keys
        .peer(&header.to)
        .ok_or_else(|| EnvelopeError::UnknownSender {
            from: header.to.clone(),
        })?;
    let header_bytes = header.encode()?;
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ciphertext = peer
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: payload,
                aad: &header_bytes,
            },
        )
        .map_err(|_| EnvelopeError::TooLarge)?;
    let mut body = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    body.extend_from_slice(&nonce);
    body.extend_from_slice(&ciphertext);
    let signature = keys
        .local()
        .signing_key()
        .sign(&signed_bytes(&header_bytes, &body));

    let header_len = u16::try_from(header_bytes.len()).map_err(|_| EnvelopeError::TooLarge)?;
    let body_len = u32::try_from(body.len()).map_err(|_| EnvelopeError::TooLarge)?;
    let mut out = Vec::with_capacity(6 + header_bytes.len() + body.len() + SIGNATURE_LEN);
    out.extend_from_slice(&header_len.to_be_bytes());
    out.extend_from_slice(&header_bytes);
    out.extend_from_slice(&body_len.to_be_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&signature.to_bytes());
    Ok(out)
}

/// Verifies and decrypts an envelope addressed to this node.
pub fn open(keys: &KeyRing, bytes: &[u8]) -> Result<Opened, EnvelopeError> {
    let mut r = Reader(bytes);
    let header_len = usize::from(u16::from_be_bytes(r.array::<2>()?));
    let header_bytes = r.take(header_len)?;
    let body_len = u32::from_be_bytes(r.array::<4>()?) as usize;
    if body_len > MAX_PAYLOAD + NONCE_LEN + 16 {
        return Err(EnvelopeError::TooLarge);
    }
    let body = r.take(body_len)?;
    let signature = Signature::from_bytes(&r.array::<SIGNATURE_LEN>()?);
    if !r.0.is_empty() {
        return Err(EnvelopeError::Malformed("trailing bytes"));
    }
    let header = Header::decode(header_bytes)?;
    if header.to != keys.local().node_id() {
        return Err(EnvelopeError::NotForUs { to: header.to });
    }
    let peer = keys
        .peer(&header.from)
        .ok_or_else(|| EnvelopeError::UnknownSender {
            from: header.from.clone(),
        })?;
    peer.verifying_key()
        .verify_strict(&signed_bytes(header_bytes, body), &signature)
        .map_err(|_| EnvelopeError::BadSignature {
            from: header.from.clone(),
        })?;
    let (nonce, ciphertext) = body
        .split_at_checked(NONCE_LEN)
        .ok_or(EnvelopeError::Malformed("body shorter than a nonce"))?;
    let payload = peer
        .cipher()
        .decrypt(
            nonce.into(),
            Payload {
                msg: ciphertext,
                aad: header_bytes,
            },
        )
        .map_err(|_| EnvelopeError::Undecryptable {
            from: header.from.clone(),
        })?;
    Ok(Opened { header, payload })
}

fn signed_bytes(header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIGNING_DOMAIN.len() + header.len() + body.len());
    out.extend_from_slice(SIGNING_DOMAIN);
    out.extend_from_slice(header);
    out.extend_from_slice(body);
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], EnvelopeError> {
        let (head, rest) = self
            .0
            .split_at_checked(n)
            .ok_or(EnvelopeError::Malformed("truncated"))?;
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, EnvelopeError> {
        Ok(self.array::<1>()?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], EnvelopeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn string(&mut self) -> Result<String, EnvelopeError> {
        let len = usize::from(self.u8()?);
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| EnvelopeError::Malformed("node id is not utf-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::keys::tests::must_ring;

    fn header(from: &str, to: &str) -> Header {
        Header {
            channel: Channel(3),
            session: [9; 32],
            round: 2,
            seq: 17,
            broadcast: false,
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn sealed_envelope_opens_at_the_recipient_only() {
        let rings = must_ring(&["a", "b", "c"]);
        let wire = seal(&rings[0], &header("a", "b"), b"round two").unwrap();
        let opened = open(&rings[1], &wire).unwrap();
        assert_eq!(opened.header, header("a", "b"));
        assert_eq!(opened.payload, b"round two");
        assert_eq!(
            open(&rings[2], &wire),
            Err(EnvelopeError::NotForUs { to: "b".into() })
        );
    }

    #[test]
    fn debug_output_of_an_opened_envelope_hides_the_payload() {
        let rings = must_ring(&["a", "b"]);
        let wire = seal(&rings[0], &header("a", "b"), b"share bytes").unwrap();
        let text = format!("{:?}", open(&rings[1], &wire).unwrap());
        assert!(
            text.contains("<11 bytes>") && !text.contains("115, 104"),
            "{text}"
        );
    }

    #[test]
    fn payload_is_not_visible_on_the_wire() {
        let rings = must_ring(&["a", "b"]);
        let wire = seal(&rings[0], &header("a", "b"), b"secret share bytes").unwrap();
        assert!(!wire.windows(18).any(|w| w == b"secret share bytes"));
    }

    #[test]
    fn any_flipped_byte_is_rejected() {
        let rings = must_ring(&["a", "b"]);
        let wire = seal(&rings[0], &header("a", "b"), b"payload").unwrap();
        for i in 0..wire.len() {
            let mut bad = wire.clone();
            bad[i] ^= 0x01;
            assert!(
                open(&rings[1], &bad).is_err(),
                "flipping byte {i} was accepted"
            );
        }
    }

    #[test]
    fn a_node_cannot_impersonate_another_sender() {
        let rings = must_ring(&["a", "b", "c"]);
        // c signs with its own key but claims to be a.
        let wire = seal(&rings[2], &header("a", "b"), b"forged").unwrap();
        assert_eq!(
            open(&rings[1], &wire),
            Err(EnvelopeError::BadSignature { from: "a".into() })
        );
    }

    #[test]
    fn truncated_and_oversized_input_is_rejected_without_panic() {
        let rings = must_ring(&["a", "b"]);
        let wire = seal(&rings[0], &header("a", "b"), b"payload").unwrap();
        for len in 0..wire.len() {
            assert!(open(&rings[1], &wire[..len]).is_err());
        }
        let mut huge = wire[..2 + usize::from(u16::from_be_bytes([wire[0], wire[1]]))].to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(open(&rings[1], &huge), Err(EnvelopeError::TooLarge));
    }
}
