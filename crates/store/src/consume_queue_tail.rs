//! Pending ConsumeQueue tails: dispatch appends each entry to its queue's in-memory tail and the
//! tail is written later with one `pwrite`, so a queue's entries reach its file in runs.
//!
//! Why: with tens of thousands of active queues a dispatch pass holds less than one entry per
//! queue, and every write of a cold queue's file pays open + pwrite + close (the file LRU cannot
//! hold 50,000 files: the open-file limit is 20,000). Coalescing across passes divides that cost
//! by the entries per write.
//!
//! Components:
//! - [`CqBatch`]: one dispatch batch; `push` appends an entry to its queue's tail (visible to
//!   readers at once), `finish` collects the queues that got entries (for arrival listeners),
//!   writes the tails that reached [`TAIL_FILL_ENTRIES`] and then the tails that are due;
//! - `PendingTails`: the order in which tails were started (oldest first) and the bytes pending.
//!   A tail is written when it reaches [`TAIL_FILL_ENTRIES`] at the end of a batch, when it is
//!   older than [`MAX_PENDING_AGE`], when all tails together hold more than
//!   [`MAX_PENDING_BYTES`] (oldest first), and when a checkpoint, retention, recovery or
//!   shutdown drains them ([`ConsumeQueueTable::write_all_pending`]).
//!
//! Invariants:
//! - a tail is the suffix `[written, max_offset)` of its queue and is written in queue-offset
//!   order; once written its buffer is freed, so an idle queue holds no buffer;
//! - tails are started in dispatch (CommitLog) order, so the oldest live entry of the start
//!   order is the lowest CommitLog offset of any pending entry
//!   ([`ConsumeQueueTable::oldest_pending`]): the checkpoint's dispatched offset is capped at
//!   it, so it only ever covers entries that were written and then synced;
//! - lock order: the start order, then a queue's state; a queue's lock is never held while the
//!   start order is locked, and a tail leaves the start order only after it was written.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{lock, ConsumeQueueTable, CqEntry, QueueState, CQ_UNIT_SIZE};
use crate::error::StoreResult;

/// A queue's tail is written once it holds this many entries at the end of a dispatch batch
/// (1,280 bytes: one write instead of 64).
pub const TAIL_FILL_ENTRIES: usize = 64;

/// Most bytes all pending tails may hold together; past it the oldest tails are written. With
/// 50,000 busy queues this leaves ~33 entries per write.
pub const MAX_PENDING_BYTES: usize = 32 << 20;

/// A tail older than this is written even if it is small. With many busy queues the cap binds
/// first; the age bounds how long a slow queue's entries stay pending, and so how far the
/// checkpoint's dispatched offset lags behind dispatch at low rates (RocketMQ's thorough
/// ConsumeQueue flush interval is 60 s).
pub const MAX_PENDING_AGE: Duration = Duration::from_secs(30);

/// First allocation of a tail buffer (8 entries); it grows by half its size.
const TAIL_INITIAL_BYTES: usize = 8 * CQ_UNIT_SIZE as usize;

/// One started tail in the start order.
#[derive(Debug)]
struct TailRef {
    state: Arc<Mutex<QueueState>>,
    /// Queue offset of the tail's first entry.
    first_offset: i64,
    /// CommitLog offset and store time of the record of the tail's first entry.
    first_phy: i64,
    store_timestamp: i64,
    /// Start of the dispatch batch that started the tail.
    started: Instant,
}

impl TailRef {
    /// Whether the queue's tail is still the one this reference started (not written since).
    fn is_current(&self, st: &QueueState) -> bool {
        !st.tail.is_empty() && st.written_offset() == self.first_offset
    }
}

/// The start order of pending tails and their total size.
#[derive(Debug)]
pub(super) struct PendingTails {
    order: Mutex<VecDeque<TailRef>>,
    bytes: AtomicUsize,
    queues: AtomicUsize,
    /// [`MAX_PENDING_BYTES`] and [`MAX_PENDING_AGE`] (smaller in tests).
    max_bytes: usize,
    max_age: Duration,
}

impl Default for PendingTails {
    fn default() -> Self {
        PendingTails {
            order: Mutex::new(VecDeque::new()),
            bytes: AtomicUsize::new(0),
            queues: AtomicUsize::new(0),
            max_bytes: MAX_PENDING_BYTES,
            max_age: MAX_PENDING_AGE,
        }
    }
}

/// The oldest pending entry: where recovery would have to re-dispatch from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OldestPending {
    /// CommitLog offset of its record.
    pub phy_offset: i64,
    /// Store time of its record.
    pub store_timestamp: i64,
}

/// Why tails are written by [`ConsumeQueueTable::write_tails`].
#[derive(Debug, Clone, Copy)]
enum Due {
    /// Tails older than [`MAX_PENDING_AGE`] and the oldest ones past [`MAX_PENDING_BYTES`].
    AgeOrCap(Instant),
    /// Every tail.
    All,
}

impl ConsumeQueueTable {
    /// Writes a queue's pending tail (if any) and frees its buffer. On an error the tail stays.
    pub(super) fn write_tail(&self, st: &mut QueueState) -> StoreResult<()> {
        if st.tail.is_empty() {
            return Ok(());
        }
        self.write_entries(st, st.written_offset(), &st.tail)?;
        self.forget_tail(st);
        Ok(())
    }

    /// Drops a queue's pending tail without writing it (its queue is being deleted).
    pub(super) fn discard_tail(&self, st: &mut QueueState) {
        if !st.tail.is_empty() {
            st.max_offset = st.written_offset();
            self.forget_tail(st);
        }
    }

    fn forget_tail(&self, st: &mut QueueState) {
        let n = std::mem::take(&mut st.tail).len();
        self.pending.bytes.fetch_sub(n, Ordering::Relaxed);
        self.pending.queues.fetch_sub(1, Ordering::Relaxed);
    }

    /// Writes the tails that are due: older than [`MAX_PENDING_AGE`] at `now`, and the oldest
    /// ones while all tails hold more than [`MAX_PENDING_BYTES`]. Returns the tails written.
    pub fn write_due_tails(&self, now: Instant) -> StoreResult<usize> {
        self.write_tails(Due::AgeOrCap(now))
    }

    /// Writes every pending tail (before a checkpoint that must cover all dispatched entries,
    /// at shutdown, before retention deletes segments). Returns the tails written.
    pub fn write_all_pending(&self) -> StoreResult<usize> {
        self.write_tails(Due::All)
    }

    fn write_tails(&self, due: Due) -> StoreResult<usize> {
        let mut order = lock(&self.pending.order);
        let mut written = 0;
        while let Some(front) = order.front() {
            let mut st = lock(&front.state);
            if front.is_current(&st) {
                let write = match due {
                    Due::All => true,
                    Due::AgeOrCap(now) => {
                        now.saturating_duration_since(front.started) >= self.pending.max_age
                            || self.pending.bytes.load(Ordering::Relaxed) > self.pending.max_bytes
                    }
                };
                if !write {
                    break;
                }
                // Written before it leaves the order: a concurrent `oldest_pending` either
                // sees the tail or finds it written.
                self.write_tail(&mut st)?;
                written += 1;
            }
            drop(st);
            order.pop_front();
        }
        // Tails written when full leave stale references behind: drop them in one pass when
        // they outnumber the live ones.
        if order.len() > 2 * self.pending.queues.load(Ordering::Relaxed) + 1024 {
            order.retain(|r| r.is_current(&lock(&r.state)));
        }
        Ok(written)
    }

    /// The oldest pending entry, `None` if every entry was written.
    pub fn oldest_pending(&self) -> Option<OldestPending> {
        let mut order = lock(&self.pending.order);
        while let Some(front) = order.front() {
            if front.is_current(&lock(&front.state)) {
                return Some(OldestPending {
                    phy_offset: front.first_phy,
                    store_timestamp: front.store_timestamp,
                });
            }
            order.pop_front();
        }
        None
    }

    /// Sets the pending-tail cap and age (tests).
    #[cfg(test)]
    fn set_pending_limits(&mut self, max_bytes: usize, max_age: Duration) {
        self.pending.max_bytes = max_bytes;
        self.pending.max_age = max_age;
    }

    /// Bytes of entries pending in tails (their buffers hold up to ~1.5 times that).
    pub fn pending_bytes(&self) -> usize {
        self.pending.bytes.load(Ordering::Relaxed)
    }

    /// Queues with a pending tail.
    pub fn pending_queues(&self) -> usize {
        self.pending.queues.load(Ordering::Relaxed)
    }
}

/// The ConsumeQueue side of one dispatch batch: entries go to their queues' pending tails as
/// they are pushed (readable at once); [`CqBatch::finish`] reports each queue that got entries
/// once, with its new max offset, in [`CqBatch::arrived`], and writes the tails that are full
/// or due.
#[derive(Debug)]
pub struct CqBatch {
    id: u64,
    started: Instant,
    /// Every queue that got entries in this batch, in first-entry order. The newest
    /// [`RECENT_QUEUES`] also serve as a cache in front of the table's lookup: a batch's records
    /// usually cycle over a few queues. (A queue's state is never replaced while a dispatch
    /// pass runs: topic deletion keeps dispatch out.)
    touched: Vec<Touched>,
    /// (topic, queue id, new max offset) of every queue that got entries, filled by `finish`.
    pub arrived: Vec<(Arc<str>, i32, i64)>,
    /// Records in the batch (set by dispatch).
    pub records: usize,
    /// Highest store timestamp of the batch's records (set by dispatch).
    pub max_timestamp: u64,
}

/// A queue [`CqBatch`] got entries for.
#[derive(Debug)]
struct Touched {
    topic: Arc<str>,
    queue_id: i32,
    state: Arc<Mutex<QueueState>>,
}

/// How many of a batch's most recently touched queues [`CqBatch::push`] looks through before
/// the table's lookup (a bounded scan: a batch may touch thousands of queues).
const RECENT_QUEUES: usize = 16;

impl CqBatch {
    /// An empty batch of `cq`.
    pub fn new(cq: &ConsumeQueueTable) -> Self {
        CqBatch {
            id: cq.next_batch_id.fetch_add(1, Ordering::Relaxed),
            started: Instant::now(),
            touched: Vec::new(),
            arrived: Vec::new(),
            records: 0,
            max_timestamp: 0,
        }
    }

    /// Appends entry `queue_offset` of a queue, whose record was stored at `store_timestamp`, to
    /// its pending tail (dispatch path). The entry is readable at once. An entry that does not
    /// extend the queue (a re-dispatch after an error, or a gap) is written directly after the
    /// tail, like [`ConsumeQueueTable::put`].
    pub fn push(
        &mut self,
        cq: &ConsumeQueueTable,
        topic: &str,
        queue_id: i32,
        queue_offset: i64,
        entry: CqEntry,
        store_timestamp: i64,
    ) -> StoreResult<()> {
        let recent = self.touched.get(self.touched.len().saturating_sub(RECENT_QUEUES)..);
        let cached = recent
            .unwrap_or_default()
            .iter()
            .rfind(|t| t.queue_id == queue_id && *t.topic == *topic);
        let state = match cached {
            Some(t) => Arc::clone(&t.state),
            None => cq.state_or_create(topic, queue_id),
        };
        let mut st = lock(&state);
        if st.batch_mark != self.id {
            st.batch_mark = self.id;
            self.touched.push(Touched {
                topic: Arc::clone(&st.topic),
                queue_id,
                state: Arc::clone(&state),
            });
        }
        if st.max_offset == 0 && st.min_offset == 0 && queue_offset > 0 {
            st.min_offset = queue_offset;
            st.max_offset = queue_offset;
        }
        if queue_offset != st.max_offset {
            if st.pending_entry(queue_offset) == Some(entry) {
                return Ok(());
            }
            drop(st);
            cq.put(topic, queue_id, queue_offset, entry)?;
            return Ok(());
        }
        let first = st.tail.is_empty();
        if st.tail.len() == st.tail.capacity() {
            // Grow by half (at least 8 entries): at most ~1/3 of a tail's buffer is slack,
            // where doubling would leave up to half of the pending memory unused.
            let more = (st.tail.len() / 2).max(TAIL_INITIAL_BYTES);
            st.tail.reserve_exact(more);
        }
        st.tail.extend_from_slice(&entry.encode());
        st.max_offset += 1;
        drop(st);
        cq.pending.bytes.fetch_add(CQ_UNIT_SIZE as usize, Ordering::Relaxed);
        if first {
            cq.pending.queues.fetch_add(1, Ordering::Relaxed);
            lock(&cq.pending.order).push_back(TailRef {
                state,
                first_offset: queue_offset,
                first_phy: entry.phy_offset,
                store_timestamp,
                started: self.started,
            });
        }
        Ok(())
    }

    /// Ends the batch: fills [`CqBatch::arrived`], writes the tails that reached
    /// [`TAIL_FILL_ENTRIES`], then the tails that are due, and starts the next batch.
    pub fn finish(&mut self, cq: &ConsumeQueueTable) -> StoreResult<()> {
        let fill = TAIL_FILL_ENTRIES * CQ_UNIT_SIZE as usize;
        for Touched { state, .. } in self.touched.drain(..) {
            let mut st = lock(&state);
            self.arrived.push((Arc::clone(&st.topic), st.queue_id, st.max_offset));
            if st.tail.len() >= fill {
                cq.write_tail(&mut st)?;
            }
        }
        let now = Instant::now();
        cq.write_due_tails(now)?;
        self.id = cq.next_batch_id.fetch_add(1, Ordering::Relaxed);
        self.started = now;
        Ok(())
    }
}

#[cfg(test)]
#[path = "consume_queue_tail_test.rs"]
mod tests;
