//! Credentials in the configured NATS URL: used to authenticate, never shown in an error, a
//! `Debug` print or the URL the client library gets (and logs). Real nats-server.

use mpcium_state::config::Config;
use mpcium_state::connect::connect_nats;
use mpcium_testkit::NatsServer;

fn config_with_url(url: String) -> Config {
    let mut config = Config::default();
    config.nats.url = url;
    config
}

fn with_credentials(server_url: &str, credentials: &str) -> String {
    server_url.replacen("nats://", &format!("nats://{credentials}@"), 1)
}

#[tokio::test]
async fn credentials_in_the_url_authenticate() {
    let server = NatsServer::start_with_user("alice", "s3cret-pw").unwrap();
    let config = config_with_url(with_credentials(server.url(), "alice:s3cret-pw"));
    let client = connect_nats(&config).await.unwrap();
    client.flush().await.unwrap();
}

#[tokio::test]
async fn a_refused_login_never_shows_the_password() {
    let server = NatsServer::start_with_user("alice", "right-pw").unwrap();
    let config = config_with_url(with_credentials(server.url(), "alice:wr%6Fng-secret"));
    let error = connect_nats(&config).await.unwrap_err();
    let shown = format!("{error} {error:?} {config:?}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(!shown.contains("wrong-"), "{shown}");
    assert!(shown.contains("<redacted>@127.0.0.1"), "{shown}");
}

#[tokio::test]
async fn an_unreachable_server_never_shows_the_password_or_token() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for credentials in ["user:secret", "secret-token"] {
        let config = config_with_url(format!("nats://{credentials}@127.0.0.1:{port}"));
        let error = connect_nats(&config).await.unwrap_err();
        let shown = format!("{error} {error:?} {config:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
