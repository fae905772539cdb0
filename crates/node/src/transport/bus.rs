//! The NATS side of the node-to-node transport: one subject per node (`mpcium.p2p.<nodeID>`),
//! sealed envelopes out, verified envelopes in, handed to the session [`Router`].
//!
//! A node subscribes to its own subject once, before it declares itself ready, so peers never
//! publish into the void; there is no request/reply round trip per protocol message.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::envelope::{self, Header, Opened};
use super::keys::KeyRing;
use crate::session::router::{Routed, Router};
use crate::session::wire::START;

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

/// Sends sealed envelopes to peers. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Bus {
    client: async_nats::Client,
    keys: Arc<KeyRing>,
}

impl Bus {
    /// Subscribes to this node's subject and starts routing what arrives: session-start orders
    /// to `starts`, everything else into `router`. The returned task ends when the subscription
    /// closes; the caller owns it.
    pub async fn start(
        client: async_nats::Client,
        keys: Arc<KeyRing>,
        router: Router,
        starts: mpsc::Sender<Opened>,
    ) -> Result<(Self, JoinHandle<()>), BusError> {
        let subject = node_subject(keys.local().node_id());
        let mut subscriber =
            client
                .subscribe(subject.clone())
                .await
                .map_err(|e| BusError::Subscribe {
                    subject,
                    reason: e.to_string(),
                })?;
        let receive_keys = keys.clone();
        let task = tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                receive(&receive_keys, &router, &starts, &message.payload);
            }
        });
        Ok((Self { client, keys }, task))
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

fn receive(keys: &KeyRing, router: &Router, starts: &mpsc::Sender<Opened>, bytes: &[u8]) {
    let opened = match envelope::open(keys, bytes) {
        Ok(opened) => opened,
        Err(error) => {
            tracing::warn!(%error, "dropped node message");
            return;
        }
    };
    let from = opened.header.from.clone();
    if opened.header.channel == START {
        if starts.try_send(opened).is_err() {
            tracing::warn!(%from, "dropped session start: too many sessions are starting at once");
        }
        return;
    }
    let round = opened.header.round;
    match router.route(opened, Instant::now()) {
        Routed::Delivered | Routed::Buffered => {}
        Routed::LateForFinishedSession => {
            tracing::debug!(%from, round, "dropped late message for a finished session")
        }
        outcome => tracing::warn!(%from, round, ?outcome, "dropped node message"),
    }
}
