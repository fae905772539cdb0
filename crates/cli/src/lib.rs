//! `mpcium-cli`, the operator tool: generates `peers.json`, node identities, the event
//! initiator and authorizer keys, registers peers, verifies and recovers store backups, and
//! benchmarks a running cluster through the SDK (`benchmark`).
//! Files are byte-compatible with the Go reference's `mpcium-cli`; where the seed deployment
//! guide differs (array-form `peers.json`, `initiator_*` file names, identities shared between
//! sibling node directories) the guide wins and the reference's forms are still accepted as
//! input. Backups are this implementation's own format (see `mpcium_state::backup`); the
//! reference's `backup-*.enc` files are read only by `import-mpcium`, which takes a Go node's
//! wallets over (see `docs/operations.md`).
//!
//! Passphrases for `--encrypt` come from `--password-file`, else one line of stdin when stdin is
//! not a terminal, else a terminal prompt (twice). They must have at least 12 characters and
//! one that is not a letter or digit.
//!
//! Test-only: the environment variable `MPCIUM_AGE_WORK_FACTOR` (log2 of scrypt N, 1–22) lowers
//! the age encryption cost from its self-calibrated ~1 s so tests run fast. Never set it for
//! real keys.

mod args;
mod commands;
mod error;
mod keyfile;
mod passphrase;

pub use args::{Cli, Command};
pub use error::CliError;

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::GeneratePeers(a) => commands::peers::generate(&a),
        Command::RegisterPeers(a) => commands::peers::register(&a),
        Command::GenerateIdentity(a) => commands::identity::generate(&a),
        Command::GenerateInitiator(a) => commands::initiator::generate_initiator(&a),
        Command::GenerateAuthorizer(a) => commands::initiator::generate_authorizer(&a),
        Command::Recover(a) => commands::backup::recover(&a),
        Command::VerifyBackup(a) => commands::backup::verify(&a),
        Command::ImportMpcium(a) => commands::import::run(&a),
        Command::Benchmark(a) => commands::benchmark::run(&a),
        Command::Version => {
            println!("mpcium-cli version {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}
