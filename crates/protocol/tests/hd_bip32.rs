//! Standard BIP32 public derivation against the BIP-0032 test vectors 1 and 2: every non-hardened
//! step, starting from the published parent xpub, must give the published child xpub.

use mpcium_protocol::hd::{bip32_secp256k1_ckd_pub, derive_secp256k1, HdError, HARDENED_OFFSET};
use sha2::{Digest, Sha256};

/// Decodes Base58Check (Bitcoin alphabet), verifying the checksum.
fn must_decode_base58check(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut bytes: Vec<u8> = Vec::new(); // big-endian magnitude
    for c in s.bytes() {
        let mut carry = ALPHABET.iter().position(|&a| a == c).expect("base58 digit") as u32;
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.bytes().take_while(|&c| c == b'1').count();
    let mut out = vec![0u8; zeros];
    out.extend(bytes);
    let (payload, checksum) = out.split_at(out.len() - 4);
    let digest = Sha256::digest(Sha256::digest(payload));
    assert_eq!(&digest[..4], checksum, "checksum of {s}");
    payload.to_vec()
}

/// (chain code, public key) of an xpub.
fn must_xpub(s: &str) -> ([u8; 32], [u8; 33]) {
    let raw = must_decode_base58check(s);
    assert_eq!(raw.len(), 78);
    (
        raw[13..45].try_into().expect("chain code"),
        raw[45..78].try_into().expect("key"),
    )
}

// (parent xpub, non-hardened index, child xpub), from BIP-0032 "Test Vectors".
const STEPS: [(&str, u32, &str); 5] = [
    // Vector 1: m/0H -> m/0H/1
    (
        "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw",
        1,
        "xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ",
    ),
    // Vector 1: m/0H/1/2H -> m/0H/1/2H/2
    (
        "xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5",
        2,
        "xpub6FHa3pjLCk84BayeJxFW2SP4XRrFd1JYnxeLeU8EqN3vDfZmbqBqaGJAyiLjTAwm6ZLRQUMv1ZACTj37sR62cfN7fe5JnJ7dh8zL4fiyLHV",
    ),
    // Vector 1: m/0H/1/2H/2 -> m/0H/1/2H/2/1000000000
    (
        "xpub6FHa3pjLCk84BayeJxFW2SP4XRrFd1JYnxeLeU8EqN3vDfZmbqBqaGJAyiLjTAwm6ZLRQUMv1ZACTj37sR62cfN7fe5JnJ7dh8zL4fiyLHV",
        1_000_000_000,
        "xpub6H1LXWLaKsWFhvm6RVpEL9P4KfRZSW7abD2ttkWP3SSQvnyA8FSVqNTEcYFgJS2UaFcxupHiYkro49S8yGasTvXEYBVPamhGW6cFJodrTHy",
    ),
    // Vector 2: m -> m/0
    (
        "xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB",
        0,
        "xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH",
    ),
    // Vector 2: m/0/2147483647H -> m/0/2147483647H/1
    (
        "xpub6ASAVgeehLbnwdqV6UKMHVzgqAG8Gr6riv3Fxxpj8ksbH9ebxaEyBLZ85ySDhKiLDBrQSARLq1uNRts8RuJiHjaDMBU4Zn9h8LZNnBC5y4a",
        1,
        "xpub6DF8uhdarytz3FWdA8TvFSvvAh8dP3283MY7p2V4SeE2wyWmG5mg5EwVvmdMVCQcoNJxGoWaU9DCWh89LojfZ537wTfunKau47EL2dhHKon",
    ),
];

#[test]
fn every_non_hardened_step_of_the_bip32_vectors_is_reproduced() {
    for (parent, index, child) in STEPS {
        let (parent_chain, parent_key) = must_xpub(parent);
        let (child_chain, child_key) = must_xpub(child);
        let got = bip32_secp256k1_ckd_pub(&parent_key, &parent_chain, &[index]).expect("derives");
        assert_eq!(got.public_key, child_key, "key of {child}");
        assert_eq!(got.chain_code, child_chain, "chain code of {child}");
    }
}

#[test]
fn a_two_step_public_path_equals_the_two_single_steps() {
    // Vector 1: m/0H/1/2H -> /2 -> /1000000000 in one call.
    let (chain, key) = must_xpub(STEPS[1].0);
    let (want_chain, want_key) = must_xpub(STEPS[2].2);
    let got = bip32_secp256k1_ckd_pub(&key, &chain, &[2, 1_000_000_000]).expect("derives");
    assert_eq!(got.public_key, want_key);
    assert_eq!(got.chain_code, want_chain);
}

#[test]
fn mpcium_and_bip32_agree_whenever_il_is_below_the_group_order() {
    // IL ≥ n has probability ~2^-127, so on real vectors the two schemes coincide for secp256k1.
    for (parent, index, _) in STEPS {
        let (chain, key) = must_xpub(parent);
        assert_eq!(
            derive_secp256k1(&key, &chain, &[index]).expect("mpcium"),
            bip32_secp256k1_ckd_pub(&key, &chain, &[index]).expect("bip32"),
        );
    }
}

#[test]
fn hardened_steps_are_refused_by_public_derivation() {
    let (chain, key) = must_xpub(STEPS[0].0);
    assert_eq!(
        bip32_secp256k1_ckd_pub(&key, &chain, &[HARDENED_OFFSET + 2]),
        Err(HdError::HardenedNotSupported {
            index: HARDENED_OFFSET + 2
        })
    );
}
