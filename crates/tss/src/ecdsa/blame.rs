//! The one place where cggmp24's errors become [`TssError`]s, keeping blame.
//!
//! cggmp24 keeps its error reasons private: `KeygenError`, `KeyRefreshError` and `SigningError`
//! expose only `Display`, `source()` and `Debug`. So:
//! 1. delivery and routing failures are found by walking `source()`
//!    ([`crate::delivery::protocol_error`]);
//! 2. where cggmp24 drops the chain (its signing `RouteReceivedError` has no `#[source]`), and for
//!    aborts, the culprits are read from the `Debug` rendering: every abort lists
//!    `AbortBlame { faulty_party: i, .. }` or `parties: [..]`, and a duplicated message shows
//!    `AttemptToOverwriteReceivedMsg { .., sender: i }`. These strings are pinned by the exact
//!    cggmp24 version; the tampering tests fail if a bump changes them.
//! 3. the remaining cases are classified by the reason's name (invalid arguments, I/O, bug).

use crate::delivery::protocol_error;
use crate::error::PartyIndex;
use crate::TssError;

/// Which protocol failed, for messages.
#[derive(Clone, Copy)]
pub(super) enum Stage {
    AuxInfo,
    Keygen,
    Signing,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Self::AuxInfo => "aux info generation",
            Self::Keygen => "key generation",
            Self::Signing => "signing",
        }
    }
}

/// Converts a failed cggmp24 protocol's error.
pub(super) fn map_error<E>(stage: Stage, err: E) -> TssError
where
    E: std::error::Error + 'static,
{
    if let Some(mapped) = protocol_error(&err) {
        return mapped;
    }
    // Debug output of these errors carries indices, message ids and proof-failure names, never
    // secret values; it is parsed here and not stored.
    let debug = format!("{err:?}");
    let chain = display_chain(&err);
    if let Some(sender) = number_after(&debug, "AttemptToOverwriteReceivedMsg", "sender: ") {
        return TssError::BadMessage {
            sender,
            reason: "sent two messages in one round".into(),
        };
    }
    if debug.contains("Aborted") || debug.contains("ProtocolAborted") {
        let culprits = culprits(&debug);
        if !culprits.is_empty() {
            return TssError::Misbehaviour {
                culprits,
                reason: format!("{} aborted: {chain}", stage.name()),
            };
        }
        return TssError::Misbehaviour {
            culprits: vec![],
            reason: format!(
                "{} aborted without an identified culprit: {chain}",
                stage.name()
            ),
        };
    }
    if debug.contains("InvalidArgs") || debug.contains("InvalidKeyShare(") {
        return TssError::InvalidInput(format!("{}: {chain}", stage.name()));
    }
    if debug.contains("ReceiveMessageEof") {
        return TssError::Transport(format!("{}: incoming channel closed", stage.name()));
    }
    if debug.contains("IoError") {
        return TssError::Transport(format!("{}: {chain}", stage.name()));
    }
    TssError::Bug(format!("{}: {chain}", stage.name()))
}

/// `err: source: source...`, lower-level causes last.
fn display_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

/// Every party named by an abort, sorted and deduplicated.
fn culprits(debug: &str) -> Vec<PartyIndex> {
    let mut out: Vec<PartyIndex> = numbers_after(debug, "faulty_party: ");
    for list in debug.split("parties: [").skip(1) {
        let body = list.split(']').next().unwrap_or_default();
        out.extend(
            body.split(',')
                .filter_map(|s| s.trim().parse::<PartyIndex>().ok()),
        );
    }
    // keygen's `Round1NotReliable([(party, msg_id), ..])`
    if let Some(rest) = debug.split("Round1NotReliable([").nth(1) {
        let body = rest.split("])").next().unwrap_or_default();
        out.extend(
            body.split('(')
                .skip(1)
                .filter_map(|t| t.split(',').next()?.trim().parse::<PartyIndex>().ok()),
        );
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn numbers_after(haystack: &str, marker: &str) -> Vec<PartyIndex> {
    haystack
        .split(marker)
        .skip(1)
        .filter_map(leading_number)
        .collect()
}

fn number_after(haystack: &str, anchor: &str, marker: &str) -> Option<PartyIndex> {
    let after_anchor = haystack.split(anchor).nth(1)?;
    leading_number(after_anchor.split(marker).nth(1)?)
}

fn leading_number(s: &str) -> Option<PartyIndex> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn culprits_are_read_from_abort_blames_party_lists_and_unreliable_rounds() {
        let d = "SigningError(Aborted(InvalidPsi([(AbortBlame { faulty_party: 2, data_message: 5, \
                 proof_message: 9 }, (None, None, None)), (AbortBlame { faulty_party: 0, .. })])))";
        assert_eq!(culprits(d), vec![0, 2]);
        assert_eq!(
            culprits("FeldmanVerificationFailed { parties: [1, 3] }"),
            vec![1, 3]
        );
        assert_eq!(culprits("Round1NotReliable([(4, 17), (1, 3)])"), vec![1, 4]);
        assert!(culprits("MismatchedDelta").is_empty());
    }

    #[test]
    fn a_duplicate_message_is_found_even_without_a_source_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("signing protocol failed")]
        struct Opaque(&'static str);
        let err = Opaque("IoError(RouteReceivedError(ProcessMessage(AttemptToOverwriteReceivedMsg { msgs_ids: [1, 65538], sender: 2 })))");
        let mapped = map_error(Stage::Signing, err);
        assert_eq!(mapped.kind(), crate::ErrorKind::BadMessage);
        assert_eq!(mapped.culprits(), &[2]);
    }
}
