//! Streams created first by an upstream client, or after the nodes, with exactly the
//! configuration that client creates: nodes add the subjects they need without touching anything
//! else, and the client's consumers then receive what nodes publish. A real nats-server per test.
//!
//! Client configurations (fystack/mpcium-client-ts `src/client.ts` at b76e59ab; fystack/mpcium
//! `pkg/client/client.go`, `pkg/messaging/{jetstream_broker,message_queue}.go` at v0.3.5 and
//! master f05b0a21):
//! * TypeScript: `mpc-keygen` / `mpc-signing` added when absent with one subject, WorkQueue
//!   retention and 100 MiB; `mpc` added by whichever result listener runs first with that kind's
//!   single subject (`mpc.mpc_keygen_result.*`, Interest retention for keygen and signing);
//!   durable consumers `mpc_<kind>_result` (explicit ack, MaxDeliver 3, filter `…_result.*`) added
//!   when absent.
//! * Go (both versions): `CreateOrUpdateStream` of the request streams with limits retention,
//!   MaxAge 7 days and 100 000 000 bytes, and of `mpc` with WorkQueue retention; v0.3.5 gives `mpc`
//!   the subjects `…_result.*`, master `…_result.>`. `CreateOrUpdateConsumer` named and durable,
//!   explicit ack, AckWait 30 s, MaxDeliver 3, MaxAckPending 1000, one `FilterSubjects` entry:
//!   v0.3.5 `mpc.mpc_<kind>_result.*`, master the client-ID-scoped filters.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt as _;
use mpcium_node::request::streams::{ensure_streams, publish_result, request_consumer};
use mpcium_protocol::subjects::{self, ResultKind, RESULT_STREAM, RESULT_STREAM_SUBJECTS};
use mpcium_protocol::ClientId;
use mpcium_testkit::NatsServer;

const TS_MAX_BYTES: i64 = 100 * 1024 * 1024;
const GO_MAX_BYTES: i64 = 100_000_000;
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
const KINDS: [ResultKind; 3] = [ResultKind::Keygen, ResultKind::Signing, ResultKind::Reshare];

async fn must_jetstream(nats: &NatsServer) -> jetstream::Context {
    jetstream::new(async_nats::connect(nats.url()).await.unwrap())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn must_config(js: &jetstream::Context, name: &str) -> stream::Config {
    js.get_stream(name)
        .await
        .unwrap()
        .cached_info()
        .config
        .clone()
}

/// `jsm.streams.add` of `ensureStreamsExist` and of the first result listener (keygen).
async fn must_create_ts_streams(js: &jetstream::Context) {
    for (name, subject) in [
        (subjects::KEYGEN_STREAM, subjects::KEYGEN_REQUEST_SUBJECTS),
        (subjects::SIGNING_STREAM, subjects::SIGNING_REQUEST_SUBJECTS),
    ] {
        js.create_stream(stream::Config {
            name: name.into(),
            subjects: strings(&[subject]),
            retention: stream::RetentionPolicy::WorkQueue,
            max_bytes: TS_MAX_BYTES,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    js.create_stream(stream::Config {
        name: RESULT_STREAM.into(),
        subjects: strings(&["mpc.mpc_keygen_result.*"]),
        retention: stream::RetentionPolicy::Interest,
        max_bytes: TS_MAX_BYTES,
        ..Default::default()
    })
    .await
    .unwrap();
}

/// `jsm.consumers.add("mpc", …)` of one TypeScript result listener.
async fn ts_result_consumer(
    js: &jetstream::Context,
    kind: ResultKind,
) -> Result<consumer::PullConsumer, String> {
    let durable = kind.consumer_name(None);
    let stream = js.get_stream(RESULT_STREAM).await.unwrap();
    stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(durable),
            ack_policy: consumer::AckPolicy::Explicit,
            filter_subject: format!("{}.*", kind.prefix()),
            max_deliver: 3,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())
}

/// `NewJetStreamBroker` (both request streams) and `NewNATsMessageQueueManager("mpc", …)`.
async fn must_create_or_update_go_streams(js: &jetstream::Context, result_subjects: &[&str]) {
    for (name, subject) in [
        (subjects::KEYGEN_STREAM, subjects::KEYGEN_REQUEST_SUBJECTS),
        (subjects::SIGNING_STREAM, subjects::SIGNING_REQUEST_SUBJECTS),
    ] {
        js.create_or_update_stream(stream::Config {
            name: name.into(),
            description: Some(format!("Stream for {name}")),
            subjects: strings(&[subject]),
            max_age: WEEK,
            max_bytes: GO_MAX_BYTES,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    js.create_or_update_stream(stream::Config {
        name: RESULT_STREAM.into(),
        description: Some("Stream for mpc".into()),
        subjects: strings(result_subjects),
        max_bytes: GO_MAX_BYTES,
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::WorkQueue,
        ..Default::default()
    })
    .await
    .unwrap();
}

/// `NATsMessageQueueManager.NewMessageQueue(name, filter)` of the Go client (create or update).
async fn must_go_result_consumer(
    js: &jetstream::Context,
    name: &str,
    filter: String,
) -> consumer::PullConsumer {
    let stream = js.get_stream(RESULT_STREAM).await.unwrap();
    stream
        .create_consumer(consumer::pull::Config {
            name: Some(name.to_owned()),
            durable_name: Some(name.to_owned()),
            max_ack_pending: 1000,
            ack_wait: Duration::from_secs(30),
            ack_policy: consumer::AckPolicy::Explicit,
            filter_subjects: vec![filter],
            max_deliver: 3,
            ..Default::default()
        })
        .await
        .unwrap()
}

/// What a node publishes for `kind` and `client`, stored by JetStream.
async fn must_publish(
    js: &jetstream::Context,
    kind: ResultKind,
    client: Option<&ClientId>,
    id: &str,
) -> String {
    let subject = kind.subject(client, id);
    publish_result(
        js,
        subject.clone(),
        id,
        format!("{{\"id\":\"{id}\"}}").into(),
    )
    .await
    .unwrap_or_else(|e| panic!("{subject}: {e}"));
    subject
}

/// The next message `consumer` delivers, acknowledged as the clients do.
async fn must_receive(consumer: &consumer::PullConsumer) -> String {
    let mut batch = consumer
        .batch()
        .max_messages(1)
        .expires(Duration::from_secs(20))
        .messages()
        .await
        .unwrap();
    let message = batch
        .next()
        .await
        .expect("a message before the batch expires")
        .unwrap();
    message.ack().await.unwrap();
    message.subject.to_string()
}

#[tokio::test]
async fn typescript_streams_first_get_the_result_subjects_and_keep_their_retention() {
    let nats = NatsServer::must_start();
    let js = must_jetstream(&nats).await;
    must_create_ts_streams(&js).await;
    let keygen = ts_result_consumer(&js, ResultKind::Keygen).await.unwrap();
    // Its other listeners run too, but no stream stores what they filter on yet.
    let signing = ts_result_consumer(&js, ResultKind::Signing).await.unwrap();
    let reshare = ts_result_consumer(&js, ResultKind::Reshare).await.unwrap();
    let unstored = js
        .publish(ResultKind::Signing.subject(None, "t0"), "{}".into())
        .await
        .unwrap();
    assert!(unstored.await.is_err());

    ensure_streams(&js).await.unwrap();

    let results = must_config(&js, RESULT_STREAM).await;
    assert_eq!(results.subjects, strings(&RESULT_STREAM_SUBJECTS));
    assert_eq!(results.retention, stream::RetentionPolicy::Interest);
    assert_eq!(results.max_bytes, TS_MAX_BYTES);
    for name in [subjects::KEYGEN_STREAM, subjects::SIGNING_STREAM] {
        let requests = must_config(&js, name).await;
        assert_eq!(
            requests.retention,
            stream::RetentionPolicy::WorkQueue,
            "{name}"
        );
        assert_eq!(requests.max_bytes, TS_MAX_BYTES, "{name}");
        assert_eq!(requests.subjects.len(), 1, "{name}");
    }
    // The nodes' shared request consumers work on the WorkQueue request streams.
    request_consumer(
        &js,
        subjects::SIGNING_STREAM,
        subjects::SIGNING_CONSUMER,
        subjects::SIGNING_REQUEST_SUBJECTS,
        8,
    )
    .await
    .unwrap();

    for (kind, consumer, id) in [
        (ResultKind::Keygen, &keygen, "w1"),
        (ResultKind::Signing, &signing, "t1"),
        (ResultKind::Reshare, &reshare, "s1"),
    ] {
        let subject = must_publish(&js, kind, None, id).await;
        assert_eq!(must_receive(consumer).await, subject);
    }
    // A client-ID-scoped result (a Go master client sharing the cluster) is stored too.
    let cid = ClientId::new("svc-a").unwrap();
    must_publish(&js, ResultKind::Signing, Some(&cid), "t2").await;
}

#[tokio::test]
async fn typescript_client_after_the_nodes_uses_their_streams_as_they_are() {
    let nats = NatsServer::must_start();
    let js = must_jetstream(&nats).await;
    ensure_streams(&js).await.unwrap();
    let before = must_config(&js, RESULT_STREAM).await;
    // `jsm.streams.info` finds every stream, so the client adds only its consumers.
    let mut consumers = Vec::new();
    for kind in KINDS {
        consumers.push(ts_result_consumer(&js, kind).await.unwrap());
    }
    for (kind, consumer, id) in [
        (ResultKind::Keygen, &consumers[0], "w1"),
        (ResultKind::Signing, &consumers[1], "t1"),
        (ResultKind::Reshare, &consumers[2], "s1"),
    ] {
        let subject = must_publish(&js, kind, None, id).await;
        assert_eq!(must_receive(consumer).await, subject);
    }
    // A node restarting later changes nothing.
    ensure_streams(&js).await.unwrap();
    assert_eq!(
        must_config(&js, RESULT_STREAM).await.subjects,
        before.subjects
    );
}

#[tokio::test]
async fn go_v035_streams_first_get_the_wider_result_subjects() {
    let nats = NatsServer::must_start();
    let js = must_jetstream(&nats).await;
    let narrow = [
        "mpc.mpc_keygen_result.*",
        "mpc.mpc_signing_result.*",
        "mpc.mpc_reshare_result.*",
    ];
    must_create_or_update_go_streams(&js, &narrow).await;
    let mut consumers = Vec::new();
    for kind in KINDS {
        let name = kind.consumer_name(None);
        consumers.push(must_go_result_consumer(&js, &name, format!("{}.*", kind.prefix())).await);
    }

    ensure_streams(&js).await.unwrap();

    let results = must_config(&js, RESULT_STREAM).await;
    assert_eq!(results.subjects, strings(&RESULT_STREAM_SUBJECTS));
    assert_eq!(results.retention, stream::RetentionPolicy::WorkQueue);
    assert_eq!(results.description.as_deref(), Some("Stream for mpc"));
    assert_eq!(results.max_bytes, GO_MAX_BYTES);
    let keygen = must_config(&js, subjects::KEYGEN_STREAM).await;
    assert_eq!(keygen.retention, stream::RetentionPolicy::Limits);
    assert_eq!(keygen.description.as_deref(), Some("Stream for mpc-keygen"));
    for (kind, consumer, id) in [
        (ResultKind::Keygen, &consumers[0], "w1"),
        (ResultKind::Signing, &consumers[1], "t1"),
        (ResultKind::Reshare, &consumers[2], "s1"),
    ] {
        let subject = must_publish(&js, kind, None, id).await;
        assert_eq!(must_receive(consumer).await, subject);
    }

    // The v0.3.5 client restarting narrows `mpc` again; unscoped results still route.
    must_create_or_update_go_streams(&js, &narrow).await;
    let subject = must_publish(&js, ResultKind::Signing, None, "t3").await;
    assert_eq!(must_receive(&consumers[1]).await, subject);
}

#[tokio::test]
async fn go_master_client_with_a_client_id_before_or_after_the_nodes() {
    let cid = ClientId::new("svc-a").unwrap();
    for client_first in [true, false] {
        let nats = NatsServer::must_start();
        let js = must_jetstream(&nats).await;
        if !client_first {
            ensure_streams(&js).await.unwrap();
        }
        must_create_or_update_go_streams(&js, &RESULT_STREAM_SUBJECTS).await;
        let mut consumers = Vec::new();
        for kind in KINDS {
            // sanitizeConsumerName(ResultConsumerName(base, cid)) and *SubscriptionSubject(cid).
            let name = subjects::sanitize_consumer_name(&format!(
                "{}.{}",
                kind.consumer_name(None),
                cid.as_str()
            ));
            assert_eq!(name, kind.consumer_name(Some(&cid)));
            consumers
                .push(must_go_result_consumer(&js, &name, kind.filter_subject(Some(&cid))).await);
        }
        let before = must_config(&js, RESULT_STREAM).await;
        if client_first {
            ensure_streams(&js).await.unwrap();
        }
        let after = must_config(&js, RESULT_STREAM).await;
        assert_eq!(
            after.subjects, before.subjects,
            "client first: {client_first}"
        );
        assert_eq!(after.description.as_deref(), Some("Stream for mpc"));
        for (kind, consumer, id) in [
            (ResultKind::Keygen, &consumers[0], "w1"),
            (ResultKind::Signing, &consumers[1], "t1"),
            (ResultKind::Reshare, &consumers[2], "s1"),
        ] {
            let subject = must_publish(&js, kind, Some(&cid), id).await;
            assert_eq!(must_receive(consumer).await, subject);
        }
    }
}

#[tokio::test]
async fn a_request_stream_missing_the_request_subject_gets_it() {
    let nats = NatsServer::must_start();
    let js = must_jetstream(&nats).await;
    js.create_stream(stream::Config {
        name: subjects::SIGNING_STREAM.into(),
        subjects: strings(&["mpc.signing_request.vip", "ops.audit"]),
        retention: stream::RetentionPolicy::Interest,
        ..Default::default()
    })
    .await
    .unwrap();
    ensure_streams(&js).await.unwrap();
    let config = must_config(&js, subjects::SIGNING_STREAM).await;
    assert_eq!(
        config.subjects,
        strings(&["ops.audit", subjects::SIGNING_REQUEST_SUBJECTS])
    );
    assert_eq!(config.retention, stream::RetentionPolicy::Interest);
}

#[tokio::test]
async fn a_refused_update_is_an_error_naming_the_stream_and_the_subjects() {
    let nats = NatsServer::must_start();
    let js = must_jetstream(&nats).await;
    must_create_ts_streams(&js).await;
    // Another stream already captures the signing results.
    js.create_stream(stream::Config {
        name: "audit".into(),
        subjects: strings(&["mpc.mpc_signing_result.>"]),
        ..Default::default()
    })
    .await
    .unwrap();

    let error = ensure_streams(&js).await.unwrap_err().to_string();
    assert!(error.contains("stream mpc"), "{error}");
    assert!(error.contains("mpc.mpc_signing_result.>"), "{error}");
    assert!(error.contains("overlap"), "{error}");
    assert_eq!(
        must_config(&js, RESULT_STREAM).await.subjects,
        strings(&["mpc.mpc_keygen_result.*"])
    );
}

#[tokio::test]
async fn a_result_stream_narrowed_after_the_nodes_started_is_widened_again_on_publish() {
    let nats = NatsServer::must_start();
    let js = must_jetstream(&nats).await;
    ensure_streams(&js).await.unwrap();
    let cid = ClientId::new("svc-a").unwrap();
    let scoped = must_go_result_consumer(
        &js,
        &ResultKind::Signing.consumer_name(Some(&cid)),
        ResultKind::Signing.filter_subject(Some(&cid)),
    )
    .await;
    // A Go v0.3.5 client starting now re-creates `mpc` with its narrower subjects.
    must_create_or_update_go_streams(
        &js,
        &[
            "mpc.mpc_keygen_result.*",
            "mpc.mpc_signing_result.*",
            "mpc.mpc_reshare_result.*",
        ],
    )
    .await;

    let subject = must_publish(&js, ResultKind::Signing, Some(&cid), "t1").await;
    assert_eq!(must_receive(&scoped).await, subject);
    let results = must_config(&js, RESULT_STREAM).await;
    assert_eq!(results.subjects, strings(&RESULT_STREAM_SUBJECTS));
    assert_eq!(results.description.as_deref(), Some("Stream for mpc"));
}
