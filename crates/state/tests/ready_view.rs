//! [`ReadyView`]: one watch per process answers readiness from memory, honours expiry, and
//! reading it creates no consumer.

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats::jetstream;
use mpcium_state::registry::{
    AnyRegistry, ConsulRegistry, ConsulSettings, NatsKvRegistry, NatsKvSettings, ReadyView,
    Registry,
};
use mpcium_testkit::{FakeConsul, NatsServer};

const DEADLINE: Duration = Duration::from_secs(15);

/// Waits until `view` reports exactly `expected`, or fails after [`DEADLINE`].
async fn wait_for(view: &ReadyView, expected: &[&str]) {
    let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        let now = view.ready_nodes().ok();
        if now.as_ref() == Some(&expected) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "view shows {now:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn consumers(js: &jetstream::Context) -> usize {
    js.get_stream("KV_mpc_ready")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .consumer_count
}

#[tokio::test]
async fn nats_view_follows_puts_deletes_and_ttl_expiry_with_one_consumer() {
    let server = NatsServer::must_start();
    let client = async_nats::connect(server.url()).await.unwrap();
    let registry = NatsKvRegistry::open(client.clone(), &NatsKvSettings::default())
        .await
        .unwrap();
    registry
        .set_ready("before", Duration::from_secs(60))
        .await
        .unwrap();
    let any = AnyRegistry::Nats(registry.clone());
    let view = ReadyView::start(&any, Duration::from_secs(60));
    assert!(view.loaded_within(DEADLINE).await);
    // Loaded means the existing keys were replayed.
    assert_eq!(
        view.ready_nodes().unwrap().into_iter().collect::<Vec<_>>(),
        ["before"]
    );

    registry
        .set_ready("short", Duration::from_secs(2))
        .await
        .unwrap();
    wait_for(&view, &["before", "short"]).await;
    // No further heartbeat: the key's TTL ends and the view drops it.
    wait_for(&view, &["before"]).await;
    registry.clear_ready("before").await.unwrap();
    wait_for(&view, &[]).await;

    let js = jetstream::new(client);
    let before = consumers(&js).await;
    for _ in 0..500 {
        view.ready_nodes().unwrap();
    }
    assert_eq!(consumers(&js).await, before);
    assert!(before <= 1, "{before} consumers for one view");
    assert!(view.is_live());
}

#[tokio::test]
async fn nats_view_expires_locally_after_the_ttl_it_was_given() {
    let server = NatsServer::must_start();
    let client = async_nats::connect(server.url()).await.unwrap();
    let registry = NatsKvRegistry::open(client, &NatsKvSettings::default())
        .await
        .unwrap();
    // The server keeps the key for 60 s; the view is told heartbeats live 1 s.
    registry
        .set_ready("n", Duration::from_secs(60))
        .await
        .unwrap();
    let view = ReadyView::start(&AnyRegistry::Nats(registry), Duration::from_secs(1));
    assert!(view.loaded_within(DEADLINE).await);
    wait_for(&view, &[]).await;
}

#[tokio::test]
async fn consul_view_refreshes_in_the_background_and_judges_expiry() {
    let fake = FakeConsul::must_start().await;
    let registry = ConsulRegistry::new(ConsulSettings::new(fake.address())).unwrap();
    registry.put("mpc_ready/stale", b"1000").await.unwrap();
    registry.put("mpc_ready/foreign", b"true").await.unwrap();
    registry
        .set_ready("long", Duration::from_secs(60))
        .await
        .unwrap();
    let view = ReadyView::start(
        &AnyRegistry::Consul(registry.clone()),
        Duration::from_secs(60),
    );
    assert!(view.loaded_within(DEADLINE).await);
    wait_for(&view, &["long"]).await;
    registry
        .set_ready("short", Duration::from_secs(4))
        .await
        .unwrap();
    wait_for(&view, &["long", "short"]).await;
    wait_for(&view, &["long"]).await;
    registry.clear_ready("long").await.unwrap();
    wait_for(&view, &[]).await;
    assert!(view.is_live());
}

#[tokio::test]
async fn a_consul_view_refreshed_on_demand_sees_a_node_that_just_became_ready() {
    let fake = FakeConsul::must_start().await;
    let registry = ConsulRegistry::new(ConsulSettings::new(fake.address())).unwrap();
    // No periodic read during the test: only an on-demand one can show the new mark.
    let view = ReadyView::start_reading_consul_every(
        &AnyRegistry::Consul(registry.clone()),
        Duration::from_secs(60),
        Duration::from_secs(3600),
    );
    assert!(view.loaded_within(DEADLINE).await);
    registry
        .set_ready("late", Duration::from_secs(60))
        .await
        .unwrap();
    // The start-up read may still count as fresh: wait until it does not.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while view.ready_nodes().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "refresh never read the new mark"
        );
        view.refresh().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        view.ready_nodes().unwrap(),
        std::collections::BTreeSet::from(["late".to_owned()])
    );
}
