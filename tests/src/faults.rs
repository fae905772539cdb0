//! What the fault suite (`tests/tests/faults_*.rs`) shares: holding sessions at a round with the
//! nodes' test hook and finding out who holds, a client that waits long enough for a redelivered
//! request, and a wallet whose keys and keyinfo can be checked unchanged after a fault.

use std::time::{Duration, Instant};

use mpcium_client::hd::compress_secp256k1;
use mpcium_client::{Client, ClientOptions, Nats, SignRequest};
use mpcium_protocol::ClientId;
use mpcium_state::registry::{KeyInfo, Registry};
use mpcium_state::store::KeyType as StoreKeyType;

use crate::{must_recover_ecdsa, must_verify_eddsa, Cluster, HOLDING};

/// How long a fault scenario waits for a condition (a hold, a result): generous, the machine
/// may be loaded; a scenario that works answers far sooner.
pub const WAIT: Duration = Duration::from_secs(150);

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
        let ecdsa = keys.ecdsa_pub_key.expect("ecdsa key");
        Wallet {
            id: id.to_owned(),
            ecdsa: compress_secp256k1(&ecdsa).expect("on curve"),
            eddsa: keys.eddsa_pub_key.expect("eddsa key"),
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
        index
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
