//! CommitLog: every message of every topic, appended in RocketMQ's record format into
//! fixed-size segments (`store/.../CommitLog.java`).
//!
//! Components:
//! - [`CommitLog::put`] / [`CommitLog::put_batch`]: encode outside the lock, then under the put
//!   lock assign queue offsets, the physical offset and the store timestamp by patching the
//!   encoded bytes, and copy them into the segment; a record never spans segments (a BLANK
//!   marker fills the tail of a segment that cannot hold it). Encoding uses a per-thread reusable buffer, and the newest segment is cached under the put
//!   lock, so a single put allocates nothing and takes one lock;
//! - [`CommitLog::view`]: zero-copy reads by physical offset;
//! - [`CommitLog::commit`]: writes the segments' write buffers (one `pwrite` each) so that their
//!   bytes become readable (called by a publish under ASYNC_FLUSH);
//! - [`CommitLog::flush`]: commits, notifies dispatch, and syncs the written range (called by the
//!   flush service);
//! - [`CommitLog::recover`]: scans from an offset, validating every record (magic, size, CRC,
//!   stored physical offset), truncates at the first invalid byte and reports each record.
//!
//! Invariants:
//! - queue offsets of a (topic, queue) are dense and increase with the physical offset;
//! - records are validated right before being written (patched header re-read) and after being
//!   read back in recovery;
//! - store timestamps never decrease (so time lookups can binary search).

use std::cell::RefCell;
// foldhash: these maps are looked up several times per message; SipHash cost ~140 instructions
// a lookup (keys are broker-side topic names and queue ids, seeded per map).
use foldhash::{HashMap, HashMapExt};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use ferromq_protocol::message::record::BLANK_MARKER_BYTES;
use ferromq_protocol::message::{
    decode_record, encode_blank, encode_record, patch_record, peek_record_header, sys_flag, MessageRecord, RecordKind,
};

use crate::error::{StoreError, StoreResult};
use crate::fs::Fs;
use crate::mapped_file::{MappedFile, MappedFileQueue, SegmentOptions};
use crate::record_crc;
use crate::wakeup::Wakeup;

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// Physical offset of the first record.
    pub phy_offset: i64,
    /// Bytes written (all records).
    pub wrote_bytes: usize,
    /// Queue offset of the first record.
    pub queue_offset: i64,
    /// Number of records.
    pub msg_num: usize,
    /// Store timestamp written.
    pub store_timestamp: i64,
}

impl AppendResult {
    /// End offset of the append (what a flush must cover).
    pub fn end_offset(&self) -> u64 {
        self.phy_offset as u64 + self.wrote_bytes as u64
    }
}

/// What the CommitLog's flushes did since the store opened (all flush paths: group commits,
/// the async flusher, shutdown). Two overlapping group commits may cover the same bytes; each
/// counts what its own sync covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushStats {
    /// Syncs that made bytes durable (one per segment touched).
    pub syncs: u64,
    /// Bytes those syncs covered.
    pub synced_bytes: u64,
    /// Time the flushes spent writing buffered appends into the segments before their syncs
    /// (ns; also counted for an ASYNC_FLUSH flush that then found too few dirty pages to sync).
    pub commit_ns: u64,
    /// Time spent in the syncs (`msync` / `fdatasync`, ns).
    pub sync_ns: u64,
}

impl FlushStats {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &FlushStats) -> FlushStats {
        FlushStats {
            syncs: self.syncs.saturating_sub(earlier.syncs),
            synced_bytes: self.synced_bytes.saturating_sub(earlier.synced_bytes),
            commit_ns: self.commit_ns.saturating_sub(earlier.commit_ns),
            sync_ns: self.sync_ns.saturating_sub(earlier.sync_ns),
        }
    }
}

#[derive(Debug, Default)]
struct FlushCounters {
    syncs: AtomicU64,
    synced_bytes: AtomicU64,
    commit_ns: AtomicU64,
    sync_ns: AtomicU64,
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A record found by recovery.
#[derive(Debug)]
pub struct RecoveredRecord<'a> {
    /// Decoded record.
    pub record: &'a MessageRecord,
    /// Its size.
    pub size: i32,
}

/// Where recovery cut the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoverSummary {
    /// End of the last valid record (new max offset).
    pub end_offset: u64,
    /// Records scanned and valid.
    pub records: u64,
    /// Why the scan stopped early, if it did.
    pub cut_reason: Option<String>,
}

#[derive(Debug, Default)]
struct PutState {
    queue_offsets: HashMap<String, HashMap<i32, i64>>,
    last_store_timestamp: i64,
    /// The newest segment as of the last append (the queue's last one; only appends add segments
    /// and recovery, which clears this, removes them).
    segment: Option<Arc<MappedFile>>,
}

impl PutState {
    fn queue_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.queue_offsets
            .get(topic)
            .and_then(|m| m.get(&queue_id))
            .copied()
            .unwrap_or(0)
    }

    /// Sets the next queue offset, allocating the topic name only for a new topic.
    fn set_queue_offset(&mut self, topic: &str, queue_id: i32, next: i64) {
        match self.queue_offsets.get_mut(topic) {
            Some(queues) => {
                queues.insert(queue_id, next);
            }
            None => {
                self.queue_offsets
                    .insert(topic.to_owned(), HashMap::from_iter([(queue_id, next)]));
            }
        }
    }
}

thread_local! {
    /// Per-thread encode buffer reused by every put of the thread (no allocation per put).
    static ENCODE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// An encode buffer grown past this (a large batch) is released after use, so many put threads
/// (a blocking pool) hold at most this much each.
const KEEP_ENCODE_BUF_BYTES: usize = 256 << 10;

/// Buffered bytes at which the appender commits the write buffers itself (a publish or a flush
/// normally commits long before: a group commit holds ~0.3 MiB at 256 sends in flight).
const COMMIT_BUFFERED_BYTES: usize = 8 << 20;

/// The CommitLog.
#[derive(Debug)]
pub struct CommitLog {
    queue: MappedFileQueue,
    put: Mutex<PutState>,
    max_message_size: usize,
    append_prop_crc: bool,
    flushed_where: AtomicU64,
    last_append_timestamp: AtomicI64,
    flushed_timestamp: AtomicI64,
    appended: Wakeup,
    flush_counters: FlushCounters,
}

/// Whether a record with this sys flag gets a queue offset and a ConsumeQueue entry.
pub(crate) fn tx_type_has_queue_offset(flag: i32) -> bool {
    matches!(
        sys_flag::transaction_type(flag),
        sys_flag::TRANSACTION_NOT_TYPE | sys_flag::TRANSACTION_COMMIT_TYPE
    )
}

impl CommitLog {
    /// Loads the segments of `dir` (recovery decides where data ends).
    pub fn load(
        fs: Arc<dyn Fs>,
        dir: std::path::PathBuf,
        file_size: u64,
        options: SegmentOptions,
        max_message_size: usize,
        append_prop_crc: bool,
    ) -> StoreResult<Self> {
        let queue = MappedFileQueue::load(fs, dir, file_size, options)?;
        Ok(CommitLog {
            queue,
            put: Mutex::new(PutState::default()),
            max_message_size,
            append_prop_crc,
            flushed_where: AtomicU64::new(0),
            last_append_timestamp: AtomicI64::new(0),
            flushed_timestamp: AtomicI64::new(0),
            appended: Wakeup::default(),
            flush_counters: FlushCounters::default(),
        })
    }

    fn lock_put(&self) -> std::sync::MutexGuard<'_, PutState> {
        self.put.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The segments.
    pub fn queue(&self) -> &MappedFileQueue {
        &self.queue
    }
    /// Lowest stored offset.
    pub fn min_offset(&self) -> u64 {
        self.queue.min_offset()
    }
    /// End of published data.
    pub fn max_offset(&self) -> u64 {
        self.queue.max_offset()
    }
    /// End of durable data.
    pub fn flushed_offset(&self) -> u64 {
        self.flushed_where.load(Ordering::Acquire)
    }
    /// Store time of the newest durable record.
    pub fn flushed_timestamp(&self) -> i64 {
        self.flushed_timestamp.load(Ordering::Acquire)
    }

    /// The event the appender notifies after publishing records and the log follower (dispatch)
    /// waits on; notifying costs no syscall while the follower is awake.
    pub(crate) fn appended(&self) -> &Wakeup {
        &self.appended
    }

    /// Sets the next queue offset of every queue (after recovery).
    pub fn set_queue_offsets(&self, offsets: impl IntoIterator<Item = (String, i32, i64)>) {
        let mut st = self.lock_put();
        st.queue_offsets.clear();
        for (topic, qid, next) in offsets {
            st.queue_offsets.entry(topic).or_default().insert(qid, next);
        }
    }

    /// Forgets the queue offsets of `topic` (its ConsumeQueues were deleted): its next message
    /// gets queue offset 0 again, as in RocketMQ.
    pub fn remove_topic_queue_offsets(&self, topic: &str) {
        self.lock_put().queue_offsets.remove(topic);
    }

    /// Next queue offset of a queue.
    pub fn next_queue_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.lock_put().queue_offset(topic, queue_id)
    }

    fn encode(&self, record: &MessageRecord, out: &mut Vec<u8>) -> StoreResult<usize> {
        if record.body.len() > self.max_message_size {
            return Err(StoreError::MessageTooLarge {
                size: record.body.len(),
                max: self.max_message_size,
            });
        }
        let start = out.len();
        out.reserve(record.total_size() + record_crc::CRC32_RESERVED_LEN + 1);
        encode_record(record, self.max_message_size, out).map_err(|e| StoreError::Encode(e.to_string()))?;
        if self.append_prop_crc {
            record_crc::append_placeholder(out, start, record.properties.len())?;
        }
        let len = out.len() - start;
        let limit = self.queue.file_size() as usize - BLANK_MARKER_BYTES;
        if len > limit {
            return Err(StoreError::MessageTooLarge { size: len, max: limit });
        }
        Ok(len)
    }

    /// Appends one message; its queue offset, physical offset and store timestamp are assigned here.
    pub fn put(&self, record: &MessageRecord, now_ms: i64) -> StoreResult<AppendResult> {
        self.put_batch(std::slice::from_ref(record), now_ms)
    }

    /// Appends messages contiguously in one segment (a batch); each gets its own queue offset.
    ///
    /// The records are encoded into this thread's reusable buffer outside the put lock; under it
    /// only the three assigned fields and the record CRC are patched and the bytes copied into the
    /// segment with one write.
    pub fn put_batch(&self, records: &[MessageRecord], now_ms: i64) -> StoreResult<AppendResult> {
        self.put_batch_sized(records, now_ms, &mut Vec::new())
    }

    /// [`CommitLog::put_batch`] that also pushes the size of each record of a batch (of more
    /// than one record) onto `sizes`, in order: where the records lie, without reading them back
    /// (under SYNC_FLUSH they are readable only once a flush committed them).
    pub fn put_batch_sized(
        &self,
        records: &[MessageRecord],
        now_ms: i64,
        sizes: &mut Vec<usize>,
    ) -> StoreResult<AppendResult> {
        if records.is_empty() {
            return Err(StoreError::Encode("empty batch".into()));
        }
        let reused = ENCODE_BUF.try_with(|cell| {
            let Ok(mut buf) = cell.try_borrow_mut() else {
                return None;
            };
            let result = self.encode_and_append(records, now_ms, &mut buf, sizes);
            if buf.capacity() > KEEP_ENCODE_BUF_BYTES {
                *buf = Vec::new();
            }
            Some(result)
        });
        match reused {
            Ok(Some(result)) => result,
            // Thread-local storage being torn down (or re-entered): use a one-off buffer.
            _ => self.encode_and_append(records, now_ms, &mut Vec::new(), sizes),
        }
    }

    fn encode_and_append(
        &self,
        records: &[MessageRecord],
        now_ms: i64,
        buf: &mut Vec<u8>,
        sizes: &mut Vec<usize>,
    ) -> StoreResult<AppendResult> {
        buf.clear();
        for r in records {
            self.encode(r, buf)?;
        }
        let segment_limit = self.queue.file_size() as usize - BLANK_MARKER_BYTES;
        if buf.len() > segment_limit {
            return Err(StoreError::MessageTooLarge {
                size: buf.len(),
                max: segment_limit,
            });
        }
        let mut guard = self.lock_put();
        let st = &mut *guard;
        let store_timestamp = now_ms.max(st.last_store_timestamp);
        let file = self.segment_for_append(st, buf.len())?;
        let phy_offset = file.start_offset() + file.wrote_position();
        // Next queue offsets this append moves to, applied only once the bytes are written. A
        // single message (the hot path) needs no map and no allocation.
        let mut single_next = None;
        let mut batch_next: HashMap<(&str, i32), i64> = HashMap::new();
        let mut first_queue_offset = None;
        let mut pos = 0usize;
        for r in records {
            let queue_offset = if !tx_type_has_queue_offset(r.sys_flag) {
                0
            } else if records.len() == 1 {
                let next = st.queue_offset(&r.topic, r.queue_id);
                single_next = Some(next + 1);
                next
            } else {
                let slot = batch_next
                    .entry((r.topic.as_str(), r.queue_id))
                    .or_insert_with(|| st.queue_offset(&r.topic, r.queue_id));
                *slot += 1;
                *slot - 1
            };
            first_queue_offset.get_or_insert(queue_offset);
            let rest = buf
                .get_mut(pos..)
                .ok_or(StoreError::NotAvailable("encoded batch length mismatch"))?;
            let size = peek_record_header(rest)
                .ok()
                .and_then(|h| usize::try_from(h.total_size).ok())
                .ok_or(StoreError::NotAvailable("encoded batch length mismatch"))?;
            let slot = rest
                .get_mut(..size)
                .ok_or(StoreError::NotAvailable("encoded batch length mismatch"))?;
            patch_record(slot, queue_offset, (phy_offset + pos as u64) as i64, store_timestamp)
                .map_err(|e| StoreError::Encode(e.to_string()))?;
            if self.append_prop_crc {
                record_crc::fill(slot);
            }
            let header = peek_record_header(slot).map_err(|e| StoreError::Encode(e.to_string()))?;
            assert!(
                matches!(header.kind(), RecordKind::Message(_)) && header.total_size as usize == size,
                "record validated before write"
            );
            if records.len() > 1 {
                sizes.push(size);
            }
            pos += size;
        }
        assert_eq!(pos, buf.len(), "every encoded byte belongs to a record");
        let buffered = file.append(buf);
        if buffered >= COMMIT_BUFFERED_BYTES {
            // Nobody committed for a long while (a slow disk under SYNC_FLUSH): bound the
            // buffer's memory by committing here, under the put lock, like a flush would.
            if self.commit()? {
                self.appended.notify();
            }
        }
        if let (Some(next), Some(r)) = (single_next, records.first()) {
            st.set_queue_offset(&r.topic, r.queue_id, next);
        }
        for ((topic, queue_id), next) in batch_next {
            st.set_queue_offset(topic, queue_id, next);
        }
        st.last_store_timestamp = store_timestamp;
        self.last_append_timestamp.store(store_timestamp, Ordering::Release);
        Ok(AppendResult {
            phy_offset: phy_offset as i64,
            wrote_bytes: buf.len(),
            queue_offset: first_queue_offset.unwrap_or(0),
            msg_num: records.len(),
            store_timestamp,
        })
    }

    /// The segment to append `len` bytes to: the cached newest segment while it has room (no
    /// shared lock on the segment list); otherwise a BLANK marker closes it and the next one is
    /// taken from the queue.
    fn segment_for_append(&self, st: &mut PutState, len: usize) -> StoreResult<Arc<MappedFile>> {
        let mut file = match &st.segment {
            Some(f) if !f.is_full() => Arc::clone(f),
            _ => self.queue.last_or_create(0)?,
        };
        if len as u64 + BLANK_MARKER_BYTES as u64 > file.remaining() {
            let remaining = i32::try_from(file.remaining()).unwrap_or(i32::MAX);
            file.append_blank(&encode_blank(remaining));
            file = self.queue.last_or_create(0)?;
        }
        st.segment = Some(Arc::clone(&file));
        Ok(file)
    }

    /// Zero-copy view of `size` bytes at `phy_offset` (must lie inside one segment's published bytes).
    pub fn view(&self, phy_offset: i64, size: usize) -> StoreResult<Bytes> {
        let out_of_range = || StoreError::OffsetOutOfRange {
            phy_offset,
            min: self.min_offset() as i64,
            max: self.max_offset() as i64,
        };
        let off = u64::try_from(phy_offset).map_err(|_| out_of_range())?;
        let file = self.queue.find(off).ok_or_else(out_of_range)?;
        file.view(off - file.start_offset(), size)
    }

    /// Reads and decodes (with CRC check) the record at `phy_offset`.
    pub fn read_record(&self, phy_offset: i64) -> StoreResult<(MessageRecord, Bytes)> {
        let head = self.view(phy_offset, 8)?;
        let header = peek_record_header(&head).map_err(|e| corrupt(phy_offset, e))?;
        let size = usize::try_from(header.total_size).map_err(|_| corrupt(phy_offset, "negative size"))?;
        let bytes = self.view(phy_offset, size)?;
        let record = decode_record(&bytes, true).map_err(|e| corrupt(phy_offset, e))?;
        Ok((record, bytes))
    }

    /// Whether the record at `phy_offset` is the one a ConsumeQueue entry describes.
    pub fn matches_entry(&self, phy_offset: i64, size: i32, topic: &str, queue_id: i32, queue_offset: i64) -> bool {
        let Ok(size) = usize::try_from(size) else { return false };
        let Ok(bytes) = self.view(phy_offset, size) else {
            return false;
        };
        match decode_record(&bytes, false) {
            Ok(r) => {
                r.phy_offset == phy_offset
                    && r.topic == topic
                    && r.queue_id == queue_id
                    && r.queue_offset == queue_offset
            }
            Err(_) => false,
        }
    }

    /// The whole record at `phy_offset` (size from its header), zero-copy, not validated.
    pub fn record_bytes(&self, phy_offset: i64) -> StoreResult<Bytes> {
        let head = self.view(phy_offset, 8)?;
        let header = peek_record_header(&head).map_err(|e| corrupt(phy_offset, e))?;
        let size = usize::try_from(header.total_size).map_err(|_| corrupt(phy_offset, "negative size"))?;
        self.view(phy_offset, size)
    }

    /// Bytes from `phy_offset` to the end of its segment's readable data (for dispatch); `None`
    /// when there are none.
    pub fn view_to_segment_end(&self, phy_offset: u64) -> Option<(Arc<MappedFile>, Bytes)> {
        let file = self.queue.find(phy_offset)?;
        let pos = phy_offset - file.start_offset();
        let len = file.read_position().checked_sub(pos).filter(|len| *len > 0)?;
        let bytes = file.view(pos, usize::try_from(len).ok()?).ok()?;
        Some((file, bytes))
    }

    /// Commits the write buffers, oldest segment first, without syncing: everything appended so
    /// far becomes readable. Returns whether anything was committed (the caller dispatches).
    pub fn commit(&self) -> StoreResult<bool> {
        self.commit_with(&mut |_, _| {})
    }

    /// [`CommitLog::commit`], handing each segment's newly readable bytes and the offset of
    /// their first byte to `on_committed` (see [`MappedFile::commit_with`]).
    pub fn commit_with(&self, on_committed: &mut dyn FnMut(u64, &[u8])) -> StoreResult<bool> {
        let mut committed = false;
        for f in self.queue.uncommitted() {
            committed |= f.commit_with(on_committed)?;
        }
        Ok(committed)
    }

    /// Syncs written data if at least `least_pages` dirty pages (0 = all); returns the durable offset.
    ///
    /// Calls may overlap (the flush service keeps two group commits in flight): each syncs from
    /// the durable offset it saw, and the durable offset only moves up.
    pub fn flush(&self, least_pages: u64) -> StoreResult<u64> {
        let timestamp = self.last_append_timestamp.load(Ordering::Acquire);
        let mut durable = self.flushed_offset();
        let files = self.queue.files();
        let last_index = files.len().saturating_sub(1);
        for (i, f) in files.iter().enumerate() {
            let end = f.start_offset() + f.file_size();
            if end <= durable {
                continue;
            }
            let least = if i == last_index { least_pages } else { 0 };
            let started = Instant::now();
            // Commit first and tell dispatch, which then reads the bytes while the fsync runs.
            if f.commit()? {
                self.appended.notify();
            }
            let committed = Instant::now();
            let before = f.flushed_position();
            let pos = f.flush(least)?;
            let c = &self.flush_counters;
            c.commit_ns.fetch_add(nanos(committed - started), Ordering::Relaxed);
            if pos > before {
                c.syncs.fetch_add(1, Ordering::Relaxed);
                c.synced_bytes.fetch_add(pos - before, Ordering::Relaxed);
                c.sync_ns.fetch_add(nanos(committed.elapsed()), Ordering::Relaxed);
            }
            durable = f.start_offset() + pos;
            if pos < f.file_size() {
                break;
            }
        }
        if durable >= self.max_offset() {
            self.flushed_timestamp.fetch_max(timestamp, Ordering::AcqRel);
        }
        self.flushed_where.fetch_max(durable, Ordering::AcqRel);
        Ok(self.flushed_offset())
    }

    /// What the flushes did so far.
    pub fn flush_stats(&self) -> FlushStats {
        let c = &self.flush_counters;
        FlushStats {
            syncs: c.syncs.load(Ordering::Relaxed),
            synced_bytes: c.synced_bytes.load(Ordering::Relaxed),
            commit_ns: c.commit_ns.load(Ordering::Relaxed),
            sync_ns: c.sync_ns.load(Ordering::Relaxed),
        }
    }

    /// Deletes head segments that `should_delete` selects (never the newest).
    pub fn delete_head_while(&self, should_delete: impl FnMut(&MappedFile) -> bool) -> StoreResult<usize> {
        self.queue.delete_head_while(should_delete)
    }

    /// Stops background work (the segment allocator).
    pub fn shutdown(&self) {
        self.queue.shutdown();
    }
}

fn corrupt(phy_offset: i64, reason: impl std::fmt::Display) -> StoreError {
    StoreError::CorruptRecord {
        phy_offset,
        reason: reason.to_string(),
    }
}

#[path = "commit_log_scan.rs"]
mod scan;

#[cfg(test)]
#[path = "commit_log_test.rs"]
mod tests;
