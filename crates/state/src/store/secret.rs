//! Zeroizing holders for the store's secrets: the database password and decrypted record bytes.
//!
//! Both wipe their memory on drop and print `<redacted>` in `Debug`. Copies the caller makes with
//! [`SecretBytes::expose`] are the caller's to zeroize.

use std::fmt;

use zeroize::Zeroizing;

/// The password the store's encryption key is derived from; any non-empty length works.
#[derive(Clone)]
pub struct SecretPassword(Zeroizing<String>);

impl SecretPassword {
    /// Wraps a password; the `String` is moved, not copied, so no unzeroized copy is left behind.
    pub fn new(password: String) -> Self {
        Self(Zeroizing::new(password))
    }

    /// The password bytes, for key derivation only.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether the password is empty (an empty password is refused when opening a store).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretPassword {
    fn from(password: String) -> Self {
        Self::new(password)
    }
}

impl fmt::Debug for SecretPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretPassword(<redacted>)")
    }
}

/// Decrypted record bytes (a key share, aux info, primes, a presignature), zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps bytes that are already secret.
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The plaintext; do not keep unzeroized copies of it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Hands the plaintext over in its zeroizing buffer.
    pub fn into_zeroizing(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<redacted>, {} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_debug_hides_the_password() {
        let password = SecretPassword::new("hunter2-correct-horse".to_owned());
        let printed = format!("{password:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }

    #[test]
    fn secret_bytes_debug_hides_the_bytes() {
        let secret = SecretBytes::new(Zeroizing::new(b"share-bytes-0xdeadbeef".to_vec()));
        let printed = format!("{secret:?}");
        assert!(!printed.contains("share-bytes"), "{printed}");
        assert!(!printed.contains("115"), "{printed}"); // no byte list either ('s' = 115)
        assert!(printed.contains("<redacted>"), "{printed}");
    }
}
