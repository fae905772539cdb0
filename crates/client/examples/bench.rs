//! End-to-end benchmark against a running cluster: fires `--requests` keygen or signing requests
//! through the SDK, keeping at most `--concurrency` in flight, checks every result independently
//! (ECDSA by public-key recovery with `k256`, Ed25519 with `ed25519-dalek`'s `verify_strict`,
//! keygen keys by decoding both points) and prints one JSON object on stdout:
//!
//! ```text
//! cargo run --release -p mpcium-client --example bench -- --nats nats://127.0.0.1:4222 \
//!     --key initiator_private.key.age --password-file initiator.pass \
//!     --op sign-ecdsa --requests 20 --concurrency 1
//! ```
//!
//! Latency is measured per request, from just before publishing to the verified result, so it
//! includes queueing inside the cluster when `--concurrency` exceeds what the nodes run at once.
//! Percentiles are over successful requests (nearest rank). A request that fails (error result,
//! timeout, bad signature) is counted under its error code in `errors`; the first reason per
//! code goes to stderr. Signing uses `--wallet` (with its public key) or a wallet created first,
//! outside the measurement. `docs/benchmarks.md` has measured numbers and how to reproduce them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use futures::StreamExt as _;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use mpcium_client::hd::compress_secp256k1;
use mpcium_client::{
    Client, ClientError, ClientErrorKind, ClientOptions, LocalSigner, Nats, Passphrase, SignRequest,
};
use mpcium_protocol::{
    ClientId, ErrorCode, InitiatorAlgorithm, KeygenResultEvent, SigningResultEvent,
};
use sha2::{Digest as _, Sha256};

#[derive(Parser)]
struct Args {
    /// NATS URL of the cluster.
    #[arg(long)]
    nats: String,
    /// The initiator's private key (plain or `.age`).
    #[arg(long)]
    key: PathBuf,
    /// File with the passphrase of an `.age` key.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// What to measure.
    #[arg(long, value_enum)]
    op: Op,
    /// How many requests to fire.
    #[arg(long, default_value_t = 10)]
    requests: usize,
    /// At most this many requests in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Sign with this existing wallet instead of creating one (needs the matching public key).
    #[arg(long)]
    wallet: Option<String>,
    /// With `--wallet`: its secp256k1 key (hex; 33, 64 or 65 bytes), for `sign-ecdsa`.
    #[arg(long)]
    ecdsa_pub: Option<String>,
    /// With `--wallet`: its Ed25519 key (hex, 32 bytes), for `sign-eddsa`.
    #[arg(long)]
    eddsa_pub: Option<String>,
    /// How long one request may wait for its result, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
    /// Cluster size, reported in the output line (the client cannot see it).
    #[arg(long, default_value_t = 3)]
    nodes: u32,
    /// Signing threshold, reported in the output line (the client cannot see it).
    #[arg(long, default_value_t = 2)]
    threshold: u32,
}

/// The operation under measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Op {
    /// Wallet creation (one secp256k1 and one Ed25519 key per request).
    Keygen,
    /// ECDSA signing of a fresh 32-byte digest per request.
    SignEcdsa,
    /// Ed25519 signing of a fresh message per request.
    SignEddsa,
}

impl Op {
    fn bench_name(self) -> &'static str {
        match self {
            Self::Keygen => "e2e_keygen",
            Self::SignEcdsa => "e2e_sign_ecdsa",
            Self::SignEddsa => "e2e_sign_eddsa",
        }
    }
}

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failed) => {
            eprintln!("bench: {failed} request(s) failed; see the errors field");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bench: cannot run: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the benchmark and returns how many requests failed.
async fn run(args: Args) -> BenchResult<usize> {
    if args.requests == 0 || args.concurrency == 0 {
        return Err("--requests and --concurrency must be at least 1".into());
    }
    let client = connect(&args).await?;
    let target = Arc::new(target(&client, &args).await?);
    let run_id = uuid::Uuid::new_v4();

    let started = Instant::now();
    let outcomes: Vec<Outcome> = futures::stream::iter(0..args.requests)
        .map(|i| {
            let client = client.clone();
            let target = Arc::clone(&target);
            async move { one_request(&client, &target, &format!("{run_id}-{i}")).await }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    let wall = started.elapsed();

    let summary = Summary::of(outcomes);
    for (code, reason) in &summary.first_reasons {
        eprintln!("bench: first failure with {code}: {reason}");
    }
    let line = serde_json::json!({
        "bench": args.op.bench_name(),
        "nodes": args.nodes,
        "threshold": args.threshold,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "ok": summary.ok_latencies.len(),
        "failed": summary.failed,
        "errors": summary.errors,
        "p50_ms": percentile_ms(&summary.ok_latencies, 50),
        "p90_ms": percentile_ms(&summary.ok_latencies, 90),
        "p99_ms": percentile_ms(&summary.ok_latencies, 99),
        "max_ms": summary.ok_latencies.last().map(|d| millis(*d)),
        "throughput_per_s": round2(summary.ok_latencies.len() as f64 / wall.as_secs_f64()),
        "wall_s": round2(wall.as_secs_f64()),
    });
    println!("{line}");
    Ok(summary.failed)
}

async fn connect(args: &Args) -> BenchResult<Client> {
    let passphrase = match &args.password_file {
        Some(path) => Some(Passphrase::new(
            std::fs::read_to_string(path)?.trim_end().to_owned(),
        )),
        None => None,
    };
    let signer =
        LocalSigner::from_file(InitiatorAlgorithm::Ed25519, &args.key, passphrase.as_ref())?;
    let options = ClientOptions::new(Nats::Url(args.nats.clone()), Arc::new(signer))
        .with_client_id(ClientId::new("bench")?)
        .with_result_timeout(Duration::from_secs(args.timeout_s));
    Ok(Client::connect(options).await?)
}

/// What each request targets, with what its result is checked against.
enum Target {
    /// Create fresh wallets.
    Keygen,
    /// Sign digests with the wallet's secp256k1 key (SEC1-compressed).
    Ecdsa { wallet: String, key: [u8; 33] },
    /// Sign messages with the wallet's Ed25519 key.
    Eddsa {
        wallet: String,
        key: ed25519_dalek::VerifyingKey,
    },
}

/// Resolves the wallet to sign with: the one given, or a new one created before timing starts.
async fn target(client: &Client, args: &Args) -> BenchResult<Target> {
    if args.op == Op::Keygen {
        return Ok(Target::Keygen);
    }
    let (wallet, ecdsa_pub, eddsa_pub) = match &args.wallet {
        Some(wallet) => (
            wallet.clone(),
            args.ecdsa_pub.as_deref().map(hex::decode).transpose()?,
            args.eddsa_pub.as_deref().map(hex::decode).transpose()?,
        ),
        None => {
            let wallet = format!("bench-{}", uuid::Uuid::new_v4());
            let keys = create_wallet_when_ready(client, &wallet).await?;
            eprintln!(
                "bench: created wallet {wallet} (reuse with --wallet {wallet} --ecdsa-pub {} --eddsa-pub {})",
                hex::encode(keys.ecdsa_pub_key.as_deref().unwrap_or_default()),
                hex::encode(keys.eddsa_pub_key.as_deref().unwrap_or_default()),
            );
            (wallet, keys.ecdsa_pub_key, keys.eddsa_pub_key)
        }
    };
    Ok(match args.op {
        Op::SignEcdsa => {
            let key = ecdsa_pub.ok_or("sign-ecdsa with --wallet needs --ecdsa-pub")?;
            Target::Ecdsa {
                wallet,
                key: compress_secp256k1(&key)?,
            }
        }
        _ => {
            let key = eddsa_pub.ok_or("sign-eddsa with --wallet needs --eddsa-pub")?;
            let key: [u8; 32] = key
                .as_slice()
                .try_into()
                .map_err(|_| "an ed25519 public key is 32 bytes")?;
            Target::Eddsa {
                wallet,
                key: ed25519_dalek::VerifyingKey::from_bytes(&key)?,
            }
        }
    })
}

/// Creates the wallet, retrying while the cluster is still preparing its ECDSA parameters.
async fn create_wallet_when_ready(client: &Client, wallet: &str) -> BenchResult<KeygenResultEvent> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match client.create_wallet(wallet).await {
            Err(ClientError::Failed {
                code: ErrorCode::ClusterNotReady,
                reason,
            }) if Instant::now() < deadline => {
                eprintln!("bench: cluster not ready yet ({reason}); retrying in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            other => return Ok(other?),
        }
    }
}

/// How one request ended: its latency, or why it failed.
type Outcome = Result<Duration, Failure>;

/// A failed request: the code it is tallied under and what happened.
struct Failure {
    code: String,
    reason: String,
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

/// Sends one request, waits for its result and checks it.
async fn one_request(client: &Client, target: &Target, tag: &str) -> Outcome {
    let message = format!("mpcium-rs bench {tag}").into_bytes();
    let started = Instant::now();
    match target {
        Target::Keygen => {
            let event = client.create_wallet(&format!("bench-{tag}")).await?;
            check_keygen(&event)?;
        }
        Target::Ecdsa { wallet, key } => {
            let digest: [u8; 32] = Sha256::digest(&message).into();
            let event = client
                .sign(SignRequest::ecdsa_digest(wallet, digest))
                .await?;
            check_ecdsa(&event, &digest, key)?;
        }
        Target::Eddsa { wallet, key } => {
            let event = client
                .sign(SignRequest::eddsa(wallet, message.clone()))
                .await?;
            check_eddsa(&event, &message, key)?;
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

/// The outcomes of a run, tallied.
struct Summary {
    /// Latencies of successful requests, ascending.
    ok_latencies: Vec<Duration>,
    failed: usize,
    /// Failure count per code.
    errors: BTreeMap<String, usize>,
    /// The first reason seen per code.
    first_reasons: BTreeMap<String, String>,
}

impl Summary {
    fn of(outcomes: Vec<Outcome>) -> Self {
        let mut summary = Self {
            ok_latencies: Vec::new(),
            failed: 0,
            errors: BTreeMap::new(),
            first_reasons: BTreeMap::new(),
        };
        for outcome in outcomes {
            match outcome {
                Ok(latency) => summary.ok_latencies.push(latency),
                Err(Failure { code, reason }) => {
                    summary.failed += 1;
                    *summary.errors.entry(code.clone()).or_default() += 1;
                    summary.first_reasons.entry(code).or_insert(reason);
                }
            }
        }
        summary.ok_latencies.sort_unstable();
        summary
    }
}

/// The nearest-rank `pct`th percentile of ascending `sorted`, in milliseconds; `None` if empty.
fn percentile_ms(sorted: &[Duration], pct: usize) -> Option<f64> {
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted.get(rank - 1).map(|d| millis(*d))
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

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile_ms(&sorted, 50), Some(50.0));
        assert_eq!(percentile_ms(&sorted, 90), Some(90.0));
        assert_eq!(percentile_ms(&sorted, 99), Some(99.0));
        let three = ms(&[10, 20, 30]);
        assert_eq!(percentile_ms(&three, 50), Some(20.0));
        assert_eq!(percentile_ms(&three, 99), Some(30.0));
    }

    #[test]
    fn a_run_without_successes_has_no_percentiles() {
        assert_eq!(percentile_ms(&[], 50), None);
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
        let summary = Summary::of(outcomes);
        assert_eq!(summary.ok_latencies, ms(&[10, 30]));
        assert_eq!(summary.failed, 3);
        assert_eq!(summary.errors.get("bad_result"), Some(&2));
        assert_eq!(summary.errors.get("ERROR_KEY_NOT_FOUND"), Some(&1));
        assert_eq!(
            summary.first_reasons.get("bad_result").map(String::as_str),
            Some("first")
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
