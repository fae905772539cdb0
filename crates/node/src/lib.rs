//! The `mpcium` node: configuration, identities, storage, registry, transport, sessions,
//! request consumers, health and metrics. The binary in `main.rs` only wires these together.

pub mod aux;
pub mod backup;
pub mod config;
pub mod context;
pub mod control;
pub mod coordinator;
pub mod cpu;
pub mod health;
pub mod identity;
pub mod jetstream;
pub mod keys;
pub mod metrics;
pub mod participant;
pub mod registry;
pub mod reshare;
pub mod runtime;
pub mod session;
pub mod store;
pub mod transport;
