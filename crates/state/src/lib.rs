//! What an mpcium node keeps and how it is configured: the typed `config.yaml`, identity files,
//! the encrypted share store, encrypted backups, the peer registry (Consul or NATS KV), and
//! connecting to NATS and the registry as configured.
//!
//! Shared by the daemon (`mpcium-node`) and the operator tool (`mpcium-cli`); it knows nothing of
//! sessions or threshold protocols, so the CLI never links the engine.

pub mod backup;
pub mod config;
pub mod connect;
pub mod identity;
pub mod registry;
pub mod store;
