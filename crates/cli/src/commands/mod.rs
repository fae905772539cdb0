//! One module per group of commands.

pub mod identity;
pub mod initiator;
pub mod peers;
