//! `MessageStore`: the facade the broker uses (RocketMQ `DefaultMessageStore`).
//!
//! Components: open + recovery (`recovery`), put (single and batch, with a flush
//! ticket), get by queue offset with count / byte limits and a tags-code filter, lookups by
//! physical offset, key and time, arrival listeners, and the background threads: flush
//! ([`crate::flush`]), dispatch (`dispatch`) and retention (`retention`).
//!
//! Invariants:
//! - the `abort` marker exists while the store is open; a clean shutdown flushes everything,
//!   writes the checkpoint and then removes it (recovery validates the tail either way);
//! - puts are refused while the disk is above the hard watermark, after an fsync failure, and
//!   after shutdown; reads keep working in all three cases.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use bytes::Bytes;
use ferromq_protocol::message::{properties, property_value, MessageRecord};

use crate::checkpoint::{CheckpointData, StoreCheckpoint};
use crate::commit_log::{AppendResult, CommitLog};
use crate::config::MessageStoreConfig;
use crate::consume_queue::{ArrivalListener, ConsumeQueueTable};
use crate::error::{StoreError, StoreResult};
use crate::flush::{FlushOutcome, FlushService, FlushTicket};
use crate::fs::Fs;
use crate::index_file::IndexService;
use crate::signal::Signals;
use std::time::Duration;

/// A clock in ms since the epoch (injectable for tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    })
}

/// Final status of a put (RocketMQ `PutMessageStatus` subset that depends on the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMessageStatus {
    /// Stored (and durable under SYNC_FLUSH).
    PutOk,
    /// Stored, but the fsync did not complete within `syncFlushTimeout`.
    FlushDiskTimeout,
    /// Stored, but the fsync failed: durability unknown (the store refuses further writes).
    FlushDiskFailed,
}

/// Where one record of a put was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRecord {
    /// CommitLog offset of the record (what an offsetMsgId encodes).
    pub phy_offset: i64,
    /// Size of the stored record in bytes, as stored (with the properties the store appends).
    pub size: usize,
}

/// Result of a put: where it went, and a ticket that completes when it is durable.
#[derive(Debug, Clone)]
pub struct PutMessageResult {
    /// Offsets and sizes assigned (first record, totals).
    pub append: AppendResult,
    /// Every stored record, in put order (`append.msg_num` of them, back to back).
    pub records: Vec<StoredRecord>,
    /// Completes after the covering fsync (immediately under ASYNC_FLUSH).
    pub ticket: FlushTicket,
}

impl PutMessageResult {
    /// Blocks until the ticket completes and maps the outcome to a status.
    pub fn wait_status(&self) -> PutMessageStatus {
        status_of(self.ticket.wait())
    }
}

/// Maps a flush outcome to a put status.
pub fn status_of(outcome: FlushOutcome) -> PutMessageStatus {
    match outcome {
        FlushOutcome::Flushed => PutMessageStatus::PutOk,
        FlushOutcome::Timeout => PutMessageStatus::FlushDiskTimeout,
        FlushOutcome::Failed => PutMessageStatus::FlushDiskFailed,
    }
}

/// Status of a get (RocketMQ `GetMessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetMessageStatus {
    /// Messages returned.
    Found,
    /// Entries exist but none passed the filter.
    NoMatchedMessage,
    /// The entries point below the CommitLog minimum (deleted).
    MessageWasRemoving,
    /// The queue has no messages.
    NoMessageInQueue,
    /// Offset below the queue minimum.
    OffsetTooSmall,
    /// Offset equals the queue maximum (nothing new yet).
    OffsetOverflowOne,
    /// Offset beyond the queue maximum.
    OffsetOverflowBadly,
}

/// Result of a get.
#[derive(Debug, Clone)]
pub struct GetMessageResult {
    /// Status.
    pub status: GetMessageStatus,
    /// Whole records, zero-copy views of the CommitLog.
    pub messages: Vec<Bytes>,
    /// Queue offset of each returned record.
    pub queue_offsets: Vec<i64>,
    /// Where the next get should start.
    pub next_begin_offset: i64,
    /// Queue minimum offset.
    pub min_offset: i64,
    /// Queue maximum offset.
    pub max_offset: i64,
}

/// ConsumeQueue entries examined per get at most (RocketMQ `maxFilterMessageCount`).
pub const MAX_FILTER_MESSAGE_COUNT: usize = 16_000;
/// Most ConsumeQueue entries one read round of [`MessageStore::get_messages`] asks for.
pub const CQ_READ_BATCH_MAX: usize = 1024;

/// Shared state of the store and its threads.
pub(crate) struct StoreInner {
    pub(crate) config: MessageStoreConfig,
    pub(crate) fs: Arc<dyn Fs>,
    pub(crate) clock: Clock,
    pub(crate) commit_log: Arc<CommitLog>,
    pub(crate) cq: ConsumeQueueTable,
    pub(crate) index: Option<IndexService>,
    pub(crate) checkpoint: StoreCheckpoint,
    pub(crate) checkpoint_data: Mutex<CheckpointData>,
    pub(crate) flush: FlushService,
    pub(crate) reput_offset: AtomicU64,
    pub(crate) dispatch_lock: Mutex<()>,
    pub(crate) last_dispatched_timestamp: AtomicU64,
    pub(crate) signals: Signals,
    pub(crate) listeners: RwLock<Vec<ArrivalListener>>,
    pub(crate) disk_full: AtomicBool,
    pub(crate) shutdown: AtomicBool,
    pub(crate) delay_levels_ms: Vec<i64>,
}

/// The message store.
pub struct MessageStore {
    pub(crate) inner: Arc<StoreInner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for MessageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStore")
            .field("root", &self.inner.config.store_path_root_dir)
            .finish_non_exhaustive()
    }
}

impl MessageStore {
    /// Opens (recovering) the store at `config.storePathRootDir` on `fs`, with the system clock.
    pub fn open(config: MessageStoreConfig, fs: Arc<dyn Fs>) -> StoreResult<Self> {
        Self::open_with_clock(config, fs, system_clock())
    }

    /// Opens with an explicit clock.
    pub fn open_with_clock(config: MessageStoreConfig, fs: Arc<dyn Fs>, clock: Clock) -> StoreResult<Self> {
        let inner = crate::recovery::open_and_recover(config, fs, clock)?;
        let inner = Arc::new(inner);
        let threads = vec![
            crate::dispatch::spawn(Arc::clone(&inner))?,
            crate::retention::spawn(Arc::clone(&inner))?,
        ];
        Ok(MessageStore {
            inner,
            threads: Mutex::new(threads),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MessageStoreConfig {
        &self.inner.config
    }

    fn check_writable(&self) -> StoreResult<()> {
        let inner = &self.inner;
        if inner.shutdown.load(Ordering::Acquire) {
            return Err(StoreError::NotAvailable("store is shut down"));
        }
        if inner.flush.has_failed() {
            return Err(StoreError::NotAvailable("a CommitLog fsync failed; writes are refused"));
        }
        if inner.disk_full.load(Ordering::Acquire) {
            let usage = inner.fs.disk_usage(&inner.config.store_path_root_dir).ok();
            return Err(StoreError::DiskFull {
                used_ratio_percent: usage.map_or(100, |u| u.used_percent()),
                limit_percent: (inner.config.disk_space_warning_level_ratio * 100.0) as u32,
            });
        }
        Ok(())
    }

    /// Appends one message. Under SYNC_FLUSH, wait on (or register a callback with) the ticket
    /// before acknowledging.
    pub fn put_message(&self, record: &MessageRecord) -> StoreResult<PutMessageResult> {
        self.put_messages(std::slice::from_ref(record))
    }

    /// Appends a batch contiguously; queue offsets are consecutive per queue. The records are
    /// readable when this returns under ASYNC_FLUSH (under SYNC_FLUSH once their group commit
    /// wrote them).
    pub fn put_messages(&self, records: &[MessageRecord]) -> StoreResult<PutMessageResult> {
        let result = self.put_messages_unpublished(records)?;
        self.publish();
        Ok(result)
    }

    /// Appends like [`MessageStore::put_messages`] but leaves the records in the write buffer:
    /// the caller calls [`MessageStore::publish`] soon after, once for many puts (the broker
    /// does at the end of each batch of requests read from a connection), so that their bytes
    /// reach the page cache in one `pwrite`. Until then nobody reads them; the flush service
    /// commits them at the latest when it next runs.
    pub fn put_messages_unpublished(&self, records: &[MessageRecord]) -> StoreResult<PutMessageResult> {
        self.check_writable()?;
        let mut sizes = Vec::new();
        let append = self
            .inner
            .commit_log
            .put_batch_sized(records, (self.inner.clock)(), &mut sizes)?;
        let ticket = self.inner.flush.request(append.end_offset());
        let records = Self::stored_records(&append, &sizes);
        Ok(PutMessageResult {
            append,
            records,
            ticket,
        })
    }

    /// Makes everything appended so far readable under ASYNC_FLUSH: commits the write buffers
    /// with one `pwrite`, then builds the ConsumeQueue and IndexFile entries on this thread.
    /// Cheap when nothing is pending. Under SYNC_FLUSH the flush service commits (one `pwrite` per group
    /// commit) and wakes dispatch, so this does nothing.
    ///
    /// A failed commit keeps the bytes buffered (the next commit retries them; a flush that
    /// fails too refuses further writes) and is logged, not returned: the records were appended
    /// and have their offsets, so failing their put would only make the sender send them again.
    pub fn publish(&self) {
        let inner = &self.inner;
        if inner.config.is_sync_flush() {
            return;
        }
        // The committed bytes are dispatched from the write buffer while still in hand, under
        // the commit lock (lock order: put -> commit -> dispatch; nothing takes an earlier one
        // while holding a later one).
        let mut dispatch_error = None;
        let committed = inner.commit_log.commit_with(&mut |offset, bytes| {
            if let Err(e) = crate::dispatch::dispatch_committed(inner, offset, bytes) {
                dispatch_error.get_or_insert(e);
            }
        });
        if let Some(e) = dispatch_error {
            tracing::warn!(error = %e, "dispatch of committed bytes failed; retried from the CommitLog");
        }
        match committed {
            // Nothing new means another thread (the flush service) committed these bytes: they
            // are readable, and dispatching them here keeps them readable by queue on return.
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "committing the CommitLog write buffer failed; retried by the next commit");
                return;
            }
        }
        // Whatever else is published and not dispatched yet (the flush service committed it, or
        // it lies past a BLANK marker) is dispatched here, waiting for the dispatch thread if it
        // holds the lock (its passes are short): the records are readable by queue when this
        // returns. Usually the commit above dispatched everything and this is skipped.
        if inner.reput_offset.load(std::sync::atomic::Ordering::Acquire) < inner.commit_log.max_offset() {
            if let Err(e) = crate::dispatch::dispatch_available(inner) {
                tracing::warn!(error = %e, "dispatch after publish failed; the dispatch thread retries");
                inner.wake_dispatch();
            }
        }
    }

    /// Locations of the records of an append, from the sizes the CommitLog encoded (the store
    /// adds properties, so sizes differ from the sizes of the records handed in).
    fn stored_records(append: &AppendResult, sizes: &[usize]) -> Vec<StoredRecord> {
        if append.msg_num == 1 {
            return vec![StoredRecord {
                phy_offset: append.phy_offset,
                size: append.wrote_bytes,
            }];
        }
        let mut out = Vec::with_capacity(append.msg_num);
        let mut phy_offset = append.phy_offset;
        for &size in sizes {
            out.push(StoredRecord { phy_offset, size });
            phy_offset += size as i64;
        }
        assert_eq!(out.len(), append.msg_num, "one location per appended record");
        assert_eq!(
            phy_offset,
            append.phy_offset + append.wrote_bytes as i64,
            "the records fill the append"
        );
        out
    }

    /// Reads up to `max_count` records / `max_bytes` bytes from a queue, starting at `offset`,
    /// keeping entries whose tags code passes `filter`.
    pub fn get_messages(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_count: usize,
        max_bytes: usize,
        filter: Option<&dyn Fn(i64) -> bool>,
    ) -> StoreResult<GetMessageResult> {
        let cq = &self.inner.cq;
        let (min, max) = (cq.min_offset(topic, queue_id), cq.max_offset(topic, queue_id));
        let mut result = GetMessageResult {
            status: GetMessageStatus::NoMessageInQueue,
            messages: Vec::new(),
            queue_offsets: Vec::new(),
            next_begin_offset: offset,
            min_offset: min,
            max_offset: max,
        };
        if max == 0 {
            result.next_begin_offset = 0;
            return Ok(result);
        }
        if offset < min {
            result.status = GetMessageStatus::OffsetTooSmall;
            result.next_begin_offset = min;
            return Ok(result);
        }
        if offset == max {
            result.status = GetMessageStatus::OffsetOverflowOne;
            return Ok(result);
        }
        if offset > max {
            result.status = GetMessageStatus::OffsetOverflowBadly;
            result.next_begin_offset = max;
            return Ok(result);
        }
        let cl_min = self.inner.commit_log.min_offset() as i64;
        let (mut next, mut bytes, mut examined, mut removed) = (offset, 0usize, 0usize, false);
        // Read only the entries a pull can use: first as many as it still wants, then twice as
        // many per round while the filter drops entries (a 32-message pull reads 32 entries,
        // not a fixed 1024).
        let mut batch = max_count.clamp(1, CQ_READ_BATCH_MAX);
        'outer: while next < max && result.messages.len() < max_count && examined < MAX_FILTER_MESSAGE_COUNT {
            let want = batch.min(MAX_FILTER_MESSAGE_COUNT - examined);
            batch = batch.saturating_mul(2).min(CQ_READ_BATCH_MAX);
            let entries = cq.get_entries(topic, queue_id, next, want)?;
            if entries.is_empty() {
                break;
            }
            for e in entries {
                if result.messages.len() >= max_count || (bytes > 0 && bytes + e.size.max(0) as usize > max_bytes) {
                    break 'outer;
                }
                examined += 1;
                let this = next;
                next += 1;
                if !e.is_valid() {
                    continue;
                }
                if e.phy_offset < cl_min {
                    removed = true;
                    continue;
                }
                if filter.is_some_and(|f| !f(e.tags_code)) {
                    continue;
                }
                let view = self.inner.commit_log.view(e.phy_offset, e.size as usize)?;
                bytes += view.len();
                result.messages.push(view);
                result.queue_offsets.push(this);
            }
        }
        result.next_begin_offset = next;
        result.status = if !result.messages.is_empty() {
            GetMessageStatus::Found
        } else if removed {
            GetMessageStatus::MessageWasRemoving
        } else {
            GetMessageStatus::NoMatchedMessage
        };
        Ok(result)
    }

    /// The record at a physical offset, CRC-checked.
    pub fn look_message_by_offset(&self, phy_offset: i64) -> StoreResult<MessageRecord> {
        Ok(self.inner.commit_log.read_record(phy_offset)?.0)
    }

    /// Raw bytes of the record at a physical offset (size read from its header), not validated.
    pub fn get_record_at(&self, phy_offset: i64) -> StoreResult<Bytes> {
        self.inner.commit_log.record_bytes(phy_offset)
    }

    /// Raw bytes of the record at a physical offset with a known size.
    pub fn get_record_bytes(&self, phy_offset: i64, size: usize) -> StoreResult<Bytes> {
        self.inner.commit_log.view(phy_offset, size)
    }

    /// Messages of `topic` whose UNIQ_KEY or one of whose KEYS equals `key`, stored within
    /// `[begin_ms, end_ms]`, newest first, at most `max`.
    pub fn query_message(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin_ms: i64,
        end_ms: i64,
    ) -> StoreResult<Vec<MessageRecord>> {
        let Some(index) = &self.inner.index else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for phy in index.query(topic, key, max.saturating_mul(2).max(max), begin_ms, end_ms)? {
            if out.len() >= max {
                break;
            }
            // Index hits are hints: verify the record really carries the key.
            let Ok((record, _)) = self.inner.commit_log.read_record(phy) else {
                continue;
            };
            let uniq = property_value(&record.properties, properties::UNIQ_KEY) == Some(key);
            let keys = property_value(&record.properties, properties::KEYS)
                .is_some_and(|ks| ks.split(properties::KEY_SEPARATOR).any(|k| k == key));
            if record.topic == topic && (uniq || keys) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Next queue offset of a queue (ConsumeQueue max offset).
    pub fn max_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner.cq.max_offset(topic, queue_id)
    }

    /// First readable queue offset.
    pub fn min_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner.cq.min_offset(topic, queue_id)
    }

    /// First queue offset whose message was stored at or after `timestamp_ms`.
    pub fn offset_in_queue_by_time(&self, topic: &str, queue_id: i32, timestamp_ms: i64) -> StoreResult<i64> {
        let cl = &self.inner.commit_log;
        self.inner.cq.offset_by_time(topic, queue_id, timestamp_ms, |e| {
            cl.read_record(e.phy_offset).ok().map(|(r, _)| r.store_timestamp)
        })
    }

    /// Queue offset of the LAST entry stored at or before `timestamp_ms` (RocketMQ's
    /// `BoundaryType.UPPER`): one before the first entry stored after it, never below the
    /// queue's min offset.
    pub fn offset_in_queue_by_time_upper(&self, topic: &str, queue_id: i32, timestamp_ms: i64) -> StoreResult<i64> {
        let first_after = self.offset_in_queue_by_time(topic, queue_id, timestamp_ms.saturating_add(1))?;
        Ok((first_after - 1).max(self.min_offset_in_queue(topic, queue_id)))
    }

    /// Lowest CommitLog offset.
    pub fn min_phy_offset(&self) -> i64 {
        self.inner.commit_log.min_offset() as i64
    }
    /// End of the CommitLog.
    pub fn max_phy_offset(&self) -> i64 {
        self.inner.commit_log.max_offset() as i64
    }
    /// End of durable CommitLog data.
    pub fn flushed_phy_offset(&self) -> i64 {
        self.inner.commit_log.flushed_offset() as i64
    }
    /// What the CommitLog's flushes (syncs, bytes, time) did since the store opened.
    pub fn flush_stats(&self) -> crate::commit_log::FlushStats {
        self.inner.commit_log.flush_stats()
    }
    /// CommitLog offset up to which ConsumeQueue and IndexFile are built.
    pub fn dispatched_phy_offset(&self) -> i64 {
        self.inner.reput_offset.load(Ordering::Acquire) as i64
    }
    /// Whether puts are refused for lack of disk space.
    pub fn is_disk_full(&self) -> bool {
        self.inner.disk_full.load(Ordering::Acquire)
    }
    /// Number of ConsumeQueue files open right now.
    pub fn open_consume_queue_files(&self) -> usize {
        self.inner.cq.open_file_count()
    }

    /// Bytes of ConsumeQueue entries dispatched but still pending in memory (readable, not yet
    /// written to their files; see `consume_queue_tail.rs`).
    pub fn pending_consume_queue_bytes(&self) -> usize {
        self.inner.cq.pending_bytes()
    }

    /// Registers a callback for new ConsumeQueue entries: (topic, queue id, new max offset).
    /// Called on the dispatch thread; keep it short (e.g. wake a long-polling waiter).
    pub fn register_arrival_listener(&self, listener: ArrivalListener) {
        self.inner
            .listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(listener);
    }

    /// Deletes a topic's ConsumeQueues (files and queue table entries; RocketMQ `deleteTopics`).
    /// Its records stay in the CommitLog until retention removes their segments, and its next
    /// message starts at queue offset 0 again. The CommitLog is flushed and the checkpoint
    /// written afterwards, so recovery does not rebuild the deleted queues from records it
    /// re-dispatches. A send racing the deletion may be dropped with the topic. Returns the
    /// number of ConsumeQueue files deleted.
    pub fn delete_topic(&self, topic: &str) -> StoreResult<usize> {
        let inner = &self.inner;
        // Lock order is put -> commit -> dispatch (a put may commit; a publish dispatches inside
        // its commit), so the put lock is not taken under the dispatch lock: the offsets are
        // forgotten first (a send in between is one racing the deletion).
        inner.commit_log.remove_topic_queue_offsets(topic);
        let deleted = {
            let _dispatch = inner.dispatch_lock.lock().unwrap_or_else(|e| e.into_inner());
            crate::dispatch::dispatch_locked(inner)?;
            inner.cq.delete_topic(topic)?
        };
        inner.commit_log.flush(0)?;
        crate::dispatch::flush_and_checkpoint(inner)?;
        tracing::info!(topic, files = deleted, "topic's ConsumeQueues deleted");
        Ok(deleted)
    }

    /// Dispatches everything written so far (normally done by the dispatch thread), committing
    /// the write buffers first (normally done by a publish or the flush service).
    pub fn dispatch_now(&self) -> StoreResult<()> {
        self.inner.commit_log.commit()?;
        crate::dispatch::dispatch_available(&self.inner).map(|_| ())
    }

    /// Runs one retention pass now (normally every `cleanResourceInterval`).
    pub fn run_retention_now(&self) -> StoreResult<()> {
        crate::retention::run_once(&self.inner)
    }

    /// Flushes the CommitLog, dispatches everything, syncs ConsumeQueue and IndexFile and writes
    /// the checkpoint now.
    pub fn checkpoint_now(&self) -> StoreResult<()> {
        self.inner.commit_log.flush(0)?;
        crate::dispatch::dispatch_available(&self.inner)?;
        crate::dispatch::flush_and_checkpoint(&self.inner)
    }

    /// Clean shutdown: stops the threads, flushes, checkpoints, removes `abort`. Idempotent.
    pub fn shutdown(&self) -> StoreResult<()> {
        if self.inner.shutdown.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.signals.shutdown();
        self.inner.commit_log.appended().notify_stop();
        for t in std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner())) {
            let _ = t.join();
        }
        self.inner.flush.shutdown();
        self.inner.commit_log.shutdown();
        self.inner.commit_log.flush(0)?;
        crate::dispatch::dispatch_available(&self.inner)?;
        crate::dispatch::flush_and_checkpoint(&self.inner)?;
        let abort = self.abort_path();
        self.inner
            .fs
            .remove_file(&abort)
            .map_err(|e| StoreError::io("remove abort", &abort, e))?;
        tracing::info!(root = %self.inner.config.store_path_root_dir.display(), "store shut down cleanly");
        Ok(())
    }

    fn abort_path(&self) -> PathBuf {
        self.inner.config.store_path_root_dir.join("abort")
    }

    /// Stops the threads without flushing or checkpointing (a simulated crash in tests).
    pub fn halt(&self) {
        self.inner.shutdown.store(true, Ordering::Release);
        self.inner.signals.shutdown();
        self.inner.commit_log.appended().notify_stop();
        for t in std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner())) {
            let _ = t.join();
        }
        self.inner.flush.halt();
        self.inner.commit_log.shutdown();
    }
}

impl StoreInner {
    /// Tells the dispatch thread that records were published: a flag store while it is awake,
    /// a futex wake only when it sleeps (see [`crate::wakeup`]).
    pub(crate) fn wake_dispatch(&self) {
        self.commit_log.appended().notify();
    }

    /// Dispatch thread: waits for a put, shutdown or `timeout`; returns whether to stop.
    pub(crate) fn wait_signal(&self, timeout: Duration) -> bool {
        let stopping = || self.shutdown.load(Ordering::Acquire);
        self.commit_log.appended().wait(timeout, stopping);
        stopping()
    }
}

impl Drop for MessageStore {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!(error = %e, "store shutdown on drop failed");
        }
    }
}

#[cfg(test)]
#[path = "store_test.rs"]
mod tests;
