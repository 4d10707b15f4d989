//! File-system abstraction: every byte the store reads or writes goes through [`Fs`] and
//! [`StoreFile`].
//!
//! Components:
//! - [`Fs`] / [`StoreFile`]: the traits (open, preallocate, `write_at` / `read_at` / zero-copy
//!   [`StoreFile::view`], scattered small accesses through one [`Region`], sync, truncate,
//!   directory listing, disk usage);
//! - [`real::RealFs`]: std + memmap2 + `posix_fallocate`; the only module with `unsafe`;
//! - [`sim::SimFs`]: in-memory simulation with a durable image and an unsynced overlay per file,
//!   seeded crashes that drop or tear unsynced writes, and EIO/ENOSPC injection.
//!
//! Write-path choice: the store never holds a `&mut [u8]` into a mapping. It writes with
//! [`StoreFile::write_at`], which on [`real::RealFs`] is a bounds-checked `memcpy` into a shared
//! mapping of the preallocated segment (page cache, no syscall), and on [`sim::SimFs`] a write into
//! the file's unsynced overlay, so the simulation observes every write and every sync exactly as
//! the real path issues them. Under SYNC_FLUSH the CommitLog instead writes whole group commits
//! with [`StoreFile::write_unmapped`] (`pwrite`; see `crate::write_buffer`), which SimFs
//! observes the same way. Reads are [`StoreFile::view`]: a `Bytes` that borrows the mapping
//! (real) or a copy (sim). Durability is [`StoreFile::sync_range`] (`msync(MS_SYNC)` on a mapping,
//! `fdatasync` otherwise).
//!
//! Invariants:
//! - a mapped file is preallocated (`posix_fallocate`) before it is mapped, so writes into the
//!   mapping never hit a sparse hole (SIGBUS on a full disk);
//! - bytes handed out by `view` are never written again while the view lives, except by recovery
//!   truncation, which runs before any reader exists.

pub mod real;
pub mod sim;

use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

/// Space figures of the file system holding a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskUsage {
    /// Bytes this process can fill: used plus available, i.e. the file system's size without
    /// the blocks reserved for root (df's `Used + Avail`, RocketMQ 5's `usedSpace + usableSpace`).
    pub total_bytes: u64,
    /// Bytes available to this process.
    pub available_bytes: u64,
}

impl DiskUsage {
    /// Used fraction in percent (0..=100), rounded up.
    pub fn used_percent(&self) -> u32 {
        if self.total_bytes == 0 {
            return 100;
        }
        let used = self.total_bytes.saturating_sub(self.available_bytes);
        let pct = (u128::from(used) * 100).div_ceil(u128::from(self.total_bytes));
        u32::try_from(pct.min(100)).unwrap_or(100)
    }
}

/// One open store file. Implementations are shared between threads (`Arc<dyn StoreFile>`).
pub trait StoreFile: Send + Sync + std::fmt::Debug {
    /// Current length of the file in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Reserves `len` bytes (allocating blocks, `posix_fallocate`) and, on the real file system,
    /// maps the file. A failure (ENOSPC) leaves the file usable for reads.
    fn preallocate(&self, len: u64) -> io::Result<()>;
    /// Writes all of `data` at `offset` (not yet durable).
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Writes all of `data` at `offset` through the file descriptor (`pwrite`), never through
    /// a mapping (not yet durable): the page cache marks only the blocks written dirty, and no
    /// page of the mapping is faulted in or made writable (so a later sync has no mapped page to
    /// write-protect). The default is [`StoreFile::write_at`] (files that are never mapped).
    fn write_unmapped(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.write_at(offset, data)
    }
    /// Writes zeros over `[0, len)` (not yet durable), so that every block is allocated and
    /// written. The default writes them through [`StoreFile::write_unmapped`] in 1 MiB chunks.
    fn zero_fill(&self, len: u64) -> io::Result<()> {
        write_zeros(self, 0, len)
    }
    /// Reads exactly `buf.len()` bytes at `offset`; `UnexpectedEof` past the end.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// A read-only view of `len` bytes at `offset`, without copying where possible.
    fn view(&self, offset: u64, len: usize) -> io::Result<Bytes>;
    /// Makes bytes `[offset, offset + len)` durable (and the file length).
    fn sync_range(&self, offset: u64, len: u64) -> io::Result<()>;
    /// Sets the file length (shrinking discards bytes; growing adds zeros). Unmaps first.
    fn truncate(&self, len: u64) -> io::Result<()>;
    /// The first offset at or after `offset` that may hold non-zero bytes (`lseek(SEEK_DATA)`),
    /// or `None` if everything from `offset` to the end reads as zeros. It may answer
    /// conservatively (report zeros as data) but never skips data; the default reports
    /// everything as data.
    fn next_data(&self, offset: u64) -> io::Result<Option<u64>> {
        Ok(Some(offset))
    }
    /// Makes `[offset, offset + len)` read as zeros without writing them, keeping the blocks
    /// allocated (`fallocate(FALLOC_FL_ZERO_RANGE)`: unwritten extents, a metadata change made
    /// durable by the next sync). `Ok(false)` when unsupported: the caller writes zeros. Both
    /// bounds must be multiples of 4096.
    fn zero_range(&self, offset: u64, len: u64) -> io::Result<bool> {
        let _ = (offset, len);
        Ok(false)
    }
    /// Makes the pages of `[offset, offset + len)` present and writable in the file's mapping
    /// (`MADV_POPULATE_WRITE`): page-cache pages allocated and mapped, so that a later
    /// [`StoreFile::write_at`] there is a plain copy without a page fault. The bytes do not
    /// change. `Ok(false)` when the file has no mapping (the default, and every simulated file).
    fn populate_write(&self, offset: u64, len: u64) -> io::Result<bool> {
        let _ = (offset, len);
        Ok(false)
    }
    /// Runs `f` with a [`Region`] of the file, for a few small reads and writes at scattered
    /// positions (an IndexFile put reads a slot, then writes an entry, the slot and the
    /// header). On the real file system the region is the mapping, looked up once for all of
    /// them, so each access is a bounds check and a copy instead of a lock and a reference count
    /// per [`StoreFile::read_at`] / [`StoreFile::write_at`]. The default forwards each access
    /// to those two.
    fn with_region(&self, f: &mut dyn FnMut(&dyn Region) -> io::Result<()>) -> io::Result<()> {
        f(&Forward(self))
    }
}

/// Positional access inside one [`StoreFile::with_region`] call, with the semantics of
/// [`StoreFile::read_at`] and [`StoreFile::write_at`].
pub trait Region {
    /// Reads exactly `buf.len()` bytes at `offset`; `UnexpectedEof` past the end.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `data` at `offset` (not yet durable).
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()>;
}

/// The [`Region`] of a file without a faster path: its own `read_at` / `write_at`.
pub(crate) struct Forward<'a, F: ?Sized>(pub(crate) &'a F);

impl<F: StoreFile + ?Sized> Region for Forward<'_, F> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_at(offset, buf)
    }
    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.0.write_at(offset, data)
    }
}

/// Writes zeros over `[from, to)` of `file` through [`StoreFile::write_unmapped`], 1 MiB at a
/// time (the buffered zero fill, and the part of a direct one that cannot be direct).
pub(crate) fn write_zeros<F: StoreFile + ?Sized>(file: &F, from: u64, to: u64) -> io::Result<()> {
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK];
    let mut pos = from;
    while pos < to {
        let n = (to - pos).min(CHUNK as u64) as usize;
        file.write_unmapped(pos, zeros.get(..n).unwrap_or(&zeros))?;
        pos += n as u64;
    }
    Ok(())
}

/// A file system: opens files and manipulates directories.
pub trait Fs: Send + Sync + std::fmt::Debug + 'static {
    /// Opens `path` for reading and writing, creating it (empty) when `create` is set. On the
    /// real file system the file is mapped once it has a length (after `preallocate`).
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StoreFile>>;
    /// Like [`Fs::open`] but never mapped: `pread`/`pwrite` only, so the file may be sparse
    /// (a write into a hole on a full disk is a clean ENOSPC, not SIGBUS) and holds no mapping.
    fn open_unmapped(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StoreFile>> {
        self.open(path, create)
    }
    /// Makes every written byte of the file system holding `path` durable (`syncfs`): one call
    /// instead of one fsync per file, for the many small ConsumeQueue files.
    fn sync_fs(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries of a directory, sorted; an absent directory is empty.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether the path exists.
    fn exists(&self, path: &Path) -> bool;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory (must be empty).
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// Atomically renames a file.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Space figures of the file system holding `path`.
    fn disk_usage(&self, path: &Path) -> io::Result<DiskUsage>;
    /// Modification time of a file, in ms since the epoch.
    fn modified_ms(&self, path: &Path) -> io::Result<i64>;
}

/// Writes `data` to `path` durably and atomically: write a temp file, sync, rename.
pub fn write_file_atomic(fs: &dyn Fs, path: &Path, data: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let file = fs.open(&tmp, true)?;
        file.truncate(0)?;
        file.write_at(0, data)?;
        file.sync_range(0, data.len() as u64)?;
    }
    fs.rename(&tmp, path)
}

/// Reads a whole (small) file; `None` if it does not exist.
pub fn read_file(fs: &dyn Fs, path: &Path) -> io::Result<Option<Vec<u8>>> {
    if !fs.exists(path) {
        return Ok(None);
    }
    let file = fs.open(path, false)?;
    let len = usize::try_from(file.len()?).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
    let mut buf = vec![0u8; len];
    file.read_at(0, &mut buf)?;
    Ok(Some(buf))
}
