//! The client against a real nats-server and a fake node: correlation, client-ID isolation,
//! error results, timeouts, request de-duplication, and what exactly the client publishes.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use mpcium_client::{
    Authorizer, Client, ClientError, ClientOptions, LocalSigner, Nats, Operation, ReshareRequest,
    ResultEvent, SignRequest, Signer,
};
use mpcium_protocol::{
    Authorizers, ClientId, ErrorCode, InitiatorMessage, KeyType, MessageHash, PublicKey,
};
use mpcium_testkit::NatsServer;
use support::fake_node::{FakeNode, Seen, EXISTING_WALLET, MISSING_WALLET};

const DEADLINE: Duration = Duration::from_secs(10);

fn initiator() -> Arc<LocalSigner> {
    Arc::new(LocalSigner::ed25519_from_seed(&[1; 32]))
}

fn options(server: &NatsServer, signer: Arc<LocalSigner>, client: Option<&str>) -> ClientOptions {
    let mut options = ClientOptions::new(Nats::Url(server.url().to_owned()), signer)
        .with_result_timeout(DEADLINE);
    if let Some(id) = client {
        options = options.with_client_id(ClientId::new(id).unwrap());
    }
    options
}

async fn must_connect(options: ClientOptions) -> Client {
    Client::connect(options).await.unwrap()
}

async fn must_next(stream: &mut mpcium_client::ResultStream) -> ResultEvent {
    tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("no result within the deadline")
        .expect("the results stream ended")
        .expect("the results stream lagged")
}

#[test]
fn clients_and_their_errors_can_cross_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    fn assert_send<T: Send + 'static>() {}
    assert_send_sync::<Client>();
    assert_send_sync::<ClientError>();
    assert_send::<mpcium_client::ResultStream>();
    assert_send::<mpcium_client::ResultCallback>();
}

#[tokio::test]
async fn create_wallet_resolves_with_the_keys_of_that_wallet() {
    let server = NatsServer::must_start();
    let signer = initiator();
    let client = must_connect(options(&server, signer.clone(), Some("svc-a"))).await;
    let mut node = FakeNode::must_start(server.url(), signer.public_key().clone(), None).await;

    let result = client.create_wallet("wallet-1").await.unwrap();
    assert_eq!(result.wallet_id, "wallet-1");
    assert_eq!(result.ecdsa_pub_key, Some(vec![4; 64]));
    match node.must_see().await {
        Seen::Keygen(msg, client_id) => {
            assert_eq!(msg.wallet_id, "wallet-1");
            assert_eq!(client_id.as_ref().map(ClientId::as_str), Some("svc-a"));
            assert_eq!(signer.public_key().verify_request(&msg), Ok(()));
        }
        other => panic!("unexpected request {other:?}"),
    }
}

#[tokio::test]
async fn an_error_result_becomes_a_failed_error_with_its_code() {
    let server = NatsServer::must_start();
    let signer = initiator();
    let client = must_connect(options(&server, signer.clone(), None)).await;
    let _node = FakeNode::must_start(server.url(), signer.public_key().clone(), None).await;

    let err = client.create_wallet(EXISTING_WALLET).await.unwrap_err();
    assert_eq!(err.error_code(), Some(&ErrorCode::KeyAlreadyExists));
    let err = client
        .sign(SignRequest::eddsa(MISSING_WALLET, b"m".to_vec()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Failed { code: ErrorCode::KeyNotFound, reason } if reason.contains("no key")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_request_signed_by_the_wrong_initiator_is_refused_by_the_node() {
    let server = NatsServer::must_start();
    let impostor = Arc::new(LocalSigner::ed25519_from_seed(&[66; 32]));
    let client = must_connect(options(&server, impostor, None)).await;
    let _node = FakeNode::must_start(server.url(), initiator().public_key().clone(), None).await;

    let err = client.create_wallet("w1").await.unwrap_err();
    assert_eq!(
        err.error_code(),
        Some(&ErrorCode::InvalidInitiatorSignature)
    );
}

#[tokio::test]
async fn an_extended_ecdsa_request_covers_path_and_hash_with_the_initiator_signature() {
    let server = NatsServer::must_start();
    let signer = Arc::new(LocalSigner::p256_from_scalar(&[9; 32]).unwrap());
    let client = must_connect(options(&server, signer.clone(), None)).await;
    let mut node = FakeNode::must_start(server.url(), signer.public_key().clone(), None).await;

    let request = SignRequest::ecdsa_message("w1", b"unsigned tx".to_vec(), MessageHash::Keccak256)
        .with_tx_id("tx-1")
        .with_network("eth-sepolia")
        .with_derivation_path(vec![44, 60, 0]);
    let result = client.sign(request).await.unwrap();
    assert_eq!(
        (result.tx_id.as_str(), result.r.as_deref()),
        ("tx-1", Some(&[1u8; 32][..]))
    );
    let Seen::Sign(msg, client_id) = node.must_see().await else {
        panic!("expected a signing request")
    };
    assert_eq!(client_id, None);
    assert_eq!(
        String::from_utf8(msg.signed_bytes()).unwrap(),
        r#"{"key_type":"secp256k1","wallet_id":"w1","network_internal_code":"eth-sepolia","tx_id":"tx-1","tx":"dW5zaWduZWQgdHg=","derivation_path":[44,60,0],"hash":"keccak256","request_version":2}"#
    );
    let key = PublicKey::parse(signer.algorithm(), &signer.public_key_hex()).unwrap();
    assert_eq!(key.verify_request(&msg), Ok(()));
}

#[tokio::test]
async fn a_reference_form_ed25519_request_signs_the_five_reference_fields() {
    let server = NatsServer::must_start();
    let signer = initiator();
    let client = must_connect(options(&server, signer.clone(), None)).await;
    let mut node = FakeNode::must_start(server.url(), signer.public_key().clone(), None).await;

    let result = client
        .sign(SignRequest::eddsa("w1", b"ok".to_vec()).with_tx_id("t1"))
        .await
        .unwrap();
    assert_eq!(result.signature, Some(vec![3; 64]));
    let Seen::Sign(msg, _) = node.must_see().await else {
        panic!("expected a signing request")
    };
    assert_eq!(msg.request_version, None);
    assert_eq!(
        String::from_utf8(msg.signed_bytes()).unwrap(),
        r#"{"key_type":"ed25519","wallet_id":"w1","network_internal_code":"","tx_id":"t1","tx":"b2s="}"#
    );
}

#[tokio::test]
async fn authorizer_co_signatures_verify_on_the_node() {
    let server = NatsServer::must_start();
    let signer = initiator();
    let auditor = Arc::new(LocalSigner::ed25519_from_seed(&[2; 32]));
    let treasury = Arc::new(LocalSigner::p256_from_scalar(&[3; 32]).unwrap());
    let client = must_connect(
        options(&server, signer.clone(), None)
            .with_authorizer(Authorizer::new("auditor", auditor.clone()))
            .with_authorizer(Authorizer::new("treasury", treasury.clone())),
    )
    .await;
    let authorizers = Authorizers::new(
        BTreeMap::from([
            ("auditor".to_owned(), auditor.public_key().clone()),
            ("treasury".to_owned(), treasury.public_key().clone()),
        ]),
        vec!["auditor".to_owned(), "treasury".to_owned()],
    )
    .unwrap();
    let _node =
        FakeNode::must_start(server.url(), signer.public_key().clone(), Some(authorizers)).await;

    client.create_wallet("w1").await.unwrap();
    client
        .sign(SignRequest::ecdsa_digest("w1", [7; 32]))
        .await
        .unwrap();
    client
        .reshare(ReshareRequest {
            session_id: None,
            wallet_id: "w1".to_owned(),
            key_type: KeyType::Secp256k1,
            node_ids: vec!["n1".to_owned(), "n2".to_owned()],
            new_threshold: 2,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn two_clients_each_receive_only_their_own_results() {
    let server = NatsServer::must_start();
    let signer = initiator();
    let alice = must_connect(options(&server, signer.clone(), Some("alice"))).await;
    let bob = must_connect(options(&server, signer.clone(), Some("bob"))).await;
    let mut alice_results = alice.results();
    let mut bob_results = bob.results();

    // Bob's request is queued first, so the node answers it first: had Bob's result been
    // routed to Alice, it would reach her before her own.
    let bob_tx = bob
        .submit_sign(SignRequest::eddsa("w1", b"bob".to_vec()))
        .await
        .unwrap();
    let alice_tx = alice
        .submit_sign(SignRequest::eddsa("w1", b"alice".to_vec()))
        .await
        .unwrap();
    let _node = FakeNode::must_start(server.url(), signer.public_key().clone(), None).await;

    let first_for_alice = must_next(&mut alice_results).await;
    assert_eq!(first_for_alice.id(), alice_tx);
    let first_for_bob = must_next(&mut bob_results).await;
    assert_eq!(first_for_bob.id(), bob_tx);

    // The same holds for awaited requests issued concurrently.
    let (a, b) = tokio::join!(
        alice.create_wallet("alice-wallet"),
        bob.create_wallet("bob-wallet")
    );
    assert_eq!(a.unwrap().wallet_id, "alice-wallet");
    assert_eq!(b.unwrap().wallet_id, "bob-wallet");
    assert_eq!(must_next(&mut alice_results).await.id(), "alice-wallet");
    assert_eq!(must_next(&mut bob_results).await.id(), "bob-wallet");
}

#[tokio::test]
async fn a_timed_out_request_names_its_id_and_its_late_result_reaches_the_stream() {
    let server = NatsServer::must_start();
    let signer = initiator();
    let client = must_connect(
        options(&server, signer.clone(), Some("svc"))
            .with_result_timeout(Duration::from_millis(200)),
    )
    .await;
    let mut results = client.results();

    // No node is running yet.
    let err = client
        .sign(SignRequest::eddsa("w1", b"m".to_vec()).with_tx_id("late-tx"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Timeout { what: Operation::Signing, id } if id == "late-tx"),
        "{err:?}"
    );

    let _node = FakeNode::must_start(server.url(), signer.public_key().clone(), None).await;
    assert_eq!(must_next(&mut results).await.id(), "late-tx");
}

#[tokio::test]
async fn callbacks_receive_fire_and_forget_results() {
    let server = NatsServer::must_start();
    let signer = initiator();
    let client = must_connect(options(&server, signer.clone(), None)).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _callback = client.on_result(move |event| {
        let _ = tx.send(event);
    });
    let _node = FakeNode::must_start(server.url(), signer.public_key().clone(), None).await;

    client.submit_create_wallet("cb-wallet").await.unwrap();
    let event = tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(event, ResultEvent::Keygen(ref k) if k.wallet_id == "cb-wallet"));
}

#[tokio::test]
async fn reshare_goes_to_the_durable_stream_and_reshare_core_to_the_core_subject() {
    let server = NatsServer::must_start();
    let signer = initiator();
    let client = must_connect(options(&server, signer.clone(), Some("ops"))).await;
    let mut node = FakeNode::must_start(server.url(), signer.public_key().clone(), None).await;
    let request = |session: &str| ReshareRequest {
        session_id: Some(session.to_owned()),
        wallet_id: "w1".to_owned(),
        key_type: KeyType::Ed25519,
        node_ids: vec!["n1".to_owned(), "n2".to_owned(), "n3".to_owned()],
        new_threshold: 2,
    };

    let durable = client.reshare(request("s-durable")).await.unwrap();
    assert_eq!(
        (durable.new_threshold, durable.key_type),
        (2, Some(KeyType::Ed25519))
    );
    let Seen::Reshare(msg, client_id, core) = node.must_see().await else {
        panic!("expected a resharing request")
    };
    assert_eq!((msg.session_id.as_str(), core), ("s-durable", false));
    assert_eq!(client_id.as_ref().map(ClientId::as_str), Some("ops"));

    client.reshare_core(request("s-core")).await.unwrap();
    let Seen::Reshare(msg, _, core) = node.must_see().await else {
        panic!("expected a resharing request")
    };
    assert_eq!((msg.session_id.as_str(), core), ("s-core", true));
}

#[tokio::test]
async fn every_call_reaches_the_nodes_even_when_it_repeats_an_earlier_one() {
    let server = NatsServer::must_start();
    let signer = initiator();
    let client = must_connect(options(&server, signer.clone(), None)).await;
    let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());

    let request = SignRequest::eddsa("w1", b"pay bob".to_vec()).with_tx_id("t-dup");
    client.submit_sign(request.clone()).await.unwrap();
    client.submit_sign(request.clone()).await.unwrap();
    let mut stream = js.get_stream("mpc-signing").await.unwrap();
    // The nodes answer a repeated call from their result cache; JetStream must not swallow it.
    assert_eq!(stream.info().await.unwrap().state.messages, 2);

    client
        .submit_sign(SignRequest::eddsa("w1", b"pay mallory".to_vec()).with_tx_id("t-dup"))
        .await
        .unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 3);
}

#[tokio::test]
async fn a_request_the_nodes_would_refuse_is_never_published() {
    let server = NatsServer::must_start();
    let client = must_connect(options(&server, initiator(), None)).await;
    let err = client
        .sign(SignRequest {
            tx: vec![0; 31],
            ..SignRequest::ecdsa_digest("w1", [0; 32])
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::InvalidRequest(_)), "{err:?}");
    assert!(err.to_string().contains("32-byte digest"), "{err}");
    let err = client.create_wallet("bad.wallet").await.unwrap_err();
    assert!(matches!(err, ClientError::InvalidRequest(_)), "{err:?}");
}

#[tokio::test]
async fn connecting_without_jetstream_or_server_is_an_error_not_a_panic() {
    let err = Client::connect(ClientOptions::new(
        Nats::Url("nats://127.0.0.1:1".to_owned()),
        initiator(),
    ))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("cannot connect"), "{err}");
}
