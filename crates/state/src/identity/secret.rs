//! Secret text (passphrases, passwords, tokens): a zeroizing string whose `Debug` is redacted,
//! and the passphrase strength rule shared with the reference CLI.

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

/// Minimum passphrase length accepted for encrypting key files (the reference's rule).
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// A secret string, wiped from memory on drop; `Debug` prints `<redacted>`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretText(Zeroizing<String>);

impl SecretText {
    /// Wraps `text`, taking ownership so no unzeroized copy is left with the caller.
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The secret itself; do not log or print it.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The secret as an `age`/`secrecy` string for passphrase encryption.
    pub fn to_age_secret(&self) -> age::secrecy::SecretString {
        age::secrecy::SecretString::from(self.0.as_str().to_owned())
    }

    /// Reads a secret from file contents: one trailing newline (`\n` or `\r\n`) is removed.
    pub fn from_file_text(mut text: String) -> Self {
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        Self::new(text)
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

/// Why a passphrase is refused for encrypting a key file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassphrase {
    /// Fewer than [`MIN_PASSPHRASE_CHARS`] characters.
    #[error(
        "passphrase is too short: it has {chars} characters, at least {MIN_PASSPHRASE_CHARS} are \
         required"
    )]
    TooShort {
        /// Characters in the refused passphrase.
        chars: usize,
    },
    /// Only letters and digits.
    #[error(
        "passphrase needs at least one character that is not a letter or digit (e.g. `!`, `-`, `#`)"
    )]
    NoSpecialCharacter,
}

/// Checks the reference's strength rule: at least 12 characters and one non-alphanumeric one.
pub fn check_passphrase_strength(passphrase: &SecretText) -> Result<(), WeakPassphrase> {
    let chars = passphrase.expose().chars().count();
    if chars < MIN_PASSPHRASE_CHARS {
        return Err(WeakPassphrase::TooShort { chars });
    }
    if passphrase.expose().chars().all(char::is_alphanumeric) {
        return Err(WeakPassphrase::NoSpecialCharacter);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_secret_hides_its_text() {
        let secret = SecretText::new("hunter2-very-secret".to_owned());
        let shown = format!("{secret:?}");
        assert_eq!(shown, "<redacted>");
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn file_text_loses_exactly_one_trailing_newline() {
        assert_eq!(SecretText::from_file_text("abc\n".into()).expose(), "abc");
        assert_eq!(SecretText::from_file_text("abc\r\n".into()).expose(), "abc");
        assert_eq!(
            SecretText::from_file_text("abc\n\n".into()).expose(),
            "abc\n"
        );
        assert_eq!(SecretText::from_file_text(" abc ".into()).expose(), " abc ");
    }

    #[test]
    fn short_passphrase_is_refused_with_its_length() {
        let err = check_passphrase_strength(&SecretText::new("short!".into()));
        assert_eq!(err, Err(WeakPassphrase::TooShort { chars: 6 }));
    }

    #[test]
    fn alphanumeric_only_passphrase_is_refused() {
        let err = check_passphrase_strength(&SecretText::new("abcdefghijkl123".into()));
        assert_eq!(err, Err(WeakPassphrase::NoSpecialCharacter));
    }

    #[test]
    fn long_passphrase_with_a_symbol_is_accepted() {
        assert!(
            check_passphrase_strength(&SecretText::new("correct-horse-battery".into())).is_ok()
        );
    }
}
