//! Shared helpers of the ECDSA integration tests: an in-process byte network that carries
//! [`WireMessage`]s between parties running on their own threads (so every test goes through the
//! real delivery adapter), and loaders for the TEST-ONLY fixtures under `tests/fixtures/`.
#![allow(dead_code)] // each test file uses a different subset

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::StreamExt;
use mpcium_tss::delivery::{connect, WireMessage};
use mpcium_tss::ecdsa::{keygen, AuxInfo, KeyShare, Primes};
use mpcium_tss::material::{self, MaterialKind};
use mpcium_tss::{Participants, ProtocolKind, SessionId, Threshold, TssError};

/// Changes a message in flight (to simulate a cheating or broken sender).
pub type Tamper = Box<dyn FnMut(&mut WireMessage) + Send>;

/// A session id for a test run among `n` parties.
pub fn must_session(kind: ProtocolKind, request: &str, n: u16) -> SessionId {
    let nodes = (0..n).map(|i| format!("node{i}")).collect();
    SessionId::derive(kind, request.as_bytes(), &Participants::new(nodes).unwrap())
}

/// Runs `party(i, inbox, outbox)` for `i in 0..n`, each on its own thread, connected through a
/// router thread that delivers point-to-point messages to their recipient and broadcasts to
/// everyone else, applying `tamper` to every message first. When a party fails, the router
/// closes every inbox, so the others stop with an error instead of waiting forever (a node would
/// time out). Returns each party's result.
pub fn run_parties<T, F, Fut>(
    n: u16,
    mut tamper: Option<Tamper>,
    party: F,
) -> Vec<Result<T, TssError>>
where
    T: Send,
    F: Fn(u16, UnboundedReceiver<WireMessage>, UnboundedSender<WireMessage>) -> Fut + Sync,
    Fut: Future<Output = Result<T, TssError>>,
{
    enum Event {
        Msg(WireMessage),
        Failed,
    }
    let (to_router, router_rx) = unbounded::<WireMessage>();
    let (fail_tx, fail_rx) = unbounded::<()>();
    let (inboxes, receivers): (Vec<_>, Vec<_>) = (0..n).map(|_| unbounded::<WireMessage>()).unzip();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut events =
                futures::stream::select(router_rx.map(Event::Msg), fail_rx.map(|()| Event::Failed));
            futures::executor::block_on(async {
                while let Some(Event::Msg(mut msg)) = events.next().await {
                    if let Some(t) = tamper.as_mut() {
                        t(&mut msg);
                    }
                    for (j, inbox) in inboxes.iter().enumerate() {
                        let j = j as u16;
                        let wanted = match msg.recipient {
                            Some(r) => r == j,
                            None => j != msg.sender,
                        };
                        if wanted {
                            // A party that already finished has dropped its inbox.
                            let _ = inbox.unbounded_send(msg.clone());
                        }
                    }
                }
            })
        });
        let party = &party;
        let handles: Vec<_> = receivers
            .into_iter()
            .enumerate()
            .map(|(i, rx)| {
                let tx = to_router.clone();
                let fail_tx = fail_tx.clone();
                s.spawn(move || {
                    let res = futures::executor::block_on(party(i as u16, rx, tx));
                    if res.is_err() {
                        let _ = fail_tx.unbounded_send(());
                    }
                    res
                })
            })
            .collect();
        drop((to_router, fail_tx));
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// A [`Tamper`] hook that changes nothing and records a copy of every message it sees.
pub fn recorder() -> (Tamper, Arc<Mutex<Vec<WireMessage>>>) {
    let seen = Arc::new(Mutex::new(vec![]));
    let log = Arc::clone(&seen);
    let hook: Tamper = Box::new(move |m: &mut WireMessage| log.lock().unwrap().push(m.clone()));
    (hook, seen)
}

/// Threshold keygen, `t` of `n`, completed with the TEST-ONLY aux info of a node set of `n`.
pub fn must_keygen_shares(n: u16, t: u16, request: &str) -> Vec<KeyShare> {
    let session = must_session(ProtocolKind::EcdsaKeygen, request, n);
    let threshold = Threshold::new(t, n).unwrap();
    must_all_ok(run_parties(n, None, |i, rx, tx| async move {
        keygen(
            session,
            i,
            n,
            threshold,
            [1; 32],
            connect(session, i, n, rx, tx),
        )
        .await
    }))
    .into_iter()
    .zip(must_test_aux(n))
    .map(|(s, a)| KeyShare::from_parts(s, a).unwrap())
    .collect()
}

/// Unwraps every party's result.
pub fn must_all_ok<T>(results: Vec<Result<T, TssError>>) -> Vec<T> {
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|e| panic!("party {i} failed: {e}")))
        .collect()
}

/// `tests/fixtures/<name>`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// TEST-ONLY pre-generated primes of party `i` (0..5).
pub fn must_test_primes(i: usize) -> Primes {
    let text = std::fs::read_to_string(fixture_path("TEST-ONLY-ecdsa-primes-5.json")).unwrap();
    let all: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let sealed = material::seal(MaterialKind::EcdsaPrimes, &all[i]).unwrap();
    Primes::open(&sealed).unwrap()
}

/// File name of the TEST-ONLY aux info fixture for a node set of `n`.
pub fn aux_fixture_name(n: u16) -> String {
    format!("TEST-ONLY-ecdsa-aux-n{n}.json")
}

/// TEST-ONLY aux info of every party of a node set of `n` (3 or 5).
pub fn must_test_aux(n: u16) -> Vec<AuxInfo> {
    let text = std::fs::read_to_string(fixture_path(&aux_fixture_name(n))).unwrap();
    let all: Vec<String> = serde_json::from_str(&text).unwrap();
    all.iter()
        .map(|h| AuxInfo::open(&hex::decode(h).unwrap()).unwrap())
        .collect()
}
