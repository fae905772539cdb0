//! Connecting to the outside world as configured: the NATS connection (credentials, TLS) and the
//! registry backend. Errors and logs name the NATS server without the credentials a URL may carry.

use std::time::Duration;

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

/// Connects to NATS as configured (credentials and TLS when set).
pub async fn connect_nats(config: &Config) -> Result<async_nats::Client, ConnectError> {
    let nats = &config.nats;
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
        .connect(nats.url.as_str())
        .await
        .map_err(|e| ConnectError::Nats {
            url: redact_url(&nats.url),
            reason: redact_credentials(&e.to_string(), &nats.url),
        })
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

/// `url` with any `user:password@` (or `token@`) part replaced, for logs and errors. Handles a
/// comma-separated server list.
pub fn redact_url(url: &str) -> String {
    url.split(',').map(redact_one).collect::<Vec<_>>().join(",")
}

fn redact_one(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => (&url[..at + 3], &url[at + 3..]),
        None => ("", url),
    };
    // The authority ends at the first '/', '?' or '#'; credentials end at its last '@'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}<redacted>@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// `text` with every credential part of the configured `url` replaced: a client library's error
/// may quote the URL it was given.
fn redact_credentials(text: &str, url: &str) -> String {
    let mut out = text.to_owned();
    for server in url.split(',') {
        let rest = server.split_once("://").map_or(server, |(_, r)| r);
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            let credentials = &rest[..at];
            if !credentials.is_empty() {
                out = out.replace(credentials, "<redacted>");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_nats_url_never_reach_the_logs() {
        assert_eq!(
            redact_url("nats://user:s3cret@nats:4222"),
            "nats://<redacted>@nats:4222"
        );
        assert_eq!(redact_url("nats://nats:4222"), "nats://nats:4222");
        assert_eq!(redact_url("tok3n@nats:4222"), "<redacted>@nats:4222");
        assert_eq!(
            redact_url("nats://a:p1@n1:4222,nats://b:p2@n2:4222"),
            "nats://<redacted>@n1:4222,nats://<redacted>@n2:4222"
        );
    }

    #[test]
    fn a_client_error_quoting_the_url_loses_its_credentials() {
        let text = redact_credentials(
            "failed to connect to nats://user:s3cret@nats:4222: refused",
            "nats://user:s3cret@nats:4222",
        );
        assert!(!text.contains("s3cret"), "{text}");
        assert!(!text.contains("user:"), "{text}");
    }
}
