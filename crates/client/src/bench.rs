//! Load generation against a running cluster, shared by `mpcium-cli benchmark`: fire a number of
//! keygen, signing or resharing requests with at most `concurrency` in flight, check every result
//! independently, and tally latencies and errors.
//!
//! Checks: ECDSA by public-key recovery with `k256` against the wallet's key, Ed25519 with
//! `ed25519-dalek`'s `verify_strict`, keygen by decoding both points, resharing by comparing the
//! reported (unchanged) public key with the wallet's. Latency runs from just before publishing to
//! the checked result, so with more requests in flight than the cluster runs at once it includes
//! queueing inside the cluster. Percentiles are over successful requests (nearest rank).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use mpcium_protocol::{
    ErrorCode, KeyType, KeygenResultEvent, MessageHash, ResharingResultEvent, SigningResultEvent,
};
use sha2::{Digest as _, Sha256};

use crate::hd::compress_secp256k1;
use crate::{Client, ClientError, ClientErrorKind, ReshareRequest, SignRequest};

/// How long [`prepare`] retries wallet creation while the cluster prepares its ECDSA parameters.
pub const READY_DEADLINE: Duration = Duration::from_secs(600);

/// What the requests do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Wallet creation (one secp256k1 and one Ed25519 key per request).
    Keygen,
    /// ECDSA signing of a fresh 32-byte digest per request.
    SignEcdsa,
    /// ECDSA signing of a fresh message per request in the extended form (`hash: sha256`: the
    /// nodes hash it), the form presignature pools serve.
    SignEcdsaMessage,
    /// Ed25519 signing of a fresh message per request.
    SignEddsa,
    /// Resharing one key of the wallet to a committee.
    Reshare(Reshare),
}

impl Mode {
    /// The mode's name in summaries (`keygen`, `sign-ecdsa`, `sign-ecdsa-message`,
    /// `sign-eddsa`, `reshare`).
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Keygen => "keygen",
            Mode::SignEcdsa => "sign-ecdsa",
            Mode::SignEcdsaMessage => "sign-ecdsa-message",
            Mode::SignEddsa => "sign-eddsa",
            Mode::Reshare(_) => "reshare",
        }
    }
}

/// The committee every resharing request of a run asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reshare {
    /// Which key of the wallet.
    pub key_type: KeyType,
    /// Node IDs of the new committee.
    pub node_ids: Vec<String>,
    /// Signers required afterwards.
    pub new_threshold: u16,
}

/// An existing wallet to sign or reshare with, and its public keys (as keygen reported them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wallet {
    /// Wallet ID.
    pub id: String,
    /// Its secp256k1 key (33, 64 or 65 bytes).
    pub ecdsa_pub: Option<Vec<u8>>,
    /// Its Ed25519 key (32 bytes).
    pub eddsa_pub: Option<Vec<u8>>,
}

/// Why a run cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// Creating the wallet to measure with failed.
    #[error("cannot create the benchmark wallet: {0}")]
    Client(#[from] ClientError),
    /// The wallet lacks the key the mode needs, or the key is malformed.
    #[error("{0}")]
    Key(String),
}

/// What each request targets, with what its result is checked against.
#[derive(Debug)]
pub struct Target {
    kind: TargetKind,
    created: Option<Wallet>,
}

#[derive(Debug)]
enum TargetKind {
    Keygen,
    Ecdsa {
        wallet: String,
        key: [u8; 33],
        /// Message mode (`hash: sha256`) instead of a client digest.
        message_mode: bool,
    },
    Eddsa {
        wallet: String,
        key: ed25519_dalek::VerifyingKey,
    },
    Reshare {
        wallet: String,
        plan: Reshare,
        key: Vec<u8>,
    },
}

impl Target {
    /// The wallet [`prepare`] created for this run, if it created one (to reuse it later).
    pub fn created_wallet(&self) -> Option<&Wallet> {
        self.created.as_ref()
    }
}

/// Which wallet signing and resharing runs use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalletChoice {
    /// An existing wallet.
    Existing(Wallet),
    /// A wallet created before timing, under this ID (`None`: a random `bench-…` ID).
    New(Option<String>),
}

/// Resolves what `mode` targets: an existing wallet, or (for signing and resharing) a wallet
/// created now, outside the measurement, retrying while the cluster is not ready yet.
pub async fn prepare(
    client: &Client,
    mode: &Mode,
    wallet: WalletChoice,
) -> Result<Target, PrepareError> {
    if *mode == Mode::Keygen {
        return Ok(Target {
            kind: TargetKind::Keygen,
            created: None,
        });
    }
    let (wallet, created) = match wallet {
        WalletChoice::Existing(wallet) => (wallet, None),
        WalletChoice::New(id) => {
            let id = id.unwrap_or_else(|| format!("bench-{}", uuid::Uuid::new_v4()));
            let keys = create_wallet_when_ready(client, &id).await?;
            let wallet = Wallet {
                id,
                ecdsa_pub: keys.ecdsa_pub_key,
                eddsa_pub: keys.eddsa_pub_key,
            };
            (wallet.clone(), Some(wallet))
        }
    };
    let ecdsa = || -> Result<[u8; 33], PrepareError> {
        let key = wallet
            .ecdsa_pub
            .as_deref()
            .ok_or_else(|| PrepareError::Key("the wallet's secp256k1 key is needed".into()))?;
        compress_secp256k1(key).map_err(|e| PrepareError::Key(e.to_string()))
    };
    let eddsa = || -> Result<ed25519_dalek::VerifyingKey, PrepareError> {
        let key: [u8; 32] = wallet
            .eddsa_pub
            .as_deref()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(|| {
                PrepareError::Key("the wallet's 32-byte ed25519 key is needed".into())
            })?;
        ed25519_dalek::VerifyingKey::from_bytes(&key)
            .map_err(|_| PrepareError::Key("the ed25519 key is not a point".into()))
    };
    let kind = match mode {
        Mode::Keygen => TargetKind::Keygen,
        Mode::SignEcdsa | Mode::SignEcdsaMessage => TargetKind::Ecdsa {
            key: ecdsa()?,
            wallet: wallet.id.clone(),
            message_mode: *mode == Mode::SignEcdsaMessage,
        },
        Mode::SignEddsa => TargetKind::Eddsa {
            key: eddsa()?,
            wallet: wallet.id.clone(),
        },
        Mode::Reshare(plan) => TargetKind::Reshare {
            key: match plan.key_type {
                KeyType::Secp256k1 => ecdsa()?.to_vec(),
                KeyType::Ed25519 => eddsa()?.to_bytes().to_vec(),
            },
            plan: plan.clone(),
            wallet: wallet.id.clone(),
        },
    };
    Ok(Target { kind, created })
}

/// Creates the wallet, retrying every 5 s while the cluster reports it is not ready, until
/// [`READY_DEADLINE`].
async fn create_wallet_when_ready(
    client: &Client,
    wallet: &str,
) -> Result<KeygenResultEvent, ClientError> {
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        match client.create_wallet(wallet).await {
            Err(ClientError::Failed {
                code: ErrorCode::ClusterNotReady,
                ..
            }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            other => return other,
        }
    }
}

/// How one request ended: its latency, or why it failed.
pub type Outcome = Result<Duration, Failure>;

/// A failed request: the code it is tallied under and what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The cluster's wire code (e.g. `ERROR_KEY_NOT_FOUND`), `client_*` for failures on this
    /// side, `bad_result` for a result that fails its check.
    pub code: String,
    /// What happened.
    pub reason: String,
}

impl Failure {
    fn bad_result(reason: impl Into<String>) -> Self {
        Self {
            code: "bad_result".into(),
            reason: reason.into(),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        let code = match (e.error_code(), e.kind()) {
            (Some(code), _) => code.as_str().to_owned(),
            (None, ClientErrorKind::Timeout) => "client_timeout".into(),
            (None, ClientErrorKind::Publish) => "client_publish".into(),
            (None, ClientErrorKind::InvalidRequest) => "client_invalid_request".into(),
            (None, ClientErrorKind::Signer) => "client_signer".into(),
            (None, ClientErrorKind::Closed) => "client_closed".into(),
            (None, ClientErrorKind::Failed | ClientErrorKind::Bug) => "client_bug".into(),
        };
        Self {
            code,
            reason: e.to_string(),
        }
    }
}

/// Fires `requests` requests at `target`, at most `concurrency` (≥ 1) in flight, calls `on_done`
/// as each ends and returns the tally.
pub async fn run(
    client: &Client,
    target: &Target,
    requests: usize,
    concurrency: usize,
    mut on_done: impl FnMut(&Outcome),
) -> Summary {
    let run_id = uuid::Uuid::new_v4();
    let started = Instant::now();
    let outcomes: Vec<Outcome> = futures::stream::iter(0..requests)
        .map(|i| {
            let tag = format!("{run_id}-{i}");
            async move { one_request(client, &target.kind, &tag).await }
        })
        .buffer_unordered(concurrency.max(1))
        .inspect(|outcome| on_done(outcome))
        .collect()
        .await;
    Summary::of(outcomes, concurrency.max(1), started.elapsed())
}

async fn one_request(client: &Client, target: &TargetKind, tag: &str) -> Outcome {
    let message = format!("mpcium-rs bench {tag}").into_bytes();
    let started = Instant::now();
    match target {
        TargetKind::Keygen => {
            let event = client.create_wallet(&format!("bench-{tag}")).await?;
            check_keygen(&event)?;
        }
        TargetKind::Ecdsa {
            wallet,
            key,
            message_mode,
        } => {
            let digest: [u8; 32] = Sha256::digest(&message).into();
            let request = if *message_mode {
                SignRequest::ecdsa_message(wallet, message.clone(), MessageHash::Sha256)
            } else {
                SignRequest::ecdsa_digest(wallet, digest)
            };
            let event = client.sign(request).await?;
            check_ecdsa(&event, &digest, key)?;
        }
        TargetKind::Eddsa { wallet, key } => {
            let event = client
                .sign(SignRequest::eddsa(wallet, message.clone()))
                .await?;
            check_eddsa(&event, &message, key)?;
        }
        TargetKind::Reshare { wallet, plan, key } => {
            let event = client
                .reshare(ReshareRequest {
                    session_id: None,
                    wallet_id: wallet.clone(),
                    key_type: plan.key_type,
                    node_ids: plan.node_ids.clone(),
                    new_threshold: plan.new_threshold,
                })
                .await?;
            check_reshare(&event, plan.key_type, key)?;
        }
    }
    Ok(started.elapsed())
}

fn check_keygen(event: &KeygenResultEvent) -> Result<(), Failure> {
    let ecdsa = event
        .ecdsa_pub_key
        .as_deref()
        .ok_or_else(|| Failure::bad_result("keygen result has no ecdsa key"))?;
    let compressed = compress_secp256k1(ecdsa).map_err(|e| Failure::bad_result(e.to_string()))?;
    VerifyingKey::from_sec1_bytes(&compressed)
        .map_err(|_| Failure::bad_result("the ecdsa key is not a secp256k1 point"))?;
    let eddsa: [u8; 32] = event
        .eddsa_pub_key
        .as_deref()
        .and_then(|key| key.try_into().ok())
        .ok_or_else(|| Failure::bad_result("keygen result has no 32-byte eddsa key"))?;
    ed25519_dalek::VerifyingKey::from_bytes(&eddsa)
        .map_err(|_| Failure::bad_result("the eddsa key is not an ed25519 point"))?;
    Ok(())
}

fn check_ecdsa(
    event: &SigningResultEvent,
    digest: &[u8; 32],
    expected: &[u8; 33],
) -> Result<(), Failure> {
    let (r, s) = event
        .r
        .as_deref()
        .zip(event.s.as_deref())
        .ok_or_else(|| Failure::bad_result("signing result has no r or s"))?;
    let v = event
        .signature_recovery
        .as_deref()
        .and_then(|v| v.first())
        .and_then(|v| RecoveryId::from_byte(*v))
        .ok_or_else(|| Failure::bad_result("signing result has no valid recovery id"))?;
    let signature = Signature::from_scalars(
        <[u8; 32]>::try_from(r).map_err(|_| Failure::bad_result("r is not 32 bytes"))?,
        <[u8; 32]>::try_from(s).map_err(|_| Failure::bad_result("s is not 32 bytes"))?,
    )
    .map_err(|_| Failure::bad_result("r or s is out of range"))?;
    if signature.normalize_s().is_some() {
        return Err(Failure::bad_result("s is not low-s normalised"));
    }
    let recovered = VerifyingKey::recover_from_prehash(digest, &signature, v)
        .map_err(|_| Failure::bad_result("no public key recovers from the signature"))?;
    if recovered.to_encoded_point(true).as_bytes() != expected.as_slice() {
        return Err(Failure::bad_result(
            "the signature recovers a different public key",
        ));
    }
    Ok(())
}

fn check_eddsa(
    event: &SigningResultEvent,
    message: &[u8],
    key: &ed25519_dalek::VerifyingKey,
) -> Result<(), Failure> {
    let signature = event
        .signature
        .as_deref()
        .ok_or_else(|| Failure::bad_result("signing result has no signature"))?;
    let signature = ed25519_dalek::Signature::from_slice(signature)
        .map_err(|_| Failure::bad_result("the signature is not 64 bytes"))?;
    key.verify_strict(message, &signature)
        .map_err(|_| Failure::bad_result("the ed25519 signature does not verify strictly"))
}

/// `expected` is SEC1-compressed for secp256k1, the 32 raw bytes for Ed25519.
fn check_reshare(
    event: &ResharingResultEvent,
    key_type: KeyType,
    expected: &[u8],
) -> Result<(), Failure> {
    let key = event
        .pub_key
        .as_deref()
        .ok_or_else(|| Failure::bad_result("resharing result has no public key"))?;
    let same = match key_type {
        KeyType::Secp256k1 => compress_secp256k1(key).is_ok_and(|k| k.as_slice() == expected),
        KeyType::Ed25519 => key == expected,
    };
    if same {
        Ok(())
    } else {
        Err(Failure::bad_result("resharing changed the public key"))
    }
}

/// The outcomes of a run, tallied.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Latencies of successful requests, ascending.
    latencies: Vec<Duration>,
    /// Requests fired.
    pub requests: usize,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Failed requests.
    pub failed: usize,
    /// Failure count per [`Failure::code`].
    pub errors: BTreeMap<String, usize>,
    /// The first reason seen per code.
    pub first_reasons: BTreeMap<String, String>,
    /// From the first request fired to the last result.
    pub wall: Duration,
}

impl Summary {
    /// Tallies `outcomes` of a run with `concurrency` that took `wall`.
    pub fn of(outcomes: Vec<Outcome>, concurrency: usize, wall: Duration) -> Self {
        let mut summary = Self {
            latencies: Vec::new(),
            requests: outcomes.len(),
            concurrency,
            failed: 0,
            errors: BTreeMap::new(),
            first_reasons: BTreeMap::new(),
            wall,
        };
        for outcome in outcomes {
            match outcome {
                Ok(latency) => summary.latencies.push(latency),
                Err(Failure { code, reason }) => {
                    summary.failed += 1;
                    *summary.errors.entry(code.clone()).or_default() += 1;
                    summary.first_reasons.entry(code).or_insert(reason);
                }
            }
        }
        summary.latencies.sort_unstable();
        summary
    }

    /// Successful requests.
    pub fn ok(&self) -> usize {
        self.latencies.len()
    }

    /// The nearest-rank `pct`th percentile latency of successful requests; `None` if none.
    pub fn percentile(&self, pct: usize) -> Option<Duration> {
        let rank = (self.latencies.len() * pct).div_ceil(100).max(1);
        self.latencies.get(rank - 1).copied()
    }

    /// The slowest successful request.
    pub fn max(&self) -> Option<Duration> {
        self.latencies.last().copied()
    }

    /// Successful requests per second of wall time.
    pub fn throughput_per_s(&self) -> f64 {
        let wall = self.wall.as_secs_f64();
        if wall > 0.0 {
            self.ok() as f64 / wall
        } else {
            0.0
        }
    }

    /// The summary as one JSON object (latencies in ms, rounded to 0.1 ms).
    pub fn to_json(&self, mode: &Mode) -> serde_json::Value {
        let ms = |d: Option<Duration>| d.map(millis);
        serde_json::json!({
            "mode": mode.name(),
            "requests": self.requests,
            "concurrency": self.concurrency,
            "ok": self.ok(),
            "failed": self.failed,
            "errors": self.errors,
            "p50_ms": ms(self.percentile(50)),
            "p90_ms": ms(self.percentile(90)),
            "p99_ms": ms(self.percentile(99)),
            "max_ms": ms(self.max()),
            "throughput_per_s": round2(self.throughput_per_s()),
            "wall_s": round2(self.wall.as_secs_f64()),
        })
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms =
            |d: Option<Duration>| d.map_or_else(|| "-".to_owned(), |d| format!("{} ms", millis(d)));
        writeln!(
            f,
            "requests {} (concurrency {}): {} ok, {} failed in {:.2} s",
            self.requests,
            self.concurrency,
            self.ok(),
            self.failed,
            self.wall.as_secs_f64()
        )?;
        writeln!(f, "throughput {:.2}/s", self.throughput_per_s())?;
        writeln!(
            f,
            "latency p50 {}  p90 {}  p99 {}  max {}",
            ms(self.percentile(50)),
            ms(self.percentile(90)),
            ms(self.percentile(99)),
            ms(self.max())
        )?;
        for (code, count) in &self.errors {
            let reason = self.first_reasons.get(code).map_or("", String::as_str);
            writeln!(f, "error {code}: {count} (first: {reason})")?;
        }
        Ok(())
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Outcome> {
        values
            .iter()
            .map(|v| Ok(Duration::from_millis(*v)))
            .collect()
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let summary = Summary::of(
            ms(&(1..=100).collect::<Vec<_>>()),
            1,
            Duration::from_secs(1),
        );
        assert_eq!(summary.percentile(50), Some(Duration::from_millis(50)));
        assert_eq!(summary.percentile(90), Some(Duration::from_millis(90)));
        assert_eq!(summary.percentile(99), Some(Duration::from_millis(99)));
        let three = Summary::of(ms(&[30, 10, 20]), 1, Duration::from_secs(1));
        assert_eq!(three.percentile(50), Some(Duration::from_millis(20)));
        assert_eq!(three.percentile(99), Some(Duration::from_millis(30)));
        assert_eq!(three.max(), Some(Duration::from_millis(30)));
    }

    #[test]
    fn a_run_without_successes_has_no_percentiles() {
        let summary = Summary::of(Vec::new(), 1, Duration::ZERO);
        assert_eq!(summary.percentile(50), None);
        assert_eq!(summary.throughput_per_s(), 0.0);
        assert_eq!(
            summary.to_json(&Mode::Keygen)["p50_ms"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn failures_are_tallied_by_code_keeping_the_first_reason() {
        let outcomes = vec![
            Ok(Duration::from_millis(30)),
            Err(Failure::bad_result("first")),
            Ok(Duration::from_millis(10)),
            Err(Failure::bad_result("second")),
            Err(Failure::from(ClientError::Failed {
                code: ErrorCode::KeyNotFound,
                reason: "no such wallet".into(),
            })),
        ];
        let summary = Summary::of(outcomes, 2, Duration::from_secs(2));
        assert_eq!(summary.ok(), 2);
        assert_eq!(summary.failed, 3);
        assert_eq!(summary.errors.get("bad_result"), Some(&2));
        assert_eq!(summary.errors.get("ERROR_KEY_NOT_FOUND"), Some(&1));
        assert_eq!(
            summary.first_reasons.get("bad_result").map(String::as_str),
            Some("first")
        );
        let json = summary.to_json(&Mode::SignEddsa);
        assert_eq!(json["mode"], "sign-eddsa");
        assert_eq!(json["throughput_per_s"], 1.0);
        assert_eq!(json["errors"]["bad_result"], 2);
        let text = summary.to_string();
        assert!(
            text.contains("error ERROR_KEY_NOT_FOUND: 1 (first: "),
            "{text}"
        );
    }

    fn must_key(byte: u8) -> k256::ecdsa::SigningKey {
        k256::ecdsa::SigningKey::from_slice(&[byte; 32]).unwrap()
    }

    fn must_compressed(key: &k256::ecdsa::SigningKey) -> [u8; 33] {
        key.verifying_key()
            .to_encoded_point(true)
            .as_bytes()
            .try_into()
            .unwrap()
    }

    #[test]
    fn an_ecdsa_signature_that_recovers_another_key_is_refused() {
        let signer = must_key(7);
        let other = must_key(8);
        let digest: [u8; 32] = Sha256::digest(b"bench").into();
        let (signature, recovery) = signer.sign_prehash_recoverable(&digest).unwrap();
        let (r, s) = signature.split_bytes();
        let event = SigningResultEvent::ecdsa_success(
            "",
            "w",
            "t",
            r.to_vec(),
            s.to_vec(),
            recovery.to_byte(),
        );
        assert!(check_ecdsa(&event, &digest, &must_compressed(&signer)).is_ok());
        assert!(check_ecdsa(&event, &digest, &must_compressed(&other)).is_err());
    }

    #[test]
    fn an_ed25519_signature_over_another_message_is_refused() {
        use ed25519_dalek::Signer as _;
        let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let event =
            SigningResultEvent::eddsa_success("", "w", "t", key.sign(b"bench").to_bytes().to_vec());
        assert!(check_eddsa(&event, b"bench", &key.verifying_key()).is_ok());
        assert!(check_eddsa(&event, b"other", &key.verifying_key()).is_err());
    }
}
