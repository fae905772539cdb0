//! Messages of a live session arriving out of order: a party that receives a later round's
//! message before an earlier round's completes the protocol with the same result as everyone.

mod ecdsa_support;

use std::sync::atomic::{AtomicBool, Ordering};

use futures::channel::mpsc::unbounded;
use futures::StreamExt;
use mpcium_tss::delivery::{connect, WireMessage};
use mpcium_tss::ecdsa::keygen;
use mpcium_tss::{ProtocolKind, Threshold};

use ecdsa_support::{must_all_ok, must_session};

#[test]
fn a_later_round_arriving_before_an_earlier_one_is_held_until_its_round() {
    let n = 3u16;
    let session = must_session(ProtocolKind::EcdsaKeygen, "reordered", n);
    let threshold = Threshold::new(2, n).unwrap();
    let reordered = AtomicBool::new(false);

    let (to_router, mut router_rx) = unbounded::<WireMessage>();
    let (inboxes, receivers): (Vec<_>, Vec<_>) = (0..n).map(|_| unbounded::<WireMessage>()).unzip();
    let results = std::thread::scope(|s| {
        let reordered = &reordered;
        // The router holds party 0's first message to party 2 back until party 2 has been
        // sent a message of a later round by someone else, then delivers it.
        s.spawn(move || {
            futures::executor::block_on(async {
                let mut held: Option<WireMessage> = None;
                let mut first_round = None;
                while let Some(msg) = router_rx.next().await {
                    for j in 0..n {
                        let wanted = match msg.recipient {
                            Some(r) => r == j,
                            None => j != msg.sender,
                        };
                        if !wanted {
                            continue;
                        }
                        if j == 2 && msg.sender == 0 && first_round.is_none() {
                            first_round = Some(msg.round);
                            held = Some(msg.clone());
                            continue;
                        }
                        let _ = inboxes[usize::from(j)].unbounded_send(msg.clone());
                        let later = first_round.is_some_and(|r| msg.round > r);
                        if j == 2 && later {
                            if let Some(earlier) = held.take() {
                                reordered.store(true, Ordering::SeqCst);
                                let _ = inboxes[2].unbounded_send(earlier);
                            }
                        }
                    }
                }
            })
        });
        let handles: Vec<_> = receivers
            .into_iter()
            .enumerate()
            .map(|(i, rx)| {
                let tx = to_router.clone();
                s.spawn(move || {
                    let i = i as u16;
                    futures::executor::block_on(keygen(
                        session,
                        i,
                        n,
                        threshold,
                        [1; 32],
                        connect(session, i, n, rx, tx),
                    ))
                })
            })
            .collect();
        drop(to_router);
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(
        reordered.load(Ordering::SeqCst),
        "party 2 never saw a later round before the held message"
    );
    let shares = must_all_ok(results);
    for share in &shares {
        assert_eq!(share.public_key(), shares[0].public_key());
    }
}
