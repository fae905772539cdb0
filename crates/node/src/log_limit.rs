//! A bound on log lines that others can cause at will. Every dropped message is counted
//! (`mpcium_dropped_messages_total`), but a peer or client flooding garbage must not grow the log
//! without bound: [`DROPPED`] lets through the first 20 warnings of each window
//! and then, once the window is over, one line saying how many it held back.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The limit on warnings about dropped messages: 20 a minute.
pub static DROPPED: LogLimit = LogLimit::new(20, Duration::from_secs(60));

/// At most `burst` log lines per `window`; the rest are counted and reported in one line.
#[derive(Debug)]
pub struct LogLimit {
    burst: u32,
    window: Duration,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Option<Instant>,
    logged: u32,
    held_back: u64,
}

impl LogLimit {
    /// A limit of `burst` lines per `window`.
    pub const fn new(burst: u32, window: Duration) -> Self {
        Self {
            burst,
            window,
            state: Mutex::new(Window {
                started: None,
                logged: 0,
                held_back: 0,
            }),
        }
    }

    /// Whether a line may be logged now. When the first line of a new window is let through
    /// after lines were held back, a warning says how many.
    pub fn allow(&self) -> bool {
        let (allowed, held_back) = self.decide(Instant::now());
        if held_back > 0 {
            tracing::warn!(
                held_back,
                window = ?self.window,
                "dropped-message warnings were held back (mpcium_dropped_messages_total counts every one)"
            );
        }
        allowed
    }

    /// Whether a line at `now` is let through, and how many lines the window that just ended
    /// held back (0 unless `now` starts a new window).
    fn decide(&self, now: Instant) -> (bool, u64) {
        let mut w = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut ended_held_back = 0;
        let current = w
            .started
            .is_some_and(|started| now.duration_since(started) < self.window);
        if !current {
            ended_held_back = std::mem::take(&mut w.held_back);
            w.started = Some(now);
            w.logged = 0;
        }
        if w.logged < self.burst {
            w.logged += 1;
            (true, ended_held_back)
        } else {
            w.held_back = w.held_back.saturating_add(1);
            (false, ended_held_back)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_logs_a_burst_per_window_and_then_how_many_were_held_back() {
        let limit = LogLimit::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        let first: Vec<(bool, u64)> = (0..10).map(|_| limit.decide(t0)).collect();
        assert_eq!(first.iter().filter(|(allowed, _)| *allowed).count(), 3);
        assert!(first.iter().all(|(_, held)| *held == 0));
        // Still the same window.
        assert_eq!(limit.decide(t0 + Duration::from_secs(59)), (false, 0));
        // A new window: let through, reporting the 8 held back.
        assert_eq!(limit.decide(t0 + Duration::from_secs(61)), (true, 8));
        assert_eq!(limit.decide(t0 + Duration::from_secs(62)), (true, 0));
    }

    #[test]
    fn a_quiet_window_reports_nothing_held_back() {
        let limit = LogLimit::new(2, Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(limit.decide(t0), (true, 0));
        assert_eq!(limit.decide(t0 + Duration::from_secs(5)), (true, 0));
    }
}
