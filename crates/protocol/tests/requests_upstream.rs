//! Golden bytes printed by the upstream Go definitions themselves, not derived by hand.
//!
//! Source: fystack/mpcium `pkg/types/initiator_msg.go`, blob `61004929`, identical on tag
//! v0.3.5 (commit bfe405b4) and on master as last fetched (commit f05b0a21, 2026-04-24). Each
//! literal below is what that file's `Raw()`, `json.Marshal` or `ComposeAuthorizerRaw()` printed
//! for the inputs shown, from a throw-away Go program (kept out of this repository) built with
//! Go 1.19.8. Go releases before 1.22 differ from later ones only for U+0008 and U+000C, which no
//! input here contains. At both commits `SignTxMessage.Raw()` signs five fields whether or not a
//! `derivation_path` is sent, and no message has a `protocol` field.
//!
//! `protocol` literals come from the same file on the unmerged `taurus` branch (fystack/mpcium
//! PR #106, commit 7851ea0b), the only upstream source that has the field: on `SignTxMessage` it
//! follows `key_type` on the wire and `Raw()` leaves it out. The six-field form of PR #163 is in
//! no fetched commit; its tests stay in `requests_canonical.rs`.

use mpcium_protocol::subjects::{self, result_msg_id, RESULT_STREAM_SUBJECTS};
use mpcium_protocol::{
    AuthorizerSignature, ClientId, GenerateKeyMessage, InitiatorMessage, KeyType, ResharingMessage,
    ResultKind, SignTxForm, SignTxMessage,
};

/// `network_internal_code` exercising every escaping rule Go applies: HTML characters, U+2028,
/// raw non-ASCII, quote, backslash, newline, another C0 control and DEL.
const AWKWARD: &str = "eth<main>&\u{2028}é🔑\"\\\n\u{1}\u{7f}";

/// Go's `json.Marshal` of [`AWKWARD`].
const AWKWARD_JSON: &str = "\"eth\\u003cmain\\u003e\\u0026\\u2028é🔑\\\"\\\\\\n\\u0001\u{7f}\"";

const DIGEST_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn must_utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

fn authorizers() -> Vec<AuthorizerSignature> {
    vec![AuthorizerSignature {
        authorizer_id: "a1".to_owned(),
        signature: vec![0xde, 0xad],
    }]
}

fn sign_tx() -> SignTxMessage {
    SignTxMessage {
        key_type: KeyType::Secp256k1,
        wallet_id: "wallet-1".to_owned(),
        network_internal_code: AWKWARD.to_owned(),
        tx_id: "tx-1".to_owned(),
        tx: (0u8..32).collect(),
        signature: Vec::new(),
        derivation_path: None,
        authorizer_signatures: Vec::new(),
        request_version: None,
        hash: None,
        protocol: None,
    }
}

fn reshare() -> ResharingMessage {
    ResharingMessage {
        session_id: "s-1".to_owned(),
        node_ids: Some(vec!["n2".to_owned(), "n1".to_owned()]),
        new_threshold: 1,
        key_type: KeyType::Ed25519,
        wallet_id: "wallet-1".to_owned(),
        signature: Vec::new(),
        authorizer_signatures: Vec::new(),
    }
}

#[test]
fn keygen_raw_json_and_authorizer_payload_equal_upstream_go_output() {
    let mut msg = GenerateKeyMessage {
        wallet_id: "wallet-1".to_owned(),
        signature: Vec::new(),
        authorizer_signatures: Vec::new(),
        protocol: None,
    };
    assert_eq!(msg.signed_bytes(), b"wallet-1");
    assert_eq!(
        must_utf8(msg.to_json()),
        r#"{"wallet_id":"wallet-1","signature":null}"#
    );
    assert_eq!(
        must_utf8(msg.authorizer_payload()),
        r#"{"initiator_id":"wallet-1","initiator_raw":"d2FsbGV0LTE=","initiator_sig":null}"#
    );
    msg.signature = vec![1, 2, 3];
    msg.authorizer_signatures = authorizers();
    assert_eq!(
        must_utf8(msg.to_json()),
        r#"{"wallet_id":"wallet-1","signature":"AQID","authorizer_signatures":[{"authorizer_id":"a1","signature":"3q0="}]}"#
    );
    assert_eq!(
        must_utf8(msg.authorizer_payload()),
        r#"{"initiator_id":"wallet-1","initiator_raw":"d2FsbGV0LTE=","initiator_sig":"AQID"}"#
    );
}

#[test]
fn sign_tx_raw_is_five_fields_with_or_without_a_path_on_v035_and_master() {
    let five = format!(
        r#"{{"key_type":"secp256k1","wallet_id":"wallet-1","network_internal_code":{AWKWARD_JSON},"tx_id":"tx-1","tx":"{DIGEST_B64}"}}"#
    );
    let mut msg = sign_tx();
    assert_eq!(must_utf8(msg.signed_bytes_in(SignTxForm::Reference)), five);
    assert_eq!(must_utf8(msg.signed_bytes()), five);
    // Upstream `Raw()` ignores the path, the signature and the authorizers.
    msg.derivation_path = Some(vec![44, 60, 0, 2_147_483_647]);
    msg.signature = vec![1, 2, 3];
    msg.authorizer_signatures = authorizers();
    assert_eq!(must_utf8(msg.signed_bytes_in(SignTxForm::Reference)), five);
}

#[test]
fn sign_tx_json_equals_upstream_go_marshal() {
    let head = format!(
        r#"{{"key_type":"secp256k1","wallet_id":"wallet-1","network_internal_code":{AWKWARD_JSON},"tx_id":"tx-1","tx":"{DIGEST_B64}""#
    );
    let mut msg = sign_tx();
    assert_eq!(
        must_utf8(msg.to_json()),
        format!(r#"{head},"signature":null,"derivation_path":null}}"#)
    );
    msg.derivation_path = Some(vec![44, 60, 0, 2_147_483_647]);
    msg.signature = vec![1, 2, 3];
    msg.authorizer_signatures = authorizers();
    let wire = format!(
        r#"{head},"signature":"AQID","derivation_path":[44,60,0,2147483647],"authorizer_signatures":[{{"authorizer_id":"a1","signature":"3q0="}}]}}"#
    );
    assert_eq!(must_utf8(msg.to_json()), wire);
    // What a Go client sends decodes back to the same request.
    assert_eq!(SignTxMessage::from_json(wire.as_bytes()).unwrap(), msg);
    msg.derivation_path = Some(Vec::new());
    assert_eq!(
        must_utf8(msg.to_json()),
        format!(
            r#"{head},"signature":"AQID","derivation_path":[],"authorizer_signatures":[{{"authorizer_id":"a1","signature":"3q0="}}]}}"#
        )
    );
}

#[test]
fn sign_tx_authorizer_payload_equals_upstream_compose_authorizer_raw() {
    let mut msg = sign_tx();
    msg.signature = vec![1, 2, 3];
    msg.authorizer_signatures = authorizers();
    msg.derivation_path = Some(Vec::new());
    assert_eq!(
        must_utf8(msg.signed_as(SignTxForm::Reference).authorizer_payload()),
        r#"{"initiator_id":"tx-1","initiator_raw":"eyJrZXlfdHlwZSI6InNlY3AyNTZrMSIsIndhbGxldF9pZCI6IndhbGxldC0xIiwibmV0d29ya19pbnRlcm5hbF9jb2RlIjoiZXRoXHUwMDNjbWFpblx1MDAzZVx1MDAyNlx1MjAyOMOp8J+UkVwiXFxcblx1MDAwMX8iLCJ0eF9pZCI6InR4LTEiLCJ0eCI6IkFBRUNBd1FGQmdjSUNRb0xEQTBPRHhBUkVoTVVGUllYR0JrYUd4d2RIaDg9In0=","initiator_sig":"AQID"}"#
    );
}

#[test]
fn resharing_raw_json_and_authorizer_payload_equal_upstream_go_output() {
    let raw = r#"{"session_id":"s-1","node_ids":["n2","n1"],"new_threshold":1,"key_type":"ed25519","wallet_id":"wallet-1"}"#;
    let mut msg = reshare();
    assert_eq!(must_utf8(msg.signed_bytes()), raw);
    // `signature` is `omitempty`, so the unsigned message is its own raw form.
    assert_eq!(must_utf8(msg.to_json()), raw);
    msg.signature = vec![1, 2, 3];
    msg.authorizer_signatures = authorizers();
    assert_eq!(must_utf8(msg.signed_bytes()), raw);
    let wire = r#"{"session_id":"s-1","node_ids":["n2","n1"],"new_threshold":1,"key_type":"ed25519","wallet_id":"wallet-1","signature":"AQID","authorizer_signatures":[{"authorizer_id":"a1","signature":"3q0="}]}"#;
    assert_eq!(must_utf8(msg.to_json()), wire);
    assert_eq!(ResharingMessage::from_json(wire.as_bytes()).unwrap(), msg);
    assert_eq!(
        must_utf8(msg.authorizer_payload()),
        r#"{"initiator_id":"wallet-1","initiator_raw":"eyJzZXNzaW9uX2lkIjoicy0xIiwibm9kZV9pZHMiOlsibjIiLCJuMSJdLCJuZXdfdGhyZXNob2xkIjoxLCJrZXlfdHlwZSI6ImVkMjU1MTkiLCJ3YWxsZXRfaWQiOiJ3YWxsZXQtMSJ9","initiator_sig":"AQID"}"#
    );
    msg.node_ids = None;
    assert_eq!(
        must_utf8(msg.signed_bytes()),
        r#"{"session_id":"s-1","node_ids":null,"new_threshold":1,"key_type":"ed25519","wallet_id":"wallet-1"}"#
    );
    msg.node_ids = Some(Vec::new());
    assert_eq!(
        must_utf8(msg.signed_bytes()),
        r#"{"session_id":"s-1","node_ids":[],"new_threshold":1,"key_type":"ed25519","wallet_id":"wallet-1"}"#
    );
}

// taurus (PR #106): `SignTxMessage` carries `Protocol` (`json:"protocol,omitempty"`) after
// `KeyType`, and its `Raw()` leaves it out.
#[test]
fn protocol_sits_after_key_type_on_the_wire_and_outside_the_signed_bytes_as_in_upstream() {
    let taurus_wire = r#"{"key_type":"ed25519","protocol":"frost","wallet_id":"w1","network_internal_code":"eth","tx_id":"t1","tx":"b2s=","signature":"AQID"}"#;
    let taurus_raw = r#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"eth","tx_id":"t1","tx":"b2s="}"#;
    let msg = SignTxMessage::from_json(taurus_wire.as_bytes()).unwrap();
    assert_eq!(msg.protocol.as_deref(), Some("frost"));
    assert_eq!(must_utf8(msg.signed_bytes()), taurus_raw);
    // Ours also writes `derivation_path` (no omitempty on v0.3.5/master); taurus's struct has none.
    assert_eq!(
        must_utf8(msg.to_json()),
        r#"{"key_type":"ed25519","protocol":"frost","wallet_id":"w1","network_internal_code":"eth","tx_id":"t1","tx":"b2s=","signature":"AQID","derivation_path":null}"#
    );
}

// fystack/mpcium `pkg/event/result_topics.go` and `pkg/mpc/session.go` (`Type*ResultFmt`) at
// master f05b0a21; `composeIdempotentKey` in `pkg/eventconsumer/event_consumer.go`.
#[test]
fn result_subjects_consumers_and_message_ids_follow_upstream_client_id_routing() {
    assert_eq!(
        RESULT_STREAM_SUBJECTS,
        [
            "mpc.mpc_keygen_result.>",
            "mpc.mpc_signing_result.>",
            "mpc.mpc_reshare_result.>"
        ]
    );
    let cid = ClientId::new("svc-a").unwrap();
    let c = Some(&cid);
    // KeygenResultSubject(cid, wallet), SigningResultSubject(cid), ReshareResultSubject(cid, session).
    assert_eq!(
        ResultKind::Keygen.subject(c, "w1"),
        "mpc.mpc_keygen_result.svc-a.w1"
    );
    assert_eq!(
        ResultKind::Signing.subject(c, "tx-1"),
        "mpc.mpc_signing_result.svc-a.complete"
    );
    assert_eq!(
        ResultKind::Reshare.subject(c, "s-1"),
        "mpc.mpc_reshare_result.svc-a.s-1"
    );
    // *SubscriptionSubject(cid): what the Go client's consumers filter on.
    assert_eq!(
        ResultKind::Keygen.filter_subject(c),
        "mpc.mpc_keygen_result.svc-a.*"
    );
    assert_eq!(
        ResultKind::Signing.filter_subject(c),
        "mpc.mpc_signing_result.svc-a.complete"
    );
    assert_eq!(
        ResultKind::Reshare.filter_subject(c),
        "mpc.mpc_reshare_result.svc-a.*"
    );
    // sanitizeConsumerName(ResultConsumerName(base, cid)).
    assert_eq!(
        ResultKind::Keygen.consumer_name(c),
        subjects::sanitize_consumer_name("mpc_keygen_result.svc-a")
    );
    assert_eq!(
        ResultKind::Reshare.consumer_name(c),
        "mpc_reshare_result_svc_a"
    );
    // fmt.Sprintf(Type*ResultFmt, ScopedOperationID(cid, id[:SessionID])).
    assert_eq!(
        result_msg_id(ResultKind::Reshare, c, "s-1", Some("sid")),
        "mpc.mpc_reshare_result.svc-a:s-1:sid"
    );
    assert_eq!(
        result_msg_id(ResultKind::Signing, None, "tx-1", None),
        "mpc.mpc_signing_result.tx-1"
    );
}
