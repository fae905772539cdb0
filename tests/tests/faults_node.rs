//! Fault suite, one node's process and store on a 2-of-3 cluster: a node killed while idle and
//! restarted with its store rejoins and signs; a node frozen with SIGSTOP in the middle of a
//! signing session, past the signing deadline, then continued with SIGCONT; a node whose store is
//! deleted is signed around (or, with no committee left without it, gives a clear error), and
//! the documented recovery (a reshare to the same committee) brings it back.
//!
//! Each scenario asserts a terminal result for the client, that the wallet is unchanged, and that
//! the next request succeeds.

use std::time::{Duration, Instant};

use mpcium_client::{ClientError, ReshareRequest, SignRequest};
use mpcium_e2e::faults::{must_wait, Wallet};
use mpcium_e2e::{must_verify_eddsa, Cluster, ClusterOptions};
use mpcium_protocol::{ErrorCode, KeyType};

/// `signing_timeout_seconds` of the SIGSTOP scenario: short, so going past it is quick.
const SIGNING_DEADLINE: Duration = Duration::from_secs(20);

/// What a node logs when its part of a session ends without an outcome of its own: aborted
/// ("session part aborted by its coordinator") or failed ("session part failed").
const SESSION_PART_ENDED: &str = "session part ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_and_restarted_with_its_store_rejoins_and_signs() {
    let mut cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_patient_client("faults-node-restart").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-node-restart").await;
    cluster.must_kill(1);
    cluster.must_restart(1).await;
    wallet.must_be_unchanged(&cluster).await;
    cluster.must_sign_including(1, &client, &wallet).await;
    wallet.must_sign_both(&client, "the next request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_paused_past_the_deadline_is_failed_over_and_signs_after_it_continues() {
    let mut cluster = Cluster::must_start(ClusterOptions {
        extra_config: format!("signing_timeout_seconds: {}\n", SIGNING_DEADLINE.as_secs()),
        ..ClusterOptions::faults()
    })
    .await;
    let client = cluster.must_patient_client("faults-node-pause").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-node-pause").await;
    let text = "signed while a member is frozen";
    let mark = cluster.hold_all_at("eddsa-sign", 1);
    let sign = client.sign(SignRequest::eddsa(&wallet.id, text.as_bytes().to_vec()));
    let pause = async {
        let held = cluster.must_wait_held(&mark, 2).await;
        let frozen = held
            .iter()
            .find(|h| cluster.nodes[h.node].id != h.coordinator)
            .expect("a holding participant that does not coordinate")
            .node;
        cluster.must_signal(frozen, "STOP");
        cluster.release_all();
        (frozen, Instant::now())
    };
    let (signed, (frozen, paused_at)) = tokio::join!(sign, pause);
    // The coordinator saw the frozen node's readiness lapse and signed without it.
    let signed = signed.expect("signing fails over around the frozen node");
    must_verify_eddsa(&signed, text.as_bytes(), &wallet.eddsa);

    // The scenario itself: stay frozen until the held session's deadline is over.
    let past = SIGNING_DEADLINE + Duration::from_secs(5);
    must_wait("the frozen node's session deadline to pass", || {
        (paused_at.elapsed() > past).then_some(())
    })
    .await;
    // Its stale session ends instead of hanging: aborted by the coordinator's abort, which
    // waited for it on NATS, or timed out, whichever it sees first ("session part aborted by
    // its coordinator" / "session part failed"); and it is ready again.
    let ended = cluster.mark(SESSION_PART_ENDED);
    cluster.must_signal(frozen, "CONT");
    cluster
        .must_wait_logged(&ended, &[frozen], SESSION_PART_ENDED)
        .await;
    cluster.must_wait_ready(&[frozen]).await;
    wallet.must_be_unchanged(&cluster).await;
    cluster.must_sign_including(frozen, &client, &wallet).await;
    wallet.must_sign_both(&client, "the next request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_store_is_deleted_is_signed_around_or_named_until_a_reshare_restores_it() {
    let mut cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_patient_client("faults-node-wiped").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-faults-node-wiped").await;
    let wiped = 2;
    let wiped_id = cluster.nodes[wiped].id.clone();
    cluster.must_kill(wiped);
    cluster.must_wipe_store(wiped);
    cluster.must_restart(wiped).await;

    // With every node up, committees that include the wiped node fail over to the other two:
    // the wiped node reports it holds no share, the coordinator aborts its partner's part and
    // signs without it. Committees rotate with the transaction id, so 8 requests include it.
    let logged = |needle: &str| -> usize {
        cluster
            .nodes
            .iter()
            .map(|n| n.log_lines(needle).len())
            .sum()
    };
    let (failovers, aborts) = (
        logged("signers cannot take part"),
        logged("session part aborted by its coordinator"),
    );
    for i in 0..8 {
        wallet
            .must_sign_eddsa(&client, &format!("around the wiped node {i}"))
            .await;
    }
    assert!(
        logged("signers cannot take part") > failovers,
        "no request had the wiped node in its committee"
    );
    // The partner's abort may still be on its way when the signature arrives.
    must_wait("the wiped node's partner to be aborted", || {
        (logged("session part aborted by its coordinator") > aborts).then_some(())
    })
    .await;

    // With node 0 stopped, every committee needs the wiped node: a clear error naming it.
    cluster.must_stop(0).await;
    match client
        .sign(SignRequest::eddsa(
            &wallet.id,
            b"needs the wiped node".to_vec(),
        ))
        .await
    {
        Err(ClientError::Failed { code, reason }) => {
            assert_eq!(code, ErrorCode::KeyNotFound, "{reason}");
            assert!(reason.contains(&wiped_id), "{reason}");
        }
        other => panic!("expected ERROR_KEY_NOT_FOUND naming {wiped_id}, got {other:?}"),
    }
    cluster.must_restart(0).await;
    wallet.must_be_unchanged(&cluster).await;

    // The documented recovery: reshare to the same committee; the wiped node joins as a new
    // member (a node without a share cannot coordinate: send again until a holder takes it).
    let mut nodes: Vec<String> = cluster.nodes.iter().map(|n| n.id.clone()).collect();
    nodes.sort();
    let request = ReshareRequest {
        session_id: None,
        wallet_id: wallet.id.clone(),
        key_type: KeyType::Ed25519,
        node_ids: nodes,
        new_threshold: 2,
    };
    let mut reshared = false;
    for _ in 0..12 {
        match client.reshare(request.clone()).await {
            Err(ClientError::Failed { code, reason })
                if code == ErrorCode::KeyNotFound && reason.contains("cannot coordinate") => {}
            Ok(done) if done.error_code.is_none() => {
                reshared = true;
                break;
            }
            other => panic!("the recovery reshare failed: {other:?}"),
        }
    }
    assert!(reshared, "no holder took the reshare in 12 attempts");
    cluster.must_stop(0).await;
    wallet
        .must_sign_eddsa(&client, "signed by the restored node")
        .await;
    cluster.must_restart(0).await;
    wallet.must_sign_eddsa(&client, "the next request").await;
}
