//! Consul-only behaviour: credentials, unreachable or leaderless servers, and the exact values
//! written (so the reference's tools and the Consul UI see what they expect).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mpcium_state::registry::{
    ConsulRegistry, ConsulSettings, Registry, RegistryError, RegistryErrorKind,
};
use mpcium_testkit::{FakeConsul, FakeConsulAuth};
use secrecy::SecretString;

fn must_registry(settings: ConsulSettings) -> ConsulRegistry {
    match ConsulRegistry::new(settings) {
        Ok(registry) => registry,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn the_token_and_basic_credentials_are_sent_when_configured() {
    let fake = FakeConsul::start_with_auth(FakeConsulAuth {
        token: Some("acl-token".to_owned()),
        basic: Some(("admin".to_owned(), "s3cret".to_owned())),
    })
    .await
    .unwrap();
    let mut settings = ConsulSettings::new(fake.url());
    settings.token = Some(SecretString::from("acl-token".to_owned()));
    settings.username = Some("admin".to_owned());
    settings.password = Some(SecretString::from("s3cret".to_owned()));
    let registry = must_registry(settings.clone());
    registry.put("mpc_peers/node0", b"id").await.unwrap();
    assert_eq!(
        registry.get("mpc_peers/node0").await.unwrap(),
        Some(b"id".to_vec())
    );
    registry.healthy().await.unwrap();

    settings.token = Some(SecretString::from("wrong-token".to_owned()));
    let err = must_registry(settings)
        .get("mpc_peers/node0")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::ConsulDenied { status: 403, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("wrong-token"), "{err}");
    assert!(err.to_string().contains("check the consul token"), "{err}");
}

#[tokio::test]
async fn an_unreachable_consul_is_named_in_the_error() {
    let fake = FakeConsul::must_start().await;
    let address = fake.address();
    drop(fake);
    let mut settings = ConsulSettings::new(address.clone());
    settings.timeout = Duration::from_secs(2);
    let err = must_registry(settings)
        .get("mpc_peers/x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::ConsulUnreachable { .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), RegistryErrorKind::Unavailable);
    assert!(
        err.to_string()
            .starts_with(&format!("failed to reach consul at http://{address}")),
        "{err}"
    );
}

#[tokio::test]
async fn a_consul_without_a_leader_is_unhealthy() {
    let fake = FakeConsul::must_start().await;
    let registry = must_registry(ConsulSettings::new(fake.address()));
    registry.healthy().await.unwrap();
    fake.set_leader("");
    let err = registry.healthy().await.unwrap_err();
    assert!(
        matches!(err, RegistryError::ConsulNoLeader { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn peer_ids_are_stored_as_plain_strings_as_the_reference_writes_them() {
    let fake = FakeConsul::must_start().await;
    let registry = must_registry(ConsulSettings::new(fake.address()));
    registry.register_peer("node0", "4d3f-uuid").await.unwrap();
    assert_eq!(
        fake.raw_value("mpc_peers/node0"),
        Some(b"4d3f-uuid".to_vec())
    );
}

#[tokio::test]
async fn readiness_is_stored_as_its_expiry_time_in_unix_milliseconds() {
    let fake = FakeConsul::must_start().await;
    let registry = must_registry(ConsulSettings::new(fake.address()));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    registry
        .set_ready("id-0", Duration::from_secs(10))
        .await
        .unwrap();
    let raw = fake.raw_value("mpc_ready/id-0").unwrap();
    let expires: u64 = String::from_utf8(raw).unwrap().parse().unwrap();
    assert!(
        (now + 9_000..now + 12_000).contains(&expires),
        "{expires} vs now {now}"
    );
}

#[tokio::test]
async fn a_foreign_or_stale_readiness_value_does_not_count_as_ready() {
    let fake = FakeConsul::must_start().await;
    let registry = must_registry(ConsulSettings::new(fake.address()));
    registry.put("mpc_ready/foreign", b"true").await.unwrap();
    registry.put("mpc_ready/stale", b"1000").await.unwrap();
    registry
        .set_ready("fresh", Duration::from_secs(30))
        .await
        .unwrap();
    let ready = registry.ready_nodes().await.unwrap();
    assert_eq!(ready.into_iter().collect::<Vec<_>>(), ["fresh"]);
}

#[tokio::test]
async fn readiness_not_refreshed_within_its_ttl_no_longer_counts() {
    fn an_hour_later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(3600)
    }
    let fake = FakeConsul::must_start().await;
    let registry = must_registry(ConsulSettings::new(fake.address()));
    registry
        .set_ready("id-0", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(registry.ready_nodes().await.unwrap().contains("id-0"));
    let later = registry.clone().with_clock(an_hour_later);
    assert!(later.ready_nodes().await.unwrap().is_empty());
}
