//! The `mpcium` daemon. What a node keeps and how it is configured lives in `mpcium-state`; the
//! threshold engines in `mpcium-tss`. Inside the daemon data flows one way:
//!
//! ```text
//! request (ingress) → ops (what to run) → session (running it) → transport (envelopes on NATS)
//! transport → inbound → ops::handle_start / session router → session::io → tss → ops::wallet
//! ```
//!
//! [`runtime`] wires it together; [`context`] is what the tasks share; [`error`] is the one error
//! type and its mapping to wire codes; [`results`] the cluster-wide result cache; [`health`] and
//! [`metrics`] the operations endpoints.

pub mod background;
pub mod context;
pub mod error;
pub mod health;
pub mod idle_cpu;
pub mod inbound;
pub mod log_limit;
pub mod metrics;
pub mod ops;
pub mod request;
pub mod results;
pub mod runtime;
pub mod session;
#[cfg(test)]
mod test_support;
pub mod transport;
