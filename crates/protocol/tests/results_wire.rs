//! Result events: the exact JSON the reference publishes, and tolerant parsing on clients.

use mpcium_protocol::{
    DecodeError, ErrorCode, KeyType, KeygenResultEvent, ResharingResultEvent, ResultType,
    SigningResultEvent,
};

fn must_utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn keygen_success_has_an_empty_error_code() {
    let ev = KeygenResultEvent::success("w1", vec![1, 2, 3], vec![0xde, 0xad]);
    assert_eq!(
        must_utf8(ev.to_json()),
        r#"{"wallet_id":"w1","ecdsa_pub_key":"AQID","eddsa_pub_key":"3q0=","result_type":"success","error_reason":"","error_code":""}"#
    );
    assert_eq!(KeygenResultEvent::from_json(&ev.to_json()).unwrap(), ev);
}

#[test]
fn keygen_failure_has_null_keys_and_an_escaped_reason() {
    let ev = KeygenResultEvent::failure("w1", ErrorCode::KeyAlreadyExists, "key <w1> exists");
    assert_eq!(
        must_utf8(ev.to_json()),
        r#"{"wallet_id":"w1","ecdsa_pub_key":null,"eddsa_pub_key":null,"result_type":"error","error_reason":"key \u003cw1\u003e exists","error_code":"ERROR_KEY_ALREADY_EXISTS"}"#
    );
    assert_eq!(KeygenResultEvent::from_json(&ev.to_json()).unwrap(), ev);
}

#[test]
fn ecdsa_signing_success_carries_r_s_and_a_one_byte_recovery_id() {
    let ev =
        SigningResultEvent::ecdsa_success("eth", "w1", "t1", vec![1, 2, 3], vec![0xde, 0xad], 1);
    assert_eq!(
        must_utf8(ev.to_json()),
        r#"{"result_type":"success","error_code":"","error_reason":"","is_timeout":false,"network_internal_code":"eth","wallet_id":"w1","tx_id":"t1","r":"AQID","s":"3q0=","signature_recovery":"AQ==","signature":null}"#
    );
    assert_eq!(SigningResultEvent::from_json(&ev.to_json()).unwrap(), ev);
}

#[test]
fn eddsa_signing_success_carries_only_the_signature() {
    let ev = SigningResultEvent::eddsa_success("sol", "w1", "t1", vec![1, 2, 3]);
    assert_eq!(
        must_utf8(ev.to_json()),
        r#"{"result_type":"success","error_code":"","error_reason":"","is_timeout":false,"network_internal_code":"sol","wallet_id":"w1","tx_id":"t1","r":null,"s":null,"signature_recovery":null,"signature":"AQID"}"#
    );
}

#[test]
fn signing_timeout_is_flagged() {
    let ev = SigningResultEvent::failure(
        "sol",
        "w1",
        "t1",
        ErrorCode::MaxDeliveryAttempts,
        "gave up",
        true,
    );
    assert_eq!(
        must_utf8(ev.to_json()),
        r#"{"result_type":"error","error_code":"ERROR_MAX_DELIVERY_ATTEMPTS","error_reason":"gave up","is_timeout":true,"network_internal_code":"sol","wallet_id":"w1","tx_id":"t1","r":null,"s":null,"signature_recovery":null,"signature":null}"#
    );
    assert_eq!(SigningResultEvent::from_json(&ev.to_json()).unwrap(), ev);
}

#[test]
fn resharing_results_match_go_marshal() {
    let ok = ResharingResultEvent::success("w1", 2, KeyType::Ed25519, vec![0xde, 0xad]);
    assert_eq!(
        must_utf8(ok.to_json()),
        r#"{"wallet_id":"w1","new_threshold":2,"key_type":"ed25519","pub_key":"3q0=","result_type":"success","error_reason":"","error_code":""}"#
    );
    let failed = ResharingResultEvent::failure("w1", 2, None, ErrorCode::ReshareFailure, "x");
    assert_eq!(
        must_utf8(failed.to_json()),
        r#"{"wallet_id":"w1","new_threshold":2,"key_type":"","pub_key":null,"result_type":"error","error_reason":"x","error_code":"ERROR_RESHARE_FAILURE"}"#
    );
    for ev in [ok, failed] {
        assert_eq!(ResharingResultEvent::from_json(&ev.to_json()).unwrap(), ev);
    }
}

#[test]
fn serde_and_to_json_agree_on_every_result() {
    let keygen = KeygenResultEvent::failure("w1", ErrorCode::Other("ERROR_NEW".into()), "<&>");
    let signing = SigningResultEvent::ecdsa_success("eth", "w1", "t1", vec![1], vec![2], 0);
    let reshare = ResharingResultEvent::success("w1", 3, KeyType::Secp256k1, vec![4; 64]);
    let pairs = [
        (serde_json::to_value(&keygen).unwrap(), keygen.to_json()),
        (serde_json::to_value(&signing).unwrap(), signing.to_json()),
        (serde_json::to_value(&reshare).unwrap(), reshare.to_json()),
    ];
    for (value, json) in pairs {
        assert_eq!(
            value,
            serde_json::from_slice::<serde_json::Value>(&json).unwrap()
        );
    }
}

#[test]
fn a_client_reads_unknown_codes_and_missing_fields_without_failing() {
    let ev = SigningResultEvent::from_json(
        br#"{"result_type":"error","error_code":"ERROR_ADDED_IN_V9","tx_id":"t1","new_field":1}"#,
    )
    .unwrap();
    assert_eq!(ev.result_type, ResultType::Error);
    assert_eq!(
        ev.error_code,
        Some(ErrorCode::Other("ERROR_ADDED_IN_V9".to_owned()))
    );
    assert_eq!(ev.tx_id, "t1");
    assert_eq!(ev.r, None);
    assert!(!ev.is_timeout);

    let ok = KeygenResultEvent::from_json(
        br#"{"wallet_id":"w1","result_type":"success","error_code":null}"#,
    )
    .unwrap();
    assert_eq!(ok.error_code, None);
}

#[test]
fn broken_results_are_decode_errors() {
    assert!(matches!(
        KeygenResultEvent::from_json(br#"{"wallet_id":"w1","result_type":"succ"#),
        Err(DecodeError::Malformed { .. })
    ));
    assert!(matches!(
        KeygenResultEvent::from_json(br#"{"wallet_id":"w1"}"#),
        Err(DecodeError::Malformed { .. })
    ));
    assert!(matches!(
        KeygenResultEvent::from_json(br#"{"result_type":"success","ecdsa_pub_key":"%%"}"#),
        Err(DecodeError::Malformed { .. })
    ));
    assert!(matches!(
        SigningResultEvent::from_json(br#"{"result_type":"success","r":5}"#),
        Err(DecodeError::Malformed { .. })
    ));
    assert!(matches!(
        ResharingResultEvent::from_json(br#"{"result_type":"error","key_type":"p256"}"#),
        Err(DecodeError::Malformed { .. })
    ));
    let huge = vec![b' '; 2 * 1024 * 1024];
    assert!(matches!(
        SigningResultEvent::from_json(&huge),
        Err(DecodeError::TooLarge { .. })
    ));
}
