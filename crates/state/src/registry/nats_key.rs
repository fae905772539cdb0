//! Reversible mapping between registry keys (`a/b`, any characters) and JetStream KV keys
//! (`[-/_=.a-zA-Z0-9]`, `.`-separated tokens).
//!
//! Each `/`-separated segment becomes one `.` token, so wildcard watches (`mpc_peers.>`) work.
//! Within a segment, `[A-Za-z0-9_-]` is kept and every other byte is written `=XX` (upper-case
//! hex), e.g. `ecdsa:w.1` → `ecdsa=3Aw=2E1`. Empty segments cannot be represented.

use super::RegistryError;

fn is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// The KV key for the registry key part `key` (below its bucket prefix).
pub(crate) fn encode(key: &str) -> Result<String, RegistryError> {
    let invalid = |reason| RegistryError::InvalidKey {
        key: key.to_owned(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("the key below the prefix is empty"));
    }
    let mut out = String::with_capacity(key.len());
    for (i, segment) in key.split('/').enumerate() {
        if segment.is_empty() {
            return Err(invalid("a key segment between '/' is empty"));
        }
        if i > 0 {
            out.push('.');
        }
        for &byte in segment.as_bytes() {
            if is_plain(byte) {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("={byte:02X}"));
            }
        }
    }
    Ok(out)
}

/// The registry key part for a KV key written by [`encode`]; `None` for any other key.
pub(crate) fn decode(kv_key: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(kv_key.len());
    let mut iter = kv_key.bytes();
    while let Some(byte) = iter.next() {
        match byte {
            b'.' => bytes.push(b'/'),
            b'=' => {
                let hex = [iter.next()?, iter.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b if is_plain(b) => bytes.push(b),
            _ => return None,
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_characters_round_trip_and_stay_within_the_kv_alphabet() {
        for key in [
            "node0",
            "ecdsa:wallet-1",
            "a/b/c",
            "wäl let.=/x",
            "9f1c_UUID-ok",
        ] {
            let encoded = encode(key).unwrap();
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_=.".contains(&b)),
                "{encoded}"
            );
            assert_eq!(decode(&encoded).as_deref(), Some(key));
        }
    }

    #[test]
    fn segments_become_dot_tokens() {
        assert_eq!(encode("a/b").unwrap(), "a.b");
        assert_eq!(encode("ecdsa:w").unwrap(), "ecdsa=3Aw");
    }

    #[test]
    fn empty_segments_are_refused() {
        for key in ["", "a//b", "/a", "a/"] {
            assert!(encode(key).is_err(), "{key:?}");
        }
    }

    #[test]
    fn keys_not_written_by_encode_do_not_decode() {
        assert_eq!(decode("a=Z1"), None);
        assert_eq!(decode("a="), None);
    }
}
