//! A member that sends a tampered zero-knowledge proof, end to end: real node processes, one of
//! them told by its test hook (`tamper <protocol>:<round>`, refused in production) to corrupt a
//! big integer in the messages it sends in one round of ECDSA signing. The messages still decode
//! and carry valid envelopes (the cheater is a member), so only the proof check can catch them:
//! the honest signer aborts, the client gets a prompt error naming the cheater (not a timeout),
//! no wallet changes, and the next honest request signs.

use mpcium_client::{ClientError, SignRequest};
use mpcium_e2e::faults::{digest, Wallet};
use mpcium_e2e::{Cluster, ClusterOptions};
use mpcium_protocol::ErrorCode;

/// ECDSA signing rounds whose messages carry proofs: the encryption proofs of round 1 and the
/// affine-operation proofs of round 2.
const PROVING_ROUNDS: [u16; 2] = [1, 2];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sending_a_tampered_proof_is_named_to_the_client_and_nothing_changes() {
    let mut cluster = Cluster::must_start(ClusterOptions {
        test_hook: true,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.must_patient_client("hostile-proof").await;
    let wallet = Wallet::must_create(&cluster, &client, "w-hostile-proof").await;
    // With node 2 stopped, every committee is nodes 0 and 1; node 1 cheats.
    cluster.must_stop(2).await;
    let cheater = &cluster.nodes[1];
    for round in PROVING_ROUNDS {
        let tampered_before = cheater.log_lines("test hook: tampered").len();
        cheater.hold(&format!("tamper ecdsa-sign:{round}"));
        let text = format!("signed while round {round} is tampered with");
        let outcome = client
            .sign(SignRequest::ecdsa_digest(&wallet.id, digest(&text)))
            .await;
        cheater.release();
        match outcome {
            Err(ClientError::Failed { code, reason }) => {
                eprintln!("round {round}: {code:?}: {reason}");
                assert_ne!(code, ErrorCode::SessionTimeout, "round {round}: {reason}");
                assert!(
                    reason.contains(&cheater.id),
                    "round {round}: {code:?} does not name the cheater {}: {reason}",
                    cheater.id
                );
            }
            other => panic!("round {round}: expected an error naming the cheater, got {other:?}"),
        }
        assert!(
            cheater.log_lines("test hook: tampered").len() > tampered_before,
            "round {round}: the hook did not tamper"
        );
    }
    wallet.must_be_unchanged(&cluster).await;
    wallet
        .must_sign_ecdsa(&client, "after the tampered rounds")
        .await;
}
