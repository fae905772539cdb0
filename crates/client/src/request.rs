//! What a caller asks for ([`SignRequest`], [`ReshareRequest`]) and how it becomes a signed wire
//! message: validated with the nodes' own decoder, signed by the initiator, co-signed by every
//! authorizer, and given its `Nats-Msg-Id`.

use mpcium_protocol::requests::EXTENDED_REQUEST_VERSION;
use mpcium_protocol::{
    AuthorizerSignature, ClientId, DecodeError, GenerateKeyMessage, InitiatorMessage, KeyType,
    MessageHash, ResharingMessage, SignTxForm, SignTxMessage, SignedAs,
};
use sha2::{Digest as _, Sha256};

use crate::error::ClientError;
use crate::signer::{Authorizer, Signer};

/// A signing request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignRequest {
    /// Which of the wallet's keys signs.
    pub key_type: KeyType,
    /// The wallet.
    pub wallet_id: String,
    /// What to sign: the 32-byte digest (secp256k1 without [`Self::hash`]), the message to hash
    /// (secp256k1 with a hash mode), or the message itself (Ed25519).
    pub tx: Vec<u8>,
    /// Transaction ID; `None` picks a fresh UUID v4.
    pub tx_id: Option<String>,
    /// Opaque network tag echoed in the result.
    pub network_internal_code: String,
    /// Non-hardened child-key path.
    pub derivation_path: Option<Vec<u32>>,
    /// Hash mode for secp256k1 messages; implies the extended form.
    pub hash: Option<MessageHash>,
    /// The bytes the initiator signs. Default [`SignTxForm::PathBound`], what upstream-master
    /// clients sign (the path, when given, is covered; without one it equals the v0.3.5 form);
    /// [`SignTxForm::Extended`] (`request_version: 2`, needs mpcium-rs nodes) is implied by
    /// [`Self::hash`]; [`SignTxForm::Reference`] signs a path the way v0.3.5 clients did, for
    /// v0.3.5 nodes.
    pub form: SignTxForm,
}

impl SignRequest {
    /// Signs the 32-byte `digest` with the wallet's secp256k1 key (reference form).
    pub fn ecdsa_digest(wallet_id: impl Into<String>, digest: [u8; 32]) -> Self {
        Self::new(KeyType::Secp256k1, wallet_id, digest.to_vec())
    }

    /// Has the nodes hash `message` with `hash` and sign it with the secp256k1 key (extended form).
    pub fn ecdsa_message(
        wallet_id: impl Into<String>,
        message: impl Into<Vec<u8>>,
        hash: MessageHash,
    ) -> Self {
        Self {
            hash: Some(hash),
            form: SignTxForm::Extended,
            ..Self::new(KeyType::Secp256k1, wallet_id, message.into())
        }
    }

    /// Signs `message` with the wallet's Ed25519 key.
    pub fn eddsa(wallet_id: impl Into<String>, message: impl Into<Vec<u8>>) -> Self {
        Self::new(KeyType::Ed25519, wallet_id, message.into())
    }

    fn new(key_type: KeyType, wallet_id: impl Into<String>, tx: Vec<u8>) -> Self {
        Self {
            key_type,
            wallet_id: wallet_id.into(),
            tx,
            tx_id: None,
            network_internal_code: String::new(),
            derivation_path: None,
            hash: None,
            form: SignTxForm::PathBound,
        }
    }

    /// Sets the transaction ID.
    pub fn with_tx_id(mut self, tx_id: impl Into<String>) -> Self {
        self.tx_id = Some(tx_id.into());
        self
    }

    /// Sets the network tag.
    pub fn with_network(mut self, code: impl Into<String>) -> Self {
        self.network_internal_code = code.into();
        self
    }

    /// Signs with the child key at `path`, covered by the initiator signature unless the form
    /// is [`SignTxForm::Reference`].
    pub fn with_derivation_path(mut self, path: Vec<u32>) -> Self {
        self.derivation_path = Some(path);
        self
    }

    /// Selects the signed form (see [`Self::form`]).
    pub fn with_form(mut self, form: SignTxForm) -> Self {
        self.form = form;
        self
    }

    /// The unsigned wire message, with the form its signature will cover.
    pub(crate) fn to_message(&self) -> SignedAs<SignTxMessage> {
        let form = match self.hash {
            Some(_) => SignTxForm::Extended,
            None => self.form,
        };
        let request = SignTxMessage {
            protocol: None,
            key_type: self.key_type,
            wallet_id: self.wallet_id.clone(),
            network_internal_code: self.network_internal_code.clone(),
            tx_id: self
                .tx_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            tx: self.tx.clone(),
            signature: Vec::new(),
            derivation_path: self.derivation_path.clone(),
            authorizer_signatures: Vec::new(),
            request_version: (form == SignTxForm::Extended).then_some(EXTENDED_REQUEST_VERSION),
            hash: self.hash,
        };
        SignedAs { request, form }
    }
}

/// A resharing request: move a wallet key to the committee `node_ids` with `new_threshold`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReshareRequest {
    /// Resharing session ID; `None` picks a fresh UUID v4.
    pub session_id: Option<String>,
    /// The wallet.
    pub wallet_id: String,
    /// Which of its keys.
    pub key_type: KeyType,
    /// Node IDs of the new committee.
    pub node_ids: Vec<String>,
    /// Number of signers required afterwards (not the polynomial degree).
    pub new_threshold: u16,
}

impl ReshareRequest {
    pub(crate) fn to_message(&self) -> ResharingMessage {
        ResharingMessage {
            session_id: self
                .session_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            node_ids: Some(self.node_ids.clone()),
            new_threshold: self.new_threshold,
            key_type: self.key_type,
            wallet_id: self.wallet_id.clone(),
            signature: Vec::new(),
            authorizer_signatures: Vec::new(),
        }
    }
}

/// A request message the client can validate, sign and send.
pub(crate) trait Outgoing: InitiatorMessage {
    fn to_json(&self) -> Vec<u8>;
    fn validate(&self) -> Result<(), DecodeError>;
    fn set_signatures(&mut self, initiator: Vec<u8>, authorizers: Vec<AuthorizerSignature>);
}

macro_rules! outgoing {
    ($ty:ty) => {
        impl Outgoing for $ty {
            fn to_json(&self) -> Vec<u8> {
                <$ty>::to_json(self)
            }
            fn validate(&self) -> Result<(), DecodeError> {
                <$ty>::from_json(&<$ty>::to_json(self)).map(|_| ())
            }
            fn set_signatures(
                &mut self,
                initiator: Vec<u8>,
                authorizers: Vec<AuthorizerSignature>,
            ) {
                self.signature = initiator;
                self.authorizer_signatures = authorizers;
            }
        }
    };
}

outgoing!(GenerateKeyMessage);
outgoing!(ResharingMessage);

impl Outgoing for SignedAs<SignTxMessage> {
    fn to_json(&self) -> Vec<u8> {
        self.request.to_json()
    }
    fn validate(&self) -> Result<(), DecodeError> {
        SignTxMessage::from_json(&self.request.to_json()).map(|_| ())
    }
    fn set_signatures(&mut self, initiator: Vec<u8>, authorizers: Vec<AuthorizerSignature>) {
        self.request.signature = initiator;
        self.request.authorizer_signatures = authorizers;
    }
}

/// Validates `msg` exactly as a node will, then signs it as initiator and co-signs it as every
/// authorizer. Returns the wire bytes.
pub(crate) fn seal(
    msg: &mut impl Outgoing,
    initiator: &dyn Signer,
    authorizers: &[Authorizer],
) -> Result<Vec<u8>, ClientError> {
    msg.validate()?;
    let signature = initiator
        .sign(&msg.signed_bytes())
        .map_err(|source| ClientError::Sign {
            signer: "initiator".to_owned(),
            source,
        })?;
    msg.set_signatures(signature, Vec::new());
    let payload = msg.authorizer_payload();
    let mut cosigned = Vec::with_capacity(authorizers.len());
    for authorizer in authorizers {
        let signature = authorizer
            .signer
            .sign(&payload)
            .map_err(|source| ClientError::Sign {
                signer: format!("authorizer {}", authorizer.id),
                source,
            })?;
        cosigned.push(AuthorizerSignature {
            authorizer_id: authorizer.id.clone(),
            signature,
        });
    }
    let initiator_signature = msg.initiator_signature().to_vec();
    msg.set_signatures(initiator_signature, cosigned);
    Ok(msg.to_json())
}

/// The `Nats-Msg-Id` of one published request: `[<clientID>:]<id>:<16 hex of SHA-256(signed
/// bytes)>:<call>`, where `call` is unique per SDK call. JetStream absorbs re-publications of the
/// same call (a retry after a lost acknowledgement) within its duplicate window, while a repeated
/// *call* always reaches the nodes, which answer it from their result cache (same content) or
/// with `ERROR_SESSION_DUPLICATE` (same id, other content) — it never vanishes.
pub fn request_msg_id(
    client: Option<&ClientId>,
    id: &str,
    signed_bytes: &[u8],
    call: &str,
) -> String {
    let digest = Sha256::digest(signed_bytes);
    let short = hex::encode(digest.get(..8).unwrap_or_default());
    match client {
        Some(c) => format!("{c}:{id}:{short}:{call}"),
        None => format!("{id}:{short}:{call}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalSigner;
    use mpcium_protocol::{Authorizers, PublicKey};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    #[test]
    fn a_sealed_request_verifies_for_the_initiator_and_every_authorizer() {
        let initiator = LocalSigner::ed25519_from_seed(&[1; 32]);
        let auth_a = Arc::new(LocalSigner::ed25519_from_seed(&[2; 32]));
        let auth_b = Arc::new(LocalSigner::p256_from_scalar(&[3; 32]).unwrap());
        let authorizers = vec![
            Authorizer::new("a", auth_a.clone()),
            Authorizer::new("b", auth_b.clone()),
        ];
        let mut msg = SignRequest::ecdsa_message("w1", b"hello".to_vec(), MessageHash::Sha256)
            .with_derivation_path(vec![1, 2])
            .to_message();
        let wire = seal(&mut msg, &initiator, &authorizers).unwrap();
        let received = SignTxMessage::from_json(&wire).unwrap();
        assert_eq!(received.request_version, Some(2));
        assert_eq!(initiator.public_key().verify_request(&received), Ok(()));
        let keys = BTreeMap::from([
            ("a".to_owned(), auth_a.public_key().clone()),
            ("b".to_owned(), auth_b.public_key().clone()),
        ]);
        let required = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            Authorizers::new(keys, required).unwrap().verify(&received),
            Ok(())
        );
        let parsed = PublicKey::parse(initiator.algorithm(), &initiator.public_key_hex()).unwrap();
        assert_eq!(parsed, initiator.public_key().clone());
    }

    #[test]
    fn a_request_the_nodes_would_refuse_is_refused_before_signing() {
        let initiator = LocalSigner::ed25519_from_seed(&[1; 32]);
        let mut short = SignRequest::ecdsa_digest("w1", [0; 32]).to_message();
        short.request.tx.truncate(31);
        assert!(matches!(
            seal(&mut short, &initiator, &[]),
            Err(ClientError::InvalidRequest(_))
        ));
        let mut bad_id = SignRequest::eddsa("w.1", b"m".to_vec()).to_message();
        assert!(matches!(
            seal(&mut bad_id, &initiator, &[]),
            Err(ClientError::InvalidRequest(_))
        ));
        let mut hashed_eddsa = SignRequest::eddsa("w1", b"m".to_vec()).to_message();
        hashed_eddsa.request.hash = Some(MessageHash::Sha256);
        hashed_eddsa.request.request_version = Some(2);
        assert!(seal(&mut hashed_eddsa, &initiator, &[]).is_err());
    }

    #[test]
    fn a_path_is_signed_in_the_upstream_six_field_form_unless_another_form_is_chosen() {
        let initiator = LocalSigner::ed25519_from_seed(&[1; 32]);
        let key = initiator.public_key();
        let plain = SignRequest::ecdsa_digest("w1", [0; 32]).to_message();
        assert_eq!(plain.request.request_version, None);
        assert!(!plain.request.tx_id.is_empty());

        let mut pathed = SignRequest::eddsa("w1", b"m".to_vec())
            .with_derivation_path(vec![0])
            .to_message();
        let wire = seal(&mut pathed, &initiator, &[]).unwrap();
        let received = SignTxMessage::from_json(&wire).unwrap();
        assert_eq!((received.request_version, received.hash), (None, None));
        let verifies = |form| key.verify_request(&received.signed_as(form)).is_ok();
        assert!(verifies(SignTxForm::PathBound));
        assert!(!verifies(SignTxForm::Reference));

        let mut legacy = SignRequest::eddsa("w1", b"m".to_vec())
            .with_derivation_path(vec![0])
            .with_form(SignTxForm::Reference)
            .to_message();
        let received =
            SignTxMessage::from_json(&seal(&mut legacy, &initiator, &[]).unwrap()).unwrap();
        let verifies = |form| key.verify_request(&received.signed_as(form)).is_ok();
        assert!(verifies(SignTxForm::Reference));
        assert!(!verifies(SignTxForm::PathBound));

        let mut extended = SignRequest::eddsa("w1", b"m".to_vec())
            .with_derivation_path(vec![0])
            .with_form(SignTxForm::Extended)
            .to_message();
        let received =
            SignTxMessage::from_json(&seal(&mut extended, &initiator, &[]).unwrap()).unwrap();
        assert_eq!(received.request_version, Some(2));
        assert_eq!(key.verify_request(&received), Ok(()));
    }

    #[test]
    fn message_ids_change_with_content_and_client_but_not_with_signatures() {
        let client = ClientId::new("svc").unwrap();
        let a = request_msg_id(None, "t1", b"one", "c1");
        assert_eq!(a, request_msg_id(None, "t1", b"one", "c1"));
        assert!(
            a.starts_with("t1:") && a.ends_with(":c1") && a.len() == "t1:".len() + 16 + 3,
            "{a}"
        );
        assert_ne!(a, request_msg_id(None, "t1", b"two", "c1"));
        assert_ne!(a, request_msg_id(None, "t1", b"one", "c2"));
        assert!(request_msg_id(Some(&client), "t1", b"one", "c1").starts_with("svc:t1:"));
    }
}
