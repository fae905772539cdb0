//! The node envelope decoder, as a recipient with a real key ring runs it on whatever arrives on
//! its NATS subject: no input panics, and none opens (it would need a peer's signature).
#![no_main]

use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use mpcium_node::transport::envelope;
use mpcium_node::transport::keys::{KeyRing, LocalKeys};

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        let keys: Vec<SigningKey> = (1..=3u8).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let peers = ["node-a", "node-b", "node-c"]
            .iter()
            .zip(&keys)
            .map(|(id, k)| ((*id).to_owned(), k.verifying_key()));
        KeyRing::new(LocalKeys::new("node-b".into(), keys[1].clone()), peers).expect("ring")
    })
}

fuzz_target!(|data: &[u8]| {
    assert!(envelope::open(ring(), data).is_err());
});
