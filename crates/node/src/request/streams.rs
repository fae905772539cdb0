//! JetStream plumbing for the client contract: the request and result streams with the
//! reference's names and settings, the shared durable request consumers, and result publishing
//! with the `Nats-Msg-Id` idempotency key.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use async_nats::HeaderMap;
use mpcium_protocol::subjects::{self, MSG_ID_HEADER};

/// Extension stream for durable resharing requests (the reference only has core `mpc:reshare`).
pub const RESHARE_STREAM: &str = "mpc-reshare";
/// Subjects of [`RESHARE_STREAM`].
pub const RESHARE_REQUEST_SUBJECTS: &str = "mpc.reshare_request.*";
/// Durable consumer the nodes share on [`RESHARE_STREAM`].
pub const RESHARE_CONSUMER: &str = "mpc_reshare_consumer";

const REQUEST_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
const STREAM_MAX_BYTES: i64 = 100 * 1024 * 1024;

/// A JetStream operation that failed, with the stream or subject it concerned.
#[derive(Debug, thiserror::Error)]
#[error("jetstream {what} failed: {reason}")]
pub struct JetStreamError {
    what: String,
    reason: String,
}

impl JetStreamError {
    pub(crate) fn new(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// Creates the request streams and the result stream if they do not exist yet. Existing streams
/// (for example created first by a reference client) are used as they are.
pub async fn ensure_streams(js: &jetstream::Context) -> Result<(), JetStreamError> {
    for (name, subject) in [
        (subjects::KEYGEN_STREAM, subjects::KEYGEN_REQUEST_SUBJECTS),
        (subjects::SIGNING_STREAM, subjects::SIGNING_REQUEST_SUBJECTS),
        (RESHARE_STREAM, RESHARE_REQUEST_SUBJECTS),
    ] {
        ensure_request_stream(js, name, subject).await?;
    }
    js.get_or_create_stream(stream::Config {
        name: subjects::RESULT_STREAM.to_owned(),
        subjects: subjects::RESULT_STREAM_SUBJECTS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        retention: stream::RetentionPolicy::WorkQueue,
        max_bytes: STREAM_MAX_BYTES,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| JetStreamError::new(format!("create stream {}", subjects::RESULT_STREAM), e))?;
    Ok(())
}

/// Creates request stream `name` over `subject` with the reference's settings unless it exists.
pub async fn ensure_request_stream(
    js: &jetstream::Context,
    name: &str,
    subject: &str,
) -> Result<(), JetStreamError> {
    js.get_or_create_stream(stream::Config {
        name: name.to_owned(),
        subjects: vec![subject.to_owned()],
        max_age: REQUEST_MAX_AGE,
        max_bytes: STREAM_MAX_BYTES,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| JetStreamError::new(format!("create stream {name}"), e))?;
    Ok(())
}

/// The shared durable pull consumer on a request stream (reference settings: explicit ack,
/// 30 s ack wait, 4 deliveries with 30 s back-off, at most `max_in_flight` unacknowledged).
pub async fn request_consumer(
    js: &jetstream::Context,
    stream_name: &str,
    durable: &str,
    filter: &str,
    max_in_flight: usize,
) -> Result<consumer::PullConsumer, JetStreamError> {
    let stream = js
        .get_stream(stream_name)
        .await
        .map_err(|e| JetStreamError::new(format!("open stream {stream_name}"), e))?;
    stream
        .get_or_create_consumer(
            durable,
            consumer::pull::Config {
                durable_name: Some(durable.to_owned()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_deliver: 4,
                backoff: vec![Duration::from_secs(30); 3],
                deliver_policy: consumer::DeliverPolicy::All,
                filter_subject: filter.to_owned(),
                max_ack_pending: i64::try_from(max_in_flight.max(1)).unwrap_or(i64::MAX),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| JetStreamError::new(format!("create consumer {durable}"), e))
}

/// Publishes a result and waits for JetStream to store it. `msg_id` makes repeated publications
/// of the same result (by this or another node) collapse into one within the stream's
/// duplicate window.
pub async fn publish_result(
    js: &jetstream::Context,
    subject: String,
    msg_id: &str,
    payload: Vec<u8>,
) -> Result<(), JetStreamError> {
    let mut headers = HeaderMap::new();
    headers.insert(MSG_ID_HEADER, msg_id);
    js.publish_with_headers(subject.clone(), headers, payload.into())
        .await
        .map_err(|e| JetStreamError::new(format!("publish to {subject}"), e))?
        .await
        .map_err(|e| JetStreamError::new(format!("acknowledge publish to {subject}"), e))?;
    Ok(())
}
