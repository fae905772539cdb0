//! One contract, two backends: every case runs against the Consul backend (on the in-repo fake
//! Consul, since no Consul binary can be installed here) and the NATS KV backend (on a real
//! nats-server), both through `AnyRegistry`.

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use mpcium_state::registry::{AnyRegistry, KeyInfo, PeerRegistration, Registry, RegistryError};
use mpcium_state::store::KeyType;

#[macro_use]
mod backends;

/// Polls `condition` until it holds or `deadline` passes; returns whether it held.
async fn wait_until<F, Fut>(deadline: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn put_get_list_and_delete_round_trip(r: &AnyRegistry) {
    assert_eq!(r.get("mpc_peers/node0").await.unwrap(), None);
    r.put("mpc_peers/node0", b"id-0").await.unwrap();
    r.put("mpc_peers/node1", b"id-1").await.unwrap();
    r.put("threshold_keyinfo/ecdsa:w", b"{}").await.unwrap();
    r.put("mpc_peers/node1", b"id-1b").await.unwrap();
    assert_eq!(
        r.get("mpc_peers/node0").await.unwrap(),
        Some(b"id-0".to_vec())
    );
    assert_eq!(
        r.get("mpc_peers/node1").await.unwrap(),
        Some(b"id-1b".to_vec())
    );

    let peers = r.list("mpc_peers/").await.unwrap();
    assert_eq!(
        peers.keys().map(String::as_str).collect::<Vec<_>>(),
        ["mpc_peers/node0", "mpc_peers/node1"]
    );
    let narrowed = r.list("mpc_peers/node1").await.unwrap();
    assert_eq!(narrowed.len(), 1);
    assert!(r.list("mpc_ready/").await.unwrap().is_empty());

    r.delete("mpc_peers/node0").await.unwrap();
    r.delete("mpc_peers/never-existed").await.unwrap();
    assert_eq!(r.get("mpc_peers/node0").await.unwrap(), None);
    assert_eq!(r.list("mpc_peers/").await.unwrap().len(), 1);
}

async fn create_writes_only_when_the_key_is_absent(r: &AnyRegistry) {
    assert!(r.create("mpc_peers/a", b"first").await.unwrap());
    assert!(!r.create("mpc_peers/a", b"second").await.unwrap());
    assert_eq!(r.get("mpc_peers/a").await.unwrap(), Some(b"first".to_vec()));
    r.delete("mpc_peers/a").await.unwrap();
    assert!(r.create("mpc_peers/a", b"third").await.unwrap());
    assert_eq!(r.get("mpc_peers/a").await.unwrap(), Some(b"third".to_vec()));
}

async fn registering_a_peer_again_is_a_no_op_and_a_different_id_is_refused(r: &AnyRegistry) {
    assert_eq!(
        r.register_peer("node0", "id-0").await.unwrap(),
        PeerRegistration::Registered
    );
    assert_eq!(
        r.register_peer("node0", "id-0").await.unwrap(),
        PeerRegistration::Unchanged
    );
    let err = r.register_peer("node0", "id-other").await.unwrap_err();
    match &err {
        RegistryError::PeerIdConflict {
            name,
            registered,
            requested,
        } => {
            assert_eq!((name.as_str(), registered.as_str()), ("node0", "id-0"));
            assert_eq!(requested, "id-other");
        }
        other => panic!("expected PeerIdConflict, got {other:?}"),
    }
    assert_eq!(
        r.get("mpc_peers/node0").await.unwrap(),
        Some(b"id-0".to_vec())
    );
}

async fn peers_are_listed_by_name_with_their_ids(r: &AnyRegistry) {
    assert!(r.peers().await.unwrap().is_empty());
    r.register_peer("node1", "id-1").await.unwrap();
    r.register_peer("node0", "id-0").await.unwrap();
    assert_eq!(
        r.peers().await.unwrap(),
        [
            ("node0".to_owned(), "id-0".to_owned()),
            ("node1".to_owned(), "id-1".to_owned())
        ]
    );
}

async fn readiness_is_set_listed_and_cleared(r: &AnyRegistry) {
    assert!(r.ready_nodes().await.unwrap().is_empty());
    r.set_ready("id-0", Duration::from_secs(30)).await.unwrap();
    r.set_ready("id-1", Duration::from_secs(30)).await.unwrap();
    r.set_ready("id-1", Duration::from_secs(30)).await.unwrap(); // heartbeat
    assert_eq!(
        r.ready_nodes().await.unwrap(),
        BTreeSet::from(["id-0".to_owned(), "id-1".to_owned()])
    );
    r.clear_ready("id-0").await.unwrap();
    assert_eq!(
        r.ready_nodes().await.unwrap(),
        BTreeSet::from(["id-1".to_owned()])
    );
}

async fn readiness_lapses_when_not_refreshed_within_its_ttl(r: &AnyRegistry) {
    r.set_ready("short", Duration::from_secs(1)).await.unwrap();
    r.set_ready("long", Duration::from_secs(60)).await.unwrap();
    assert!(r.ready_nodes().await.unwrap().contains("short"));
    let lapsed = wait_until(Duration::from_secs(15), || async {
        !r.ready_nodes().await.unwrap().contains("short")
    })
    .await;
    assert!(
        lapsed,
        "readiness with a 1 s ttl was still listed after 15 s"
    );
    assert!(r.ready_nodes().await.unwrap().contains("long"));
}

async fn keyinfo_round_trips_for_wallet_ids_with_odd_characters(r: &AnyRegistry) {
    let info = KeyInfo {
        participant_peer_ids: vec!["id-0".into(), "id-1".into(), "id-2".into()],
        threshold: 2,
        version: 3,
    };
    let wallet = "wallet.1:x=y z";
    assert_eq!(r.keyinfo(KeyType::Ecdsa, wallet).await.unwrap(), None);
    r.put_keyinfo(KeyType::Ecdsa, wallet, &info).await.unwrap();
    assert_eq!(
        r.keyinfo(KeyType::Ecdsa, wallet).await.unwrap(),
        Some(info.clone())
    );
    assert_eq!(r.keyinfo(KeyType::Eddsa, wallet).await.unwrap(), None);
    let listed = r.list("threshold_keyinfo/ecdsa:").await.unwrap();
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        [&format!("threshold_keyinfo/ecdsa:{wallet}")]
    );
    let json: serde_json::Value = serde_json::from_slice(
        &r.get(&format!("threshold_keyinfo/ecdsa:{wallet}"))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["threshold"], 2);
}

async fn malformed_keyinfo_is_reported_with_its_key(r: &AnyRegistry) {
    r.put("threshold_keyinfo/eddsa:w", b"not json")
        .await
        .unwrap();
    let err = r.keyinfo(KeyType::Eddsa, "w").await.unwrap_err();
    assert!(matches!(err, RegistryError::Malformed { .. }), "{err:?}");
    assert!(
        err.to_string().contains("threshold_keyinfo/eddsa:w"),
        "{err}"
    );
}

async fn a_reachable_backend_is_healthy(r: &AnyRegistry) {
    r.healthy().await.unwrap();
}

contract!(
    put_get_list_and_delete_round_trip,
    create_writes_only_when_the_key_is_absent,
    registering_a_peer_again_is_a_no_op_and_a_different_id_is_refused,
    peers_are_listed_by_name_with_their_ids,
    readiness_is_set_listed_and_cleared,
    readiness_lapses_when_not_refreshed_within_its_ttl,
    keyinfo_round_trips_for_wallet_ids_with_odd_characters,
    malformed_keyinfo_is_reported_with_its_key,
    a_reachable_backend_is_healthy,
);
