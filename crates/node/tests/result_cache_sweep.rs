//! The Consul result cache is swept of expired entries in bounded passes (Consul KV has no TTL),
//! against the in-repo Consul API server.

use std::time::Duration;

use mpcium_node::results::{self, CachedResult};
use mpcium_state::registry::{result_key, AnyRegistry, ConsulRegistry, ConsulSettings, Registry};
use mpcium_testkit::FakeConsul;

fn cached(tag: &str) -> CachedResult {
    CachedResult {
        request_digest: results::digest(tag.as_bytes()),
        subject: "mpc.mpc_signing_result.complete".into(),
        payload: tag.as_bytes().to_vec(),
        expires_unix_ms: None,
    }
}

/// Writes `result` as a node does when it publishes (the reservation's final value).
async fn put(registry: &AnyRegistry, key: &str, result: CachedResult, ttl: Duration) {
    let bytes = results::encode(result, ttl).expect("encode");
    registry.put(&result_key(key), &bytes).await.expect("put");
}

#[tokio::test]
async fn expired_results_are_deleted_in_bounded_passes_and_fresh_ones_stay() {
    let consul = FakeConsul::must_start().await;
    let registry = AnyRegistry::Consul(
        ConsulRegistry::new(ConsulSettings::new(consul.address())).expect("consul"),
    );
    for i in 0..7 {
        let key = results::signing_key(&format!("old-{i}"));
        put(&registry, &key, cached("old"), Duration::ZERO).await;
    }
    for i in 0..3 {
        let key = results::signing_key(&format!("new-{i}"));
        put(&registry, &key, cached("new"), Duration::from_secs(3600)).await;
    }
    // Not a cached result: left alone.
    let other = result_key("sign/other-record");
    registry.put(&other, b"{\"lease\":1}").await.expect("put");

    let mut after: Option<String> = None;
    let (mut reads, mut deleted, mut passes) = (0, 0, 0);
    loop {
        let pass = results::sweep_once(&registry, after.as_deref(), 4)
            .await
            .expect("sweep");
        assert!(pass.read <= 4, "a pass reads at most its budget: {pass:?}");
        reads += pass.read;
        deleted += pass.deleted;
        passes += 1;
        after = pass.next_after;
        if after.is_none() {
            break;
        }
        assert!(passes < 10, "the sweep comes round");
    }
    assert_eq!((reads, deleted, passes), (11, 7, 3));

    let left = registry.list("mpc_results/").await.expect("list");
    assert_eq!(left.len(), 4, "{:?}", left.keys());
    for i in 0..3 {
        let key = results::signing_key(&format!("new-{i}"));
        let found = registry.get(&result_key(&key)).await.expect("get");
        let live = found.as_deref().and_then(results::decode_live);
        assert!(live.is_some(), "{key} is fresh and stays");
    }
    assert!(left.contains_key(&other));

    // A second round finds nothing more to delete.
    let pass = results::sweep_once(&registry, None, 100)
        .await
        .expect("sweep");
    assert_eq!((pass.read, pass.deleted, pass.next_after), (4, 0, None));
}
