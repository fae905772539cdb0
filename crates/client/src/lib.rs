//! Rust SDK for an mpcium cluster.
//!
//! A [`Client`] publishes requests signed by the event initiator (and co-signed by authorizers)
//! to the cluster's JetStream streams and resolves each to its result, correlated by wallet ID
//! (keygen), transaction ID (signing) or session ID (resharing):
//!
//! ```no_run
//! use std::sync::Arc;
//! use mpcium_client::{Client, ClientOptions, LocalSigner, Nats, SignRequest};
//! use mpcium_protocol::{ClientId, InitiatorAlgorithm, MessageHash};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let signer = LocalSigner::find_in(".".as_ref(), InitiatorAlgorithm::Ed25519, None)?;
//! let options = ClientOptions::new(Nats::Url("nats://127.0.0.1:4222".into()), Arc::new(signer))
//!     .with_client_id(ClientId::new("payments")?);
//! let client = Client::connect(options).await?;
//!
//! let wallet = client.create_wallet("wallet-1").await?;
//! let signature = client
//!     .sign(SignRequest::ecdsa_message("wallet-1", b"unsigned tx".to_vec(), MessageHash::Keccak256))
//!     .await?;
//! # let _ = (wallet, signature);
//! # Ok(())
//! # }
//! ```
//!
//! * **Results as futures** — `create_wallet`, `sign`, `reshare` (durable stream `mpc-reshare`)
//!   and `reshare_core` (the reference's core subject `mpc:reshare`) return the success event,
//!   [`ClientError::Failed`] with the cluster's [`ErrorCode`](mpcium_protocol::ErrorCode) for an
//!   error result, or [`ClientError::Timeout`] after [`ClientOptions::result_timeout`].
//! * **Fire and forget** — `submit_*` publish and return the ID; [`Client::results`] (a stream)
//!   and [`Client::on_result`] (a callback) see every result this client receives.
//! * **Client ID routing** — with [`ClientOptions::client_id`], requests carry the `ClientID`
//!   header and results come back on subjects and durable consumers scoped to that ID, so one
//!   client never consumes another's results.
//! * **Signers** — [`Signer`] is the seam for KMS/HSM keys; [`LocalSigner`] reads Ed25519 or
//!   P-256 key files, plain or age-encrypted.
//! * **Child keys** — [`hd`] computes the public keys derivation paths sign for.
//! * **Load generation** — [`bench`] fires checked requests and tallies latencies and errors
//!   (`mpcium-cli benchmark`).
//!
//! Requests are validated with the nodes' own decoder before they are signed, so a request the
//! cluster would refuse fails locally with [`ClientError::InvalidRequest`]. Nothing in this crate
//! exits or panics the host process. The wire contract is described in `docs/protocol.md`.

#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod bench;
mod client;
mod consumer;
mod dispatch;
mod error;
pub mod hd;
mod local_signer;
mod request;
mod signer;
mod task;

pub use client::{Client, ClientOptions, Nats, DEFAULT_RESULT_TIMEOUT};
pub use consumer::{
    reshare_request_subject, RESHARE_CONSUMER, RESHARE_REQUEST_SUBJECTS, RESHARE_STREAM,
};
pub use dispatch::{ResultEvent, ResultStream, ResultsLagged, RESULT_STREAM_CAPACITY};
pub use error::{ClientError, ClientErrorKind, ConnectError, Operation};
pub use local_signer::{
    KeyFileError, LocalSigner, Passphrase, INITIATOR_KEY_FILES, MAX_AGE_WORK_FACTOR,
};
pub use request::{request_msg_id, ReshareRequest, SignRequest};
pub use signer::{Authorizer, Signer, SignerError};
pub use task::ResultCallback;
