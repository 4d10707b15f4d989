//! Mapped files: fixed-size segment files named by their 20-digit zero-padded start offset,
//! and the ordered queue of them that makes up the CommitLog.
//!
//! Components:
//! - [`MappedFile`]: one preallocated segment with a wrote position (appended bytes), a read
//!   position (bytes readers may see) and a flushed position (durable bytes);
//! - [`SegmentOptions`]: pre-writing and the write buffer;
//! - [`MappedFileQueue`] (`mapped_file_queue.rs`): the ordered segments of one directory; finds
//!   the segment of an offset, creates the next one (taking a pre-created one from the
//!   background allocator when ready), truncates a dirty tail, deletes expired heads.
//!
//! Invariants:
//! - segments are contiguous: `segment[i+1].start == segment[i].start + file_size`;
//! - a segment is preallocated before any write (no sparse mapping), and with `prewrite` it is
//!   zero-filled and synced first, so later syncs only overwrite allocated blocks;
//! - `flushed_position <= read_position <= wrote_position <= file_size`; the read position is
//!   the committed position (bytes written to the file by [`MappedFile::commit`]): appended bytes
//!   still in the write buffer are not in the file, so nothing may read them; a commit publishes
//!   its end before another commit can find the buffer empty.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{StoreError, StoreResult};
use crate::fs::{Fs, StoreFile};
use crate::populate::Populate;
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
    /// Bytes of the last segment kept populated past its commit position by the queue's
    /// populate thread; commits then copy into the mapping instead of a `pwrite`
    /// (`populateAheadCommitLog`; 0 = off; see `crate::populate`). Ignored with `prewrite`,
    /// whose segments keep their `pwrite` commits.
    pub populate_ahead: u64,
}

/// One segment file.
#[derive(Debug)]
pub struct MappedFile {
    path: PathBuf,
    file: Arc<dyn StoreFile>,
    start_offset: u64,
    file_size: u64,
    wrote_position: AtomicU64,
    /// End of the bytes written to the file (the rest of the appended bytes are in `buffer`).
    committed_position: AtomicU64,
    flushed_position: AtomicU64,
    /// Appended bytes not yet written to the file.
    buffer: WriteBuffer,
    /// Set when commits copy into the mapping, which the queue's populate thread keeps
    /// populated ahead of them (see `crate::populate`); `None`: commits `pwrite`, and the
    /// mapping is only read.
    populate: Option<Arc<Populate>>,
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
            file.zero_fill(file_size).map_err(failed)?;
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
        // A pre-written segment's pages are not in the page cache after its zero fill (direct
        // writes), and its blocks hold written zeros: a commit ending inside a page that is not
        // cached would make the kernel read that page from disk first. Commits are therefore
        // padded with the zeros the segment already holds up to the next page boundary.
        let buffer = if options.prewrite {
            WriteBuffer::padded(position, file_size)
        } else {
            WriteBuffer::new(position)
        };
        MappedFile {
            path,
            file,
            start_offset,
            file_size,
            wrote_position: AtomicU64::new(position),
            committed_position: AtomicU64::new(position),
            flushed_position: AtomicU64::new(position),
            buffer,
            populate: None,
        }
    }

    /// This segment's commits copy into its mapping and report to `populate` (the queue's
    /// populate thread) instead of writing with `pwrite`.
    pub(crate) fn with_populate(mut self, populate: Option<Arc<Populate>>) -> Self {
        self.populate = populate;
        self
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
    /// Bytes readers may see: appended and written to the file (committed).
    pub fn read_position(&self) -> u64 {
        self.committed_position.load(Ordering::Acquire)
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

    /// Appends `data` at the wrote position, into the write buffer (readable once committed).
    /// Caller serializes appends. Returns the bytes buffered and not yet committed.
    pub fn append(&self, data: &[u8]) -> usize {
        let pos = self.wrote_position();
        assert!(pos + data.len() as u64 <= self.file_size, "append past segment end");
        let buffered = self.buffer.push(pos, data);
        self.wrote_position.store(pos + data.len() as u64, Ordering::Release);
        buffered
    }

    /// Appends the BLANK end-of-file marker (when it fits) and marks the segment full; the rest
    /// of the segment is never written: it is committed with the marker.
    pub fn append_blank(&self, marker: &[u8]) {
        let pos = self.wrote_position();
        let fits = self.file_size - pos >= marker.len() as u64;
        self.buffer
            .push_last(pos, if fits { marker } else { &[] }, self.file_size);
        self.wrote_position.store(self.file_size, Ordering::Release);
    }

    /// Writes the write buffer's bytes to the file with one `pwrite` (or one copy into the
    /// populated mapping, see [`SegmentOptions::populate_ahead`]) and moves the read position
    /// past them; returns whether anything was committed. Safe to call concurrently (commits are
    /// serialized) and concurrently with appends.
    pub fn commit(&self) -> StoreResult<bool> {
        self.commit_with(&mut |_, _| {})
    }

    /// [`MappedFile::commit`], then `on_committed(offset, bytes)` with the bytes just written and
    /// the CommitLog offset of their first byte, once they are readable and while the commit
    /// lock is still held (so it sees them before any later commit of this segment).
    pub fn commit_with(&self, on_committed: &mut dyn FnMut(u64, &[u8])) -> StoreResult<bool> {
        let committed = self
            .buffer
            .commit_then(
                |pos, bytes| match self.populate {
                    Some(_) => self.file.write_at(pos, bytes),
                    None => self.file.write_unmapped(pos, bytes),
                },
                |end, start, bytes| {
                    self.committed_position.fetch_max(end, Ordering::AcqRel);
                    on_committed(self.start_offset + start, bytes);
                },
            )
            .map_err(|e| StoreError::io("write", &self.path, e))?;
        let Some(end) = committed else {
            return Ok(false);
        };
        if let Some(populate) = &self.populate {
            populate.committed(self.start_offset + end);
        }
        if end >= self.file_size {
            self.buffer.release();
        }
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

    /// Syncs `[flushed, read position)` if at least `least_pages` pages are dirty (or the segment
    /// is full and anything is dirty). Returns the new flushed position. Bytes still in a write
    /// buffer are not synced: the caller commits first (and tells readers). Safe to call
    /// concurrently: a sync of an overlapping range waits for the pages another one is writing
    /// back.
    pub fn flush(&self, least_pages: u64) -> StoreResult<u64> {
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
        self.buffer.reset(pos);
        self.wrote_position.store(pos, Ordering::Release);
        self.committed_position.store(pos, Ordering::Release);
        self.flushed_position.store(pos, Ordering::Release);
        Ok(())
    }
}

#[path = "mapped_file_queue.rs"]
mod queue;
pub use queue::MappedFileQueue;

/// Whether every byte is zero (word at a time).
fn is_zero(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let words_zero = words
        .by_ref()
        .fold(0u64, |acc, w| acc | u64::from_ne_bytes(w.try_into().unwrap_or([1; 8])))
        == 0;
    words_zero && words.remainder().iter().all(|b| *b == 0)
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
            f.append(&[i; 1024]);
            f.commit().unwrap();
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

    // Goal: appended bytes are invisible to readers (view, max_offset) until
    // committed, also when the appender moved on to later segments while an earlier one's tail
    // (its BLANK marker) is uncommitted; a commit of a closed segment makes it wholly readable.
    // Method: append across two 4 KiB segments on SimFs without committing, check the bounds,
    // commit the later segment first, then the earlier one.
    #[test]
    fn buffered_appends_are_readable_only_once_committed_in_order() {
        let fs: Arc<dyn Fs> = Arc::new(SimFs::new());
        let options = SegmentOptions {
            prewrite: true,
            ..SegmentOptions::default()
        };
        let q = MappedFileQueue::load(Arc::clone(&fs), PathBuf::from("/s/cl"), 4096, options).unwrap();
        let first = q.last_or_create(0).unwrap();
        first.append(&[1; 3000]);
        assert_eq!((first.wrote_position(), first.read_position()), (3000, 0));
        assert!(first.view(0, 1).is_err());
        assert_eq!(q.max_offset(), 0);
        first.append_blank(&[9; 8]);
        let second = q.last_or_create(0).unwrap();
        assert_eq!(second.append(&[2; 100]), 100);
        assert!(second.commit().unwrap());
        assert_eq!(second.read_position(), 100);
        assert_eq!(q.max_offset(), 0, "the first segment's bytes are not readable yet");
        assert!(first.commit().unwrap());
        assert!(!first.commit().unwrap(), "nothing left to commit");
        assert_eq!(first.read_position(), 4096);
        assert_eq!(q.max_offset(), 4096 + 100);
        assert!(first.view(0, 3000).unwrap().iter().all(|b| *b == 1));
        assert_eq!(first.view(3000, 8).unwrap().as_ref(), &[9; 8]);
        assert!(second.view(0, 100).unwrap().iter().all(|b| *b == 2));
        assert_eq!(first.flush(0).unwrap(), 4096);
    }

    // Goal: preallocation failure (ENOSPC) is a clean CreateMappedFileFailed error.
    #[test]
    fn full_disk_makes_segment_creation_fail_cleanly() {
        let sim = SimFs::new();
        sim.set_capacity(6000);
        let fs: Arc<dyn Fs> = Arc::new(sim);
        let q = MappedFileQueue::load(fs, PathBuf::from("/s/cl"), 4096, SegmentOptions::default()).unwrap();
        q.last_or_create(0).unwrap().append(&[1; 4096]);
        assert!(matches!(
            q.last_or_create(0),
            Err(StoreError::CreateMappedFileFailed { .. })
        ));
    }
}
