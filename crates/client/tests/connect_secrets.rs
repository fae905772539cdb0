//! Credentials in a NATS URL given to the client: they authenticate, and never show in a connect
//! error or a `Debug` print of the options. Real nats-server.

use std::sync::Arc;

use mpcium_client::{Client, ClientOptions, LocalSigner, Nats};
use mpcium_testkit::NatsServer;

fn options(url: String) -> ClientOptions {
    ClientOptions::new(
        Nats::Url(url),
        Arc::new(LocalSigner::ed25519_from_seed(&[1; 32])),
    )
}

fn with_credentials(server_url: &str, credentials: &str) -> String {
    server_url.replacen("nats://", &format!("nats://{credentials}@"), 1)
}

#[tokio::test]
async fn credentials_in_the_url_authenticate_and_stay_out_of_debug() {
    let server = NatsServer::start_with_user("alice", "s3cret-pw").unwrap();
    let options = options(with_credentials(server.url(), "alice:s3cret-pw"));
    let shown = format!("{options:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    let client = Client::connect(options).await.unwrap();
    assert!(!format!("{client:?}").contains("s3cret"));
}

#[tokio::test]
async fn a_refused_or_failed_connect_never_shows_the_secret() {
    let server = NatsServer::start_with_user("alice", "right-pw").unwrap();
    let refused = with_credentials(server.url(), "alice:wrong-secret");
    let unreachable = "nats://user:secret@127.0.0.1:1,nats://user:secret@127.0.0.1:2".to_owned();
    for url in [
        refused,
        unreachable,
        "nats://secret-token@127.0.0.1:1".to_owned(),
    ] {
        let error = Client::connect(options(url)).await.unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("<redacted>@127.0.0.1"), "{shown}");
    }
}
