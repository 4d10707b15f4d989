//! A bounded LRU of open ConsumeQueue segment files.
//!
//! Idle queues hold no open file and no mapping: a segment is opened (and mapped on the real file
//! system) when read or written and closed when it falls out of the LRU. This bounds open files
//! and mappings (`vm.max_map_count` is 65,530) whatever the number of queues.
//!
//! Files are opened unmapped (`pread`/`pwrite`) and sized sparsely with `set_len`: a write into a
//! hole on a full disk is a clean ENOSPC, and 50,000 queues do not preallocate 50,000 segments.
//!
//! Invariants:
//! - at most `capacity` files are held by the cache (readers may briefly hold evicted ones);
//! - a file evicted with unsynced writes is counted, and [`FileCache::sync_all`] then makes the
//!   whole file system durable with one `syncfs` instead of one fsync per file, so "every
//!   ConsumeQueue write so far is durable" holds after `sync_all` returns.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{StoreError, StoreResult};
use crate::fs::{Fs, StoreFile};

/// Key of a cached file: (queue number, segment index).
pub type FileKey = (u32, u64);

#[derive(Debug)]
struct Entry {
    file: Arc<dyn StoreFile>,
    path: PathBuf,
    tick: u64,
    /// Dirty byte range `[start, end)` not yet synced.
    dirty: Option<(u64, u64)>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<FileKey, Entry>,
    by_tick: BTreeMap<u64, FileKey>,
    tick: u64,
    /// Files evicted with unsynced writes since the last `sync_all`.
    evicted_dirty: u64,
}

/// Above this many dirty files one `syncfs` is cheaper than one fsync per file.
pub const SYNCFS_THRESHOLD: usize = 16;

/// The LRU of open segment files.
#[derive(Debug)]
pub struct FileCache {
    fs: Arc<dyn Fs>,
    root: PathBuf,
    capacity: usize,
    file_size: u64,
    inner: Mutex<Inner>,
}

impl FileCache {
    /// A cache holding at most `capacity` files of `file_size` bytes under `root`.
    pub fn new(fs: Arc<dyn Fs>, root: PathBuf, capacity: usize, file_size: u64) -> Self {
        FileCache {
            fs,
            root,
            capacity: capacity.max(1),
            file_size,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of files currently held.
    pub fn open_count(&self) -> usize {
        self.lock().map.len()
    }

    /// The file for `key` at `path`, opening it if needed; `create` creates a missing file
    /// (sparse, `file_size` long), otherwise a missing file is `Ok(None)`.
    pub fn get(&self, key: FileKey, path: &Path, create: bool) -> StoreResult<Option<Arc<dyn StoreFile>>> {
        self.get_with(key, || path.to_path_buf(), create)
    }

    /// [`FileCache::get`] building the path only when the file is not cached (no allocation on
    /// a hit, the common case of a queue's current segment).
    pub fn get_with(
        &self,
        key: FileKey,
        make_path: impl FnOnce() -> PathBuf,
        create: bool,
    ) -> StoreResult<Option<Arc<dyn StoreFile>>> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(e) = inner.map.get_mut(&key) {
            let old = std::mem::replace(&mut e.tick, tick);
            let file = Arc::clone(&e.file);
            inner.by_tick.remove(&old);
            inner.by_tick.insert(tick, key);
            return Ok(Some(file));
        }
        let path_buf = make_path();
        let path = path_buf.as_path();
        // Open first and look at the directory only when that fails: a miss is then one
        // `open`, not a `stat` and an `open` (with 50,000 queues nearly every write misses).
        let file = match self.fs.open_unmapped(path, create) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    self.fs
                        .create_dir_all(dir)
                        .map_err(|e| StoreError::io("create dir", dir, e))?;
                }
                self.fs
                    .open_unmapped(path, true)
                    .map_err(|e| StoreError::io("open", path, e))?
            }
            Err(e) => return Err(StoreError::io("open", path, e)),
        };
        let len = file.len().map_err(|e| StoreError::io("stat", path, e))?;
        if len < self.file_size {
            file.truncate(self.file_size)
                .map_err(|source| StoreError::CreateMappedFileFailed {
                    path: path.to_path_buf(),
                    size_bytes: self.file_size,
                    source,
                })?;
        }
        while inner.map.len() >= self.capacity {
            let Some((&old_tick, &old_key)) = inner.by_tick.iter().next() else {
                break;
            };
            inner.by_tick.remove(&old_tick);
            if let Some(evicted) = inner.map.remove(&old_key) {
                if evicted.dirty.is_some() {
                    inner.evicted_dirty += 1;
                }
            }
        }
        inner.by_tick.insert(tick, key);
        inner.map.insert(
            key,
            Entry {
                file: Arc::clone(&file),
                path: path_buf,
                tick,
                dirty: None,
            },
        );
        Ok(Some(file))
    }

    /// Records that `[start, end)` of a cached file was written and not synced.
    pub fn mark_dirty(&self, key: FileKey, start: u64, end: u64) {
        if let Some(e) = self.lock().map.get_mut(&key) {
            e.dirty = Some(match e.dirty {
                Some((s, t)) => (s.min(start), t.max(end)),
                None => (start, end),
            });
        }
    }

    /// Makes every write so far durable: per-file syncs when few files are dirty, otherwise
    /// (or when dirty files were evicted) one `syncfs`.
    pub fn sync_all(&self) -> StoreResult<()> {
        type DirtyFile = (FileKey, Arc<dyn StoreFile>, PathBuf, (u64, u64));
        let (dirty, evicted): (Vec<DirtyFile>, u64) = {
            let inner = self.lock();
            let dirty = inner
                .map
                .iter()
                .filter_map(|(k, e)| e.dirty.map(|d| (*k, Arc::clone(&e.file), e.path.clone(), d)))
                .collect();
            (dirty, inner.evicted_dirty)
        };
        if evicted > 0 || dirty.len() > SYNCFS_THRESHOLD {
            self.fs
                .sync_fs(&self.root)
                .map_err(|e| StoreError::io("syncfs", &self.root, e))?;
            let mut inner = self.lock();
            inner.evicted_dirty = inner.evicted_dirty.saturating_sub(evicted);
            for (key, _, _, range) in dirty {
                if let Some(e) = inner.map.get_mut(&key) {
                    // Writes that landed after the snapshot stay dirty.
                    if e.dirty == Some(range) {
                        e.dirty = None;
                    }
                }
            }
            return Ok(());
        }
        for (key, file, path, (start, end)) in dirty {
            file.sync_range(start, end - start)
                .map_err(|err| StoreError::io("sync", &path, err))?;
            let mut inner = self.lock();
            if let Some(e) = inner.map.get_mut(&key) {
                if e.dirty == Some((start, end)) {
                    e.dirty = None;
                }
            }
        }
        Ok(())
    }

    /// Drops a file from the cache without syncing (it is being deleted or truncated).
    pub fn forget(&self, key: FileKey) {
        let mut inner = self.lock();
        if let Some(e) = inner.map.remove(&key) {
            inner.by_tick.remove(&e.tick);
        }
    }
}
