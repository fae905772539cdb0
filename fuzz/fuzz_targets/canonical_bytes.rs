//! The canonical signed bytes: the Go-compatible JSON writer emits valid JSON that reads back
//! as the input string, and the bytes a decoded signing request signs are JSON in every form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpcium_protocol::canonical::write_string;
use mpcium_protocol::SignTxMessage;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    write_string(&mut out, &text);
    let back: String = serde_json::from_slice(&out).expect("the writer emits valid JSON");
    assert_eq!(back, text);
    if let Ok(m) = SignTxMessage::from_json(data) {
        for form in m.accepted_forms() {
            let signed = m.signed_bytes_in(*form);
            serde_json::from_slice::<serde_json::Value>(&signed).expect("signed bytes are JSON");
        }
    }
});
