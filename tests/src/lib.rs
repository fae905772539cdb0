//! A real cluster for end-to-end tests: one `nats-server` (own port, own JetStream directory),
//! `n` `mpcium` node processes laid out as the deployment guide lays them out (working directory
//! with `config.yaml`, `peers.json`, `identity/`), and the SDK as the client.
//!
//! To keep the suite fast, each node's store is seeded before start-up with TEST-ONLY safe
//! primes and, unless a test asks for the real thing, TEST-ONLY aux info for the node set (from
//! `crates/tss/tests/fixtures/`) — exactly what an operator could import, never loaded by a node
//! on its own. Everything a test starts is killed when the [`Cluster`] is dropped, also on panic.

pub mod faults;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mpcium_client::{Client, ClientOptions, LocalSigner, Nats};
use mpcium_protocol::ClientId;
use mpcium_state::identity::{node, NodeIdentity, NodeSigningKey, Peers};
use mpcium_state::registry::{
    AnyRegistry, ConsulRegistry, ConsulSettings, NatsKvRegistry, NatsKvSettings, ReadyView,
};
use mpcium_state::store::{SecretPassword, Store};
use mpcium_testkit::{FakeConsul, NatsServer};
use mpcium_tss::material::{self, MaterialKind};

/// The database password of every test node (`db.pass` in each node directory).
pub const DB_PASSWORD: &str = "e2e database password";
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// Which registry the cluster uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistryBackend {
    /// JetStream KV on the cluster's nats-server.
    Nats,
    /// The in-repo Consul KV API server (no Consul binary can run here).
    Consul,
}

/// How to build a cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Number of nodes (3 or 5: the aux-info fixtures exist for those sizes).
    pub nodes: usize,
    /// `mpc_threshold`: signers required.
    pub threshold: u16,
    /// Registry backend.
    pub registry: RegistryBackend,
    /// Seed TEST-ONLY aux info instead of running aux-info generation at start-up.
    pub seed_aux_info: bool,
    /// Extra `config.yaml` lines for every node (e.g. `backup_enabled: true`).
    pub extra_config: String,
    /// Serve `/health` and `/metrics` on each node, at a free loopback port of its own
    /// ([`NodeProcess::health`]).
    pub health: bool,
    /// Start every node with the fault suite's test hook ([`NodeProcess::hold_at`]).
    pub test_hook: bool,
    /// A test-only readiness TTL for every node (`MPCIUM_TEST_READY_TTL_MS`; the heartbeat runs
    /// at a third of it), so a killed node is noticed sooner; `None` keeps the node's 15 s.
    pub ready_ttl: Option<Duration>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            nodes: 3,
            threshold: 2,
            registry: RegistryBackend::Nats,
            seed_aux_info: true,
            extra_config: String::new(),
            health: false,
            test_hook: false,
            ready_ttl: None,
        }
    }
}

/// One node process and its files.
pub struct NodeProcess {
    /// Node name (`node0`, ...).
    pub name: String,
    /// Node id (UUID).
    pub id: String,
    /// Working directory.
    pub dir: PathBuf,
    /// Where the node serves `/health` and `/metrics` ([`ClusterOptions::health`]).
    pub health: Option<SocketAddr>,
    child: Option<Child>,
}

impl NodeProcess {
    /// The node's log (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default()
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// The file of the node's test hook ([`ClusterOptions::test_hook`]).
    fn hold_file(&self) -> PathBuf {
        self.dir.join("hold")
    }

    /// Makes every session of `protocol` (a `ProtocolKind` name such as `eddsa-sign`) on this
    /// node wait before it sends its first message of `round`, logging [`HOLDING`], until
    /// [`NodeProcess::release`]. Needs [`ClusterOptions::test_hook`].
    pub fn hold_at(&self, protocol: &str, round: u16) {
        self.hold(&format!("{protocol}:{round}"));
    }

    /// Makes sessions on this node wait at `point`: a round as [`NodeProcess::hold_at`] spells
    /// it, or `reshare-commit` (before a reshare participant switches to its new share).
    pub fn hold(&self, point: &str) {
        std::fs::write(self.hold_file(), format!("{point}\n")).expect("hold file");
    }

    /// Lets held sessions go on (and no new one hold).
    pub fn release(&self) {
        match std::fs::remove_file(self.hold_file()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("cannot remove the hold file: {e}"),
        }
    }

    /// The node's log lines containing `needle`, without terminal colour codes.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.log()
            .lines()
            .map(strip_ansi)
            .filter(|line| line.contains(needle))
            .collect()
    }

    /// The OS process id, while the node runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// The log line a node's session writes when the test hook holds it.
pub const HOLDING: &str = "test hook: holding";

/// `line` without ANSI escape sequences (the node colours its development log).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A loopback address with a port that was free a moment ago (the node binds it next).
fn must_free_loopback_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free loopback port")
}

/// The body of `GET path` from a node's health server (HTTP/1.0, so the body ends the stream).
pub async fn must_http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to health server");
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("send request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("read response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .expect("http response with a body");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{head}"
    );
    body.to_owned()
}

/// A running cluster; dropping it kills every process it started.
pub struct Cluster {
    /// The NATS server.
    pub nats: NatsServer,
    consul: Option<FakeConsul>,
    /// The nodes, in `peers.json` order.
    pub nodes: Vec<NodeProcess>,
    /// The registry the nodes use, for assertions.
    pub registry: AnyRegistry,
    /// One readiness view of `registry` (one consumer for the test's life, not one per poll).
    ready: ReadyView,
    /// The cluster's HD chain code.
    pub chain_code: [u8; 32],
    initiator_seed: [u8; 32],
    /// Every node id, sorted (the aux-info fixture's party order).
    node_ids: Vec<String>,
    /// The TEST-ONLY aux info seeded into each store, by sorted node id, if any.
    aux: Option<Vec<Vec<u8>>>,
    /// Whether nodes start with the test hook.
    test_hook: bool,
    /// The nodes' readiness TTL when a test shortens it.
    ready_ttl: Option<Duration>,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for node in &self.nodes {
                let log = node.log();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                eprintln!(
                    "----- {} ({}) log tail -----\n{}",
                    node.name,
                    node.id,
                    tail.join("\n")
                );
            }
        }
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The `mpcium` binary built next to this test binary (`target/<profile>/mpcium`).
fn must_find_node_binary() -> PathBuf {
    if let Ok(path) = std::env::var("MPCIUM_BIN") {
        return PathBuf::from(path);
    }
    must_find_binary("mpcium")
}

/// A workspace binary built next to this test binary (`target/<profile>/<name>`).
pub fn must_find_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build --workspace --bins`, done by `cargo test --workspace`)",
        bin.display()
    );
    bin
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/tss/tests/fixtures")
        .join(name)
}

/// TEST-ONLY sealed primes for party `i` (0..5).
fn must_fixture_primes(i: usize) -> Vec<u8> {
    let all: Vec<serde_json::Value> = serde_json::from_slice(
        &std::fs::read(fixture("TEST-ONLY-ecdsa-primes-5.json")).expect("primes fixture"),
    )
    .expect("primes fixture json");
    material::seal(MaterialKind::EcdsaPrimes, &all[i])
        .expect("seal primes")
        .to_vec()
}

/// TEST-ONLY sealed aux info of every party of an `n`-node set.
fn must_fixture_aux(n: usize) -> Vec<Vec<u8>> {
    let all: Vec<String> = serde_json::from_slice(
        &std::fs::read(fixture(&format!("TEST-ONLY-ecdsa-aux-n{n}.json"))).expect("aux fixture"),
    )
    .expect("aux fixture json");
    all.iter()
        .map(|h| hex::decode(h).expect("aux fixture hex"))
        .collect()
}

/// Seeds the store of node `i` (`name`, `id`) before it starts: TEST-ONLY primes and, when
/// given, the TEST-ONLY aux info of the whole node set (`node_ids` sorted, `aux` in that order).
fn must_seed_store(
    node_dir: &Path,
    name: &str,
    id: &str,
    i: usize,
    node_ids: &[String],
    aux: Option<&[Vec<u8>]>,
) {
    let store = Store::open(
        node_dir.join("db").join(name),
        &SecretPassword::new(DB_PASSWORD.into()),
    )
    .expect("seed store");
    // Two sets: one for an aux-info run of the node set, one for a reshare's smaller
    // committee (the fixture has 5 sets; node i also gets set i + 3 mod 5, TEST-ONLY
    // reuse), so no node spends minutes generating primes during a test.
    for set in [i, (i + 3) % 5] {
        store
            .push_primes(&must_fixture_primes(set))
            .expect("seed primes");
    }
    if let Some(aux) = aux {
        let index = node_ids.iter().position(|n| n == id).expect("node index");
        mpcium_node::ops::aux::store_run(&store, node_ids, "test-only-fixture", &aux[index])
            .expect("seed aux");
    }
}

impl Cluster {
    /// Starts a cluster and waits until every node is ready.
    pub async fn must_start(options: ClusterOptions) -> Cluster {
        let mut cluster = Self::must_prepare(options).await;
        cluster.must_start_nodes().await;
        cluster
    }

    /// Starts NATS (and Consul) and writes every node's files (directories, seeded stores),
    /// starting no node: a test can then set up NATS as a client would, or work on the nodes'
    /// files, before any node runs; then [`Cluster::must_start_nodes`].
    pub async fn must_prepare(options: ClusterOptions) -> Cluster {
        let nats = NatsServer::must_start();
        let consul = match options.registry {
            RegistryBackend::Consul => Some(FakeConsul::must_start().await),
            RegistryBackend::Nats => None,
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let peers = Peers::generate(options.nodes).expect("peers");
        let keys: Vec<NodeSigningKey> = peers.iter().map(|_| NodeSigningKey::generate()).collect();
        let chain_code: [u8; 32] = rand::random();
        let initiator_seed: [u8; 32] = rand::random();
        let initiator = LocalSigner::ed25519_from_seed(&initiator_seed);
        let initiator_hex = mpcium_client::Signer::public_key_hex(&initiator);

        let mut node_ids: Vec<String> = peers.iter().map(|p| p.id.clone()).collect();
        node_ids.sort();
        let aux = options
            .seed_aux_info
            .then(|| must_fixture_aux(options.nodes));
        let registry_yaml = match &consul {
            Some(c) => format!("registry: consul\nconsul:\n  address: {}\n", c.address()),
            None => "registry: nats\n".to_owned(),
        };

        let mut nodes = Vec::new();
        for (i, (peer, key)) in peers.iter().zip(&keys).enumerate() {
            let node_dir = dir.path().join(&peer.name);
            std::fs::create_dir_all(node_dir.join("identity")).expect("node dir");
            peers
                .write_new(&node_dir.join("peers.json"))
                .expect("peers.json");
            for (other, other_key) in peers.iter().zip(&keys) {
                let identity = NodeIdentity::new(&other.name, &other.id, other_key);
                std::fs::write(
                    node_dir
                        .join("identity")
                        .join(node::identity_file_name(&other.name)),
                    identity.to_json().expect("identity json"),
                )
                .expect("identity file");
            }
            std::fs::write(
                node_dir
                    .join("identity")
                    .join(node::private_key_file_name(&peer.name, false)),
                key.to_key_text().as_bytes(),
            )
            .expect("private key");
            let health = options.health.then(must_free_loopback_addr);
            let health_yaml = health.map_or(String::new(), |addr| {
                format!("healthcheck:\n  enabled: true\n  address: \"{addr}\"\n")
            });
            std::fs::write(
                node_dir.join("config.yaml"),
                format!(
                    "environment: development\ndb_path: ./db\n{registry_yaml}{health_yaml}\
                     nats:\n  url: {}\nmpc_threshold: {}\nevent_initiator_pubkey: \"{initiator_hex}\"\n\
                     event_initiator_algorithm: ed25519\nchain_code: \"{}\"\n{}\n",
                    nats.url(),
                    options.threshold,
                    hex::encode(chain_code),
                    if options.extra_config.contains("backup_enabled") {
                        options.extra_config.clone()
                    } else {
                        format!("backup_enabled: false\n{}", options.extra_config)
                    }
                ),
            )
            .expect("config");
            std::fs::write(node_dir.join("db.pass"), DB_PASSWORD).expect("password file");

            must_seed_store(
                &node_dir,
                &peer.name,
                &peer.id,
                i,
                &node_ids,
                aux.as_deref(),
            );
            nodes.push(NodeProcess {
                name: peer.name.clone(),
                id: peer.id.clone(),
                dir: node_dir,
                health,
                child: None,
            });
        }

        let client = async_nats_connect(nats.url()).await;
        let registry = match &consul {
            Some(c) => AnyRegistry::Consul(
                ConsulRegistry::new(ConsulSettings::new(c.address())).expect("consul"),
            ),
            None => AnyRegistry::Nats(
                NatsKvRegistry::open(client, &NatsKvSettings::default())
                    .await
                    .expect("kv"),
            ),
        };
        let ready = ReadyView::start(
            &registry,
            options
                .ready_ttl
                .unwrap_or(mpcium_node::background::READY_TTL),
        );
        Cluster {
            nats,
            consul,
            nodes,
            ready,
            registry,
            chain_code,
            initiator_seed,
            node_ids,
            aux,
            test_hook: options.test_hook,
            ready_ttl: options.ready_ttl,
            _dir: dir,
        }
    }

    /// Starts every node of a prepared cluster and waits until all are ready.
    pub async fn must_start_nodes(&mut self) {
        for i in 0..self.nodes.len() {
            self.spawn(i);
        }
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        self.must_wait_ready(&all).await;
    }

    fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("node.log"))
            .expect("log file");
        let mut command = Command::new(must_find_node_binary());
        if self.test_hook {
            command.env("MPCIUM_TEST_HOLD_FILE", node.hold_file());
        }
        if let Some(ttl) = self.ready_ttl {
            command.env(
                mpcium_node::background::Readiness::TEST_TTL_ENV,
                ttl.as_millis().to_string(),
            );
        }
        let child = command
            .args([
                "start",
                "--name",
                &node.name,
                "--config",
                "config.yaml",
                "--password-file",
                "db.pass",
            ])
            .current_dir(&node.dir)
            .env_remove("ENVIRONMENT")
            .env_remove("NATS_URL")
            .env_remove("MPC_THRESHOLD")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn mpcium");
        node.child = Some(child);
    }

    /// Nodes the registry currently reports ready (empty until the view has loaded).
    pub async fn ready_ids(&self) -> BTreeSet<String> {
        self.ready.ready_nodes().unwrap_or_default()
    }

    /// Waits until the nodes at `indices` are ready, failing with their logs if one exits or the
    /// deadline passes.
    pub async fn must_wait_ready(&mut self, indices: &[usize]) {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            let ready = self.ready_ids().await;
            if indices.iter().all(|&i| ready.contains(&self.nodes[i].id)) {
                return;
            }
            for &i in indices {
                if !self.nodes[i].is_running() {
                    panic!(
                        "{} exited during start-up:\n{}",
                        self.nodes[i].name,
                        self.nodes[i].log()
                    );
                }
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = indices.iter().map(|&i| self.nodes[i].log()).collect();
                panic!(
                    "nodes not ready within {READY_DEADLINE:?}:\n{}",
                    logs.join("\n-----\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops node `i` with SIGTERM and waits for it to exit (0) and leave the ready set.
    pub async fn must_stop(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let mut child = node.child.take().expect("node is running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = tokio::task::spawn_blocking(move || child.wait())
            .await
            .expect("join")
            .expect("wait");
        assert!(
            exit.success(),
            "{} exited with {exit}:\n{}",
            node.name,
            node.log()
        );
        self.must_wait_not_ready(i, Duration::from_secs(20)).await;
    }

    /// Waits until node `i` has left the ready set (shut down, or its ready mark expired).
    pub async fn must_wait_not_ready(&self, i: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.ready_ids().await.contains(&self.nodes[i].id) {
            assert!(
                Instant::now() < deadline,
                "{} still marked ready after {within:?}",
                self.nodes[i].name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills node `i` with SIGKILL: no clean shutdown, so its ready mark stays in the registry
    /// until it expires, as after a crash.
    pub fn must_kill(&mut self, i: usize) {
        let mut child = self.nodes[i].child.take().expect("node is running");
        child.kill().expect("kill");
        child.wait().expect("wait");
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to running node `i`.
    pub fn must_signal(&self, i: usize, signal: &str) {
        let pid = self.nodes[i].pid().expect("node is running");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// Replaces the store of stopped node `i` with a fresh one, as after a lost disk: no keys,
    /// only what start-up seeding puts there (TEST-ONLY primes and, if the cluster seeds it, the
    /// same TEST-ONLY aux info of the node set, so the node set's aux run stays usable).
    pub fn must_wipe_store(&mut self, i: usize) {
        assert!(
            self.nodes[i].child.is_none(),
            "stop {} before wiping its store",
            self.nodes[i].name
        );
        let node = &self.nodes[i];
        std::fs::remove_dir_all(node.dir.join("db")).expect("wipe store");
        must_seed_store(
            &node.dir,
            &node.name,
            &node.id,
            i,
            &self.node_ids,
            self.aux.as_deref(),
        );
    }

    /// Restarts a stopped node and waits until the new process declared itself ready (a killed
    /// node's old ready mark may still be current, so the registry alone cannot tell).
    pub async fn must_restart(&mut self, i: usize) {
        const READY_LINE: &str = "[READY] Node is ready";
        let before = self.nodes[i].log_lines(READY_LINE).len();
        self.spawn(i);
        let deadline = Instant::now() + READY_DEADLINE;
        while self.nodes[i].log_lines(READY_LINE).len() == before {
            let node = &mut self.nodes[i];
            assert!(
                node.is_running(),
                "{} exited during start-up:\n{}",
                node.name,
                node.log()
            );
            assert!(
                Instant::now() < deadline,
                "{} not ready within {READY_DEADLINE:?}:\n{}",
                node.name,
                node.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.must_wait_ready(&[i]).await;
    }

    /// A signer holding the cluster's initiator key.
    pub fn initiator(&self) -> Arc<LocalSigner> {
        Arc::new(LocalSigner::ed25519_from_seed(&self.initiator_seed))
    }

    /// Writes the initiator's key to `path` as a plain key file (hex of the seed, the format of
    /// `mpcium-cli generate-initiator` without `--encrypt`), for tools that read key files.
    pub fn must_write_initiator_key(&self, path: &Path) {
        std::fs::write(path, hex::encode(self.initiator_seed)).expect("write the initiator key");
    }

    /// A connected SDK client with `client_id`, signing with the cluster's initiator key.
    pub async fn must_client(&self, client_id: &str) -> Client {
        self.must_client_with(client_id, self.initiator()).await
    }

    /// A connected SDK client signing with `signer` (e.g. a forged initiator).
    pub async fn must_client_with(&self, client_id: &str, signer: Arc<LocalSigner>) -> Client {
        let options = ClientOptions::new(Nats::Url(self.nats.url().to_owned()), signer)
            .with_client_id(ClientId::new(client_id).expect("client id"));
        Client::connect(options).await.expect("client connects")
    }

    /// Whether the cluster uses the fake Consul registry.
    pub fn uses_consul(&self) -> bool {
        self.consul.is_some()
    }
}

async fn async_nats_connect(url: &str) -> async_nats::Client {
    async_nats::connect(url).await.expect("nats connect")
}

/// Checks an ECDSA signing result by public-key recovery: `(r, s, v)` over `digest` must recover
/// exactly `expected` (33-byte compressed), with `s` low.
pub fn must_recover_ecdsa(
    result: &mpcium_protocol::SigningResultEvent,
    digest: &[u8; 32],
    expected: &[u8; 33],
) {
    use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
    assert!(
        result.error_code.is_none(),
        "signing failed: {}",
        result.error_reason
    );
    let mut rs = result.r.clone().expect("r");
    rs.extend_from_slice(result.s.as_deref().expect("s"));
    let signature = Signature::from_slice(&rs).expect("r || s");
    assert!(signature.normalize_s().is_none(), "s is not low");
    let v = result
        .signature_recovery
        .as_deref()
        .and_then(|v| v.first().copied())
        .expect("recovery id");
    let recovered = VerifyingKey::recover_from_prehash(
        digest,
        &signature,
        RecoveryId::from_byte(v).expect("v"),
    )
    .expect("recovers a key");
    assert_eq!(
        recovered.to_encoded_point(true).as_bytes(),
        expected,
        "recovered a different key"
    );
}

/// Checks an Ed25519 signing result with `ed25519-dalek`'s strict verification.
pub fn must_verify_eddsa(
    result: &mpcium_protocol::SigningResultEvent,
    message: &[u8],
    public_key: &[u8],
) {
    assert!(
        result.error_code.is_none(),
        "signing failed: {}",
        result.error_reason
    );
    let key: [u8; 32] = public_key.try_into().expect("32-byte key");
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key).expect("ed25519 key");
    let signature =
        ed25519_dalek::Signature::from_slice(result.signature.as_deref().expect("signature"))
            .expect("64 bytes");
    key.verify_strict(message, &signature)
        .expect("signature verifies strictly");
}
