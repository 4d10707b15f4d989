//! Bounded polling: wait on observable state instead of sleeping for a fixed time.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`until`] re-checks its condition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Polls `check` every [`POLL_INTERVAL`] until it yields `Some`, or `timeout` elapses.
///
/// Returns the first `Some` value, or `None` on timeout. `check` always runs at least once, and
/// once more after the deadline passes, so a condition that became true during the last sleep is
/// not missed.
pub async fn until<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
    }
}
