//! The decoders of what the store holds (versioned key material: CGGMP24 shares and aux info,
//! FROST key packages): no input panics. The first byte picks the material kind for the
//! generic decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpcium_tss::ecdsa::{AuxInfo, IncompleteKeyShare, KeyShare};
use mpcium_tss::eddsa::EddsaKeyShare;
use mpcium_tss::material::{self, MaterialKind};

fuzz_target!(|data: &[u8]| {
    let _ = material::peek(data);
    let _ = KeyShare::open(data);
    let _ = IncompleteKeyShare::open(data);
    let _ = AuxInfo::open(data);
    let (secret, public) = data.split_at(data.len() / 2);
    let _ = EddsaKeyShare::open(secret, public);
    if let Some((&pick, rest)) = data.split_first() {
        let kind = MaterialKind::ALL[usize::from(pick) % MaterialKind::ALL.len()];
        let _ = material::open::<serde_json::Value>(kind, rest);
    }
});
