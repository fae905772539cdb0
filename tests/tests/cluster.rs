//! A 2-of-3 cluster of real node processes: keygen, signing on both curves with independent
//! verification, HD derivation, a node down, duplicates and forgeries, client isolation, and a
//! full restart.

use std::time::Duration;

use futures::StreamExt;
use mpcium_client::hd::{compress_secp256k1, derive_secp256k1_from_keygen};
use mpcium_client::{
    Client, ClientError, ClientOptions, LocalSigner, Nats, ResultEvent, SignRequest,
};
use mpcium_e2e::{must_recover_ecdsa, must_verify_eddsa, Cluster, ClusterOptions, RegistryBackend};
use mpcium_protocol::hd::derive_ed25519;
use mpcium_protocol::{ClientId, ErrorCode};
use mpcium_state::registry::Registry;
use mpcium_state::store::KeyType;
use sha2::{Digest, Sha256};

fn wallet_id() -> String {
    format!("w-{}", uuid::Uuid::new_v4())
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keygen_and_signing_on_both_curves_verify_independently() {
    let cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("e2e").await;
    let wallet = wallet_id();

    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let ecdsa_xy = keys.ecdsa_pub_key.clone().expect("ecdsa key");
    let eddsa = keys.eddsa_pub_key.clone().expect("eddsa key");
    assert_eq!(ecdsa_xy.len(), 64, "reference encoding: X || Y");
    assert_eq!(eddsa.len(), 32);
    let ecdsa = compress_secp256k1(&ecdsa_xy).expect("on curve");

    // Every node recorded the wallet; the registry holds keyinfo for both key types.
    for key_type in [KeyType::Ecdsa, KeyType::Eddsa] {
        let info = cluster
            .registry
            .keyinfo(key_type, &wallet)
            .await
            .expect("registry")
            .expect("keyinfo");
        assert_eq!(info.participant_peer_ids.len(), 3);
        assert_eq!(info.threshold, 2);
    }

    let d = digest("pay bob 1 eth");
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d))
        .await
        .expect("ecdsa sign");
    must_recover_ecdsa(&signed, &d, &ecdsa);

    let message = b"\x00\x00\x01 solana message that starts with zero bytes".to_vec();
    let signed = client
        .sign(SignRequest::eddsa(&wallet, message.clone()))
        .await
        .expect("eddsa sign");
    must_verify_eddsa(&signed, &message, &eddsa);

    let path = vec![44, 60, 0, 0, 1];
    let child =
        derive_secp256k1_from_keygen(&ecdsa_xy, &cluster.chain_code, &path).expect("derive");
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d).with_derivation_path(path.clone()))
        .await
        .expect("hd ecdsa sign");
    must_recover_ecdsa(&signed, &d, &child.public_key);

    let eddsa_key: [u8; 32] = eddsa.as_slice().try_into().expect("32 bytes");
    let child = derive_ed25519(&eddsa_key, &cluster.chain_code, &path).expect("derive ed25519");
    let signed = client
        .sign(SignRequest::eddsa(&wallet, message.clone()).with_derivation_path(path))
        .await
        .expect("hd eddsa sign");
    must_verify_eddsa(&signed, &message, &child.public_key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_node_stopped_signing_succeeds_and_keygen_is_refused_naming_it() {
    let mut cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("e2e").await;
    let wallet = wallet_id();
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let ecdsa = compress_secp256k1(keys.ecdsa_pub_key.as_deref().expect("key")).expect("on curve");

    cluster.must_stop(2).await;
    let stopped = cluster.nodes[2].id.clone();

    let d = digest("signed by the two remaining nodes");
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d))
        .await
        .expect("2-of-3 ecdsa");
    must_recover_ecdsa(&signed, &d, &ecdsa);
    let signed = client
        .sign(SignRequest::eddsa(&wallet, b"hello".to_vec()))
        .await
        .expect("2-of-3 eddsa");
    must_verify_eddsa(
        &signed,
        b"hello",
        keys.eddsa_pub_key.as_deref().expect("key"),
    );

    let started = std::time::Instant::now();
    let reason = must_fail_with(
        client.create_wallet(&wallet_id()).await,
        ErrorCode::ClusterNotReady,
    );
    assert!(reason.contains(&stopped), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the refusal must be prompt"
    );

    cluster.must_restart(2).await;
    client
        .create_wallet(&wallet_id())
        .await
        .expect("keygen after the node is back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_forgeries_and_unknown_wallets_get_the_documented_results() {
    let cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("e2e").await;
    let wallet = wallet_id();
    let first = client.create_wallet(&wallet).await.expect("keygen");

    // The same keygen request again: the same keys, never a second key.
    let again = client
        .create_wallet(&wallet)
        .await
        .expect("repeated keygen");
    assert_eq!(again.ecdsa_pub_key, first.ecdsa_pub_key);
    assert_eq!(again.eddsa_pub_key, first.eddsa_pub_key);

    // The same signing request twice: the same signature, not a second one.
    let request = SignRequest::ecdsa_digest(&wallet, digest("once")).with_tx_id("tx-dup");
    let one = client.sign(request.clone()).await.expect("sign");
    let two = client.sign(request).await.expect("repeated sign");
    assert_eq!((one.r.clone(), one.s.clone()), (two.r, two.s));

    // The same tx id with other content is refused.
    let other = SignRequest::ecdsa_digest(&wallet, digest("twice")).with_tx_id("tx-dup");
    must_fail_with(client.sign(other).await, ErrorCode::SessionDuplicate);

    // Unknown wallet.
    must_fail_with(
        client
            .sign(SignRequest::ecdsa_digest(wallet_id(), digest("x")))
            .await,
        ErrorCode::KeyNotFound,
    );

    // A request signed by another key than the configured initiator is refused promptly.
    let forger = cluster
        .must_client_with(
            "forger",
            std::sync::Arc::new(LocalSigner::ed25519_from_seed(&[7u8; 32])),
        )
        .await;
    let started = std::time::Instant::now();
    must_fail_with(
        forger.create_wallet(&wallet_id()).await,
        ErrorCode::InvalidInitiatorSignature,
    );
    must_fail_with(
        forger
            .sign(SignRequest::ecdsa_digest(&wallet, digest("forged")))
            .await,
        ErrorCode::InvalidInitiatorSignature,
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "forgeries must be refused at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_receive_only_their_own_results() {
    let cluster = Cluster::must_start(ClusterOptions::default()).await;
    let alice = cluster.must_client("svc-a").await;
    let bob = cluster.must_client("svc-b").await;
    let mut alice_results = alice.results();
    let mut bob_results = bob.results();

    let (a, b) = (wallet_id(), wallet_id());
    let (ra, rb) = tokio::join!(alice.create_wallet(&a), bob.create_wallet(&b));
    ra.expect("alice keygen");
    rb.expect("bob keygen");

    let next_wallet = |event: ResultEvent| match event {
        ResultEvent::Keygen(k) => k.wallet_id,
        other => panic!("unexpected result {other:?}"),
    };
    let seen_by_alice = tokio::time::timeout(Duration::from_secs(5), alice_results.next())
        .await
        .expect("result");
    assert_eq!(
        next_wallet(seen_by_alice.expect("stream").expect("not lagged")),
        a
    );
    let seen_by_bob = tokio::time::timeout(Duration::from_secs(5), bob_results.next())
        .await
        .expect("result");
    assert_eq!(
        next_wallet(seen_by_bob.expect("stream").expect("not lagged")),
        b
    );
    // Nothing else arrives for either.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), alice_results.next())
            .await
            .is_err()
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), bob_results.next())
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_of_every_node_wallets_still_sign() {
    let mut cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("e2e").await;
    let wallet = wallet_id();
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    for i in 0..3 {
        cluster.must_stop(i).await;
    }
    for i in 0..3 {
        cluster.must_restart(i).await;
    }
    let d = digest("after restart");
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d))
        .await
        .expect("sign after restart");
    must_recover_ecdsa(
        &signed,
        &d,
        &compress_secp256k1(keys.ecdsa_pub_key.as_deref().expect("key")).expect("key"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consul_registry_cluster_generates_and_signs() {
    let cluster = Cluster::must_start(ClusterOptions {
        registry: RegistryBackend::Consul,
        ..Default::default()
    })
    .await;
    assert!(cluster.uses_consul());
    let client = cluster.must_client("e2e").await;
    let wallet = wallet_id();
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let info = cluster
        .registry
        .keyinfo(KeyType::Ecdsa, &wallet)
        .await
        .expect("consul")
        .expect("keyinfo");
    assert_eq!(info.version, 1);
    let signed = client
        .sign(SignRequest::eddsa(&wallet, b"via consul".to_vec()))
        .await
        .expect("sign");
    must_verify_eddsa(
        &signed,
        b"via consul",
        keys.eddsa_pub_key.as_deref().expect("key"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keygen_sent_during_aux_info_preparation_succeeds_once_it_is_ready() {
    let cluster = Cluster::must_start(ClusterOptions {
        seed_aux_info: false,
        ..Default::default()
    })
    .await;
    // Every node is ready (what operators wait for) but none holds aux info yet: the joint run
    // takes seconds of CPU per node at least.
    for node in &cluster.nodes {
        assert!(!node.log().contains("aux info ready"), "{}", node.name);
    }
    let options = ClientOptions::new(
        Nats::Url(cluster.nats.url().to_owned()),
        cluster.initiator(),
    )
    .with_client_id(ClientId::new("e2e").expect("client id"))
    .with_result_timeout(Duration::from_secs(900));
    let client = Client::connect(options).await.expect("client connects");
    let wallet = wallet_id();
    // One request, no retries: it waits for the preparation instead of failing.
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let d = digest("fresh aux");
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d))
        .await
        .expect("sign");
    must_recover_ecdsa(
        &signed,
        &d,
        &compress_secp256k1(keys.ecdsa_pub_key.as_deref().expect("key")).expect("key"),
    );
    let waited = cluster.nodes.iter().any(|n| {
        n.log()
            .contains("keygen waits: ECDSA aux info is still being prepared")
    });
    assert!(waited, "the keygen's coordinator logged its wait");
}
