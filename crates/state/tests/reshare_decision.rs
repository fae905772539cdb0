//! Reshare decisions against both backends: the Consul backend on the in-repo fake Consul and
//! the NATS KV backend (bucket `mpc_reshare`) on a real nats-server.

use futures::future::join_all;
use mpcium_state::registry::decision::{self, Decided, Decision};
use mpcium_state::registry::AnyRegistry;
use mpcium_state::store::KeyType;

#[macro_use]
mod backends;

fn decision(nonce: &str, version: u64) -> Decision {
    Decision {
        nonce: nonce.to_owned(),
        version,
        participants: vec!["a".into(), "b".into(), "c".into()],
        request_digest: format!("digest-{nonce}"),
        public_key: "02ab".into(),
    }
}

async fn a_decision_is_read_back_and_recording_it_again_changes_nothing(r: &AnyRegistry) {
    assert_eq!(decision::read(r, KeyType::Ecdsa, "w").await.unwrap(), None);
    let first = decision("n1", 2);
    let decided = decision::decide(r, KeyType::Ecdsa, "w", &first).await;
    assert_eq!(decided.unwrap(), Decided::Recorded);
    let again = decision::decide(r, KeyType::Ecdsa, "w", &first).await;
    assert_eq!(again.unwrap(), Decided::Recorded);
    let read = decision::read(r, KeyType::Ecdsa, "w").await.unwrap();
    assert_eq!(read, Some(first));
    // Each key of a wallet has its own decision.
    assert_eq!(decision::read(r, KeyType::Eddsa, "w").await.unwrap(), None);
}

async fn of_two_reshares_of_one_version_only_the_first_is_final(r: &AnyRegistry) {
    let first = decision("n1", 2);
    decision::decide(r, KeyType::Eddsa, "w", &first)
        .await
        .unwrap();
    let second = decision::decide(r, KeyType::Eddsa, "w", &decision("n2", 2)).await;
    assert_eq!(second.unwrap(), Decided::Superseded(first.clone()));
    let older = decision::decide(r, KeyType::Eddsa, "w", &decision("n0", 1)).await;
    assert_eq!(older.unwrap(), Decided::Superseded(first));
    // The next version replaces it.
    let next = decision("n3", 3);
    let decided = decision::decide(r, KeyType::Eddsa, "w", &next).await;
    assert_eq!(decided.unwrap(), Decided::Recorded);
    let read = decision::read(r, KeyType::Eddsa, "w").await.unwrap();
    assert_eq!(read, Some(next));
}

async fn of_many_concurrent_decisions_of_one_version_exactly_one_is_recorded(r: &AnyRegistry) {
    let attempts = (0..12).map(|i| async move {
        let nonce = format!("n{i}");
        decision::decide(r, KeyType::Ecdsa, "w", &decision(&nonce, 2))
            .await
            .unwrap()
    });
    let outcomes = join_all(attempts).await;
    let recorded = outcomes.iter().filter(|d| **d == Decided::Recorded).count();
    assert_eq!(recorded, 1, "{outcomes:?}");
    let winner = decision::read(r, KeyType::Ecdsa, "w").await.unwrap();
    let winner = winner.expect("a decision");
    for outcome in &outcomes {
        if let Decided::Superseded(seen) = outcome {
            assert_eq!(seen, &winner);
        }
    }
}

contract!(
    a_decision_is_read_back_and_recording_it_again_changes_nothing,
    of_two_reshares_of_one_version_only_the_first_is_final,
    of_many_concurrent_decisions_of_one_version_exactly_one_is_recorded,
);
