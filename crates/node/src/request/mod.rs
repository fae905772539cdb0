//! Ingress, the top of the node: client requests from JetStream (and the reference's core-NATS
//! resharing subject) in, exactly one published result out per request.
//!
//! * [`consumer`] — the consumer loops and the ack policy: ack after the result is published,
//!   `Nak` with a delay when it could not be, `Term` for input that names no request, progress
//!   while a request runs;
//! * [`answer`] — decoding, authentication, the operation's coordinator under its reservation,
//!   and the result event (errors included) as a [`answer::Reply`];
//! * [`reserve`] — exactly once: the request id's reservation (wait for, or take over, another
//!   node's), and the participants' check of it;
//! * [`streams`] — the request and result streams, the durable consumers, publishing results.

pub mod answer;
pub mod consumer;
pub mod reserve;
pub mod streams;
