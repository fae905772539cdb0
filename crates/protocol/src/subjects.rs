//! Every NATS name clients and nodes share: JetStream streams, request and result subjects,
//! durable consumer names (with the reference's sanitising rule), header names and the
//! `Nats-Msg-Id` idempotency keys of results. Spelled exactly as the reference (v0.3.5).
//!
//! A client ID, when present, scopes result subjects (`mpc.mpc_keygen_result.<clientID>.<walletID>`),
//! result consumers (`mpc_keygen_result_<clientID>`) and message IDs (`<clientID>:<id>`).

use crate::ids::ClientId;

/// JetStream stream holding keygen requests.
pub const KEYGEN_STREAM: &str = "mpc-keygen";
/// Subjects of [`KEYGEN_STREAM`] (also the filter of [`KEYGEN_CONSUMER`]).
pub const KEYGEN_REQUEST_SUBJECTS: &str = "mpc.keygen_request.*";
/// Durable consumer the nodes share on [`KEYGEN_STREAM`] (`mpc-keygen-consumer`, sanitised).
pub const KEYGEN_CONSUMER: &str = "mpc_keygen_consumer";

/// JetStream stream holding signing requests.
pub const SIGNING_STREAM: &str = "mpc-signing";
/// Subjects of [`SIGNING_STREAM`] (also the filter of [`SIGNING_CONSUMER`]).
pub const SIGNING_REQUEST_SUBJECTS: &str = "mpc.signing_request.*";
/// Durable consumer the nodes share on [`SIGNING_STREAM`] (`mpc-signing-consumer`, sanitised).
pub const SIGNING_CONSUMER: &str = "mpc_signing_consumer";

/// JetStream stream holding results for clients.
pub const RESULT_STREAM: &str = "mpc";
/// Subjects of [`RESULT_STREAM`].
pub const RESULT_STREAM_SUBJECTS: [&str; 3] = [
    "mpc.mpc_keygen_result.>",
    "mpc.mpc_signing_result.>",
    "mpc.mpc_reshare_result.>",
];

/// Core-NATS subject on which the relaying node fans a keygen request out to all nodes.
pub const GENERATE_SUBJECT: &str = "mpc:generate";
/// Core-NATS subject on which the relaying node fans a signing request out to all nodes.
pub const SIGN_SUBJECT: &str = "mpc:sign";
/// Core-NATS subject on which clients publish resharing requests to all nodes.
pub const RESHARE_SUBJECT: &str = "mpc:reshare";

/// Header carrying the client ID that scopes the result subject.
pub const CLIENT_ID_HEADER: &str = "ClientID";
/// Header carrying the per-delivery session ID a relaying node assigns.
pub const SESSION_ID_HEADER: &str = "SessionID";
/// JetStream de-duplication header; results use [`result_msg_id`].
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// Subject a client publishes a keygen request to (the Go client uses the literal filter).
pub fn keygen_request_subject(wallet_id: &str) -> String {
    format!("mpc.keygen_request.{wallet_id}")
}

/// Subject a client publishes a signing request to (the Go client uses the literal filter).
pub fn signing_request_subject(tx_id: &str) -> String {
    format!("mpc.signing_request.{tx_id}")
}

/// The three kinds of result, each with its own subject prefix and consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultKind {
    /// Keygen results, one subject per wallet.
    Keygen,
    /// Signing results, one `complete` subject for all transactions.
    Signing,
    /// Resharing results, one subject per resharing session.
    Reshare,
}

impl ResultKind {
    /// Subject prefix (`mpc.mpc_keygen_result`, ...).
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Keygen => "mpc.mpc_keygen_result",
            Self::Signing => "mpc.mpc_signing_result",
            Self::Reshare => "mpc.mpc_reshare_result",
        }
    }

    /// Name of the unscoped durable consumer (`mpc_keygen_result`, ...).
    pub fn consumer_base(self) -> &'static str {
        match self {
            Self::Keygen => "mpc_keygen_result",
            Self::Signing => "mpc_signing_result",
            Self::Reshare => "mpc_reshare_result",
        }
    }

    /// Subject a result is published to. `id` is the wallet ID (keygen) or the session ID
    /// (reshare); signing results all go to `…complete` and ignore it.
    pub fn subject(self, client: Option<&ClientId>, id: &str) -> String {
        match self {
            Self::Signing => scoped(self.prefix(), client, "complete"),
            Self::Keygen | Self::Reshare => scoped(self.prefix(), client, id),
        }
    }

    /// Filter subject of a client's result consumer.
    pub fn filter_subject(self, client: Option<&ClientId>) -> String {
        match self {
            Self::Signing => scoped(self.prefix(), client, "complete"),
            Self::Keygen | Self::Reshare => scoped(self.prefix(), client, "*"),
        }
    }

    /// Durable consumer name for a client's results (`mpc_keygen_result_<clientID>`, sanitised).
    pub fn consumer_name(self, client: Option<&ClientId>) -> String {
        match client {
            None => self.consumer_base().to_owned(),
            Some(c) => sanitize_consumer_name(&format!("{}.{}", self.consumer_base(), c)),
        }
    }
}

fn scoped(prefix: &str, client: Option<&ClientId>, tail: &str) -> String {
    match client {
        Some(c) => format!("{prefix}.{c}.{tail}"),
        None => format!("{prefix}.{tail}"),
    }
}

/// `Nats-Msg-Id` of a result: `<prefix>.[<clientID>:]<id>[:<handling>]`, where `id` is the
/// wallet ID (keygen), transaction ID (signing) or resharing session ID (absent or empty
/// `handling` ⇒ omitted). Nodes pass a token unique per handling of a request
/// (`mpcium_node::request::consumer`), so JetStream absorbs a retried publish of one result,
/// while a repeated request still gets its (cached) result published again. (The reference put
/// the delivery's `SessionID` header there.)
pub fn result_msg_id(
    kind: ResultKind,
    client: Option<&ClientId>,
    id: &str,
    handling: Option<&str>,
) -> String {
    let mut key = String::new();
    if let Some(c) = client {
        key.push_str(c.as_str());
        key.push(':');
    }
    key.push_str(id);
    if let Some(token) = handling.filter(|s| !s.is_empty()) {
        key.push(':');
        key.push_str(token);
    }
    format!("{}.{key}", kind.prefix())
}

/// The reference's consumer-name sanitising: `.` `:` space `-` → `_`, `>` → `all`, `*` → `any`,
/// and a leading `_` when the first byte is neither a letter (read as Latin-1) nor `_`.
pub fn sanitize_consumer_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for c in name.chars() {
        match c {
            '.' | ':' | ' ' | '-' => out.push('_'),
            '>' => out.push_str("all"),
            '*' => out.push_str("any"),
            other => out.push(other),
        }
    }
    // Go tests `unicode.IsLetter(rune(name[0]))`: the first *byte* widened to a code point.
    let needs_prefix = out
        .as_bytes()
        .first()
        .is_some_and(|&b| b != b'_' && !char::from(b).is_alphabetic());
    if needs_prefix {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn must_client(id: &str) -> ClientId {
        ClientId::new(id).unwrap()
    }

    #[test]
    fn unscoped_result_names_match_the_reference() {
        assert_eq!(
            ResultKind::Keygen.subject(None, "wallet-1"),
            "mpc.mpc_keygen_result.wallet-1"
        );
        assert_eq!(
            ResultKind::Keygen.filter_subject(None),
            "mpc.mpc_keygen_result.*"
        );
        assert_eq!(
            ResultKind::Signing.subject(None, "tx-1"),
            "mpc.mpc_signing_result.complete"
        );
        assert_eq!(
            ResultKind::Signing.filter_subject(None),
            "mpc.mpc_signing_result.complete"
        );
        assert_eq!(
            ResultKind::Reshare.subject(None, "session-1"),
            "mpc.mpc_reshare_result.session-1"
        );
        assert_eq!(
            ResultKind::Reshare.filter_subject(None),
            "mpc.mpc_reshare_result.*"
        );
        assert_eq!(ResultKind::Keygen.consumer_name(None), "mpc_keygen_result");
        assert_eq!(
            ResultKind::Signing.consumer_name(None),
            "mpc_signing_result"
        );
        assert_eq!(
            ResultKind::Reshare.consumer_name(None),
            "mpc_reshare_result"
        );
    }

    #[test]
    fn client_scoped_result_names_match_the_reference() {
        let c = must_client("svc-a");
        let c = Some(&c);
        assert_eq!(
            ResultKind::Keygen.subject(c, "wallet-1"),
            "mpc.mpc_keygen_result.svc-a.wallet-1"
        );
        assert_eq!(
            ResultKind::Keygen.filter_subject(c),
            "mpc.mpc_keygen_result.svc-a.*"
        );
        assert_eq!(
            ResultKind::Signing.subject(c, "ignored"),
            "mpc.mpc_signing_result.svc-a.complete"
        );
        assert_eq!(
            ResultKind::Reshare.subject(c, "session-1"),
            "mpc.mpc_reshare_result.svc-a.session-1"
        );
        assert_eq!(
            ResultKind::Reshare.filter_subject(c),
            "mpc.mpc_reshare_result.svc-a.*"
        );
        assert_eq!(
            ResultKind::Keygen.consumer_name(c),
            "mpc_keygen_result_svc_a"
        );
        assert_eq!(
            ResultKind::Signing.consumer_name(c),
            "mpc_signing_result_svc_a"
        );
        assert_eq!(
            ResultKind::Reshare.consumer_name(c),
            "mpc_reshare_result_svc_a"
        );
    }

    #[test]
    fn every_result_subject_is_inside_the_result_stream() {
        let c = must_client("c1");
        for kind in [ResultKind::Keygen, ResultKind::Signing, ResultKind::Reshare] {
            let stream_subject = format!("{}.>", kind.prefix());
            assert!(RESULT_STREAM_SUBJECTS.contains(&stream_subject.as_str()));
            assert!(kind.subject(Some(&c), "x").starts_with(kind.prefix()));
        }
    }

    #[test]
    fn consumer_names_are_sanitised_like_the_reference() {
        assert_eq!(
            sanitize_consumer_name("mpc-keygen-consumer"),
            KEYGEN_CONSUMER
        );
        assert_eq!(
            sanitize_consumer_name("mpc-signing-consumer"),
            SIGNING_CONSUMER
        );
        assert_eq!(sanitize_consumer_name("a.b:c d-e"), "a_b_c_d_e");
        assert_eq!(sanitize_consumer_name("x.>"), "x_all");
        assert_eq!(sanitize_consumer_name("x.*"), "x_any");
        assert_eq!(sanitize_consumer_name("1abc"), "_1abc");
        assert_eq!(sanitize_consumer_name("-abc"), "_abc");
        assert_eq!(sanitize_consumer_name("_abc"), "_abc");
        assert_eq!(sanitize_consumer_name("ábc"), "ábc");
        assert_eq!(sanitize_consumer_name(""), "");
    }

    #[test]
    fn result_message_ids_match_the_reference_formats() {
        let c = must_client("svc-a");
        assert_eq!(
            result_msg_id(ResultKind::Keygen, None, "w1", None),
            "mpc.mpc_keygen_result.w1"
        );
        assert_eq!(
            result_msg_id(ResultKind::Keygen, None, "w1", Some("")),
            "mpc.mpc_keygen_result.w1"
        );
        assert_eq!(
            result_msg_id(ResultKind::Signing, Some(&c), "tx1", Some("s-9")),
            "mpc.mpc_signing_result.svc-a:tx1:s-9"
        );
        assert_eq!(
            result_msg_id(ResultKind::Reshare, Some(&c), "sess", None),
            "mpc.mpc_reshare_result.svc-a:sess"
        );
    }

    #[test]
    fn request_subjects_fall_under_the_stream_filters() {
        assert_eq!(keygen_request_subject("w1"), "mpc.keygen_request.w1");
        assert_eq!(signing_request_subject("t1"), "mpc.signing_request.t1");
        assert_eq!(KEYGEN_REQUEST_SUBJECTS, "mpc.keygen_request.*");
        assert_eq!(SIGNING_REQUEST_SUBJECTS, "mpc.signing_request.*");
    }
}
