//! Exactly once on one node. A participant refuses to sign a transaction that was already
//! answered, even when a coordinator (here: this node itself) orders it to: the initiator's
//! signature alone cannot stop a replay of its own request, the cluster-wide result cache can.
//! Nor does it take part in a session for a transaction another node holds the reservation of.
//! A coordinator given a request another node holds runs nothing: the same bytes get that
//! node's result, other bytes `ERROR_SESSION_DUPLICATE` at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use mpcium_node::context::NodeContext;
use mpcium_node::ops::{admit_start, handle_start};
use mpcium_node::request::reserve::{self, Reserved};
use mpcium_node::results::CachedResult;
use mpcium_node::session::control::{self, Failure, Operation, Outcome, Start};
use mpcium_node::session::liveness::Liveness;
use mpcium_node::session::router::{Router, RouterLimits};
use mpcium_node::session::Sessions;
use mpcium_node::transport::bus::Bus;
use mpcium_node::transport::channel::{OUTCOME, START};
use mpcium_node::transport::envelope::{Header, Opened};
use mpcium_node::transport::keys::{KeyRing, LocalKeys};
use mpcium_protocol::{
    InitiatorAlgorithm, InitiatorMessage, KeyType, PublicKey, SignTxMessage, Threshold,
};
use mpcium_state::config::Deadlines;
use mpcium_state::registry::reservation::{self, Claim};
use mpcium_state::registry::{result_key, NatsKvRegistry, NatsKvSettings, Registry};
use mpcium_state::store::{KdfParams, SecretPassword, Store, StoreOptions};
use mpcium_testkit::NatsServer;
use sha2::{Digest, Sha256};

/// A one-node context on `server` ("n0"), its session router, registry, and a signed request.
async fn must_node(
    server: &NatsServer,
) -> (
    Arc<NodeContext>,
    Router,
    NatsKvRegistry,
    Vec<u8>,
    tempfile::TempDir,
) {
    let client = async_nats::connect(server.url()).await.unwrap();
    let registry = NatsKvRegistry::open(client.clone(), &NatsKvSettings::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path().join("db"),
        &SecretPassword::new("pw".into()),
        StoreOptions {
            kdf: KdfParams::insecure_for_tests(),
        },
    )
    .unwrap();

    let node_key = SigningKey::from_bytes(&[1; 32]);
    let keys = KeyRing::new(
        LocalKeys::new("n0".into(), node_key.clone()),
        [("n0".to_owned(), node_key.verifying_key())],
    )
    .unwrap();
    let router = Router::new(RouterLimits::default());
    let (bus, inbound, _bus_task) = Bus::start(client, Arc::new(keys)).await.unwrap();

    let initiator = SigningKey::from_bytes(&[2; 32]);
    let initiator_pub = PublicKey::parse(
        InitiatorAlgorithm::Ed25519,
        &hex::encode(initiator.verifying_key().as_bytes()),
    )
    .unwrap();
    let ctx = Arc::new(NodeContext {
        me: "n0".into(),
        node_ids: vec!["n0".into()],
        sessions: Sessions::new(bus, router.clone(), Liveness::disabled()),
        start_window: mpcium_node::session::start_window::StartWindow::open(&store)
            .await
            .unwrap(),
        store,
        ready: mpcium_state::registry::ReadyView::start(
            &mpcium_state::registry::AnyRegistry::Nats(registry.clone()),
            Duration::from_secs(15),
        ),
        registry: Arc::new(mpcium_state::registry::AnyRegistry::Nats(registry.clone())),
        initiator: initiator_pub,
        authorizers: None,
        threshold: Threshold::new(2, 3).unwrap(),
        chain_code: [0; 32],
        deadlines: Deadlines::default(),
        require_extended_requests: false,
        share_wipe_grace: Duration::from_secs(3600),
        result_cache_ttl: Duration::from_secs(3600),
        presign: Arc::new(mpcium_node::ops::presign::Pools::disabled()),
        awaited_primes: Default::default(),
    });
    let tasks = tokio_util::task::TaskTracker::new();
    tokio::spawn(mpcium_node::inbound::route(ctx.clone(), inbound, tasks, 64));

    let mut request = SignTxMessage {
        protocol: None,
        key_type: KeyType::Ed25519,
        wallet_id: "w1".into(),
        network_internal_code: "n".into(),
        tx_id: "tx-1".into(),
        tx: b"pay bob".to_vec(),
        signature: Vec::new(),
        derivation_path: None,
        authorizer_signatures: Vec::new(),
        request_version: None,
        hash: None,
    };
    request.signature = initiator.sign(&request.signed_bytes()).to_bytes().to_vec();
    (ctx, router, registry, request.to_json(), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_already_answered_transaction_is_never_signed_again() {
    let server = NatsServer::must_start();
    let (ctx, router, registry, payload, _dir) = must_node(&server).await;
    // The cluster already answered this exact request.
    let cached = serde_json::json!({
        "request_digest": hex::encode(Sha256::digest(&payload)),
        "subject": "mpc.mpc_signing_result.complete",
        "payload": [],
    });
    registry
        .put(&result_key("sign/tx-1"), cached.to_string().as_bytes())
        .await
        .unwrap();
    let failure = must_refuse(ctx, &router, payload).await;
    assert_eq!(
        failure.code, "ERROR_SESSION_DUPLICATE",
        "{}",
        failure.reason
    );
    assert!(
        failure.reason.contains("already signed"),
        "{}",
        failure.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_reserved_by_another_node_gets_no_session_from_this_one() {
    let server = NatsServer::must_start();
    let (ctx, router, registry, payload, _dir) = must_node(&server).await;
    // Node n9 reserved this exact request a moment ago and is still working on it.
    let digest = hex::encode(Sha256::digest(&payload));
    let claim = reservation::claim(
        &registry,
        &result_key("sign/tx-1"),
        "n9",
        &digest,
        Duration::from_secs(60),
        mpcium_node::results::now_unix_ms(),
        |_| false,
    )
    .await
    .unwrap();
    assert!(matches!(claim, Claim::Won { .. }), "{claim:?}");
    let failure = must_refuse(ctx, &router, payload).await;
    assert_eq!(
        failure.code, "ERROR_SESSION_DUPLICATE",
        "{}",
        failure.reason
    );
    assert!(
        failure.reason.contains("reserved by node n9"),
        "{}",
        failure.reason
    );
}

/// Orders `ctx`'s node, as coordinator of itself, to sign `payload`; the failure it reports.
async fn must_refuse(ctx: Arc<NodeContext>, router: &Router, payload: Vec<u8>) -> Failure {
    let start = Start::new(Operation::Sign, vec!["n0".into()], payload);
    let mut outcomes = router
        .register(
            (OUTCOME, control::outcome_session(&start.nonce)),
            ["n0".to_owned()],
            Instant::now(),
        )
        .unwrap();
    let opened = Opened {
        header: Header {
            channel: START,
            session: control::start_session(&start.nonce),
            round: 0,
            seq: 0,
            broadcast: false,
            from: "n0".into(),
            to: "n0".into(),
        },
        payload: serde_json::to_vec(&start).unwrap(),
    };
    let admitted = admit_start(&ctx, &opened).expect("a fresh start is admitted");
    handle_start(ctx, "n0".into(), admitted).await;

    let reply = tokio::time::timeout(Duration::from_secs(10), outcomes.recv())
        .await
        .unwrap()
        .unwrap();
    let outcome: Outcome = serde_json::from_slice(&reply.payload).unwrap();
    outcome.result.unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_reserved_by_another_node_is_answered_with_its_result_and_never_run_here() {
    let server = NatsServer::must_start();
    let (ctx, _router, registry, payload, _dir) = must_node(&server).await;
    let key = result_key("sign/tx-1");
    let digest = hex::encode(Sha256::digest(&payload));
    let now = mpcium_node::results::now_unix_ms();
    let claim = reservation::claim(
        &registry,
        &key,
        "n9",
        &digest,
        Duration::from_secs(60),
        now,
        |_| false,
    )
    .await
    .unwrap();
    let Claim::Won { held, .. } = claim else {
        panic!("n9 must win the free id, got {claim:?}")
    };
    let must_not_run = async { panic!("a reserved request must not run a second time") };
    let never_final = |_: &()| -> Option<CachedResult> { None };

    // Other bytes under the reserved id: refused at once.
    let mut other: SignTxMessage = SignTxMessage::from_json(&payload).unwrap();
    other.tx = b"pay mallory".to_vec();
    let refused = reserve::run(
        &ctx,
        "sign/tx-1",
        &other.to_json(),
        Duration::from_secs(60),
        must_not_run,
        never_final,
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused.code().to_string(),
        "ERROR_SESSION_DUPLICATE",
        "{refused}"
    );
    assert!(refused.to_string().contains("node n9"), "{refused}");

    // The same bytes: wait for n9's result and answer with it.
    let waiting = tokio::spawn({
        let ctx = ctx.clone();
        let payload = payload.clone();
        async move {
            reserve::run(
                &ctx,
                "sign/tx-1",
                &payload,
                Duration::from_secs(60),
                async { panic!("a reserved request must not run a second time") },
                |_: &()| -> Option<CachedResult> { None },
            )
            .await
        }
    });
    let result = CachedResult {
        request_digest: digest,
        subject: "ignored".into(),
        payload: b"n9's signature".to_vec(),
        expires_unix_ms: None,
    };
    let bytes = mpcium_node::results::encode(result, Duration::from_secs(3600)).unwrap();
    assert!(reservation::finish(&registry, &held, &bytes).await.unwrap());
    let answered = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("answered within the wait")
        .unwrap()
        .unwrap();
    match answered {
        Reserved::Answered(cached) => assert_eq!(cached.payload, b"n9's signature"),
        other => panic!("expected n9's result, got {other:?}"),
    }
}
