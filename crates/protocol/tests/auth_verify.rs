//! Initiator and authorizer signature verification, against signatures made by the real
//! `ed25519-dalek` and `p256` signers and by OpenSSL (golden fixtures below).

use std::collections::BTreeMap;

use ed25519_dalek::Signer as _;
use mpcium_protocol::{
    AuthorizationError, AuthorizerConfigError, AuthorizerSignature, Authorizers,
    GenerateKeyMessage, InitiatorAlgorithm, InitiatorMessage, KeyError, KeyType, PublicKey,
    ResharingMessage, SignTxForm, SignTxMessage, SignatureError,
};

/// The canonical bytes of a SignTx request (hand-derived, HTML-escaped like Go).
const GOLDEN_MSG: &str = r#"{"key_type":"secp256k1","wallet_id":"wallet-1","network_internal_code":"eth\u003cmainnet\u003e\u0026co","tx_id":"tx-1","tx":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}"#;
/// `openssl pkey -pubout -outform DER` of a P-256 key, as hex (what `generate-initiator` prints).
const OPENSSL_P256_SPKI_HEX: &str = "3059301306072a8648ce3d020106082a8648ce3d03010703420004e65e2ede235a2bfb5fa4d3227cd8dc78169e06a5a2df0fc424023e10299b1b10ebca9a00e344c4c62aa41de66c2b331d891985ae768224ea8130c45b4ec7c9b4";
/// The same SPKI as standard base64.
const OPENSSL_P256_SPKI_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE5l4u3iNaK/tfpNMifNjceBaeBqWi3w/EJAI+ECmbGxDrypoA40TExiqkHeZsKzMdiRmFrnaCJOqBMMRbTsfJtA==";
/// `openssl dgst -sha256 -sign` over [`GOLDEN_MSG`]: DER ECDSA, as Go `SignASN1` / KMS produce.
const OPENSSL_P256_SIG_HEX: &str = "30450221008d1479461c8b9a870e5792aad6052cd907504985466659f8c6c696f6448b326902201e141b9314090e44a4354f2cbd6fc93abfc9f8902c57eca1a988f5086d5b1158";
/// An OpenSSL Ed25519 public key, raw 32 bytes as hex.
const OPENSSL_ED25519_PUB_HEX: &str =
    "806d9c5bb65d302af1a71d092cfca147ddcddb459d4235a97dd4eac40e143fef";
/// `openssl pkeyutl -sign -rawin` over [`GOLDEN_MSG`] with that key.
const OPENSSL_ED25519_SIG_HEX: &str = "4ec1ca5f9fe6cfeab64f906cfedb9e690e1e54351f017e40373c54c57cefd65f4342116d6e18e08db5d21fb7f293d1508ab7149eba8d0bb67cc414f6e60fc106";

fn must_hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn must_key(alg: InitiatorAlgorithm, text: &str) -> PublicKey {
    PublicKey::parse(alg, text).unwrap()
}

fn ed_signer(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

fn ed_public(signer: &ed25519_dalek::SigningKey) -> PublicKey {
    PublicKey::Ed25519(signer.verifying_key())
}

fn p256_signer(seed: u8) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
}

fn p256_der_sign(signer: &p256::ecdsa::SigningKey, msg: &[u8]) -> Vec<u8> {
    let sig: p256::ecdsa::Signature = signer.sign(msg);
    sig.to_der().as_bytes().to_vec()
}

fn golden_sign_tx() -> SignTxMessage {
    SignTxMessage {
        protocol: None,
        key_type: KeyType::Secp256k1,
        wallet_id: "wallet-1".to_owned(),
        network_internal_code: "eth<mainnet>&co".to_owned(),
        tx_id: "tx-1".to_owned(),
        tx: (0u8..32).collect(),
        signature: Vec::new(),
        derivation_path: None,
        authorizer_signatures: Vec::new(),
        request_version: None,
        hash: None,
    }
}

#[test]
fn golden_message_is_what_the_request_type_signs() {
    assert_eq!(golden_sign_tx().signed_bytes(), GOLDEN_MSG.as_bytes());
}

#[test]
fn an_openssl_p256_signature_verifies_with_hex_and_base64_spki_keys() {
    let sig = must_hex(OPENSSL_P256_SIG_HEX);
    for text in [
        OPENSSL_P256_SPKI_HEX.to_owned(),
        format!("0x{OPENSSL_P256_SPKI_HEX}"),
        OPENSSL_P256_SPKI_HEX.to_uppercase(),
        OPENSSL_P256_SPKI_B64.to_owned(),
        format!("  {OPENSSL_P256_SPKI_B64}\n"),
    ] {
        let key = must_key(InitiatorAlgorithm::P256, &text);
        assert_eq!(key.algorithm(), InitiatorAlgorithm::P256);
        assert_eq!(key.verify(GOLDEN_MSG.as_bytes(), &sig), Ok(()), "{text}");
    }
    let mut msg = golden_sign_tx();
    msg.signature = sig;
    let key = must_key(InitiatorAlgorithm::P256, OPENSSL_P256_SPKI_HEX);
    assert_eq!(key.verify_request(&msg), Ok(()));
    msg.network_internal_code = "eth<mainnet>&c0".to_owned();
    assert_eq!(key.verify_request(&msg), Err(SignatureError::Mismatch));
}

#[test]
fn a_p256_key_given_as_a_sec1_point_is_accepted() {
    let spki = must_hex(OPENSSL_P256_SPKI_HEX);
    let uncompressed = &spki[spki.len() - 65..];
    let key = must_key(InitiatorAlgorithm::P256, &hex::encode(uncompressed));
    let PublicKey::P256(inner) = &key else {
        panic!("expected a p256 key")
    };
    let compressed = inner.to_encoded_point(true);
    let same = must_key(
        InitiatorAlgorithm::P256,
        &hex::encode(compressed.as_bytes()),
    );
    assert_eq!(key, same);
    assert_eq!(
        same.verify(GOLDEN_MSG.as_bytes(), &must_hex(OPENSSL_P256_SIG_HEX)),
        Ok(())
    );
}

#[test]
fn a_high_s_p256_signature_is_accepted_like_go() {
    let low = p256::ecdsa::Signature::from_der(&must_hex(OPENSSL_P256_SIG_HEX)).unwrap();
    let (r, s) = low.split_scalars();
    let high = p256::ecdsa::Signature::from_scalars(r.to_bytes(), (-*s).to_bytes()).unwrap();
    assert!(
        high.normalize_s().is_some(),
        "the constructed signature must be high-S"
    );
    let key = must_key(InitiatorAlgorithm::P256, OPENSSL_P256_SPKI_HEX);
    assert_eq!(
        key.verify(GOLDEN_MSG.as_bytes(), high.to_der().as_bytes()),
        Ok(())
    );
}

#[test]
fn malformed_p256_signatures_are_typed_errors() {
    let key = must_key(InitiatorAlgorithm::P256, OPENSSL_P256_SPKI_HEX);
    let der = must_hex(OPENSSL_P256_SIG_HEX);
    let msg = GOLDEN_MSG.as_bytes();
    assert_eq!(key.verify(msg, &[]), Err(SignatureError::Empty));
    for cut in [1, 2, 10, der.len() - 1] {
        assert_eq!(
            key.verify(msg, &der[..cut]),
            Err(SignatureError::MalformedDer),
            "cut {cut}"
        );
    }
    let mut trailing = der.clone();
    trailing.push(0);
    assert_eq!(
        key.verify(msg, &trailing),
        Err(SignatureError::MalformedDer)
    );
    // Raw r‖s (64 bytes) is what some signers emit; the reference requires DER.
    let raw = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
    assert_eq!(key.verify(msg, &raw), Err(SignatureError::MalformedDer));
    assert_eq!(
        key.verify(msg, &[0x30, 0x00]),
        Err(SignatureError::MalformedDer)
    );
}

#[test]
fn p256_signatures_made_by_the_p256_crate_verify_on_every_request_type() {
    let signer = p256_signer(0x42);
    let key = PublicKey::P256(*signer.verifying_key());
    let key = must_key(InitiatorAlgorithm::P256, &key.to_text());

    let mut keygen = GenerateKeyMessage {
        protocol: None,
        wallet_id: "w1".to_owned(),
        signature: Vec::new(),
        authorizer_signatures: Vec::new(),
    };
    keygen.signature = p256_der_sign(&signer, &keygen.signed_bytes());
    let keygen = GenerateKeyMessage::from_json(&keygen.to_json()).unwrap();
    assert_eq!(key.verify_request(&keygen), Ok(()));

    let mut reshare = ResharingMessage {
        session_id: "s1".to_owned(),
        node_ids: Some(vec!["n1".to_owned(), "n2".to_owned()]),
        new_threshold: 1,
        key_type: KeyType::Ed25519,
        wallet_id: "w1".to_owned(),
        signature: Vec::new(),
        authorizer_signatures: Vec::new(),
    };
    reshare.signature = p256_der_sign(&signer, &reshare.signed_bytes());
    let mut received = ResharingMessage::from_json(&reshare.to_json()).unwrap();
    assert_eq!(key.verify_request(&received), Ok(()));
    received.new_threshold = 2;
    assert_eq!(key.verify_request(&received), Err(SignatureError::Mismatch));
}

#[test]
fn an_openssl_ed25519_signature_verifies() {
    let key = must_key(InitiatorAlgorithm::Ed25519, OPENSSL_ED25519_PUB_HEX);
    assert_eq!(key.algorithm(), InitiatorAlgorithm::Ed25519);
    let sig = must_hex(OPENSSL_ED25519_SIG_HEX);
    assert_eq!(key.verify(GOLDEN_MSG.as_bytes(), &sig), Ok(()));
    let mut flipped = sig.clone();
    flipped[0] ^= 1;
    assert_eq!(
        key.verify(GOLDEN_MSG.as_bytes(), &flipped),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(key.verify(b"other", &sig), Err(SignatureError::Mismatch));
}

#[test]
fn ed25519_signatures_of_the_wrong_length_are_typed_errors() {
    let key = must_key(InitiatorAlgorithm::Ed25519, OPENSSL_ED25519_PUB_HEX);
    let sig = must_hex(OPENSSL_ED25519_SIG_HEX);
    assert_eq!(key.verify(b"m", &[]), Err(SignatureError::Empty));
    assert_eq!(
        key.verify(GOLDEN_MSG.as_bytes(), &sig[..63]),
        Err(SignatureError::Ed25519Length { len: 63 })
    );
    let mut long = sig.clone();
    long.push(0);
    assert_eq!(
        key.verify(GOLDEN_MSG.as_bytes(), &long),
        Err(SignatureError::Ed25519Length { len: 65 })
    );
    // A DER P-256 signature sent to an Ed25519 initiator is refused by length.
    assert_eq!(
        key.verify(GOLDEN_MSG.as_bytes(), &must_hex(OPENSSL_P256_SIG_HEX)),
        Err(SignatureError::Ed25519Length { len: 71 })
    );
}

#[test]
fn ed25519_signatures_made_by_dalek_verify_after_a_wire_round_trip() {
    let signer = ed_signer(7);
    let key = must_key(InitiatorAlgorithm::Ed25519, &ed_public(&signer).to_text());
    let mut msg = golden_sign_tx();
    msg.key_type = KeyType::Ed25519;
    msg.derivation_path = Some(vec![44, 501]);
    msg.signature = signer.sign(&msg.signed_bytes()).to_bytes().to_vec();
    let received = SignTxMessage::from_json(&msg.to_json()).unwrap();
    assert_eq!(key.verify_request(&received), Ok(()));
    // The upstream-master form covers the path; the v0.3.5 form (documented reference
    // weakness) does not.
    let mut repathed = received.clone();
    repathed.derivation_path = Some(vec![1]);
    assert_eq!(key.verify_request(&repathed), Err(SignatureError::Mismatch));
    let mut legacy = msg.clone();
    legacy.signature = signer
        .sign(&msg.signed_bytes_in(SignTxForm::Reference))
        .to_bytes()
        .to_vec();
    legacy.derivation_path = Some(vec![1]);
    assert_eq!(
        key.verify_request(&legacy.signed_as(SignTxForm::Reference)),
        Ok(())
    );
    let mut retargeted = received;
    retargeted.tx[0] ^= 0xff;
    assert_eq!(
        key.verify_request(&retargeted),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn malformed_keys_are_typed_errors() {
    use InitiatorAlgorithm::{Ed25519, P256};
    assert_eq!(PublicKey::parse(Ed25519, ""), Err(KeyError::Empty));
    assert_eq!(PublicKey::parse(P256, "  \n"), Err(KeyError::Empty));
    assert_eq!(PublicKey::parse(Ed25519, "zz"), Err(KeyError::NotHex));
    assert_eq!(
        PublicKey::parse(Ed25519, &OPENSSL_ED25519_PUB_HEX[..62]),
        Err(KeyError::Ed25519Length { len: 31 })
    );
    assert_eq!(
        PublicKey::parse(Ed25519, &format!("{OPENSSL_ED25519_PUB_HEX}00")),
        Err(KeyError::Ed25519Length { len: 33 })
    );
    assert_eq!(
        PublicKey::parse(Ed25519, OPENSSL_P256_SPKI_HEX),
        Err(KeyError::Ed25519Length { len: 91 })
    );
    assert_eq!(
        PublicKey::parse(P256, OPENSSL_ED25519_PUB_HEX),
        Err(KeyError::P256Format)
    );
    assert_eq!(
        PublicKey::parse(
            P256,
            &OPENSSL_P256_SPKI_HEX[..OPENSSL_P256_SPKI_HEX.len() - 2]
        ),
        Err(KeyError::P256Format)
    );
    assert_eq!(
        PublicKey::parse(P256, "not a key"),
        Err(KeyError::P256Format)
    );
    // A point not on the curve.
    let mut off_curve = must_hex(OPENSSL_P256_SPKI_HEX);
    let last = off_curve.len() - 1;
    off_curve[last] ^= 1;
    assert_eq!(
        PublicKey::parse(P256, &hex::encode(off_curve)),
        Err(KeyError::P256Format)
    );
}

#[test]
fn keys_print_as_text_that_parses_back() {
    for key in [
        must_key(InitiatorAlgorithm::P256, OPENSSL_P256_SPKI_B64),
        must_key(InitiatorAlgorithm::Ed25519, OPENSSL_ED25519_PUB_HEX),
    ] {
        assert_eq!(must_key(key.algorithm(), &key.to_text()), key);
    }
    assert_eq!(
        must_key(InitiatorAlgorithm::P256, OPENSSL_P256_SPKI_B64).to_text(),
        OPENSSL_P256_SPKI_HEX
    );
}

#[test]
fn algorithm_names_parse_print_and_serialise() {
    for alg in [InitiatorAlgorithm::Ed25519, InitiatorAlgorithm::P256] {
        assert_eq!(alg.to_string().parse::<InitiatorAlgorithm>(), Ok(alg));
        let json = serde_json::to_string(&alg).unwrap();
        assert_eq!(json, format!("\"{alg}\""));
        assert_eq!(
            serde_json::from_str::<InitiatorAlgorithm>(&json).unwrap(),
            alg
        );
    }
    assert_eq!(
        "secp256r1".parse::<InitiatorAlgorithm>(),
        Err(KeyError::UnknownAlgorithm)
    );
}

struct Fixture {
    alice: ed25519_dalek::SigningKey,
    bob: p256::ecdsa::SigningKey,
    authorizers: Authorizers,
}

fn must_fixture(required: &[&str]) -> Fixture {
    let alice = ed_signer(1);
    let bob = p256_signer(2);
    let mut keys = BTreeMap::new();
    keys.insert("alice".to_owned(), ed_public(&alice));
    keys.insert("bob".to_owned(), PublicKey::P256(*bob.verifying_key()));
    let required = required.iter().map(|s| (*s).to_owned()).collect();
    Fixture {
        alice,
        bob,
        authorizers: Authorizers::new(keys, required).unwrap(),
    }
}

fn signed_keygen(initiator: &ed25519_dalek::SigningKey) -> GenerateKeyMessage {
    let mut msg = GenerateKeyMessage {
        protocol: None,
        wallet_id: "w1".to_owned(),
        signature: Vec::new(),
        authorizer_signatures: Vec::new(),
    };
    msg.signature = initiator.sign(&msg.signed_bytes()).to_bytes().to_vec();
    msg
}

fn cosign(f: &Fixture, msg: &mut GenerateKeyMessage, who: &str) {
    let payload = msg.authorizer_payload();
    let signature = match who {
        "alice" => f.alice.sign(&payload).to_bytes().to_vec(),
        "bob" => p256_der_sign(&f.bob, &payload),
        other => ed_signer(99).sign(other.as_bytes()).to_bytes().to_vec(),
    };
    msg.authorizer_signatures.push(AuthorizerSignature {
        authorizer_id: who.to_owned(),
        signature,
    });
}

#[test]
fn all_required_authorizers_signing_is_accepted() {
    let f = must_fixture(&["alice", "bob"]);
    let mut msg = signed_keygen(&ed_signer(9));
    cosign(&f, &mut msg, "bob");
    cosign(&f, &mut msg, "alice");
    let received = GenerateKeyMessage::from_json(&msg.to_json()).unwrap();
    assert_eq!(f.authorizers.verify(&received), Ok(()));
}

#[test]
fn a_missing_required_authorizer_is_named() {
    let f = must_fixture(&["alice", "bob"]);
    let mut msg = signed_keygen(&ed_signer(9));
    cosign(&f, &mut msg, "alice");
    let err = f.authorizers.verify(&msg).unwrap_err();
    assert_eq!(
        err,
        AuthorizationError::MissingAuthorizerSignature {
            id: "bob".to_owned()
        }
    );
    assert_eq!(
        err.error_code().as_str(),
        "ERROR_MISSING_AUTHORIZER_SIGNATURE"
    );
}

#[test]
fn an_unknown_authorizer_is_refused_even_when_none_are_required() {
    let f = must_fixture(&[]);
    let mut msg = signed_keygen(&ed_signer(9));
    cosign(&f, &mut msg, "alice");
    cosign(&f, &mut msg, "mallory");
    let err = f.authorizers.verify(&msg).unwrap_err();
    assert_eq!(
        err,
        AuthorizationError::UnknownAuthorizer {
            id: "mallory".to_owned()
        }
    );
    assert_eq!(
        err.error_code().as_str(),
        "ERROR_INVALID_AUTHORIZER_SIGNATURE"
    );
}

#[test]
fn an_invalid_authorizer_signature_is_named() {
    let f = must_fixture(&["alice"]);
    let mut msg = signed_keygen(&ed_signer(9));
    cosign(&f, &mut msg, "alice");
    cosign(&f, &mut msg, "bob");
    // Re-signing by the initiator changes the payload the authorizers signed.
    msg.signature = ed_signer(10).sign(&msg.signed_bytes()).to_bytes().to_vec();
    assert_eq!(
        f.authorizers.verify(&msg),
        Err(AuthorizationError::InvalidAuthorizerSignature {
            id: "alice".to_owned()
        })
    );
    let mut truncated = signed_keygen(&ed_signer(9));
    cosign(&f, &mut truncated, "alice");
    truncated.authorizer_signatures[0].signature.truncate(10);
    assert_eq!(
        f.authorizers.verify(&truncated),
        Err(AuthorizationError::InvalidAuthorizerSignature {
            id: "alice".to_owned()
        })
    );
}

#[test]
fn no_signatures_and_no_requirements_is_accepted() {
    let f = must_fixture(&[]);
    assert_eq!(f.authorizers.verify(&signed_keygen(&ed_signer(9))), Ok(()));
}

#[test]
fn a_required_authorizer_without_a_key_is_a_config_error() {
    assert_eq!(
        Authorizers::new(BTreeMap::new(), vec!["carol".to_owned()]).unwrap_err(),
        AuthorizerConfigError::RequiredWithoutKey {
            id: "carol".to_owned()
        }
    );
}
