//! `SimFs`: a deterministic in-memory file system for crash testing (RELIABILITY.md T2).
//!
//! Each file has a **durable image** (what survives power loss) and a **current image** (what
//! the process sees). Writes go to the current image and mark 4 KiB pages dirty;
//! [`StoreFile::sync_range`] copies the dirty pages of the range into the durable image.
//! [`SimFs::crash`] throws the current images away and, chosen by the seed, per file:
//! - keeps nothing that was not synced;
//! - keeps a random subset of the dirty pages (the kernel wrote some back);
//! - tears the file's last write after a random byte or a 512 B boundary;
//! - tears the last write and fills its lost part with zeros or garbage.
//!
//! Faults: a capacity (ENOSPC on preallocate / growing writes), EIO on writes or syncs, and a
//! reserved-bytes knob to simulate other users of the disk.
//!
//! Simplifications (documented, deliberate): directory operations (create, rename, remove) and
//! file length changes (`preallocate`, `truncate`) are durable at once; handles opened before a
//! crash fail with EIO afterwards (the process that held them is dead).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use super::{DiskUsage, Fs, StoreFile};

const PAGE: u64 = 4096;

/// A small deterministic PRNG (splitmix64) so crash schedules depend only on the seed.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        SimRng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

#[derive(Debug, Default)]
struct SimFileData {
    durable: Vec<u8>,
    current: Vec<u8>,
    dirty: BTreeSet<u64>,
    last_write: Option<(u64, u64)>,
    mtime_ms: i64,
}

#[derive(Debug, Default)]
struct SimState {
    generation: u64,
    files: BTreeMap<PathBuf, SimFileData>,
    dirs: BTreeSet<PathBuf>,
    capacity_bytes: u64,
    reserved_bytes: u64,
    /// Sum of all file lengths (kept incrementally).
    file_bytes: u64,
    fail_writes: bool,
    fail_syncs: u32,
    now_ms: i64,
    syncs: u64,
}

impl SimState {
    fn used_bytes(&self) -> u64 {
        self.file_bytes + self.reserved_bytes
    }

    /// Records a file length change in the running total.
    fn resized(&mut self, old_len: u64, new_len: u64) {
        self.file_bytes = (self.file_bytes + new_len).saturating_sub(old_len);
    }

    fn check_grow(&self, old_len: u64, new_len: u64) -> io::Result<()> {
        if new_len > old_len && self.used_bytes() + (new_len - old_len) > self.capacity_bytes {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        Ok(())
    }
}

/// The simulated file system. Clones share state.
#[derive(Debug, Clone)]
pub struct SimFs {
    state: Arc<Mutex<SimState>>,
    generation: u64,
}

impl Default for SimFs {
    fn default() -> Self {
        Self::new()
    }
}

fn eio(what: &str) -> io::Error {
    io::Error::other(format!("simulated EIO: {what}"))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no such file: {}", path.display()))
}

impl SimFs {
    /// An empty file system of 1 TiB whose clock (file modification times) starts at the real
    /// time, so that a store on the system clock sees its files as just written: starting at 0
    /// made every file look decades old, and a test running during a `deleteWhen` hour saw
    /// retention delete its segments. Tests of other times set the clock ([`SimFs::set_now_ms`]).
    pub fn new() -> Self {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let state = SimState {
            capacity_bytes: 1 << 40,
            now_ms,
            ..SimState::default()
        };
        SimFs {
            state: Arc::new(Mutex::new(state)),
            generation: 0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live(&self) -> io::Result<MutexGuard<'_, SimState>> {
        let st = self.lock();
        if st.generation != self.generation {
            return Err(eio("file system handle from before a crash"));
        }
        Ok(st)
    }

    /// Sets the capacity (ENOSPC beyond it).
    pub fn set_capacity(&self, bytes: u64) {
        self.lock().capacity_bytes = bytes;
    }
    /// Bytes counted as used by someone else (a filler file).
    pub fn set_reserved(&self, bytes: u64) {
        self.lock().reserved_bytes = bytes;
    }
    /// Makes every write fail with EIO while set.
    pub fn set_fail_writes(&self, fail: bool) {
        self.lock().fail_writes = fail;
    }
    /// Makes the next `n` syncs fail with EIO.
    pub fn fail_next_syncs(&self, n: u32) {
        self.lock().fail_syncs = n;
    }
    /// Sets the simulated wall clock used for file modification times.
    pub fn set_now_ms(&self, now_ms: i64) {
        self.lock().now_ms = now_ms;
    }
    /// Number of successful syncs so far.
    pub fn sync_count(&self) -> u64 {
        self.lock().syncs
    }
    /// Number of files.
    pub fn file_count(&self) -> usize {
        self.lock().files.len()
    }

    /// Current (process-visible) bytes of a file, for test assertions.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        self.lock().files.get(path).map(|f| f.current.clone())
    }

    /// Overwrites the current and durable images of a file (test tampering, e.g. T3 cases).
    pub fn tamper(&self, path: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
        let mut st = self.lock();
        let mut lens = None;
        if let Some(f) = st.files.get_mut(path) {
            let old = f.current.len() as u64;
            edit(&mut f.current);
            f.durable = f.current.clone();
            f.dirty.clear();
            lens = Some((old, f.current.len() as u64));
        }
        if let Some((old, new)) = lens {
            st.resized(old, new);
        }
    }

    /// Simulates power loss: discards unsynced data as the seed decides (see the module doc) and
    /// returns a fresh handle; handles from before the crash fail from now on.
    pub fn crash(&self, seed: u64) -> SimFs {
        let mut rng = SimRng::new(seed);
        let mut st = self.lock();
        st.generation += 1;
        for file in st.files.values_mut() {
            let dirty: Vec<u64> = file.dirty.iter().copied().collect();
            let mut image = std::mem::take(&mut file.durable);
            image.resize(file.current.len(), 0);
            match rng.below(4) {
                0 => {}
                1 => {
                    for page in dirty {
                        if rng.below(2) == 0 {
                            copy_range(&mut image, &file.current, page * PAGE, PAGE);
                        }
                    }
                }
                2 => {
                    if let Some((off, len)) = file.last_write {
                        let keep = if rng.below(2) == 0 {
                            rng.below(len + 1)
                        } else {
                            (rng.below(len + 1) / 512) * 512
                        };
                        copy_range(&mut image, &file.current, off, keep);
                    }
                }
                _ => {
                    // The last write is torn after `keep` bytes and the rest of it reads back
                    // as zeros or garbage (never touching bytes outside the write).
                    if let Some((off, len)) = file.last_write {
                        let keep = rng.below(len + 1);
                        copy_range(&mut image, &file.current, off, keep);
                        let garbage = rng.below(2) == 0;
                        let start = (off + keep) as usize;
                        let end = ((off + len) as usize).min(image.len());
                        for b in image.get_mut(start..end).unwrap_or_default() {
                            *b = if garbage { rng.next_u64() as u8 } else { 0 };
                        }
                    }
                }
            }
            file.current = image.clone();
            file.durable = image;
            file.dirty.clear();
            file.last_write = None;
        }
        SimFs {
            state: Arc::clone(&self.state),
            generation: st.generation,
        }
    }
}

fn copy_range(dst: &mut [u8], src: &[u8], off: u64, len: u64) {
    let start = off as usize;
    let end = (start + len as usize).min(src.len()).min(dst.len());
    if let (Some(d), Some(s)) = (dst.get_mut(start..end), src.get(start..end)) {
        d.copy_from_slice(s);
    }
}

/// A file of [`SimFs`].
#[derive(Debug)]
pub struct SimFile {
    fs: SimFs,
    path: PathBuf,
}

impl SimFile {
    fn with<T>(&self, f: impl FnOnce(&mut SimState, &Path) -> io::Result<T>) -> io::Result<T> {
        let mut st = self.fs.live()?;
        f(&mut st, &self.path)
    }
}

impl StoreFile for SimFile {
    fn len(&self) -> io::Result<u64> {
        self.with(|st, p| Ok(st.files.get(p).ok_or_else(|| not_found(p))?.current.len() as u64))
    }

    fn preallocate(&self, len: u64) -> io::Result<()> {
        self.with(|st, p| {
            let old = st.files.get(p).ok_or_else(|| not_found(p))?.current.len() as u64;
            st.check_grow(old, len)?;
            st.resized(old, old.max(len));
            let f = st.files.get_mut(p).ok_or_else(|| not_found(p))?;
            if (f.current.len() as u64) < len {
                f.current.resize(len as usize, 0);
                f.durable.resize(len as usize, 0);
            }
            Ok(())
        })
    }

    // A simulated file is never mapped: a `pwrite` is the same overlay write as `write_at`, so
    // the crash simulation observes (and may drop or tear) it like any other unsynced write.
    fn write_unmapped(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.write_at(offset, data)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.with(|st, p| {
            if st.fail_writes {
                return Err(eio("write"));
            }
            let old = st.files.get(p).ok_or_else(|| not_found(p))?.current.len() as u64;
            let end = offset + data.len() as u64;
            st.check_grow(old, end)?;
            st.resized(old, old.max(end));
            let now = st.now_ms;
            let f = st.files.get_mut(p).ok_or_else(|| not_found(p))?;
            if (f.current.len() as u64) < end {
                f.current.resize(end as usize, 0);
            }
            if let Some(dst) = f.current.get_mut(offset as usize..end as usize) {
                dst.copy_from_slice(data);
            }
            if !data.is_empty() {
                for page in offset / PAGE..=(end - 1) / PAGE {
                    f.dirty.insert(page);
                }
                f.last_write = Some((offset, data.len() as u64));
            }
            f.mtime_ms = now;
            Ok(())
        })
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.with(|st, p| {
            let f = st.files.get(p).ok_or_else(|| not_found(p))?;
            let src = usize::try_from(offset)
                .ok()
                .and_then(|s| f.current.get(s..s.checked_add(buf.len())?))
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past end"))?;
            buf.copy_from_slice(src);
            Ok(())
        })
    }

    fn view(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        let mut buf = vec![0u8; len];
        self.read_at(offset, &mut buf)?;
        Ok(Bytes::from(buf))
    }

    fn sync_range(&self, offset: u64, len: u64) -> io::Result<()> {
        self.with(|st, p| {
            if st.fail_syncs > 0 {
                st.fail_syncs -= 1;
                return Err(eio("sync"));
            }
            st.syncs += 1;
            let f = st.files.get_mut(p).ok_or_else(|| not_found(p))?;
            f.durable.resize(f.current.len(), 0);
            let end = offset.saturating_add(len);
            let pages: Vec<u64> = f.dirty.range(offset / PAGE..end.div_ceil(PAGE)).copied().collect();
            for page in pages {
                copy_range(&mut f.durable, &f.current, page * PAGE, PAGE);
                f.dirty.remove(&page);
            }
            // A synced write can no longer be torn.
            if f.last_write
                .is_some_and(|(o, l)| o / PAGE >= offset / PAGE && (o + l).div_ceil(PAGE) <= end.div_ceil(PAGE))
            {
                f.last_write = None;
            }
            Ok(())
        })
    }

    fn truncate(&self, len: u64) -> io::Result<()> {
        self.with(|st, p| {
            let old = st.files.get(p).ok_or_else(|| not_found(p))?.current.len() as u64;
            st.check_grow(old, len)?;
            st.resized(old, len);
            let f = st.files.get_mut(p).ok_or_else(|| not_found(p))?;
            f.current.resize(len as usize, 0);
            f.durable.resize(len as usize, 0);
            let first_gone = len.div_ceil(PAGE);
            f.dirty.retain(|pg| *pg < first_gone);
            Ok(())
        })
    }
}

impl Fs for SimFs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn StoreFile>> {
        let mut st = self.live()?;
        if !st.files.contains_key(path) {
            if !create {
                return Err(not_found(path));
            }
            if let Some(parent) = path.parent() {
                if !st.dirs.contains(parent) {
                    return Err(not_found(parent));
                }
            }
            let mtime_ms = st.now_ms;
            st.files.insert(
                path.to_path_buf(),
                SimFileData {
                    mtime_ms,
                    ..SimFileData::default()
                },
            );
        }
        drop(st);
        Ok(Arc::new(SimFile {
            fs: self.clone(),
            path: path.to_path_buf(),
        }))
    }

    fn sync_fs(&self, _path: &Path) -> io::Result<()> {
        let mut st = self.live()?;
        if st.fail_syncs > 0 {
            st.fail_syncs -= 1;
            return Err(eio("syncfs"));
        }
        st.syncs += 1;
        for f in st.files.values_mut() {
            f.durable = f.current.clone();
            f.dirty.clear();
            f.last_write = None;
        }
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut st = self.live()?;
        let mut p = path.to_path_buf();
        loop {
            st.dirs.insert(p.clone());
            if !p.pop() || p.as_os_str().is_empty() {
                return Ok(());
            }
        }
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let st = self.live()?;
        let mut names = BTreeSet::new();
        let children = st.files.keys().chain(st.dirs.iter());
        for child in children {
            if child.parent() == Some(path) {
                if let Some(name) = child.file_name().and_then(|n| n.to_str()) {
                    names.insert(name.to_string());
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    fn exists(&self, path: &Path) -> bool {
        let st = self.lock();
        st.files.contains_key(path) || st.dirs.contains(path)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut st = self.live()?;
        let removed = st.files.remove(path).ok_or_else(|| not_found(path))?;
        st.resized(removed.current.len() as u64, 0);
        Ok(())
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        let mut st = self.live()?;
        let busy = st.files.keys().chain(st.dirs.iter()).any(|c| c.parent() == Some(path));
        if busy {
            return Err(io::Error::other("directory not empty"));
        }
        st.dirs.remove(path);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut st = self.live()?;
        let data = st.files.remove(from).ok_or_else(|| not_found(from))?;
        st.files.insert(to.to_path_buf(), data);
        Ok(())
    }

    fn disk_usage(&self, _path: &Path) -> io::Result<DiskUsage> {
        let st = self.live()?;
        let used = st.used_bytes().min(st.capacity_bytes);
        Ok(DiskUsage {
            total_bytes: st.capacity_bytes,
            available_bytes: st.capacity_bytes - used,
        })
    }

    fn modified_ms(&self, path: &Path) -> io::Result<i64> {
        let st = self.live()?;
        st.files.get(path).map(|f| f.mtime_ms).ok_or_else(|| not_found(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: synced bytes survive a crash for every seed; unsynced bytes never appear where they
    // were not written. Method: write, sync half, write more, crash with many seeds, compare.
    #[test]
    fn synced_bytes_survive_every_crash_and_unsynced_bytes_stay_in_place() {
        for seed in 0..200 {
            let fs = SimFs::new();
            fs.create_dir_all(Path::new("/d")).unwrap();
            let f = fs.open(Path::new("/d/a"), true).unwrap();
            f.preallocate(3 * PAGE).unwrap();
            f.write_at(0, &[1u8; 5000]).unwrap();
            f.sync_range(0, 5000).unwrap();
            f.write_at(5000, &[2u8; 3000]).unwrap();
            let fs2 = fs.crash(seed);
            assert!(f.len().is_err(), "old handle must be dead after a crash");
            let g = fs2.open(Path::new("/d/a"), false).unwrap();
            let mut buf = vec![0u8; 3 * PAGE as usize];
            g.read_at(0, &mut buf).unwrap();
            assert!(buf[..4096].iter().all(|b| *b == 1), "seed {seed}");
        }
    }

    // Goal: ENOSPC is reported by preallocate beyond capacity, and EIO injection works.
    #[test]
    fn preallocate_beyond_capacity_fails_with_enospc() {
        let fs = SimFs::new();
        fs.set_capacity(10_000);
        fs.create_dir_all(Path::new("/d")).unwrap();
        let f = fs.open(Path::new("/d/a"), true).unwrap();
        f.preallocate(8192).unwrap();
        let err = f.preallocate(20_000).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        fs.fail_next_syncs(1);
        assert!(f.sync_range(0, 10).is_err());
        assert!(f.sync_range(0, 10).is_ok());
        assert_eq!(fs.disk_usage(Path::new("/d")).unwrap().available_bytes, 10_000 - 8192);
    }
}
