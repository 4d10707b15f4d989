//! Send flow control: a bounded send queue in front of a fixed number of put workers, with
//! RocketMQ's fast-failure rules (`BrokerFastFailure`, `SendMessageProcessor.rejectRequest`,
//! `DefaultMessageStore.isOSPageCacheBusy`).
//!
//! A put goes through these gates, each refusing with SYSTEM_BUSY and Java's remark prefix:
//! 1. `[REJECTREQUEST]`: a put already holds the store longer than `osPageCacheBusyTimeOutMills`;
//! 2. `[OVERLOAD]`: `sendThreadPoolQueueCapacity` requests are already admitted;
//! 3. `[TIMEOUT_CLEAN_QUEUE]`: the request waited more than `waitTimeMillsInSendQueue` for a
//!    worker (one of `sendMessageThreadPoolNums`);
//! 4. `[PC_SYNCHRONIZED]`: when its turn came, the store was still busy as in 1.
//!
//! The put itself runs inline on the calling task (a page-cache copy; durability under
//! SYNC_FLUSH is awaited separately through the store's flush ticket); at most
//! `sendMessageThreadPoolNums` run at once.
//!
//! Invariants: admitted requests never exceed the queue capacity (a counter that refuses past
//! it, never an unbounded queue); the admission, the worker permit and the in-progress mark are
//! held until the put returns.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::BrokerConfig;
use crate::error::{BrokerError, BusyReason};
use crate::util::CoarseInstant;

/// Start times of the running puts: one slot per worker (at most that many puts run), holding
/// nanoseconds since `base` plus one, or zero when free. No lock and no clock read is needed to
/// see that no put runs. Times are on the coarse clock: the busy timeout is in milliseconds.
#[derive(Debug)]
struct InProgress {
    base: CoarseInstant,
    slots: Box<[AtomicU64]>,
}

impl InProgress {
    fn new(workers: usize) -> Self {
        InProgress {
            base: CoarseInstant::now(),
            slots: (0..workers.max(1)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Marks a put as started at `at` (about now) in a free slot (the caller holds a worker
    /// permit, so one is free unless more puts run than permits, in which case the put is simply
    /// not tracked).
    fn start(&self, at: CoarseInstant) -> InProgressGuard<'_> {
        let since_base = at.saturating_duration_since(self.base);
        let now = u64::try_from(since_base.as_nanos()).unwrap_or(u64::MAX - 1) + 1;
        let slot = self.slots.iter().position(|slot| {
            slot.compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        });
        InProgressGuard { puts: self, slot }
    }

    /// How long the oldest running put has run.
    fn oldest(&self) -> Duration {
        let oldest = self
            .slots
            .iter()
            .map(|slot| slot.load(Ordering::Acquire))
            .filter(|start| *start != 0)
            .min();
        oldest.map_or(Duration::ZERO, |start| {
            self.base.elapsed().saturating_sub(Duration::from_nanos(start - 1))
        })
    }
}

/// Frees its put's slot when dropped.
struct InProgressGuard<'a> {
    puts: &'a InProgress,
    slot: Option<usize>,
}

impl Drop for InProgressGuard<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.and_then(|i| self.puts.slots.get(i)) {
            slot.store(0, Ordering::Release);
        }
    }
}

/// One admitted request: counted in `admitted` until dropped.
struct Admission<'a>(&'a AtomicUsize);

impl<'a> Admission<'a> {
    /// Admits a request unless `capacity` are already admitted.
    fn try_new(admitted: &'a AtomicUsize, capacity: usize) -> Option<Self> {
        increment_below(admitted, capacity).then(|| Admission(admitted))
    }
}

/// Adds one to `counter` unless it is already at `limit`. Callers build their guard lazily
/// (`then`, not `then_some`): a guard built for a refusal would decrement on drop.
/// Compare-and-swap, so a refused caller never counts, even for a moment. `SeqCst`:
/// [`Workers::take`] relies on it.
fn increment_below(counter: &AtomicUsize, limit: usize) -> bool {
    let mut current = counter.load(Ordering::SeqCst);
    loop {
        if current >= limit {
            return false;
        }
        match counter.compare_exchange_weak(current, current + 1, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return true,
            Err(actual) => current = actual,
        }
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The put workers: at most `limit` puts run at once. Taking and returning a worker is one
/// atomic operation each; only when all are taken does a put wait, on `freed`.
#[derive(Debug)]
struct Workers {
    limit: usize,
    running: AtomicUsize,
    /// Puts waiting for a worker (so that a returned worker signals only when one waits).
    waiting: AtomicUsize,
    freed: Notify,
}

impl Workers {
    fn new(limit: usize) -> Self {
        Workers {
            limit: limit.max(1),
            running: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            freed: Notify::new(),
        }
    }

    fn try_take(&self) -> Option<Worker<'_>> {
        increment_below(&self.running, self.limit).then(|| Worker(self))
    }

    /// Waits for a free worker. A waiter counts itself in `waiting` before it checks again, and
    /// a returning worker decrements `running` before it reads `waiting` (all `SeqCst`): either
    /// the check sees the free worker or the returner sees the waiter and signals it.
    async fn take(&self) -> Worker<'_> {
        loop {
            if let Some(worker) = self.try_take() {
                return worker;
            }
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            // Counted until this iteration ends, even if the wait is cancelled (a dropped
            // request): a notification it received passes on to the next waiter.
            let _counted = Waiting::count(&self.waiting);
            if let Some(worker) = self.try_take() {
                return worker;
            }
            freed.await;
        }
    }
}

/// One waiter counted in [`Workers::waiting`] while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A taken worker, returned when dropped.
struct Worker<'a>(&'a Workers);

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        let workers = self.0;
        workers.running.fetch_sub(1, Ordering::SeqCst);
        if workers.waiting.load(Ordering::SeqCst) > 0 {
            workers.freed.notify_one();
        }
    }
}

/// The send queue and its workers.
#[derive(Debug)]
pub struct SendFlowControl {
    /// Requests admitted and not finished. Admission never waits (a full queue refuses), so a
    /// counter does what a semaphore would, without a lock on release.
    admitted: AtomicUsize,
    workers: Workers,
    queue_capacity: usize,
    wait_limit: Duration,
    busy_timeout: Duration,
    fast_failure: bool,
    puts: InProgress,
}

impl SendFlowControl {
    /// Flow control with the broker's settings.
    pub fn new(config: &BrokerConfig) -> Self {
        SendFlowControl {
            admitted: AtomicUsize::new(0),
            workers: Workers::new(config.send_message_thread_pool_nums),
            queue_capacity: config.send_thread_pool_queue_capacity,
            wait_limit: Duration::from_millis(config.wait_time_mills_in_send_queue),
            busy_timeout: Duration::from_millis(config.os_page_cache_busy_time_out_mills),
            fast_failure: config.broker_fast_failure_enable,
            puts: InProgress::new(config.send_message_thread_pool_nums),
        }
    }

    /// Requests admitted and not finished (queued or running).
    pub fn queue_len(&self) -> usize {
        self.admitted.load(Ordering::Relaxed)
    }

    /// How long the oldest running put has held the store (zero if none runs).
    pub fn busy_for(&self) -> Duration {
        self.puts.oldest()
    }

    /// Java `isOSPageCacheBusy`: a put has been running longer than the busy timeout.
    pub fn is_store_busy(&self) -> bool {
        self.busy_for() > self.busy_timeout
    }

    fn busy(&self, reason: BusyReason, waited: Duration) -> BrokerError {
        BrokerError::SystemBusy {
            reason,
            waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
            queue_len: self.queue_len(),
        }
    }

    /// Runs `put` through the gates; returns its result or the SYSTEM_BUSY refusal. `now` is
    /// the caller's coarse clock read just before: a put that gets a worker at once is marked as
    /// started then, without another read (the send takes it for its latency metric anyway).
    pub async fn run<T, F>(&self, now: CoarseInstant, put: F) -> Result<T, BrokerError>
    where
        F: FnOnce() -> T,
    {
        if self.fast_failure && self.is_store_busy() {
            return Err(self.busy(BusyReason::RejectRequest, Duration::ZERO));
        }
        let Some(admission) = Admission::try_new(&self.admitted, self.queue_capacity) else {
            return Err(self.busy(BusyReason::Overload, Duration::ZERO));
        };
        // A free worker takes the request at once: no wait to time.
        let (worker, waited, started) = match self.workers.try_take() {
            Some(worker) => (worker, Duration::ZERO, now),
            None => {
                let enqueued = CoarseInstant::now();
                let worker = self.workers.take().await;
                let started = CoarseInstant::now();
                (worker, started.saturating_duration_since(enqueued), started)
            }
        };
        if self.fast_failure && waited > self.wait_limit {
            return Err(self.busy(BusyReason::TimeoutCleanQueue, waited));
        }
        if self.is_store_busy() {
            return Err(self.busy(BusyReason::PageCacheSynchronized, waited));
        }
        let guard = self.puts.start(started);
        // The put runs inline: under ASYNC_FLUSH it is a copy into the page cache plus
        // bookkeeping (microseconds), and SYNC_FLUSH durability is awaited through the flush
        // ticket, never here. Handing each put to the blocking pool cost two thread wake-ups
        // per message and dominated the send path in profiles.
        let _held = (admission, worker, guard);
        Ok(put())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{mpsc, Arc};
    use std::time::Instant;

    fn control(queue: usize, workers: usize, wait_ms: u64, busy_ms: u64) -> Arc<SendFlowControl> {
        Arc::new(SendFlowControl::new(&BrokerConfig {
            send_thread_pool_queue_capacity: queue,
            send_message_thread_pool_nums: workers,
            wait_time_mills_in_send_queue: wait_ms,
            os_page_cache_busy_time_out_mills: busy_ms,
            ..Default::default()
        }))
    }

    async fn wait_until(mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(Instant::now() < deadline, "condition not reached");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn reason(result: Result<(), BrokerError>) -> Option<BusyReason> {
        match result {
            Err(BrokerError::SystemBusy { reason, .. }) => Some(reason),
            _ => None,
        }
    }

    // Goal: a full queue is refused with [OVERLOAD], never queued. Method: one worker blocked on
    // a channel, queue of 2: the third request is refused at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_queue_is_refused_with_overload() {
        let flow = control(2, 1, 60_000, 60_000);
        let (release, blocked) = mpsc::channel::<()>();
        let first = tokio::spawn({
            let flow = Arc::clone(&flow);
            async move {
                flow.run(CoarseInstant::now(), move || blocked.recv().unwrap_or(()))
                    .await
            }
        });
        wait_until(|| flow.queue_len() == 1 && flow.busy_for() > Duration::ZERO).await;
        let second = tokio::spawn({
            let flow = Arc::clone(&flow);
            async move { flow.run(CoarseInstant::now(), || ()).await }
        });
        wait_until(|| flow.queue_len() == 2).await;
        assert_eq!(
            reason(flow.run(CoarseInstant::now(), || ()).await),
            Some(BusyReason::Overload)
        );
        release.send(()).unwrap();
        assert!(first.await.unwrap().is_ok());
        assert!(second.await.unwrap().is_ok());
        assert_eq!(flow.queue_len(), 0);
    }

    // Goal: a request that waited too long is refused with [TIMEOUT_CLEAN_QUEUE], and a slow put
    // makes new requests fail fast with [REJECTREQUEST]. Method: block the only worker past both
    // limits (300 ms: the second request must be admitted before the first put counts as
    // busy, which a loaded test machine may delay by tens of milliseconds), then release it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_store_triggers_timeout_clean_queue_and_reject_request() {
        let flow = control(10, 1, 300, 300);
        let (release, blocked) = mpsc::channel::<()>();
        let first = tokio::spawn({
            let flow = Arc::clone(&flow);
            async move {
                flow.run(CoarseInstant::now(), move || blocked.recv().unwrap_or(()))
                    .await
            }
        });
        // Running (holds the only worker), not just admitted.
        wait_until(|| flow.queue_len() == 1 && flow.busy_for() > Duration::ZERO).await;
        let queued = tokio::spawn({
            let flow = Arc::clone(&flow);
            async move { flow.run(CoarseInstant::now(), || ()).await }
        });
        wait_until(|| flow.queue_len() == 2).await;
        // The queued request has now waited at least this long: past the 300 ms limit.
        let queued_since = Instant::now();
        wait_until(|| flow.is_store_busy() && queued_since.elapsed() > Duration::from_millis(305)).await;
        assert_eq!(
            reason(flow.run(CoarseInstant::now(), || ()).await),
            Some(BusyReason::RejectRequest)
        );
        release.send(()).unwrap();
        assert!(first.await.unwrap().is_ok());
        assert_eq!(reason(queued.await.unwrap()), Some(BusyReason::TimeoutCleanQueue));
        assert!(flow.run(CoarseInstant::now(), || ()).await.is_ok());
    }

    // Goal: with more puts than workers, every put runs (no lost wake-up when a worker is
    // returned while others wait) and never more than the worker count at once. Method: 2
    // workers, 64 tasks on 4 threads, each put yields the thread while holding its worker.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn waiting_puts_all_get_a_worker_and_never_exceed_the_limit() {
        let flow = control(1000, 2, 60_000, 60_000);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (flow, running, most) = (Arc::clone(&flow), Arc::clone(&running), Arc::clone(&most));
                tokio::spawn(async move {
                    flow.run(CoarseInstant::now(), || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().is_ok());
        }
        assert!(most.load(Ordering::SeqCst) <= 2);
        assert_eq!(flow.queue_len(), 0);
    }

    // Goal: a wait for a worker that is cancelled (its request dropped) is no longer counted as
    // waiting, and the worker can still be taken. Method: hold the only worker, poll a take()
    // once (it waits), drop it, return the worker, take it again.
    #[tokio::test]
    async fn a_cancelled_wait_for_a_worker_is_uncounted() {
        let workers = Workers::new(1);
        let held = workers.try_take().expect("free");
        {
            let waiter = workers.take();
            tokio::pin!(waiter);
            let waker = futures_util::task::noop_waker_ref();
            let mut cx = std::task::Context::from_waker(waker);
            assert!(std::future::Future::poll(waiter.as_mut(), &mut cx).is_pending());
            assert_eq!(workers.waiting.load(Ordering::SeqCst), 1);
        }
        assert_eq!(workers.waiting.load(Ordering::SeqCst), 0);
        drop(held);
        assert_eq!(workers.running.load(Ordering::SeqCst), 0);
        let _again = workers.take().await;
        assert_eq!(workers.running.load(Ordering::SeqCst), 1);
    }
}
