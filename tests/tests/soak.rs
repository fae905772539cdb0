//! The short soak (`scripts/soak.sh` is the long one): 1,000 Ed25519 signatures at concurrency
//! 32 on a 2-of-3 cluster of real node processes, in phases, with the `mpcium-cli benchmark`
//! machinery. Asserts no request fails and no KV stream gains consumers; timing is printed, not
//! asserted.

use std::collections::BTreeMap;

use async_nats::jetstream;
use futures::StreamExt;
use mpcium_client::bench::{self, Mode, WalletChoice};
use mpcium_e2e::{Cluster, ClusterOptions};

const PHASES: usize = 4;
const PER_PHASE: usize = 250;
const CONCURRENCY: usize = 32;

/// Consumers of every KV stream (`KV_<bucket>`), by stream name.
async fn kv_consumers(js: &jetstream::Context) -> BTreeMap<String, usize> {
    let mut names = js.stream_names();
    let mut out = BTreeMap::new();
    while let Some(name) = names.next().await {
        let name = name.expect("stream name");
        if !name.starts_with("KV_") {
            continue;
        }
        let mut stream = js.get_stream(&name).await.expect("kv stream");
        let count = stream
            .info()
            .await
            .expect("stream info")
            .state
            .consumer_count;
        out.insert(name, count);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_signatures_at_concurrency_32_all_succeed_without_consumer_growth() {
    let cluster = Cluster::must_start(ClusterOptions::default()).await;
    let client = cluster.must_client("soak").await;
    let target = bench::prepare(&client, &Mode::SignEddsa, WalletChoice::New(None))
        .await
        .expect("benchmark wallet");
    let js = jetstream::new(async_nats::connect(cluster.nats.url()).await.expect("nats"));
    let before = kv_consumers(&js).await;
    assert!(before.contains_key("KV_mpc_ready"), "{before:?}");

    for phase in 1..=PHASES {
        let summary = bench::run(&client, &target, PER_PHASE, CONCURRENCY, |_| {}).await;
        let consumers = kv_consumers(&js).await;
        eprintln!(
            "soak phase {phase}: {} ok, {} failed, p50 {:?}, {:.1}/s, KV consumers {consumers:?}",
            summary.ok(),
            summary.failed,
            summary.percentile(50),
            summary.throughput_per_s()
        );
        assert_eq!(
            summary.failed, 0,
            "phase {phase}: {:?} {:?}",
            summary.errors, summary.first_reasons
        );
        assert_eq!(summary.ok(), PER_PHASE);
        // Start-up listings' consumers may expire meanwhile; none may be added.
        for (name, now) in &consumers {
            let was = before.get(name).copied().unwrap_or(0);
            assert!(
                *now <= was,
                "phase {phase}: {name} had {was} consumers before, {now} now"
            );
        }
    }
}
