//! The result cache on the Consul backend, which has no TTL: an entry past its expiry time counts
//! as absent although Consul still holds it. (NATS drops expired entries itself: the bucket's max
//! age, tested in mpcium-state.)

use std::time::Duration;

use mpcium_node::results::{self, CachedResult};
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
    store("sign/long", result("a"), Duration::from_secs(3600)).await;
    let found = results::lookup(&registry, "sign/long", &digest)
        .await
        .unwrap();
    assert_eq!(found.unwrap().subject, "a");

    store("sign/short", result("b"), Duration::ZERO).await;
    assert!(results::lookup(&registry, "sign/short", &digest)
        .await
        .unwrap()
        .is_none());
    // Expired, not deleted: a request with other bytes under the id is no longer a duplicate.
    assert!(consul.raw_value(&result_key("sign/short")).is_some());
    assert!(
        results::lookup(&registry, "sign/short", &results::digest(b"other"))
            .await
            .unwrap()
            .is_none()
    );
}
