//! Node configuration: the typed `config.yaml` tree with its documented defaults, loading
//! (search path, environment overrides, unknown-key warnings) and validation.
//!
//! Keys mirror the reference's schema and the seed guide's ConfigMap. Every known key can be
//! overridden by an environment variable named after it (dots become underscores, upper case:
//! `NATS_URL`, `MPC_THRESHOLD`, `BADGER_PASSWORD`, …). Unknown keys are logged with
//! `tracing::warn!` and listed in [`LoadedConfig::unknown_keys`]. Validation is separate:
//! [`Config::validate_for_cli`] checks what `mpcium-cli` needs, [`Config::validate_for_node`]
//! checks everything a node needs once the committee size is known.

mod schema;
pub mod startup;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::identity::files::{self, FileError};
use crate::identity::SecretText;

pub use startup::{load_node_inputs, NodeInputs, StartError, StartOptions};
pub use validate::{
    Deadlines, Environment, Issue, NodeSettings, PresignatureSettings, ValidationError,
};

/// The whole `config.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `production` or `development`; empty when unset.
    pub environment: String,
    /// NATS connection.
    pub nats: NatsConfig,
    /// Consul connection (used when `registry` is `consul`).
    pub consul: ConsulConfig,
    /// Where peers and readiness are registered.
    pub registry: RegistryKind,
    /// Number of signers required (seed semantics); checked against the committee size.
    pub mpc_threshold: Option<i64>,
    /// Key for the share store and backups.
    pub badger_password: Option<SecretText>,
    /// The trusted event initiator's public key (hex; P-256 also base64).
    pub event_initiator_pubkey: String,
    /// Algorithm of `event_initiator_pubkey`: `ed25519` (default) or `p256`.
    pub event_initiator_algorithm: String,
    /// Cluster-wide HD chain code, 64 hex characters.
    pub chain_code: String,
    /// Share store root; the node's store lives in `<db_path>/<node name>` (default `./db`).
    pub db_path: PathBuf,
    /// Periodic encrypted backups (default true).
    pub backup_enabled: bool,
    /// Backup period in seconds; ≤0 means 300 (see [`Config::backup_period`]).
    pub backup_period_seconds: i64,
    /// Backup directory (default `./backups`).
    pub backup_dir: PathBuf,
    /// Backups of this node kept in `backup_dir`; ≤0 means 24 (see [`Config::backups_kept`]).
    pub backup_retention: i64,
    /// Keygen sessions run at once (default 2).
    pub max_concurrent_keygen: i64,
    /// Signing sessions run at once (default 20).
    pub max_concurrent_signing: i64,
    /// Protocol sessions (coordinated or joined) this node runs at once (default 1024).
    pub max_concurrent_sessions: i64,
    /// Bytes of peer messages buffered for sessions not started here yet, all together
    /// (default 256 MiB).
    pub max_early_message_bytes: i64,
    /// Finished session ids remembered for replay protection (default 262144).
    pub max_remembered_sessions: i64,
    /// Refuse signing requests with a `derivation_path` their initiator signature does not cover
    /// (the v0.3.5 five-field form with a path; default false; see docs/protocol.md).
    pub require_extended_requests: bool,
    /// Seconds a share superseded by a reshare is kept (for a node that left the committee: until
    /// it holds nothing usable) before it is wiped; ≤0 wipes at once (default 3600).
    pub reshare_grace_seconds: i64,
    /// Seconds a keygen (both keys) may take from start to outcome (default 60).
    pub keygen_timeout_seconds: i64,
    /// Seconds one signature may take from start to outcome (default 60).
    pub signing_timeout_seconds: i64,
    /// Seconds a reshare of one key may take from start to outcome (default 60).
    pub reshare_timeout_seconds: i64,
    /// Seconds an aux-info generation for a node set may take (default 600).
    pub aux_info_timeout_seconds: i64,
    /// Seconds a final result stays in the cluster-wide result cache, so a repeated or redelivered
    /// request is answered again (default 604800, the request streams' 7-day MaxAge).
    pub result_cache_ttl_seconds: i64,
    /// HTTP health endpoint.
    pub healthcheck: HealthcheckConfig,
    /// Extra authorizer signatures on requests.
    pub authorization: AuthorizationConfig,
    /// Presignature pools for message-mode ECDSA signing.
    pub presignatures: PresignaturesConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            environment: String::new(),
            nats: NatsConfig::default(),
            consul: ConsulConfig::default(),
            registry: RegistryKind::default(),
            mpc_threshold: None,
            badger_password: None,
            event_initiator_pubkey: String::new(),
            event_initiator_algorithm: "ed25519".to_owned(),
            chain_code: String::new(),
            db_path: PathBuf::from("./db"),
            backup_enabled: true,
            backup_period_seconds: DEFAULT_BACKUP_PERIOD_SECONDS,
            backup_dir: PathBuf::from("./backups"),
            backup_retention: DEFAULT_BACKUP_RETENTION,
            max_concurrent_keygen: 2,
            max_concurrent_signing: 20,
            max_concurrent_sessions: 1024,
            max_early_message_bytes: 256 * 1024 * 1024,
            max_remembered_sessions: 262_144,
            require_extended_requests: false,
            reshare_grace_seconds: 3600,
            keygen_timeout_seconds: Deadlines::DEFAULT.keygen.as_secs() as i64,
            signing_timeout_seconds: Deadlines::DEFAULT.signing.as_secs() as i64,
            reshare_timeout_seconds: Deadlines::DEFAULT.reshare.as_secs() as i64,
            aux_info_timeout_seconds: Deadlines::DEFAULT.aux_info.as_secs() as i64,
            result_cache_ttl_seconds: DEFAULT_RESULT_CACHE_TTL_SECONDS,
            healthcheck: HealthcheckConfig::default(),
            authorization: AuthorizationConfig::default(),
            presignatures: PresignaturesConfig::default(),
        }
    }
}

/// Backup period used when `backup_period_seconds` is unset or ≤0.
pub const DEFAULT_BACKUP_PERIOD_SECONDS: i64 = 300;

/// Result cache lifetime when `result_cache_ttl_seconds` is unset: 7 days, the MaxAge of the
/// request streams, so a request JetStream can still redeliver still finds its result.
pub const DEFAULT_RESULT_CACHE_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// Backups kept when `backup_retention` is unset or ≤0.
pub const DEFAULT_BACKUP_RETENTION: i64 = 24;

/// `nats.*`; `Debug` redacts credentials in `url`.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct NatsConfig {
    /// Server URL (default `nats://127.0.0.1:4222`).
    pub url: String,
    /// User name, if the server requires one.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<SecretText>,
    /// Client TLS files; when set, every named file must be readable.
    pub tls: Option<TlsConfig>,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".to_owned(),
            username: None,
            password: None,
            tls: None,
        }
    }
}

impl std::fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConfig")
            .field("url", &mpcium_protocol::nats_url::redact_url(&self.url))
            .field("username", &self.username)
            .field("password", &self.password)
            .field("tls", &self.tls)
            .finish()
    }
}

/// `nats.tls.*`: PEM file paths.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    /// Client certificate.
    pub client_cert: Option<PathBuf>,
    /// Client private key.
    pub client_key: Option<PathBuf>,
    /// CA certificate that signed the server's.
    pub ca_cert: Option<PathBuf>,
}

/// `consul.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ConsulConfig {
    /// HTTP address (default `localhost:8500`).
    pub address: String,
    /// ACL token.
    pub token: Option<SecretText>,
    /// Basic-auth user.
    pub username: Option<String>,
    /// Basic-auth password.
    pub password: Option<SecretText>,
}

impl Default for ConsulConfig {
    fn default() -> Self {
        Self {
            address: "localhost:8500".to_owned(),
            token: None,
            username: None,
            password: None,
        }
    }
}

/// `registry`: where peers and readiness live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistryKind {
    /// Consul KV (the default, as the seed deploys it).
    #[default]
    Consul,
    /// NATS JetStream KV (no extra service).
    Nats,
}

/// `healthcheck.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HealthcheckConfig {
    /// Serve `/health` (default false).
    pub enabled: bool,
    /// Listen address (default `0.0.0.0:8080`).
    pub address: String,
}

impl Default for HealthcheckConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            address: "0.0.0.0:8080".to_owned(),
        }
    }
}

/// `presignatures.*`: pools of ECDSA presignatures that serve message-mode signing requests
/// (`hash` set) with one online round instead of the full protocol.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PresignaturesConfig {
    /// Wallets whose pools (master key and every path they sign on) this node keeps filled.
    pub hot_wallets: Vec<String>,
    /// Presignatures kept ready per pool (default 8; 0 turns the pools off).
    pub target_depth: i64,
    /// Message-mode requests for one wallet and path, coordinated by this node, after which that
    /// pool is kept filled too (default 0: only `hot_wallets`).
    pub auto_hot_after: i64,
    /// Pools (wallet, path, committee) this node keeps at most (default 64).
    pub max_pools: i64,
}

impl Default for PresignaturesConfig {
    fn default() -> Self {
        Self {
            hot_wallets: Vec::new(),
            target_depth: 8,
            auto_hot_after: 0,
            max_pools: 64,
        }
    }
}

/// `authorization.*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuthorizationConfig {
    /// Require authorizer signatures (default false).
    pub enabled: bool,
    /// Authorizer IDs that must sign every request.
    pub required_authorizers: Vec<String>,
    /// Known authorizers by ID.
    pub authorizer_public_keys: BTreeMap<String, AuthorizerKeyConfig>,
}

/// `authorization.authorizer_public_keys.<id>`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuthorizerKeyConfig {
    /// Public key text (hex; P-256 also base64).
    pub public_key: String,
    /// `ed25519` (default) or `p256`.
    pub algorithm: Option<String>,
}

/// A loaded configuration with where it came from and what was ignored.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: Config,
    /// The file read.
    pub path: PathBuf,
    /// Dotted keys present in the file but unknown (already logged as warnings).
    pub unknown_keys: Vec<String>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No file given and none found on the search path.
    #[error("no config file found (looked for {}); pass --config <file>", display_paths(.searched))]
    NotFound {
        /// Paths tried, in order.
        searched: Vec<PathBuf>,
    },
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] FileError),
    /// The file is not valid YAML.
    #[error("{}: not valid YAML: {detail}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message with its position.
        detail: String,
    },
    /// A key (or its environment variable) has the wrong type.
    #[error("{}: {key}: {detail}", path.display())]
    Type {
        /// The file.
        path: PathBuf,
        /// The dotted key or environment variable.
        key: String,
        /// Expected and found.
        detail: String,
    },
    /// The validated settings are not usable.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Config {
    /// Loads `path`, or the first of `./config.yaml`, `/etc/mpcium/config.yaml`,
    /// `$HOME/.mpcium/config.yaml`, applying overrides from the process environment.
    pub fn load(path: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
        Self::load_with_env(path, &|key| std::env::var(key).ok())
    }

    /// [`Config::load`] with an explicit environment (for tests and embedding).
    pub fn load_with_env(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LoadedConfig, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => {
                let searched = search_path(env);
                match searched.iter().find(|p| p.is_file()) {
                    Some(p) => p.clone(),
                    None => return Err(ConfigError::NotFound { searched }),
                }
            }
        };
        let bytes = files::read_small_file(&path)?;
        let text = String::from_utf8_lossy(&bytes);
        let mut loaded = Self::from_yaml(&text, &path, env)?;
        loaded.path = path;
        Ok(loaded)
    }

    /// Parses YAML text; `path` only labels errors.
    pub fn from_yaml(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LoadedConfig, ConfigError> {
        let tree: serde_json::Value = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Yaml {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?
        };
        let (tree, unknown_keys) =
            schema::normalize(tree, env).map_err(|issue| ConfigError::Type {
                path: path.to_path_buf(),
                key: issue.key,
                detail: issue.detail,
            })?;
        for key in &unknown_keys {
            tracing::warn!(key = %key, file = %path.display(), "unknown config key ignored");
        }
        // The schema pass has already checked every type, so this only fails on a bug.
        let config: Config = serde_json::from_value(tree).map_err(|e| ConfigError::Type {
            path: path.to_path_buf(),
            key: "(internal)".into(),
            detail: format!("config tree did not match the schema: {e}"),
        })?;
        Ok(LoadedConfig {
            config,
            path: path.to_path_buf(),
            unknown_keys,
        })
    }

    /// How long a final result stays in the result cache; ≤0 (which
    /// [`Config::validate_for_node`] refuses) means the default of 7 days.
    pub fn result_cache_ttl(&self) -> std::time::Duration {
        let secs = if self.result_cache_ttl_seconds <= 0 {
            DEFAULT_RESULT_CACHE_TTL_SECONDS
        } else {
            self.result_cache_ttl_seconds
        };
        std::time::Duration::from_secs(secs.unsigned_abs())
    }

    /// Backup period, with ≤0 meaning the default of 300 s.
    pub fn backup_period(&self) -> std::time::Duration {
        let secs = if self.backup_period_seconds <= 0 {
            DEFAULT_BACKUP_PERIOD_SECONDS
        } else {
            self.backup_period_seconds
        };
        std::time::Duration::from_secs(secs.unsigned_abs())
    }

    /// Number of backups to keep, with ≤0 meaning the default of 24.
    pub fn backups_kept(&self) -> usize {
        let kept = if self.backup_retention <= 0 {
            DEFAULT_BACKUP_RETENTION
        } else {
            self.backup_retention
        };
        usize::try_from(kept).unwrap_or(usize::MAX)
    }
}

/// The reference's search order for `config.yaml`.
fn search_path(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut paths = vec![
        PathBuf::from("./config.yaml"),
        PathBuf::from("/etc/mpcium/config.yaml"),
    ];
    if let Some(home) = env("HOME").filter(|h| !h.is_empty()) {
        paths.push(Path::new(&home).join(".mpcium").join("config.yaml"));
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const SEED_CONFIGMAP: &str = r#"
environment: production
db_path: /app/data/db
backup_dir: /app/data/backups
consul:
  address: consul:8500
nats:
  url: nats://nats:4222
mpc_threshold: 2
event_initiator_pubkey: "6cdddd50b0e550f285c5e998cb9c9c88224680cd5922307b9c2e3c395f78dabc"
event_initiator_algorithm: "ed25519"
backup_enabled: false
backup_period_seconds: 300
"#;

    fn must_parse(text: &str) -> LoadedConfig {
        Config::from_yaml(text, Path::new("config.yaml"), &no_env).unwrap()
    }

    #[test]
    fn seed_configmap_loads_with_its_values_and_no_unknown_keys() {
        let loaded = must_parse(SEED_CONFIGMAP);
        let c = &loaded.config;
        assert!(loaded.unknown_keys.is_empty());
        assert_eq!(c.environment, "production");
        assert_eq!(c.consul.address, "consul:8500");
        assert_eq!(c.nats.url, "nats://nats:4222");
        assert_eq!(c.mpc_threshold, Some(2));
        assert_eq!(c.db_path, PathBuf::from("/app/data/db"));
        assert!(!c.backup_enabled);
        assert_eq!(c.registry, RegistryKind::Consul);
    }

    #[test]
    fn empty_file_gives_the_documented_defaults() {
        let c = must_parse("").config;
        assert!(c.backup_enabled);
        assert_eq!(c.backup_period(), std::time::Duration::from_secs(300));
        assert_eq!(c.max_concurrent_keygen, 2);
        assert_eq!(c.max_concurrent_signing, 20);
        assert!(!c.healthcheck.enabled);
        assert_eq!(c.healthcheck.address, "0.0.0.0:8080");
        assert_eq!(c.event_initiator_algorithm, "ed25519");
        assert_eq!(c.db_path, PathBuf::from("./db"));
        assert_eq!(c.backup_dir, PathBuf::from("./backups"));
    }

    #[test]
    fn backup_retention_defaults_to_24_and_reads_the_key() {
        assert_eq!(must_parse("").config.backups_kept(), 24);
        assert_eq!(must_parse("backup_retention: 0").config.backups_kept(), 24);
        assert_eq!(must_parse("backup_retention: 3").config.backups_kept(), 3);
    }

    #[test]
    fn non_positive_backup_period_means_300_seconds() {
        let c = must_parse("backup_period_seconds: -5").config;
        assert_eq!(c.backup_period(), std::time::Duration::from_secs(300));
    }

    #[test]
    fn reference_template_keys_load_including_dead_ones() {
        let loaded = must_parse(
            r#"
nats: {url: "nats://127.0.0.1:4222", username: u, password: p,
       tls: {client_cert: c.pem, client_key: k.pem, ca_cert: ca.pem}}
consul: {address: "localhost:8500", token: t, username: u, password: p}
registry: nats
badger_password: "0123456789abcdef"
chain_code: "aa"
healthcheck: {enabled: true, address: "127.0.0.1:8080"}
authorization:
  enabled: true
  required_authorizers: [alice]
  authorizer_public_keys:
    alice: {public_key: "ab", algorithm: p256}
session_warm_up_delay_ms: 500
mpcium_version: "0.3.5"
aws: {kms_key_id: k, region: r}
max_concurrent_keygen: 4
max_concurrent_signing: 10
"#,
        );
        assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
        let c = loaded.config;
        assert_eq!(c.registry, RegistryKind::Nats);
        assert_eq!(
            c.authorization.authorizer_public_keys["alice"]
                .algorithm
                .as_deref(),
            Some("p256")
        );
        assert_eq!(c.nats.tls.unwrap().ca_cert, Some(PathBuf::from("ca.pem")));
    }

    #[test]
    fn presignature_pools_read_their_section_and_default_to_off_for_every_wallet() {
        let c = must_parse("").config.presignatures;
        assert!(c.hot_wallets.is_empty());
        assert_eq!((c.target_depth, c.auto_hot_after, c.max_pools), (8, 0, 64));
        let loaded = must_parse(
            "presignatures: {hot_wallets: [w1, w2], target_depth: 4, auto_hot_after: 3, max_pools: 9}\n",
        );
        assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
        let c = loaded.config.presignatures;
        assert_eq!(c.hot_wallets, ["w1", "w2"]);
        assert_eq!((c.target_depth, c.auto_hot_after, c.max_pools), (4, 3, 9));
    }

    #[test]
    fn unknown_keys_are_reported_not_fatal() {
        let loaded = must_parse("environment: development\nfoo: 1\nnats: {bar: 2}\n");
        assert_eq!(loaded.unknown_keys, ["foo", "nats.bar"]);
    }

    #[test]
    fn wrong_type_error_names_file_and_key() {
        let err = Config::from_yaml("mpc_threshold: [1, 2]", Path::new("c.yaml"), &no_env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "c.yaml: mpc_threshold: expected a whole number, got a list"
        );
    }

    #[test]
    fn unknown_registry_lists_the_choices() {
        let err = Config::from_yaml("registry: etcd", Path::new("c.yaml"), &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected one of consul | nats"), "{err}");
    }

    #[test]
    fn broken_yaml_is_reported_with_the_file() {
        let err = Config::from_yaml("nats: [unclosed", Path::new("c.yaml"), &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.yaml: not valid YAML"), "{err}");
    }

    #[test]
    fn environment_variables_override_file_values() {
        let env = |k: &str| match k {
            "BADGER_PASSWORD" => Some("from-env-password".to_owned()),
            "ENVIRONMENT" => Some("development".to_owned()),
            "REGISTRY" => Some("nats".to_owned()),
            "HEALTHCHECK_ENABLED" => Some("true".to_owned()),
            _ => None,
        };
        let c = Config::from_yaml(SEED_CONFIGMAP, Path::new("c"), &env)
            .unwrap()
            .config;
        assert_eq!(c.environment, "development");
        assert_eq!(c.registry, RegistryKind::Nats);
        assert!(c.healthcheck.enabled);
        assert_eq!(c.badger_password.unwrap().expose(), "from-env-password");
    }

    #[test]
    fn debug_of_a_config_hides_its_secrets() {
        let c = must_parse("badger_password: s3cret-badger\nnats: {password: s3cret-nats}\n");
        let shown = format!("{:?}", c.config);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn missing_file_on_the_search_path_lists_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_string_lossy().into_owned();
        let env = move |k: &str| (k == "HOME").then(|| home.clone());
        // `./config.yaml` is resolved against the test's working directory (the crate root),
        // which has no config.yaml.
        let err = Config::load_with_env(None, &env).unwrap_err().to_string();
        assert!(
            err.contains(".mpcium/config.yaml") && err.contains("--config"),
            "{err}"
        );
    }
}
