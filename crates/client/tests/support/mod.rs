//! Shared fixtures for the client's integration tests.

pub mod fake_node;
