//! A stand-in for an mpcium cluster in client tests: consumes the request streams (and core
//! `mpc:reshare`) like a node, verifies the initiator (and authorizer) signatures with the
//! protocol crate, reports every request it saw, and publishes results to the client-scoped
//! subjects.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::StreamExt as _;
use mpcium_client::{RESHARE_CONSUMER, RESHARE_REQUEST_SUBJECTS, RESHARE_STREAM};
use mpcium_protocol::subjects::{self, result_msg_id, ResultKind};
use mpcium_protocol::{
    Authorizers, ClientId, ErrorCode, GenerateKeyMessage, InitiatorMessage, KeyType,
    KeygenResultEvent, PublicKey, ResharingMessage, ResharingResultEvent, SignTxMessage,
    SigningResultEvent,
};
use tokio::sync::mpsc;

/// A request the fake node received.
#[derive(Debug, Clone)]
pub enum Seen {
    Keygen(GenerateKeyMessage, Option<ClientId>),
    Sign(SignTxMessage, Option<ClientId>),
    Reshare(ResharingMessage, Option<ClientId>, bool),
}

/// Wallet ID for which keygen answers `ERROR_KEY_ALREADY_EXISTS`.
pub const EXISTING_WALLET: &str = "existing-wallet";
/// Wallet ID for which signing answers `ERROR_KEY_NOT_FOUND`.
pub const MISSING_WALLET: &str = "missing-wallet";

pub struct FakeNode {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub seen: mpsc::UnboundedReceiver<Seen>,
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[derive(Clone)]
struct Node {
    js: jetstream::Context,
    initiator: PublicKey,
    authorizers: Option<Authorizers>,
    seen: mpsc::UnboundedSender<Seen>,
}

impl FakeNode {
    /// Starts consuming; the streams must exist (a client connected first).
    pub async fn must_start(
        url: &str,
        initiator: PublicKey,
        authorizers: Option<Authorizers>,
    ) -> FakeNode {
        let nats = async_nats::connect(url).await.unwrap();
        let js = jetstream::new(nats.clone());
        let (tx, seen) = mpsc::unbounded_channel();
        let node = Node {
            js: js.clone(),
            initiator,
            authorizers,
            seen: tx,
        };
        let mut tasks = Vec::new();
        for (stream, durable, filter) in [
            (
                subjects::KEYGEN_STREAM,
                subjects::KEYGEN_CONSUMER,
                subjects::KEYGEN_REQUEST_SUBJECTS,
            ),
            (
                subjects::SIGNING_STREAM,
                subjects::SIGNING_CONSUMER,
                subjects::SIGNING_REQUEST_SUBJECTS,
            ),
            (RESHARE_STREAM, RESHARE_CONSUMER, RESHARE_REQUEST_SUBJECTS),
        ] {
            let consumer = js
                .get_stream(stream)
                .await
                .unwrap()
                .get_or_create_consumer(
                    durable,
                    consumer::pull::Config {
                        durable_name: Some(durable.to_owned()),
                        ack_policy: consumer::AckPolicy::Explicit,
                        ack_wait: Duration::from_secs(30),
                        filter_subject: filter.to_owned(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let node = node.clone();
            tasks.push(tokio::spawn(async move {
                let mut messages = consumer.messages().await.unwrap();
                while let Some(Ok(message)) = messages.next().await {
                    let client = client_id(message.headers.as_ref());
                    node.handle(stream, &message.payload, client).await;
                    message.ack().await.unwrap();
                }
            }));
        }
        let mut core = nats.subscribe(subjects::RESHARE_SUBJECT).await.unwrap();
        nats.flush().await.unwrap();
        let core_node = node.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(message) = core.next().await {
                let client = client_id(message.headers.as_ref());
                core_node
                    .handle(subjects::RESHARE_SUBJECT, &message.payload, client)
                    .await;
            }
        }));
        FakeNode { tasks, seen }
    }

    /// The next request the node saw, within a deadline.
    pub async fn must_see(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(10), self.seen.recv())
            .await
            .expect("the fake node saw no request within 10 s")
            .expect("the fake node stopped")
    }
}

fn client_id(headers: Option<&async_nats::HeaderMap>) -> Option<ClientId> {
    let value = headers?.get(subjects::CLIENT_ID_HEADER)?;
    ClientId::from_header(value.as_str()).unwrap()
}

impl Node {
    fn check(&self, msg: &impl InitiatorMessage) -> Option<(ErrorCode, String)> {
        if let Err(e) = self.initiator.verify_request(msg) {
            return Some((e.error_code(), e.to_string()));
        }
        if let Some(authorizers) = &self.authorizers {
            if let Err(e) = authorizers.verify(msg) {
                return Some((e.error_code(), e.to_string()));
            }
        }
        None
    }

    async fn handle(&self, source: &str, payload: &[u8], client: Option<ClientId>) {
        let c = client.as_ref();
        match source {
            subjects::KEYGEN_STREAM => {
                let msg = GenerateKeyMessage::from_json(payload).unwrap();
                let id = msg.wallet_id.clone();
                let result = match self.check(&msg) {
                    Some((code, reason)) => KeygenResultEvent::failure(&id, code, reason),
                    None if id == EXISTING_WALLET => KeygenResultEvent::failure(
                        &id,
                        ErrorCode::KeyAlreadyExists,
                        "wallet already exists",
                    ),
                    None => KeygenResultEvent::success(&id, vec![4; 64], vec![5; 32]),
                };
                self.seen.send(Seen::Keygen(msg, client.clone())).unwrap();
                self.publish(ResultKind::Keygen, c, &id, result.to_json())
                    .await;
            }
            subjects::SIGNING_STREAM => {
                let msg = SignTxMessage::from_json(payload).unwrap();
                let (w, t, n) = (&msg.wallet_id, &msg.tx_id, &msg.network_internal_code);
                let result = match self.check(&msg) {
                    Some((code, reason)) => {
                        SigningResultEvent::failure(n, w, t, code, reason, false)
                    }
                    None if w == MISSING_WALLET => SigningResultEvent::failure(
                        n,
                        w,
                        t,
                        ErrorCode::KeyNotFound,
                        "no key for this wallet",
                        false,
                    ),
                    None if msg.key_type == KeyType::Secp256k1 => {
                        SigningResultEvent::ecdsa_success(n, w, t, vec![1; 32], vec![2; 32], 1)
                    }
                    None => SigningResultEvent::eddsa_success(n, w, t, vec![3; 64]),
                };
                let id = msg.tx_id.clone();
                self.seen.send(Seen::Sign(msg, client.clone())).unwrap();
                self.publish(ResultKind::Signing, c, &id, result.to_json())
                    .await;
            }
            _ => {
                let msg = ResharingMessage::from_json(payload).unwrap();
                let result = match self.check(&msg) {
                    Some((code, reason)) => ResharingResultEvent::failure(
                        &msg.wallet_id,
                        msg.new_threshold,
                        Some(msg.key_type),
                        code,
                        reason,
                    ),
                    None => ResharingResultEvent::success(
                        &msg.wallet_id,
                        msg.new_threshold,
                        msg.key_type,
                        vec![6; 32],
                    ),
                };
                let id = msg.session_id.clone();
                let core = source == subjects::RESHARE_SUBJECT;
                self.seen
                    .send(Seen::Reshare(msg, client.clone(), core))
                    .unwrap();
                self.publish(ResultKind::Reshare, c, &id, result.to_json())
                    .await;
            }
        }
    }

    async fn publish(&self, kind: ResultKind, client: Option<&ClientId>, id: &str, body: Vec<u8>) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            subjects::MSG_ID_HEADER,
            result_msg_id(kind, client, id, None).as_str(),
        );
        self.js
            .publish_with_headers(kind.subject(client, id), headers, body.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
}
