//! Test support for mpcium, kept out of the product crates:
//!
//! * [`NatsServer`] starts the real `nats-server` binary (JetStream on, OS-assigned loopback port,
//!   store in a temp dir) and kills it on drop;
//! * [`FakeConsul`] is an in-process HTTP server implementing the subset of Consul's KV API the
//!   node uses, because no Consul binary can be installed where these tests run.

mod fake_consul;
mod nats_server;

pub use fake_consul::{FakeConsul, FakeConsulAuth};
pub use nats_server::{NatsServer, NatsServerError};
