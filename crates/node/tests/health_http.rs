//! The operations listener over real HTTP on 127.0.0.1:0: `/health` codes and JSON shape as the
//! reference has them, `/healthz` and `/readyz` for separate Kubernetes probes, timeouts, and the
//! real probes over a real nats-server and NATS KV registry. (`/metrics` content is tested in
//! `health_metrics.rs`, a process of its own, because the recorder is process-wide.)

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use mpcium_node::health::{self, HealthReport, NodeProbes, ProbeHealth};
use mpcium_protocol::Threshold;
use mpcium_state::registry::{AnyRegistry, NatsKvRegistry, NatsKvSettings, ReadyView, Registry};
use mpcium_testkit::NatsServer;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// Probes that answer whatever the test last set.
#[derive(Default)]
struct FixedProbes(Mutex<HealthReport>);

impl FixedProbes {
    fn must_set(&self, report: HealthReport) {
        *self.0.lock().unwrap() = report;
    }
}

impl ProbeHealth for FixedProbes {
    fn probe(&self) -> BoxFuture<'_, HealthReport> {
        let report = self.0.lock().unwrap().clone();
        Box::pin(async move { report })
    }
}

/// Probes that never answer.
struct HangingProbes;

impl ProbeHealth for HangingProbes {
    fn probe(&self) -> BoxFuture<'_, HealthReport> {
        Box::pin(futures::future::pending())
    }
}

fn ready_report() -> HealthReport {
    HealthReport {
        nats_connected: true,
        registry_connected: true,
        peers_ready: 2,
        peers_total: 3,
        signers_required: 2,
        nats_connects: 1,
        ..Default::default()
    }
}

/// Aborts the server task when the test ends.
struct Server {
    task: JoinHandle<()>,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn must_serve(
    probes: Arc<dyn ProbeHealth>,
    handle: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> Server {
    let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (task, addr) = health::serve(any_port, probes, handle).await.unwrap();
    assert_ne!(addr.port(), 0);
    Server { task, addr }
}

async fn must_get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn a_ready_node_answers_200_with_the_reference_json() {
    let probes = Arc::new(FixedProbes::default());
    probes.must_set(ready_report());
    let server = must_serve(probes, None).await;

    let (status, body) = must_get(&server.url("/health")).await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        keys(&json),
        BTreeSet::from(["status", "live", "ready", "details"])
    );
    assert_eq!(
        keys(&json["details"]),
        BTreeSet::from([
            "nats_connected",
            "consul_connected",
            "peers_ready_count",
            "all_peers_ready",
            "majority_ready"
        ])
    );
    assert_eq!(json["status"], "ready");
    assert_eq!(json["live"], true);
    assert_eq!(json["ready"], true);
    assert_eq!(json["details"]["nats_connected"], true);
    assert_eq!(json["details"]["consul_connected"], true);
    assert_eq!(json["details"]["peers_ready_count"], "2/3");
    assert_eq!(json["details"]["all_peers_ready"], false);
    assert_eq!(json["details"]["majority_ready"], true);
}

#[tokio::test]
async fn a_node_without_a_majority_answers_503_until_enough_peers_are_ready() {
    let probes = Arc::new(FixedProbes::default());
    probes.must_set(HealthReport {
        peers_ready: 1,
        ..ready_report()
    });
    let server = must_serve(probes.clone(), None).await;

    let (status, body) = must_get(&server.url("/health")).await;
    assert_eq!(status, 503);
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "not_ready");
    assert_eq!(json["ready"], false);
    assert_eq!(json["live"], true);
    assert_eq!(json["details"]["peers_ready_count"], "1/3");
    assert_eq!(json["details"]["majority_ready"], false);

    probes.must_set(ready_report());
    assert_eq!(must_get(&server.url("/health")).await.0, 200);
}

#[tokio::test]
async fn liveness_stays_200_while_readiness_follows_health() {
    let probes = Arc::new(FixedProbes::default());
    probes.must_set(HealthReport {
        nats_connected: false,
        ..ready_report()
    });
    let server = must_serve(probes.clone(), None).await;

    assert_eq!(must_get(&server.url("/healthz")).await.0, 200);
    let (status, body) = must_get(&server.url("/readyz")).await;
    assert_eq!(status, 503);
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["details"]["nats_connected"], false);

    probes.must_set(ready_report());
    assert_eq!(must_get(&server.url("/readyz")).await.0, 200);
    assert_eq!(must_get(&server.url("/healthz")).await.0, 200);
}

#[tokio::test]
async fn metrics_is_not_served_without_a_handle() {
    let probes = Arc::new(FixedProbes::default());
    let server = must_serve(probes, None).await;
    assert_eq!(must_get(&server.url("/metrics")).await.0, 404);
}

#[tokio::test]
async fn a_probe_that_never_answers_yields_503_within_the_write_timeout() {
    let server = must_serve(Arc::new(HangingProbes), None).await;
    let started = Instant::now();
    // The server answers after PROBE_DEADLINE, inside its own HTTP_TIMEOUT; the bound here is
    // looser so a loaded CI machine cannot turn scheduling delay into a failure.
    let (status, body) =
        tokio::time::timeout(health::HTTP_TIMEOUT * 3, must_get(&server.url("/health")))
            .await
            .unwrap();
    assert_eq!(status, 503);
    assert!(started.elapsed() >= health::PROBE_DEADLINE);
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "not_ready");
}

#[tokio::test]
async fn a_client_that_sends_no_headers_is_disconnected_after_the_read_timeout() {
    let server = must_serve(Arc::new(FixedProbes::default()), None).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let mut rest = Vec::new();
    let started = Instant::now();
    // Closed (possibly after a 408, possibly with a reset): either way the read ends.
    let _closed = tokio::time::timeout(health::HTTP_TIMEOUT * 3, stream.read_to_end(&mut rest))
        .await
        .expect("the server kept a silent connection open");
    assert!(started.elapsed() >= health::HTTP_TIMEOUT - Duration::from_millis(100));
    assert!(!String::from_utf8_lossy(&rest).contains("ready"));
}

#[tokio::test]
async fn an_address_in_use_is_reported_at_start_up() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let result = health::serve(addr, Arc::new(FixedProbes::default()), None).await;
    assert_eq!(
        result.map(|(task, _)| task.abort()).unwrap_err().kind(),
        std::io::ErrorKind::AddrInUse
    );
}

#[tokio::test]
async fn node_probes_report_nats_registry_and_ready_peers_then_notice_nats_going_away() {
    let nats = NatsServer::must_start();
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .event_callback(move |event| {
            let events_tx = events_tx.clone();
            async move {
                let _ = events_tx.send(event);
            }
        })
        .connect(nats.url())
        .await
        .unwrap();
    let registry = NatsKvRegistry::open(client.clone(), &NatsKvSettings::default())
        .await
        .unwrap();
    for id in ["node-a", "node-c", "not-a-member"] {
        registry
            .set_ready(id, Duration::from_secs(120))
            .await
            .unwrap();
    }
    let registry = AnyRegistry::Nats(registry);
    let ready = ReadyView::start(&registry, Duration::from_secs(120));
    assert!(ready.loaded_within(Duration::from_secs(10)).await);
    let probes = NodeProbes::from_parts(
        client,
        Arc::new(registry),
        ready,
        vec!["node-a".into(), "node-b".into(), "node-c".into()],
        Threshold::new(2, 3).unwrap(),
    );
    let report = probes.probe().await;
    assert_eq!(
        report,
        HealthReport {
            nats_connected: true,
            registry_connected: true,
            peers_ready: 2,
            peers_total: 3,
            signers_required: 2,
            nats_connects: 1,
            ..Default::default()
        }
    );
    let server = must_serve(Arc::new(probes), None).await;
    let (status, body) = must_get(&server.url("/health")).await;
    assert_eq!(status, 200, "{body}");

    drop(nats);
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(event) = events.recv().await {
            if matches!(event, async_nats::Event::Disconnected) {
                return;
            }
        }
    })
    .await
    .expect("the client never noticed the server going away");
    let (status, body) = must_get(&server.url("/health")).await;
    assert_eq!(status, 503, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["details"]["nats_connected"], false);
    assert_eq!(json["status"], "not_ready");
}
