//! Routing of received results: to the futures waiting for one wallet / transaction / session
//! ID, and to every subscriber of the results stream.
//!
//! Invariant: a waiter is registered *before* its request is published, so a result can never
//! arrive before anyone waits for it. A waiter that is dropped (timed out or cancelled)
//! unregisters itself.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _};
use mpcium_protocol::{KeygenResultEvent, ResharingResultEvent, ResultKind, SigningResultEvent};
use tokio::sync::{broadcast, oneshot};

/// How many results a slow [`ResultStream`] may fall behind before it misses some.
pub const RESULT_STREAM_CAPACITY: usize = 1024;

/// One result received from the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResultEvent {
    /// A keygen result.
    Keygen(KeygenResultEvent),
    /// A signing result.
    Signing(SigningResultEvent),
    /// A resharing result, with the session ID taken from its subject (the event has none).
    Reshare {
        /// The resharing session ID.
        session_id: String,
        /// The event.
        event: ResharingResultEvent,
    },
}

impl ResultEvent {
    /// The kind of result.
    pub fn kind(&self) -> ResultKind {
        match self {
            Self::Keygen(_) => ResultKind::Keygen,
            Self::Signing(_) => ResultKind::Signing,
            Self::Reshare { .. } => ResultKind::Reshare,
        }
    }

    /// The ID it answers: wallet ID (keygen), transaction ID (signing) or session ID (reshare).
    pub fn id(&self) -> &str {
        match self {
            Self::Keygen(ev) => &ev.wallet_id,
            Self::Signing(ev) => &ev.tx_id,
            Self::Reshare { session_id, .. } => session_id,
        }
    }
}

type Key = (ResultKind, String);

/// The routing table shared by the consumer tasks and the request futures.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    pending: Mutex<HashMap<Key, Vec<oneshot::Sender<ResultEvent>>>>,
    subscribers: broadcast::Sender<ResultEvent>,
}

impl Dispatcher {
    pub(crate) fn new() -> Arc<Self> {
        let (subscribers, _) = broadcast::channel(RESULT_STREAM_CAPACITY);
        Arc::new(Self {
            pending: Mutex::new(HashMap::new()),
            subscribers,
        })
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<Key, Vec<oneshot::Sender<ResultEvent>>>> {
        // The map stays consistent even if a holder panicked: every operation is one insert
        // or remove.
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers interest in the result for `id`; see the module invariant.
    pub(crate) fn register(self: &Arc<Self>, kind: ResultKind, id: &str) -> Waiter {
        let (tx, rx) = oneshot::channel();
        let key = (kind, id.to_owned());
        self.pending().entry(key.clone()).or_default().push(tx);
        Waiter {
            rx,
            key,
            dispatcher: Arc::clone(self),
        }
    }

    /// Hands `event` to everyone waiting for its ID and to every stream subscriber.
    pub(crate) fn dispatch(&self, event: ResultEvent) {
        let key = (event.kind(), event.id().to_owned());
        let waiters = self.pending().remove(&key).unwrap_or_default();
        for waiter in waiters {
            // A waiter that gave up in the meantime is fine to skip.
            let _ = waiter.send(event.clone());
        }
        // No subscribers is fine: the result was for a waiter or nobody listens.
        let _ = self.subscribers.send(event);
    }

    /// A new stream of every result dispatched from now on.
    pub(crate) fn subscribe(&self) -> ResultStream {
        let rx = self.subscribers.subscribe();
        let inner = futures::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(event) => Some((Ok(event), rx)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Some((Err(ResultsLagged { missed }), rx))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
        .boxed();
        ResultStream { inner }
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.pending().values().map(Vec::len).sum()
    }
}

/// A registered interest in one result; unregisters itself when dropped.
#[derive(Debug)]
pub(crate) struct Waiter {
    rx: oneshot::Receiver<ResultEvent>,
    key: Key,
    dispatcher: Arc<Dispatcher>,
}

impl Waiter {
    /// The result, or `None` if the dispatcher is gone.
    ///
    /// Cancel safety: dropping the future drops the waiter; a result arriving later still goes
    /// to the results stream.
    pub(crate) async fn recv(mut self) -> Option<ResultEvent> {
        (&mut self.rx).await.ok()
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.rx.close();
        let mut pending = self.dispatcher.pending();
        if let Some(senders) = pending.get_mut(&self.key) {
            senders.retain(|s| !s.is_closed());
            if senders.is_empty() {
                pending.remove(&self.key);
            }
        }
    }
}

/// A subscriber fell behind by `missed` results, which it will not see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the results stream fell behind and missed {missed} results")]
pub struct ResultsLagged {
    /// How many results were skipped.
    pub missed: u64,
}

/// Every result this client receives (awaited or not), in arrival order; ends when the client is
/// dropped. A subscriber that falls more than [`RESULT_STREAM_CAPACITY`] results behind gets
/// one [`ResultsLagged`] item and continues with newer results.
pub struct ResultStream {
    inner: BoxStream<'static, Result<ResultEvent, ResultsLagged>>,
}

impl std::fmt::Debug for ResultStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResultStream")
    }
}

impl Stream for ResultStream {
    type Item = Result<ResultEvent, ResultsLagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpcium_protocol::ErrorCode;

    fn keygen(wallet: &str) -> ResultEvent {
        ResultEvent::Keygen(KeygenResultEvent::success(wallet, vec![1], vec![2]))
    }

    #[tokio::test]
    async fn a_result_reaches_every_waiter_for_its_id_and_no_other() {
        let d = Dispatcher::new();
        let a1 = d.register(ResultKind::Keygen, "a");
        let a2 = d.register(ResultKind::Keygen, "a");
        let b = d.register(ResultKind::Keygen, "b");
        let signing_a = d.register(ResultKind::Signing, "a");
        d.dispatch(keygen("a"));
        assert_eq!(a1.recv().await, Some(keygen("a")));
        assert_eq!(a2.recv().await, Some(keygen("a")));
        assert_eq!(d.waiting(), 2);
        drop((b, signing_a));
        assert_eq!(d.waiting(), 0);
    }

    #[tokio::test]
    async fn subscribers_see_every_result_including_awaited_ones() {
        let d = Dispatcher::new();
        let mut stream = d.subscribe();
        let waiter = d.register(ResultKind::Keygen, "a");
        d.dispatch(keygen("a"));
        let failed = ResultEvent::Signing(SigningResultEvent::failure(
            "n",
            "w",
            "t",
            ErrorCode::KeyNotFound,
            "no key",
            false,
        ));
        d.dispatch(failed.clone());
        assert_eq!(waiter.recv().await, Some(keygen("a")));
        assert_eq!(stream.next().await, Some(Ok(keygen("a"))));
        assert_eq!(stream.next().await, Some(Ok(failed)));
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_how_many_results_it_missed() {
        let d = Dispatcher::new();
        let mut stream = d.subscribe();
        for i in 0..RESULT_STREAM_CAPACITY + 3 {
            d.dispatch(keygen(&format!("w{i}")));
        }
        assert_eq!(stream.next().await, Some(Err(ResultsLagged { missed: 3 })));
        assert_eq!(stream.next().await, Some(Ok(keygen("w3"))));
    }
}
