//! `mpcium-cli benchmark` against a real cluster: the summary accounts for every request, by
//! outcome and error code (timing is not asserted).

use std::path::Path;
use std::process::{Command, Output};

use mpcium_e2e::{must_find_binary, Cluster, ClusterOptions};
use serde_json::Value;

fn must_benchmark(nats: &str, key: &Path, mode: &str, extra: &[&str]) -> (Output, Value) {
    let out = Command::new(must_find_binary("mpcium-cli"))
        .args(["benchmark", mode, "--json", "--timeout-s", "60"])
        .args(["--nats", nats, "--key", key.to_str().expect("utf-8 path")])
        .args(extra)
        .output()
        .expect("run mpcium-cli");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, summary)
}

fn must_ms(summary: &Value, field: &str) -> f64 {
    summary[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing in {summary}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn benchmark_summarises_every_ed25519_request_and_tallies_failures_by_code() {
    let cluster = Cluster::must_start(ClusterOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("initiator.key");
    cluster.must_write_initiator_key(&key);
    let nats = cluster.nats.url().to_owned();

    let (ok_run, summary) = tokio::task::spawn_blocking({
        let (nats, key) = (nats.clone(), key.clone());
        move || {
            must_benchmark(
                &nats,
                &key,
                "sign-eddsa",
                &["--requests", "6", "--concurrency", "3"],
            )
        }
    })
    .await
    .expect("benchmark task");
    assert!(ok_run.status.success(), "{summary}");
    assert_eq!(summary["mode"], "sign-eddsa");
    assert_eq!(summary["requests"], 6);
    assert_eq!(summary["concurrency"], 3);
    assert_eq!(summary["ok"], 6);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["errors"], serde_json::json!({}));
    let p = ["p50_ms", "p90_ms", "p99_ms", "max_ms"].map(|f| must_ms(&summary, f));
    assert!(
        p[0] > 0.0 && p.windows(2).all(|w| w[0] <= w[1]),
        "{summary}"
    );
    assert!(must_ms(&summary, "throughput_per_s") > 0.0, "{summary}");

    // A wallet no node holds: every request fails, each counted under the cluster's code.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key();
    let stranger = hex::encode(stranger.as_bytes());
    let (failed_run, summary) = tokio::task::spawn_blocking({
        let (nats, key) = (nats.clone(), key.clone());
        move || {
            must_benchmark(
                &nats,
                &key,
                "sign-eddsa",
                &[
                    "--requests",
                    "2",
                    "--wallet",
                    "no-such-wallet",
                    "--eddsa-pub",
                    &stranger,
                ],
            )
        }
    })
    .await
    .expect("benchmark task");
    assert!(!failed_run.status.success(), "{summary}");
    assert_eq!(summary["ok"], 0);
    assert_eq!(summary["failed"], 2);
    assert_eq!(
        summary["errors"],
        serde_json::json!({"ERROR_KEY_NOT_FOUND": 2})
    );
    assert_eq!(summary["p50_ms"], Value::Null);

    // Message mode (the nodes hash), with a wallet created under a chosen ID: every signature
    // recovers the wallet's key over the SHA-256 of its message.
    let (message_run, summary) = tokio::task::spawn_blocking(move || {
        must_benchmark(
            &nats,
            &key,
            "sign-ecdsa-message",
            &["--requests", "2", "--new-wallet", "bench-chosen-id"],
        )
    })
    .await
    .expect("benchmark task");
    assert!(message_run.status.success(), "{summary}");
    assert_eq!(summary["mode"], "sign-ecdsa-message");
    assert_eq!(
        (summary["ok"].clone(), summary["failed"].clone()),
        (2.into(), 0.into())
    );
    assert!(
        String::from_utf8_lossy(&message_run.stderr).contains("created wallet bench-chosen-id "),
        "{}",
        String::from_utf8_lossy(&message_run.stderr)
    );
}
