//! Rules for identifiers that end up inside NATS subjects, consumer names and `Nats-Msg-Id`s
//! (wallet, transaction, session, node and client IDs), and the [`ClientId`] type.
//!
//! The reference checks only the client ID (no whitespace, `.`, `*`, `>`) and trusts every other
//! ID; a wallet ID containing `.` silently changes the result subject. Here every such ID is
//! checked once, at decode time, against the same rule plus a length limit and no control
//! characters. Non-ASCII letters are allowed: NATS subjects are UTF-8.

use std::fmt;

/// Longest ID accepted, in bytes (a UUID is 36).
pub const MAX_ID_BYTES: usize = 256;

/// Why a string is not a usable ID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The ID is empty.
    #[error("must not be empty")]
    Empty,
    /// The ID is longer than [`MAX_ID_BYTES`].
    #[error("is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Length in bytes.
        len: usize,
        /// Limit in bytes.
        max: usize,
    },
    /// The ID contains a character that would split or widen a NATS subject.
    #[error(
        "contains {found:?} at byte {at}; IDs must be one NATS subject token \
         (no whitespace, control characters, '.', '*' or '>')"
    )]
    ForbiddenCharacter {
        /// The offending character.
        found: char,
        /// Its byte offset.
        at: usize,
    },
}

/// Checks that `id` can be used as one NATS subject token.
pub fn check_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > MAX_ID_BYTES {
        return Err(IdError::TooLong {
            len: id.len(),
            max: MAX_ID_BYTES,
        });
    }
    match id
        .char_indices()
        .find(|&(_, c)| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>'))
    {
        Some((at, found)) => Err(IdError::ForbiddenCharacter { found, at }),
        None => Ok(()),
    }
}

/// A validated client ID: scopes result subjects and consumers to one client (`ClientID` header).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    /// Validates `id` with [`check_id`].
    pub fn new(id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        check_id(&id)?;
        Ok(Self(id))
    }

    /// Reads a `ClientID` header value: empty means "not scoped", as in the reference.
    pub fn from_header(value: &str) -> Result<Option<Self>, IdError> {
        if value.is_empty() {
            return Ok(None);
        }
        Self::new(value).map(Some)
    }

    /// The ID text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_ordinary_ids_are_accepted() {
        for id in [
            "0d8a3f1c-5a4e-4f0e-9e47-7f1c2a9b6d11",
            "wallet_1",
            "svc-a",
            "a:b",
            "ví-dụ-🔑",
            "<x&",
        ] {
            assert_eq!(check_id(id), Ok(()), "{id}");
        }
    }

    #[test]
    fn subject_breaking_characters_are_rejected_with_their_position() {
        assert_eq!(
            check_id("a.b"),
            Err(IdError::ForbiddenCharacter { found: '.', at: 1 })
        );
        for id in [
            "*", "ab>", "a b", "a\tb", "a\nb", "a\u{0}b", "a\u{a0}b", "x\u{7f}",
        ] {
            assert!(
                matches!(check_id(id), Err(IdError::ForbiddenCharacter { .. })),
                "{id:?}"
            );
        }
    }

    #[test]
    fn empty_and_oversized_ids_are_rejected() {
        assert_eq!(check_id(""), Err(IdError::Empty));
        assert_eq!(check_id(&"a".repeat(MAX_ID_BYTES)), Ok(()));
        assert_eq!(
            check_id(&"a".repeat(MAX_ID_BYTES + 1)),
            Err(IdError::TooLong {
                len: MAX_ID_BYTES + 1,
                max: MAX_ID_BYTES
            })
        );
    }

    #[test]
    fn an_empty_client_id_header_means_unscoped() {
        assert_eq!(ClientId::from_header(""), Ok(None));
        assert_eq!(
            ClientId::from_header("svc-a").unwrap().unwrap().as_str(),
            "svc-a"
        );
        assert!(ClientId::from_header("svc.a").is_err());
        assert!(ClientId::new(" ").is_err());
    }
}
