//! One module per group of commands.

pub mod backup;
pub mod benchmark;
pub mod identity;
pub mod import;
pub mod initiator;
pub mod peers;
