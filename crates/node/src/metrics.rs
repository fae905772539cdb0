//! Every Prometheus metric the node exports: the names (all in [`ALL`]), their label values,
//! the latency buckets, and one small typed function per thing worth counting.
//!
//! Callers never spell a metric name or a label value themselves, so dashboards and alert
//! rules (`deploy/monitoring/`) can rely on this module alone; a test checks that every metric
//! they reference is defined here.
//!
//! The recorder is process-wide: [`install`] puts it in place once (later calls return the same
//! handle), and `/metrics` renders that handle (see [`crate::health`]). Tests that must not touch
//! the global recorder build their own with [`recorder`] and record under
//! [`::metrics::with_local_recorder`].
//!
//! Label values are bounded: operations and key types are enums, and error codes a peer reports
//! that this version does not know are counted as `other`, so no peer can grow the label set.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use mpcium_protocol::{ErrorCode, KeyType};

use crate::session::control::Operation;

/// Counter: client requests answered, by `operation`, `key_type` and `result` (`success`/`error`).
pub const REQUESTS_TOTAL: &str = "mpcium_requests_total";
/// Histogram: time from pulling a request to having its result, by `operation` and `key_type`.
pub const REQUEST_DURATION_SECONDS: &str = "mpcium_request_duration_seconds";
/// Counter: results by `operation` and `error_code` (`none` for successes).
pub const RESULTS_TOTAL: &str = "mpcium_results_total";
/// Gauge: protocol sessions this node is taking part in, by `operation`.
pub const SESSIONS_IN_FLIGHT: &str = "mpcium_sessions_in_flight";
/// Gauge: 1 when this node is ready (NATS, registry and a signing majority), else 0.
pub const NODE_READY: &str = "mpcium_node_ready";
/// Gauge: cluster nodes whose readiness is current in the registry (this node included).
pub const PEERS_READY: &str = "mpcium_peers_ready";
/// Gauge: cluster nodes in total (peers.json).
pub const PEERS_TOTAL: &str = "mpcium_peers_total";
/// Gauge: presignatures ready for use on this node, by `wallet_id` and `key_type`, over the
/// wallet's pools (every path and committee); only wallets this node keeps pools for have a series.
pub const PRESIGNATURE_POOL_DEPTH: &str = "mpcium_presignature_pool_depth";
/// Counter: message-mode ECDSA requests this node coordinated, by `result`: `hit` (signed from
/// a presignature) or `miss` (no usable presignature: full signing).
pub const PRESIGNATURE_POOL_REQUESTS_TOTAL: &str = "mpcium_presignature_pool_requests_total";
/// Gauge: seconds since the last successful backup (absent until the first one).
pub const BACKUP_AGE_SECONDS: &str = "mpcium_backup_age_seconds";
/// Counter: times the NATS connection was re-established after the first connect.
pub const NATS_RECONNECTS_TOTAL: &str = "mpcium_nats_reconnects_total";

/// Gauge: 1 while the request consumer named by `consumer` receives messages, else 0.
pub const CONSUMERS_UP: &str = "mpcium_request_consumers_up";
/// Counter: times a request consumer, by `consumer`, stopped and was re-created.
pub const CONSUMER_RESTARTS_TOTAL: &str = "mpcium_request_consumer_restarts_total";
/// Counter: work refused because a global bound was reached, by `limit`.
pub const LIMIT_REJECTIONS_TOTAL: &str = "mpcium_limit_rejections_total";
/// Counter: messages dropped without an answer, by `source` (`request`: a client request that
/// names nothing to answer; `node`: a node-to-node message) and `reason` ([`Dropped`]).
pub const DROPPED_MESSAGES_TOTAL: &str = "mpcium_dropped_messages_total";

/// Every metric name the node exports.
pub const ALL: &[&str] = &[
    REQUESTS_TOTAL,
    REQUEST_DURATION_SECONDS,
    RESULTS_TOTAL,
    SESSIONS_IN_FLIGHT,
    NODE_READY,
    PEERS_READY,
    PEERS_TOTAL,
    PRESIGNATURE_POOL_DEPTH,
    PRESIGNATURE_POOL_REQUESTS_TOTAL,
    BACKUP_AGE_SECONDS,
    NATS_RECONNECTS_TOTAL,
    CONSUMERS_UP,
    CONSUMER_RESTARTS_TOTAL,
    LIMIT_REJECTIONS_TOTAL,
    DROPPED_MESSAGES_TOTAL,
];

/// Upper bounds (seconds) of the request latency buckets.
///
/// A cached or rejected request is answered in milliseconds (the low end); an online signature
/// takes a few hundred milliseconds to a few seconds, so the middle is dense; a keygen takes
/// seconds to tens of seconds and is cut off by its deadline (60 s plus slack), so the last
/// bucket, 120 s, sits above every deadline and `+Inf` only ever holds outliers.
pub const REQUEST_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

/// How often [`upkeep`] drains histograms and refreshes the backup age.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(10);

/// Why the recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Something else installed a global `metrics` recorder first.
    #[error(
        "another metrics recorder is already installed in this process; install the mpcium \
         recorder before anything records metrics"
    )]
    OtherRecorderInstalled,
}

/// The global recorder's handle, once installed (`None`: another recorder won).
static INSTALLED: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Unix time (seconds) of the last successful backup; 0 means none yet.
static LAST_BACKUP_UNIX_SECS: AtomicU64 = AtomicU64::new(0);

/// A recorder with the node's buckets and metric descriptions, not installed anywhere.
pub fn recorder() -> PrometheusRecorder {
    // `set_buckets_for_metric` fails only for an empty bucket list, which ours is not; falling
    // back to the default (a summary) keeps the metric rather than losing it.
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(REQUEST_DURATION_SECONDS.to_owned()),
            REQUEST_DURATION_BUCKETS,
        )
        .unwrap_or_else(|_| PrometheusBuilder::new());
    let recorder = builder.build_recorder();
    ::metrics::with_local_recorder(&recorder, describe);
    recorder
}

/// Installs the node's recorder globally and returns its handle; later calls return the same
/// handle.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    INSTALLED
        .get_or_init(|| {
            let recorder = recorder();
            let handle = recorder.handle();
            ::metrics::set_global_recorder(recorder).ok()?;
            // Every drop reason and every limit is exported from the start (at 0), so a rate
            // over it exists before the first hostile message or refusal.
            for reason in Dropped::ALL {
                dropped_counter(reason).increment(0);
            }
            for limit in Limit::ALL {
                limit_counter(limit).increment(0);
            }
            Some(handle)
        })
        .clone()
        .ok_or(MetricsError::OtherRecorderInstalled)
}

/// Keeps the recorder tidy: drains histograms and refreshes the backup age every
/// [`UPKEEP_EVERY`]. Runs until dropped.
///
/// # Cancel safety
/// Cancel safe: it holds no state between ticks.
pub async fn upkeep(handle: PrometheusHandle) {
    loop {
        tokio::time::sleep(UPKEEP_EVERY).await;
        handle.run_upkeep();
        refresh_backup_age(SystemTime::now());
    }
}

fn describe() {
    ::metrics::describe_counter!(REQUESTS_TOTAL, "client requests answered");
    ::metrics::describe_histogram!(
        REQUEST_DURATION_SECONDS,
        ::metrics::Unit::Seconds,
        "time from pulling a request to having its result"
    );
    ::metrics::describe_counter!(RESULTS_TOTAL, "results by error code (none = success)");
    ::metrics::describe_gauge!(SESSIONS_IN_FLIGHT, "protocol sessions in progress");
    ::metrics::describe_gauge!(NODE_READY, "1 when this node is ready to serve requests");
    ::metrics::describe_gauge!(PEERS_READY, "cluster nodes currently marked ready");
    ::metrics::describe_gauge!(PEERS_TOTAL, "cluster nodes in peers.json");
    ::metrics::describe_gauge!(PRESIGNATURE_POOL_DEPTH, "presignatures ready for use");
    ::metrics::describe_counter!(
        PRESIGNATURE_POOL_REQUESTS_TOTAL,
        "message-mode ECDSA requests served from a presignature (hit) or not (miss)"
    );
    ::metrics::describe_gauge!(
        BACKUP_AGE_SECONDS,
        ::metrics::Unit::Seconds,
        "seconds since the last successful backup"
    );
    ::metrics::describe_counter!(NATS_RECONNECTS_TOTAL, "NATS reconnections");
    ::metrics::describe_gauge!(CONSUMERS_UP, "1 while a request consumer receives messages");
    ::metrics::describe_counter!(
        CONSUMER_RESTARTS_TOTAL,
        "request consumers stopped and re-created"
    );
    ::metrics::describe_counter!(
        LIMIT_REJECTIONS_TOTAL,
        "work refused because a global bound was reached"
    );
    ::metrics::describe_counter!(
        DROPPED_MESSAGES_TOTAL,
        "requests and node messages dropped without an answer"
    );
}

/// The `operation` label value.
pub fn operation_label(op: Operation) -> &'static str {
    match op {
        Operation::AuxInfo => "aux_info",
        Operation::Keygen => "keygen",
        Operation::Sign => "sign",
        Operation::Reshare => "reshare",
        Operation::ReshareCommit => "reshare_commit",
        Operation::Presign => "presign",
        Operation::Import => "import",
    }
}

/// The `key_type` label value: the request's key type; `both` for keygen and aux info (both
/// curves at once); `unknown` for a signing or resharing request that did not decode.
pub fn key_type_label(op: Operation, key_type: Option<KeyType>) -> &'static str {
    match (key_type, op) {
        (Some(key_type), _) => key_type.as_str(),
        (None, Operation::Keygen | Operation::AuxInfo | Operation::Import) => "both",
        (None, Operation::Presign) => "secp256k1",
        (None, Operation::Sign | Operation::Reshare | Operation::ReshareCommit) => "unknown",
    }
}

/// The `error_code` label value: `none` for a success, `other` for codes this version does not
/// know (they may come from a peer, so they must not become labels verbatim).
pub fn error_code_label(code: Option<&ErrorCode>) -> &str {
    match code {
        None => "none",
        Some(ErrorCode::Other(_)) => "other",
        Some(code) => code.as_str(),
    }
}

/// Records one answered client request: its result (`error_code` is `None` for a success) and
/// how long it took to produce.
pub fn request_finished(
    op: Operation,
    key_type: Option<KeyType>,
    error_code: Option<&ErrorCode>,
    elapsed: Duration,
) {
    let operation = operation_label(op);
    let key_type = key_type_label(op, key_type);
    let result = if error_code.is_none() {
        "success"
    } else {
        "error"
    };
    ::metrics::counter!(REQUESTS_TOTAL, "operation" => operation, "key_type" => key_type, "result" => result)
        .increment(1);
    ::metrics::histogram!(REQUEST_DURATION_SECONDS, "operation" => operation, "key_type" => key_type)
        .record(elapsed.as_secs_f64());
    ::metrics::counter!(RESULTS_TOTAL, "operation" => operation, "error_code" => error_code_label(error_code).to_owned())
        .increment(1);
}

/// Counts a session in [`SESSIONS_IN_FLIGHT`] until the guard is dropped, however the session
/// ends (success, error, cancellation). It holds the gauge itself, so the decrement lands in the
/// recorder the increment went to.
#[must_use = "the session counts as in flight only while the guard lives"]
pub struct SessionGuard {
    gauge: ::metrics::Gauge,
}

impl std::fmt::Debug for SessionGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionGuard").finish_non_exhaustive()
    }
}

/// Marks a session of `op` as started; it stays counted while the returned guard lives.
pub fn session_started(op: Operation) -> SessionGuard {
    let gauge = ::metrics::gauge!(SESSIONS_IN_FLIGHT, "operation" => operation_label(op));
    gauge.increment(1.0);
    SessionGuard { gauge }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
    }
}

/// Sets whether this node is ready, and how many of the cluster's nodes are.
pub fn set_readiness(node_ready: bool, peers_ready: usize, peers_total: usize) {
    ::metrics::gauge!(NODE_READY).set(if node_ready { 1.0 } else { 0.0 });
    ::metrics::gauge!(PEERS_READY).set(peers_ready as f64);
    ::metrics::gauge!(PEERS_TOTAL).set(peers_total as f64);
}

/// Sets the presignatures ready for use on this node for `wallet`'s ECDSA key (all its pools).
pub fn set_presignature_pool_depth(wallet: &str, depth: u64) {
    ::metrics::gauge!(
        PRESIGNATURE_POOL_DEPTH,
        "wallet_id" => wallet.to_owned(),
        "key_type" => KeyType::Secp256k1.as_str()
    )
    .set(depth as f64);
}

/// Counts a message-mode ECDSA request this node coordinated: signed from a presignature
/// (`hit`) or not.
pub fn presignature_pool_request(hit: bool) {
    ::metrics::counter!(PRESIGNATURE_POOL_REQUESTS_TOTAL, "result" => pool_result(hit))
        .increment(1);
}

/// Exports both pool request counters from 0 (pools are on, no request seen yet).
pub fn presignature_pool_requests_from_zero() {
    for hit in [true, false] {
        ::metrics::counter!(PRESIGNATURE_POOL_REQUESTS_TOTAL, "result" => pool_result(hit))
            .increment(0);
    }
}

fn pool_result(hit: bool) -> &'static str {
    if hit {
        "hit"
    } else {
        "miss"
    }
}

/// Records a successful backup finished at `at`, and sets the backup age from it.
pub fn backup_succeeded(at: SystemTime) {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    LAST_BACKUP_UNIX_SECS.fetch_max(secs, Ordering::Relaxed);
    refresh_backup_age(at);
}

/// Sets [`BACKUP_AGE_SECONDS`] as of `now`; does nothing before the first backup.
pub fn refresh_backup_age(now: SystemTime) {
    let last = LAST_BACKUP_UNIX_SECS.load(Ordering::Relaxed);
    if last == 0 {
        return;
    }
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    ::metrics::gauge!(BACKUP_AGE_SECONDS).set(now.saturating_sub(last) as f64);
}

/// Sets [`NATS_RECONNECTS_TOTAL`] from the client's count of successful connects (the first
/// connect is not a reconnect).
pub fn set_nats_connects(connects: u64) {
    ::metrics::counter!(NATS_RECONNECTS_TOTAL).absolute(connects.saturating_sub(1));
}

/// A global bound of the node (the `limit` label of [`LIMIT_REJECTIONS_TOTAL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// `max_concurrent_sessions`: a session was refused.
    Sessions,
    /// `max_early_message_bytes`: an early message was dropped.
    EarlyBytes,
    /// `max_remembered_sessions`: a session was refused.
    RememberedSessions,
}

impl Limit {
    /// Every limit.
    pub const ALL: [Limit; 3] = [
        Limit::Sessions,
        Limit::EarlyBytes,
        Limit::RememberedSessions,
    ];
}

fn limit_counter(limit: Limit) -> ::metrics::Counter {
    let label = match limit {
        Limit::Sessions => "sessions",
        Limit::EarlyBytes => "early_message_bytes",
        Limit::RememberedSessions => "remembered_sessions",
    };
    ::metrics::counter!(LIMIT_REJECTIONS_TOTAL, "limit" => label)
}

/// Counts one refusal at `limit`.
pub fn limit_hit(limit: Limit) {
    limit_counter(limit).increment(1);
}

/// Why a message was dropped without an answer (the `source` and `reason` labels of
/// [`DROPPED_MESSAGES_TOTAL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// A client request with no readable id: nothing to address a result to.
    UnidentifiableRequest,
    /// A node message that does not follow the envelope layout or version.
    Malformed,
    /// A node message addressed to another node.
    NotForUs,
    /// A node message from a node that is not a peer of this cluster.
    UnknownSender,
    /// A node message whose signature does not verify under the claimed sender's key.
    BadSignature,
    /// A node message that does not decrypt with the key shared with its sender.
    Undecryptable,
    /// A node message beyond the size limit.
    TooLarge,
    /// A session message from a node that is not a participant of the session.
    NotAParticipant,
    /// A session message or start order seen before.
    Replay,
    /// A session message beyond a buffer or inbox bound (a flooding peer).
    Overloaded,
    /// A session message for a session that has finished.
    Late,
    /// A protocol message whose content disagrees with its envelope (session, round, sender,
    /// recipient), or that does not decode.
    Inconsistent,
    /// A session start, outcome or abort that does not decode.
    MalformedControl,
}

impl Dropped {
    /// Every reason.
    pub const ALL: [Dropped; 13] = [
        Dropped::UnidentifiableRequest,
        Dropped::Malformed,
        Dropped::NotForUs,
        Dropped::UnknownSender,
        Dropped::BadSignature,
        Dropped::Undecryptable,
        Dropped::TooLarge,
        Dropped::NotAParticipant,
        Dropped::Replay,
        Dropped::Overloaded,
        Dropped::Late,
        Dropped::Inconsistent,
        Dropped::MalformedControl,
    ];

    /// `(source, reason)` label values.
    pub fn labels(self) -> (&'static str, &'static str) {
        let reason = match self {
            Dropped::UnidentifiableRequest => return ("request", "unidentifiable"),
            Dropped::Malformed => "malformed",
            Dropped::NotForUs => "not_for_us",
            Dropped::UnknownSender => "unknown_sender",
            Dropped::BadSignature => "bad_signature",
            Dropped::Undecryptable => "undecryptable",
            Dropped::TooLarge => "too_large",
            Dropped::NotAParticipant => "not_a_participant",
            Dropped::Replay => "replay",
            Dropped::Overloaded => "overloaded",
            Dropped::Late => "late",
            Dropped::Inconsistent => "inconsistent",
            Dropped::MalformedControl => "malformed_control",
        };
        ("node", reason)
    }
}

fn dropped_counter(reason: Dropped) -> ::metrics::Counter {
    let (source, reason) = reason.labels();
    ::metrics::counter!(DROPPED_MESSAGES_TOTAL, "source" => source, "reason" => reason)
}

/// Counts one message dropped for `reason`.
pub fn message_dropped(reason: Dropped) {
    dropped_counter(reason).increment(1);
}

/// Records whether request consumer `consumer` (a fixed durable name) is up; its restart
/// counter is exported from then on too (at 0 until a restart), so dashboards and alerts see
/// the series before the first failure.
pub fn set_consumer_up(consumer: &'static str, up: bool) {
    ::metrics::gauge!(CONSUMERS_UP, "consumer" => consumer).set(if up { 1.0 } else { 0.0 });
    ::metrics::counter!(CONSUMER_RESTARTS_TOTAL, "consumer" => consumer).increment(0);
}

/// Counts a request consumer that stopped and is being re-created.
pub fn consumer_restarted(consumer: &'static str) {
    ::metrics::counter!(CONSUMER_RESTARTS_TOTAL, "consumer" => consumer).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn must_render(record: impl FnOnce()) -> String {
        let recorder = recorder();
        let handle = recorder.handle();
        ::metrics::with_local_recorder(&recorder, record);
        handle.render()
    }

    #[test]
    fn pool_request_counters_are_exported_from_zero_and_keep_counting() {
        let text = must_render(|| {
            presignature_pool_requests_from_zero();
            presignature_pool_request(false);
        });
        assert!(text.contains(r#"mpcium_presignature_pool_requests_total{result="hit"} 0"#));
        assert!(text.contains(r#"mpcium_presignature_pool_requests_total{result="miss"} 1"#));
    }

    #[test]
    fn every_metric_name_is_prefixed_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for name in ALL {
            assert!(name.starts_with("mpcium_"), "{name}");
            assert!(seen.insert(name), "{name} twice");
        }
    }

    #[test]
    fn a_finished_request_is_counted_timed_and_classified() {
        let text = must_render(|| {
            request_finished(
                Operation::Sign,
                Some(KeyType::Ed25519),
                None,
                Duration::from_millis(300),
            );
            request_finished(
                Operation::Sign,
                Some(KeyType::Ed25519),
                Some(&ErrorCode::SessionTimeout),
                Duration::from_secs(65),
            );
        });
        assert!(text.contains(
            r#"mpcium_requests_total{operation="sign",key_type="ed25519",result="success"} 1"#
        ));
        assert!(text.contains(
            r#"mpcium_requests_total{operation="sign",key_type="ed25519",result="error"} 1"#
        ));
        assert!(text.contains(
            r#"mpcium_request_duration_seconds_bucket{operation="sign",key_type="ed25519",le="0.5"} 1"#
        ));
        assert!(text.contains(
            r#"mpcium_request_duration_seconds_bucket{operation="sign",key_type="ed25519",le="120"} 2"#
        ));
        assert!(text.contains(
            r#"mpcium_results_total{operation="sign",error_code="ERROR_SESSION_TIMEOUT"} 1"#
        ));
        assert!(text.contains(r#"mpcium_results_total{operation="sign",error_code="none"} 1"#));
    }

    #[test]
    fn an_unknown_error_code_from_a_peer_is_counted_as_other() {
        let text = must_render(|| {
            request_finished(
                Operation::Keygen,
                None,
                Some(&ErrorCode::Other("ERROR_MADE_UP_BY_A_PEER".into())),
                Duration::from_secs(1),
            );
        });
        assert!(text.contains(r#"mpcium_results_total{operation="keygen",error_code="other"} 1"#));
        assert!(!text.contains("MADE_UP"));
        assert!(text.contains(r#"key_type="both""#));
    }

    #[test]
    fn an_undecodable_signing_request_is_not_labelled_with_both_key_types() {
        assert_eq!(key_type_label(Operation::Sign, None), "unknown");
        assert_eq!(
            key_type_label(Operation::Sign, Some(KeyType::Secp256k1)),
            "secp256k1"
        );
        assert_eq!(key_type_label(Operation::Keygen, None), "both");
    }

    #[test]
    fn a_session_counts_as_in_flight_until_its_guard_drops() {
        let recorder = recorder();
        let handle = recorder.handle();
        let (first, second) = ::metrics::with_local_recorder(&recorder, || {
            (
                session_started(Operation::Sign),
                session_started(Operation::Sign),
            )
        });
        assert!(handle
            .render()
            .contains(r#"mpcium_sessions_in_flight{operation="sign"} 2"#));
        drop(first);
        assert!(handle
            .render()
            .contains(r#"mpcium_sessions_in_flight{operation="sign"} 1"#));
        drop(second);
        assert!(handle
            .render()
            .contains(r#"mpcium_sessions_in_flight{operation="sign"} 0"#));
    }

    #[test]
    fn reconnects_do_not_count_the_first_connect() {
        let text = must_render(|| set_nats_connects(3));
        assert!(text.contains("mpcium_nats_reconnects_total 2"));
        let text = must_render(|| set_nats_connects(0));
        assert!(text.contains("mpcium_nats_reconnects_total 0"));
    }

    #[test]
    fn backup_age_is_measured_from_the_last_backup() {
        let at = UNIX_EPOCH + Duration::from_secs(4_000_000_000);
        let text = must_render(|| {
            backup_succeeded(at);
            refresh_backup_age(at + Duration::from_secs(90));
        });
        assert!(text.contains("mpcium_backup_age_seconds 90"), "{text}");
    }

    #[test]
    fn readiness_gauges_hold_the_last_values_set() {
        let text = must_render(|| {
            set_readiness(true, 2, 3);
            set_presignature_pool_depth("w1", 17);
            presignature_pool_request(true);
            presignature_pool_request(false);
            presignature_pool_request(false);
        });
        assert!(text.contains("mpcium_node_ready 1"));
        assert!(text.contains("mpcium_peers_ready 2"));
        assert!(text.contains("mpcium_peers_total 3"));
        assert!(text
            .contains(r#"mpcium_presignature_pool_depth{wallet_id="w1",key_type="secp256k1"} 17"#));
        assert!(text.contains(r#"mpcium_presignature_pool_requests_total{result="hit"} 1"#));
        assert!(text.contains(r#"mpcium_presignature_pool_requests_total{result="miss"} 2"#));
    }

    #[test]
    fn dropped_messages_are_counted_by_source_and_reason() {
        let text = must_render(|| {
            message_dropped(Dropped::BadSignature);
            message_dropped(Dropped::BadSignature);
            message_dropped(Dropped::UnidentifiableRequest);
        });
        assert!(text
            .contains(r#"mpcium_dropped_messages_total{source="node",reason="bad_signature"} 2"#));
        assert!(text.contains(
            r#"mpcium_dropped_messages_total{source="request",reason="unidentifiable"} 1"#
        ));
        let reasons: std::collections::BTreeSet<_> =
            Dropped::ALL.iter().map(|d| d.labels()).collect();
        assert_eq!(reasons.len(), Dropped::ALL.len());
    }

    #[test]
    fn installing_twice_returns_the_same_recorder() {
        let first = install();
        let second = install();
        match (first, second) {
            (Ok(a), Ok(b)) => {
                ::metrics::gauge!(PEERS_TOTAL).set(5.0);
                // Series of one family render in no fixed order.
                let lines = |text: String| {
                    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
                    lines.sort();
                    lines
                };
                assert_eq!(lines(a.render()), lines(b.render()));
            }
            (a, b) => panic!("install failed: {a:?} / {b:?}"),
        }
    }
}
