//! Derives child addresses offline from a wallet's keygen public keys and the cluster chain code,
//! exactly as the nodes derive the keys they sign with for a `derivation_path` (mpcium's
//! non-hardened scheme; for secp256k1 this is BIP-32 public derivation). No cluster needed.
//!
//! ```text
//! cargo run -p mpcium-client --example hd_addresses -- \
//!     --ecdsa-pub <64-byte X||Y hex from the keygen result> --eddsa-pub <32-byte hex> \
//!     --chain-code <64 hex> --count 5
//! ```

use clap::Parser;
use mpcium_client::hd::derive_secp256k1_from_keygen;
use mpcium_protocol::hd::derive_ed25519;
use sha3::{Digest, Keccak256};

#[derive(Parser)]
struct Args {
    /// The wallet's secp256k1 key as the keygen result carries it (64 bytes X‖Y, hex).
    #[arg(long)]
    ecdsa_pub: String,
    /// The wallet's Ed25519 key (32 bytes, hex).
    #[arg(long)]
    eddsa_pub: String,
    /// The cluster's chain code (32 bytes, hex).
    #[arg(long)]
    chain_code: String,
    /// How many consecutive account indices to derive (m/44/60/0/0/i and m/44/501/0/0/i).
    #[arg(long, default_value_t = 3)]
    count: u32,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let ecdsa = hex::decode(&args.ecdsa_pub)?;
    let eddsa: [u8; 32] = hex::decode(&args.eddsa_pub)?
        .try_into()
        .map_err(|_| "--eddsa-pub must be 32 bytes")?;
    let chain_code: [u8; 32] = hex::decode(&args.chain_code)?
        .try_into()
        .map_err(|_| "--chain-code must be 32 bytes")?;
    for i in 0..args.count {
        let path = [44, 60, 0, 0, i];
        let child = derive_secp256k1_from_keygen(&ecdsa, &chain_code, &path)?;
        let point = k256::PublicKey::from_sec1_bytes(&child.public_key)?;
        let uncompressed =
            k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&point, false);
        let address = &Keccak256::digest(&uncompressed.as_bytes()[1..])[12..];
        println!("ethereum m/44/60/0/0/{i}: 0x{}", hex::encode(address));

        let path = [44, 501, 0, 0, i];
        let child = derive_ed25519(&eddsa, &chain_code, &path)?;
        println!(
            "ed25519  m/44/501/0/0/{i}: {}",
            hex::encode(child.public_key)
        );
    }
    Ok(())
}
