//! Readiness marks carry the writer's incarnation on both backends: a restart (a new registry
//! handle writing for the same node id) shows in the [`ReadyView`] at once, first as a starting
//! mark (not ready) and then as a ready one; marks in the old form still count as ready, with no
//! incarnation; and value-only readers (the old ones) read the new marks correctly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mpcium_state::registry::{
    AnyRegistry, ConsulRegistry, ConsulSettings, Incarnation, NatsKvRegistry, NatsKvSettings,
    Readiness, ReadyView, Registry,
};
use mpcium_testkit::{FakeConsul, NatsServer};

const DEADLINE: Duration = Duration::from_secs(15);
const TTL: Duration = Duration::from_secs(60);

/// Waits until `view` shows `node` as `ready` with `incarnation`, or fails after [`DEADLINE`].
async fn must_see(view: &ReadyView, node: &str, ready: bool, incarnation: Option<Incarnation>) {
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        view.refresh().await;
        let now: Option<Readiness> = view.readiness().ok();
        if let Some(now) = &now {
            if now.ready.contains(node) == ready
                && now.incarnations.get(node).copied() == incarnation
            {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < until,
            "view shows {now:?}, expected {node} ready={ready} incarnation={incarnation:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One process of node `n` is replaced by another: the view follows its marks.
async fn a_restart_shows_as_a_new_incarnation(first: AnyRegistry, second: AnyRegistry) {
    assert_ne!(first.incarnation(), second.incarnation());
    let view = ReadyView::start(&first, TTL);
    assert!(view.loaded_within(DEADLINE).await);

    first.set_ready("n", TTL).await.unwrap();
    must_see(&view, "n", true, Some(first.incarnation())).await;
    // The new process announces itself at once, before it is ready.
    second.set_starting("n", TTL).await.unwrap();
    must_see(&view, "n", false, Some(second.incarnation())).await;
    assert!(!second.ready_nodes().await.unwrap().contains("n"));
    second.set_ready("n", TTL).await.unwrap();
    must_see(&view, "n", true, Some(second.incarnation())).await;
    assert!(second.ready_nodes().await.unwrap().contains("n"));
}

#[tokio::test]
async fn nats_marks_carry_the_incarnation_and_old_ones_still_count() {
    let server = NatsServer::must_start();
    let open = || async {
        let client = async_nats::connect(server.url()).await.unwrap();
        let registry = NatsKvRegistry::open(client, &NatsKvSettings::default())
            .await
            .unwrap();
        AnyRegistry::Nats(registry)
    };
    let (first, second) = (open().await, open().await);
    a_restart_shows_as_a_new_incarnation(first.clone(), second).await;

    // Written before incarnations: ready, incarnation unknown.
    first.put("mpc_ready/old", b"true").await.unwrap();
    let view = ReadyView::start(&first, TTL);
    assert!(view.loaded_within(DEADLINE).await);
    must_see(&view, "old", true, None).await;
    assert!(first.ready_nodes().await.unwrap().contains("old"));
}

#[tokio::test]
async fn consul_marks_keep_the_expiry_value_and_carry_the_incarnation_in_flags() {
    let fake = FakeConsul::must_start().await;
    let open =
        || AnyRegistry::Consul(ConsulRegistry::new(ConsulSettings::new(fake.address())).unwrap());
    let (first, second) = (open(), open());
    a_restart_shows_as_a_new_incarnation(first.clone(), second.clone()).await;

    // The value is still the expiry time alone, as readers that predate incarnations expect.
    let raw = String::from_utf8(fake.raw_value("mpc_ready/n").unwrap()).unwrap();
    let expires: u64 = raw.parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(expires > now, "{raw}");
    // A starting mark is already expired for every reader.
    second.set_starting("n", TTL).await.unwrap();
    assert_eq!(fake.raw_value("mpc_ready/n").unwrap(), b"0");

    // Written before incarnations (flags 0): ready, incarnation unknown.
    let old = (now + 60_000).to_string();
    first.put("mpc_ready/old", old.as_bytes()).await.unwrap();
    let view = ReadyView::start(&first, TTL);
    assert!(view.loaded_within(DEADLINE).await);
    must_see(&view, "old", true, None).await;
}
