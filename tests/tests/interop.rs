//! Requests and NATS set-up as upstream clients build them reach real nodes: a `protocol` these
//! nodes do not run is answered promptly with an error naming it, never run with another engine;
//! the TypeScript client started before any node, and the Go master client with a client ID
//! started after them, create their streams and consumers exactly as they do and receive their
//! keygen and signing results. (The same configurations without MPC, every client and both start
//! orders: `crates/node/tests/request_streams.rs`.)

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use futures::StreamExt as _;
use mpcium_client::Signer as _;
use mpcium_e2e::{must_verify_eddsa, Cluster, ClusterOptions};
use mpcium_protocol::subjects::{
    self, keygen_request_subject, signing_request_subject, ResultKind, CLIENT_ID_HEADER,
    RESULT_STREAM, RESULT_STREAM_SUBJECTS,
};
use mpcium_protocol::{
    ClientId, ErrorCode, GenerateKeyMessage, InitiatorMessage, KeyType, KeygenResultEvent,
    SignTxMessage, SigningResultEvent,
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

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The next message of durable `consumer` on `mpc`, acknowledged as the clients do.
async fn must_receive(js: &jetstream::Context, consumer: &str) -> Vec<u8> {
    let consumer: consumer::PullConsumer = js
        .get_stream(RESULT_STREAM)
        .await
        .unwrap()
        .get_consumer(consumer)
        .await
        .unwrap();
    let mut batch = consumer
        .batch()
        .max_messages(1)
        .expires(Duration::from_secs(120))
        .messages()
        .await
        .unwrap();
    let message = batch.next().await.expect("a result").unwrap();
    message.ack().await.unwrap();
    message.payload.to_vec()
}

/// A signing request as the TypeScript client's `signTransaction` builds it: its five fields in
/// its order, and a base64 signature over their `JSON.stringify` (equal to Go's bytes for plain
/// ASCII).
fn ts_sign_request(cluster: &Cluster, wallet: &str, tx_id: &str, tx: &[u8]) -> Vec<u8> {
    let quoted = |s: &str| serde_json::to_string(s).unwrap();
    let fields = format!(
        r#""key_type":"ed25519","wallet_id":{},"network_internal_code":"solana-devnet","tx_id":{},"tx":{}"#,
        quoted(wallet),
        quoted(tx_id),
        quoted(&STANDARD.encode(tx)),
    );
    let signature = cluster
        .initiator()
        .sign(format!("{{{fields}}}").as_bytes())
        .unwrap();
    format!(
        r#"{{{fields},"signature":{}}}"#,
        quoted(&STANDARD.encode(signature))
    )
    .into_bytes()
}

fn must_signed_keygen(cluster: &Cluster, wallet: &str) -> Vec<u8> {
    let mut keygen = GenerateKeyMessage {
        wallet_id: wallet.to_owned(),
        signature: Vec::new(),
        authorizer_signatures: Vec::new(),
        protocol: None,
    };
    keygen.signature = cluster.initiator().sign(&keygen.signed_bytes()).unwrap();
    keygen.to_json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_client_started_before_any_node_gets_its_results() {
    let mut cluster = Cluster::must_prepare(ClusterOptions::default()).await;
    let js = jetstream::new(async_nats::connect(cluster.nats.url()).await.unwrap());
    // `ensureStreamsExist` and the first listener, `onWalletCreationResult`, on an empty server.
    for (name, subject) in [
        (subjects::KEYGEN_STREAM, subjects::KEYGEN_REQUEST_SUBJECTS),
        (subjects::SIGNING_STREAM, subjects::SIGNING_REQUEST_SUBJECTS),
    ] {
        js.create_stream(stream::Config {
            name: name.into(),
            subjects: strings(&[subject]),
            retention: stream::RetentionPolicy::WorkQueue,
            max_bytes: 100 * 1024 * 1024,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let results = js
        .create_stream(stream::Config {
            name: RESULT_STREAM.into(),
            subjects: strings(&["mpc.mpc_keygen_result.*"]),
            retention: stream::RetentionPolicy::Interest,
            max_bytes: 100 * 1024 * 1024,
            ..Default::default()
        })
        .await
        .unwrap();
    let ts_consumer = |kind: ResultKind| consumer::pull::Config {
        durable_name: Some(kind.consumer_name(None)),
        ack_policy: consumer::AckPolicy::Explicit,
        filter_subject: format!("{}.*", kind.prefix()),
        max_deliver: 3,
        ..Default::default()
    };
    results
        .create_consumer(ts_consumer(ResultKind::Keygen))
        .await
        .unwrap();

    // `onSignResult`: its consumer is accepted, but no stream stores signing results yet.
    results
        .create_consumer(ts_consumer(ResultKind::Signing))
        .await
        .unwrap();

    cluster.must_start_nodes().await;

    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    js.publish(
        keygen_request_subject(&wallet),
        must_signed_keygen(&cluster, &wallet).into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let keys = KeygenResultEvent::from_json(&must_receive(&js, "mpc_keygen_result").await).unwrap();
    assert_eq!(keys.error_code, None, "{}", keys.error_reason);
    assert_eq!(keys.wallet_id, wallet);

    let tx_id = uuid::Uuid::new_v4().to_string();
    let request = ts_sign_request(&cluster, &wallet, &tx_id, b"pay 1 SOL");
    js.publish(signing_request_subject(&tx_id), request.into())
        .await
        .unwrap()
        .await
        .unwrap();
    let signed =
        SigningResultEvent::from_json(&must_receive(&js, "mpc_signing_result").await).unwrap();
    assert_eq!(signed.tx_id, tx_id);
    must_verify_eddsa(
        &signed,
        b"pay 1 SOL",
        keys.eddsa_pub_key.as_deref().unwrap(),
    );

    let config = js
        .get_stream(RESULT_STREAM)
        .await
        .unwrap()
        .cached_info()
        .config
        .clone();
    assert_eq!(config.subjects, strings(&RESULT_STREAM_SUBJECTS));
    assert_eq!(config.retention, stream::RetentionPolicy::Interest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_master_client_with_a_client_id_started_after_the_nodes_gets_its_results() {
    let cluster = Cluster::must_start(ClusterOptions::default()).await;
    let nats = async_nats::connect(cluster.nats.url()).await.unwrap();
    let js = jetstream::new(nats.clone());
    let cid = ClientId::new("svc-a").unwrap();
    // `NewMPCClient`: CreateOrUpdateStream of both request streams and of `mpc`, then one
    // CreateOrUpdateConsumer per result kind.
    for (name, subject) in [
        (subjects::KEYGEN_STREAM, subjects::KEYGEN_REQUEST_SUBJECTS),
        (subjects::SIGNING_STREAM, subjects::SIGNING_REQUEST_SUBJECTS),
    ] {
        js.create_or_update_stream(stream::Config {
            name: name.into(),
            description: Some(format!("Stream for {name}")),
            subjects: strings(&[subject]),
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes: 100_000_000,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let results = js
        .create_or_update_stream(stream::Config {
            name: RESULT_STREAM.into(),
            description: Some("Stream for mpc".into()),
            subjects: strings(&RESULT_STREAM_SUBJECTS),
            max_bytes: 100_000_000,
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::WorkQueue,
            ..Default::default()
        })
        .await
        .unwrap();
    let results = js.get_stream(&results.config.name).await.unwrap();
    for kind in [ResultKind::Keygen, ResultKind::Signing] {
        let name = kind.consumer_name(Some(&cid));
        results
            .create_consumer(consumer::pull::Config {
                name: Some(name.clone()),
                durable_name: Some(name),
                max_ack_pending: 1000,
                ack_wait: Duration::from_secs(30),
                ack_policy: consumer::AckPolicy::Explicit,
                filter_subjects: vec![kind.filter_subject(Some(&cid))],
                max_deliver: 3,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(CLIENT_ID_HEADER, cid.as_str());

    // `CreateWallet` publishes to the literal `event.KeygenRequestTopic`.
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    js.publish_with_headers(
        subjects::KEYGEN_REQUEST_SUBJECTS,
        headers.clone(),
        must_signed_keygen(&cluster, &wallet).into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let keys = KeygenResultEvent::from_json(
        &must_receive(&js, &ResultKind::Keygen.consumer_name(Some(&cid))).await,
    )
    .unwrap();
    assert_eq!(keys.error_code, None, "{}", keys.error_reason);
    assert_eq!(keys.wallet_id, wallet);

    let tx_id = uuid::Uuid::new_v4().to_string();
    let mut sign = SignTxMessage {
        key_type: KeyType::Ed25519,
        wallet_id: wallet.clone(),
        network_internal_code: "solana-devnet".into(),
        tx_id: tx_id.clone(),
        tx: b"pay 2 SOL".to_vec(),
        signature: Vec::new(),
        derivation_path: None,
        authorizer_signatures: Vec::new(),
        request_version: None,
        hash: None,
        protocol: None,
    };
    sign.signature = cluster.initiator().sign(&sign.signed_bytes()).unwrap();
    js.publish_with_headers(
        subjects::SIGNING_REQUEST_SUBJECTS,
        headers,
        sign.to_json().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let signed = SigningResultEvent::from_json(
        &must_receive(&js, &ResultKind::Signing.consumer_name(Some(&cid))).await,
    )
    .unwrap();
    assert_eq!(signed.tx_id, tx_id);
    must_verify_eddsa(
        &signed,
        b"pay 2 SOL",
        keys.eddsa_pub_key.as_deref().unwrap(),
    );
}
