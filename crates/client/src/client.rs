//! [`Client`]: connects, sets up streams and result consumers, publishes signed requests and
//! resolves each to its result.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::HeaderMap;
use mpcium_protocol::nats_url::{
    redact_credentials, redact_url, split_credentials, UrlCredentials,
};
use mpcium_protocol::subjects::{self, ResultKind, CLIENT_ID_HEADER, MSG_ID_HEADER};
use mpcium_protocol::{
    ClientId, ErrorCode, GenerateKeyMessage, KeygenResultEvent, ResharingResultEvent, ResultType,
    SigningResultEvent,
};

use crate::consumer::{self, reshare_request_subject};
use crate::dispatch::{Dispatcher, ResultEvent, ResultStream, Waiter};
use crate::error::{ClientError, ConnectError, Operation};
use crate::request::{request_msg_id, seal, Outgoing, ReshareRequest, SignRequest};
use crate::signer::{Authorizer, Signer};
use crate::task::{OwnedTask, ResultCallback};

/// Default wait for a result: 90 s, longer than a node's default session deadlines (60 s for
/// keygen, signing and resharing, plus 5 s the coordinator waits for its participants), so the
/// node's own timeout result arrives before the client gives up. Raise it with
/// [`ClientOptions::with_result_timeout`] when the cluster's `*_timeout_seconds` are raised.
pub const DEFAULT_RESULT_TIMEOUT: Duration = Duration::from_secs(90);

/// Waiters are keyed by result kind, so a waiter only ever receives its own kind.
const WRONG_KIND: &str = "a waiter received a result of another kind";

/// How to reach NATS. `Debug` redacts credentials in a URL.
#[derive(Clone)]
pub enum Nats {
    /// Connect to this URL (or comma-separated list) with default options; `user:password@` or
    /// `token@` in it authenticate.
    Url(String),
    /// Use an existing connection (TLS, credentials and reconnect policy are the caller's).
    Client(async_nats::Client),
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Nats::Url(url) => f.debug_tuple("Url").field(&redact_url(url)).finish(),
            Nats::Client(client) => f.debug_tuple("Client").field(client).finish(),
        }
    }
}

/// Everything [`Client::connect`] needs.
#[derive(Clone)]
pub struct ClientOptions {
    /// The NATS connection.
    pub nats: Nats,
    /// The event initiator's key.
    pub signer: Arc<dyn Signer>,
    /// Scopes result subjects and consumers to this client (`ClientID` header); `None` uses the
    /// shared unscoped consumers, as the reference client without a client ID does.
    pub client_id: Option<ClientId>,
    /// Authorizers that co-sign every request.
    pub authorizers: Vec<Authorizer>,
    /// How long `create_wallet` / `sign` / `reshare` wait for a result.
    pub result_timeout: Duration,
}

impl ClientOptions {
    /// Options with no client ID, no authorizers and [`DEFAULT_RESULT_TIMEOUT`].
    pub fn new(nats: Nats, signer: Arc<dyn Signer>) -> Self {
        Self {
            nats,
            signer,
            client_id: None,
            authorizers: Vec::new(),
            result_timeout: DEFAULT_RESULT_TIMEOUT,
        }
    }

    /// Sets the client ID.
    pub fn with_client_id(mut self, client_id: ClientId) -> Self {
        self.client_id = Some(client_id);
        self
    }

    /// Adds an authorizer.
    pub fn with_authorizer(mut self, authorizer: Authorizer) -> Self {
        self.authorizers.push(authorizer);
        self
    }

    /// Sets the result timeout.
    pub fn with_result_timeout(mut self, timeout: Duration) -> Self {
        self.result_timeout = timeout;
        self
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("nats", &self.nats)
            .field("signer", &self.signer.public_key_hex())
            .field("client_id", &self.client_id)
            .field("authorizers", &self.authorizers)
            .field("result_timeout", &self.result_timeout)
            .finish()
    }
}

struct Inner {
    nats: async_nats::Client,
    js: jetstream::Context,
    options: ClientOptions,
    dispatcher: Arc<Dispatcher>,
    /// The result consumer tasks; aborted when the last clone of the client is dropped.
    _consumers: Vec<OwnedTask>,
}

/// A connection to an mpcium cluster. Cheap to clone; the background result consumers stop
/// when the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// Connects to `url`, handing its credentials to async-nats as options (never inside the URL,
/// which it logs); errors carry the URL and reason redacted.
async fn connect_url(url: &str) -> Result<async_nats::Client, ConnectError> {
    let failed = |reason: String| ConnectError::Nats {
        url: redact_url(url),
        reason: redact_credentials(&reason, url),
    };
    let split = split_credentials(url).map_err(|e| failed(e.to_string()))?;
    let options = match split.credentials {
        None => async_nats::ConnectOptions::new(),
        Some(UrlCredentials::UserPassword { user, password }) => {
            async_nats::ConnectOptions::with_user_and_password(user, password)
        }
        Some(UrlCredentials::Token(token)) => async_nats::ConnectOptions::with_token(token),
    };
    options
        .connect(split.servers.split(',').map(str::trim).collect::<Vec<_>>())
        .await
        .map_err(|e| failed(e.to_string()))
}

/// Where a request goes.
enum Route {
    /// JetStream, de-duplicated by `Nats-Msg-Id`.
    JetStream,
    /// Core NATS (the reference's `mpc:reshare`): no storage, lost if no node listens.
    Core,
}

impl Client {
    /// Connects, ensures the streams exist and starts one result consumer per result kind.
    pub async fn connect(options: ClientOptions) -> Result<Client, ConnectError> {
        let nats = match &options.nats {
            Nats::Client(client) => client.clone(),
            Nats::Url(url) => connect_url(url).await?,
        };
        let js = jetstream::new(nats.clone());
        consumer::ensure_streams(&js).await?;
        let dispatcher = Dispatcher::new();
        let mut consumers = Vec::new();
        for kind in [ResultKind::Keygen, ResultKind::Signing, ResultKind::Reshare] {
            let pull = consumer::result_consumer(&js, kind, options.client_id.as_ref()).await?;
            consumers.push(OwnedTask::spawn(consumer::run(
                pull,
                kind,
                Arc::clone(&dispatcher),
            )));
        }
        Ok(Client {
            inner: Arc::new(Inner {
                nats,
                js,
                options,
                dispatcher,
                _consumers: consumers,
            }),
        })
    }

    /// The client ID results are scoped to.
    pub fn client_id(&self) -> Option<&ClientId> {
        self.inner.options.client_id.as_ref()
    }

    /// Every result this client receives from now on, awaited or not.
    pub fn results(&self) -> ResultStream {
        self.inner.dispatcher.subscribe()
    }

    /// Calls `callback` with every result this client receives from now on (the reference
    /// client's `On…Result` style), until the returned handle is dropped.
    pub fn on_result(&self, callback: impl FnMut(ResultEvent) + Send + 'static) -> ResultCallback {
        ResultCallback::spawn(self.results(), callback)
    }

    /// Creates a wallet (one secp256k1 and one Ed25519 key) and waits for its keys.
    ///
    /// Cancel safety: if the future is dropped after publishing, the request still runs and its
    /// result appears on [`Client::results`].
    pub async fn create_wallet(&self, wallet_id: &str) -> Result<KeygenResultEvent, ClientError> {
        let waiter = self
            .inner
            .dispatcher
            .register(ResultKind::Keygen, wallet_id);
        self.submit_create_wallet(wallet_id).await?;
        match self.wait(waiter, Operation::Keygen, wallet_id).await? {
            ResultEvent::Keygen(event) => {
                check(event.result_type, &event.error_code, &event.error_reason).map(|()| event)
            }
            _ => Err(ClientError::Bug(WRONG_KIND)),
        }
    }

    /// Publishes a keygen request without waiting; its result arrives on [`Client::results`].
    pub async fn submit_create_wallet(&self, wallet_id: &str) -> Result<(), ClientError> {
        let mut msg = GenerateKeyMessage {
            protocol: None,
            wallet_id: wallet_id.to_owned(),
            signature: Vec::new(),
            authorizer_signatures: Vec::new(),
        };
        let subject = subjects::keygen_request_subject(wallet_id);
        self.send(&mut msg, subject, Route::JetStream).await
    }

    /// Signs and waits for the signature.
    ///
    /// Cancel safety: as [`Client::create_wallet`].
    pub async fn sign(&self, request: SignRequest) -> Result<SigningResultEvent, ClientError> {
        let mut msg = request.to_message();
        let tx_id = msg.request.tx_id.clone();
        let waiter = self.inner.dispatcher.register(ResultKind::Signing, &tx_id);
        let subject = subjects::signing_request_subject(&tx_id);
        self.send(&mut msg, subject, Route::JetStream).await?;
        match self.wait(waiter, Operation::Signing, &tx_id).await? {
            ResultEvent::Signing(event) => {
                check(event.result_type, &event.error_code, &event.error_reason).map(|()| event)
            }
            _ => Err(ClientError::Bug(WRONG_KIND)),
        }
    }

    /// Publishes a signing request without waiting; returns its transaction ID.
    pub async fn submit_sign(&self, request: SignRequest) -> Result<String, ClientError> {
        let mut msg = request.to_message();
        let subject = subjects::signing_request_subject(&msg.request.tx_id);
        self.send(&mut msg, subject, Route::JetStream).await?;
        Ok(msg.request.tx_id)
    }

    /// Reshares through the durable `mpc-reshare` stream (mpcium-rs nodes) and waits for the
    /// result of the new committee.
    ///
    /// Cancel safety: as [`Client::create_wallet`].
    pub async fn reshare(
        &self,
        request: ReshareRequest,
    ) -> Result<ResharingResultEvent, ClientError> {
        self.reshare_via(request, Route::JetStream).await
    }

    /// Reshares through the reference's core subject `mpc:reshare` (not durable: lost if no
    /// node is listening) and waits for the result.
    pub async fn reshare_core(
        &self,
        request: ReshareRequest,
    ) -> Result<ResharingResultEvent, ClientError> {
        self.reshare_via(request, Route::Core).await
    }

    /// Publishes a durable resharing request without waiting; returns its session ID.
    pub async fn submit_reshare(&self, request: ReshareRequest) -> Result<String, ClientError> {
        let mut msg = request.to_message();
        let subject = reshare_request_subject(&msg.session_id);
        self.send(&mut msg, subject, Route::JetStream).await?;
        Ok(msg.session_id)
    }

    async fn reshare_via(
        &self,
        request: ReshareRequest,
        route: Route,
    ) -> Result<ResharingResultEvent, ClientError> {
        let mut msg = request.to_message();
        let session_id = msg.session_id.clone();
        let waiter = self
            .inner
            .dispatcher
            .register(ResultKind::Reshare, &session_id);
        let subject = match route {
            Route::JetStream => reshare_request_subject(&session_id),
            Route::Core => subjects::RESHARE_SUBJECT.to_owned(),
        };
        self.send(&mut msg, subject, route).await?;
        match self.wait(waiter, Operation::Reshare, &session_id).await? {
            ResultEvent::Reshare { event, .. } => {
                check(event.result_type, &event.error_code, &event.error_reason).map(|()| event)
            }
            _ => Err(ClientError::Bug(WRONG_KIND)),
        }
    }

    /// Validates, signs and publishes `msg` with the `ClientID` and (JetStream) `Nats-Msg-Id`
    /// headers; for JetStream, waits until the server confirms it stored the request.
    async fn send(
        &self,
        msg: &mut impl Outgoing,
        subject: String,
        route: Route,
    ) -> Result<(), ClientError> {
        let options = &self.inner.options;
        let payload = seal(msg, options.signer.as_ref(), &options.authorizers)?;
        let mut headers = HeaderMap::new();
        if let Some(client_id) = &options.client_id {
            headers.insert(CLIENT_ID_HEADER, client_id.as_str());
        }
        let publish_error = |reason: String| ClientError::Publish {
            subject: subject.clone(),
            reason,
        };
        match route {
            Route::JetStream => {
                let call = uuid::Uuid::new_v4().simple().to_string();
                let msg_id = request_msg_id(
                    options.client_id.as_ref(),
                    msg.initiator_id(),
                    &msg.signed_bytes(),
                    &call,
                );
                headers.insert(MSG_ID_HEADER, msg_id.as_str());
                self.inner
                    .js
                    .publish_with_headers(subject.clone(), headers, payload.into())
                    .await
                    .map_err(|e| publish_error(e.to_string()))?
                    .await
                    .map_err(|e| publish_error(e.to_string()))?;
            }
            Route::Core => {
                self.inner
                    .nats
                    .publish_with_headers(subject.clone(), headers, payload.into())
                    .await
                    .map_err(|e| publish_error(e.to_string()))?;
                self.inner
                    .nats
                    .flush()
                    .await
                    .map_err(|e| publish_error(e.to_string()))?;
            }
        }
        Ok(())
    }

    async fn wait(
        &self,
        waiter: Waiter,
        what: Operation,
        id: &str,
    ) -> Result<ResultEvent, ClientError> {
        match tokio::time::timeout(self.inner.options.result_timeout, waiter.recv()).await {
            Ok(Some(event)) => Ok(event),
            Ok(None) => Err(ClientError::Closed),
            Err(_) => Err(ClientError::Timeout {
                what,
                id: id.to_owned(),
            }),
        }
    }
}

/// Turns an error result into [`ClientError::Failed`].
fn check(
    result_type: ResultType,
    code: &Option<ErrorCode>,
    reason: &str,
) -> Result<(), ClientError> {
    match result_type {
        ResultType::Success => Ok(()),
        ResultType::Error => Err(ClientError::Failed {
            code: code.clone().unwrap_or(ErrorCode::Unknown),
            reason: reason.to_owned(),
        }),
    }
}
