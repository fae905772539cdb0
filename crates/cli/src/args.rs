//! Command-line arguments (clap derive); every command has `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Operator tool for mpcium clusters: peers, identities, initiator and authorizer keys.
#[derive(Debug, Parser)]
#[command(name = "mpcium-cli", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write peers.json listing node0..node{N-1} with fresh IDs.
    GeneratePeers(GeneratePeersArgs),
    /// Register the peers of peers.json in the registry.
    RegisterPeers(RegisterPeersArgs),
    /// Make a node's Ed25519 identity and share public identities with sibling node directories.
    GenerateIdentity(GenerateIdentityArgs),
    /// Make the event initiator's key pair.
    GenerateInitiator(GenerateInitiatorArgs),
    /// Make an authorizer's key pair.
    GenerateAuthorizer(GenerateAuthorizerArgs),
    /// Restore a node's store from an encrypted backup (presignatures are not restored).
    Recover(RecoverArgs),
    /// Check that a backup decrypts and is complete, without restoring it.
    VerifyBackup(VerifyBackupArgs),
    /// Import one Go mpcium node's wallets from its backups into this node's store (offline).
    ImportMpcium(ImportMpciumArgs),
    /// Fire checked requests at a running cluster and summarise latency, throughput and errors.
    Benchmark(BenchmarkArgs),
    /// Print the version.
    Version,
}

/// `generate-peers`.
#[derive(Debug, Args)]
pub struct GeneratePeersArgs {
    /// Number of nodes.
    #[arg(short = 'n', long = "number")]
    pub number: usize,
    /// Output file; never overwritten.
    #[arg(short, long, default_value = "peers.json")]
    pub output: PathBuf,
}

/// `register-peers`.
#[derive(Debug, Args)]
pub struct RegisterPeersArgs {
    /// peers.json to register.
    #[arg(short, long, default_value = "peers.json")]
    pub peers: PathBuf,
    /// Config file with the registry address (default: the usual search path).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Environment (production or development).
    #[arg(short, long, env = "ENVIRONMENT")]
    pub environment: Option<String>,
}

/// Options shared by the key-generating commands.
#[derive(Debug, Args)]
pub struct KeyOutputArgs {
    /// Encrypt the private key with a passphrase (age, scrypt).
    #[arg(short, long)]
    pub encrypt: bool,
    /// Replace existing files.
    #[arg(short = 'f', long)]
    pub overwrite: bool,
    /// Read the passphrase from this file (one trailing newline is removed).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// `generate-identity`.
#[derive(Debug, Args)]
pub struct GenerateIdentityArgs {
    /// Node name, as listed in peers.json.
    #[arg(short, long)]
    pub node: String,
    /// peers.json listing the node.
    #[arg(short, long, default_value = "peers.json")]
    pub peers: PathBuf,
    /// Directory to write into (the seed uses ./identity/<node>).
    #[arg(short, long, default_value = "identity")]
    pub output_dir: PathBuf,
    /// Encryption and overwrite options.
    #[command(flatten)]
    pub key: KeyOutputArgs,
}

/// Key algorithm for initiator and authorizer keys.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AlgorithmArg {
    /// Ed25519.
    Ed25519,
    /// ECDSA P-256.
    P256,
}

/// `generate-initiator`.
#[derive(Debug, Args)]
pub struct GenerateInitiatorArgs {
    /// Name used in file names (`<name>_identity.json`, `<name>_private.key`).
    #[arg(short = 'n', long, default_value = "initiator")]
    pub node_name: String,
    /// Directory to write into.
    #[arg(short, long, default_value = ".")]
    pub output_dir: PathBuf,
    /// Key algorithm.
    #[arg(short, long, value_enum, default_value = "ed25519")]
    pub algorithm: AlgorithmArg,
    /// Encryption and overwrite options.
    #[command(flatten)]
    pub key: KeyOutputArgs,
}

/// `generate-authorizer`.
#[derive(Debug, Args)]
pub struct GenerateAuthorizerArgs {
    /// Authorizer name (letters, digits, '-' and '_').
    #[arg(short, long)]
    pub name: String,
    /// Directory to write into.
    #[arg(short, long, default_value = ".")]
    pub output_dir: PathBuf,
    /// Key algorithm.
    #[arg(short, long, value_enum, default_value = "ed25519")]
    pub algorithm: AlgorithmArg,
    /// Encryption and overwrite options.
    #[command(flatten)]
    pub key: KeyOutputArgs,
}

/// `recover`.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// Directory holding backup-*.mpcbak files; the newest is restored.
    #[arg(short = 'b', long, required_unless_present = "backup_file")]
    pub backup_dir: Option<PathBuf>,
    /// Restore this backup file instead of the newest in --backup-dir.
    #[arg(long, value_name = "FILE")]
    pub backup_file: Option<PathBuf>,
    /// Node whose newest backup to take from --backup-dir (needed when it holds several nodes').
    #[arg(short = 'n', long)]
    pub node: Option<String>,
    /// Store file to create (the node reads <db_path>/<node name>).
    #[arg(short = 'r', long)]
    pub recovery_path: PathBuf,
    /// Replace an existing store file at --recovery-path.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Read the database password from this file (one trailing newline is removed).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// `verify-backup`.
#[derive(Debug, Args)]
pub struct VerifyBackupArgs {
    /// The backup file to check.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "backup_dir",
        conflicts_with = "backup_dir"
    )]
    pub backup_file: Option<PathBuf>,
    /// Check the newest backup in this directory.
    #[arg(short = 'b', long)]
    pub backup_dir: Option<PathBuf>,
    /// Node whose newest backup to check in --backup-dir (needed when it holds several nodes').
    #[arg(short = 'n', long)]
    pub node: Option<String>,
    /// Read the database password from this file (one trailing newline is removed).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// `import-mpcium`.
#[derive(Debug, Args)]
pub struct ImportMpciumArgs {
    /// Directory with the Go node's `backup-<node>-<time>-<n>.enc` files and `latest.version`.
    #[arg(short = 'b', long)]
    pub backup_dir: PathBuf,
    /// Node name, as listed in peers.json, whose backups to import.
    #[arg(short = 'n', long)]
    pub node: String,
    /// peers.json of the cluster (the Go cluster's node names and ids, kept unchanged).
    #[arg(short, long, default_value = "peers.json")]
    pub peers: PathBuf,
    /// The Go cluster's keyinfo, `consul kv export threshold_keyinfo/` output (recommended:
    /// picks the current version of each key and checks thresholds and participants).
    #[arg(long, value_name = "FILE")]
    pub keyinfo: Option<PathBuf>,
    /// This node's store file (`<db_path>/<node name>`); created if missing.
    #[arg(short, long, value_name = "FILE")]
    pub store: PathBuf,
    /// Read the Go node's badger_password (the backups' key) from this file.
    #[arg(long, value_name = "FILE")]
    pub backup_password_file: Option<PathBuf>,
    /// Read this node's database password from this file (one trailing newline is removed).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// What `benchmark` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchmarkMode {
    /// Wallet creation (one secp256k1 and one Ed25519 key per request).
    Keygen,
    /// ECDSA signing of a fresh 32-byte digest per request.
    SignEcdsa,
    /// ECDSA signing of a fresh message per request, hashed by the nodes (`hash: sha256`): the
    /// form presignature pools serve.
    SignEcdsaMessage,
    /// Ed25519 signing of a fresh message per request.
    SignEddsa,
    /// Resharing one key of the wallet to `--reshare-nodes`.
    Reshare,
}

/// Key selection for `benchmark reshare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    /// The wallet's secp256k1 (ECDSA) key.
    Secp256k1,
    /// The wallet's Ed25519 key.
    Ed25519,
}

/// `benchmark`.
#[derive(Debug, Args)]
pub struct BenchmarkArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub mode: BenchmarkMode,
    /// NATS URL of the cluster.
    #[arg(long, env = "NATS_URL")]
    pub nats: String,
    /// The event initiator's Ed25519 private key (plain hex or `.age`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// File with the passphrase of an `.age` key (one trailing newline is removed).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// How many requests to fire.
    #[arg(short = 'n', long, default_value_t = 10)]
    pub requests: usize,
    /// At most this many requests in flight at once.
    #[arg(short, long, default_value_t = 1)]
    pub concurrency: usize,
    /// Sign or reshare with this existing wallet instead of creating one before timing.
    #[arg(long, conflicts_with = "new_wallet")]
    pub wallet: Option<String>,
    /// Create the wallet to sign or reshare with under this ID (default: a random `bench-…` ID),
    /// e.g. one listed in `presignatures.hot_wallets`.
    #[arg(long, value_name = "ID")]
    pub new_wallet: Option<String>,
    /// With `--wallet`: its secp256k1 key (hex; 33, 64 or 65 bytes).
    #[arg(long, requires = "wallet")]
    pub ecdsa_pub: Option<String>,
    /// With `--wallet`: its Ed25519 key (hex, 32 bytes).
    #[arg(long, requires = "wallet")]
    pub eddsa_pub: Option<String>,
    /// `reshare`: which key of the wallet.
    #[arg(long, value_enum, default_value = "ed25519")]
    pub key_type: KeyTypeArg,
    /// `reshare`: node IDs of the new committee (comma-separated).
    #[arg(long, value_delimiter = ',', required_if_eq("mode", "reshare"))]
    pub reshare_nodes: Vec<String>,
    /// `reshare`: signers required afterwards.
    #[arg(long, default_value_t = 2)]
    pub new_threshold: u16,
    /// How long one request may wait for its result, in seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout_s: u64,
    /// Print the summary as one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

impl From<AlgorithmArg> for mpcium_state::identity::InitiatorAlgorithm {
    fn from(a: AlgorithmArg) -> Self {
        match a {
            AlgorithmArg::Ed25519 => Self::Ed25519,
            AlgorithmArg::P256 => Self::P256,
        }
    }
}
