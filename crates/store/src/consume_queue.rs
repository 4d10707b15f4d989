//! ConsumeQueue: the per-(topic, queue) index of CommitLog records, 20 bytes per entry
//! (`store/.../ConsumeQueue.java`): i64 CommitLog offset, i32 record size, i64 tags code.
//!
//! Components:
//! - [`CqEntry`]: one entry and its codec;
//! - [`ConsumeQueueTable`]: every queue's small in-memory state (min / max offset, pending
//!   tail) plus the shared [`FileCache`] of open segment files; files live at
//!   `consumequeue/<topic>/<queueId>/<20-digit byte offset>`;
//! - pending tails and [`CqBatch`] (`consume_queue_tail.rs`): dispatch appends entries to a
//!   small in-memory tail per queue and writes a tail with one `pwrite` when it fills, when it
//!   grows old, when all tails together pass a memory cap, or when a checkpoint drains them.
//!
//! Invariants:
//! - entry `n` of a queue is at byte `n * 20` of the queue's segment sequence;
//! - a queue's entries `[written, max_offset)` are its pending tail, in memory only; every read
//!   (entries, min / max offset, time search, retention) sees them exactly as if written;
//! - entries of a queue have increasing CommitLog offsets, so the queue is trimmed to a
//!   CommitLog offset by binary search;
//! - an idle queue costs one small struct in memory (its tail buffer is freed once written)
//!   and no open file or mapping.

// foldhash: these maps are looked up several times per message; SipHash cost ~140 instructions
// a lookup (keys are broker-side topic names and queue ids, seeded per map).
use foldhash::{HashMap, HashMapExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{StoreError, StoreResult};
use crate::file_cache::{FileCache, FileKey};
use crate::fs::{Fs, StoreFile};
use crate::mapped_file::{file_name_to_offset, offset_to_file_name};

#[path = "consume_queue_tail.rs"]
mod tail;
use tail::PendingTails;
pub use tail::{CqBatch, OldestPending, MAX_PENDING_AGE, MAX_PENDING_BYTES, TAIL_FILL_ENTRIES};

/// Size of one ConsumeQueue entry (`CQ_STORE_UNIT_SIZE`).
pub const CQ_UNIT_SIZE: u64 = 20;

/// One ConsumeQueue entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CqEntry {
    /// CommitLog offset of the record.
    pub phy_offset: i64,
    /// Record size in bytes.
    pub size: i32,
    /// Java hash of TAGS (or deliver time for SCHEDULE_TOPIC_XXXX).
    pub tags_code: i64,
}

impl CqEntry {
    /// Encodes to 20 big-endian bytes.
    pub fn encode(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[0..8].copy_from_slice(&self.phy_offset.to_be_bytes());
        b[8..12].copy_from_slice(&self.size.to_be_bytes());
        b[12..20].copy_from_slice(&self.tags_code.to_be_bytes());
        b
    }

    /// Decodes 20 bytes; `None` if short.
    pub fn decode(b: &[u8]) -> Option<CqEntry> {
        Some(CqEntry {
            phy_offset: i64::from_be_bytes(b.get(0..8)?.try_into().ok()?),
            size: i32::from_be_bytes(b.get(8..12)?.try_into().ok()?),
            tags_code: i64::from_be_bytes(b.get(12..20)?.try_into().ok()?),
        })
    }

    /// RocketMQ's validity rule on recovery: offset >= 0 and size > 0 (blank entries fail it).
    pub fn is_valid(&self) -> bool {
        self.phy_offset >= 0 && self.size > 0 && self.size != i32::MAX
    }
}

#[derive(Debug)]
struct QueueState {
    number: u32,
    topic: Arc<str>,
    queue_id: i32,
    /// First readable entry.
    min_offset: i64,
    /// Next entry to write (= number of entries), pending tail included.
    max_offset: i64,
    /// Encoded entries `[max_offset - tail.len() / 20, max_offset)`, not written to the file
    /// yet; an empty `Vec` (no allocation) when nothing is pending.
    tail: Vec<u8>,
    /// Id of the last dispatch batch that appended to this queue (one arrival per batch).
    batch_mark: u64,
}

impl QueueState {
    /// Entries below this offset were handed to the file; the rest are the pending tail.
    fn written_offset(&self) -> i64 {
        self.max_offset - (self.tail.len() as u64 / CQ_UNIT_SIZE) as i64
    }

    /// Entry `offset` if it lies in the pending tail.
    fn pending_entry(&self, offset: i64) -> Option<CqEntry> {
        let i = usize::try_from(offset.checked_sub(self.written_offset())?).ok()?;
        let unit = CQ_UNIT_SIZE as usize;
        CqEntry::decode(self.tail.get(i.checked_mul(unit)?..)?)
    }
}

/// The queues of one topic by queue id.
type QueuesOfTopic = HashMap<i32, Arc<Mutex<QueueState>>>;

/// Callback invoked when a queue gets new entries: (topic, queue id, new max offset).
pub type ArrivalListener = Arc<dyn Fn(&str, i32, i64) + Send + Sync>;

/// All ConsumeQueues of a store.
pub struct ConsumeQueueTable {
    fs: Arc<dyn Fs>,
    root: PathBuf,
    file_size: u64,
    cache: FileCache,
    queues: RwLock<HashMap<Arc<str>, QueuesOfTopic>>,
    next_number: Mutex<u32>,
    pending: PendingTails,
    next_batch_id: AtomicU64,
}

impl std::fmt::Debug for ConsumeQueueTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumeQueueTable")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ConsumeQueueTable {
    /// An empty table over `root` (`<store>/consumequeue`), holding at most `max_open_files` files.
    pub fn new(fs: Arc<dyn Fs>, root: PathBuf, file_size: u64, max_open_files: usize) -> Self {
        assert!(file_size.is_multiple_of(CQ_UNIT_SIZE) && file_size > 0);
        let cache = FileCache::new(Arc::clone(&fs), root.clone(), max_open_files, file_size);
        ConsumeQueueTable {
            fs,
            root,
            file_size,
            cache,
            queues: RwLock::new(HashMap::new()),
            next_number: Mutex::new(0),
            pending: PendingTails::default(),
            next_batch_id: AtomicU64::new(1),
        }
    }

    /// Number of files currently open (for tests and metrics).
    pub fn open_file_count(&self) -> usize {
        self.cache.open_count()
    }

    fn queue_dir(&self, topic: &str, queue_id: i32) -> PathBuf {
        self.root.join(topic).join(queue_id.to_string())
    }

    fn segment_path(&self, topic: &str, queue_id: i32, seg: u64) -> PathBuf {
        self.queue_dir(topic, queue_id)
            .join(offset_to_file_name(seg * self.file_size))
    }

    fn state(&self, topic: &str, queue_id: i32) -> Option<Arc<Mutex<QueueState>>> {
        let queues = self.queues.read().unwrap_or_else(|e| e.into_inner());
        queues.get(topic)?.get(&queue_id).cloned()
    }

    fn state_or_create(&self, topic: &str, queue_id: i32) -> Arc<Mutex<QueueState>> {
        if let Some(s) = self.state(topic, queue_id) {
            return s;
        }
        let mut queues = self.queues.write().unwrap_or_else(|e| e.into_inner());
        let topic_key: Arc<str> = queues
            .get_key_value(topic)
            .map_or_else(|| Arc::from(topic), |(k, _)| Arc::clone(k));
        let by_id = queues.entry(Arc::clone(&topic_key)).or_default();
        let state = by_id.entry(queue_id).or_insert_with(|| {
            let mut n = lock(&self.next_number);
            *n += 1;
            Arc::new(Mutex::new(QueueState {
                number: *n,
                topic: topic_key,
                queue_id,
                min_offset: 0,
                max_offset: 0,
                tail: Vec::new(),
                batch_mark: 0,
            }))
        });
        Arc::clone(state)
    }

    /// Every (topic, queue id) known.
    pub fn queue_ids(&self) -> Vec<(String, i32)> {
        let queues = self.queues.read().unwrap_or_else(|e| e.into_inner());
        queues
            .iter()
            .flat_map(|(t, m)| m.keys().map(move |q| (t.to_string(), *q)))
            .collect()
    }

    /// Next offset to write (= number of entries) of a queue; 0 for an unknown queue.
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.state(topic, queue_id).map_or(0, |s| lock(&s).max_offset)
    }

    /// First readable offset of a queue.
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.state(topic, queue_id).map_or(0, |s| lock(&s).min_offset)
    }

    /// Entry `offset` of a queue, from its pending tail or its file.
    fn read_entry_at(&self, st: &QueueState, offset: i64) -> StoreResult<Option<CqEntry>> {
        if offset >= st.written_offset() {
            return Ok(st.pending_entry(offset));
        }
        let mut buf = [0u8; 20];
        Ok(self
            .read_raw(st, offset, &mut buf)?
            .then(|| CqEntry::decode(&buf))
            .flatten())
    }

    /// Reads `buf.len()` bytes of entries starting at entry `offset` (within one segment).
    fn read_raw(&self, st: &QueueState, offset: i64, buf: &mut [u8]) -> StoreResult<bool> {
        let Ok(offset) = u64::try_from(offset) else {
            return Ok(false);
        };
        let byte = offset * CQ_UNIT_SIZE;
        let seg = byte / self.file_size;
        let path = self.segment_path(&st.topic, st.queue_id, seg);
        let key: FileKey = (st.number, seg);
        let Some(file) = self.cache.get(key, &path, false)? else {
            return Ok(false);
        };
        file.read_at(byte % self.file_size, buf)
            .map_err(|e| StoreError::io("read", &path, e))?;
        Ok(true)
    }

    /// Up to `max_count` entries from `offset` (stops at the segment end and at the max offset).
    /// Blank or invalid entries are returned as they are; callers skip them.
    pub fn get_entries(&self, topic: &str, queue_id: i32, offset: i64, max_count: usize) -> StoreResult<Vec<CqEntry>> {
        let Some(state) = self.state(topic, queue_id) else {
            return Ok(Vec::new());
        };
        let st = lock(&state);
        if offset < st.min_offset || offset >= st.max_offset || max_count == 0 {
            return Ok(Vec::new());
        }
        let written = st.written_offset();
        if offset >= written {
            let unit = CQ_UNIT_SIZE as usize;
            let start = (offset - written) as usize * unit;
            let count = ((st.max_offset - offset) as usize).min(max_count);
            let bytes = st.tail.get(start..start + count * unit).unwrap_or_default();
            return Ok(bytes.chunks_exact(unit).filter_map(CqEntry::decode).collect());
        }
        let per_file = (self.file_size / CQ_UNIT_SIZE) as i64;
        let to_file_end = per_file - offset % per_file;
        let count = (written - offset).min(to_file_end).min(max_count as i64).max(0) as usize;
        let mut buf = vec![0u8; count * CQ_UNIT_SIZE as usize];
        if !self.read_raw(&st, offset, &mut buf)? {
            return Ok(Vec::new());
        }
        Ok(buf
            .chunks_exact(CQ_UNIT_SIZE as usize)
            .filter_map(CqEntry::decode)
            .collect())
    }

    /// Writes entry `queue_offset` of a queue (idempotent: rewriting an existing entry is allowed,
    /// as recovery re-dispatches). Returns the new max offset.
    pub fn put(&self, topic: &str, queue_id: i32, queue_offset: i64, entry: CqEntry) -> StoreResult<i64> {
        self.put_run(topic, queue_id, queue_offset, &entry.encode())
    }

    /// Writes consecutive encoded entries (`entries.len()` a multiple of 20) of a queue from
    /// `first_offset` on, with one write per segment they span, after the queue's pending tail.
    /// Idempotent like [`Self::put`]. Returns the new max offset.
    pub fn put_run(&self, topic: &str, queue_id: i32, first_offset: i64, entries: &[u8]) -> StoreResult<i64> {
        let unit = CQ_UNIT_SIZE as usize;
        assert!(entries.len().is_multiple_of(unit));
        let count = (entries.len() / unit) as i64;
        let state = self.state_or_create(topic, queue_id);
        let mut st = lock(&state);
        self.write_tail(&mut st)?;
        if first_offset > st.max_offset && st.max_offset > st.min_offset {
            tracing::warn!(
                topic,
                queue_id,
                expected = st.max_offset,
                got = first_offset,
                "ConsumeQueue gap"
            );
        }
        self.write_entries(&st, first_offset, entries)?;
        if st.max_offset == 0 && st.min_offset == 0 && first_offset > 0 {
            st.min_offset = first_offset;
        }
        st.max_offset = st.max_offset.max(first_offset + count);
        Ok(st.max_offset)
    }

    /// Writes encoded entries of the queue `st` from entry `first_offset` on, one write per
    /// segment they span; the caller updates the queue's offsets.
    fn write_entries(&self, st: &QueueState, first_offset: i64, entries: &[u8]) -> StoreResult<()> {
        let bad_offset = |reason: &str| StoreError::CorruptRecord {
            phy_offset: CqEntry::decode(entries).map_or(-1, |e| e.phy_offset),
            reason: reason.into(),
        };
        let qo = u64::try_from(first_offset).map_err(|_| bad_offset("negative queue offset"))?;
        let mut byte = qo
            .checked_mul(CQ_UNIT_SIZE)
            .filter(|b| b.checked_add(entries.len() as u64).is_some())
            .ok_or_else(|| bad_offset("queue offset out of range"))?;
        let mut rest = entries;
        while !rest.is_empty() {
            let seg = byte / self.file_size;
            let pos = byte % self.file_size;
            let n = rest.len().min((self.file_size - pos) as usize);
            let (chunk, tail) = rest.split_at(n);
            let key = (st.number, seg);
            let path = || self.segment_path(&st.topic, st.queue_id, seg);
            let file = self
                .cache
                .get_with(key, path, true)?
                .ok_or_else(|| StoreError::io("open", path(), std::io::ErrorKind::NotFound.into()))?;
            file.write_at(pos, chunk)
                .map_err(|e| StoreError::io("write", path(), e))?;
            self.cache.mark_dirty(key, pos, pos + n as u64);
            byte += n as u64;
            rest = tail;
        }
        Ok(())
    }

    /// Syncs every written entry (all dirty open files, and a `syncfs` if dirty files were
    /// evicted). Pending tails are not written: see [`Self::write_all_pending`].
    pub fn flush(&self) -> StoreResult<()> {
        self.cache.sync_all()
    }

    /// Loads every queue found on disk and recovers its tail: entries up to the first invalid one
    /// are kept. Then trims each queue to entries whose record lies below `dispatched_below`
    /// (recovery re-dispatches the rest from the CommitLog).
    /// `verify` checks an entry against the CommitLog (topic, queue id, queue offset, entry); the
    /// tail entries that fail it are dropped too (a torn or garbage last write).
    pub fn load_and_recover(
        &self,
        dispatched_below: i64,
        verify: &dyn Fn(&str, i32, i64, &CqEntry) -> bool,
    ) -> StoreResult<()> {
        let topics = self
            .fs
            .list_dir(&self.root)
            .map_err(|e| StoreError::io("list", &self.root, e))?;
        for topic in topics {
            let ids = self
                .fs
                .list_dir(&self.root.join(&topic))
                .map_err(|e| StoreError::io("list", &self.root, e))?;
            for id in ids.iter().filter_map(|q| q.parse::<i32>().ok()) {
                self.recover_queue(&topic, id, dispatched_below, verify)?;
            }
        }
        Ok(())
    }

    fn recover_queue(
        &self,
        topic: &str,
        queue_id: i32,
        dispatched_below: i64,
        verify: &dyn Fn(&str, i32, i64, &CqEntry) -> bool,
    ) -> StoreResult<()> {
        let dir = self.queue_dir(topic, queue_id);
        let names = self.fs.list_dir(&dir).map_err(|e| StoreError::io("list", &dir, e))?;
        let segs: Vec<u64> = names
            .iter()
            .filter_map(|n| file_name_to_offset(n))
            .map(|o| o / self.file_size)
            .collect();
        let (Some(&first), Some(&last)) = (segs.first(), segs.last()) else {
            return Ok(());
        };
        let per_file = (self.file_size / CQ_UNIT_SIZE) as i64;
        let state = self.state_or_create(topic, queue_id);
        let mut st = lock(&state);
        self.write_tail(&mut st)?;
        st.min_offset = first as i64 * per_file;
        // Scan the last segment for its valid prefix.
        st.max_offset = last as i64 * per_file;
        let mut chunk = vec![0u8; 64 * 1024 - (64 * 1024) % CQ_UNIT_SIZE as usize];
        'scan: while st.max_offset < (last as i64 + 1) * per_file {
            let left = ((last as i64 + 1) * per_file - st.max_offset) as usize;
            let n = left.min(chunk.len() / CQ_UNIT_SIZE as usize);
            let buf = chunk.get_mut(..n * CQ_UNIT_SIZE as usize).unwrap_or_default();
            let max = st.max_offset;
            if !self.read_raw(&st, max, buf)? {
                break;
            }
            for raw in buf.chunks_exact(CQ_UNIT_SIZE as usize) {
                match CqEntry::decode(raw) {
                    Some(e) if e.is_valid() => st.max_offset += 1,
                    _ => break 'scan,
                }
            }
        }
        let scanned_max = st.max_offset;
        // Trim entries whose record is at or beyond `dispatched_below`.
        let (mut lo, mut hi) = (st.min_offset, st.max_offset);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.read_entry_at(&st, mid)? {
                Some(e) if e.phy_offset < dispatched_below || !e.is_valid() => lo = mid + 1,
                _ => hi = mid,
            }
        }
        // Only the tail can hold an unsynced (torn or garbage) entry: check it against the
        // CommitLog and walk back while it fails.
        while lo > st.min_offset {
            match self.read_entry_at(&st, lo - 1)? {
                Some(e) if !e.is_valid() || verify(topic, queue_id, lo - 1, &e) => break,
                _ => {
                    tracing::warn!(
                        topic,
                        queue_id,
                        queue_offset = lo - 1,
                        "ConsumeQueue entry does not match the CommitLog; dropped"
                    );
                    lo -= 1;
                }
            }
        }
        drop(st);
        self.truncate_queue(&state, lo, scanned_max, last)?;
        Ok(())
    }

    /// Zeroes entries `[new_max, old_max_scan_end)` of the last segment(s) and deletes segments past `new_max`.
    fn truncate_queue(
        &self,
        state: &Arc<Mutex<QueueState>>,
        new_max: i64,
        scanned_max: i64,
        last_seg: u64,
    ) -> StoreResult<()> {
        let mut st = lock(state);
        self.write_tail(&mut st)?;
        let per_file = (self.file_size / CQ_UNIT_SIZE) as i64;
        let keep_seg = (new_max.max(0) / per_file) as u64;
        for seg in (keep_seg + 1..=last_seg).rev() {
            let path = self.segment_path(&st.topic, st.queue_id, seg);
            self.cache.forget((st.number, seg));
            if self.fs.exists(&path) {
                tracing::warn!(file = %path.display(), "deleting ConsumeQueue segment past the recovered CommitLog");
                self.fs
                    .remove_file(&path)
                    .map_err(|e| StoreError::io("remove", &path, e))?;
            }
        }
        // Zero from new_max to the end of the kept segment (also clears a partial entry).
        let seg_end = (keep_seg as i64 + 1) * per_file;
        let zero_to = seg_end.min(scanned_max.max(new_max) + 1);
        if zero_to > new_max {
            let path = self.segment_path(&st.topic, st.queue_id, keep_seg);
            let key = (st.number, keep_seg);
            if let Some(file) = self.cache.get(key, &path, false)? {
                let start = (new_max as u64 * CQ_UNIT_SIZE) % self.file_size;
                let len = (zero_to - new_max) as u64 * CQ_UNIT_SIZE;
                let len = len.min(self.file_size - start);
                // Nothing trimmed and no partial entry after the last one: no write, and no
                // device flush per queue (50,000 queues restart).
                let clean = scanned_max <= new_max && Self::already_zero(file.as_ref(), start, len);
                if !clean {
                    file.write_at(start, &vec![0u8; len as usize])
                        .map_err(|e| StoreError::io("write", &path, e))?;
                    file.sync_range(start, len)
                        .map_err(|e| StoreError::io("sync", &path, e))?;
                }
                if scanned_max > new_max {
                    tracing::warn!(file = %path.display(), from = new_max, to = scanned_max,
                        "trimmed ConsumeQueue entries beyond the verified CommitLog");
                }
            }
        }
        st.max_offset = new_max;
        st.min_offset = st.min_offset.min(new_max);
        Ok(())
    }

    /// Whether `[start, start + len)` of `file` reads as zeros or lies past its end.
    fn already_zero(file: &dyn StoreFile, start: u64, len: u64) -> bool {
        let mut buf = [0u8; CQ_UNIT_SIZE as usize];
        let Some(buf) = usize::try_from(len).ok().and_then(|n| buf.get_mut(..n)) else {
            return false;
        };
        match file.read_at(start, buf) {
            Ok(()) => buf.iter().all(|b| *b == 0),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                // A short file: what exists must be zeros too.
                let end = file.len().unwrap_or(u64::MAX);
                end <= start
            }
            Err(_) => false,
        }
    }

    /// Deletes segments whose every entry points below `min_phy` and raises min offsets.
    /// Returns the number of files deleted.
    /// Pending tails are written first, so no segment is deleted under a tail that would
    /// recreate it.
    pub fn delete_below(&self, min_phy: i64) -> StoreResult<usize> {
        self.write_all_pending()?;
        let per_file = (self.file_size / CQ_UNIT_SIZE) as i64;
        let mut deleted = 0;
        for (topic, qid) in self.queue_ids() {
            let Some(state) = self.state(&topic, qid) else { continue };
            let mut st = lock(&state);
            loop {
                let seg_first = st.min_offset - st.min_offset % per_file;
                let seg_last = seg_first + per_file - 1;
                if seg_last >= st.max_offset - 1 {
                    break;
                }
                match self.read_entry_at(&st, seg_last)? {
                    Some(e) if e.phy_offset + i64::from(e.size) <= min_phy => {
                        let seg = (seg_first / per_file) as u64;
                        let path = self.segment_path(&topic, qid, seg);
                        self.cache.forget((st.number, seg));
                        self.fs
                            .remove_file(&path)
                            .map_err(|e| StoreError::io("remove", &path, e))?;
                        st.min_offset = seg_last + 1;
                        deleted += 1;
                    }
                    _ => break,
                }
            }
            // Inside the first segment, skip entries below the CommitLog minimum.
            while st.min_offset < st.max_offset {
                match self.read_entry_at(&st, st.min_offset)? {
                    Some(e) if e.is_valid() && e.phy_offset >= min_phy => break,
                    _ => st.min_offset += 1,
                }
            }
        }
        Ok(deleted)
    }

    /// Removes every queue of `topic`: its in-memory state, its cached files and its files and
    /// directories on disk (RocketMQ `deleteTopics`). The caller keeps dispatch out meanwhile.
    /// Returns the number of files deleted.
    pub fn delete_topic(&self, topic: &str) -> StoreResult<usize> {
        if topic.is_empty() || topic == "." || topic == ".." || topic.contains(['/', '\\', '\0']) {
            return Err(StoreError::InvalidTopic {
                topic: topic.to_owned(),
                reason: "not a single path component",
            });
        }
        let states = self
            .queues
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(topic)
            .unwrap_or_default();
        // Hold every queue's lock while its files go, so no reader opens one half-deleted.
        let mut guards: HashMap<i32, (u32, std::sync::MutexGuard<'_, QueueState>)> = HashMap::new();
        for (queue_id, state) in &states {
            let mut st = lock(state);
            self.discard_tail(&mut st);
            guards.insert(*queue_id, (st.number, st));
        }
        let topic_dir = self.root.join(topic);
        let mut deleted = 0;
        for name in self
            .fs
            .list_dir(&topic_dir)
            .map_err(|e| StoreError::io("list", &topic_dir, e))?
        {
            let queue_dir = topic_dir.join(&name);
            let number = name.parse::<i32>().ok().and_then(|q| guards.get(&q)).map(|(n, _)| *n);
            for file in self
                .fs
                .list_dir(&queue_dir)
                .map_err(|e| StoreError::io("list", &queue_dir, e))?
            {
                if let (Some(n), Some(start)) = (number, file_name_to_offset(&file)) {
                    self.cache.forget((n, start / self.file_size));
                }
                let path = queue_dir.join(&file);
                self.fs
                    .remove_file(&path)
                    .map_err(|e| StoreError::io("remove", &path, e))?;
                deleted += 1;
            }
            self.fs
                .remove_dir(&queue_dir)
                .map_err(|e| StoreError::io("remove dir", &queue_dir, e))?;
        }
        if self.fs.exists(&topic_dir) {
            self.fs
                .remove_dir(&topic_dir)
                .map_err(|e| StoreError::io("remove dir", &topic_dir, e))?;
        }
        drop(guards);
        Ok(deleted)
    }

    /// Queue offset of the first entry whose record was stored at or after `timestamp_ms`
    /// (binary search; `store_time` reads a record's store time from the CommitLog).
    pub fn offset_by_time(
        &self,
        topic: &str,
        queue_id: i32,
        timestamp_ms: i64,
        store_time: impl Fn(&CqEntry) -> Option<i64>,
    ) -> StoreResult<i64> {
        let Some(state) = self.state(topic, queue_id) else {
            return Ok(0);
        };
        let st = lock(&state);
        let (mut lo, mut hi) = (st.min_offset, st.max_offset);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let t = self.read_entry_at(&st, mid)?.and_then(|e| store_time(&e));
            match t {
                Some(t) if t < timestamp_ms => lo = mid + 1,
                None => lo = mid + 1,
                Some(_) => hi = mid,
            }
        }
        Ok(lo)
    }

    /// Path of the root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[cfg(test)]
#[path = "consume_queue_test.rs"]
mod tests;
