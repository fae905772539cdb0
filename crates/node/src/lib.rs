//! The `mpcium` node: configuration, identities, storage, registry, transport, sessions,
//! request consumers, health and metrics. The binary in `main.rs` only wires these together.

pub mod config;
pub mod identity;
pub mod registry;
pub mod session;
pub mod store;
pub mod transport;
