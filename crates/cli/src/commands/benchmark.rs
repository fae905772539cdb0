//! `benchmark`: checked requests against a running cluster through the SDK
//! ([`mpcium_client::bench`]), a progress bar on stderr, and a text or JSON summary on stdout.
//! The exit status is non-zero if any request failed (the summary is printed first).

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use mpcium_client::bench::{self, Mode, Reshare, Summary, Wallet, WalletChoice};
use mpcium_client::{Client, ClientOptions, LocalSigner, Nats, Passphrase};
use mpcium_protocol::{ClientId, InitiatorAlgorithm, KeyType};

use crate::args::{BenchmarkArgs, BenchmarkMode, KeyTypeArg};
use crate::error::CliError;

/// Runs `benchmark`.
pub fn run(args: &BenchmarkArgs) -> Result<(), CliError> {
    if args.requests == 0 || args.concurrency == 0 {
        return Err(CliError::Usage(
            "--requests and --concurrency must be at least 1".into(),
        ));
    }
    let mode = mode(args);
    let wallet = wallet(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Benchmark(format!("cannot start the async runtime: {e}")))?;
    let summary = runtime.block_on(measure(args, &mode, wallet))?;
    if args.json {
        println!("{}", summary.to_json(&mode));
        for (code, reason) in &summary.first_reasons {
            eprintln!("benchmark: first failure with {code}: {reason}");
        }
    } else {
        print!("{} {summary}", mode.name());
    }
    match summary.failed {
        0 => Ok(()),
        failed => Err(CliError::Benchmark(format!(
            "{failed} of {} requests failed",
            summary.requests
        ))),
    }
}

fn mode(args: &BenchmarkArgs) -> Mode {
    match args.mode {
        BenchmarkMode::Keygen => Mode::Keygen,
        BenchmarkMode::SignEcdsa => Mode::SignEcdsa,
        BenchmarkMode::SignEcdsaMessage => Mode::SignEcdsaMessage,
        BenchmarkMode::SignEddsa => Mode::SignEddsa,
        BenchmarkMode::Reshare => Mode::Reshare(Reshare {
            key_type: match args.key_type {
                KeyTypeArg::Secp256k1 => KeyType::Secp256k1,
                KeyTypeArg::Ed25519 => KeyType::Ed25519,
            },
            node_ids: args.reshare_nodes.clone(),
            new_threshold: args.new_threshold,
        }),
    }
}

fn wallet(args: &BenchmarkArgs) -> Result<WalletChoice, CliError> {
    let hex_key = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(hex::decode)
            .transpose()
            .map_err(|_| CliError::Usage(format!("--{flag} is not hex")))
    };
    Ok(match &args.wallet {
        None => WalletChoice::New(args.new_wallet.clone()),
        Some(id) => WalletChoice::Existing(Wallet {
            id: id.clone(),
            ecdsa_pub: hex_key("ecdsa-pub", &args.ecdsa_pub)?,
            eddsa_pub: hex_key("eddsa-pub", &args.eddsa_pub)?,
        }),
    })
}

async fn connect(args: &BenchmarkArgs) -> Result<Client, CliError> {
    let passphrase = match &args.password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Benchmark(format!("cannot read {}: {e}", path.display())))?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            Some(Passphrase::new(
                text.strip_suffix('\r').unwrap_or(text).to_owned(),
            ))
        }
        None => None,
    };
    let signer =
        LocalSigner::from_file(InitiatorAlgorithm::Ed25519, &args.key, passphrase.as_ref())
            .map_err(|e| CliError::Benchmark(e.to_string()))?;
    let client_id = ClientId::new("benchmark").map_err(|e| CliError::Benchmark(e.to_string()))?;
    let options = ClientOptions::new(Nats::Url(args.nats.clone()), Arc::new(signer))
        .with_client_id(client_id)
        .with_result_timeout(Duration::from_secs(args.timeout_s));
    Client::connect(options)
        .await
        .map_err(|e| CliError::Benchmark(e.to_string()))
}

async fn measure(
    args: &BenchmarkArgs,
    mode: &Mode,
    wallet: WalletChoice,
) -> Result<Summary, CliError> {
    let client = connect(args).await?;
    let target = bench::prepare(&client, mode, wallet)
        .await
        .map_err(|e| CliError::Benchmark(e.to_string()))?;
    if let Some(created) = target.created_wallet() {
        eprintln!(
            "benchmark: created wallet {id} (reuse with --wallet {id} --ecdsa-pub {} --eddsa-pub {})",
            hex::encode(created.ecdsa_pub.as_deref().unwrap_or_default()),
            hex::encode(created.eddsa_pub.as_deref().unwrap_or_default()),
            id = created.id,
        );
    }
    let bar = ProgressBar::new(args.requests as u64).with_message(mode.name());
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed} (eta {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let summary = bench::run(&client, &target, args.requests, args.concurrency, |_| {
        bar.inc(1)
    })
    .await;
    bar.finish_and_clear();
    Ok(summary)
}
