//! The protocol wire-frame decoder: no input panics, and a frame that decodes encodes back to
//! exactly its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpcium_tss::delivery::WireMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = WireMessage::decode(data) {
        assert_eq!(message.encode().as_slice(), data);
    }
});
