//! Checks a loaded [`Config`] and turns it into the typed settings a node runs with. Every
//! problem found is reported at once, each naming the key, what is wrong and what to do.

use std::path::Path;
use std::time::Duration;

use std::collections::BTreeMap;

use mpcium_protocol::{Authorizers, InitiatorAlgorithm, PublicKey, Threshold};

use super::{Config, RegistryKind};

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Dotted config key.
    pub key: String,
    /// What is wrong.
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}; {}", self.key, self.problem, self.fix)
    }
}

/// Every problem found in a configuration (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct ValidationError(pub Vec<Issue>);

fn render(issues: &[Issue]) -> String {
    let lines: Vec<String> = issues.iter().map(Issue::to_string).collect();
    lines.join("\n")
}

impl ValidationError {
    /// The issue about `key`, if any.
    pub fn issue(&self, key: &str) -> Option<&Issue> {
        self.0.iter().find(|i| i.key == key)
    }
}

/// Deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// `production`: JSON logs.
    Production,
    /// `development`: human-readable logs.
    Development,
}

/// What a node runs with, all checked.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// Deployment environment.
    pub environment: Environment,
    /// Signers required, valid for the committee size.
    pub threshold: Threshold,
    /// The trusted initiator's public key.
    pub initiator_key: PublicKey,
    /// Cluster-wide HD chain code.
    pub chain_code: [u8; 32],
    /// Authorizer keys and required IDs; `None` when authorization is disabled.
    pub authorizers: Option<Authorizers>,
    /// Keygen sessions run at once.
    pub max_concurrent_keygen: usize,
    /// Signing sessions run at once.
    pub max_concurrent_signing: usize,
    /// Protocol sessions run at once.
    pub max_concurrent_sessions: usize,
    /// Bytes buffered for sessions not started yet, all together.
    pub max_early_message_bytes: usize,
    /// Finished session ids remembered.
    pub max_remembered_sessions: usize,
    /// Refuse reference-form signing requests (whose signature does not cover the path).
    pub require_extended_requests: bool,
    /// How long each kind of session may take.
    pub deadlines: Deadlines,
    /// How long a final result stays in the cluster-wide result cache.
    pub result_cache_ttl: Duration,
    /// The presignature pools (`presignatures.*`).
    pub presignatures: PresignatureSettings,
}

/// Checked `presignatures.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignatureSettings {
    /// Wallets whose pools are kept filled.
    pub hot_wallets: Vec<String>,
    /// Presignatures kept ready per pool; 0: no pools.
    pub target_depth: usize,
    /// Message-mode requests after which a (wallet, path) pool is kept filled; `None`: never.
    pub auto_hot_after: Option<u64>,
    /// Pools kept at most.
    pub max_pools: usize,
}

impl PresignatureSettings {
    /// Largest `target_depth` accepted.
    pub const MAX_TARGET_DEPTH: usize = 1024;
}

/// How long each kind of session may take on a participant, from its start to its outcome. The
/// coordinator waits a little longer ([`Deadlines::COORDINATOR_SLACK`]) so a participant's own
/// timeout report arrives before the coordinator gives up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadlines {
    /// Keygen of both keys (`keygen_timeout_seconds`).
    pub keygen: Duration,
    /// One signature (`signing_timeout_seconds`).
    pub signing: Duration,
    /// Resharing one key (`reshare_timeout_seconds`).
    pub reshare: Duration,
    /// Aux info for a node set (`aux_info_timeout_seconds`).
    pub aux_info: Duration,
}

impl Deadlines {
    /// The documented defaults: 60 s for keygen, signing and resharing, 600 s for aux info.
    pub const DEFAULT: Deadlines = Deadlines {
        keygen: Duration::from_secs(60),
        signing: Duration::from_secs(60),
        reshare: Duration::from_secs(60),
        aux_info: Duration::from_secs(600),
    };

    /// How much longer than a participant the coordinator waits for outcomes.
    pub const COORDINATOR_SLACK: Duration = Duration::from_secs(5);
}

impl Default for Deadlines {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Default)]
struct Issues(Vec<Issue>);

impl Issues {
    fn add(&mut self, key: &str, problem: impl Into<String>, fix: impl Into<String>) {
        self.0.push(Issue {
            key: key.to_owned(),
            problem: problem.into(),
            fix: fix.into(),
        });
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, ValidationError> {
        match value {
            Some(v) if self.0.is_empty() => Ok(v),
            _ => Err(ValidationError(self.0)),
        }
    }
}

impl Config {
    /// Checks what `mpcium-cli register-peers` needs: the registry's address.
    pub fn validate_for_cli(&self) -> Result<(), ValidationError> {
        let mut issues = Issues::default();
        self.check_registry(&mut issues);
        issues.finish(Some(()))
    }

    /// Checks everything a node needs for a committee of `peer_count` nodes.
    pub fn validate_for_node(&self, peer_count: usize) -> Result<NodeSettings, ValidationError> {
        let mut issues = Issues::default();
        self.check_registry(&mut issues);
        if self.nats.url.trim().is_empty() {
            issues.add(
                "nats.url",
                "is empty",
                "set it to the NATS server, e.g. nats://nats:4222 (or export NATS_URL)",
            );
        }
        let environment = self.check_environment(&mut issues);
        if self.badger_password.as_ref().is_none_or(|p| p.is_empty()) {
            issues.add(
                "badger_password",
                "is missing",
                "pass --password-file <file>, set BADGER_PASSWORD, or use --prompt-credentials",
            );
        }
        let threshold = self.check_threshold(peer_count, &mut issues);
        let initiator_key = check_public_key(
            "event_initiator_pubkey",
            "event_initiator_algorithm",
            &self.event_initiator_pubkey,
            Some(&self.event_initiator_algorithm),
            "copy public_key from initiator_identity.json (made by `mpcium-cli generate-initiator`)",
            &mut issues,
        );
        let chain_code = check_chain_code(&self.chain_code, &mut issues);
        let authorizers = self.check_authorizers(&mut issues);
        self.check_tls_files(&mut issues);
        let max_concurrent_keygen = check_positive(
            "max_concurrent_keygen",
            self.max_concurrent_keygen,
            &mut issues,
        );
        let max_concurrent_signing = check_positive(
            "max_concurrent_signing",
            self.max_concurrent_signing,
            &mut issues,
        );
        let max_concurrent_sessions = check_positive(
            "max_concurrent_sessions",
            self.max_concurrent_sessions,
            &mut issues,
        );
        let max_early_message_bytes = check_positive(
            "max_early_message_bytes",
            self.max_early_message_bytes,
            &mut issues,
        );
        let max_remembered_sessions = check_positive(
            "max_remembered_sessions",
            self.max_remembered_sessions,
            &mut issues,
        );
        let seconds = |key: &str, value: i64, issues: &mut Issues| {
            check_positive(key, value, issues).map(|s| Duration::from_secs(s as u64))
        };
        let keygen = seconds(
            "keygen_timeout_seconds",
            self.keygen_timeout_seconds,
            &mut issues,
        );
        let signing = seconds(
            "signing_timeout_seconds",
            self.signing_timeout_seconds,
            &mut issues,
        );
        let reshare = seconds(
            "reshare_timeout_seconds",
            self.reshare_timeout_seconds,
            &mut issues,
        );
        let aux_info = seconds(
            "aux_info_timeout_seconds",
            self.aux_info_timeout_seconds,
            &mut issues,
        );
        let result_cache_ttl = seconds(
            "result_cache_ttl_seconds",
            self.result_cache_ttl_seconds,
            &mut issues,
        );
        let presignatures = self.check_presignatures(&mut issues);
        let settings = (|| {
            Some(NodeSettings {
                environment: environment?,
                threshold: threshold?,
                initiator_key: initiator_key?,
                chain_code: chain_code?,
                authorizers: authorizers?,
                max_concurrent_keygen: max_concurrent_keygen?,
                max_concurrent_signing: max_concurrent_signing?,
                max_concurrent_sessions: max_concurrent_sessions?,
                max_early_message_bytes: max_early_message_bytes?,
                max_remembered_sessions: max_remembered_sessions?,
                require_extended_requests: self.require_extended_requests,
                deadlines: Deadlines {
                    keygen: keygen?,
                    signing: signing?,
                    reshare: reshare?,
                    aux_info: aux_info?,
                },
                result_cache_ttl: result_cache_ttl?,
                presignatures: presignatures?,
            })
        })();
        issues.finish(settings)
    }

    fn check_presignatures(&self, issues: &mut Issues) -> Option<PresignatureSettings> {
        let p = &self.presignatures;
        let max = PresignatureSettings::MAX_TARGET_DEPTH;
        let target_depth = match usize::try_from(p.target_depth) {
            Ok(n) if n <= max => Some(n),
            _ => {
                issues.add(
                    "presignatures.target_depth",
                    format!("must be 0 to {max}, got {}", p.target_depth),
                    "set the presignatures kept per pool (0 turns the pools off)",
                );
                None
            }
        };
        let auto_hot_after = match u64::try_from(p.auto_hot_after) {
            Ok(0) => Some(None),
            Ok(n) => Some(Some(n)),
            Err(_) => {
                issues.add(
                    "presignatures.auto_hot_after",
                    format!("must be 0 or more, got {}", p.auto_hot_after),
                    "set 0 to fill only hot_wallets' pools",
                );
                None
            }
        };
        let max_pools = check_positive("presignatures.max_pools", p.max_pools, issues);
        Some(PresignatureSettings {
            hot_wallets: p.hot_wallets.clone(),
            target_depth: target_depth?,
            auto_hot_after: auto_hot_after?,
            max_pools: max_pools?,
        })
    }

    fn check_registry(&self, issues: &mut Issues) {
        match self.registry {
            RegistryKind::Consul if self.consul.address.trim().is_empty() => issues.add(
                "consul.address",
                "is empty but registry is consul",
                "set it to the Consul HTTP address, e.g. localhost:8500 (or export CONSUL_ADDRESS)",
            ),
            RegistryKind::Nats if self.nats.url.trim().is_empty() => issues.add(
                "nats.url",
                "is empty but registry is nats",
                "set it to the NATS server, e.g. nats://nats:4222 (or export NATS_URL)",
            ),
            _ => {}
        }
    }

    fn check_environment(&self, issues: &mut Issues) -> Option<Environment> {
        match self.environment.as_str() {
            "production" => Some(Environment::Production),
            "development" => Some(Environment::Development),
            "" => {
                issues.add(
                    "environment",
                    "is missing",
                    "set it to production or development (or export ENVIRONMENT)",
                );
                None
            }
            other => {
                issues.add(
                    "environment",
                    format!("unknown environment {other:?}"),
                    "use production or development",
                );
                None
            }
        }
    }

    fn check_threshold(&self, peer_count: usize, issues: &mut Issues) -> Option<Threshold> {
        let key = "mpc_threshold";
        let Some(t) = self.mpc_threshold else {
            issues.add(
                key,
                "is missing",
                "set it to the number of signers required, e.g. 2 for 2-of-3 (or export MPC_THRESHOLD)",
            );
            return None;
        };
        let Ok(parties) = u16::try_from(peer_count) else {
            issues.add(
                key,
                format!("the committee has {peer_count} peers, too many"),
                "use fewer peers",
            );
            return None;
        };
        let minimum = parties / 2 + 1;
        let fix = format!(
            "set it between {minimum} and {parties} for {parties} peers (it is the number of signers required)"
        );
        let Ok(signers) = u16::try_from(t) else {
            issues.add(key, format!("{t} is out of range"), fix);
            return None;
        };
        match Threshold::new(signers, parties) {
            Ok(threshold) => Some(threshold),
            Err(e) => {
                issues.add(key, e.to_string(), fix);
                None
            }
        }
    }

    /// `Some(None)`: disabled; `Some(Some(_))`: valid; `None`: issues were recorded.
    fn check_authorizers(&self, issues: &mut Issues) -> Option<Option<Authorizers>> {
        let auth = &self.authorization;
        if !auth.enabled {
            return Some(None);
        }
        let mut keys = Some(BTreeMap::new());
        for (id, entry) in &auth.authorizer_public_keys {
            let key = check_public_key(
                &format!("authorization.authorizer_public_keys.{id}.public_key"),
                &format!("authorization.authorizer_public_keys.{id}.algorithm"),
                &entry.public_key,
                entry.algorithm.as_deref(),
                "copy public_key from the authorizer's .authorizer.identity.json",
                issues,
            );
            match (key, keys.as_mut()) {
                (Some(k), Some(map)) => {
                    map.insert(id.clone(), k);
                }
                _ => keys = None,
            }
        }
        let mut complete = true;
        for id in &auth.required_authorizers {
            if !auth.authorizer_public_keys.contains_key(id) {
                complete = false;
                issues.add(
                    "authorization.required_authorizers",
                    format!("{id:?} has no entry under authorization.authorizer_public_keys"),
                    format!("add authorization.authorizer_public_keys.{id}.public_key or remove it from the list"),
                );
            }
        }
        if !complete {
            return None;
        }
        match Authorizers::new(keys?, auth.required_authorizers.clone()) {
            Ok(a) => Some(Some(a)),
            Err(e) => {
                issues.add("authorization", e.to_string(), "fix the authorizer list");
                None
            }
        }
    }

    fn check_tls_files(&self, issues: &mut Issues) {
        let Some(tls) = &self.nats.tls else { return };
        for (key, path) in [
            ("nats.tls.client_cert", &tls.client_cert),
            ("nats.tls.client_key", &tls.client_key),
            ("nats.tls.ca_cert", &tls.ca_cert),
        ] {
            if let Some(path) = path {
                check_readable(key, path, issues);
            }
        }
    }
}

fn check_readable(key: &str, path: &Path, issues: &mut Issues) {
    if let Err(e) = std::fs::File::open(path) {
        issues.add(
            key,
            format!("cannot read {}: {e}", path.display()),
            "fix the path or the file's permissions",
        );
    }
}

fn check_positive(key: &str, value: i64, issues: &mut Issues) -> Option<usize> {
    match usize::try_from(value) {
        Ok(n) if n >= 1 => Some(n),
        _ => {
            issues.add(
                key,
                format!("must be at least 1, got {value}"),
                "set a positive number",
            );
            None
        }
    }
}

fn check_public_key(
    key: &str,
    algorithm_key: &str,
    text: &str,
    algorithm: Option<&str>,
    fix: &str,
    issues: &mut Issues,
) -> Option<PublicKey> {
    let algorithm = match algorithm.unwrap_or("ed25519").parse::<InitiatorAlgorithm>() {
        Ok(a) => a,
        Err(e) => {
            issues.add(algorithm_key, e.to_string(), "set it to ed25519 or p256");
            return None;
        }
    };
    if text.trim().is_empty() {
        issues.add(key, "is missing", fix);
        return None;
    }
    match PublicKey::parse(algorithm, text.trim()) {
        Ok(k) => Some(k),
        Err(e) => {
            issues.add(
                key,
                format!("not a valid {algorithm} public key ({e})"),
                fix,
            );
            None
        }
    }
}

fn check_chain_code(text: &str, issues: &mut Issues) -> Option<[u8; 32]> {
    let key = "chain_code";
    let fix = "generate one with `openssl rand -hex 32` and use the same value on every node";
    if text.is_empty() {
        issues.add(key, "is missing", fix);
        return None;
    }
    let decoded = hex::decode(text)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok());
    if decoded.is_none() {
        let problem = if text.len() == 64 {
            "expected 64 hex characters (32 bytes), found characters that are not hex".to_owned()
        } else {
            format!(
                "expected 64 hex characters (32 bytes), got {}",
                text.chars().count()
            )
        };
        issues.add(key, problem, fix);
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const ED25519_PUB: &str = "6cdddd50b0e550f285c5e998cb9c9c88224680cd5922307b9c2e3c395f78dabc";

    fn must_config(extra: &str) -> Config {
        let text = format!(
            "environment: production\nmpc_threshold: 2\nbadger_password: pw-0123456789abcdef\n\
             event_initiator_pubkey: \"{ED25519_PUB}\"\nchain_code: \"{}\"\n{extra}",
            "ab".repeat(32)
        );
        Config::from_yaml(&text, Path::new("c.yaml"), &|_| None)
            .unwrap()
            .config
    }

    #[test]
    fn complete_config_validates_for_three_nodes() {
        let s = must_config("").validate_for_node(3).unwrap();
        assert_eq!(s.threshold.signers(), 2);
        assert_eq!(s.environment, Environment::Production);
        assert_eq!(s.chain_code, [0xab; 32]);
        assert_eq!(s.max_concurrent_signing, 20);
        assert_eq!(s.deadlines, Deadlines::DEFAULT);
    }

    #[test]
    fn presignature_settings_are_checked_and_zero_means_off() {
        let s = must_config("presignatures: {hot_wallets: [w1], target_depth: 0}\n")
            .validate_for_node(3)
            .unwrap()
            .presignatures;
        assert_eq!(s.target_depth, 0);
        assert_eq!(s.auto_hot_after, None);
        assert_eq!(s.hot_wallets, ["w1"]);
        let err =
            must_config("presignatures: {target_depth: 5000, auto_hot_after: -1, max_pools: 0}\n")
                .validate_for_node(3)
                .unwrap_err();
        for key in [
            "presignatures.target_depth",
            "presignatures.auto_hot_after",
            "presignatures.max_pools",
        ] {
            assert!(err.issue(key).is_some(), "{key}: {err}");
        }
    }

    #[test]
    fn session_deadlines_come_from_config_and_must_be_positive() {
        let s = must_config("signing_timeout_seconds: 7\naux_info_timeout_seconds: 30\n")
            .validate_for_node(3)
            .unwrap();
        assert_eq!(s.deadlines.signing, Duration::from_secs(7));
        assert_eq!(s.deadlines.aux_info, Duration::from_secs(30));
        assert_eq!(s.deadlines.keygen, Deadlines::DEFAULT.keygen);
        let error = must_config("keygen_timeout_seconds: 0\n")
            .validate_for_node(3)
            .unwrap_err();
        assert!(error.issue("keygen_timeout_seconds").is_some(), "{error}");
    }

    #[test]
    fn the_result_cache_lasts_seven_days_unless_configured() {
        let s = must_config("").validate_for_node(3).unwrap();
        assert_eq!(s.result_cache_ttl, Duration::from_secs(7 * 24 * 3600));
        let s = must_config("result_cache_ttl_seconds: 90\n")
            .validate_for_node(3)
            .unwrap();
        assert_eq!(s.result_cache_ttl, Duration::from_secs(90));
        let error = must_config("result_cache_ttl_seconds: 0\n")
            .validate_for_node(3)
            .unwrap_err();
        assert!(error.issue("result_cache_ttl_seconds").is_some(), "{error}");
    }

    #[test]
    fn short_chain_code_says_how_to_make_one() {
        let mut c = must_config("");
        c.chain_code = "0123456789".into();
        let err = c.validate_for_node(3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "chain_code: expected 64 hex characters (32 bytes), got 10; generate one with \
             `openssl rand -hex 32` and use the same value on every node"
        );
    }

    #[test]
    fn threshold_is_checked_against_the_committee_size() {
        let c = must_config("");
        let err = c.validate_for_node(4).unwrap_err();
        let issue = err.issue("mpc_threshold").unwrap();
        assert!(issue.problem.contains("below a majority"), "{issue}");
        assert!(issue.fix.contains("between 3 and 4"), "{issue}");
        let mut c = must_config("");
        c.mpc_threshold = Some(0);
        assert!(c
            .validate_for_node(3)
            .unwrap_err()
            .issue("mpc_threshold")
            .is_some());
        c.mpc_threshold = Some(3);
        assert!(c.validate_for_node(3).is_ok());
        c.mpc_threshold = Some(4);
        assert!(c.validate_for_node(3).is_err());
    }

    #[test]
    fn unknown_environment_is_named() {
        let mut c = must_config("");
        c.environment = "staging".into();
        let err = c.validate_for_node(3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment: unknown environment \"staging\"; use production or development"
        );
    }

    #[test]
    fn malformed_initiator_key_is_named() {
        let mut c = must_config("");
        c.event_initiator_pubkey = "zz".into();
        let err = c.validate_for_node(3).unwrap_err();
        assert!(err.issue("event_initiator_pubkey").is_some(), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let c = Config::default();
        let err = c.validate_for_node(3).unwrap_err();
        for key in [
            "environment",
            "badger_password",
            "mpc_threshold",
            "event_initiator_pubkey",
            "chain_code",
        ] {
            assert!(err.issue(key).is_some(), "no issue for {key}: {err}");
        }
    }

    #[test]
    fn unreadable_tls_file_is_named() {
        let c = must_config("nats: {tls: {ca_cert: /nonexistent/ca.pem}}\n");
        let err = c.validate_for_node(3).unwrap_err();
        let issue = err.issue("nats.tls.ca_cert").unwrap();
        assert!(issue.problem.contains("/nonexistent/ca.pem"), "{issue}");
    }

    #[test]
    fn required_authorizer_without_a_key_is_named() {
        let c = must_config(&format!(
            "authorization:\n  enabled: true\n  required_authorizers: [bob]\n  \
             authorizer_public_keys:\n    alice: {{public_key: \"{ED25519_PUB}\"}}\n"
        ));
        let err = c.validate_for_node(3).unwrap_err();
        assert!(err.to_string().contains("\"bob\" has no entry"), "{err}");
    }

    #[test]
    fn cli_validation_needs_only_the_registry_address() {
        let c = Config::from_yaml(
            "consul: {address: localhost:8500}",
            Path::new("r.yaml"),
            &|_| None,
        )
        .unwrap()
        .config;
        assert!(c.validate_for_cli().is_ok());
        let mut empty = c.clone();
        empty.consul.address.clear();
        assert!(empty
            .validate_for_cli()
            .unwrap_err()
            .issue("consul.address")
            .is_some());
    }
}
