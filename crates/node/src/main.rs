//! The `mpcium` node binary: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use mpcium_node::runtime;
use mpcium_state::config::{load_node_inputs, Environment, StartError, StartOptions};
use mpcium_state::identity::IdentityError;
use tokio_util::sync::CancellationToken;

/// An mpcium MPC node.
#[derive(Debug, Parser)]
#[command(name = "mpcium", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node.
    Start(StartArgs),
    /// Print the version.
    Version,
}

#[derive(Debug, Args)]
struct StartArgs {
    /// Node name, as listed in peers.json.
    #[arg(short, long)]
    name: String,
    /// Config file (default: ./config.yaml, /etc/mpcium/config.yaml, ~/.mpcium/config.yaml).
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// File holding the Badger password.
    #[arg(short = 'f', long)]
    password_file: Option<PathBuf>,
    /// File holding the passphrase of the encrypted private key.
    #[arg(short = 'k', long)]
    identity_password_file: Option<PathBuf>,
    /// Use identity/<name>_private.key.age (age, passphrase) instead of the plain key.
    #[arg(short, long)]
    decrypt_private_key: bool,
    /// Prompt for the Badger password on the terminal.
    #[arg(short, long)]
    prompt_credentials: bool,
    /// peers.json (default ./peers.json).
    #[arg(long)]
    peers: Option<PathBuf>,
    /// Debug logging.
    #[arg(long)]
    debug: bool,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Version => {
            println!("mpcium version {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Start(args) => start(args),
    }
}

fn start(args: StartArgs) -> ExitCode {
    let level = if args.debug { "debug" } else { "info" };
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level))
    };
    let opts = StartOptions {
        name: args.name,
        config: args.config,
        password_file: args.password_file,
        identity_password_file: args.identity_password_file,
        decrypt_private_key: args.decrypt_private_key,
        prompt_credentials: args.prompt_credentials,
        peers: args.peers,
        identity_dir: PathBuf::from("identity"),
    };
    // Until the environment is known, log for people.
    let early = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .finish();
    let inputs = match tracing::subscriber::with_default(early, || load_node_inputs(&opts)) {
        Ok(inputs) => inputs,
        Err(e) => {
            // Upper case, so the deployment guide's `grep ERROR` finds start-up failures too.
            if matches!(e, StartError::Identity(IdentityError::Age { .. })) {
                eprintln!("ERROR: Failed to decrypt private key: {e}");
            } else {
                eprintln!("ERROR: {e}");
            }
            return ExitCode::FAILURE;
        }
    };
    if inputs.settings.environment == Environment::Production {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter())
            .with_writer(std::io::stdout)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
    }
    tracing::info!("MPCIUM v{}", env!("CARGO_PKG_VERSION"));
    // Before the runtime starts and anything uses GMP (it logs the choice).
    mpcium_gmp::select_from_env();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    let result = runtime.block_on(async {
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            signals.cancel();
        });
        runtime::run(inputs, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "ERROR: node stopped");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("received SIGTERM"),
                _ = tokio::signal::ctrl_c() => tracing::info!("received SIGINT"),
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
