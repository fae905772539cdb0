//! `generate-peers` and `register-peers`.

use mpcium_state::config::{Config, RegistryKind};
use mpcium_state::connect::{connect_nats, open_registry};
use mpcium_state::identity::peers::MAX_PEERS;
use mpcium_state::identity::Peers;
use mpcium_state::registry::{PeerRegistration, Registry};

use crate::args::{GeneratePeersArgs, RegisterPeersArgs};
use crate::error::CliError;

/// Writes a fresh peers.json (array form, 0600), refusing to overwrite.
pub fn generate(args: &GeneratePeersArgs) -> Result<(), CliError> {
    if args.number < 2 || args.number > MAX_PEERS {
        return Err(CliError::Usage(format!(
            "--number must be between 2 and {MAX_PEERS}, got {}",
            args.number
        )));
    }
    let peers = Peers::generate(args.number).map_err(CliError::Usage)?;
    peers.write_new(&args.output)?;
    println!(
        "Generated {} with {} peers",
        args.output.display(),
        peers.len()
    );
    Ok(())
}

/// Validates peers.json and the registry config. Registry writes arrive with the node's
/// registry module; until then this reports that no registry was contacted.
pub fn register(args: &RegisterPeersArgs) -> Result<(), CliError> {
    let peers = Peers::load(&args.peers)?;
    let loaded = Config::load(args.config.as_deref())?;
    loaded
        .config
        .validate_for_cli()
        .map_err(mpcium_state::config::ConfigError::from)?;
    if let Some(env) = args.environment.as_deref() {
        if env != "production" && env != "development" {
            return Err(CliError::Usage(format!(
                "--environment: unknown environment {env:?}; use production or development"
            )));
        }
    }
    let config = loaded.config;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Registry(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let client = match config.registry {
            RegistryKind::Nats => Some(
                connect_nats(&config)
                    .await
                    .map_err(|e| CliError::Registry(e.to_string()))?,
            ),
            RegistryKind::Consul => None,
        };
        let registry = open_registry(&config, client.as_ref())
            .await
            .map_err(|e| CliError::Registry(e.to_string()))?;
        registry
            .healthy()
            .await
            .map_err(|e| CliError::Registry(format!("registry is not reachable: {e}")))?;
        for peer in peers.iter() {
            let outcome = registry
                .register_peer(&peer.name, &peer.id)
                .await
                .map_err(|e| CliError::Registry(e.to_string()))?;
            match outcome {
                PeerRegistration::Registered => println!("registered {} = {}", peer.name, peer.id),
                PeerRegistration::Unchanged => {
                    println!("{} = {} already registered", peer.name, peer.id)
                }
            }
        }
        println!(
            "{} peers registered in the {:?} registry",
            peers.len(),
            config.registry
        );
        Ok(())
    })
}
