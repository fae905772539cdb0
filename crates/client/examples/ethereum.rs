//! Signs an Ethereum (EIP-155 legacy) transfer with a wallet's secp256k1 key and shows the sender
//! address recovered from the signature — the address an Ethereum node would see.
//!
//! ```text
//! cargo run -p mpcium-client --example ethereum -- --nats nats://127.0.0.1:4222 \
//!     --key initiator_private.key.age --password-file initiator.pass --wallet <wallet id>
//! ```
//! The transaction is built and hashed here (Keccak-256 of its RLP encoding) and sent as a
//! 32-byte digest, exactly as reference clients do. With `--message-mode` it is sent instead as
//! the raw RLP bytes with `hash: keccak256`, so every node hashes (and sees) what it signs.

#[path = "common/mod.rs"]
mod common;

use clap::Parser;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use mpcium_client::SignRequest;
use mpcium_protocol::MessageHash;
use sha3::{Digest, Keccak256};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    cluster: common::ClusterArgs,
    /// Send the transaction bytes with `hash: keccak256` instead of a client-side digest.
    #[arg(long)]
    message_mode: bool,
}

/// Minimal RLP: byte strings and lists of already-encoded items.
fn rlp_bytes(bytes: &[u8]) -> Vec<u8> {
    match bytes {
        [b] if *b < 0x80 => vec![*b],
        _ => [rlp_len(0x80, bytes.len()), bytes.to_vec()].concat(),
    }
}

fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
    let body = items.concat();
    [rlp_len(0xc0, body.len()), body].concat()
}

fn rlp_len(base: u8, len: usize) -> Vec<u8> {
    if len < 56 {
        return vec![base + len as u8];
    }
    let be = len.to_be_bytes();
    let digits: Vec<u8> = be.iter().copied().skip_while(|b| *b == 0).collect();
    [vec![base + 55 + digits.len() as u8], digits].concat()
}

fn uint(value: u64) -> Vec<u8> {
    rlp_bytes(
        &value
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect::<Vec<_>>(),
    )
}

#[tokio::main]
async fn main() -> common::ExampleResult<()> {
    let args = Args::parse();
    let client = args.cluster.connect().await?;
    let chain_id = 11155111u64; // Sepolia
    let to = hex::decode("70997970c51812dc3a010c7d01b50e0d17dc79c8")?;
    // EIP-155 signing payload: [nonce, gasPrice, gas, to, value, data, chainId, 0, 0]
    let unsigned = rlp_list(&[
        uint(0),
        uint(20_000_000_000),
        uint(21_000),
        rlp_bytes(&to),
        uint(10_000_000_000_000_000),
        rlp_bytes(&[]),
        uint(chain_id),
        uint(0),
        uint(0),
    ]);
    let digest: [u8; 32] = Keccak256::digest(&unsigned).into();
    println!("unsigned tx (rlp): 0x{}", hex::encode(&unsigned));
    println!("signing hash:      0x{}", hex::encode(digest));

    let request = if args.message_mode {
        SignRequest::ecdsa_message(
            &args.cluster.wallet,
            unsigned.clone(),
            MessageHash::Keccak256,
        )
    } else {
        SignRequest::ecdsa_digest(&args.cluster.wallet, digest)
    };
    let result = client.sign(request).await?;
    let (r, s) = (
        result.r.clone().ok_or("no r")?,
        result.s.clone().ok_or("no s")?,
    );
    let v = *result
        .signature_recovery
        .as_deref()
        .and_then(|v| v.first())
        .ok_or("no v")?;
    let signature = Signature::from_slice(&[r.clone(), s.clone()].concat())?;
    let key = VerifyingKey::recover_from_prehash(
        &digest,
        &signature,
        RecoveryId::from_byte(v).ok_or("bad v")?,
    )?;
    let uncompressed = key.to_encoded_point(false);
    let address = &Keccak256::digest(&uncompressed.as_bytes()[1..])[12..];
    println!(
        "r = 0x{}\ns = 0x{}\nv = {v} (EIP-155 v = {})",
        hex::encode(&r),
        hex::encode(&s),
        chain_id * 2 + 35 + u64::from(v)
    );
    println!(
        "sender address recovered from the signature: 0x{}",
        hex::encode(address)
    );
    Ok(())
}
