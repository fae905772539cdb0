//! The NATS side of the node-to-node transport: one subject per node (`mpcium.p2p.<nodeID>`),
//! sealed envelopes out, verified envelopes in as a bounded stream ([`Inbound`]).
//!
//! A node subscribes to its own subject once, before it declares itself ready, so peers never
//! publish into the void; there is no request/reply round trip per protocol message. Envelopes
//! that fail verification are dropped here and logged with the claimed sender.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::envelope::{self, EnvelopeError, Header, Opened};
use super::keys::KeyRing;
use crate::metrics::Dropped;

/// How many verified envelopes wait for the node to route them before the receiver stops reading
/// from NATS (the NATS client buffers further messages, within its own bound).
pub const INBOUND_CAPACITY: usize = 4096;

/// Subject on which `node_id` receives its envelopes.
pub fn node_subject(node_id: &str) -> String {
    format!("mpcium.p2p.{node_id}")
}

/// Why sending failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The envelope could not be sealed (unknown recipient or oversized payload).
    #[error("cannot seal message for {to}: {source}")]
    Seal {
        /// Intended recipient.
        to: String,
        /// Cause.
        source: envelope::EnvelopeError,
    },
    /// NATS did not accept the message.
    #[error("failed to publish to {to}: {reason}")]
    Publish {
        /// Intended recipient.
        to: String,
        /// Cause, from the NATS client.
        reason: String,
    },
    /// Subscribing to this node's subject failed.
    #[error("failed to subscribe to {subject}: {reason}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// Cause, from the NATS client.
        reason: String,
    },
}

/// Verified envelopes addressed to this node, in arrival order. Ends when the subscription does.
pub type Inbound = mpsc::Receiver<Opened>;

/// Sends sealed envelopes to peers. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Bus {
    client: async_nats::Client,
    keys: Arc<KeyRing>,
}

impl Bus {
    /// Subscribes to this node's subject and starts verifying what arrives. Returns the bus, the
    /// stream of verified envelopes and the receiving task (owned by the caller; it ends when the
    /// subscription closes or the stream is dropped).
    pub async fn start(
        client: async_nats::Client,
        keys: Arc<KeyRing>,
    ) -> Result<(Self, Inbound, JoinHandle<()>), BusError> {
        let subject = node_subject(keys.local().node_id());
        let mut subscriber =
            client
                .subscribe(subject.clone())
                .await
                .map_err(|e| BusError::Subscribe {
                    subject,
                    reason: e.to_string(),
                })?;
        let (tx, rx) = mpsc::channel(INBOUND_CAPACITY);
        let receive_keys = keys.clone();
        let task = tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                match envelope::open(&receive_keys, &message.payload) {
                    Ok(opened) => {
                        if tx.send(opened).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        crate::metrics::message_dropped(dropped_reason(&error));
                        if crate::log_limit::DROPPED.allow() {
                            tracing::warn!(%error, "dropped node message");
                        }
                    }
                }
            }
        });
        Ok((Self { client, keys }, rx, task))
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        self.keys.local().node_id()
    }

    /// Seals `payload` for `header.to` and publishes it.
    pub async fn send(&self, header: &Header, payload: &[u8]) -> Result<(), BusError> {
        let sealed =
            envelope::seal(&self.keys, header, payload).map_err(|source| BusError::Seal {
                to: header.to.clone(),
                source,
            })?;
        self.client
            .publish(node_subject(&header.to), Bytes::from(sealed))
            .await
            .map_err(|e| BusError::Publish {
                to: header.to.clone(),
                reason: e.to_string(),
            })
    }
}

/// How a rejected envelope is counted.
fn dropped_reason(error: &EnvelopeError) -> Dropped {
    match error {
        EnvelopeError::Malformed(_) | EnvelopeError::Version(_) => Dropped::Malformed,
        EnvelopeError::NotForUs { .. } => Dropped::NotForUs,
        EnvelopeError::UnknownSender { .. } => Dropped::UnknownSender,
        EnvelopeError::BadSignature { .. } => Dropped::BadSignature,
        EnvelopeError::Undecryptable { .. } => Dropped::Undecryptable,
        EnvelopeError::TooLarge => Dropped::TooLarge,
    }
}
