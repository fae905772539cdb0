//! CPU-heavy background work that must not slow live requests. It runs on a thread of its own
//! under Linux's `SCHED_IDLE` policy, so it gets a core only when nothing else wants one. Where
//! that policy is refused, it runs at the lowest nice value instead.
//!
//! Safe primes are such work: after every aux-info run each node spends tens of CPU-seconds
//! replacing the primes the run used, which at normal priority took the cores from signing
//! (docs/performance.md, "Safe primes at idle priority").

use tokio::sync::oneshot;

/// The scheduling the background thread got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// `SCHED_IDLE`: runs only on otherwise idle cores.
    Idle,
    /// `SCHED_IDLE` was refused; nice 19, the lowest normal priority.
    Nice19,
    /// Neither could be set (or the platform has neither); normal priority.
    Normal,
}

/// The background thread could not be started or panicked.
#[derive(Debug, thiserror::Error)]
#[error("the background thread {0:?} could not run to its end")]
pub struct Interrupted(pub String);

/// Runs `work` on a new thread named `name` at idle CPU priority and awaits its value. The
/// thread ends with the work, so no pooled thread keeps the lowered priority.
pub async fn run<T: Send + 'static>(
    name: &str,
    work: impl FnOnce(Priority) -> T + Send + 'static,
) -> Result<T, Interrupted> {
    let (done, value) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let priority = lower_this_thread();
            // The receiver may be gone (shutdown): the value is then not needed.
            let _ = done.send(work(priority));
        })
        .map_err(|_| Interrupted(name.to_owned()))?;
    value.await.map_err(|_| Interrupted(name.to_owned()))
}

/// Lowers the calling thread's CPU priority as far as an unprivileged thread may.
#[cfg(target_os = "linux")]
fn lower_this_thread() -> Priority {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: plain system calls about the calling thread (pid 0, its own tid) with a valid,
    // initialised parameter; any thread may lower its own priority.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0 {
        return Priority::Idle;
    }
    // SAFETY: as above; on Linux the nice value is per thread.
    let tid = unsafe { libc::gettid() };
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19) } == 0 {
        return Priority::Nice19;
    }
    Priority::Normal
}

#[cfg(not(target_os = "linux"))]
fn lower_this_thread() -> Priority {
    Priority::Normal
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_its_own_thread_at_idle_priority_and_returns_its_value() {
        let (priority, policy, name) = run("idle-test", |priority| {
            // SAFETY: a query about the calling thread.
            let policy = unsafe { libc::sched_getscheduler(0) };
            let name = std::thread::current().name().map(str::to_owned);
            (priority, policy, name)
        })
        .await
        .unwrap();
        assert_eq!(name.as_deref(), Some("idle-test"));
        assert_eq!(priority, Priority::Idle);
        assert_eq!(policy, libc::SCHED_IDLE);
        // SAFETY: as above.
        let here = unsafe { libc::sched_getscheduler(0) };
        assert_eq!(here, libc::SCHED_OTHER, "the caller's thread is untouched");
    }

    #[tokio::test]
    async fn a_panicking_work_is_an_error_not_a_hang() {
        let result: Result<(), _> = run("idle-panic", |_| panic!("boom")).await;
        assert!(result.is_err());
    }
}
