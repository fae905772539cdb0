//! What the shipped monitoring (`deploy/monitoring/`) watches is really exported: a cluster of
//! real `mpcium` processes creates a wallet and signs with both keys, and every node's
//! `/metrics` then holds every metric the alert rules and the dashboard reference, with the real
//! key type on signing series and the gauges set by production code.

use std::path::Path;

use mpcium_client::hd::compress_secp256k1;
use mpcium_client::SignRequest;
use mpcium_e2e::{must_http_get, must_recover_ecdsa, must_verify_eddsa, Cluster, ClusterOptions};
use mpcium_testkit::metric_names;
use sha2::{Digest, Sha256};

/// The metric names `deploy/monitoring/*` references (alert rules and dashboard).
fn monitored_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/monitoring");
    let mut names = Vec::new();
    for file in ["prometheus-alerts.yaml", "grafana-dashboard.json"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("monitoring file");
        names.extend(metric_names(&text));
    }
    names.sort();
    names.dedup();
    names
}

/// The value of the first sample of `series` (a name, or a name and the start of its labels).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            line.strip_prefix(series)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_monitored_metric_is_exported_after_real_requests() {
    let cluster = Cluster::must_start(ClusterOptions {
        health: true,
        // A hot wallet that is never created: its pool depth is exported (0) on every node
        // without presigning in the background.
        extra_config: "backup_enabled: true\npresignatures: {hot_wallets: [w-hot-unused]}\n".into(),
        ..Default::default()
    })
    .await;
    let client = cluster.must_client("monitoring").await;
    let wallet = format!("w-{}", uuid::Uuid::new_v4());
    let keys = client.create_wallet(&wallet).await.expect("keygen");
    let d: [u8; 32] = Sha256::digest(b"watched").into();
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet, d))
        .await
        .expect("ecdsa");
    let ecdsa = compress_secp256k1(keys.ecdsa_pub_key.as_deref().expect("key")).expect("point");
    must_recover_ecdsa(&signed, &d, &ecdsa);
    let signed = client
        .sign(SignRequest::eddsa(&wallet, b"watched".to_vec()))
        .await
        .expect("eddsa");
    must_verify_eddsa(
        &signed,
        b"watched",
        keys.eddsa_pub_key.as_deref().expect("key"),
    );

    let names = monitored_names();
    assert!(names.len() >= 8, "{names:?}");
    let mut scrapes = Vec::new();
    for node in &cluster.nodes {
        let text = must_http_get(node.health.expect("health address"), "/metrics").await;
        // Gauges every node sets, whatever it coordinated.
        assert_eq!(value(&text, "mpcium_node_ready"), Some(1.0), "{text}");
        assert_eq!(value(&text, "mpcium_peers_ready"), Some(3.0), "{text}");
        assert_eq!(value(&text, "mpcium_peers_total"), Some(3.0), "{text}");
        assert_eq!(
            value(&text, "mpcium_presignature_pool_depth"),
            Some(0.0),
            "{text}"
        );
        assert_eq!(value(&text, "mpcium_nats_reconnects_total"), Some(0.0));
        let age = value(&text, "mpcium_backup_age_seconds").expect("backup age");
        assert!((0.0..600.0).contains(&age), "{age}");
        // Every node took part in the keygen, and every session has ended.
        assert_eq!(
            value(&text, r#"mpcium_sessions_in_flight{operation="keygen"}"#),
            Some(0.0),
            "{text}"
        );
        for line in text
            .lines()
            .filter(|l| l.starts_with("mpcium_sessions_in_flight{"))
        {
            assert!(line.ends_with(" 0"), "{line}");
        }
        scrapes.push(text);
    }
    let all = scrapes.join("\n");
    // Request series live on the node that answered each request.
    for name in &names {
        assert!(
            value(&all, name).is_some(),
            "{name} is used by deploy/monitoring but no node exports it:\n{all}"
        );
    }
    let total =
        |series: &str| -> f64 { scrapes.iter().filter_map(|text| value(text, series)).sum() };
    for key_type in ["secp256k1", "ed25519"] {
        let requests = format!(
            "mpcium_requests_total{{operation=\"sign\",key_type=\"{key_type}\",result=\"success\"}}"
        );
        assert_eq!(total(&requests), 1.0, "{requests} in:\n{all}");
        let latency = format!(
            "mpcium_request_duration_seconds_count{{operation=\"sign\",key_type=\"{key_type}\"}}"
        );
        assert_eq!(total(&latency), 1.0, "{latency}");
    }
    assert!(
        !all.contains(r#"operation="sign",key_type="both""#),
        "{all}"
    );
    assert_eq!(
        total(r#"mpcium_requests_total{operation="keygen",key_type="both",result="success"}"#),
        1.0
    );
    assert_eq!(
        total(r#"mpcium_results_total{operation="sign",error_code="none"}"#),
        2.0
    );
}
