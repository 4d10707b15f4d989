//! Flushing the CommitLog: the one durability point of the store.
//!
//! Components:
//! - [`FlushTicket`]: a std-only oneshot completed once the fsync covering an append returned
//!   (or with `Timeout` / `Failed`); it can be waited on (blocking) or given a callback, so an
//!   async broker can bridge it to a future without blocking a runtime thread;
//! - [`FlushService`]: under SYNC_FLUSH, [`SYNC_WORKERS`] group-commit threads. A worker starts
//!   an fsync as soon as a ticket waits past what the running fsyncs cover (it does not wait
//!   for a window to fill) and none runs; once the running one has taken [`OVERLAP_AFTER`] (a
//!   slow disk), the appends made meanwhile get a second, overlapping one. Each completes every
//!   ticket its durable offset covers, in one pass, outside the lock. Under ASYNC_FLUSH one thread flushes every `flushIntervalCommitLog` ms once
//!   `flushCommitLogLeastPages` pages are dirty, and everything every
//!   `flushCommitLogThoroughInterval` ms.
//!
//! Invariants:
//! - a ticket completes `Flushed` only from [`FlushService`] after the flush function reported a
//!   durable offset at or past the ticket's offset, and only if no flush started before that
//!   one failed (results are applied in start order): that is the single place where "durable"
//!   is decided (the test hook is the ticket itself);
//! - the durable offset a flush reports was synced by a flush that started after the bytes were
//!   written (`CommitLog::flush` syncs from the durable offset it read at its start);
//! - a request at or below the durable offset of the group commits applied so far completes
//!   `Flushed` at once (requests arrive out of offset order: an appender requests after
//!   releasing the put lock, possibly after the fsync covering its bytes was applied);
//! - a ticket completes exactly once; the first outcome wins;
//! - after a failed fsync the data state is unknown: every waiting and later ticket fails.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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
    /// Threads blocked in [`FlushTicket::wait`]: completion signals the condition variable (a
    /// futex syscall) only when there are some, not for callback-only tickets.
    waiters: u32,
}

/// A flush ticket (cheap to clone). A ticket born complete (every ASYNC_FLUSH append) is a
/// plain value: no allocation, lock or clock read per append.
#[derive(Clone)]
pub struct FlushTicket {
    kind: TicketKind,
    offset: u64,
}

#[derive(Clone)]
enum TicketKind {
    /// Complete from the start.
    Done(FlushOutcome),
    /// Completed later by the flush service, or with `Timeout` by a waiter past `deadline`.
    Waiting {
        inner: Arc<(Mutex<TicketState>, Condvar)>,
        deadline: Instant,
    },
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
            kind: TicketKind::Waiting {
                inner: Arc::default(),
                deadline: Instant::now() + timeout,
            },
            offset,
        }
    }

    /// A ticket that is already complete (ASYNC_FLUSH appends).
    pub fn completed(offset: u64, outcome: FlushOutcome) -> Self {
        FlushTicket {
            kind: TicketKind::Done(outcome),
            offset,
        }
    }

    /// The CommitLog offset this ticket waits for (end of the append).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether a waiting ticket's deadline has passed at `now` (a ticket born complete has
    /// nothing to wait for: true).
    fn past_deadline(&self, now: Instant) -> bool {
        match &self.kind {
            TicketKind::Done(_) => true,
            TicketKind::Waiting { deadline, .. } => now >= *deadline,
        }
    }

    /// The outcome if complete.
    pub fn outcome(&self) -> Option<FlushOutcome> {
        match &self.kind {
            TicketKind::Done(outcome) => Some(*outcome),
            TicketKind::Waiting { inner, .. } => lock_state(inner).outcome,
        }
    }

    fn complete(&self, outcome: FlushOutcome) {
        let TicketKind::Waiting { inner, .. } = &self.kind else {
            return;
        };
        let (callback, waiters) = {
            let mut st = lock_state(inner);
            if st.outcome.is_some() {
                return;
            }
            st.outcome = Some(outcome);
            (st.callback.take(), st.waiters)
        };
        if waiters > 0 {
            inner.1.notify_all();
        }
        if let Some(cb) = callback {
            cb(outcome);
        }
    }

    /// Blocks until complete or until the ticket's deadline (then `Timeout`).
    pub fn wait(&self) -> FlushOutcome {
        let (inner, deadline) = match &self.kind {
            TicketKind::Done(outcome) => return *outcome,
            TicketKind::Waiting { inner, deadline } => (inner, *deadline),
        };
        let mut st = lock_state(inner);
        loop {
            if let Some(o) = st.outcome {
                return o;
            }
            let now = Instant::now();
            if now >= deadline {
                drop(st);
                self.complete(FlushOutcome::Timeout);
                return self.outcome().unwrap_or(FlushOutcome::Timeout);
            }
            st.waiters += 1;
            st = inner
                .1
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            st.waiters -= 1;
        }
    }

    /// Runs `f` once with the outcome: now if complete, otherwise on the flush thread when it
    /// completes (keep `f` short: e.g. send on a channel or complete a oneshot).
    pub fn on_complete(&self, f: impl FnOnce(FlushOutcome) + Send + 'static) {
        let inner = match &self.kind {
            TicketKind::Done(outcome) => return f(*outcome),
            TicketKind::Waiting { inner, .. } => inner,
        };
        let mut st = lock_state(inner);
        match st.outcome {
            Some(o) => {
                drop(st);
                f(o);
            }
            None => st.callback = Some(Box::new(f)),
        }
    }
}

fn lock_state(inner: &(Mutex<TicketState>, Condvar)) -> MutexGuard<'_, TicketState> {
    inner.0.lock().unwrap_or_else(|e| e.into_inner())
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
/// the durable CommitLog offset. Under SYNC_FLUSH it is called by up to [`SYNC_WORKERS`]
/// threads at once.
pub type FlushFn = Arc<dyn Fn(u64) -> StoreResult<u64> + Send + Sync>;

/// Group commits kept in flight at once under SYNC_FLUSH. A second fsync started while the first
/// runs covers the appends made meanwhile, so appenders do not wait for a whole slow fsync
/// before theirs can start; on the virtio disk measured here two overlapping `write + fdatasync`
/// streams moved 1.6-4x the bytes of one when the disk was slow (docs/benchmarks.md).
pub const SYNC_WORKERS: u64 = 2;

/// How long a running group commit must have taken before a second, overlapping one may start.
/// A fast fsync (a few hundred microseconds for a group of ~0.3 MB here) is better followed by
/// one larger group commit than overlapped by a small one: fewer syscalls, device requests and
/// wake-ups per put (docs/benchmarks.md: about 0.4 us less CPU per put with a fast disk); a slow
/// one is overlapped as before.
pub const OVERLAP_AFTER: Duration = Duration::from_millis(1);

#[derive(Default)]
struct Pending {
    tickets: Vec<FlushTicket>,
    /// Highest offset a sync ticket waits for.
    requested: u64,
    /// Highest offset a started group commit covers (its target; it syncs at least that far).
    covered: u64,
    /// Durable offset reported by the group commits applied so far (none failed).
    durable: u64,
    /// Group commits started so far (the next one's sequence number) and applied (tickets
    /// completed), in start order.
    started: u64,
    applied: u64,
    /// Start times of the running (started, not yet applied) group commits, oldest first.
    running: std::collections::VecDeque<Instant>,
    /// Sync workers blocked waiting for requests, and whether one was signalled already.
    idle: u32,
    signalled: bool,
    shutdown: bool,
    /// Stop without the final flush (simulated crash).
    halt: bool,
}

impl Pending {
    /// Whether a request waits past what the running group commits cover and a worker slot is
    /// free (maybe not yet usable: see [`Pending::overlap_wait`]).
    fn wants_start(&self) -> bool {
        self.requested > self.covered && self.started - self.applied < SYNC_WORKERS
    }

    /// How long a worker must still wait before it may start a group commit that overlaps the
    /// running one; zero when it may start now (or nothing runs).
    fn overlap_wait(&self) -> Duration {
        match self.running.front() {
            Some(oldest) => OVERLAP_AFTER.saturating_sub(oldest.elapsed()),
            None => Duration::ZERO,
        }
    }

    /// Whether a sync worker may start a group commit now.
    fn can_start(&self) -> bool {
        self.wants_start() && self.overlap_wait().is_zero()
    }
}

struct Shared {
    pending: Mutex<Pending>,
    /// Requests (and shutdown) for idle workers; the async thread's timer.
    requests: Condvar,
    /// A finished group commit waiting for an earlier one to be applied first.
    order: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The flush threads.
pub struct FlushService {
    settings: FlushSettings,
    /// A `Flushed` ticket whose completed state every ASYNC_FLUSH ticket shares (no allocation,
    /// no clock read per put).
    flushed: FlushTicket,
    shared: Arc<Shared>,
    flush: FlushFn,
    failed: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for FlushService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlushService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl FlushService {
    /// Starts the flush thread (ASYNC_FLUSH) or the [`SYNC_WORKERS`] group-commit threads
    /// (SYNC_FLUSH) over `flush`.
    pub fn start(settings: FlushSettings, flush: FlushFn) -> Self {
        let shared = Arc::new(Shared {
            pending: Mutex::default(),
            requests: Condvar::new(),
            order: Condvar::new(),
        });
        let failed = Arc::new(AtomicBool::new(false));
        let workers = if settings.sync { SYNC_WORKERS } else { 1 };
        let mut threads = Vec::new();
        for i in 0..workers {
            let (sh, fl, f) = (Arc::clone(&shared), Arc::clone(&failed), Arc::clone(&flush));
            let spawned = std::thread::Builder::new()
                .name(format!("ferromq-flush-commitlog-{i}"))
                .spawn(move || {
                    if settings.sync {
                        run_sync(settings, &f, &sh, &fl)
                    } else {
                        run_async(settings, &f, &sh, &fl)
                    }
                });
            match spawned {
                Ok(h) => threads.push(h),
                Err(e) => tracing::error!(error = %e, "cannot start a flush thread"),
            }
        }
        if threads.is_empty() {
            tracing::error!("no flush thread; every sync put will time out");
        }
        FlushService {
            settings,
            flushed: FlushTicket::completed(0, FlushOutcome::Flushed),
            shared,
            flush,
            failed,
            threads: Mutex::new(threads),
        }
    }

    /// Whether an fsync has failed (the store must stop taking writes).
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// A ticket for an append ending at `offset`. Under ASYNC_FLUSH it is complete at once.
    pub fn request(&self, offset: u64) -> FlushTicket {
        if !self.settings.sync {
            return FlushTicket {
                offset,
                ..self.flushed.clone()
            };
        }
        let ticket = FlushTicket::new(offset, self.settings.sync_timeout);
        if self.has_failed() {
            ticket.complete(FlushOutcome::Failed);
            return ticket;
        }
        let mut p = self.shared.lock();
        if offset <= p.durable {
            // Already covered: requests may arrive after the group commit that synced their
            // bytes was applied (appenders request after releasing the put lock, so out of
            // offset order); the durable offset only counts bytes written before its fsync began.
            drop(p);
            ticket.complete(FlushOutcome::Flushed);
            return ticket;
        }
        p.tickets.push(ticket.clone());
        p.requested = p.requested.max(offset);
        // Signal an idle worker only if it may start a group commit, and only once until it
        // runs (requests arriving while both group commits run, or while a worker waits out
        // the overlap delay, just queue, without a futex syscall each). A worker told while a
        // group commit runs waits out the rest of `OVERLAP_AFTER` itself.
        if p.idle > 0 && !p.signalled && p.wants_start() {
            p.signalled = true;
            self.shared.requests.notify_one();
        }
        ticket
    }

    /// Wakes the thread for an early flush (ASYNC_FLUSH after a put).
    pub fn wakeup(&self) {
        self.shared.requests.notify_one();
    }

    /// Stops the threads without a final flush (a simulated crash); pending tickets time out.
    pub fn halt(&self) {
        self.shared.lock().halt = true;
        self.shutdown();
    }

    /// Stops the threads after a final full flush; pending tickets are completed.
    pub fn shutdown(&self) {
        self.shared.lock().shutdown = true;
        self.shared.requests.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        let stopped_now = !threads.is_empty();
        for h in threads {
            let _ = h.join();
        }
        if !stopped_now || !self.settings.sync {
            return;
        }
        let (rest, halt) = {
            let mut p = self.shared.lock();
            (std::mem::take(&mut p.tickets), p.halt)
        };
        if halt || rest.is_empty() {
            rest.iter().for_each(|t| t.complete(FlushOutcome::Timeout));
            return;
        }
        let outcome = if self.has_failed() { None } else { (self.flush)(0).ok() };
        for t in rest {
            t.complete(match outcome {
                Some(d) if t.offset <= d => FlushOutcome::Flushed,
                Some(_) => FlushOutcome::Timeout,
                None => FlushOutcome::Failed,
            });
        }
    }
}

impl Drop for FlushService {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One SYNC_FLUSH group-commit thread. It starts a group commit whenever a ticket waits past
/// what the running ones cover and fewer than [`SYNC_WORKERS`] run; results are applied in
/// start order, so a ticket is `Flushed` only if no group commit started before its own failed
/// (two overlapping fsyncs share the file's error state: one may report another's write-back
/// error).
fn run_sync(settings: FlushSettings, flush: &FlushFn, shared: &Shared, failed: &AtomicBool) {
    let mut backoff = false;
    loop {
        let (seq, target) = {
            let mut p = shared.lock();
            if backoff {
                // The last group commit fell short of its target: do not spin on it.
                p = wait_timeout(&shared.requests, p, Duration::from_millis(1));
                backoff = false;
            }
            while !p.can_start() && !p.shutdown && !p.halt {
                p.idle += 1;
                let timeout = if p.wants_start() {
                    // Work waits but a group commit runs: start an overlapping one once it has
                    // taken `OVERLAP_AFTER`, unless it ends first (its worker then starts the
                    // next). Requests need not signal meanwhile.
                    p.signalled = true;
                    p.overlap_wait().max(Duration::from_micros(50))
                } else {
                    settings.interval
                };
                p = wait_timeout(&shared.requests, p, timeout);
                p.idle -= 1;
                p.signalled = false;
                if !p.can_start() {
                    let expired = take_expired(&mut p.tickets);
                    drop(p);
                    expired.iter().for_each(|t| t.complete(FlushOutcome::Timeout));
                    p = shared.lock();
                }
            }
            if p.shutdown || p.halt {
                return;
            }
            let seq = p.started;
            p.started += 1;
            p.running.push_back(Instant::now());
            p.covered = p.requested;
            // Another worker can start the next group commit as soon as more requests arrive.
            (seq, p.requested)
        };
        let result = if failed.load(Ordering::Acquire) {
            None
        } else {
            match flush(0) {
                Ok(durable) => Some(durable),
                Err(e) => {
                    tracing::error!(error = %e, "CommitLog flush failed; refusing further writes");
                    failed.store(true, Ordering::Release);
                    None
                }
            }
        };
        let mut p = shared.lock();
        while p.applied != seq {
            p = shared.order.wait(p).unwrap_or_else(|e| e.into_inner());
        }
        p.applied += 1;
        p.running.pop_front();
        shared.order.notify_all();
        // A failure of this or an earlier group commit fails every waiting ticket.
        let durable = result.filter(|_| !failed.load(Ordering::Acquire));
        let now = Instant::now();
        let mut done = Vec::new();
        match durable {
            Some(d) => {
                p.durable = p.durable.max(d);
                p.tickets.retain(|t| {
                    let outcome = if t.offset <= d {
                        FlushOutcome::Flushed
                    } else if t.past_deadline(now) {
                        FlushOutcome::Timeout
                    } else {
                        return true;
                    };
                    done.push((t.clone(), outcome));
                    false
                });
                if d < target && p.started == p.applied {
                    // Nothing running covers the rest: let the next group commit retry it.
                    p.covered = d;
                    backoff = true;
                }
            }
            None => done.extend(p.tickets.drain(..).map(|t| (t, FlushOutcome::Failed))),
        }
        let wake = p.idle > 0 && !p.signalled && p.wants_start();
        if wake {
            p.signalled = true;
            shared.requests.notify_one();
        }
        drop(p);
        for (t, outcome) in done {
            t.complete(outcome);
        }
    }
}

/// Removes and returns the tickets past their deadline.
fn take_expired(tickets: &mut Vec<FlushTicket>) -> Vec<FlushTicket> {
    let now = Instant::now();
    let mut expired = Vec::new();
    tickets.retain(|t| {
        if t.past_deadline(now) {
            expired.push(t.clone());
            false
        } else {
            true
        }
    });
    expired
}

fn wait_timeout<'a>(cond: &Condvar, p: MutexGuard<'a, Pending>, timeout: Duration) -> MutexGuard<'a, Pending> {
    cond.wait_timeout(p, timeout).unwrap_or_else(|e| e.into_inner()).0
}

/// The ASYNC_FLUSH thread: flushes every `flushIntervalCommitLog` ms once
/// `flushCommitLogLeastPages` pages are dirty, everything every
/// `flushCommitLogThoroughInterval` ms and on shutdown.
fn run_async(settings: FlushSettings, flush: &FlushFn, shared: &Shared, failed: &AtomicBool) {
    let mut last_thorough = Instant::now();
    loop {
        let (shutdown, halt) = {
            let mut p = shared.lock();
            if !p.shutdown {
                p = wait_timeout(&shared.requests, p, settings.interval);
            }
            (p.shutdown, p.halt)
        };
        if halt {
            return;
        }
        let now = Instant::now();
        let mut least = settings.least_pages;
        if shutdown || now.duration_since(last_thorough) >= settings.thorough_interval {
            least = 0;
            last_thorough = now;
        }
        if !failed.load(Ordering::Acquire) {
            if let Err(e) = flush(least) {
                tracing::error!(error = %e, "CommitLog flush failed; refusing further writes");
                failed.store(true, Ordering::Release);
            }
        }
        if shutdown {
            return;
        }
    }
}

#[cfg(test)]
#[path = "flush_test.rs"]
mod tests;
