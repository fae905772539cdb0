//! Requests from the network that must be refused, each with an error naming the field and
//! the problem.

use mpcium_protocol::decode::{MAX_MESSAGE_BYTES, MAX_TX_BYTES};
use mpcium_protocol::{
    DecodeError, ErrorCode, FieldProblem, GenerateKeyMessage, IdError, InitiatorMessage,
    ResharingMessage, SignTxMessage,
};

// Ed25519, so that `tx` may have any length; the secp256k1 digest rule has its own tests in
// `requests_extended.rs`.
const SIGN_FIELDS: &str =
    r#""key_type":"ed25519","wallet_id":"w1","network_internal_code":"sol","tx_id":"t1""#;

fn sign_with(extra: &str) -> Result<SignTxMessage, DecodeError> {
    SignTxMessage::from_json(format!("{{{SIGN_FIELDS},{extra}}}").as_bytes())
}

fn reshare_with(extra: &str) -> Result<ResharingMessage, DecodeError> {
    ResharingMessage::from_json(
        format!(r#"{{"session_id":"s1","key_type":"ed25519","wallet_id":"w1",{extra}}}"#)
            .as_bytes(),
    )
}

fn must_field_error(result: Result<impl std::fmt::Debug, DecodeError>) -> (String, FieldProblem) {
    match result {
        Err(DecodeError::Field { field, problem }) => (field, problem),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn truncated_json_is_malformed() {
    let full = format!(r#"{{{SIGN_FIELDS},"tx":"b2s="}}"#);
    for cut in [1, 10, full.len() / 2, full.len() - 1] {
        let err = SignTxMessage::from_json(&full.as_bytes()[..cut]).unwrap_err();
        assert!(
            matches!(err, DecodeError::Malformed { .. }),
            "cut {cut}: {err:?}"
        );
        assert_eq!(err.error_code(), ErrorCode::UnmarshalFailure);
    }
    assert!(SignTxMessage::from_json(full.as_bytes()).is_ok());
}

#[test]
fn empty_input_and_non_objects_are_refused() {
    assert!(matches!(
        GenerateKeyMessage::from_json(b""),
        Err(DecodeError::Malformed { .. })
    ));
    for wire in [&b"[]"[..], b"\"w1\"", b"null", b"42"] {
        assert_eq!(
            GenerateKeyMessage::from_json(wire),
            Err(DecodeError::NotAnObject)
        );
    }
}

#[test]
fn invalid_utf8_is_malformed() {
    assert!(matches!(
        GenerateKeyMessage::from_json(b"{\"wallet_id\":\"w\xff\"}"),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn tx_given_as_a_number_names_the_field_and_the_expected_type() {
    let err = sign_with(r#""tx":12345"#).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Field {
            field: "tx".to_owned(),
            problem: FieldProblem::WrongType {
                expected: "a base64 string"
            }
        }
    );
    assert_eq!(err.to_string(), "field `tx` must be a base64 string");
    assert_eq!(err.error_code(), ErrorCode::MsgValidation);
}

#[test]
fn wrong_types_in_other_fields_are_named() {
    let (field, problem) = must_field_error(GenerateKeyMessage::from_json(br#"{"wallet_id":7}"#));
    assert_eq!(field, "wallet_id");
    assert_eq!(
        problem,
        FieldProblem::WrongType {
            expected: "a string"
        }
    );

    let (field, _) = must_field_error(sign_with(r#""tx":"b2s=","derivation_path":"44/0""#));
    assert_eq!(field, "derivation_path");

    let (field, problem) = must_field_error(reshare_with(r#""node_ids":["n1",2]"#));
    assert_eq!(field, "node_ids[1]");
    assert_eq!(
        problem,
        FieldProblem::WrongType {
            expected: "a string"
        }
    );

    let (field, _) = must_field_error(reshare_with(r#""new_threshold":"2""#));
    assert_eq!(field, "new_threshold");

    let (field, _) = must_field_error(GenerateKeyMessage::from_json(
        br#"{"wallet_id":"w1","authorizer_signatures":[{"authorizer_id":"a","signature":"AQID"},"x"]}"#,
    ));
    assert_eq!(field, "authorizer_signatures[1]");
}

#[test]
fn invalid_base64_is_refused_per_field() {
    for bad in ["!!!!", "b2s", "b2s=b2s=", "b-s_"] {
        let (field, problem) = must_field_error(sign_with(&format!(r#""tx":"{bad}""#)));
        assert_eq!(
            (field.as_str(), problem),
            ("tx", FieldProblem::InvalidBase64),
            "{bad}"
        );
    }
    let (field, problem) = must_field_error(GenerateKeyMessage::from_json(
        br#"{"wallet_id":"w1","authorizer_signatures":[{"authorizer_id":"a","signature":"%%"}]}"#,
    ));
    assert_eq!(field, "authorizer_signatures[0].signature");
    assert_eq!(problem, FieldProblem::InvalidBase64);
}

#[test]
fn oversized_messages_and_fields_are_refused() {
    let huge = format!(
        r#"{{"wallet_id":"w1","pad":"{}"}}"#,
        "a".repeat(MAX_MESSAGE_BYTES)
    );
    assert!(matches!(
        GenerateKeyMessage::from_json(huge.as_bytes()),
        Err(DecodeError::TooLarge { .. })
    ));

    let (field, problem) = must_field_error(GenerateKeyMessage::from_json(
        format!(r#"{{"wallet_id":"{}"}}"#, "w".repeat(257)).as_bytes(),
    ));
    assert_eq!(field, "wallet_id");
    assert_eq!(
        problem,
        FieldProblem::InvalidId(IdError::TooLong { len: 257, max: 256 })
    );

    let big_tx = base64_of_zeros(MAX_TX_BYTES + 3);
    let (field, problem) = must_field_error(sign_with(&format!(r#""tx":"{big_tx}""#)));
    assert_eq!(field, "tx");
    assert!(matches!(problem, FieldProblem::TooLong { .. }));
    assert!(sign_with(&format!(r#""tx":"{}""#, base64_of_zeros(MAX_TX_BYTES))).is_ok());

    let (field, _) = must_field_error(SignTxMessage::from_json(
        format!(
            r#"{{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"{}","tx_id":"t1","tx":"b2s="}}"#,
            "n".repeat(1025)
        )
        .as_bytes(),
    ));
    assert_eq!(field, "network_internal_code");

    let (field, _) = must_field_error(sign_with(&format!(
        r#""tx":"b2s=","signature":"{}""#,
        base64_of_zeros(600)
    )));
    assert_eq!(field, "signature");

    let many: Vec<String> = (0..257).map(|i| format!("\"n{i}\"")).collect();
    let (field, problem) =
        must_field_error(reshare_with(&format!(r#""node_ids":[{}]"#, many.join(","))));
    assert_eq!(field, "node_ids");
    assert_eq!(problem, FieldProblem::TooMany { len: 257, max: 256 });

    let deep: Vec<String> = (0..256).map(|i| i.to_string()).collect();
    let (field, _) = must_field_error(sign_with(&format!(
        r#""tx":"b2s=","derivation_path":[{}]"#,
        deep.join(",")
    )));
    assert_eq!(field, "derivation_path");
}

fn base64_of_zeros(len: usize) -> String {
    let mut s = "A".repeat(len / 3 * 4);
    match len % 3 {
        1 => s.push_str("AA=="),
        2 => s.push_str("AAA="),
        _ => {}
    }
    s
}

#[test]
fn unknown_or_missing_key_type_is_refused() {
    let err = SignTxMessage::from_json(
        br#"{"key_type":"p256","wallet_id":"w1","tx_id":"t1","tx":"b2s="}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        DecodeError::Field {
            field: "key_type".to_owned(),
            problem: FieldProblem::UnknownKeyType
        }
    );
    let (field, problem) = must_field_error(SignTxMessage::from_json(
        br#"{"wallet_id":"w1","tx_id":"t1","tx":"b2s="}"#,
    ));
    assert_eq!(
        (field.as_str(), problem),
        ("key_type", FieldProblem::Missing)
    );
    let (field, _) = must_field_error(ResharingMessage::from_json(
        br#"{"session_id":"s1","key_type":"ECDSA","wallet_id":"w1"}"#,
    ));
    assert_eq!(field, "key_type");
}

#[test]
fn ids_that_would_break_subjects_are_refused() {
    for (wire, field, found) in [
        (r#"{"wallet_id":"a.b"}"#, "wallet_id", '.'),
        (r#"{"wallet_id":"a*"}"#, "wallet_id", '*'),
        (r#"{"wallet_id":"a>"}"#, "wallet_id", '>'),
        (r#"{"wallet_id":"a b"}"#, "wallet_id", ' '),
        (r#"{"wallet_id":"a\nb"}"#, "wallet_id", '\n'),
    ] {
        let (f, problem) = must_field_error(GenerateKeyMessage::from_json(wire.as_bytes()));
        assert_eq!(f, field);
        assert!(
            matches!(problem, FieldProblem::InvalidId(IdError::ForbiddenCharacter { found: c, .. }) if c == found),
            "{wire}: {problem:?}"
        );
    }
    let (field, _) = must_field_error(SignTxMessage::from_json(
        br#"{"key_type":"ed25519","wallet_id":"w1","tx_id":"t.1","tx":"b2s="}"#,
    ));
    assert_eq!(field, "tx_id");
    let (field, _) = must_field_error(ResharingMessage::from_json(
        br#"{"session_id":"s>","key_type":"ed25519","wallet_id":"w1"}"#,
    ));
    assert_eq!(field, "session_id");
    let (field, _) = must_field_error(reshare_with(r#""node_ids":["n1","n 2"]"#));
    assert_eq!(field, "node_ids[1]");
}

#[test]
fn missing_ids_and_payloads_are_refused() {
    for wire in [
        &br#"{}"#[..],
        br#"{"wallet_id":""}"#,
        br#"{"wallet_id":null}"#,
    ] {
        let (field, problem) = must_field_error(GenerateKeyMessage::from_json(wire));
        assert_eq!(
            (field.as_str(), problem),
            ("wallet_id", FieldProblem::Missing)
        );
    }
    for tx in ["", r#","tx":null"#, r#","tx":"""#] {
        let (field, problem) = must_field_error(SignTxMessage::from_json(
            format!("{{{SIGN_FIELDS}{tx}}}").as_bytes(),
        ));
        assert_eq!(
            (field.as_str(), problem),
            ("tx", FieldProblem::Missing),
            "{tx}"
        );
    }
    let (field, problem) = must_field_error(GenerateKeyMessage::from_json(
        br#"{"wallet_id":"w1","authorizer_signatures":[{"signature":"AQID"}]}"#,
    ));
    assert_eq!(field, "authorizer_signatures[0].authorizer_id");
    assert_eq!(problem, FieldProblem::Missing);
}

#[test]
fn derivation_indices_must_be_non_hardened_unsigned_integers() {
    for bad in ["-1", "2147483648", "4294967296", "1.5", "1e2"] {
        let (field, problem) = must_field_error(sign_with(&format!(
            r#""tx":"b2s=","derivation_path":[0,{bad}]"#
        )));
        assert_eq!(field, "derivation_path[1]", "{bad}");
        assert_eq!(
            problem,
            FieldProblem::OutOfRange {
                min: 0,
                max: 2_147_483_647
            },
            "{bad}"
        );
    }
    let ok = sign_with(r#""tx":"b2s=","derivation_path":[0,2147483647]"#).unwrap();
    assert_eq!(ok.derivation_path, Some(vec![0, 2_147_483_647]));
}

#[test]
fn thresholds_outside_u16_are_refused() {
    for bad in ["-1", "65536", "2.5"] {
        let (field, problem) = must_field_error(reshare_with(&format!(r#""new_threshold":{bad}"#)));
        assert_eq!(field, "new_threshold");
        assert_eq!(
            problem,
            FieldProblem::OutOfRange { min: 0, max: 65535 },
            "{bad}"
        );
    }
    assert_eq!(
        reshare_with(r#""new_threshold":3"#).unwrap().new_threshold,
        3
    );
}

#[test]
fn go_decoding_leniencies_are_kept() {
    // Unknown fields are ignored, null means absent, the last of repeated keys wins.
    let msg = GenerateKeyMessage::from_json(
        br#"{"wallet_id":"first","wallet_id":"w1","signature":null,"future_field":[1,2]}"#,
    )
    .unwrap();
    assert_eq!(msg.wallet_id, "w1");
    assert!(msg.signature.is_empty());
    assert!(msg.authorizer_signatures.is_empty());
    // Go's non-strict base64 accepts non-zero trailing bits.
    assert_eq!(sign_with(r#""tx":"b2t=""#).unwrap().tx, b"ok".to_vec());
}

#[test]
fn protocol_names_the_engine_these_nodes_run_or_is_refused_naming_it() {
    let sign = |key_type: &str, protocol: &str| {
        SignTxMessage::from_json(
            format!(
                r#"{{"key_type":"{key_type}","protocol":"{protocol}","wallet_id":"w1","network_internal_code":"","tx_id":"t1","tx":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","signature":null,"derivation_path":null}}"#
            )
            .as_bytes(),
        )
    };
    for (key_type, protocol) in [
        ("secp256k1", "cggmp21"),
        ("secp256k1", "cggmp24"),
        ("secp256k1", "cggmp"),
        ("ed25519", "frost"),
    ] {
        let msg = sign(key_type, protocol).unwrap();
        assert_eq!(msg.protocol.as_deref(), Some(protocol));
        assert_eq!(SignTxMessage::from_json(&msg.to_json()).unwrap(), msg);
        assert!(String::from_utf8(msg.to_json())
            .unwrap()
            .starts_with(&format!(
                r#"{{"key_type":"{key_type}","protocol":"{protocol}","#
            )));
    }
    assert_eq!(sign("ed25519", "").unwrap().protocol, None);
    for (key_type, protocol) in [
        ("secp256k1", "dkls23"),
        ("secp256k1", "gg18"),
        ("secp256k1", "frost"),
        ("ed25519", "cggmp21"),
        ("ed25519", "FROST"),
    ] {
        let err = sign(key_type, protocol).unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::MsgValidation);
        let text = err.to_string();
        assert!(
            text.contains("protocol") && text.contains(&format!("{protocol:?}")),
            "{text}"
        );
    }

    let keygen = |protocol: &str| {
        GenerateKeyMessage::from_json(
            format!(r#"{{"wallet_id":"w1","protocol":"{protocol}","signature":null}}"#).as_bytes(),
        )
    };
    let ok = keygen("cggmp21").unwrap();
    assert_eq!(ok.protocol.as_deref(), Some("cggmp21"));
    assert_eq!(ok.signed_bytes(), b"w1");
    assert_eq!(GenerateKeyMessage::from_json(&ok.to_json()).unwrap(), ok);
    let err = keygen("dkls23").unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::MsgValidation);
    assert!(err.to_string().contains("\"dkls23\""), "{err}");
}
