//! Test support for mpcium, kept out of the product crates:
//!
//! * [`NatsServer`] starts the real `nats-server` binary (JetStream on, OS-assigned loopback port,
//!   store in a temp dir) and kills it on drop;
//! * [`FakeConsul`] is an in-process HTTP server implementing the subset of Consul's KV API the
//!   node uses, because no Consul binary can be installed where these tests run;
//! * [`metric_names`] finds the node's metric names in monitoring files and PromQL.

mod fake_consul;
mod nats_server;

pub use fake_consul::{FakeConsul, FakeConsulAuth};
pub use nats_server::{NatsServer, NatsServerError};

/// Every `mpcium_…` identifier in `text` (a PromQL expression, an alert file, a dashboard), in
/// order of appearance; `x_mpcium_…` and other longer identifiers are not matched.
pub fn metric_names(text: &str) -> Vec<String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("mpcium_") {
        let preceded_by_name = rest[..at].chars().next_back().is_some_and(is_name_char);
        let tail = &rest[at..];
        let end = tail.find(|c: char| !is_name_char(c)).unwrap_or(tail.len());
        if !preceded_by_name {
            names.push(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}
