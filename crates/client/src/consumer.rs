//! JetStream set-up and the result consumers: the streams a client needs (created only when
//! absent, with the settings nodes use), one durable pull consumer per result kind scoped by
//! client ID, and the background task that decodes, dispatches and acknowledges each result.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream, AckKind};
use futures::StreamExt as _;
use mpcium_protocol::subjects::{self, ResultKind};
use mpcium_protocol::{ClientId, KeygenResultEvent, ResharingResultEvent, SigningResultEvent};

use crate::dispatch::{Dispatcher, ResultEvent};
use crate::error::ConnectError;

/// Extension stream for durable resharing requests (mpcium-rs; the reference only has core
/// `mpc:reshare`).
pub const RESHARE_STREAM: &str = "mpc-reshare";
/// Subjects of [`RESHARE_STREAM`].
pub const RESHARE_REQUEST_SUBJECTS: &str = "mpc.reshare_request.*";
/// Durable consumer the nodes share on [`RESHARE_STREAM`].
pub const RESHARE_CONSUMER: &str = "mpc_reshare_consumer";

/// Subject a client publishes a durable resharing request to.
pub fn reshare_request_subject(session_id: &str) -> String {
    format!("mpc.reshare_request.{session_id}")
}

/// Request streams keep requests for a week (reference `MaxAge`).
const REQUEST_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Every stream is capped at 100 MB (reference `MaxBytes`).
const STREAM_MAX_BYTES: i64 = 100 * 1024 * 1024;
/// Result consumer settings from the reference (spec §3.2).
const RESULT_ACK_WAIT: Duration = Duration::from_secs(30);
const RESULT_MAX_DELIVER: i64 = 3;
const RESULT_MAX_ACK_PENDING: i64 = 1000;
/// Pause before re-opening a consumer's message stream after it failed, so a broken server
/// does not make the task spin.
const REOPEN_BACKOFF: Duration = Duration::from_millis(500);

/// Creates the request streams and the result stream unless they exist. Existing streams (for
/// example created by the nodes or a reference client) are used as they are.
pub(crate) async fn ensure_streams(js: &jetstream::Context) -> Result<(), ConnectError> {
    for (name, subject) in [
        (subjects::KEYGEN_STREAM, subjects::KEYGEN_REQUEST_SUBJECTS),
        (subjects::SIGNING_STREAM, subjects::SIGNING_REQUEST_SUBJECTS),
        (RESHARE_STREAM, RESHARE_REQUEST_SUBJECTS),
    ] {
        get_or_create(
            js,
            stream::Config {
                name: name.to_owned(),
                subjects: vec![subject.to_owned()],
                max_age: REQUEST_MAX_AGE,
                max_bytes: STREAM_MAX_BYTES,
                storage: stream::StorageType::File,
                ..Default::default()
            },
        )
        .await?;
    }
    get_or_create(
        js,
        stream::Config {
            name: subjects::RESULT_STREAM.to_owned(),
            subjects: subjects::RESULT_STREAM_SUBJECTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            retention: stream::RetentionPolicy::WorkQueue,
            max_bytes: STREAM_MAX_BYTES,
            storage: stream::StorageType::File,
            ..Default::default()
        },
    )
    .await
}

async fn get_or_create(
    js: &jetstream::Context,
    config: stream::Config,
) -> Result<(), ConnectError> {
    let name = config.name.clone();
    js.get_or_create_stream(config)
        .await
        .map(|_| ())
        .map_err(|e| ConnectError::Stream {
            stream: name,
            reason: e.to_string(),
        })
}

/// The durable result consumer of `kind` for `client`.
pub(crate) async fn result_consumer(
    js: &jetstream::Context,
    kind: ResultKind,
    client: Option<&ClientId>,
) -> Result<consumer::PullConsumer, ConnectError> {
    let name = kind.consumer_name(client);
    let consumer_error = |reason: String| ConnectError::Consumer {
        consumer: name.clone(),
        reason,
    };
    let stream = js
        .get_stream(subjects::RESULT_STREAM)
        .await
        .map_err(|e| consumer_error(e.to_string()))?;
    stream
        .get_or_create_consumer(
            &name,
            consumer::pull::Config {
                durable_name: Some(name.clone()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: RESULT_ACK_WAIT,
                max_deliver: RESULT_MAX_DELIVER,
                max_ack_pending: RESULT_MAX_ACK_PENDING,
                filter_subject: kind.filter_subject(client),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| consumer_error(e.to_string()))
}

/// Decodes one result message. Keygen and reshare results are keyed by the last subject token
/// (the wallet / session ID the nodes addressed), signing results by their `tx_id`.
fn decode(kind: ResultKind, subject: &str, payload: &[u8]) -> Option<ResultEvent> {
    let last_token = subject.rsplit('.').next().unwrap_or_default().to_owned();
    match kind {
        ResultKind::Keygen => KeygenResultEvent::from_json(payload).ok().map(|mut event| {
            if event.wallet_id.is_empty() {
                event.wallet_id = last_token;
            }
            ResultEvent::Keygen(event)
        }),
        ResultKind::Signing => SigningResultEvent::from_json(payload)
            .ok()
            .map(ResultEvent::Signing),
        ResultKind::Reshare => {
            ResharingResultEvent::from_json(payload)
                .ok()
                .map(|event| ResultEvent::Reshare {
                    session_id: last_token,
                    event,
                })
        }
    }
}

/// Consumes results of one kind forever: dispatch, then ack; an undecodable result is
/// terminated (it would never decode on redelivery). Runs until aborted.
pub(crate) async fn run(
    consumer: consumer::PullConsumer,
    kind: ResultKind,
    dispatcher: Arc<Dispatcher>,
) {
    loop {
        let mut messages = match consumer.messages().await {
            Ok(messages) => messages,
            Err(_) => {
                tokio::time::sleep(REOPEN_BACKOFF).await;
                continue;
            }
        };
        while let Some(item) = messages.next().await {
            // Errors on the stream (missed heartbeats during a reconnect, ...) are transient:
            // the stream keeps pulling.
            let Ok(message) = item else { continue };
            let ack = match decode(kind, message.subject.as_str(), &message.payload) {
                Some(event) => {
                    dispatcher.dispatch(event);
                    AckKind::Ack
                }
                None => AckKind::Term,
            };
            // A lost ack means redelivery (at most `RESULT_MAX_DELIVER` times); waiters already
            // got the result and the stream subscribers see it again, which is harmless.
            let _ = message.ack_with(ack).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshare_results_take_their_session_from_the_subject() {
        let payload =
            ResharingResultEvent::success("w1", 2, mpcium_protocol::KeyType::Ed25519, vec![1; 32])
                .to_json();
        let event = decode(
            ResultKind::Reshare,
            "mpc.mpc_reshare_result.c1.s-9",
            &payload,
        );
        assert!(
            matches!(event, Some(ResultEvent::Reshare { ref session_id, .. }) if session_id == "s-9")
        );
    }

    #[test]
    fn a_keygen_error_without_wallet_id_is_keyed_by_its_subject() {
        let payload = br#"{"result_type":"error","error_code":"ERROR_UNMARSHAL_FAILURE"}"#;
        let event = decode(ResultKind::Keygen, "mpc.mpc_keygen_result.w7", payload).unwrap();
        assert_eq!(event.id(), "w7");
    }

    #[test]
    fn undecodable_results_are_refused() {
        assert_eq!(
            decode(ResultKind::Signing, "mpc.mpc_signing_result.complete", b"{"),
            None
        );
    }
}
