//! Presignature pools on a 2-of-3 cluster of real node processes: a hot wallet's pools fill
//! in the background; a message-mode ECDSA signature is made from a presignature, verifies and
//! uses it up on each signer, and no presignature is ever used twice; a wallet without a pool
//! falls back to full signing; a reshare burns the pools and signing goes on; a node restored
//! from its backup holds none, so its committee's stores disagree and requests fall back until
//! the refill makes presignatures both hold again.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use mpcium_client::hd::compress_secp256k1;
use mpcium_client::{Client, ClientError, ReshareRequest, SignRequest};
use mpcium_e2e::{must_find_binary, must_http_get, must_recover_ecdsa, Cluster, ClusterOptions};
use mpcium_protocol::{ErrorCode, KeyType, MessageHash};
use sha2::{Digest, Sha256};

/// Presignatures kept per pool.
const TARGET: u64 = 2;
/// The hot wallet's pools when full: its first ready holder fills the pools of the two
/// committees it belongs to, so it holds `2 × TARGET` and each other holder `TARGET`.
const FULL: u64 = 4 * TARGET;
/// What a consumed presignature leaves in a node's log.
const CONSUMED: &str = "presignature consumed: ";

fn cluster_options(hot: &str, target: u64) -> ClusterOptions {
    ClusterOptions {
        health: true,
        extra_config: format!("presignatures: {{hot_wallets: [{hot}], target_depth: {target}}}\n"),
        ..Default::default()
    }
}

/// Every node's `/metrics`.
async fn must_scrape(cluster: &Cluster) -> Vec<String> {
    must_scrape_nodes(cluster, &[0, 1, 2]).await
}

/// The `/metrics` of the nodes `indices`.
async fn must_scrape_nodes(cluster: &Cluster, indices: &[usize]) -> Vec<String> {
    let mut texts = Vec::new();
    for i in indices {
        let addr = cluster.nodes[*i].health.expect("health address");
        texts.push(must_http_get(addr, "/metrics").await);
    }
    texts
}

/// Node `i`'s depth gauge for `wallet`, once it exports one.
async fn must_node_depth(cluster: &Cluster, i: usize, wallet: &str) -> u64 {
    let label = format!("wallet_id=\"{wallet}\"");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let texts = must_scrape_nodes(cluster, &[i]).await;
        let name = "mpcium_presignature_pool_depth";
        if texts[0]
            .lines()
            .any(|l| l.starts_with(name) && l.contains(&label))
        {
            return sum(&texts, name, &label) as u64;
        }
        assert!(
            Instant::now() < deadline,
            "node {i} exports no depth for {wallet}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The sum over `texts` of the samples of `name` whose labels contain `label`.
fn sum(texts: &[String], name: &str, label: &str) -> f64 {
    texts
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn depth(cluster: &Cluster, wallet: &str) -> u64 {
    let label = format!("wallet_id=\"{wallet}\"");
    sum(
        &must_scrape(cluster).await,
        "mpcium_presignature_pool_depth",
        &label,
    ) as u64
}

async fn pool_requests(cluster: &Cluster, result: &str) -> u64 {
    let label = format!("result=\"{result}\"");
    sum(
        &must_scrape(cluster).await,
        "mpcium_presignature_pool_requests_total",
        &label,
    ) as u64
}

/// Waits (generously: presigning takes seconds of CPU on a loaded machine) until the
/// wallet's pools over all nodes hold `want` presignatures.
async fn must_wait_for_depth(cluster: &Cluster, wallet: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let now = depth(cluster, wallet).await;
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the pools of {wallet} hold {now} presignatures, not {want}:\n{}",
            cluster.nodes[0].log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every presignature use logged by any node: (node, "#id of pool …").
fn consumed(cluster: &Cluster) -> Vec<(String, String)> {
    let mut uses = Vec::new();
    for node in &cluster.nodes {
        for line in node.log().lines() {
            if let Some((_, what)) = line.split_once(CONSUMED) {
                uses.push((node.name.clone(), what.trim().to_owned()));
            }
        }
    }
    uses
}

fn must_be_single_use(uses: &[(String, String)]) {
    let distinct: BTreeSet<&(String, String)> = uses.iter().collect();
    assert_eq!(
        distinct.len(),
        uses.len(),
        "a presignature was used twice: {uses:?}"
    );
}

async fn must_sign_message(client: &Client, wallet: &str, ecdsa: &[u8; 33], text: &str) {
    let message = text.as_bytes().to_vec();
    let signed = client
        .sign(SignRequest::ecdsa_message(
            wallet,
            message.clone(),
            MessageHash::Sha256,
        ))
        .await
        .expect("message-mode signing");
    let digest: [u8; 32] = Sha256::digest(&message).into();
    must_recover_ecdsa(&signed, &digest, ecdsa);
}

async fn must_create(client: &Client, wallet: &str) -> [u8; 33] {
    let keys = client.create_wallet(wallet).await.expect("keygen");
    compress_secp256k1(keys.ecdsa_pub_key.as_deref().expect("ecdsa key")).expect("on curve")
}

/// Reshares the wallet's ECDSA key to the same committee (a refresh), retrying until a holder
/// coordinates it (any node may take the request; only holders coordinate).
async fn must_refresh(client: &Client, cluster: &Cluster, wallet: &str) {
    let request = ReshareRequest {
        session_id: None,
        wallet_id: wallet.to_owned(),
        key_type: KeyType::Secp256k1,
        node_ids: cluster.nodes.iter().map(|n| n.id.clone()).collect(),
        new_threshold: 2,
    };
    for _ in 0..12 {
        match client.reshare(request.clone()).await {
            Err(ClientError::Failed { code, reason })
                if code == ErrorCode::KeyNotFound && reason.contains("cannot coordinate") => {}
            other => {
                let event = other.expect("reshare succeeds");
                assert!(event.error_code.is_none(), "{}", event.error_reason);
                return;
            }
        }
    }
    panic!("no holder of the wallet took the reshare in 12 attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_wallet_signs_from_its_pool_once_per_presignature_and_a_reshare_burns_it() {
    let hot = format!("w-hot-{}", uuid::Uuid::new_v4());
    let cluster = Cluster::must_start(cluster_options(&hot, TARGET)).await;
    let client = cluster.must_client("presign-pool").await;
    let ecdsa = must_create(&client, &hot).await;
    must_wait_for_depth(&cluster, &hot, FULL).await;

    // From the pool: one presignature, used up on both signers.
    must_sign_message(&client, &hot, &ecdsa, "pay alice 1").await;
    assert_eq!(pool_requests(&cluster, "hit").await, 1);
    assert_eq!(pool_requests(&cluster, "miss").await, 0);
    let uses = consumed(&cluster);
    assert_eq!(uses.len(), 2, "{uses:?}");
    assert_eq!(
        uses[0].1, uses[1].1,
        "both signers use the same presignature"
    );

    // More: every signature verifies, each presignature is used once per signer at most, and
    // every hit used exactly one presignature on each of its two signers.
    for i in 2..=5 {
        must_sign_message(&client, &hot, &ecdsa, &format!("pay alice {i}")).await;
    }
    let uses = consumed(&cluster);
    must_be_single_use(&uses);
    let hits = pool_requests(&cluster, "hit").await;
    let misses = pool_requests(&cluster, "miss").await;
    assert_eq!(hits + misses, 5);
    assert_eq!(uses.len() as u64, 2 * hits, "{uses:?}");

    // A wallet without a pool: full signing, counted as a miss, no presignature used.
    let cold = format!("w-cold-{}", uuid::Uuid::new_v4());
    let cold_key = must_create(&client, &cold).await;
    must_sign_message(&client, &cold, &cold_key, "pay bob").await;
    assert_eq!(pool_requests(&cluster, "miss").await, misses + 1);
    assert_eq!(consumed(&cluster).len(), uses.len());

    // A reshare burns every node's pools of the wallet; signing goes on with the new shares.
    must_wait_for_depth(&cluster, &hot, FULL).await;
    must_refresh(&client, &cluster, &hot).await;
    for node in &cluster.nodes {
        let log = node.log();
        let burned = log
            .lines()
            .filter(|l| l.contains(&format!("presignatures of wallet {hot}")))
            .find_map(|l| {
                l.split("burned ")
                    .nth(1)?
                    .split(' ')
                    .next()?
                    .parse::<u64>()
                    .ok()
            });
        assert!(
            burned.is_some_and(|n| n >= TARGET),
            "{} burned {burned:?} presignatures:\n{log}",
            node.name
        );
    }
    must_sign_message(&client, &hot, &ecdsa, "pay alice after the reshare").await;
    let after: Vec<(String, String)> = consumed(&cluster).split_off(uses.len());
    assert!(
        after.iter().all(|(_, what)| what.contains(",2,[")),
        "a presignature of the old key version was used: {after:?}"
    );
    must_be_single_use(&consumed(&cluster));
}

/// Message-mode ECDSA p50 from the pool and by full signing (prints, asserts nothing about
/// time). Run by hand: `cargo test -p mpcium-e2e --test presign_pool -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn measure_message_mode_latency_from_the_pool_and_by_full_signing() {
    const REQUESTS: usize = 10;
    let target = 8;
    let hot = format!("w-hot-{}", uuid::Uuid::new_v4());
    let cluster = Cluster::must_start(cluster_options(&hot, target)).await;
    let client = cluster.must_client("presign-measure").await;
    let hot_key = must_create(&client, &hot).await;
    let cold = format!("w-cold-{}", uuid::Uuid::new_v4());
    let cold_key = must_create(&client, &cold).await;
    must_wait_for_depth(&cluster, &hot, 4 * target).await;

    let mut report = Vec::new();
    // Full signing first: while it runs the pools are full, so no refill competes for CPU.
    for (wallet, key, name) in [(&cold, &cold_key, "full"), (&hot, &hot_key, "pool")] {
        let hits_before = pool_requests(&cluster, "hit").await;
        let mut took = Vec::new();
        for i in 0..REQUESTS {
            let started = Instant::now();
            must_sign_message(&client, wallet, key, &format!("measure {name} {i}")).await;
            took.push(started.elapsed());
        }
        let hits = pool_requests(&cluster, "hit").await - hits_before;
        took.sort();
        report.push(format!(
            "{name}: p50 {:?}, min {:?}, max {:?} over {REQUESTS} sequential requests ({hits} from the pool)",
            took[REQUESTS / 2],
            took[0],
            took[REQUESTS - 1]
        ));
    }
    println!("{}", report.join("\n"));
}

fn cli(args: &[&str]) -> String {
    let out = Command::new(must_find_binary("mpcium-cli"))
        .args(args)
        .output()
        .expect("run mpcium-cli");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "mpcium-cli {args:?} failed: {text}");
    text
}

/// The number after `word` at the start of a (trimmed) line of `text`.
fn count_after(text: &str, word: &str) -> Option<u64> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(word))
        .find_map(|rest| rest.split_whitespace().next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restored_from_its_backup_holds_no_presignatures_and_its_committee_falls_back() {
    let hot = format!("w-hot-{}", uuid::Uuid::new_v4());
    let mut options = cluster_options(&hot, TARGET);
    options
        .extra_config
        .push_str("backup_enabled: true\nbackup_period_seconds: 1\nbackup_dir: ./backups\n");
    let mut cluster = Cluster::must_start(options).await;
    let client = cluster.must_client("presign-restore").await;
    let ecdsa = must_create(&client, &hot).await;
    must_wait_for_depth(&cluster, &hot, FULL).await;

    // The leader holds two pools; stop one other node and restore the third, so every request
    // is signed by the leader and the restored node.
    let mut leader = None;
    for i in 0..3 {
        if must_node_depth(&cluster, i, &hot).await == 2 * TARGET {
            leader = Some(i);
        }
    }
    let leader = leader.expect("one node holds two pools");
    let (restored, stopped) = ((leader + 1) % 3, (leader + 2) % 3);

    let dir = cluster.nodes[restored].dir.clone();
    let (backups, password) = (dir.join("backups"), dir.join("db.pass"));
    let (backups, password) = (
        backups.to_str().expect("utf-8").to_owned(),
        password.to_str().expect("utf-8").to_owned(),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let verify = [
            "verify-backup",
            "--backup-dir",
            &backups,
            "--password-file",
            &password,
        ];
        let text = Command::new(must_find_binary("mpcium-cli"))
            .args(verify)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if count_after(&text, "presignatures").is_some_and(|n| n >= TARGET) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no backup with presignatures appeared"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster.must_stop(stopped).await;
    cluster.must_stop(restored).await;
    let store = dir.join("db").join(&cluster.nodes[restored].name);
    std::fs::remove_file(&store).expect("wipe the node's store");
    let store = store.to_str().expect("utf-8").to_owned();
    let out = cli(&[
        "recover",
        "--backup-dir",
        &backups,
        "--recovery-path",
        &store,
        "--password-file",
        &password,
    ]);
    let dropped = count_after(&out, "dropped").expect("recover reports dropped presignatures");
    assert!(dropped >= TARGET, "{out}");
    cluster.must_restart(restored).await;
    assert_eq!(must_node_depth(&cluster, restored, &hot).await, 0);

    // The leader's presignatures of its pool with the restored node are gone there: a request
    // the leader coordinates from one fails on the restored node and is signed in full. The
    // leader's refill then makes presignatures both hold, and requests hit again.
    let up = [leader, restored];
    let hits = |texts: &[String]| {
        sum(
            texts,
            "mpcium_presignature_pool_requests_total",
            "result=\"hit\"",
        ) as u64
    };
    let mut fell_back = false;
    let mut hit_after = false;
    for i in 0..16 {
        let before = hits(&must_scrape_nodes(&cluster, &up).await);
        must_sign_message(&client, &hot, &ecdsa, &format!("after the restore {i}")).await;
        let now = hits(&must_scrape_nodes(&cluster, &up).await);
        let log = cluster.nodes[leader].log();
        fell_back = fell_back || log.contains("signing from a presignature failed");
        if fell_back && now > before {
            hit_after = true;
            break;
        }
        if fell_back {
            // Wait for the refill rather than racing it.
            let deadline = Instant::now() + Duration::from_secs(300);
            while must_node_depth(&cluster, restored, &hot).await == 0 {
                assert!(Instant::now() < deadline, "the refill made no presignature");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    assert!(
        fell_back,
        "no request met the committee's disagreeing stores"
    );
    assert!(hit_after, "no request hit after the refill");
    must_be_single_use(&consumed(&cluster));
}
