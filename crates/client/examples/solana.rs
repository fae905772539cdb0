//! Signs a Solana transfer message with a wallet's Ed25519 key and verifies the signature the way
//! a Solana validator does (RFC 8032 strict verification over the message bytes).
//!
//! ```text
//! cargo run -p mpcium-client --example solana -- --nats nats://127.0.0.1:4222 \
//!     --key initiator_private.key.age --password-file initiator.pass --wallet <wallet id> \
//!     --from <wallet's ed25519 public key, hex>
//! ```
//! The message is a legacy Solana message with one System Program transfer; its first byte is
//! the header's signature count — Ed25519 signs all bytes as given (the reference truncated
//! messages that start with zero bytes; this one would not be affected, the demo shows one that is).

#[path = "common/mod.rs"]
mod common;

use clap::Parser;
use mpcium_client::SignRequest;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    cluster: common::ClusterArgs,
    /// The wallet's Ed25519 public key (hex), the fee payer and sender.
    #[arg(long)]
    from: String,
}

/// Solana's compact-u16 length prefix.
fn compact_u16(mut value: u16) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (value & 0x7f) as u8;
        value >>= 7;
        if value != 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            return out;
        }
    }
}

#[tokio::main]
async fn main() -> common::ExampleResult<()> {
    let args = Args::parse();
    let from: [u8; 32] = hex::decode(&args.from)?
        .try_into()
        .map_err(|_| "--from must be 32 bytes of hex")?;
    let to = [7u8; 32];
    let system_program = [0u8; 32];
    let recent_blockhash = [42u8; 32];
    let mut data = 2u32.to_le_bytes().to_vec(); // SystemInstruction::Transfer
    data.extend_from_slice(&1_000_000u64.to_le_bytes()); // lamports

    let mut message = vec![1, 0, 1]; // header: 1 signer, 0 read-only signed, 1 read-only unsigned
    message.extend(compact_u16(3));
    for key in [from, to, system_program] {
        message.extend_from_slice(&key);
    }
    message.extend_from_slice(&recent_blockhash);
    message.extend(compact_u16(1)); // one instruction
    message.push(2); // program id index
    message.extend(compact_u16(2));
    message.extend([0, 1]); // accounts: from, to
    message.extend(compact_u16(data.len() as u16));
    message.extend(data);

    let client = args.cluster.connect().await?;
    let result = client
        .sign(SignRequest::eddsa(&args.cluster.wallet, message.clone()))
        .await?;
    let signature = result.signature.clone().ok_or("no signature")?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&from)?;
    key.verify_strict(&message, &ed25519_dalek::Signature::from_slice(&signature)?)?;
    println!("message:   {}", hex::encode(&message));
    println!("signature: {}", hex::encode(&signature));
    println!("verified under {} (strict RFC 8032)", args.from);
    Ok(())
}
