//! `mpcium-cli`: operator tool for peers, identities and registration (see the library docs).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = mpcium_cli::Cli::parse();
    match mpcium_cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
