//! Sessions: the lifetime of one threshold-protocol execution on this node — message routing,
//! early-message buffering, replay protection and deadlines.

pub mod router;
