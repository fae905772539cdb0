//! Connecting to the outside world as configured: the NATS connection (credentials, TLS) and the
//! registry backend. Errors and logs name the NATS server without the credentials a URL may carry.

use std::time::Duration;

pub use mpcium_protocol::nats_url::redact_url;
use mpcium_protocol::nats_url::{redact_credentials, split_credentials, UrlCredentials};

use crate::config::{Config, RegistryKind};
use crate::registry::{
    AnyRegistry, ConsulRegistry, ConsulSettings, NatsKvRegistry, NatsKvSettings,
};

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// NATS could not be reached.
    #[error("Failed to connect to NATS at {url}: {reason}")]
    Nats {
        /// The configured URL, credentials redacted.
        url: String,
        /// Cause, credentials redacted.
        reason: String,
    },
    /// The registry backend could not be set up.
    #[error("{0}")]
    Registry(String),
}

/// Connects to NATS as configured (credentials and TLS when set). Credentials in `nats.url` are
/// used unless `nats.username` is set; they are handed to the client as options, never inside
/// the URL (which it logs).
pub async fn connect_nats(config: &Config) -> Result<async_nats::Client, ConnectError> {
    let nats = &config.nats;
    let failed = |reason: String| ConnectError::Nats {
        url: redact_url(&nats.url),
        reason: redact_credentials(&reason, &nats.url),
    };
    let split = split_credentials(&nats.url).map_err(|e| failed(e.to_string()))?;
    let mut options = async_nats::ConnectOptions::new()
        .name("mpcium")
        .connection_timeout(Duration::from_secs(5))
        .ping_interval(Duration::from_secs(20))
        .max_reconnects(None)
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Disconnected => {
                    tracing::warn!("NATS disconnected; reconnecting")
                }
                async_nats::Event::Connected => tracing::info!("NATS connected"),
                other => tracing::debug!(event = %other, "NATS event"),
            }
        });
    if let (Some(user), Some(password)) = (&nats.username, &nats.password) {
        options = options.user_and_password(user.clone(), password.expose().to_owned());
    } else if let Some(credentials) = split.credentials {
        options = match credentials {
            UrlCredentials::UserPassword { user, password } => {
                options.user_and_password(user, password)
            }
            UrlCredentials::Token(token) => options.token(token),
        };
    }
    if let Some(tls) = &nats.tls {
        if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if let Some(ca) = &tls.ca_cert {
            options = options.add_root_certificates(ca.clone());
        }
        options = options.require_tls(true);
    }
    options
        .connect(split.servers.split(',').map(str::trim).collect::<Vec<_>>())
        .await
        .map_err(|e| failed(e.to_string()))
}

/// Opens the configured registry backend; the NATS backend needs a connected `client`.
pub async fn open_registry(
    config: &Config,
    client: Option<&async_nats::Client>,
) -> Result<AnyRegistry, ConnectError> {
    match config.registry {
        RegistryKind::Consul => {
            let consul = &config.consul;
            let mut settings = ConsulSettings::new(consul.address.clone());
            settings.token = consul.token.as_ref().map(|t| t.expose().to_owned().into());
            settings.username = consul.username.clone();
            settings.password = consul
                .password
                .as_ref()
                .map(|p| p.expose().to_owned().into());
            ConsulRegistry::new(settings)
                .map(AnyRegistry::Consul)
                .map_err(|e| {
                    ConnectError::Registry(format!("Failed to load peers from Consul: {e}"))
                })
        }
        RegistryKind::Nats => {
            let client = client.ok_or_else(|| {
                ConnectError::Registry("the nats registry needs a NATS connection".into())
            })?;
            let settings = NatsKvSettings {
                results_max_age: config.result_cache_ttl(),
                ..NatsKvSettings::default()
            };
            NatsKvRegistry::open(client.clone(), &settings)
                .await
                .map(AnyRegistry::Nats)
                .map_err(|e| ConnectError::Registry(e.to_string()))
        }
    }
}
