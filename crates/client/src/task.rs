//! Ownership of the client's background tasks: each is aborted when its owner is dropped.

use futures::StreamExt as _;
use tokio::task::JoinHandle;

use crate::dispatch::{ResultEvent, ResultStream};

/// A spawned task aborted on drop.
#[derive(Debug)]
#[must_use = "the task is aborted when this is dropped"]
pub(crate) struct OwnedTask(JoinHandle<()>);

impl OwnedTask {
    pub(crate) fn spawn(future: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        Self(tokio::spawn(future))
    }
}

impl Drop for OwnedTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A registered result callback ([`crate::Client::on_result`]); dropping it stops the calls.
#[derive(Debug)]
#[must_use = "the callback stops when this is dropped"]
pub struct ResultCallback {
    _task: OwnedTask,
}

impl ResultCallback {
    pub(crate) fn spawn(
        mut results: ResultStream,
        mut callback: impl FnMut(ResultEvent) + Send + 'static,
    ) -> Self {
        let task = OwnedTask::spawn(async move {
            while let Some(item) = results.next().await {
                // A lag notice carries no result; the callback only sees results.
                if let Ok(event) = item {
                    callback(event);
                }
            }
        });
        Self { _task: task }
    }
}
