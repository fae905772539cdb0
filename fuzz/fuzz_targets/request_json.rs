//! Client request decoding: no input panics, and whatever decodes encodes back to bytes that
//! decode to the same request with the same signed bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpcium_protocol::{GenerateKeyMessage, InitiatorMessage, ResharingMessage, SignTxMessage};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = GenerateKeyMessage::from_json(data) {
        let again = GenerateKeyMessage::from_json(&m.to_json()).expect("re-decodes");
        assert_eq!(again, m);
        assert_eq!(again.signed_bytes(), m.signed_bytes());
    }
    if let Ok(m) = SignTxMessage::from_json(data) {
        let again = SignTxMessage::from_json(&m.to_json()).expect("re-decodes");
        assert_eq!(again, m);
        assert_eq!(again.authorizer_payload(), m.authorizer_payload());
    }
    if let Ok(m) = ResharingMessage::from_json(data) {
        let again = ResharingMessage::from_json(&m.to_json()).expect("re-decodes");
        assert_eq!(again, m);
        assert_eq!(again.signed_bytes(), m.signed_bytes());
    }
});
