//! JetStream plumbing for the client contract: the request and result streams with the
//! reference's names and settings (subjects nodes need added to streams a client created
//! first), the shared durable request consumers, and result publishing with the `Nats-Msg-Id`
//! idempotency key.

use std::time::Duration;

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
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

/// Makes sure the request streams and the result stream exist and carry the subjects nodes use
/// (see [`ensure_stream`]).
pub async fn ensure_streams(js: &jetstream::Context) -> Result<(), JetStreamError> {
    for (name, subject) in [
        (subjects::KEYGEN_STREAM, subjects::KEYGEN_REQUEST_SUBJECTS),
        (subjects::SIGNING_STREAM, subjects::SIGNING_REQUEST_SUBJECTS),
        (RESHARE_STREAM, RESHARE_REQUEST_SUBJECTS),
    ] {
        ensure_request_stream(js, name, subject).await?;
    }
    ensure_result_stream(js).await
}

/// Makes sure the result stream exists and carries every result subject (see [`ensure_stream`]).
async fn ensure_result_stream(js: &jetstream::Context) -> Result<(), JetStreamError> {
    ensure_stream(
        js,
        stream::Config {
            name: subjects::RESULT_STREAM.to_owned(),
            subjects: subjects::RESULT_STREAM_SUBJECTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            retention: stream::RetentionPolicy::WorkQueue,
            max_bytes: STREAM_MAX_BYTES,
            storage: stream::StorageType::File,
            ..Default::default()
        },
    )
    .await
}

/// Makes sure request stream `name` exists and carries `subject` (created with the reference's
/// settings when absent; see [`ensure_stream`]).
pub async fn ensure_request_stream(
    js: &jetstream::Context,
    name: &str,
    subject: &str,
) -> Result<(), JetStreamError> {
    ensure_stream(
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
    .await
}

/// Creates stream `wanted.name` with `wanted` when it does not exist. A stream that exists (a
/// client may have created it first, with one subject or another retention) keeps every setting
/// the operator or client chose; only subjects of `wanted.subjects` it does not cover are added,
/// replacing existing subjects they cover (the server refuses overlapping subjects in one
/// stream). A refused update is logged and returned as an error naming the subjects.
pub async fn ensure_stream(
    js: &jetstream::Context,
    wanted: stream::Config,
) -> Result<(), JetStreamError> {
    let name = wanted.name.clone();
    let needed = wanted.subjects.clone();
    js.get_or_create_stream(wanted)
        .await
        .map_err(|e| JetStreamError::new(format!("create stream {name}"), e))?;
    let mut config = stream_config_json(js, &name).await?;
    let existing: Vec<String> = config
        .get("subjects")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_default();
    let Some(subjects) = merged_subjects(&existing, &needed) else {
        return Ok(());
    };
    let added: Vec<&String> = subjects.iter().filter(|s| !existing.contains(s)).collect();
    config["subjects"] = serde_json::json!(subjects);
    let update: Result<serde_json::Value, String> = js
        .request(format!("STREAM.UPDATE.{name}"), &config)
        .await
        .map_err(|e| e.to_string())
        .and_then(api_result);
    match update {
        Ok(_) => {
            tracing::info!(
                stream = %name,
                added = ?added,
                subjects = ?subjects,
                "added the subjects nodes need to an existing stream; its retention and other settings are unchanged"
            );
            Ok(())
        }
        Err(reason) => {
            tracing::error!(
                stream = %name,
                missing = ?added,
                %reason,
                "the NATS server refused to add subjects nodes need to an existing stream; add them or remove the stream"
            );
            Err(JetStreamError::new(
                format!("add subjects {added:?} to stream {name}"),
                reason,
            ))
        }
    }
}

/// The stream's configuration exactly as the server reports it, fields this client library does
/// not know included, so an update changes nothing but what the caller edits.
async fn stream_config_json(
    js: &jetstream::Context,
    name: &str,
) -> Result<serde_json::Value, JetStreamError> {
    let info: serde_json::Value = js
        .request(format!("STREAM.INFO.{name}"), &serde_json::json!({}))
        .await
        .map_err(|e| e.to_string())
        .and_then(api_result)
        .map_err(|reason| JetStreamError::new(format!("read stream {name}"), reason))?;
    info.get("config")
        .cloned()
        .ok_or_else(|| JetStreamError::new(format!("read stream {name}"), "reply has no config"))
}

/// A JetStream API reply: its body, or the server's error description.
fn api_result(reply: serde_json::Value) -> Result<serde_json::Value, String> {
    match reply.get("error") {
        Some(error) => Err(error
            .get("description")
            .and_then(|d| d.as_str())
            .map_or_else(|| error.to_string(), str::to_owned)),
        None => Ok(reply),
    }
}

/// The subjects a stream with `existing` subjects needs so that it covers every subject of
/// `needed`: `None` when it already does, else the needed subjects it lacks added to the
/// existing ones that none of them covers.
pub fn merged_subjects(existing: &[String], needed: &[String]) -> Option<Vec<String>> {
    let missing: Vec<&String> = needed
        .iter()
        .filter(|n| !existing.iter().any(|e| subject_covers(e, n)))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut merged: Vec<String> = existing
        .iter()
        .filter(|e| !missing.iter().any(|m| subject_covers(m, e)))
        .cloned()
        .collect();
    merged.extend(missing.into_iter().cloned());
    Some(merged)
}

/// Whether every subject `subject` matches (it may hold wildcards) is matched by `pattern`.
pub fn subject_covers(pattern: &str, subject: &str) -> bool {
    let mut pattern = pattern.split('.');
    let mut subject = subject.split('.');
    loop {
        match (pattern.next(), subject.next()) {
            (Some(">"), Some(_)) => return true,
            (None, None) => return true,
            (Some(_), Some(">")) | (None, Some(_)) | (Some(_), None) => return false,
            (Some("*"), Some(_)) => {}
            (Some(p), Some(s)) if p == s && s != "*" => {}
            (Some(_), Some(_)) => return false,
        }
    }
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
/// duplicate window. When no stream stores `subject` (a client re-created the result stream
/// with narrower subjects after the nodes started, or it was deleted), the result stream is
/// made to carry the result subjects again (see [`ensure_stream`]) and the result published once
/// more.
pub async fn publish_result(
    js: &jetstream::Context,
    subject: String,
    msg_id: &str,
    payload: Vec<u8>,
) -> Result<(), JetStreamError> {
    let payload = bytes::Bytes::from(payload);
    match publish_once(js, &subject, msg_id, payload.clone()).await {
        Err(error) if error.kind() == PublishErrorKind::StreamNotFound => {
            tracing::warn!(%subject, "no stream stores this result subject; restoring the result stream's subjects");
            ensure_result_stream(js).await?;
            publish_once(js, &subject, msg_id, payload).await
        }
        other => other,
    }
    .map_err(|e| JetStreamError::new(format!("publish to {subject}"), e))
}

/// One publication, acknowledged by JetStream.
async fn publish_once(
    js: &jetstream::Context,
    subject: &str,
    msg_id: &str,
    payload: bytes::Bytes,
) -> Result<(), PublishError> {
    let mut headers = HeaderMap::new();
    headers.insert(MSG_ID_HEADER, msg_id);
    js.publish_with_headers(subject.to_owned(), headers, payload)
        .await?
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_pattern_covers_the_subjects_it_matches_and_no_others() {
        assert!(subject_covers("a.b.>", "a.b.*"));
        assert!(subject_covers("a.b.>", "a.b.c.d"));
        assert!(subject_covers("a.b.>", "a.b.>"));
        assert!(subject_covers("a.*", "a.*"));
        assert!(subject_covers("a.*", "a.b"));
        assert!(subject_covers("a.b", "a.b"));
        assert!(!subject_covers("a.b.*", "a.b.>"));
        assert!(!subject_covers("a.b.*", "a.b.c.d"));
        assert!(!subject_covers("a.b.>", "a.b"));
        assert!(!subject_covers("a.b", "a.*"));
        assert!(!subject_covers("a.b", "a.b.c"));
        assert!(!subject_covers("a.b.c", "a.b"));
        assert!(!subject_covers("a.x.>", "a.b.c"));
    }

    #[test]
    fn subjects_already_covered_need_no_update() {
        let needed = strings(&["mpc.keygen_request.*"]);
        assert_eq!(
            merged_subjects(&strings(&["mpc.keygen_request.*"]), &needed),
            None
        );
        assert_eq!(merged_subjects(&strings(&["mpc.>"]), &needed), None);
    }

    #[test]
    fn missing_subjects_are_added_and_replace_narrower_ones_they_cover() {
        // The TypeScript client's `mpc` stream after its first result listener.
        let existing = strings(&["mpc.mpc_keygen_result.*", "other.x"]);
        let needed = strings(&subjects::RESULT_STREAM_SUBJECTS);
        assert_eq!(
            merged_subjects(&existing, &needed),
            Some(strings(&[
                "other.x",
                "mpc.mpc_keygen_result.>",
                "mpc.mpc_signing_result.>",
                "mpc.mpc_reshare_result.>",
            ]))
        );
        assert_eq!(
            merged_subjects(&[], &needed),
            Some(strings(&subjects::RESULT_STREAM_SUBJECTS))
        );
    }
}
