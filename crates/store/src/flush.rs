//! Flushing the CommitLog: the one durability point of the store.
//!
//! Components:
//! - [`FlushTicket`]: a std-only oneshot completed once the fsync covering an append returned
//!   (or with `Timeout` / `Failed`); it can be waited on (blocking) or given a callback, so an
//!   async broker can bridge it to a future without blocking a runtime thread;
//! - [`FlushService`]: one thread. Under SYNC_FLUSH it group-commits: it takes every pending
//!   request, runs one flush and completes every ticket it covers; requests arriving during an
//!   fsync ride on the next one. Under ASYNC_FLUSH it flushes every `flushIntervalCommitLog` ms
//!   once `flushCommitLogLeastPages` pages are dirty, and everything every
//!   `flushCommitLogThoroughInterval` ms.
//!
//! Invariants:
//! - a ticket completes `Flushed` only from [`FlushService`] after the flush function reported a
//!   durable offset at or past the ticket's offset: that is the single place where "durable" is
//!   decided (the test hook is the ticket itself);
//! - a ticket completes exactly once; the first outcome wins;
//! - after a failed fsync the data state is unknown: every waiting and later ticket fails.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::StoreResult;

/// How a flush request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushOutcome {
    /// The append is durable.
    Flushed,
    /// `syncFlushTimeout` passed first (RocketMQ `FLUSH_DISK_TIMEOUT`); the message stays.
    Timeout,
    /// The fsync failed; durability is unknown.
    Failed,
}

type Callback = Box<dyn FnOnce(FlushOutcome) + Send>;

#[derive(Default)]
struct TicketState {
    outcome: Option<FlushOutcome>,
    callback: Option<Callback>,
}

/// A flush ticket (cheap to clone).
#[derive(Clone)]
pub struct FlushTicket {
    inner: Arc<(Mutex<TicketState>, Condvar)>,
    offset: u64,
    deadline: Instant,
}

impl std::fmt::Debug for FlushTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlushTicket")
            .field("offset", &self.offset)
            .field("outcome", &self.outcome())
            .finish()
    }
}

impl FlushTicket {
    fn new(offset: u64, timeout: Duration) -> Self {
        FlushTicket {
            inner: Arc::default(),
            offset,
            deadline: Instant::now() + timeout,
        }
    }

    /// A ticket that is already complete (ASYNC_FLUSH appends).
    pub fn completed(offset: u64, outcome: FlushOutcome) -> Self {
        let t = Self::new(offset, Duration::ZERO);
        t.complete(outcome);
        t
    }

    /// The CommitLog offset this ticket waits for (end of the append).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TicketState> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The outcome if complete.
    pub fn outcome(&self) -> Option<FlushOutcome> {
        self.lock().outcome
    }

    fn complete(&self, outcome: FlushOutcome) {
        let callback = {
            let mut st = self.lock();
            if st.outcome.is_some() {
                return;
            }
            st.outcome = Some(outcome);
            st.callback.take()
        };
        self.inner.1.notify_all();
        if let Some(cb) = callback {
            cb(outcome);
        }
    }

    /// Blocks until complete or until the ticket's deadline (then `Timeout`).
    pub fn wait(&self) -> FlushOutcome {
        let mut st = self.lock();
        loop {
            if let Some(o) = st.outcome {
                return o;
            }
            let now = Instant::now();
            if now >= self.deadline {
                drop(st);
                self.complete(FlushOutcome::Timeout);
                return self.outcome().unwrap_or(FlushOutcome::Timeout);
            }
            st = self
                .inner
                .1
                .wait_timeout(st, self.deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Runs `f` once with the outcome: now if complete, otherwise on the flush thread when it
    /// completes (keep `f` short: e.g. send on a channel or complete a oneshot).
    pub fn on_complete(&self, f: impl FnOnce(FlushOutcome) + Send + 'static) {
        let mut st = self.lock();
        match st.outcome {
            Some(o) => {
                drop(st);
                f(o);
            }
            None => st.callback = Some(Box::new(f)),
        }
    }
}

/// Settings of the flush service.
#[derive(Debug, Clone, Copy)]
pub struct FlushSettings {
    /// Group commit (SYNC_FLUSH) or periodic (ASYNC_FLUSH).
    pub sync: bool,
    /// `flushIntervalCommitLog`.
    pub interval: Duration,
    /// `flushCommitLogLeastPages`.
    pub least_pages: u64,
    /// `flushCommitLogThoroughInterval`.
    pub thorough_interval: Duration,
    /// `syncFlushTimeout`.
    pub sync_timeout: Duration,
}

/// The flush function: flush with at least this many dirty pages (0 = everything) and return
/// the durable CommitLog offset.
pub type FlushFn = Arc<dyn Fn(u64) -> StoreResult<u64> + Send + Sync>;

#[derive(Default)]
struct Pending {
    tickets: Vec<FlushTicket>,
    shutdown: bool,
    /// Stop without the final flush (simulated crash).
    halt: bool,
}

/// The flush thread.
pub struct FlushService {
    settings: FlushSettings,
    pending: Arc<(Mutex<Pending>, Condvar)>,
    failed: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for FlushService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlushService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl FlushService {
    /// Starts the flush thread over `flush`.
    pub fn start(settings: FlushSettings, flush: FlushFn) -> Self {
        let pending: Arc<(Mutex<Pending>, Condvar)> = Arc::default();
        let failed = Arc::new(AtomicBool::new(false));
        let (p, fl) = (Arc::clone(&pending), Arc::clone(&failed));
        let spawned = std::thread::Builder::new()
            .name("ferromq-flush-commitlog".into())
            .spawn(move || run(settings, flush, p, fl));
        let thread = match spawned {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the flush thread; every sync put will time out");
                None
            }
        };
        FlushService {
            settings,
            pending,
            failed,
            thread: Mutex::new(thread),
        }
    }

    /// Whether an fsync has failed (the store must stop taking writes).
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// A ticket for an append ending at `offset`. Under ASYNC_FLUSH it is complete at once.
    pub fn request(&self, offset: u64) -> FlushTicket {
        if !self.settings.sync {
            return FlushTicket::completed(offset, FlushOutcome::Flushed);
        }
        let ticket = FlushTicket::new(offset, self.settings.sync_timeout);
        if self.has_failed() {
            ticket.complete(FlushOutcome::Failed);
            return ticket;
        }
        let (lock, cond) = &*self.pending;
        lock.lock()
            .unwrap_or_else(|e| e.into_inner())
            .tickets
            .push(ticket.clone());
        cond.notify_one();
        ticket
    }

    /// Wakes the thread for an early flush (ASYNC_FLUSH after a put).
    pub fn wakeup(&self) {
        self.pending.1.notify_one();
    }

    /// Stops the thread without a final flush (a simulated crash); pending tickets time out.
    pub fn halt(&self) {
        self.pending.0.lock().unwrap_or_else(|e| e.into_inner()).halt = true;
        self.shutdown();
    }

    /// Stops the thread after a final full flush; pending tickets are completed.
    pub fn shutdown(&self) {
        self.pending.0.lock().unwrap_or_else(|e| e.into_inner()).shutdown = true;
        self.pending.1.notify_all();
        if let Some(h) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}

impl Drop for FlushService {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(settings: FlushSettings, flush: FlushFn, pending: Arc<(Mutex<Pending>, Condvar)>, failed: Arc<AtomicBool>) {
    let (lock, cond) = &*pending;
    let mut last_thorough = Instant::now();
    let mut backoff = false;
    loop {
        let (tickets, shutdown) = {
            let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
            if backoff && !p.shutdown {
                // Tickets past the durable offset were re-queued: do not spin on them.
                p = cond
                    .wait_timeout(p, Duration::from_millis(1))
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            backoff = false;
            if settings.sync {
                while p.tickets.is_empty() && !p.shutdown {
                    p = cond
                        .wait_timeout(p, settings.interval)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    if p.tickets.is_empty() && !p.shutdown {
                        break;
                    }
                }
            } else if !p.shutdown {
                p = cond
                    .wait_timeout(p, settings.interval)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            if p.halt {
                let rest = std::mem::take(&mut p.tickets);
                drop(p);
                rest.iter().for_each(|t| t.complete(FlushOutcome::Timeout));
                return;
            }
            (std::mem::take(&mut p.tickets), p.shutdown)
        };
        let now = Instant::now();
        let mut least = if settings.sync { 0 } else { settings.least_pages };
        if shutdown || now.duration_since(last_thorough) >= settings.thorough_interval {
            least = 0;
            last_thorough = now;
        }
        let mut live = Vec::with_capacity(tickets.len());
        for t in tickets {
            if now >= t.deadline {
                t.complete(FlushOutcome::Timeout);
            } else {
                live.push(t);
            }
        }
        if failed.load(Ordering::Acquire) {
            live.iter().for_each(|t| t.complete(FlushOutcome::Failed));
        } else {
            match flush(least) {
                Ok(durable) => {
                    for t in live {
                        if t.offset <= durable {
                            t.complete(FlushOutcome::Flushed);
                        } else {
                            backoff = true;
                            lock.lock().unwrap_or_else(|e| e.into_inner()).tickets.push(t);
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "CommitLog flush failed; refusing further writes");
                    failed.store(true, Ordering::Release);
                    live.iter().for_each(|t| t.complete(FlushOutcome::Failed));
                }
            }
        }
        if shutdown {
            let rest = std::mem::take(&mut lock.lock().unwrap_or_else(|e| e.into_inner()).tickets);
            rest.iter().for_each(|t| t.complete(FlushOutcome::Timeout));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    fn settings(sync: bool) -> FlushSettings {
        FlushSettings {
            sync,
            interval: Duration::from_millis(5),
            least_pages: 0,
            thorough_interval: Duration::from_secs(10),
            sync_timeout: Duration::from_millis(300),
        }
    }

    // Goal: a sync ticket completes Flushed only after a flush covering it; callbacks fire once.
    // Method: flush fn returns a settable durable offset.
    #[test]
    fn sync_ticket_completes_only_after_a_covering_flush() {
        let durable = Arc::new(AtomicU64::new(0));
        let d = Arc::clone(&durable);
        let svc = FlushService::start(settings(true), Arc::new(move |_| Ok(d.load(Ordering::SeqCst))));
        let t = svc.request(100);
        let (tx, rx) = std::sync::mpsc::channel();
        t.on_complete(move |o| tx.send(o).unwrap());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(t.outcome(), None, "not durable yet");
        durable.store(100, Ordering::SeqCst);
        assert_eq!(t.wait(), FlushOutcome::Flushed);
        assert_eq!(rx.recv().unwrap(), FlushOutcome::Flushed);
    }

    // Goal: a ticket times out after syncFlushTimeout; a failed fsync fails every later ticket.
    #[test]
    fn ticket_times_out_and_failed_fsync_fails_later_tickets() {
        let svc = FlushService::start(settings(true), Arc::new(|_| Ok(0)));
        assert_eq!(svc.request(10).wait(), FlushOutcome::Timeout);
        drop(svc);
        let svc = FlushService::start(
            settings(true),
            Arc::new(|_| Err(crate::StoreError::NotAvailable("simulated fsync failure"))),
        );
        assert_eq!(svc.request(10).wait(), FlushOutcome::Failed);
        assert!(svc.has_failed());
        assert_eq!(svc.request(20).wait(), FlushOutcome::Failed);
    }
}
