//! The result cache on the Consul backend, which has no TTL: an entry past its expiry time counts
//! as absent although Consul still holds it, so the id can be reserved again. (NATS drops
//! expired entries itself: the bucket's max age, tested in mpcium-state.)

use std::time::Duration;

use mpcium_node::results::{self, now_unix_ms, CachedResult};
use mpcium_state::registry::reservation::{self, Claim};
use mpcium_state::registry::{result_key, AnyRegistry, ConsulRegistry, ConsulSettings, Registry};
use mpcium_testkit::FakeConsul;

#[tokio::test]
async fn an_expired_result_is_absent_though_consul_still_holds_it() {
    let consul = FakeConsul::must_start().await;
    let registry =
        AnyRegistry::Consul(ConsulRegistry::new(ConsulSettings::new(consul.address())).unwrap());
    let digest = results::digest(b"request");
    let result = |subject: &str| CachedResult {
        request_digest: digest.clone(),
        subject: subject.into(),
        payload: b"{}".to_vec(),
        expires_unix_ms: None,
    };
    let store = |key: &str, result: CachedResult, ttl: Duration| {
        let bytes = results::encode(result, ttl).unwrap();
        let registry = registry.clone();
        let key = result_key(key);
        async move { registry.put(&key, &bytes).await.unwrap() }
    };
    // What a node claiming the id for a request with `digest` finds.
    let claim = |key: &str, digest: String| {
        let registry = registry.clone();
        let key = result_key(key);
        async move {
            reservation::claim(
                &registry,
                &key,
                "n1",
                &digest,
                Duration::from_secs(15),
                now_unix_ms(),
                |value| results::decode_live(value).is_none(),
            )
            .await
            .unwrap()
        }
    };

    store("sign/long", result("a"), Duration::from_secs(3600)).await;
    match claim("sign/long", digest.clone()).await {
        Claim::Done(value) => {
            assert_eq!(results::decode_live(&value).unwrap().subject, "a")
        }
        other => panic!("a live result must be the answer, got {other:?}"),
    }

    store("sign/short", result("b"), Duration::ZERO).await;
    let raw = consul.raw_value(&result_key("sign/short")).unwrap();
    assert!(results::decode_live(&raw).is_none());
    // Expired, not deleted: a request with other bytes under the id may reserve it.
    let other = claim("sign/short", results::digest(b"other")).await;
    assert!(matches!(other, Claim::Won { .. }), "{other:?}");
}
