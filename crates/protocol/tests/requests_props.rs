//! Property tests (the `proptest` twins of the `fuzz/` targets `request_json` and
//! `canonical_bytes`): no input makes request decoding panic; whatever decodes encodes back to
//! bytes that decode to the same request with the same signed bytes; valid requests survive the
//! wire unchanged; the canonical JSON writer emits valid JSON for every string.
//!
//! Cases per property: 64, or `PROPTEST_CASES` (see `docs/reliability.md` for longer runs).

use mpcium_protocol::canonical::{write_string, ObjectWriter};
use mpcium_protocol::{
    AuthorizerSignature, ErrorCode, GenerateKeyMessage, InitiatorMessage, KeyType,
    ResharingMessage, SignTxMessage,
};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 64;
    }
    config
}

/// Decodes `bytes` as each request type; whatever decodes must survive a round trip.
fn must_decode_consistently(bytes: &[u8]) {
    if let Ok(m) = GenerateKeyMessage::from_json(bytes) {
        let again = GenerateKeyMessage::from_json(&m.to_json()).expect("re-decodes");
        assert_eq!(again, m);
        assert_eq!(again.signed_bytes(), m.signed_bytes());
    }
    match SignTxMessage::from_json(bytes) {
        Ok(m) => {
            let again = SignTxMessage::from_json(&m.to_json()).expect("re-decodes");
            assert_eq!(again, m);
            assert_eq!(again.signed_bytes(), m.signed_bytes());
            assert_eq!(again.authorizer_payload(), m.authorizer_payload());
        }
        Err(e) => assert!(matches!(
            e.error_code(),
            ErrorCode::UnmarshalFailure | ErrorCode::MsgValidation
        )),
    }
    if let Ok(m) = ResharingMessage::from_json(bytes) {
        let again = ResharingMessage::from_json(&m.to_json()).expect("re-decodes");
        assert_eq!(again, m);
        assert_eq!(again.signed_bytes(), m.signed_bytes());
    }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::String),
        "[A-Za-z0-9+/]{0,40}={0,2}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec(("[a-z_]{1,12}", inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "wallet_id",
    "key_type",
    "network_internal_code",
    "tx_id",
    "tx",
    "signature",
    "derivation_path",
    "authorizer_signatures",
    "request_version",
    "hash",
    "protocol",
    "session_id",
    "node_ids",
    "new_threshold",
];

/// A JSON object over the request fields with arbitrary values.
fn request_shaped() -> impl Strategy<Value = Vec<u8>> {
    vec((prop::sample::select(FIELDS), json_value()), 0..10).prop_map(|fields| {
        let object: serde_json::Map<String, Value> =
            fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        serde_json::to_vec(&Value::Object(object)).expect("json")
    })
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,64}"
}

fn authorizers() -> impl Strategy<Value = Vec<AuthorizerSignature>> {
    vec(
        ("[a-z0-9-]{1,16}", vec(any::<u8>(), 0..72)).prop_map(|(authorizer_id, signature)| {
            AuthorizerSignature {
                authorizer_id,
                signature,
            }
        }),
        0..3,
    )
}

fn sign_request() -> impl Strategy<Value = SignTxMessage> {
    (
        any::<bool>(),
        id(),
        "\\PC{0,16}",
        id(),
        vec(any::<u8>(), 1..512),
        vec(any::<u8>(), 0..72),
        prop::option::of(vec(0u32..0x8000_0000, 1..6)),
        authorizers(),
    )
        .prop_map(
            |(secp, wallet_id, network, tx_id, tx, signature, path, authorizers)| {
                let (key_type, tx) = if secp {
                    let mut digest = tx;
                    digest.resize(32, 7);
                    (KeyType::Secp256k1, digest)
                } else {
                    (KeyType::Ed25519, tx)
                };
                SignTxMessage {
                    key_type,
                    wallet_id,
                    network_internal_code: network,
                    tx_id,
                    tx,
                    signature,
                    derivation_path: path,
                    authorizer_signatures: authorizers,
                    request_version: None,
                    hash: None,
                    protocol: None,
                }
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_the_request_decoders(bytes in vec(any::<u8>(), 0..2048)) {
        must_decode_consistently(&bytes);
    }

    #[test]
    fn request_shaped_json_with_arbitrary_values_decodes_consistently(bytes in request_shaped()) {
        must_decode_consistently(&bytes);
    }

    #[test]
    fn a_valid_signing_request_survives_the_wire_with_its_signed_bytes(m in sign_request()) {
        let wire = m.to_json();
        let decoded = SignTxMessage::from_json(&wire).expect("decodes");
        prop_assert_eq!(&decoded, &m);
        prop_assert_eq!(decoded.signed_bytes(), m.signed_bytes());
        // The signed bytes are themselves JSON (Go `json.Marshal` output).
        prop_assert!(serde_json::from_slice::<Value>(&m.signed_bytes()).is_ok());
    }

    #[test]
    fn a_valid_keygen_or_reshare_request_survives_the_wire(
        wallet in id(),
        session in id(),
        signature in vec(any::<u8>(), 0..72),
        nodes in prop::option::of(vec(id(), 1..8)),
        threshold in 1u16..8,
        authorizers in authorizers(),
    ) {
        let keygen = GenerateKeyMessage {
            wallet_id: wallet.clone(),
            signature: signature.clone(),
            authorizer_signatures: authorizers.clone(),
            protocol: None,
        };
        prop_assert_eq!(GenerateKeyMessage::from_json(&keygen.to_json()).expect("decodes"), keygen);
        let reshare = ResharingMessage {
            session_id: session,
            node_ids: nodes,
            new_threshold: threshold,
            key_type: KeyType::Ed25519,
            wallet_id: wallet,
            signature,
            authorizer_signatures: authorizers,
        };
        let decoded = ResharingMessage::from_json(&reshare.to_json()).expect("decodes");
        prop_assert_eq!(decoded.signed_bytes(), reshare.signed_bytes());
        prop_assert_eq!(decoded, reshare);
    }

    #[test]
    fn the_canonical_writer_emits_json_that_reads_back_as_the_same_string(s in "\\PC*|[\\x00-\\x7f]{0,64}") {
        let mut out = Vec::new();
        write_string(&mut out, &s);
        prop_assert_eq!(serde_json::from_slice::<String>(&out).expect("valid json"), s.clone());
        let mut w = ObjectWriter::new();
        w.string("k", &s).bytes("b", Some(s.as_bytes())).integer("i", s.len() as i64);
        let object: Value = serde_json::from_slice(&w.finish()).expect("valid json object");
        prop_assert_eq!(object["k"].as_str(), Some(s.as_str()));
    }
}
