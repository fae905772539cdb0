//! What a readiness mark (`mpc_ready/<node id>`) says besides "ready": the writing process's
//! [`Incarnation`], and whether that process is ready yet or still starting.
//!
//! Each node process draws a random incarnation when it opens its registry and writes it into
//! every mark, so a reader can tell a node that was restarted (same id, new incarnation: the
//! sessions the old process took part in are lost) from one that stayed up. A starting process
//! writes a *starting* mark at once (not ready, new incarnation) and its ready mark once it can
//! take sessions.
//!
//! The forms, by backend (readers accept the old forms, with an unknown incarnation):
//! * NATS KV: the value is `{"incarnation":"<16 hex>","ready":true|false}`; the old form
//!   `true` (and any value that is not such an object) is a ready mark of unknown incarnation,
//!   as every value was before. The key's per-message TTL bounds both kinds.
//! * Consul: the value stays the expiry time (Unix milliseconds, decimal; a starting mark
//!   holds `0`, already expired) and the incarnation goes into the entry's `Flags` (`0`: unknown,
//!   the old form), so a reader that knows only the old form reads new marks correctly.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A random 64-bit id of one node process, never zero (zero is "unknown" in Consul's flags).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Incarnation(u64);

impl Incarnation {
    /// A fresh random incarnation.
    pub fn random() -> Incarnation {
        use rand::RngCore as _;
        loop {
            let id = rand::rngs::OsRng.next_u64();
            if id != 0 {
                return Incarnation(id);
            }
        }
    }

    /// The incarnation with this numeric value; `None` for zero.
    pub fn from_u64(id: u64) -> Option<Incarnation> {
        (id != 0).then_some(Incarnation(id))
    }

    /// Its numeric value (Consul's `Flags`).
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// Parses the 16 hex digits of [`Incarnation`]'s `Display`.
    pub fn parse_hex(text: &str) -> Option<Incarnation> {
        if text.len() != 16 {
            return None;
        }
        u64::from_str_radix(text, 16)
            .ok()
            .and_then(Incarnation::from_u64)
    }
}

impl fmt::Display for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Incarnation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Incarnation({self})")
    }
}

/// A decoded readiness mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadyMark {
    /// The writing process's incarnation; `None` for a mark in the old form.
    pub incarnation: Option<Incarnation>,
    /// Whether the process is ready (false: it is starting and takes no sessions yet).
    pub ready: bool,
}

#[derive(Serialize, Deserialize)]
struct NatsForm {
    incarnation: String,
    ready: bool,
}

impl ReadyMark {
    /// The NATS KV value of this mark (a mark without an incarnation is written in the old form).
    pub fn encode_nats(&self) -> Vec<u8> {
        match self.incarnation {
            None => b"true".to_vec(),
            Some(incarnation) => {
                let form = NatsForm {
                    incarnation: incarnation.to_string(),
                    ready: self.ready,
                };
                serde_json::to_vec(&form).unwrap_or_else(|_| b"true".to_vec())
            }
        }
    }

    /// Reads a NATS KV value: the object form, or else (the old `true`, anything unreadable) a
    /// ready mark of unknown incarnation, since before incarnations every value meant ready.
    pub fn decode_nats(value: &[u8]) -> ReadyMark {
        let old_form = ReadyMark {
            incarnation: None,
            ready: true,
        };
        let Ok(form) = serde_json::from_slice::<NatsForm>(value) else {
            return old_form;
        };
        match Incarnation::parse_hex(&form.incarnation) {
            Some(incarnation) => ReadyMark {
                incarnation: Some(incarnation),
                ready: form.ready,
            },
            None => ReadyMark {
                incarnation: None,
                ready: form.ready,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incarnation_prints_as_16_hex_digits_and_parses_back() {
        let incarnation = Incarnation::from_u64(0xab).unwrap();
        assert_eq!(incarnation.to_string(), "00000000000000ab");
        assert_eq!(
            Incarnation::parse_hex("00000000000000ab"),
            Some(incarnation)
        );
        for bad in [
            "ab",
            "0000000000000000",
            "zz000000000000ab",
            "000000000000000ab",
        ] {
            assert_eq!(Incarnation::parse_hex(bad), None, "{bad}");
        }
        assert_eq!(Incarnation::from_u64(0), None);
        assert_ne!(Incarnation::random(), Incarnation::random());
    }

    #[test]
    fn nats_marks_round_trip_in_both_states() {
        let incarnation = Incarnation::from_u64(0x0123_4567_89ab_cdef);
        for ready in [true, false] {
            let mark = ReadyMark { incarnation, ready };
            assert_eq!(ReadyMark::decode_nats(&mark.encode_nats()), mark);
        }
        let ready = ReadyMark {
            incarnation,
            ready: true,
        };
        assert_eq!(
            ready.encode_nats(),
            br#"{"incarnation":"0123456789abcdef","ready":true}"#
        );
    }

    #[test]
    fn old_and_unreadable_nats_values_are_ready_marks_of_unknown_incarnation() {
        let old = ReadyMark {
            incarnation: None,
            ready: true,
        };
        for value in [
            &b"true"[..],
            b"",
            b"{",
            b"1764771234567",
            br#"{"ready":false}"#,
        ] {
            assert_eq!(ReadyMark::decode_nats(value), old, "{value:?}");
        }
        assert_eq!(old.encode_nats(), b"true");
        // A well-formed mark whose incarnation is unreadable keeps its state.
        assert_eq!(
            ReadyMark::decode_nats(br#"{"incarnation":"x","ready":false}"#),
            ReadyMark {
                incarnation: None,
                ready: false
            }
        );
    }
}
