//! Hostile input against a cluster of real node processes. Client requests with forged, missing
//! or wrong-algorithm initiator signatures, missing or forged authorizer signatures, fields of the
//! wrong type, length or encoding, oversized fields, no readable id, or replayed after they
//! completed; node-to-node messages that are unsigned, forged, from a non-member, misaddressed,
//! truncated, oversized, replayed and reordered after their session, malformed session control,
//! a flood from an authenticated member, and a flood of valid session starts from one. Each is
//! answered with its error code or dropped and counted (`mpcium_dropped_messages_total`); no node
//! stops, nothing stored changes, the floods stay within their configured bounds, and the next
//! honest request succeeds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use base64::Engine as _;
use futures::StreamExt;
use mpcium_client::hd::compress_secp256k1;
use mpcium_client::{
    Authorizer, Client, ClientError, ClientOptions, LocalSigner, Nats, ResultEvent, SignRequest,
    Signer,
};
use mpcium_e2e::faults::must_wait_async;
use mpcium_e2e::{must_http_get, must_recover_ecdsa, must_verify_eddsa, Cluster, ClusterOptions};
use mpcium_node::session::abort::{abort_session, Abort};
use mpcium_node::session::control::{Operation, Outcome, Start};
use mpcium_node::transport::bus::node_subject;
use mpcium_node::transport::channel::{self, ABORT, OUTCOME, START};
use mpcium_node::transport::envelope::{self, Channel, Header};
use mpcium_node::transport::keys::{KeyRing, LocalKeys};
use mpcium_protocol::subjects::{
    keygen_request_subject, signing_request_subject, CLIENT_ID_HEADER,
};
use mpcium_protocol::{
    AuthorizerSignature, ClientId, ErrorCode, InitiatorMessage, KeyType, SignTxMessage,
};
use mpcium_state::identity::{node, NodeIdentity, NodeSigningKey};
use mpcium_state::registry::Registry;
use mpcium_state::store::KeyType as StoreKeyType;
use sha2::{Digest, Sha256};

const WAIT: Duration = Duration::from_secs(60);

fn wallet_id() -> String {
    format!("w-{}", uuid::Uuid::new_v4())
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn must_fail_with(
    result: Result<impl std::fmt::Debug, ClientError>,
    expected: ErrorCode,
) -> String {
    match result {
        Err(ClientError::Failed { code, reason }) => {
            assert_eq!(code, expected, "{reason}");
            reason
        }
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

/// The value of `series` (a metric name with its full label set) in a `/metrics` text; 0 when
/// absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn dropped(source: &str, reason: &str) -> String {
    format!("mpcium_dropped_messages_total{{source=\"{source}\",reason=\"{reason}\"}}")
}

/// `dropped(source, reason)` summed over every node's `/metrics`.
async fn dropped_total(cluster: &Cluster, source: &str, reason: &str) -> f64 {
    let mut total = 0.0;
    for node in &cluster.nodes {
        let text = must_http_get(node.health.expect("health address"), "/metrics").await;
        total += sample(&text, &dropped(source, reason));
    }
    total
}

/// Waits until every `(source, reason)` counter, summed over the nodes, reaches its minimum.
async fn must_see_dropped(cluster: &Cluster, expected: &[(&str, &str, f64)]) {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut missing = Vec::new();
        for &(source, reason, at_least) in expected {
            let seen = dropped_total(cluster, source, reason).await;
            if seen < at_least {
                missing.push(format!("{source}/{reason}: {seen} < {at_least}"));
            }
        }
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "drops not counted within {WAIT:?}: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Resident memory of a process, in bytes.
fn must_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// Every node's id and identity key, from node `i`'s identity directory.
fn must_peer_keys(cluster: &Cluster, i: usize) -> Vec<(String, ed25519_dalek::VerifyingKey)> {
    cluster
        .nodes
        .iter()
        .map(|peer| {
            let path = cluster.nodes[i]
                .dir
                .join("identity")
                .join(node::identity_file_name(&peer.name));
            let identity = NodeIdentity::load(&path).expect("identity file");
            (
                identity.node_id.clone(),
                identity.verifying_key().expect("identity key"),
            )
        })
        .collect()
}

/// The transport keys of member `i`, read from its own private key file: what a compromised
/// member holds.
fn must_member_ring(cluster: &Cluster, i: usize) -> KeyRing {
    let node = &cluster.nodes[i];
    let text = std::fs::read(
        node.dir
            .join("identity")
            .join(node::private_key_file_name(&node.name, false)),
    )
    .expect("private key file");
    let key = NodeSigningKey::from_key_text(&text).expect("private key");
    KeyRing::new(
        LocalKeys::new(node.id.clone(), key.signing_key().clone()),
        must_peer_keys(cluster, i),
    )
    .expect("key ring")
}

/// Keys of someone who is not a member, claiming to be `claimed_id`.
fn must_outsider_ring(cluster: &Cluster, claimed_id: &str) -> KeyRing {
    let key = NodeSigningKey::generate();
    KeyRing::new(
        LocalKeys::new(claimed_id.to_owned(), key.signing_key().clone()),
        must_peer_keys(cluster, 0),
    )
    .expect("key ring")
}

fn header(channel: Channel, session: [u8; 32], seq: u64, from: &str, to: &str) -> Header {
    Header {
        channel,
        session,
        round: 1,
        seq,
        broadcast: false,
        from: from.to_owned(),
        to: to.to_owned(),
    }
}

fn must_seal(ring: &KeyRing, header: &Header, payload: &[u8]) -> Vec<u8> {
    envelope::seal(ring, header, payload).expect("seal")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_node_messages_are_dropped_and_counted_and_the_cluster_still_signs() {
    const EARLY_BYTES: usize = 4 * 1024 * 1024;
    let mut cluster = Cluster::must_start(ClusterOptions {
        health: true,
        extra_config: format!("max_early_message_bytes: {EARLY_BYTES}\n"),
        ..Default::default()
    })
    .await;
    let client = cluster.must_client("hostile").await;
    let wallet = wallet_id();
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let ecdsa = compress_secp256k1(keys.ecdsa_pub_key.as_deref().expect("key")).expect("point");
    let keyinfo_before = cluster
        .registry
        .keyinfo(StoreKeyType::Ecdsa, &wallet)
        .await
        .expect("registry")
        .expect("keyinfo");

    let nats = async_nats::connect(cluster.nats.url()).await.expect("nats");
    let target = cluster.nodes[0].id.clone();
    let to_target = node_subject(&target);
    let member = cluster.nodes[1].id.clone();
    let member_ring = must_member_ring(&cluster, 1);
    let publish = |bytes: Vec<u8>| {
        let nats = nats.clone();
        let subject = to_target.clone();
        async move {
            nats.publish(subject, bytes.into())
                .await
                .expect("publish to the target node");
        }
    };
    let protocol = channel::of_protocol(mpcium_tss::ProtocolKind::EddsaSign);
    let valid = must_seal(
        &member_ring,
        &header(protocol, rand::random(), 0, &member, &target),
        b"a protocol frame",
    );

    // Not an envelope; a truncated one; an unknown version.
    publish(b"not an envelope".to_vec()).await;
    publish(valid[..valid.len() / 2].to_vec()).await;
    let mut version = valid.clone();
    version[2] = 0x7f;
    publish(version).await;
    // Unsigned: a valid layout whose signature is zeros.
    let mut unsigned = valid.clone();
    let len = unsigned.len();
    unsigned[len - 64..].fill(0);
    publish(unsigned).await;
    // Signed by a key that is not the claimed member's.
    let impostor = must_outsider_ring(&cluster, &member);
    publish(must_seal(
        &impostor,
        &header(protocol, rand::random(), 0, &member, &target),
        b"forged",
    ))
    .await;
    // From a node that is not a member at all.
    let outsider = must_outsider_ring(&cluster, "not-a-member");
    publish(must_seal(
        &outsider,
        &header(protocol, rand::random(), 0, "not-a-member", &target),
        b"intruder",
    ))
    .await;
    // Addressed to another node.
    publish(must_seal(
        &member_ring,
        &header(protocol, rand::random(), 0, &member, &cluster.nodes[2].id),
        b"misaddressed",
    ))
    .await;
    // A body length beyond the limit.
    let header_len = usize::from(u16::from_be_bytes([valid[0], valid[1]]));
    let mut huge = valid[..2 + header_len].to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    huge.extend_from_slice(&[0; 64]);
    publish(huge).await;
    // A session start that does not decode, and one that decodes but carries a request the
    // initiator never signed (refused by the participant), sent twice: the copy is a replay.
    publish(must_seal(
        &member_ring,
        &header(START, rand::random(), 0, &member, &target),
        b"{not json",
    ))
    .await;
    let forged_start = Start::new(
        Operation::Sign,
        vec![member.clone(), target.clone()],
        br#"{"key_type":"ed25519","wallet_id":"w","network_internal_code":"","tx_id":"t","tx":"AA==","signature":null,"derivation_path":null}"#
            .to_vec(),
    );
    let start_json = serde_json::to_vec(&forged_start).expect("start json");
    let start_session = mpcium_node::session::control::start_session(&forged_start.nonce);
    for seq in 0..2 {
        publish(must_seal(
            &member_ring,
            &header(START, start_session, seq, &member, &target),
            &start_json,
        ))
        .await;
    }
    must_see_dropped(
        &cluster,
        &[
            ("node", "malformed", 3.0),
            ("node", "bad_signature", 2.0),
            ("node", "unknown_sender", 1.0),
            ("node", "not_for_us", 1.0),
            ("node", "too_large", 1.0),
            ("node", "malformed_control", 1.0),
            ("node", "replay", 1.0),
        ],
    )
    .await;

    // A flood from the authenticated member: 96 MiB of early messages for sessions that never
    // start. The node buffers at most `max_early_message_bytes` and drops the rest, counted.
    let pid = cluster.nodes[0].pid().expect("target runs");
    let rss_before = must_rss(pid);
    // Sent in batches, each once the node has dealt with all but the last batch, so what
    // grows is the node's buffer and not the NATS backlog.
    let chunk = vec![0x5a_u8; 512 * 1024];
    let overloaded_before = dropped_total(&cluster, "node", "overloaded").await;
    const BATCH: u64 = 16;
    // What the buffer holds at once, twice: on a slow run the first early messages may reach
    // the router's expiry (120 s) and free their room for one more buffer-full.
    let buffered_at_most = 2.0 * (EARLY_BYTES / chunk.len()) as f64;
    for batch in 0..12 {
        for seq in batch * BATCH..(batch + 1) * BATCH {
            publish(must_seal(
                &member_ring,
                &header(protocol, rand::random(), seq, &member, &target),
                &chunk,
            ))
            .await;
        }
        nats.flush().await.expect("flush");
        let handled = (batch * BATCH) as f64 - buffered_at_most;
        must_see_dropped(
            &cluster,
            &[("node", "overloaded", overloaded_before + handled.max(0.0))],
        )
        .await;
    }
    must_see_dropped(
        &cluster,
        &[(
            "node",
            "overloaded",
            overloaded_before + (12 * BATCH) as f64 - buffered_at_most,
        )],
    )
    .await;
    let grown = must_rss(pid).saturating_sub(rss_before);
    eprintln!(
        "flood: 96 MiB sent, node RSS grew by {} KiB (buffer bound {} MiB)",
        grown / 1024,
        EARLY_BYTES / (1024 * 1024)
    );
    assert!(
        grown < 64 * 1024 * 1024,
        "a 96 MiB flood grew the node by {} MiB with a {} MiB buffer bound",
        grown / (1024 * 1024),
        EARLY_BYTES / (1024 * 1024)
    );
    let text = must_http_get(cluster.nodes[0].health.expect("health"), "/metrics").await;
    assert!(
        sample(
            &text,
            r#"mpcium_limit_rejections_total{limit="early_message_bytes"}"#
        ) >= 1.0,
        "{text}"
    );

    // Replayed and reordered: every envelope of a real signing, captured on the wire and
    // published again in reverse order once the signing has finished. Starts are refused as
    // replays, everything else as late for its finished session; nothing is signed again.
    let captured = Arc::new(Mutex::new(Vec::<(String, Vec<u8>)>::new()));
    let mut wire = nats.subscribe("mpcium.p2p.>").await.expect("subscribe");
    nats.flush().await.expect("flush");
    let recorder = {
        let captured = captured.clone();
        tokio::spawn(async move {
            while let Some(message) = wire.next().await {
                captured
                    .lock()
                    .expect("capture")
                    .push((message.subject.to_string(), message.payload.to_vec()));
            }
        })
    };
    let replay_before = dropped_total(&cluster, "node", "replay").await;
    let late_before = dropped_total(&cluster, "node", "late").await;
    let signed = client
        .sign(SignRequest::eddsa(&wallet, b"captured".to_vec()))
        .await
        .expect("eddsa sign");
    must_verify_eddsa(
        &signed,
        b"captured",
        keys.eddsa_pub_key.as_deref().expect("key"),
    );
    recorder.abort();
    let recorded: Vec<(String, Vec<u8>)> = captured.lock().expect("capture").clone();
    let starts = recorded
        .iter()
        .filter(|(_, bytes)| bytes.get(3) == Some(&START.0))
        .count() as f64;
    assert!(starts >= 2.0, "a 2-of-3 signing starts on two nodes");
    for (subject, bytes) in recorded.iter().rev() {
        nats.publish(subject.clone(), bytes.clone().into())
            .await
            .expect("replay");
    }
    nats.flush().await.expect("flush");
    let total = recorded.len() as f64;
    let deadline = Instant::now() + WAIT;
    loop {
        let replays = dropped_total(&cluster, "node", "replay").await - replay_before;
        let late = dropped_total(&cluster, "node", "late").await - late_before;
        if replays >= starts && replays + late >= total {
            eprintln!("replayed {total} captured envelopes: {replays} replays, {late} late");
            assert_eq!(
                replays + late,
                total,
                "every replayed envelope is dropped once"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replays not all dropped: {replays} replays + {late} late of {total}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Nothing changed, every node still runs, and honest requests still succeed.
    for i in 0..cluster.nodes.len() {
        assert!(
            cluster.nodes[i].is_running(),
            "{} stopped",
            cluster.nodes[i].name
        );
    }
    let keyinfo_after = cluster
        .registry
        .keyinfo(StoreKeyType::Ecdsa, &wallet)
        .await
        .expect("registry")
        .expect("keyinfo");
    assert_eq!(keyinfo_after, keyinfo_before);
    let d = digest("after the hostile traffic");
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d))
        .await
        .expect("ecdsa sign");
    must_recover_ecdsa(&signed, &d, &ecdsa);
    for node in &cluster.nodes {
        assert!(!node.log().contains("panicked"), "{} panicked", node.name);
    }
}

/// `series` in node `i`'s `/metrics`.
async fn node_sample(cluster: &Cluster, i: usize, series: &str) -> f64 {
    let text = must_http_get(cluster.nodes[i].health.expect("health address"), "/metrics").await;
    sample(&text, series)
}

/// Waits until `series` on node `i` equals `expected`.
async fn must_see_sample(cluster: &Cluster, i: usize, series: &str, expected: f64) {
    let what = format!("{series} = {expected} on {}", cluster.nodes[i].name);
    must_wait_async(&what, WAIT, || async {
        (node_sample(cluster, i, series).await == expected).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_valid_session_starts_from_a_member_runs_at_most_max_concurrent_sessions() {
    const MAX_SESSIONS: usize = 4;
    const STARTS: usize = 24;
    let mut cluster = Cluster::must_start(ClusterOptions {
        health: true,
        extra_config: format!("max_concurrent_sessions: {MAX_SESSIONS}\n"),
        ..Default::default()
    })
    .await;
    let client = cluster.must_client("start-flood").await;
    let wallet = wallet_id();
    let keys = client.create_wallet(&wallet).await.expect("keygen");

    // A compromised member orders the target into signing sessions, each for a request the
    // initiator really signed, and then never sends a round: every part it admits waits for
    // its coordinator until the signing deadline.
    let nats = async_nats::connect(cluster.nats.url()).await.expect("nats");
    let target = cluster.nodes[0].id.clone();
    let member = cluster.nodes[1].id.clone();
    let member_ring = must_member_ring(&cluster, 1);
    let initiator = cluster.initiator();
    let in_flight = r#"mpcium_sessions_in_flight{operation="sign"}"#;
    let rejected = r#"mpcium_limit_rejections_total{limit="sessions"}"#;
    let overloaded = dropped("node", "overloaded");
    let overloaded_before = node_sample(&cluster, 0, &overloaded).await;
    let rejected_before = node_sample(&cluster, 0, rejected).await;
    // What the target answers its "coordinator", read on the member's subject with its keys.
    let mut answers = nats
        .subscribe(node_subject(&member))
        .await
        .expect("subscribe");
    nats.flush().await.expect("flush");
    let mut nonces = Vec::new();
    for i in 0..STARTS {
        let request = signed_request(&wallet, &format!("flood-{i}-{wallet}"), &initiator, &[]);
        let start = Start::new(
            Operation::Sign,
            vec![member.clone(), target.clone()],
            request.to_json(),
        );
        let session = mpcium_node::session::control::start_session(&start.nonce);
        let bytes = must_seal(
            &member_ring,
            &header(START, session, 0, &member, &target),
            &serde_json::to_vec(&start).expect("start json"),
        );
        nats.publish(node_subject(&target), bytes.into())
            .await
            .expect("publish a start");
        nonces.push(start.nonce);
    }
    nats.flush().await.expect("flush");
    let sent = Instant::now();

    // The first MAX_SESSIONS run; every start beyond them is refused at once, counted and
    // answered with ERROR_CONCURRENCY_LIMIT, not queued.
    let beyond = (STARTS - MAX_SESSIONS) as f64;
    let mut refused = BTreeSet::new();
    while refused.len() < STARTS - MAX_SESSIONS {
        let message = tokio::time::timeout(WAIT, answers.next())
            .await
            .expect("the refusals arrive within the deadline")
            .expect("subscription");
        let Ok(opened) = envelope::open(&member_ring, &message.payload) else {
            continue;
        };
        if opened.header.channel != OUTCOME || opened.header.from != target {
            continue;
        }
        let outcome: Outcome = serde_json::from_slice(&opened.payload).expect("outcome");
        let failure = outcome.result.expect_err("a refusal");
        assert_eq!(
            failure.code, "ERROR_CONCURRENCY_LIMIT",
            "{}",
            failure.reason
        );
        assert!(nonces.contains(&outcome.nonce));
        refused.insert(outcome.nonce);
    }
    let refused_after = sent.elapsed();
    must_see_sample(&cluster, 0, &overloaded, overloaded_before + beyond).await;
    must_see_sample(&cluster, 0, in_flight, MAX_SESSIONS as f64).await;
    assert!(
        node_sample(&cluster, 0, rejected).await >= rejected_before + beyond,
        "each dropped start counts as a sessions-limit rejection"
    );

    // Its coordinator aborts them (aborts for the dropped ones change nothing): the parts stop
    // at once, not at the 60 s deadline, and the node has its session slots back.
    for nonce in &nonces {
        let abort = serde_json::to_vec(&Abort {
            nonce: nonce.clone(),
        })
        .expect("abort json");
        let bytes = must_seal(
            &member_ring,
            &header(ABORT, abort_session(nonce), 0, &member, &target),
            &abort,
        );
        nats.publish(node_subject(&target), bytes.into())
            .await
            .expect("publish an abort");
    }
    nats.flush().await.expect("flush");
    let aborted = Instant::now();
    must_see_sample(&cluster, 0, in_flight, 0.0).await;
    eprintln!(
        "start flood: {STARTS} starts, {MAX_SESSIONS} ran, {} refused within {refused_after:?}; \
         the aborted parts ended within {:?}",
        refused.len(),
        aborted.elapsed()
    );
    assert_eq!(
        cluster.nodes[0]
            .log_lines("session part aborted by its coordinator")
            .len(),
        MAX_SESSIONS
    );
    assert_eq!(
        node_sample(&cluster, 0, &overloaded).await,
        overloaded_before + beyond,
        "aborts are not starts"
    );

    // Nothing was signed for the flood, and with node 2 stopped every committee includes the
    // flooded node: it signs.
    let flood_signed: Vec<String> = cluster
        .nodes
        .iter()
        .flat_map(|n| n.log_lines("signing success"))
        .filter(|line| line.contains("flood-"))
        .collect();
    assert!(flood_signed.is_empty(), "{flood_signed:#?}");
    cluster.must_stop(2).await;
    let signed = client
        .sign(SignRequest::eddsa(
            &wallet,
            b"after the start flood".to_vec(),
        ))
        .await
        .expect("eddsa sign");
    must_verify_eddsa(
        &signed,
        b"after the start flood",
        keys.eddsa_pub_key.as_deref().expect("key"),
    );
    for node in &cluster.nodes {
        assert!(!node.log().contains("panicked"), "{} panicked", node.name);
    }
}

/// A client signing as `initiator`, co-signed by `authorizer` when given.
async fn must_client(
    cluster: &Cluster,
    id: &str,
    initiator: Arc<LocalSigner>,
    authorizer: Option<Authorizer>,
) -> Client {
    let mut options = ClientOptions::new(Nats::Url(cluster.nats.url().to_owned()), initiator)
        .with_client_id(ClientId::new(id).expect("client id"));
    if let Some(authorizer) = authorizer {
        options = options.with_authorizer(authorizer);
    }
    Client::connect(options).await.expect("client connects")
}

/// Publishes raw request bytes as client `client` would and waits for the result with `id`.
async fn must_raw_result(
    js: &jetstream::Context,
    client: &Client,
    subject: String,
    id: &str,
    payload: Vec<u8>,
) -> ResultEvent {
    let mut results = client.results();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(
        CLIENT_ID_HEADER,
        client.client_id().expect("client id").as_str(),
    );
    js.publish_with_headers(subject, headers, payload.into())
        .await
        .expect("publish")
        .await
        .expect("stored");
    let wait = async {
        while let Some(event) = results.next().await {
            let event = event.expect("the result stream keeps up");
            let matches = match &event {
                ResultEvent::Keygen(e) => e.wallet_id == id,
                ResultEvent::Signing(e) => e.tx_id == id,
                ResultEvent::Reshare { session_id, .. } => session_id == id,
            };
            if matches {
                return event;
            }
        }
        panic!("result stream ended");
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .expect("a result within the deadline")
}

/// The error code of a signing result, `None` for a success.
fn signing_code(event: &ResultEvent) -> Option<ErrorCode> {
    match event {
        ResultEvent::Signing(e) => e.error_code.clone(),
        other => panic!("expected a signing result, got {other:?}"),
    }
}

/// A signing request for `wallet`, signed by `initiator` and co-signed by `authorizers`.
fn signed_request(
    wallet: &str,
    tx_id: &str,
    initiator: &LocalSigner,
    authorizers: &[(&str, &LocalSigner)],
) -> SignTxMessage {
    let mut msg = SignTxMessage {
        key_type: KeyType::Ed25519,
        wallet_id: wallet.to_owned(),
        network_internal_code: "sol".into(),
        tx_id: tx_id.to_owned(),
        tx: b"raw request".to_vec(),
        signature: Vec::new(),
        derivation_path: None,
        authorizer_signatures: Vec::new(),
        request_version: None,
        hash: None,
        protocol: None,
    };
    msg.signature = initiator.sign(&msg.signed_bytes()).expect("sign");
    let payload = msg.authorizer_payload();
    msg.authorizer_signatures = authorizers
        .iter()
        .map(|(id, signer)| AuthorizerSignature {
            authorizer_id: (*id).to_owned(),
            signature: signer.sign(&payload).expect("authorize"),
        })
        .collect();
    msg
}

/// `request` as JSON with `field` replaced by `value`.
fn with_field(request: &SignTxMessage, field: &str, value: serde_json::Value) -> Vec<u8> {
    let mut json: serde_json::Value = serde_json::from_slice(&request.to_json()).expect("json");
    json[field] = value;
    serde_json::to_vec(&json).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_their_error_codes_and_change_nothing() {
    let alice = LocalSigner::ed25519_from_seed(&rand::random());
    let cluster = Cluster::must_start(ClusterOptions {
        health: true,
        extra_config: format!(
            "authorization:\n  enabled: true\n  required_authorizers:\n    - alice\n  \
             authorizer_public_keys:\n    alice:\n      public_key: \"{}\"\n      algorithm: ed25519\n",
            alice.public_key_hex()
        ),
        ..Default::default()
    })
    .await;
    let initiator = cluster.initiator();
    let alice = Arc::new(alice);
    let honest = must_client(
        &cluster,
        "honest",
        initiator.clone(),
        Some(Authorizer::new("alice", alice.clone())),
    )
    .await;
    let wallet = wallet_id();
    let keys = honest.create_wallet(&wallet).await.expect("keygen");
    let eddsa = keys.eddsa_pub_key.clone().expect("eddsa key");

    // Initiator signatures: forged (another Ed25519 key), the wrong algorithm (P-256 where
    // Ed25519 is configured); authorizers: missing, forged.
    let forger = Arc::new(LocalSigner::ed25519_from_seed(&[7; 32]));
    let p256 = Arc::new(LocalSigner::p256_from_scalar(&[5; 32]).expect("p256 key"));
    let cases = [
        (
            "forged-initiator",
            forger.clone(),
            Some(Authorizer::new("alice", alice.clone())),
            ErrorCode::InvalidInitiatorSignature,
        ),
        (
            "p256-initiator",
            p256,
            Some(Authorizer::new("alice", alice.clone())),
            ErrorCode::InvalidInitiatorSignature,
        ),
        (
            "no-authorizer",
            initiator.clone(),
            None,
            ErrorCode::MissingAuthorizerSignature,
        ),
        (
            "forged-authorizer",
            initiator.clone(),
            Some(Authorizer::new("alice", forger.clone())),
            ErrorCode::InvalidAuthorizerSignature,
        ),
    ];
    for (name, signer, authorizer, code) in cases {
        let client = must_client(&cluster, name, signer, authorizer).await;
        let refused = wallet_id();
        must_fail_with(client.create_wallet(&refused).await, code.clone());
        must_fail_with(
            client
                .sign(SignRequest::eddsa(&wallet, name.as_bytes().to_vec()))
                .await,
            code,
        );
        let created = cluster
            .registry
            .keyinfo(StoreKeyType::Eddsa, &refused)
            .await
            .expect("registry");
        assert!(
            created.is_none(),
            "{name}: a refused keygen created a wallet"
        );
    }

    // Raw requests: no initiator signature, fields of the wrong type, length or encoding, an
    // oversized field; each answered with its code.
    let js = jetstream::new(async_nats::connect(cluster.nats.url()).await.expect("nats"));
    let alice_ref: &LocalSigner = &alice;
    type Edit = fn(&SignTxMessage) -> Vec<u8>;
    let raw_cases: [(&str, Edit, ErrorCode); 7] = [
        (
            "no-signature",
            |m: &SignTxMessage| with_field(m, "signature", serde_json::Value::Null),
            ErrorCode::InvalidInitiatorSignature,
        ),
        (
            "tx-as-number",
            |m: &SignTxMessage| with_field(m, "tx", 5.into()),
            ErrorCode::MsgValidation,
        ),
        (
            "tx-not-base64",
            |m: &SignTxMessage| with_field(m, "tx", "not base64!".into()),
            ErrorCode::MsgValidation,
        ),
        (
            "unknown-key-type",
            |m: &SignTxMessage| with_field(m, "key_type", "rsa".into()),
            ErrorCode::MsgValidation,
        ),
        (
            "short-digest",
            |m: &SignTxMessage| {
                let mut secp = m.clone();
                secp.key_type = KeyType::Secp256k1;
                with_field(&secp, "tx", b64(&[1; 31]).into())
            },
            ErrorCode::MsgValidation,
        ),
        (
            "oversized-tx",
            |m: &SignTxMessage| with_field(m, "tx", b64(&vec![0; 300 * 1024]).into()),
            ErrorCode::MsgValidation,
        ),
        (
            "signature-too-long",
            |m: &SignTxMessage| with_field(m, "signature", b64(&[1; 600]).into()),
            ErrorCode::MsgValidation,
        ),
    ];
    let mut outcomes = BTreeMap::new();
    for (name, edit, code) in raw_cases {
        let tx_id = format!("tx-{name}");
        let request = signed_request(&wallet, &tx_id, &initiator, &[("alice", alice_ref)]);
        let event = must_raw_result(
            &js,
            &honest,
            signing_request_subject(&tx_id),
            &tx_id,
            edit(&request),
        )
        .await;
        outcomes.insert(name, (signing_code(&event), code));
    }
    for (name, (found, expected)) in &outcomes {
        assert_eq!(found.as_ref(), Some(expected), "{name}");
    }

    // A keygen request without a readable id cannot be answered: it is dropped and counted.
    let before = dropped_total(&cluster, "request", "unidentifiable").await;
    js.publish(
        keygen_request_subject("garbage"),
        b"\xff\xfe{".to_vec().into(),
    )
    .await
    .expect("publish")
    .await
    .expect("stored");
    must_see_dropped(&cluster, &[("request", "unidentifiable", before + 1.0)]).await;

    // A request replayed byte for byte after it completed gets the same result again, and
    // nothing is signed twice.
    let request = signed_request(&wallet, "tx-replayed", &initiator, &[("alice", alice_ref)]);
    let first = must_raw_result(
        &js,
        &honest,
        signing_request_subject("tx-replayed"),
        "tx-replayed",
        request.to_json(),
    )
    .await;
    let again = must_raw_result(
        &js,
        &honest,
        signing_request_subject("tx-replayed"),
        "tx-replayed",
        request.to_json(),
    )
    .await;
    let (ResultEvent::Signing(first), ResultEvent::Signing(again)) = (first, again) else {
        panic!("expected signing results");
    };
    must_verify_eddsa(&first, b"raw request", &eddsa);
    assert_eq!(first.signature, again.signature, "a replay signed again");

    // Nothing stored changed: the wallet keeps its keys and still signs.
    let still = honest
        .create_wallet(&wallet)
        .await
        .expect("repeated keygen");
    assert_eq!(still.eddsa_pub_key, keys.eddsa_pub_key);
    assert_eq!(still.ecdsa_pub_key, keys.ecdsa_pub_key);
    let signed = honest
        .sign(SignRequest::eddsa(&wallet, b"still signs".to_vec()))
        .await
        .expect("eddsa sign");
    must_verify_eddsa(&signed, b"still signs", &eddsa);
    for node in &cluster.nodes {
        assert!(!node.log().contains("panicked"), "{} panicked", node.name);
    }
}
