//! Exact decoding of Go `*big.Int` values as tss-lib writes them into JSON: a bare decimal number
//! of any size (`json.Marshal` of a `*big.Int` is its base-10 text, `null` for a nil pointer).
//!
//! The text is taken as written ([`serde_json::value::RawValue`]) and converted digit by digit into
//! big-endian bytes in a zeroizing buffer, so a secret (the share `Xi`) never passes through a
//! float, a `String` or an unzeroized big-integer type.

use serde_json::value::RawValue;
use zeroize::Zeroizing;

/// Most decimal digits accepted for a value this crate decodes: 1,000 digits is ~3,300 bits,
/// far above every field read here (scalars, coordinates and party keys of a few hundred bits).
/// Fields that are only skipped (Paillier keys) are never decoded and have no limit.
pub const MAX_DIGITS: usize = 1000;

/// Why a JSON value is not a non-negative integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// `null` (a nil `*big.Int`) where a value is required.
    #[error("is null")]
    Null,
    /// Not a JSON integer (a string, an object, a fraction or an exponent).
    #[error("is not an integer")]
    NotAnInteger,
    /// A negative integer.
    #[error("is negative")]
    Negative,
    /// More than [`MAX_DIGITS`] digits.
    #[error("has more than {MAX_DIGITS} digits")]
    TooLong,
}

/// Decodes a JSON integer into minimal big-endian bytes (zero is the empty vector, like Go's
/// `big.Int.Bytes`). The buffer is zeroized on drop.
pub fn decode(raw: &RawValue) -> Result<Zeroizing<Vec<u8>>, NumberError> {
    decode_text(raw.get())
}

/// [`decode`] on the JSON text of one value.
pub fn decode_text(text: &str) -> Result<Zeroizing<Vec<u8>>, NumberError> {
    let text = text.trim();
    if text == "null" {
        return Err(NumberError::Null);
    }
    if text.starts_with('-') {
        return Err(NumberError::Negative);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumberError::NotAnInteger);
    }
    if text.len() > MAX_DIGITS {
        return Err(NumberError::TooLong);
    }
    // Little-endian base-256 accumulator: acc = acc·10 + digit, for each digit.
    let mut acc: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::with_capacity(text.len() / 2 + 1));
    for digit in text.bytes() {
        let mut carry = u16::from(digit - b'0');
        for byte in acc.iter_mut() {
            let v = u16::from(*byte) * 10 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        if carry > 0 {
            acc.push(carry as u8);
        }
    }
    acc.reverse();
    Ok(acc)
}

/// Left-pads minimal big-endian bytes to exactly `N` bytes; `None` if the value needs more.
pub fn to_fixed<const N: usize>(be: &[u8]) -> Option<Zeroizing<[u8; N]>> {
    let skip = be.iter().take_while(|b| **b == 0).count();
    let be = be.get(skip..)?;
    let start = N.checked_sub(be.len())?;
    let mut out = Zeroizing::new([0u8; N]);
    out.get_mut(start..)?.copy_from_slice(be);
    Some(out)
}

/// The decimal text of minimal big-endian bytes (what Go's `big.Int` marshals to). Used to write
/// reference-format JSON; public values only (the intermediate buffers are not zeroized).
pub fn to_decimal(be: &[u8]) -> String {
    let mut digits = Vec::new();
    let mut n: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
    while !n.is_empty() {
        let mut rem = 0u16;
        for byte in n.iter_mut() {
            let v = (rem << 8) | u16::from(*byte);
            *byte = (v / 10) as u8;
            rem = v % 10;
        }
        digits.push(b'0' + rem as u8);
        let skip = n.iter().take_while(|b| **b == 0).count();
        n.drain(..skip);
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_huge_integers_decode_exactly() {
        assert_eq!(*decode_text("0").unwrap(), Vec::<u8>::new());
        assert_eq!(*decode_text("255").unwrap(), vec![0xff]);
        assert_eq!(*decode_text("256").unwrap(), vec![1, 0]);
        // 2^256 - 1 needs 78 digits and 32 bytes; no float can hold it exactly.
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(*decode_text(max).unwrap(), vec![0xff; 32]);
    }

    #[test]
    fn decimal_text_round_trips() {
        for bytes in [
            vec![1u8],
            vec![0x12, 0x34, 0x56],
            vec![0xff; 40],
            b"node-a:1".to_vec(),
        ] {
            assert_eq!(*decode_text(&to_decimal(&bytes)).unwrap(), bytes);
        }
        assert_eq!(to_decimal(&[]), "0");
        assert_eq!(to_decimal(&[0, 0, 7]), "7");
    }

    #[test]
    fn values_that_are_not_non_negative_integers_are_refused() {
        assert_eq!(decode_text("null"), Err(NumberError::Null));
        assert_eq!(decode_text("-5"), Err(NumberError::Negative));
        assert_eq!(decode_text("1.5"), Err(NumberError::NotAnInteger));
        assert_eq!(decode_text("1e9"), Err(NumberError::NotAnInteger));
        assert_eq!(decode_text("\"12\""), Err(NumberError::NotAnInteger));
        assert_eq!(
            decode_text(&"9".repeat(MAX_DIGITS + 1)),
            Err(NumberError::TooLong)
        );
    }

    #[test]
    fn fixed_width_padding_refuses_values_that_do_not_fit() {
        assert_eq!(*to_fixed::<4>(&[1, 2]).unwrap(), [0, 0, 1, 2]);
        assert_eq!(*to_fixed::<2>(&[0, 0, 1, 2]).unwrap(), [1, 2]);
        assert!(to_fixed::<2>(&[1, 2, 3]).is_none());
    }
}
