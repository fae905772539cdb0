//! Requests as upstream-master clients build them reach real nodes: a `protocol` these nodes do
//! not run is answered promptly with an error naming it, never run with another engine.

use std::time::Duration;

use futures::StreamExt as _;
use mpcium_client::Signer as _;
use mpcium_e2e::{Cluster, ClusterOptions};
use mpcium_protocol::subjects::{keygen_request_subject, signing_request_subject};
use mpcium_protocol::{
    ErrorCode, GenerateKeyMessage, InitiatorMessage, KeyType, KeygenResultEvent, SignTxMessage,
    SigningResultEvent,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_the_nodes_do_not_run_gets_a_prompt_error_naming_it() {
    let cluster = Cluster::must_start(ClusterOptions::default()).await;
    let nats = async_nats::connect(cluster.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(nats.clone());
    let mut results = nats.subscribe("mpc.>").await.unwrap();
    let initiator = cluster.initiator();

    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    let mut keygen = GenerateKeyMessage {
        wallet_id: wallet.clone(),
        signature: Vec::new(),
        authorizer_signatures: Vec::new(),
        protocol: Some("dkls23".into()),
    };
    keygen.signature = initiator.sign(&keygen.signed_bytes()).unwrap();
    js.publish(keygen_request_subject(&wallet), keygen.to_json().into())
        .await
        .unwrap()
        .await
        .unwrap();

    let tx_id = format!("t-{}", uuid::Uuid::new_v4());
    let mut sign = SignTxMessage {
        key_type: KeyType::Ed25519,
        wallet_id: wallet.clone(),
        network_internal_code: "sol".into(),
        tx_id: tx_id.clone(),
        tx: b"pay".to_vec(),
        signature: Vec::new(),
        derivation_path: None,
        authorizer_signatures: Vec::new(),
        request_version: None,
        hash: None,
        protocol: Some("cggmp21".into()),
    };
    sign.signature = initiator.sign(&sign.signed_bytes()).unwrap();
    js.publish(signing_request_subject(&tx_id), sign.to_json().into())
        .await
        .unwrap()
        .await
        .unwrap();

    let (mut keygen_error, mut sign_error) = (None, None);
    let wait = async {
        while keygen_error.is_none() || sign_error.is_none() {
            let msg = results.next().await.expect("subscription open");
            if msg.subject.as_str() == format!("mpc.mpc_keygen_result.{wallet}") {
                let event = KeygenResultEvent::from_json(&msg.payload).unwrap();
                keygen_error = Some((event.error_code, event.error_reason));
            } else if msg.subject.starts_with("mpc.mpc_signing_result.") {
                let event = SigningResultEvent::from_json(&msg.payload).unwrap();
                if event.tx_id == tx_id {
                    sign_error = Some((event.error_code, event.error_reason));
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("both requests answered promptly");
    let (code, reason) = keygen_error.unwrap();
    assert_eq!(code, Some(ErrorCode::MsgValidation), "{reason:?}");
    assert!(reason.contains("\"dkls23\""));
    // cggmp21 is not an Ed25519 engine: refused the same way, naming it.
    let (code, reason) = sign_error.unwrap();
    assert_eq!(code, Some(ErrorCode::MsgValidation), "{reason:?}");
    assert!(reason.contains("\"cggmp21\""));
}
