//! The two registry backends the contract tests run against, and the `contract!` macro that runs
//! each case on both: the Consul backend on the in-repo fake Consul (no Consul binary can be
//! installed here) and the NATS KV backend on a real nats-server.

use mpcium_state::registry::{
    AnyRegistry, ConsulRegistry, ConsulSettings, NatsKvRegistry, NatsKvSettings,
};
use mpcium_testkit::{FakeConsul, NatsServer};

/// Keeps the backing server alive for the test.
pub type Guard = Box<dyn std::any::Any>;

/// A registry on a fresh fake Consul.
pub async fn must_consul() -> (Guard, AnyRegistry) {
    let fake = FakeConsul::must_start().await;
    let registry = ConsulRegistry::new(ConsulSettings::new(fake.address())).unwrap();
    (Box::new(fake), AnyRegistry::Consul(registry))
}

/// A registry on a fresh nats-server.
pub async fn must_nats() -> (Guard, AnyRegistry) {
    let server = NatsServer::must_start();
    let client = async_nats::connect(server.url()).await.unwrap();
    let registry = NatsKvRegistry::open(client, &NatsKvSettings::default())
        .await
        .unwrap();
    (Box::new(server), AnyRegistry::Nats(registry))
}

/// Runs each `async fn case(&AnyRegistry)` of the calling file as a test on both backends
/// (modules `consul` and `nats`).
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod consul {
            $(
                #[tokio::test]
                async fn $case() {
                    let (_guard, registry) = $crate::backends::must_consul().await;
                    super::$case(&registry).await;
                }
            )*
        }
        mod nats {
            $(
                #[tokio::test]
                async fn $case() {
                    let (_guard, registry) = $crate::backends::must_nats().await;
                    super::$case(&registry).await;
                }
            )*
        }
    };
}
