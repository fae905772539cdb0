//! A short tour of a running cluster with the SDK: create a wallet, sign with both curves and an
//! HD-derived key, and check every signature independently (ECDSA by public-key recovery,
//! Ed25519 with `ed25519-dalek`'s strict verification), then (with `--peers`) refresh both keys by
//! resharing to the same committee and sign again.
//!
//! ```text
//! cargo run -p mpcium-client --example demo -- --nats nats://127.0.0.1:4222 \
//!     --key initiator_private.key.age --password-file initiator.pass --chain-code <64 hex>
//! ```
//! `scripts/local-cluster.sh` runs it against the cluster it starts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use mpcium_client::hd::{compress_secp256k1, derive_secp256k1_from_keygen};
use mpcium_client::{
    Client, ClientError, ClientOptions, LocalSigner, Nats, Passphrase, ReshareRequest, SignRequest,
};
use mpcium_protocol::{
    ClientId, ErrorCode, InitiatorAlgorithm, KeyType, KeygenResultEvent, SigningResultEvent,
};
use sha2::{Digest, Sha256};

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
    /// The cluster's chain code (hex), to derive HD child keys locally.
    #[arg(long)]
    chain_code: String,
    /// The cluster's peers.json: when given, the demo also refreshes both keys by resharing to
    /// the same committee and signs again with the new shares.
    #[arg(long)]
    peers: Option<PathBuf>,
    /// Signers required, for the refresh (the cluster's `mpc_threshold`).
    #[arg(long, default_value_t = 2)]
    threshold: u16,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => {
            println!("demo: all checks passed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("demo: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

type DemoResult<T> = Result<T, Box<dyn std::error::Error>>;

async fn run(args: Args) -> DemoResult<()> {
    let passphrase = match &args.password_file {
        Some(path) => Some(Passphrase::new(
            std::fs::read_to_string(path)?.trim_end().to_owned(),
        )),
        None => None,
    };
    let signer =
        LocalSigner::from_file(InitiatorAlgorithm::Ed25519, &args.key, passphrase.as_ref())?;
    let chain_code: [u8; 32] = hex::decode(&args.chain_code)?
        .try_into()
        .map_err(|_| "chain code must be 32 bytes of hex")?;
    let options = ClientOptions::new(Nats::Url(args.nats.clone()), Arc::new(signer))
        .with_client_id(ClientId::new("demo")?)
        .with_result_timeout(Duration::from_secs(120));
    let client = Client::connect(options).await?;
    println!("demo: connected to {} as client \"demo\"", args.nats);

    let wallet_id = format!("demo-{}", uuid::Uuid::new_v4());
    let started = Instant::now();
    let wallet = create_wallet(&client, &wallet_id).await?;
    let ecdsa_pub = wallet
        .ecdsa_pub_key
        .clone()
        .ok_or("keygen result has no ecdsa key")?;
    let eddsa_pub = wallet
        .eddsa_pub_key
        .clone()
        .ok_or("keygen result has no eddsa key")?;
    println!(
        "demo: ✓ wallet {wallet_id} created in {:.2?}\n        secp256k1 {}\n        ed25519   {}",
        started.elapsed(),
        hex::encode(compress_secp256k1(&ecdsa_pub)?),
        hex::encode(&eddsa_pub)
    );

    let digest: [u8; 32] = Sha256::digest(b"hello from the mpcium-rs demo").into();
    let started = Instant::now();
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet_id, digest))
        .await?;
    check_ecdsa(&signed, &digest, &compress_secp256k1(&ecdsa_pub)?)?;
    println!(
        "demo: ✓ ECDSA signature in {:.2?}, recovers the wallet key",
        started.elapsed()
    );

    let path = vec![44, 60, 0, 0, 7];
    let child = derive_secp256k1_from_keygen(&ecdsa_pub, &chain_code, &path)?;
    let started = Instant::now();
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet_id, digest).with_derivation_path(path.clone()))
        .await?;
    check_ecdsa(&signed, &digest, &child.public_key)?;
    println!(
        "demo: ✓ HD-derived ECDSA signature (path {path:?}) in {:.2?}, recovers child key {}",
        started.elapsed(),
        hex::encode(child.public_key)
    );

    let message = b"\x00\x00a message that starts with two zero bytes".to_vec();
    let started = Instant::now();
    let signed = client
        .sign(SignRequest::eddsa(&wallet_id, message.clone()))
        .await?;
    let signature = signed
        .signature
        .clone()
        .ok_or("signing result has no signature")?;
    let key: [u8; 32] = eddsa_pub.as_slice().try_into()?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key)?;
    key.verify_strict(&message, &ed25519_dalek::Signature::from_slice(&signature)?)?;
    println!(
        "demo: ✓ Ed25519 signature in {:.2?}, verifies strictly (leading zero bytes kept)",
        started.elapsed()
    );

    let Some(peers) = &args.peers else {
        return Ok(());
    };
    let node_ids = node_ids(peers)?;
    for key_type in [KeyType::Secp256k1, KeyType::Ed25519] {
        let started = Instant::now();
        let reshared = client
            .reshare(ReshareRequest {
                session_id: None,
                wallet_id: wallet_id.clone(),
                key_type,
                node_ids: node_ids.clone(),
                new_threshold: args.threshold,
            })
            .await?;
        let expected = match key_type {
            KeyType::Secp256k1 => &ecdsa_pub,
            KeyType::Ed25519 => &eddsa_pub,
        };
        if reshared.pub_key.as_ref() != Some(expected) {
            return Err(format!("resharing changed the {key_type} public key").into());
        }
        println!(
            "demo: ✓ {key_type} key refreshed by resharing in {:.2?}, public key unchanged",
            started.elapsed()
        );
    }
    let signed = client
        .sign(SignRequest::ecdsa_digest(&wallet_id, digest))
        .await?;
    check_ecdsa(&signed, &digest, &compress_secp256k1(&ecdsa_pub)?)?;
    let signed = client
        .sign(SignRequest::eddsa(&wallet_id, message.clone()))
        .await?;
    key.verify_strict(
        &message,
        &ed25519_dalek::Signature::from_slice(signed.signature.as_deref().unwrap_or_default())?,
    )?;
    println!("demo: ✓ both keys sign again with the new shares");
    Ok(())
}

/// Node ids from a peers.json (the seed's array form or the reference's map form).
fn node_ids(path: &std::path::Path) -> DemoResult<Vec<String>> {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
    let ids = match &json {
        serde_json::Value::Array(peers) => peers
            .iter()
            .filter_map(|p| p["id"].as_str())
            .map(str::to_owned)
            .collect(),
        serde_json::Value::Object(map) => map
            .values()
            .filter_map(|v| v.as_str())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Ok(ids)
}

/// Creates the wallet, waiting while the cluster is still preparing its ECDSA parameters.
async fn create_wallet(client: &Client, wallet_id: &str) -> DemoResult<KeygenResultEvent> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        match client.create_wallet(wallet_id).await {
            Err(ClientError::Failed {
                code: ErrorCode::ClusterNotReady,
                reason,
            }) if Instant::now() < deadline => {
                println!("demo: cluster not ready yet ({reason}); retrying in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            other => return Ok(other?),
        }
    }
}

fn check_ecdsa(
    result: &SigningResultEvent,
    digest: &[u8; 32],
    expected: &[u8; 33],
) -> DemoResult<()> {
    let r = result.r.as_deref().ok_or("no r")?;
    let s = result.s.as_deref().ok_or("no s")?;
    let v = *result
        .signature_recovery
        .as_deref()
        .and_then(|v| v.first())
        .ok_or("no recovery id")?;
    let mut rs = Vec::with_capacity(64);
    rs.extend_from_slice(r);
    rs.extend_from_slice(s);
    let signature = Signature::from_slice(&rs)?;
    if signature.normalize_s().is_some() {
        return Err("s is not low-s normalised".into());
    }
    let recovery = RecoveryId::from_byte(v).ok_or("bad recovery id")?;
    let recovered = VerifyingKey::recover_from_prehash(digest, &signature, recovery)?;
    if recovered.to_encoded_point(true).as_bytes() != expected {
        return Err("the signature recovers a different public key".into());
    }
    Ok(())
}
