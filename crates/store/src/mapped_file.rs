//! Mapped files: fixed-size segment files named by their 20-digit zero-padded start offset,
//! and the ordered queue of them that makes up the CommitLog.
//!
//! Components:
//! - [`MappedFile`]: one preallocated segment with a wrote position (appended bytes), a read
//!   position (bytes readers may see) and a flushed position (durable bytes);
//! - [`SegmentOptions`]: pre-writing and the SYNC_FLUSH write buffer;
//! - [`MappedFileQueue`]: the ordered segments of one directory; finds the segment of an offset,
//!   creates the next one (taking a pre-created one from the background allocator when ready),
//!   truncates a dirty tail, deletes expired heads.
//!
//! Invariants:
//! - segments are contiguous: `segment[i+1].start == segment[i].start + file_size`;
//! - a segment is preallocated before any write (no sparse mapping), and with `prewrite` it is
//!   zero-filled and synced first, so later syncs only overwrite allocated blocks;
//! - `flushed_position <= read_position <= wrote_position <= file_size`; without a write buffer
//!   the read position is the wrote position, with one it is the committed position (bytes
//!   written to the file by [`MappedFile::commit`]): appended bytes still in the buffer are not
//!   in the file, so nothing may read them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread::JoinHandle;

use bytes::Bytes;

use crate::error::{StoreError, StoreResult};
use crate::fs::{Fs, StoreFile};
use crate::write_buffer::WriteBuffer;

/// Formats an offset as a RocketMQ file name (`UtilAll.offset2FileName`).
pub fn offset_to_file_name(offset: u64) -> String {
    format!("{offset:020}")
}

/// Parses a 20-digit file name; `None` for other names.
pub fn file_name_to_offset(name: &str) -> Option<u64> {
    (name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

const ZERO_CHUNK: usize = 1 << 20;

/// How the segments of a queue are created and written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Zero-fill and sync a new segment before use, so later syncs only overwrite allocated,
    /// written blocks (SYNC_FLUSH, `warmMapedFileEnable`).
    pub prewrite: bool,
    /// Append into a user-space [`WriteBuffer`] that [`MappedFile::commit`] writes with
    /// `pwrite` (SYNC_FLUSH): the mapping is only read. With it, pre-writing uses `pwrite` too.
    pub write_buffer: bool,
}

/// One segment file.
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    file: Arc<dyn StoreFile>,
    start_offset: u64,
    file_size: u64,
    wrote_position: AtomicU64,
    /// End of the bytes written to the file (equal to `wrote_position` without a buffer).
    committed_position: AtomicU64,
    flushed_position: AtomicU64,
    buffer: Option<WriteBuffer>,
}

impl MappedFile {
    /// Creates (or reuses) the segment starting at `start_offset` in `dir`: preallocates it and,
    /// with `prewrite`, zero-fills and syncs it.
    pub fn create(
        fs: &dyn Fs,
        dir: &Path,
        start_offset: u64,
        file_size: u64,
        options: SegmentOptions,
    ) -> StoreResult<Self> {
        let path = dir.join(offset_to_file_name(start_offset));
        let failed = |source| StoreError::CreateMappedFileFailed {
            path: path.clone(),
            size_bytes: file_size,
            source,
        };
        let file = fs.open(&path, true).map_err(failed)?;
        file.preallocate(file_size).map_err(failed)?;
        if options.prewrite {
            let zeros = vec![0u8; ZERO_CHUNK];
            let mut pos = 0u64;
            while pos < file_size {
                let n = (file_size - pos).min(ZERO_CHUNK as u64);
                let chunk = zeros.get(..n as usize).unwrap_or(&zeros);
                // Without a write buffer the appender writes through the mapping: pre-writing
                // through it too leaves its pages in the page cache and in the page tables. With
                // one, the mapping is only read: `pwrite` fills the page cache without faulting
                // every page of the mapping (a fresh page's fault zero-fills it first).
                if options.write_buffer {
                    file.write_unmapped(pos, chunk).map_err(failed)?;
                } else {
                    file.write_at(pos, chunk).map_err(failed)?;
                }
                pos += n;
            }
            file.sync_range(0, file_size).map_err(failed)?;
        }
        Ok(Self::new(path, file, start_offset, file_size, 0, options))
    }

    fn new(
        path: PathBuf,
        file: Arc<dyn StoreFile>,
        start_offset: u64,
        file_size: u64,
        position: u64,
        options: SegmentOptions,
    ) -> Self {
        MappedFile {
            path,
            file,
            start_offset,
            file_size,
            wrote_position: AtomicU64::new(position),
            committed_position: AtomicU64::new(position),
            flushed_position: AtomicU64::new(position),
            buffer: options.write_buffer.then(|| WriteBuffer::new(position)),
        }
    }

    /// Opens an existing segment; positions start at `file_size` (recovery lowers the last one).
    pub fn open(
        fs: &dyn Fs,
        path: PathBuf,
        start_offset: u64,
        file_size: u64,
        options: SegmentOptions,
    ) -> StoreResult<Self> {
        let file = fs
            .open(&path, false)
            .map_err(|e| StoreError::io("open segment", &path, e))?;
        let len = file.len().map_err(|e| StoreError::io("stat segment", &path, e))?;
        if len != file_size {
            // A short file (crash during creation) is grown to the configured size; its tail is zeros.
            tracing::warn!(file = %path.display(), len, file_size, "segment length differs from config; resizing");
            file.preallocate(file_size)
                .map_err(|source| StoreError::CreateMappedFileFailed {
                    path: path.clone(),
                    size_bytes: file_size,
                    source,
                })?;
        }
        Ok(Self::new(path, file, start_offset, file_size, file_size, options))
    }

    /// Start offset (the file name).
    pub fn start_offset(&self) -> u64 {
        self.start_offset
    }
    /// Segment size.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }
    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The underlying file.
    pub fn file(&self) -> &Arc<dyn StoreFile> {
        &self.file
    }
    /// Bytes appended to this segment (the next append's position).
    pub fn wrote_position(&self) -> u64 {
        self.wrote_position.load(Ordering::Acquire)
    }
    /// Bytes readers may see: appended and in the file (committed, with a write buffer).
    pub fn read_position(&self) -> u64 {
        if self.buffer.is_some() {
            self.committed_position.load(Ordering::Acquire)
        } else {
            self.wrote_position()
        }
    }
    /// Bytes durable in this segment.
    pub fn flushed_position(&self) -> u64 {
        self.flushed_position.load(Ordering::Acquire)
    }
    /// Free bytes after the wrote position.
    pub fn remaining(&self) -> u64 {
        self.file_size - self.wrote_position()
    }
    /// Whether the segment is full.
    pub fn is_full(&self) -> bool {
        self.wrote_position() >= self.file_size
    }

    /// Writes `data` at the wrote position (into the write buffer, if any) and publishes it.
    /// Caller serializes appends. Returns the bytes buffered and not yet committed.
    pub fn append(&self, data: &[u8]) -> StoreResult<usize> {
        let pos = self.wrote_position();
        assert!(pos + data.len() as u64 <= self.file_size, "append past segment end");
        let buffered = self.write(pos, data)?;
        self.wrote_position.store(pos + data.len() as u64, Ordering::Release);
        Ok(buffered)
    }

    fn write(&self, pos: u64, data: &[u8]) -> StoreResult<usize> {
        match &self.buffer {
            Some(buffer) => Ok(buffer.push(pos, data)),
            None => self
                .file
                .write_at(pos, data)
                .map(|()| 0)
                .map_err(|e| StoreError::io("write", &self.path, e)),
        }
    }

    /// Writes the BLANK end-of-file marker at the wrote position and marks the segment full.
    pub fn append_blank(&self, marker: &[u8]) -> StoreResult<()> {
        let pos = self.wrote_position();
        let fits = self.file_size - pos >= marker.len() as u64;
        match &self.buffer {
            // The rest of the segment is never written: it is committed with the marker.
            Some(buffer) => buffer.push_last(pos, if fits { marker } else { &[] }, self.file_size),
            None if fits => {
                self.write(pos, marker)?;
            }
            None => {}
        }
        self.wrote_position.store(self.file_size, Ordering::Release);
        Ok(())
    }

    /// Writes the write buffer's bytes to the file with one `pwrite` and moves the read position
    /// past them; returns whether anything was committed. Without a buffer, a no-op. Safe to call
    /// concurrently (commits are serialized) and concurrently with appends.
    pub fn commit(&self) -> StoreResult<bool> {
        let Some(buffer) = &self.buffer else {
            return Ok(false);
        };
        let committed = buffer
            .commit(|pos, bytes| self.file.write_unmapped(pos, bytes))
            .map_err(|e| StoreError::io("write", &self.path, e))?;
        let Some(end) = committed else {
            return Ok(false);
        };
        if end >= self.file_size {
            buffer.release();
        }
        self.committed_position.fetch_max(end, Ordering::AcqRel);
        Ok(true)
    }

    /// Writes `data` at a position inside the segment without moving the wrote position.
    pub fn write_at(&self, pos: u64, data: &[u8]) -> StoreResult<()> {
        assert!(pos + data.len() as u64 <= self.file_size, "write past segment end");
        self.file
            .write_at(pos, data)
            .map_err(|e| StoreError::io("write", &self.path, e))
    }

    /// A zero-copy view of `len` bytes at segment position `pos`, within the readable bytes.
    pub fn view(&self, pos: u64, len: usize) -> StoreResult<Bytes> {
        let readable = self.read_position();
        let end = pos.checked_add(len as u64).filter(|e| *e <= readable);
        if end.is_none() {
            return Err(StoreError::OffsetOutOfRange {
                phy_offset: (self.start_offset + pos) as i64,
                min: self.start_offset as i64,
                max: (self.start_offset + readable) as i64,
            });
        }
        self.file
            .view(pos, len)
            .map_err(|e| StoreError::io("read", &self.path, e))
    }

    /// Reads bytes at `pos` (any position inside the file, published or not; used by recovery).
    pub fn read_raw(&self, pos: u64, buf: &mut [u8]) -> StoreResult<()> {
        self.file
            .read_at(pos, buf)
            .map_err(|e| StoreError::io("read", &self.path, e))
    }

    /// Commits the write buffer, then syncs `[flushed, read position)` if at least `least_pages`
    /// pages are dirty (or the segment is full and anything is dirty). Returns the new flushed
    /// position. Safe to call concurrently: a sync of an overlapping range waits for the pages
    /// another one is writing back.
    pub fn flush(&self, least_pages: u64) -> StoreResult<u64> {
        self.commit()?;
        let wrote = self.read_position();
        let flushed = self.flushed_position();
        if wrote <= flushed {
            return Ok(flushed);
        }
        let dirty_pages = wrote / 4096 - flushed / 4096;
        if least_pages > 0 && dirty_pages < least_pages && wrote < self.file_size {
            return Ok(flushed);
        }
        self.file
            .sync_range(flushed, wrote - flushed)
            .map_err(|e| StoreError::io("sync", &self.path, e))?;
        // Flushes may run concurrently (overlapping group commits): the position only moves up,
        // and every value stored was made durable by the sync that stored it.
        self.flushed_position.fetch_max(wrote, Ordering::AcqRel);
        Ok(self.flushed_position())
    }

    /// Recovery: cuts the segment at `pos`, zero-filling (and syncing) the bytes after it so that
    /// stale records can never reappear behind new ones.
    ///
    /// Unless `keep_written` (a pre-written segment, whose blocks must stay written so that
    /// later syncs are overwrites), the whole pages after `pos` are zeroed by the file system
    /// without reading or writing them ([`StoreFile::zero_range`]). Otherwise, or where that is
    /// unsupported, only bytes that may be non-zero are read ([`StoreFile::next_data`] skips
    /// holes and never-written blocks) and rewritten if they are not zeros.
    pub fn truncate_to(&self, pos: u64, keep_written: bool) -> StoreResult<()> {
        assert!(pos <= self.file_size);
        let mut buf = vec![0u8; ZERO_CHUNK];
        let mut at = pos;
        let page_end = pos.next_multiple_of(4096).min(self.file_size);
        let mut stop = self.file_size;
        if !keep_written && self.file_size.is_multiple_of(4096) {
            let zeroed = self
                .file
                .zero_range(page_end, self.file_size - page_end)
                .map_err(|e| StoreError::io("zero range", &self.path, e))?;
            if zeroed {
                stop = page_end;
            }
        }
        while at < stop {
            match self
                .file
                .next_data(at)
                .map_err(|e| StoreError::io("seek", &self.path, e))?
            {
                Some(data) if data < stop => at = at.max(data),
                _ => break,
            }
            let n = (stop - at).min(ZERO_CHUNK as u64) as usize;
            let chunk = buf.get_mut(..n).unwrap_or_default();
            self.read_raw(at, chunk)?;
            if !is_zero(chunk) {
                chunk.fill(0);
                self.write_at(at, chunk)?;
            }
            at += n as u64;
        }
        self.file
            .sync_range(pos, self.file_size - pos)
            .map_err(|e| StoreError::io("sync", &self.path, e))?;
        if let Some(buffer) = &self.buffer {
            buffer.reset(pos);
        }
        self.wrote_position.store(pos, Ordering::Release);
        self.committed_position.store(pos, Ordering::Release);
        self.flushed_position.store(pos, Ordering::Release);
        Ok(())
    }
}

/// Whether every byte is zero (word at a time).
fn is_zero(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let words_zero = words
        .by_ref()
        .fold(0u64, |acc, w| acc | u64::from_ne_bytes(w.try_into().unwrap_or([1; 8])))
        == 0;
    words_zero && words.remainder().iter().all(|b| *b == 0)
}

#[derive(Debug, Default)]
struct AllocatorState {
    /// Start offset requested for pre-creation.
    wanted: Option<u64>,
    /// The segment the allocator is creating right now.
    in_progress: Option<u64>,
    /// A pre-created segment ready to be taken.
    ready: Option<MappedFile>,
    shutdown: bool,
}

#[derive(Debug)]
struct Allocator {
    state: Mutex<AllocatorState>,
    cond: Condvar,
}

/// The ordered segments of one directory (the CommitLog).
#[derive(Debug)]
pub struct MappedFileQueue {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    file_size: u64,
    options: SegmentOptions,
    files: RwLock<Vec<Arc<MappedFile>>>,
    allocator: Arc<Allocator>,
    allocator_thread: Mutex<Option<JoinHandle<()>>>,
}

impl MappedFileQueue {
    /// Loads the segments in `dir` (creating the directory) and starts the background allocator.
    pub fn load(fs: Arc<dyn Fs>, dir: PathBuf, file_size: u64, options: SegmentOptions) -> StoreResult<Self> {
        fs.create_dir_all(&dir)
            .map_err(|e| StoreError::io("create dir", &dir, e))?;
        let names = fs.list_dir(&dir).map_err(|e| StoreError::io("list dir", &dir, e))?;
        let mut files: Vec<Arc<MappedFile>> = Vec::new();
        for name in names {
            let Some(start) = file_name_to_offset(&name) else {
                continue;
            };
            if let Some(prev) = files.last() {
                if start != prev.start_offset + file_size {
                    tracing::warn!(dir = %dir.display(), expected = prev.start_offset + file_size, found = start,
                        "segment gap; ignoring later segments");
                    break;
                }
            } else if start % file_size != 0 {
                return Err(StoreError::InvalidConfig {
                    key: "mappedFileSizeCommitLog",
                    reason: format!("segment {name} is not a multiple of the configured size {file_size}"),
                });
            }
            files.push(Arc::new(MappedFile::open(
                fs.as_ref(),
                dir.join(&name),
                start,
                file_size,
                options,
            )?));
        }
        let allocator = Arc::new(Allocator {
            state: Mutex::new(AllocatorState::default()),
            cond: Condvar::new(),
        });
        let queue = MappedFileQueue {
            fs,
            dir,
            file_size,
            options,
            files: RwLock::new(files),
            allocator,
            allocator_thread: Mutex::new(None),
        };
        queue.start_allocator();
        Ok(queue)
    }

    fn start_allocator(&self) {
        let alloc = Arc::clone(&self.allocator);
        let fs = Arc::clone(&self.fs);
        let dir = self.dir.clone();
        let (size, options) = (self.file_size, self.options);
        let spawned = std::thread::Builder::new()
            .name("ferromq-allocate-mapped-file".into())
            .spawn(move || loop {
                let wanted = {
                    let mut st = alloc.state.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        if st.shutdown {
                            return;
                        }
                        if let Some(w) = st.wanted.take() {
                            st.in_progress = Some(w);
                            break w;
                        }
                        st = alloc.cond.wait(st).unwrap_or_else(|e| e.into_inner());
                    }
                };
                let created = MappedFile::create(fs.as_ref(), &dir, wanted, size, options);
                let mut st = alloc.state.lock().unwrap_or_else(|e| e.into_inner());
                st.in_progress = None;
                match created {
                    Ok(file) => st.ready = Some(file),
                    // Not fatal: the appender creates the segment itself and reports the error then.
                    Err(e) => tracing::warn!(error = %e, "pre-creating the next segment failed"),
                }
                drop(st);
                alloc.cond.notify_all();
            });
        match spawned {
            Ok(handle) => *self.allocator_thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle),
            Err(e) => tracing::warn!(error = %e, "cannot start the segment allocator; segments are created inline"),
        }
    }

    /// Stops the background allocator (joins it).
    pub fn shutdown(&self) {
        self.allocator.state.lock().unwrap_or_else(|e| e.into_inner()).shutdown = true;
        self.allocator.cond.notify_all();
        if let Some(h) = self.allocator_thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }

    /// Directory of the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Segment size.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }
    /// All segments, oldest first.
    pub fn files(&self) -> Vec<Arc<MappedFile>> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// The newest segment.
    pub fn last(&self) -> Option<Arc<MappedFile>> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).last().cloned()
    }
    /// The oldest segment.
    pub fn first(&self) -> Option<Arc<MappedFile>> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).first().cloned()
    }
    /// Lowest stored offset (start of the first segment).
    pub fn min_offset(&self) -> u64 {
        self.first().map_or(0, |f| f.start_offset())
    }
    /// End of readable data (appended, and committed with a write buffer).
    ///
    /// With write buffers the appender may have moved on to later segments while the tail of an
    /// earlier one is still uncommitted: readable data ends in the oldest segment that is not
    /// fully readable. Segments are committed in order (a segment's BLANK marker only by the
    /// flush, after the segments before it), so a fully readable segment has only fully readable
    /// ones before it, and the search stops at the first one from the newest end.
    pub fn max_offset(&self) -> u64 {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        let mut end = None;
        for f in files.iter().rev() {
            let readable = f.read_position();
            if readable >= f.file_size() {
                return end.unwrap_or(f.start_offset() + f.file_size());
            }
            end = Some(f.start_offset() + readable);
        }
        end.unwrap_or(0)
    }
    /// End of durable data.
    pub fn flushed_offset(&self) -> u64 {
        self.last().map_or(0, |f| f.start_offset() + f.flushed_position())
    }

    /// The segment holding `offset`.
    pub fn find(&self, offset: u64) -> Option<Arc<MappedFile>> {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        let first = files.first()?.start_offset();
        let idx = usize::try_from(offset.checked_sub(first)? / self.file_size).ok()?;
        files.get(idx).cloned()
    }

    /// The segment to append to: the last one if it has room, otherwise a new one starting where
    /// the last ends (or at `start_if_empty`). Takes a pre-created segment when one is ready and
    /// asks the allocator for the next one.
    pub fn last_or_create(&self, start_if_empty: u64) -> StoreResult<Arc<MappedFile>> {
        let last = self.last();
        let start = match &last {
            Some(f) if !f.is_full() => return Ok(Arc::clone(f)),
            Some(f) => f.start_offset() + self.file_size,
            None => start_if_empty - start_if_empty % self.file_size,
        };
        let ready = {
            let mut st = self.allocator.state.lock().unwrap_or_else(|e| e.into_inner());
            // Never create a segment the allocator is creating (its zero-fill would race our writes):
            // cancel a queued request for it and wait for an in-progress creation to finish.
            if st.wanted == Some(start) {
                st.wanted = None;
            }
            while st.in_progress == Some(start) && !st.shutdown {
                st = self.allocator.cond.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            match st.ready.take() {
                Some(f) if f.start_offset() == start => Some(f),
                _ => None,
            }
        };
        let file = match ready {
            Some(f) => f,
            None => MappedFile::create(self.fs.as_ref(), &self.dir, start, self.file_size, self.options)?,
        };
        let file = Arc::new(file);
        self.files
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&file));
        self.request_precreate(start + self.file_size);
        Ok(file)
    }

    /// Asks the background allocator to create the segment at `start` ahead of need.
    pub fn request_precreate(&self, start: u64) {
        let mut st = self.allocator.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.ready.as_ref().is_some_and(|f| f.start_offset() == start) {
            return;
        }
        st.wanted = Some(start);
        self.allocator.cond.notify_all();
    }

    /// Recovery: sets the end of data to `offset`, zero-filling the rest of its segment and
    /// deleting later segments. Logs what was cut.
    pub fn truncate_dirty(&self, offset: u64) -> StoreResult<()> {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        let mut keep = Vec::with_capacity(files.len());
        for file in files.drain(..) {
            let end = file.start_offset() + self.file_size;
            if end <= offset {
                keep.push(file);
            } else if file.start_offset() <= offset && !(offset == file.start_offset() && offset > 0 && keep.is_empty())
            {
                file.truncate_to(offset - file.start_offset(), self.options.prewrite)?;
                keep.push(file);
            } else {
                tracing::warn!(file = %file.path().display(), offset, "deleting segment past the recovered end");
                self.fs
                    .remove_file(file.path())
                    .map_err(|e| StoreError::io("remove segment", file.path(), e))?;
            }
        }
        *files = keep;
        Ok(())
    }

    /// Deletes the segments that `should_delete` selects, oldest first, stopping at the first it
    /// keeps; never deletes the newest segment. Returns the number deleted.
    pub fn delete_head_while(&self, mut should_delete: impl FnMut(&MappedFile) -> bool) -> StoreResult<usize> {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        let mut deleted = 0;
        while files.len() > 1 {
            let Some(first) = files.first() else { break };
            if !should_delete(first) {
                break;
            }
            let first = files.remove(0);
            tracing::info!(file = %first.path().display(), "deleting CommitLog segment");
            self.fs
                .remove_file(first.path())
                .map_err(|e| StoreError::io("remove segment", first.path(), e))?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// How this queue's segments are created and written.
    pub fn options(&self) -> SegmentOptions {
        self.options
    }

    /// The file system of this queue.
    pub fn fs(&self) -> &Arc<dyn Fs> {
        &self.fs
    }
}

impl Drop for MappedFileQueue {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::sim::SimFs;

    // Goal: file names are RocketMQ's 20-digit offsets and parse back. Method: round trip.
    #[test]
    fn file_names_are_twenty_digit_offsets() {
        assert_eq!(offset_to_file_name(1_073_741_824), "00000000001073741824");
        assert_eq!(file_name_to_offset("00000000001073741824"), Some(1_073_741_824));
        assert_eq!(file_name_to_offset("abc"), None);
        assert_eq!(file_name_to_offset("0000000000107374182x"), None);
    }

    // Goal: segments roll over contiguously and reload with the same layout.
    // Method: append across three segments on SimFs, reload, compare offsets and bytes.
    #[test]
    fn segments_roll_over_and_reload_contiguously() {
        let fs: Arc<dyn Fs> = Arc::new(SimFs::new());
        let dir = PathBuf::from("/s/commitlog");
        let q = MappedFileQueue::load(Arc::clone(&fs), dir.clone(), 4096, SegmentOptions::default()).unwrap();
        for i in 0..10u8 {
            let f = q.last_or_create(0).unwrap();
            f.append(&[i; 1024]).unwrap();
        }
        assert_eq!(q.max_offset(), 10 * 1024);
        assert_eq!(q.files().len(), 3);
        let v = q.find(5 * 1024).unwrap().view(1024, 1024).unwrap();
        assert!(v.iter().all(|b| *b == 5));
        drop(q);
        let q = MappedFileQueue::load(fs, dir, 4096, SegmentOptions::default()).unwrap();
        let starts: Vec<u64> = q.files().iter().map(|f| f.start_offset()).collect();
        assert_eq!(&starts[..3], &[0, 4096, 8192]);
    }

    // Goal: preallocation failure (ENOSPC) is a clean CreateMappedFileFailed error.
    #[test]
    fn full_disk_makes_segment_creation_fail_cleanly() {
        let sim = SimFs::new();
        sim.set_capacity(6000);
        let fs: Arc<dyn Fs> = Arc::new(sim);
        let q = MappedFileQueue::load(fs, PathBuf::from("/s/cl"), 4096, SegmentOptions::default()).unwrap();
        q.last_or_create(0).unwrap().append(&[1; 4096]).unwrap();
        assert!(matches!(
            q.last_or_create(0),
            Err(StoreError::CreateMappedFileFailed { .. })
        ));
    }
}
