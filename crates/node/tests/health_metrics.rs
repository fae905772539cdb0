//! `/metrics` over real HTTP shows what the node recorded through `mpcium_node::metrics`, plus the
//! readiness gauges taken from the probes at scrape time. Alone in its file: the recorder is
//! process-wide, and other tests' probes would move the same gauges.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use mpcium_node::health::{self, HealthReport, ProbeHealth};
use mpcium_node::metrics;
use mpcium_node::session::control::Operation;
use mpcium_protocol::{ErrorCode, KeyType};

struct FixedProbes(HealthReport);

impl ProbeHealth for FixedProbes {
    fn probe(&self) -> BoxFuture<'_, HealthReport> {
        Box::pin(async move { self.0.clone() })
    }
}

#[tokio::test]
async fn metrics_shows_recorded_series_and_the_readiness_gauges() {
    let handle = metrics::install().unwrap();
    let probes = FixedProbes(HealthReport {
        nats_connected: true,
        registry_connected: true,
        peers_ready: 2,
        peers_total: 3,
        signers_required: 2,
        nats_connects: 4,
        ..Default::default()
    });
    let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (task, addr) = health::serve(any_port, Arc::new(probes), Some(handle))
        .await
        .unwrap();
    metrics::request_finished(
        Operation::Sign,
        Some(KeyType::Secp256k1),
        Some(&ErrorCode::SessionTimeout),
        Duration::from_millis(1500),
    );
    let _session = metrics::session_started(Operation::Keygen);
    metrics::set_presignature_pool_depth("w9", 9);

    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    task.abort();
    for series in [
        r#"mpcium_requests_total{operation="sign",key_type="secp256k1",result="error"} 1"#,
        r#"mpcium_request_duration_seconds_bucket{operation="sign",key_type="secp256k1",le="1"} 0"#,
        r#"mpcium_request_duration_seconds_bucket{operation="sign",key_type="secp256k1",le="2.5"} 1"#,
        r#"mpcium_results_total{operation="sign",error_code="ERROR_SESSION_TIMEOUT"} 1"#,
        r#"mpcium_sessions_in_flight{operation="keygen"} 1"#,
        r#"mpcium_presignature_pool_depth{wallet_id="w9",key_type="secp256k1"} 9"#,
        "mpcium_node_ready 1",
        "mpcium_peers_ready 2",
        "mpcium_peers_total 3",
        "mpcium_nats_reconnects_total 3",
        "# TYPE mpcium_request_duration_seconds histogram",
        "# HELP mpcium_requests_total client requests answered",
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
}
