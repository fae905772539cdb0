//! Sessions: the lifetime of one threshold-protocol execution on this node — message routing,
//! early-message buffering, replay protection, and the glue to the `tss` protocols.

pub mod router;
pub mod wire;
