//! The `ERROR_*` codes a result carries in `error_code`, spelled exactly as the reference does.
//!
//! Parsing is tolerant: a code this crate does not know (one added by a later server) becomes
//! [`ErrorCode::Other`] instead of failing, so clients keep working across upgrades. A successful
//! result carries an empty `error_code`; results model that as `Option<ErrorCode>` = `None`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident => $wire:literal,)*) => {
        /// A stable, machine-readable failure category (`ERROR_*` on the wire).
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A code this version does not know; holds the wire string unchanged.
            Other(String),
        }

        impl ErrorCode {
            /// Every code this version knows, in reference order.
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(code) => code,
                }
            }

            /// Parses a wire string; unknown strings become [`ErrorCode::Other`].
            pub fn from_wire(code: &str) -> Self {
                match code {
                    $($wire => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    /// `ERROR_UNKNOWN`.
    Unknown => "ERROR_UNKNOWN",
    /// `ERROR_NETWORK_TIMEOUT`.
    NetworkTimeout => "ERROR_NETWORK_TIMEOUT",
    /// `ERROR_NETWORK_CONNECTION`.
    NetworkConnection => "ERROR_NETWORK_CONNECTION",
    /// `ERROR_NETWORK_SUBSCRIPTION`.
    NetworkSubscription => "ERROR_NETWORK_SUBSCRIPTION",
    /// `ERROR_MESSAGE_ROUTING`.
    MessageRouting => "ERROR_MESSAGE_ROUTING",
    /// `ERROR_DIRECT_MESSAGING`.
    DirectMessaging => "ERROR_DIRECT_MESSAGING",
    /// `ERROR_SESSION_TIMEOUT`.
    SessionTimeout => "ERROR_SESSION_TIMEOUT",
    /// `ERROR_SESSION_CREATION`.
    SessionCreation => "ERROR_SESSION_CREATION",
    /// `ERROR_SESSION_INITIALIZATION`.
    SessionInitialization => "ERROR_SESSION_INITIALIZATION",
    /// `ERROR_SESSION_CLEANUP`.
    SessionCleanup => "ERROR_SESSION_CLEANUP",
    /// `ERROR_SESSION_DUPLICATE`.
    SessionDuplicate => "ERROR_SESSION_DUPLICATE",
    /// `ERROR_SESSION_STALE`.
    SessionStale => "ERROR_SESSION_STALE",
    /// `ERROR_INSUFFICIENT_PARTICIPANTS`.
    InsufficientParticipants => "ERROR_INSUFFICIENT_PARTICIPANTS",
    /// `ERROR_INCOMPATIBLE_PEER_IDS`.
    IncompatiblePeerIds => "ERROR_INCOMPATIBLE_PEER_IDS",
    /// `ERROR_PEER_NOT_READY`.
    PeerNotReady => "ERROR_PEER_NOT_READY",
    /// `ERROR_PEER_UNAVAILABLE`.
    PeerUnavailable => "ERROR_PEER_UNAVAILABLE",
    /// `ERROR_PARTICIPANT_NOT_FOUND`.
    ParticipantNotFound => "ERROR_PARTICIPANT_NOT_FOUND",
    /// `ERROR_KEY_NOT_FOUND`.
    KeyNotFound => "ERROR_KEY_NOT_FOUND",
    /// `ERROR_KEY_ALREADY_EXISTS`.
    KeyAlreadyExists => "ERROR_KEY_ALREADY_EXISTS",
    /// `ERROR_KEY_GENERATION`.
    KeyGeneration => "ERROR_KEY_GENERATION",
    /// `ERROR_KEY_SAVE`.
    KeySave => "ERROR_KEY_SAVE",
    /// `ERROR_KEY_LOAD`.
    KeyLoad => "ERROR_KEY_LOAD",
    /// `ERROR_KEY_INFO_SAVE`.
    KeyInfoSave => "ERROR_KEY_INFO_SAVE",
    /// `ERROR_KEY_INFO_LOAD`.
    KeyInfoLoad => "ERROR_KEY_INFO_LOAD",
    /// `ERROR_KEY_ENCODING`.
    KeyEncoding => "ERROR_KEY_ENCODING",
    /// `ERROR_KEY_DECODING`.
    KeyDecoding => "ERROR_KEY_DECODING",
    /// `ERROR_MSG_VALIDATION`.
    MsgValidation => "ERROR_MSG_VALIDATION",
    /// `ERROR_SIGNATURE_GENERATION`.
    SignatureGeneration => "ERROR_SIGNATURE_GENERATION",
    /// `ERROR_SIGNATURE_VERIFICATION`.
    SignatureVerification => "ERROR_SIGNATURE_VERIFICATION",
    /// `ERROR_INVALID_INITIATOR_SIGNATURE`.
    InvalidInitiatorSignature => "ERROR_INVALID_INITIATOR_SIGNATURE",
    /// `ERROR_PRE_PARAMS_GENERATION`.
    PreParamsGeneration => "ERROR_PRE_PARAMS_GENERATION",
    /// `ERROR_TSS_PARTY_CREATION`.
    TssPartyCreation => "ERROR_TSS_PARTY_CREATION",
    /// `ERROR_MISSING_AUTHORIZER_SIGNATURE`.
    MissingAuthorizerSignature => "ERROR_MISSING_AUTHORIZER_SIGNATURE",
    /// `ERROR_INVALID_AUTHORIZER_SIGNATURE`.
    InvalidAuthorizerSignature => "ERROR_INVALID_AUTHORIZER_SIGNATURE",
    /// `ERROR_MARSHAL_FAILURE`.
    MarshalFailure => "ERROR_MARSHAL_FAILURE",
    /// `ERROR_UNMARSHAL_FAILURE`.
    UnmarshalFailure => "ERROR_UNMARSHAL_FAILURE",
    /// `ERROR_DATA_CORRUPTION`.
    DataCorruption => "ERROR_DATA_CORRUPTION",
    /// `ERROR_STORAGE_READ`.
    StorageRead => "ERROR_STORAGE_READ",
    /// `ERROR_STORAGE_WRITE`.
    StorageWrite => "ERROR_STORAGE_WRITE",
    /// `ERROR_STORAGE_INIT`.
    StorageInit => "ERROR_STORAGE_INIT",
    /// `ERROR_MESSAGE_VERIFICATION`.
    MessageVerification => "ERROR_MESSAGE_VERIFICATION",
    /// `ERROR_MESSAGE_FORMAT`.
    MessageFormat => "ERROR_MESSAGE_FORMAT",
    /// `ERROR_MESSAGE_DELIVERY`.
    MessageDelivery => "ERROR_MESSAGE_DELIVERY",
    /// `ERROR_MAX_DELIVERY_ATTEMPTS`.
    MaxDeliveryAttempts => "ERROR_MAX_DELIVERY_ATTEMPTS",
    /// `ERROR_INVALID_CONFIGURATION`.
    InvalidConfiguration => "ERROR_INVALID_CONFIGURATION",
    /// `ERROR_INVALID_THRESHOLD`.
    InvalidThreshold => "ERROR_INVALID_THRESHOLD",
    /// `ERROR_INVALID_SESSION_TYPE`.
    InvalidSessionType => "ERROR_INVALID_SESSION_TYPE",
    /// `ERROR_RESOURCE_EXHAUSTED`.
    ResourceExhausted => "ERROR_RESOURCE_EXHAUSTED",
    /// `ERROR_MEMORY_ALLOCATION`.
    MemoryAllocation => "ERROR_MEMORY_ALLOCATION",
    /// `ERROR_CONCURRENCY_LIMIT`.
    ConcurrencyLimit => "ERROR_CONCURRENCY_LIMIT",
    /// `ERROR_KEYGEN_FAILURE`.
    KeygenFailure => "ERROR_KEYGEN_FAILURE",
    /// `ERROR_SIGNING_FAILURE`.
    SigningFailure => "ERROR_SIGNING_FAILURE",
    /// `ERROR_RESHARE_FAILURE`.
    ReshareFailure => "ERROR_RESHARE_FAILURE",
    /// `ERROR_CONTEXT_CANCELLED`.
    ContextCancelled => "ERROR_CONTEXT_CANCELLED",
    /// `ERROR_OPERATION_ABORTED`.
    OperationAborted => "ERROR_OPERATION_ABORTED",
    /// `ERROR_NOT_MAJORITY`.
    NotMajority => "ERROR_NOT_MAJORITY",
    /// `ERROR_CLUSTER_NOT_READY`.
    ClusterNotReady => "ERROR_CLUSTER_NOT_READY",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> Self {
        Self::from_wire(code)
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(Self::from_wire(&code))
    }
}

/// Serde adapter for a result's `error_code`: `None` is the empty string the reference sends on
/// success; an empty string or `null` reads back as `None`.
pub(crate) mod optional {
    use super::ErrorCode;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        code: &Option<ErrorCode>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(code.as_ref().map_or("", ErrorCode::as_str))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<ErrorCode>, D::Error> {
        let code = Option::<String>::deserialize(deserializer)?;
        Ok(code
            .filter(|c| !c.is_empty())
            .map(|c| ErrorCode::from_wire(&c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips_through_its_wire_string() {
        assert_eq!(ErrorCode::KNOWN.len(), 57);
        for code in ErrorCode::KNOWN {
            assert!(code.as_str().starts_with("ERROR_"), "{code}");
            assert_eq!(&ErrorCode::from_wire(code.as_str()), code);
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(&serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
    }

    #[test]
    fn selected_codes_have_the_reference_spelling() {
        assert_eq!(ErrorCode::Unknown.as_str(), "ERROR_UNKNOWN");
        assert_eq!(
            ErrorCode::TssPartyCreation.as_str(),
            "ERROR_TSS_PARTY_CREATION"
        );
        assert_eq!(
            ErrorCode::IncompatiblePeerIds.as_str(),
            "ERROR_INCOMPATIBLE_PEER_IDS"
        );
        assert_eq!(
            ErrorCode::InvalidInitiatorSignature.as_str(),
            "ERROR_INVALID_INITIATOR_SIGNATURE"
        );
        assert_eq!(
            ErrorCode::MaxDeliveryAttempts.as_str(),
            "ERROR_MAX_DELIVERY_ATTEMPTS"
        );
        assert_eq!(
            ErrorCode::ClusterNotReady.as_str(),
            "ERROR_CLUSTER_NOT_READY"
        );
    }

    #[test]
    fn a_code_added_by_a_later_server_parses_as_other_and_survives_re_encoding() {
        let code: ErrorCode = serde_json::from_str("\"ERROR_FROM_THE_FUTURE\"").unwrap();
        assert_eq!(code, ErrorCode::Other("ERROR_FROM_THE_FUTURE".to_owned()));
        assert_eq!(
            serde_json::to_string(&code).unwrap(),
            "\"ERROR_FROM_THE_FUTURE\""
        );
    }

    #[test]
    fn a_non_string_code_is_rejected() {
        assert!(serde_json::from_str::<ErrorCode>("7").is_err());
    }
}
