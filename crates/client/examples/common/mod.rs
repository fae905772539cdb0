//! Shared by the examples: how to reach a cluster and load the initiator key.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mpcium_client::{Client, ClientOptions, LocalSigner, Nats, Passphrase};
use mpcium_protocol::{ClientId, InitiatorAlgorithm};

/// Where the cluster is and how to sign requests for it.
#[derive(clap::Args)]
pub struct ClusterArgs {
    /// NATS URL of the cluster.
    #[arg(long)]
    pub nats: String,
    /// The initiator's private key (plain or `.age`).
    #[arg(long)]
    pub key: PathBuf,
    /// File with the passphrase of an `.age` key.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// The wallet to use (created by `demo` or `create_wallet`).
    #[arg(long)]
    pub wallet: String,
}

/// A boxed error for examples.
pub type ExampleResult<T> = Result<T, Box<dyn std::error::Error>>;

impl ClusterArgs {
    /// Connects an SDK client with the initiator key.
    pub async fn connect(&self) -> ExampleResult<Client> {
        let passphrase = match &self.password_file {
            Some(path) => Some(Passphrase::new(
                std::fs::read_to_string(path)?.trim_end().to_owned(),
            )),
            None => None,
        };
        let signer =
            LocalSigner::from_file(InitiatorAlgorithm::Ed25519, &self.key, passphrase.as_ref())?;
        let options = ClientOptions::new(Nats::Url(self.nats.clone()), Arc::new(signer))
            .with_client_id(ClientId::new("examples")?)
            .with_result_timeout(Duration::from_secs(120));
        Ok(Client::connect(options).await?)
    }
}
