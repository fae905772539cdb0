//! The extended signing form (`request_version: 2`, optional `hash`): golden canonical bytes,
//! wire JSON, the signature covering path and hash mode, and every combination decode refuses.

use ed25519_dalek::Signer as _;
use mpcium_protocol::requests::EXTENDED_REQUEST_VERSION;
use mpcium_protocol::{
    DecodeError, ErrorCode, FieldProblem, InitiatorMessage, KeyType, MessageHash, PublicKey,
    SignTxForm, SignTxMessage, SignatureError,
};

/// base64 of the bytes 0..32, a stand-in secp256k1 digest.
const DIGEST_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn must_utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

fn extended(key_type: KeyType, tx: &[u8], hash: Option<MessageHash>) -> SignTxMessage {
    SignTxMessage {
        protocol: None,
        key_type,
        wallet_id: "w1".to_owned(),
        network_internal_code: "eth".to_owned(),
        tx_id: "t1".to_owned(),
        tx: tx.to_vec(),
        signature: Vec::new(),
        derivation_path: None,
        authorizer_signatures: Vec::new(),
        request_version: Some(EXTENDED_REQUEST_VERSION),
        hash,
    }
}

fn decode(fields: &str) -> Result<SignTxMessage, DecodeError> {
    SignTxMessage::from_json(
        format!(r#"{{"wallet_id":"w1","network_internal_code":"eth","tx_id":"t1",{fields}}}"#)
            .as_bytes(),
    )
}

fn must_field_error(result: Result<SignTxMessage, DecodeError>) -> (String, FieldProblem) {
    match result {
        Err(DecodeError::Field { field, problem }) => (field, problem),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn extended_form_signs_path_hash_and_version_after_the_reference_fields() {
    let mut msg = extended(KeyType::Secp256k1, b"hello", Some(MessageHash::Keccak256));
    msg.derivation_path = Some(vec![44, 60, 0]);
    assert_eq!(
        must_utf8(msg.signed_bytes()),
        r#"{"key_type":"secp256k1","wallet_id":"w1","network_internal_code":"eth","tx_id":"t1","tx":"aGVsbG8=","derivation_path":[44,60,0],"hash":"keccak256","request_version":2}"#
    );
}

#[test]
fn extended_form_writes_null_for_an_absent_path_and_hash() {
    let msg = extended(KeyType::Ed25519, b"hello", None);
    assert_eq!(
        must_utf8(msg.signed_bytes()),
        r#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"eth","tx_id":"t1","tx":"aGVsbG8=","derivation_path":null,"hash":null,"request_version":2}"#
    );
}

#[test]
fn extended_form_keeps_an_empty_path_distinct_from_an_absent_one() {
    let mut msg = extended(KeyType::Ed25519, b"hello", None);
    msg.derivation_path = Some(Vec::new());
    assert!(must_utf8(msg.signed_bytes()).contains(r#""derivation_path":[],"hash":null"#));
}

#[test]
fn reference_form_bytes_are_unchanged_when_no_version_is_set() {
    let mut msg = extended(KeyType::Ed25519, b"ok", None);
    msg.request_version = None;
    msg.derivation_path = Some(vec![1, 2]);
    assert_eq!(
        must_utf8(msg.signed_bytes_in(SignTxForm::Reference)),
        r#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"eth","tx_id":"t1","tx":"b2s="}"#
    );
    assert_eq!(
        must_utf8(msg.signed_bytes()),
        r#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"eth","tx_id":"t1","tx":"b2s=","derivation_path":[1,2]}"#
    );
    assert!(!must_utf8(msg.to_json()).contains("request_version"));
    assert!(!must_utf8(msg.to_json()).contains("hash"));
}

#[test]
fn extended_request_json_appends_hash_and_version_and_round_trips() {
    let mut msg = extended(KeyType::Secp256k1, b"hello", Some(MessageHash::Sha256d));
    msg.signature = vec![1, 2, 3];
    msg.derivation_path = Some(vec![7]);
    assert_eq!(
        must_utf8(msg.to_json()),
        r#"{"key_type":"secp256k1","wallet_id":"w1","network_internal_code":"eth","tx_id":"t1","tx":"aGVsbG8=","signature":"AQID","derivation_path":[7],"hash":"sha256d","request_version":2}"#
    );
    assert_eq!(SignTxMessage::from_json(&msg.to_json()).unwrap(), msg);
}

#[test]
fn the_initiator_signature_covers_the_path_and_the_hash_mode() {
    let signer = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let key = PublicKey::Ed25519(signer.verifying_key());
    let mut msg = extended(KeyType::Secp256k1, b"pay alice", Some(MessageHash::Sha256));
    msg.derivation_path = Some(vec![44, 60]);
    msg.signature = signer.sign(&msg.signed_bytes()).to_bytes().to_vec();
    let received = SignTxMessage::from_json(&msg.to_json()).unwrap();
    assert_eq!(key.verify_request(&received), Ok(()));

    let mut repathed = received.clone();
    repathed.derivation_path = Some(vec![44, 61]);
    assert_eq!(key.verify_request(&repathed), Err(SignatureError::Mismatch));
    let mut rehashed = received.clone();
    rehashed.hash = Some(MessageHash::Keccak256);
    assert_eq!(key.verify_request(&rehashed), Err(SignatureError::Mismatch));
    let mut downgraded = received;
    downgraded.request_version = None;
    downgraded.hash = None;
    assert_eq!(
        key.verify_request(&downgraded),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn hash_without_request_version_is_refused() {
    let err = decode(r#""key_type":"secp256k1","tx":"aGVsbG8=","hash":"sha256""#).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Field {
            field: "hash".to_owned(),
            problem: FieldProblem::HashNeedsRequestVersion
        }
    );
    assert_eq!(err.error_code(), ErrorCode::MsgValidation);
    assert!(err.to_string().contains("\"request_version\": 2"), "{err}");
}

#[test]
fn hash_with_an_ed25519_key_is_refused() {
    let (field, problem) = must_field_error(decode(
        r#""key_type":"ed25519","tx":"aGVsbG8=","hash":"sha256","request_version":2"#,
    ));
    assert_eq!(
        (field.as_str(), problem),
        ("hash", FieldProblem::HashWithEd25519)
    );
}

#[test]
fn request_versions_other_than_two_are_refused_naming_the_value() {
    for (version, found) in [
        ("1", "1"),
        ("3", "3"),
        ("0", "0"),
        ("-2", "-2"),
        ("2.5", "2.5"),
    ] {
        let (field, problem) = must_field_error(decode(&format!(
            r#""key_type":"ed25519","tx":"aGVsbG8=","request_version":{version}"#
        )));
        assert_eq!(field, "request_version");
        assert_eq!(
            problem,
            FieldProblem::UnsupportedRequestVersion {
                found: found.to_owned(),
                supported: 2
            },
            "{version}"
        );
    }
    let (_, problem) = must_field_error(decode(
        r#""key_type":"ed25519","tx":"aGVsbG8=","request_version":"2""#,
    ));
    assert_eq!(
        problem,
        FieldProblem::WrongType {
            expected: "an integer"
        }
    );
}

#[test]
fn unknown_hash_names_are_refused() {
    for hash in [r#""sha512""#, r#""SHA256""#, r#""""#, "1"] {
        let (field, _) = must_field_error(decode(&format!(
            r#""key_type":"secp256k1","tx":"aGVsbG8=","request_version":2,"hash":{hash}"#
        )));
        assert_eq!(field, "hash", "{hash}");
    }
}

#[test]
fn secp256k1_without_hash_needs_a_32_byte_digest_in_either_form() {
    for tx in ["aGVsbG8=", &"A".repeat(44)[..40]] {
        for version in ["", r#","request_version":2"#] {
            let (field, problem) = must_field_error(decode(&format!(
                r#""key_type":"secp256k1","tx":"{tx}"{version}"#
            )));
            assert_eq!(field, "tx");
            assert!(
                matches!(problem, FieldProblem::NotADigest { .. }),
                "{problem:?}"
            );
        }
    }
    let err = decode(r#""key_type":"secp256k1","tx":"aGVsbG8=""#).unwrap_err();
    assert!(err.to_string().contains("got 5 bytes"), "{err}");
    assert!(decode(&format!(r#""key_type":"secp256k1","tx":"{DIGEST_B64}""#)).is_ok());
}

#[test]
fn a_secp256k1_message_of_any_length_is_accepted_with_a_hash() {
    let msg =
        decode(r#""key_type":"secp256k1","tx":"aGVsbG8=","request_version":2,"hash":"keccak256""#)
            .unwrap();
    assert_eq!(msg.hash, Some(MessageHash::Keccak256));
    assert_eq!(msg.request_version, Some(2));
    assert_eq!(msg.tx, b"hello".to_vec());
}

#[test]
fn the_ecdsa_digest_is_the_hashed_message_or_the_digest_itself() {
    let hashed = extended(KeyType::Secp256k1, b"abc", Some(MessageHash::Sha256));
    assert_eq!(
        hashed.ecdsa_digest().map(hex::encode).as_deref(),
        Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    let digest: Vec<u8> = (0u8..32).collect();
    let raw = extended(KeyType::Secp256k1, &digest, None);
    assert_eq!(raw.ecdsa_digest().map(|d| d.to_vec()), Some(digest));
    assert_eq!(
        extended(KeyType::Ed25519, b"abc", None).ecdsa_digest(),
        None
    );
    assert_eq!(
        extended(KeyType::Secp256k1, b"abc", None).ecdsa_digest(),
        None
    );
}
