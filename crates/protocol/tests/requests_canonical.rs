//! Golden tests: the bytes an initiator signs and the JSON a request is sent as, hand-derived
//! from Go `encoding/json` rules and written out literally.

use mpcium_protocol::{
    AuthorizerSignature, GenerateKeyMessage, InitiatorMessage, KeyType, ResharingMessage,
    SignTxForm, SignTxMessage,
};

fn must_utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

fn sign_tx(nic: &str) -> SignTxMessage {
    SignTxMessage {
        protocol: None,
        key_type: KeyType::Ed25519,
        wallet_id: "w1".to_owned(),
        network_internal_code: nic.to_owned(),
        tx_id: "t1".to_owned(),
        tx: b"ok".to_vec(),
        signature: vec![1, 2, 3],
        derivation_path: None,
        authorizer_signatures: Vec::new(),
        request_version: None,
        hash: None,
    }
}

fn reshare(node_ids: Option<Vec<String>>) -> ResharingMessage {
    ResharingMessage {
        session_id: "s1".to_owned(),
        node_ids,
        new_threshold: 2,
        key_type: KeyType::Secp256k1,
        wallet_id: "w1".to_owned(),
        signature: vec![1, 2, 3],
        authorizer_signatures: Vec::new(),
    }
}

#[test]
fn generate_key_signs_the_bare_wallet_id_bytes() {
    let msg = GenerateKeyMessage {
        protocol: None,
        wallet_id: "ví-dụ-🔑".to_owned(),
        signature: Vec::new(),
        authorizer_signatures: Vec::new(),
    };
    assert_eq!(
        msg.signed_bytes(),
        b"v\xc3\xad-d\xe1\xbb\xa5-\xf0\x9f\x94\x91".to_vec()
    );
    assert_eq!(msg.initiator_id(), "ví-dụ-🔑");
}

#[test]
fn sign_tx_signs_five_fields_in_go_order() {
    let msg = sign_tx("solana-devnet");
    assert_eq!(
        must_utf8(msg.signed_bytes()),
        r#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"solana-devnet","tx_id":"t1","tx":"b2s="}"#
    );
    assert_eq!(msg.initiator_id(), "t1");
}

#[test]
fn sign_tx_signed_bytes_escape_html_characters() {
    let mut msg = sign_tx("<script>&");
    msg.wallet_id = "<w>&".to_owned();
    assert_eq!(
        must_utf8(msg.signed_bytes()),
        r#"{"key_type":"ed25519","wallet_id":"\u003cw\u003e\u0026","network_internal_code":"\u003cscript\u003e\u0026","tx_id":"t1","tx":"b2s="}"#
    );
}

#[test]
fn sign_tx_signed_bytes_escape_quotes_backslashes_and_controls() {
    let msg = sign_tx("a\"b\\c\n\t\u{1}\u{8}\u{2028}");
    assert_eq!(
        must_utf8(msg.signed_bytes()),
        r#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"a\"b\\c\n\t\u0001\b\u2028","tx_id":"t1","tx":"b2s="}"#
    );
}

#[test]
fn sign_tx_signed_bytes_keep_non_ascii_text_raw() {
    let msg = sign_tx("ví dụ 🚀");
    assert_eq!(
        msg.signed_bytes(),
        b"{\"key_type\":\"ed25519\",\"wallet_id\":\"w1\",\"network_internal_code\":\"v\xc3\xad d\xe1\xbb\xa5 \xf0\x9f\x9a\x80\",\"tx_id\":\"t1\",\"tx\":\"b2s=\"}".to_vec()
    );
}

#[test]
fn sign_tx_reference_form_ignores_derivation_path_and_authorizers() {
    let plain = sign_tx("eth");
    let mut pathed = sign_tx("eth");
    pathed.derivation_path = Some(vec![44, 60]);
    pathed.signature = vec![9; 64];
    pathed.authorizer_signatures = vec![AuthorizerSignature {
        authorizer_id: "a1".to_owned(),
        signature: vec![1],
    }];
    assert_eq!(
        plain.signed_bytes_in(SignTxForm::Reference),
        pathed.signed_bytes_in(SignTxForm::Reference)
    );
}

// Upstream master `SignTxMessage.Raw()` (fystack/mpcium#163): the five reference fields, then
// `DerivationPath []uint32 \`json:"derivation_path,omitempty"\``. Go drops a nil or empty slice
// under `omitempty`, so only a non-empty path is written.
#[test]
fn sign_tx_upstream_form_appends_a_non_empty_path_as_a_sixth_field() {
    let mut msg = sign_tx("eth");
    msg.derivation_path = Some(vec![44, 60, 0, 4_294_967_295]);
    assert_eq!(
        must_utf8(msg.signed_bytes_in(SignTxForm::PathBound)),
        r#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"eth","tx_id":"t1","tx":"b2s=","derivation_path":[44,60,0,4294967295]}"#
    );
    assert_eq!(
        msg.signed_bytes(),
        msg.signed_bytes_in(SignTxForm::PathBound)
    );
    assert_eq!(
        msg.accepted_forms(),
        [SignTxForm::PathBound, SignTxForm::Reference]
    );
}

#[test]
fn sign_tx_upstream_form_without_a_path_is_the_reference_form() {
    let five = r#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"eth","tx_id":"t1","tx":"b2s="}"#;
    for path in [None, Some(Vec::new())] {
        let mut msg = sign_tx("eth");
        msg.derivation_path = path;
        assert_eq!(must_utf8(msg.signed_bytes_in(SignTxForm::PathBound)), five);
        assert_eq!(must_utf8(msg.signed_bytes_in(SignTxForm::Reference)), five);
        assert_eq!(msg.accepted_forms(), [SignTxForm::PathBound]);
    }
}

#[test]
fn sign_tx_extended_requests_are_accepted_in_the_extended_form_only() {
    let mut msg = sign_tx("eth");
    msg.derivation_path = Some(vec![1]);
    msg.request_version = Some(2);
    assert_eq!(msg.accepted_forms(), [SignTxForm::Extended]);
    assert_eq!(
        msg.signed_bytes(),
        msg.signed_bytes_in(SignTxForm::Extended)
    );
}

#[test]
fn resharing_signs_nil_node_ids_as_null() {
    assert_eq!(
        must_utf8(reshare(None).signed_bytes()),
        r#"{"session_id":"s1","node_ids":null,"new_threshold":2,"key_type":"secp256k1","wallet_id":"w1"}"#
    );
}

#[test]
fn resharing_signs_empty_node_ids_as_an_empty_array() {
    assert_eq!(
        must_utf8(reshare(Some(Vec::new())).signed_bytes()),
        r#"{"session_id":"s1","node_ids":[],"new_threshold":2,"key_type":"secp256k1","wallet_id":"w1"}"#
    );
}

#[test]
fn resharing_signs_node_ids_in_order_and_leaves_out_signatures() {
    let mut msg = reshare(Some(vec!["n2".to_owned(), "n1".to_owned()]));
    msg.authorizer_signatures = vec![AuthorizerSignature {
        authorizer_id: "a1".to_owned(),
        signature: vec![1],
    }];
    assert_eq!(
        must_utf8(msg.signed_bytes()),
        r#"{"session_id":"s1","node_ids":["n2","n1"],"new_threshold":2,"key_type":"secp256k1","wallet_id":"w1"}"#
    );
    assert_eq!(msg.initiator_id(), "w1");
}

#[test]
fn decoded_requests_keep_nil_versus_empty_node_ids() {
    let base = r#""session_id":"s1","new_threshold":2,"key_type":"secp256k1","wallet_id":"w1""#;
    let empty =
        ResharingMessage::from_json(format!(r#"{{{base},"node_ids":[]}}"#).as_bytes()).unwrap();
    let null =
        ResharingMessage::from_json(format!(r#"{{{base},"node_ids":null}}"#).as_bytes()).unwrap();
    let missing = ResharingMessage::from_json(format!("{{{base}}}").as_bytes()).unwrap();
    assert_eq!(empty.node_ids, Some(Vec::new()));
    assert_eq!(null.node_ids, None);
    assert_eq!(missing.node_ids, None);
    assert!(must_utf8(empty.signed_bytes()).contains(r#""node_ids":[]"#));
    assert!(must_utf8(null.signed_bytes()).contains(r#""node_ids":null"#));
}

#[test]
fn decoded_sign_tx_rebuilds_go_order_whatever_the_input_order_and_spacing() {
    let wire = br#"{ "tx" : "b2s=", "tx_id":"t1", "extra": {"ignored": true},
        "network_internal_code":"\u003cscript\u003e&", "wallet_id":"w1", "key_type":"ed25519" }"#;
    let msg = SignTxMessage::from_json(wire).unwrap();
    assert_eq!(
        must_utf8(msg.signed_bytes()),
        r#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"\u003cscript\u003e\u0026","tx_id":"t1","tx":"b2s="}"#
    );
}

#[test]
fn generate_key_json_matches_go_marshal() {
    let mut msg = GenerateKeyMessage {
        protocol: None,
        wallet_id: "w1".to_owned(),
        signature: vec![1, 2, 3],
        authorizer_signatures: Vec::new(),
    };
    assert_eq!(
        must_utf8(msg.to_json()),
        r#"{"wallet_id":"w1","signature":"AQID"}"#
    );
    msg.authorizer_signatures.push(AuthorizerSignature {
        authorizer_id: "a1".to_owned(),
        signature: vec![0xde, 0xad],
    });
    assert_eq!(
        must_utf8(msg.to_json()),
        r#"{"wallet_id":"w1","signature":"AQID","authorizer_signatures":[{"authorizer_id":"a1","signature":"3q0="}]}"#
    );
    msg.signature.clear();
    assert!(must_utf8(msg.to_json()).starts_with(r#"{"wallet_id":"w1","signature":null,"#));
}

#[test]
fn sign_tx_json_matches_go_marshal_with_null_or_listed_derivation_path() {
    let mut msg = sign_tx("solana-devnet");
    assert_eq!(
        must_utf8(msg.to_json()),
        r#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"solana-devnet","tx_id":"t1","tx":"b2s=","signature":"AQID","derivation_path":null}"#
    );
    msg.derivation_path = Some(vec![44, 0]);
    assert!(must_utf8(msg.to_json()).ends_with(r#""derivation_path":[44,0]}"#));
    msg.derivation_path = Some(Vec::new());
    assert!(must_utf8(msg.to_json()).ends_with(r#""derivation_path":[]}"#));
}

#[test]
fn resharing_json_omits_an_empty_signature() {
    let mut msg = reshare(Some(vec!["n1".to_owned(), "n2".to_owned()]));
    assert_eq!(
        must_utf8(msg.to_json()),
        r#"{"session_id":"s1","node_ids":["n1","n2"],"new_threshold":2,"key_type":"secp256k1","wallet_id":"w1","signature":"AQID"}"#
    );
    msg.signature.clear();
    assert_eq!(msg.to_json(), msg.signed_bytes());
}

#[test]
fn every_request_survives_a_json_round_trip() {
    let mut tx = sign_tx("ví dụ <&>");
    tx.derivation_path = Some(vec![0, 2_147_483_647]);
    tx.authorizer_signatures = vec![AuthorizerSignature {
        authorizer_id: "auth one".to_owned(),
        signature: vec![7; 64],
    }];
    assert_eq!(SignTxMessage::from_json(&tx.to_json()).unwrap(), tx);

    let reshare = reshare(Some(Vec::new()));
    assert_eq!(
        ResharingMessage::from_json(&reshare.to_json()).unwrap(),
        reshare
    );

    let keygen = GenerateKeyMessage {
        protocol: None,
        wallet_id: "0d8a3f1c-5a4e-4f0e-9e47-7f1c2a9b6d11".to_owned(),
        signature: vec![5; 64],
        authorizer_signatures: Vec::new(),
    };
    assert_eq!(
        GenerateKeyMessage::from_json(&keygen.to_json()).unwrap(),
        keygen
    );
}

#[test]
fn request_json_is_valid_json_that_serde_reads_back_to_the_same_strings() {
    let msg = sign_tx("a\"b\\c\n<\u{2028}>&ví 🚀\u{7f}");
    let value: serde_json::Value = serde_json::from_slice(&msg.to_json()).unwrap();
    assert_eq!(
        value["network_internal_code"],
        "a\"b\\c\n<\u{2028}>&ví 🚀\u{7f}"
    );
}

#[test]
fn authorizer_payload_matches_go_marshal() {
    let msg = GenerateKeyMessage {
        protocol: None,
        wallet_id: "wallet-1".to_owned(),
        signature: vec![1, 2, 3],
        authorizer_signatures: Vec::new(),
    };
    assert_eq!(
        must_utf8(msg.authorizer_payload()),
        r#"{"initiator_id":"wallet-1","initiator_raw":"d2FsbGV0LTE=","initiator_sig":"AQID"}"#
    );
    let unsigned = GenerateKeyMessage {
        protocol: None,
        signature: Vec::new(),
        ..msg
    };
    assert_eq!(
        must_utf8(unsigned.authorizer_payload()),
        r#"{"initiator_id":"wallet-1","initiator_raw":"d2FsbGV0LTE=","initiator_sig":null}"#
    );
}
