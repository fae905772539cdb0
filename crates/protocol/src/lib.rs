//! The client-facing contract of an mpcium cluster: request and result messages, error codes,
//! NATS stream/subject/consumer/header names, the canonical bytes an event initiator signs, and
//! initiator/authorizer signature verification.
//!
//! Everything here is byte-compatible with the Go reference (fystack/mpcium v0.3.5) so that its
//! clients work unchanged; extensions are additive and documented in `docs/protocol.md`.
//! This crate does no I/O.

pub mod threshold;

pub use threshold::{Threshold, ThresholdError};
