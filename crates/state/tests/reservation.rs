//! Exactly-once reservations against both backends: the Consul backend on the in-repo fake
//! Consul (its `?cas=` follows the Consul KV API) and the NATS KV backend on a real nats-server.

use std::time::Duration;

use futures::future::join_all;
use mpcium_state::registry::reservation::{self, Claim, Slot};
use mpcium_state::registry::{AnyRegistry, Registry};

#[macro_use]
mod backends;

const KEY: &str = "mpc_results/sign/tx-1";
const TTL: Duration = Duration::from_secs(15);
const NOW: u64 = 1_700_000_000_000;

fn never_stale(_: &[u8]) -> bool {
    false
}

async fn must_claim(r: &AnyRegistry, owner: &str, digest: &str, now: u64) -> Claim {
    reservation::claim(r, KEY, owner, digest, TTL, now, never_stale)
        .await
        .unwrap()
}

async fn compare_and_set_needs_the_current_revision(r: &AnyRegistry) {
    assert!(r.create(KEY, b"one").await.unwrap());
    let first = r.get_versioned(KEY).await.unwrap().unwrap();
    assert_eq!(first.value, b"one");
    let second = r
        .compare_and_set(KEY, b"two", first.revision)
        .await
        .unwrap()
        .expect("current revision");
    assert_ne!(second, first.revision);
    assert_eq!(
        r.compare_and_set(KEY, b"three", first.revision)
            .await
            .unwrap(),
        None,
        "a stale revision must not write"
    );
    let now = r.get_versioned(KEY).await.unwrap().unwrap();
    assert_eq!((now.value.as_slice(), now.revision), (&b"two"[..], second));
    r.delete(KEY).await.unwrap();
    assert_eq!(r.get_versioned(KEY).await.unwrap(), None);
    assert_eq!(r.compare_and_set(KEY, b"x", second).await.unwrap(), None);
}

async fn of_many_concurrent_claims_exactly_one_wins(r: &AnyRegistry) {
    let claims = (0..20).map(|i| async move {
        let owner = format!("node-{}", i % 4);
        must_claim(r, &owner, "digest", NOW).await
    });
    let claims = join_all(claims).await;
    let won: Vec<&Claim> = claims
        .iter()
        .filter(|c| matches!(c, Claim::Won { .. }))
        .collect();
    assert_eq!(won.len(), 1, "{claims:?}");
    let Claim::Won { held, took_over } = won[0] else {
        unreachable!()
    };
    assert_eq!(*took_over, None);
    for claim in &claims {
        if let Claim::Busy(lease) = claim {
            assert_eq!(lease, held.lease());
        }
    }
}

async fn a_live_lease_is_reported_with_its_owner_and_digest(r: &AnyRegistry) {
    let Claim::Won { held, .. } = must_claim(r, "a", "d1", NOW).await else {
        panic!("the first claim must win")
    };
    for digest in ["d1", "d2"] {
        match must_claim(r, "b", digest, NOW + 1_000).await {
            Claim::Busy(lease) => {
                assert_eq!(lease.reserved_by, "a");
                assert_eq!(lease.request_digest, "d1");
            }
            other => panic!("expected busy, got {other:?}"),
        }
    }
    assert_eq!(held.lease().request_digest, "d1");
}

async fn a_renewed_lease_stays_and_a_lapsed_one_is_taken_over(r: &AnyRegistry) {
    let Claim::Won { mut held, .. } = must_claim(r, "a", "d", NOW).await else {
        panic!("the first claim must win")
    };
    let later = NOW + 10_000;
    assert!(reservation::renew(r, &mut held, TTL, later).await.unwrap());
    // Past the first expiry but within the renewed one: still a's.
    let past_first = NOW + 20_000;
    assert!(matches!(
        must_claim(r, "b", "d", past_first).await,
        Claim::Busy(_)
    ));
    // Past the renewed expiry: b takes over, and a's lease is lost.
    let past_renewed = later + 16_000;
    let Claim::Won {
        held: b, took_over, ..
    } = must_claim(r, "b", "d", past_renewed).await
    else {
        panic!("a lapsed lease must be taken over")
    };
    assert_eq!(took_over.as_deref(), Some("a"));
    assert_eq!(b.lease().reserved_by, "b");
    assert!(!reservation::renew(r, &mut held, TTL, past_renewed)
        .await
        .unwrap());
    assert!(!reservation::finish(r, &held, b"a's result").await.unwrap());
    assert!(!reservation::release(r, &held).await.unwrap());
    match reservation::read(r, KEY).await.unwrap() {
        Slot::Leased { lease, .. } => assert_eq!(lease.reserved_by, "b"),
        other => panic!("expected b's lease, got {other:?}"),
    }
}

async fn a_finished_reservation_holds_the_result(r: &AnyRegistry) {
    let Claim::Won { held, .. } = must_claim(r, "a", "d", NOW).await else {
        panic!("the first claim must win")
    };
    assert!(reservation::finish(r, &held, b"{\"result\":1}")
        .await
        .unwrap());
    // Even long after any lease would have lapsed, the result stays the answer.
    let much_later = NOW + 3_600_000;
    assert_eq!(
        must_claim(r, "b", "d", much_later).await,
        Claim::Done(b"{\"result\":1}".to_vec())
    );
    // A result the caller calls stale is replaced by a new lease.
    let claim = reservation::claim(r, KEY, "b", "d", TTL, much_later, |_| true)
        .await
        .unwrap();
    assert!(
        matches!(
            claim,
            Claim::Won {
                took_over: None,
                ..
            }
        ),
        "{claim:?}"
    );
}

async fn a_released_lease_can_be_claimed_at_once(r: &AnyRegistry) {
    let Claim::Won { held, .. } = must_claim(r, "a", "d", NOW).await else {
        panic!("the first claim must win")
    };
    assert!(reservation::release(r, &held).await.unwrap());
    match must_claim(r, "b", "d", NOW + 1).await {
        Claim::Won { took_over, .. } => assert_eq!(took_over.as_deref(), Some("a")),
        other => panic!("a released lease must be claimable, got {other:?}"),
    }
}

contract!(
    compare_and_set_needs_the_current_revision,
    of_many_concurrent_claims_exactly_one_wins,
    a_live_lease_is_reported_with_its_owner_and_digest,
    a_renewed_lease_stays_and_a_lapsed_one_is_taken_over,
    a_finished_reservation_holds_the_result,
    a_released_lease_can_be_claimed_at_once,
);
