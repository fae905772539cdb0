//! What the fault suite (`tests/tests/faults_*.rs`) shares: holding sessions at a round with the
//! nodes' test hook and finding out who holds, a client that waits long enough for a redelivered
//! request, a wallet whose keys and keyinfo can be checked unchanged after a fault, and the
//! matrix plumbing: the kill points of each protocol, the cluster options of the suite (short
//! readiness TTL) and lanes, so independent scenarios run on clusters side by side.

use std::time::{Duration, Instant};

use mpcium_client::hd::compress_secp256k1;
use mpcium_client::{Client, ClientOptions, Nats, SignRequest};
use mpcium_protocol::{ClientId, KeygenResultEvent};
use mpcium_state::registry::{KeyInfo, Registry};
use mpcium_state::store::KeyType as StoreKeyType;

use crate::{must_recover_ecdsa, must_verify_eddsa, Cluster, ClusterOptions, HOLDING};

/// How long a fault scenario waits for a condition (a hold, a result): generous, the machine
/// may be loaded; a scenario that works answers far sooner.
pub const WAIT: Duration = Duration::from_secs(150);

/// The readiness TTL of the suite's nodes (`MPCIUM_TEST_READY_TTL_MS`): a killed participant is
/// noticed within about this (plus the node's 1 s liveness poll) instead of the 15 s default.
pub const FAULT_READY_TTL: Duration = Duration::from_secs(3);

/// What a participant logs when its part of a session ends with an error (e.g. because a member
/// of the session, such as its coordinator, stopped being ready).
pub const PART_FAILED: &str = "session part failed";

impl ClusterOptions {
    /// A 2-of-3 cluster for the fault suite: the test hook on, readiness TTL [`FAULT_READY_TTL`].
    pub fn faults() -> Self {
        Self {
            test_hook: true,
            ready_ttl: Some(FAULT_READY_TTL),
            ..Self::default()
        }
    }
}

/// One point of the fault matrix: `holders` nodes hold right before they send `round` of
/// `protocol` (a `ProtocolKind` name), and `victim` dies there.
#[derive(Clone, Copy, Debug)]
pub struct KillAt {
    /// Protocol name, e.g. `ecdsa-sign`.
    pub protocol: &'static str,
    /// Wire round (the protocol message's variant index; see the round lists below).
    pub round: u16,
    /// How many nodes send that round (and so hold before it).
    pub holders: usize,
    /// Who dies.
    pub victim: Victim,
}

/// FROST signing, in sending order: commitments (0), signature shares (1). Two signers.
pub const EDDSA_SIGN_ROUNDS: &[u16] = &[0, 1];
/// CGGMP24 signing, in sending order: 1a (0), 1b (1), the echo of round 1a that enforces a
/// reliable broadcast (5), 2 (2), 3 (3), 4 (4, the partial signatures). Two signers.
pub const ECDSA_SIGN_ROUNDS: &[u16] = &[0, 1, 5, 2, 3, 4];
/// FROST DKG, in sending order: commitments (0), their echo (1), shares (2). Every node.
pub const EDDSA_KEYGEN_ROUNDS: &[u16] = &[0, 1, 2];
/// CGGMP24 threshold keygen, in sending order: 1 (0), the echo of round 1 that enforces a
/// reliable broadcast (4), 2 broadcast (1), 2 point-to-point (2), 3 (3). Every node.
pub const ECDSA_KEYGEN_ROUNDS: &[u16] = &[0, 4, 1, 2, 3];
/// Resharing (both key types), in sending order: commit (0), reveal (1), sub-shares (2; sent
/// right after the reveal), confirm (3). A refresh of 2-of-3 has 2 dealers (rounds 0-2) and 3
/// new holders (round 3).
pub const RESHARE_ROUNDS: &[(u16, usize)] = &[(0, 2), (1, 2), (2, 2), (3, 3)];

/// Every kill point of `protocol` with `victim`, one per round of `rounds` (`(round, holders)`).
pub fn kill_points(protocol: &'static str, rounds: &[(u16, usize)], victim: Victim) -> Vec<KillAt> {
    rounds
        .iter()
        .map(|&(round, holders)| KillAt {
            protocol,
            round,
            holders,
            victim,
        })
        .collect()
}

/// `rounds` each sent by `holders` nodes, as [`kill_points`] takes them.
pub fn sent_by(rounds: &[u16], holders: usize) -> Vec<(u16, usize)> {
    rounds.iter().map(|&r| (r, holders)).collect()
}

/// Deals `items` round-robin into `lanes` lists: each lane runs on a cluster of its own, side
/// by side with the others, so waits (JetStream's 30 s ack wait above all) overlap.
pub fn lanes<T: Clone>(items: &[T], lanes: usize) -> Vec<Vec<T>> {
    let count = lanes.max(1);
    let mut out = vec![Vec::new(); count];
    for (i, item) in items.iter().enumerate() {
        out[i % count].push(item.clone());
    }
    out.retain(|lane| !lane.is_empty());
    out
}

/// A session held by the test hook on one node.
#[derive(Clone, Debug)]
pub struct Held {
    /// Index of the holding node.
    pub node: usize,
    /// Id of the session's coordinator, from the session's log span.
    pub coordinator: String,
}

/// Where each node's log stood, to find what happened after it.
#[derive(Clone, Debug)]
pub struct Mark(Vec<usize>);

impl Mark {
    /// How many lines each node logged between `self` and the later mark `now` (same needle).
    pub fn since(&self, now: &Mark) -> Vec<usize> {
        now.0
            .iter()
            .zip(&self.0)
            .map(|(now, then)| now.saturating_sub(*then))
            .collect()
    }
}

impl Cluster {
    /// Makes every node hold sessions of `protocol` before they send `round` (see
    /// [`crate::NodeProcess::hold_at`]); returns where the logs stood.
    pub fn hold_all_at(&self, protocol: &str, round: u16) -> Mark {
        self.hold_all(&format!("{protocol}:{round}"))
    }

    /// Makes every node hold at `point` (see [`crate::NodeProcess::hold`]); returns where the
    /// logs stood.
    pub fn hold_all(&self, point: &str) -> Mark {
        for node in &self.nodes {
            node.hold(point);
        }
        self.mark(HOLDING)
    }

    /// Lets every held session go on.
    pub fn release_all(&self) {
        for node in &self.nodes {
            node.release();
        }
    }

    /// How many lines with `needle` each node's log has now.
    pub fn mark(&self, needle: &str) -> Mark {
        Mark(
            self.nodes
                .iter()
                .map(|n| n.log_lines(needle).len())
                .collect(),
        )
    }

    /// Waits until `count` nodes hold a session (logged [`HOLDING`] after `mark`) and names them
    /// with the coordinator their line shows.
    pub async fn must_wait_held(&self, mark: &Mark, count: usize) -> Vec<Held> {
        must_wait(&format!("{count} nodes holding a session"), || {
            let held: Vec<Held> = self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(i, node)| {
                    let line = node.log_lines(HOLDING).into_iter().nth(mark.0[i])?;
                    Some(Held {
                        node: i,
                        coordinator: coordinator_in(&line)
                            .unwrap_or_else(|| panic!("no coordinator in {line:?}")),
                    })
                })
                .collect();
            (held.len() >= count).then_some(held)
        })
        .await
    }

    /// Waits until every node in `indices` logged a line with `needle` after `mark`.
    pub async fn must_wait_logged(&self, mark: &Mark, indices: &[usize], needle: &str) {
        must_wait(&format!("{needle:?} in the logs of {indices:?}"), || {
            indices
                .iter()
                .all(|&i| self.nodes[i].log_lines(needle).len() > mark.0[i])
                .then_some(())
        })
        .await
    }

    /// The index of the node with `id`.
    pub fn index_of(&self, id: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    /// A client that waits [`WAIT`] for each result (a request redelivered after its
    /// coordinator died is answered only after JetStream's 30 s ack wait).
    pub async fn must_patient_client(&self, client_id: &str) -> Client {
        let options = ClientOptions::new(Nats::Url(self.nats.url().to_owned()), self.initiator())
            .with_client_id(ClientId::new(client_id).expect("client id"))
            .with_result_timeout(WAIT);
        Client::connect(options).await.expect("client connects")
    }
}

/// Polls `probe` (every 50 ms) until it yields, failing after [`WAIT`] with `what`.
pub async fn must_wait<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "waited {WAIT:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the async `probe` (every 200 ms) until it yields, failing after `within` with `what`.
pub async fn must_wait_async<T, F>(what: &str, within: Duration, mut probe: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "waited {within:?} for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `coordinator=<id>` field of a session's log line.
fn coordinator_in(line: &str) -> Option<String> {
    let rest = &line[line.find("coordinator=")? + "coordinator=".len()..];
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// A wallet created for a scenario: its keys and its keyinfo as keygen left them.
pub struct Wallet {
    /// The wallet id.
    pub id: String,
    /// Compressed secp256k1 public key.
    pub ecdsa: [u8; 33],
    /// Ed25519 public key.
    pub eddsa: Vec<u8>,
    keyinfo: [KeyInfo; 2],
}

impl Wallet {
    /// Creates wallet `id` through `client` and records its keyinfo.
    pub async fn must_create(cluster: &Cluster, client: &Client, id: &str) -> Wallet {
        let keys = client.create_wallet(id).await.expect("keygen");
        Self::must_record(cluster, id, &keys).await
    }

    /// The wallet `id` that keygen answered with `keys`, with its keyinfo as it is now.
    pub async fn must_record(cluster: &Cluster, id: &str, keys: &KeygenResultEvent) -> Wallet {
        let ecdsa = keys.ecdsa_pub_key.as_deref().expect("ecdsa key");
        Wallet {
            id: id.to_owned(),
            ecdsa: compress_secp256k1(ecdsa).expect("on curve"),
            eddsa: keys.eddsa_pub_key.clone().expect("eddsa key"),
            keyinfo: must_keyinfo(cluster, id).await,
        }
    }

    /// Fails unless the registry still has the keyinfo keygen left (same committee, threshold
    /// and version) for both keys.
    pub async fn must_be_unchanged(&self, cluster: &Cluster) {
        assert_eq!(
            must_keyinfo(cluster, &self.id).await,
            self.keyinfo,
            "the keyinfo of {} changed",
            self.id
        );
    }

    /// Records that a reshare of `key_type` succeeded: its keyinfo's version is one more
    /// (same committee and threshold after a refresh), for [`Wallet::must_be_unchanged`].
    pub fn refreshed(&mut self, key_type: StoreKeyType) {
        let index = match key_type {
            StoreKeyType::Ecdsa => 0,
            StoreKeyType::Eddsa => 1,
        };
        self.keyinfo[index].version += 1;
    }

    /// Signs `text` with both keys and checks both signatures against the wallet's keys.
    pub async fn must_sign_both(&self, client: &Client, text: &str) {
        self.must_sign_ecdsa(client, text).await;
        self.must_sign_eddsa(client, text).await;
    }

    /// Signs `text` with the Ed25519 key and verifies it strictly.
    pub async fn must_sign_eddsa(&self, client: &Client, text: &str) {
        let signed = client
            .sign(SignRequest::eddsa(&self.id, text.as_bytes().to_vec()))
            .await
            .unwrap_or_else(|e| panic!("eddsa signing of {text:?}: {e}"));
        must_verify_eddsa(&signed, text.as_bytes(), &self.eddsa);
    }

    /// Signs the SHA-256 of `text` with the secp256k1 key and checks it by recovery.
    pub async fn must_sign_ecdsa(&self, client: &Client, text: &str) {
        let digest = digest(text);
        let signed = client
            .sign(SignRequest::ecdsa_digest(&self.id, digest))
            .await
            .unwrap_or_else(|e| panic!("ecdsa signing of {text:?}: {e}"));
        must_recover_ecdsa(&signed, &digest, &self.ecdsa);
    }
}

/// SHA-256 of `text`.
pub fn digest(text: &str) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    Sha256::digest(text.as_bytes()).into()
}

async fn must_keyinfo(cluster: &Cluster, wallet: &str) -> [KeyInfo; 2] {
    let mut infos = Vec::new();
    for key_type in [StoreKeyType::Ecdsa, StoreKeyType::Eddsa] {
        infos.push(
            cluster
                .registry
                .keyinfo(key_type, wallet)
                .await
                .expect("registry")
                .unwrap_or_else(|| panic!("no {key_type:?} keyinfo for {wallet}")),
        );
    }
    infos.try_into().expect("two keyinfos")
}

/// Which member of a held session a scenario kills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Victim {
    /// A holding participant that does not coordinate the session.
    Participant,
    /// The session's coordinator (whether or not it also participates).
    Coordinator,
}

impl Cluster {
    /// Waits until `holders` nodes hold a session (held since `mark`), kills `victim` with
    /// SIGKILL, then releases every hold; returns the killed node's index.
    pub async fn must_kill_held(&mut self, mark: &Mark, holders: usize, victim: Victim) -> usize {
        self.must_kill_held_of(mark, holders, victim).await.0
    }

    /// [`Cluster::must_kill_held`], also returning the indices of the nodes that held.
    pub async fn must_kill_held_of(
        &mut self,
        mark: &Mark,
        holders: usize,
        victim: Victim,
    ) -> (usize, Vec<usize>) {
        let held = self.must_wait_held(mark, holders).await;
        let coordinator = held[0].coordinator.clone();
        let index = match victim {
            Victim::Coordinator => self.index_of(&coordinator),
            Victim::Participant => {
                held.iter()
                    .find(|h| self.nodes[h.node].id != coordinator)
                    .expect("a holding participant that does not coordinate")
                    .node
            }
        };
        self.must_kill(index);
        self.release_all();
        (index, held.iter().map(|h| h.node).collect())
    }

    /// Brings killed node `killed` back (with its store, as a supervisor would) once the cluster
    /// has seen it gone: its readiness lapsed, and every node of `members` (the session's
    /// members) other than it logged [`PART_FAILED`] after `failed`. So the session it was part
    /// of has ended on every survivor before it returns (the restarted node also waits about
    /// 15 s before it declares itself ready, `session::start_window`), and a request JetStream
    /// redelivers 30 s after the kill finds every node ready.
    pub async fn must_restart_once_gone(
        &mut self,
        killed: usize,
        members: &[usize],
        failed: &Mark,
    ) {
        self.must_wait_not_ready(killed, WAIT).await;
        if members.contains(&killed) {
            let survivors: Vec<usize> = members.iter().copied().filter(|&m| m != killed).collect();
            self.must_wait_logged(failed, &survivors, PART_FAILED).await;
        }
        self.must_restart(killed).await;
    }

    /// Proves node `i` holds its share of `wallet`, as [`Cluster::must_sign_including`] does,
    /// but leaves the other node stopped: for the end of a scenario, saving a restart (a
    /// restarted node waits about 15 s before it is ready, `session::start_window`).
    pub async fn must_sign_including_last(&mut self, i: usize, client: &Client, wallet: &Wallet) {
        let other = (i + 1) % self.nodes.len();
        self.must_stop(other).await;
        wallet
            .must_sign_both(client, &format!("signed by {}", self.nodes[i].name))
            .await;
    }

    /// Fails unless exactly `count` log lines over all nodes contain both `what` and `id` (e.g.
    /// one "signing success" per transaction: one result, never a second session that signed).
    pub fn must_have_logged(&self, what: &str, id: &str, count: usize) {
        let lines: Vec<String> = self
            .nodes
            .iter()
            .flat_map(|n| n.log_lines(what))
            .filter(|line| line.contains(id))
            .collect();
        assert_eq!(lines.len(), count, "{what:?} for {id}: {lines:#?}");
    }

    /// Proves node `i` still holds its share of `wallet`: stops another node cleanly (its
    /// readiness goes at once), so every 2-of-3 committee includes `i`, signs with both keys,
    /// and starts the other node again.
    pub async fn must_sign_including(&mut self, i: usize, client: &Client, wallet: &Wallet) {
        let other = (i + 1) % self.nodes.len();
        self.must_stop(other).await;
        wallet
            .must_sign_both(client, &format!("signed by {}", self.nodes[i].name))
            .await;
        self.must_restart(other).await;
    }
}
