//! A small JSON writer that produces exactly the bytes Go's `encoding/json.Marshal` produces for
//! the flat structs of the client contract.
//!
//! The event initiator signs Go `json.Marshal` output, so the node must rebuild those bytes
//! byte-for-byte from a decoded request. The rules reproduced here (Go 1.22 and later):
//!
//! * objects are compact (`{"a":1,"b":"x"}`), fields in the order they are written;
//! * strings escape `"` and `\` with a backslash, U+0008/U+000C/U+000A/U+000D/U+0009 as
//!   `\b` `\f` `\n` `\r` `\t`, other C0 controls as `\u00xx` (lower-case hex), `<` `>` `&` as
//!   `\u003c` `\u003e` `\u0026` (HTML escaping is on in `json.Marshal`), U+2028/U+2029 as
//!   `\u2028`/`\u2029`; everything else, including DEL and non-ASCII, is written as raw UTF-8
//!   (Rust strings are always valid UTF-8, so Go's U+FFFD replacement never applies);
//! * `[]byte` is standard base64 with padding, a nil slice is `null`;
//! * slices are `[a,b]`, a nil slice is `null`, an empty one `[]`.
//!
//! Go releases before 1.22 wrote U+0008 and U+000C as `\u0008` and `\u000c`; such clients only
//! disagree with this writer when a signed string contains those two characters.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Appends `s` as a JSON string literal, escaped exactly as Go's `json.Marshal` does.
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                // Go writes `\u00` and two lower-case hex digits.
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
            }
            _ => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Builds one compact JSON object, field by field, in Go `json.Marshal` form.
#[derive(Debug)]
pub struct ObjectWriter {
    out: Vec<u8>,
    empty: bool,
}

impl Default for ObjectWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ObjectWriter {
    /// Starts an empty object.
    pub fn new() -> Self {
        Self {
            out: vec![b'{'],
            empty: true,
        }
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        write_string(&mut self.out, key);
        self.out.push(b':');
    }

    /// Writes a Go `string` field.
    pub fn string(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        write_string(&mut self.out, value);
        self
    }

    /// Writes a Go `[]byte` field: base64, or `null` for a nil slice.
    pub fn bytes(&mut self, key: &str, value: Option<&[u8]>) -> &mut Self {
        self.key(key);
        match value {
            Some(bytes) => {
                self.out.push(b'"');
                self.out
                    .extend_from_slice(STANDARD.encode(bytes).as_bytes());
                self.out.push(b'"');
            }
            None => self.out.extend_from_slice(b"null"),
        }
        self
    }

    /// Writes a Go integer field (`int`, `uint32`, ...).
    pub fn integer(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        self.out.extend_from_slice(value.to_string().as_bytes());
        self
    }

    /// Writes a Go `bool` field.
    pub fn boolean(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    /// Writes a Go `[]string` field: an array, or `null` for a nil slice.
    pub fn strings(&mut self, key: &str, value: Option<&[String]>) -> &mut Self {
        self.key(key);
        match value {
            Some(items) => {
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    write_string(&mut self.out, item);
                }
                self.out.push(b']');
            }
            None => self.out.extend_from_slice(b"null"),
        }
        self
    }

    /// Writes a Go `[]uint32` field: an array, or `null` for a nil slice.
    pub fn integers(&mut self, key: &str, value: Option<&[u32]>) -> &mut Self {
        self.key(key);
        match value {
            Some(items) => {
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.out.extend_from_slice(item.to_string().as_bytes());
                }
                self.out.push(b']');
            }
            None => self.out.extend_from_slice(b"null"),
        }
        self
    }

    /// Writes a field whose value is already-encoded JSON (a nested object or array).
    pub fn raw(&mut self, key: &str, json: &[u8]) -> &mut Self {
        self.key(key);
        self.out.extend_from_slice(json);
        self
    }

    /// Closes the object and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(b'}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn must_string(s: &str) -> String {
        let mut out = Vec::new();
        write_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_ascii_is_written_unchanged() {
        assert_eq!(must_string("wallet-1_A:z"), r#""wallet-1_A:z""#);
    }

    #[test]
    fn html_characters_are_escaped_like_go() {
        assert_eq!(
            must_string("<script>&</script>"),
            r#""\u003cscript\u003e\u0026\u003c/script\u003e""#
        );
    }

    #[test]
    fn quote_backslash_and_controls_use_go_escapes() {
        assert_eq!(
            must_string("a\"b\\c\nd\re\tf\u{8}g\u{c}h\u{0}i\u{1f}j\u{b}"),
            r#""a\"b\\c\nd\re\tf\bg\fh\u0000i\u001fj\u000b""#
        );
    }

    #[test]
    fn slash_and_delete_are_not_escaped() {
        assert_eq!(must_string("a/b\u{7f}"), "\"a/b\u{7f}\"");
    }

    #[test]
    fn line_and_paragraph_separators_are_escaped() {
        assert_eq!(must_string("x\u{2028}y\u{2029}"), r#""x\u2028y\u2029""#);
    }

    #[test]
    fn non_ascii_text_is_raw_utf8() {
        let s = must_string("ví dụ 🔑");
        assert_eq!(s, "\"ví dụ 🔑\"");
        assert_eq!(
            s.as_bytes(),
            b"\"v\xc3\xad d\xe1\xbb\xa5 \xf0\x9f\x94\x91\""
        );
    }

    #[test]
    fn object_fields_keep_written_order_and_nil_slices_are_null() {
        let mut w = ObjectWriter::new();
        w.string("z", "1")
            .bytes("b", Some(b"\x00\xff"))
            .bytes("n", None)
            .bytes("e", Some(b""))
            .strings("s", None)
            .strings("t", Some(&[]))
            .strings("u", Some(&["a".to_owned(), "<".to_owned()]))
            .integers("p", Some(&[0, 4_294_967_295]))
            .integers("q", None)
            .integer("i", -3)
            .boolean("f", false)
            .raw("r", b"[]");
        assert_eq!(
            String::from_utf8(w.finish()).unwrap(),
            r#"{"z":"1","b":"AP8=","n":null,"e":"","s":null,"t":[],"u":["a","\u003c"],"p":[0,4294967295],"q":null,"i":-3,"f":false,"r":[]}"#
        );
    }

    #[test]
    fn empty_object_is_two_braces() {
        assert_eq!(ObjectWriter::new().finish(), b"{}");
    }
}
