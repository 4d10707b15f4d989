//! IndexFile: the hash index from message keys to CommitLog offsets
//! (`store/.../index/IndexFile.java`, `IndexService.java`).
//!
//! Layout (big-endian): a 40-byte header (i64 beginTimestamp, i64 endTimestamp, i64
//! beginPhyOffset, i64 endPhyOffset, i32 hashSlotCount, i32 indexCount), `maxHashSlotNum` i32 slots
//! holding the newest entry number of the slot (0 = empty), then `maxIndexNum` 20-byte entries:
//! i32 keyHash, i64 phyOffset, i32 timeDiff seconds from beginTimestamp, i32 previous entry.
//! Entry 0 is unused (`indexCount` starts at 1). Files are named `yyyyMMddHHmmssSSS` (UTC here;
//! RocketMQ uses the broker's local time zone, the name is not interpreted on load).
//!
//! Invariants:
//! - an entry is written before the slot that points to it, and the header last, so a crash
//!   leaves at worst entries that no slot reaches;
//! - slot or chain values outside `1..indexCount` are treated as empty, so a torn header can
//!   only hide entries, never point outside the file;
//! - index hits are hints: the store verifies the record's topic and keys before returning it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferromq_protocol::message::{java_hash, java_hash_continue};

use crate::error::{StoreError, StoreResult};
use crate::fs::{Fs, StoreFile};

/// Header size.
pub const INDEX_HEADER_SIZE: u64 = 40;
const SLOT_SIZE: u64 = 4;
const ENTRY_SIZE: u64 = 20;

/// RocketMQ `indexKeyHashMethod`: `abs(hash)`, with `MIN_VALUE` mapped to 0.
pub fn index_key_hash(key: &str) -> i32 {
    slot_hash(java_hash(key))
}

/// [`index_key_hash`] of `topic#key` from the hash of `topic#` (see [`topic_prefix_hash`]),
/// without building the string.
fn index_key_hash_of(topic_prefix_hash: i32, key: &str) -> i32 {
    slot_hash(java_hash_continue(topic_prefix_hash, key))
}

/// `java_hash("topic#")`.
fn topic_prefix_hash(topic: &str) -> i32 {
    java_hash_continue(java_hash(topic), "#")
}

/// Java's `Math.abs` of the key hash, with `MIN_VALUE` (which has none) mapped to 0.
fn slot_hash(hash: i32) -> i32 {
    hash.checked_abs().unwrap_or(0)
}

/// The key stored for `topic` and a message key (`topic#key`).
pub fn build_key(topic: &str, key: &str) -> String {
    format!("{topic}#{key}")
}

/// Formats ms since the epoch as `yyyyMMddHHmmssSSS` (UTC).
pub fn timestamp_file_name(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}{:03}",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Header {
    begin_timestamp: i64,
    end_timestamp: i64,
    begin_phy_offset: i64,
    end_phy_offset: i64,
    hash_slot_count: i32,
    index_count: i32,
}

impl Header {
    fn encode(&self) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[0..8].copy_from_slice(&self.begin_timestamp.to_be_bytes());
        b[8..16].copy_from_slice(&self.end_timestamp.to_be_bytes());
        b[16..24].copy_from_slice(&self.begin_phy_offset.to_be_bytes());
        b[24..32].copy_from_slice(&self.end_phy_offset.to_be_bytes());
        b[32..36].copy_from_slice(&self.hash_slot_count.to_be_bytes());
        b[36..40].copy_from_slice(&self.index_count.to_be_bytes());
        b
    }
    fn decode(b: &[u8; 40]) -> Header {
        let i64_at = |i: usize| {
            b.get(i..i + 8)
                .and_then(|s| s.try_into().ok())
                .map_or(0, i64::from_be_bytes)
        };
        let i32_at = |i: usize| {
            b.get(i..i + 4)
                .and_then(|s| s.try_into().ok())
                .map_or(0, i32::from_be_bytes)
        };
        Header {
            begin_timestamp: i64_at(0),
            end_timestamp: i64_at(8),
            begin_phy_offset: i64_at(16),
            end_phy_offset: i64_at(24),
            hash_slot_count: i32_at(32),
            index_count: i32_at(36),
        }
    }
}

/// One index file.
#[derive(Debug)]
pub struct IndexFile {
    path: PathBuf,
    file: Arc<dyn StoreFile>,
    slots: u32,
    max_entries: u32,
    header: Header,
}

impl IndexFile {
    fn file_size(slots: u32, max_entries: u32) -> u64 {
        INDEX_HEADER_SIZE + u64::from(slots) * SLOT_SIZE + u64::from(max_entries) * ENTRY_SIZE
    }

    /// Opens or creates (preallocated) an index file.
    pub fn open(fs: &dyn Fs, path: PathBuf, slots: u32, max_entries: u32) -> StoreResult<Self> {
        let size = Self::file_size(slots, max_entries);
        let file = fs
            .open(&path, true)
            .map_err(|e| StoreError::io("open index", &path, e))?;
        let len = file.len().map_err(|e| StoreError::io("stat index", &path, e))?;
        if len < size {
            file.preallocate(size)
                .map_err(|source| StoreError::CreateMappedFileFailed {
                    path: path.clone(),
                    size_bytes: size,
                    source,
                })?;
        }
        let mut raw = [0u8; 40];
        file.read_at(0, &mut raw)
            .map_err(|e| StoreError::io("read index header", &path, e))?;
        let mut header = Header::decode(&raw);
        if header.index_count < 1 || header.index_count as u32 > max_entries || header.hash_slot_count < 0 {
            if header != Header::default() {
                tracing::warn!(file = %path.display(), count = header.index_count, "index header invalid; entries reset");
            }
            header = Header {
                index_count: 1,
                ..Header::default()
            };
        }
        Ok(IndexFile {
            path,
            file,
            slots,
            max_entries,
            header,
        })
    }

    /// Whether no more entries fit.
    pub fn is_full(&self) -> bool {
        self.header.index_count as u32 >= self.max_entries
    }
    /// Highest CommitLog offset indexed.
    pub fn end_phy_offset(&self) -> i64 {
        self.header.end_phy_offset
    }
    /// Newest store time indexed.
    pub fn end_timestamp(&self) -> i64 {
        self.header.end_timestamp
    }
    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn slot_pos(&self, hash: i32) -> u64 {
        INDEX_HEADER_SIZE + (hash as u64 % u64::from(self.slots)) * SLOT_SIZE
    }
    fn entry_pos(&self, n: i32) -> u64 {
        INDEX_HEADER_SIZE + u64::from(self.slots) * SLOT_SIZE + n as u64 * ENTRY_SIZE
    }
    fn read_i32(&self, pos: u64) -> StoreResult<i32> {
        let mut b = [0u8; 4];
        self.file
            .read_at(pos, &mut b)
            .map_err(|e| StoreError::io("read index", &self.path, e))?;
        Ok(i32::from_be_bytes(b))
    }

    /// Adds the key whose [`index_key_hash`] is `hash` for the record at `phy_offset`;
    /// `Ok(false)` when the file is full. Its four accesses go through one [`crate::fs::Region`].
    fn put_key_hash(&mut self, hash: i32, phy_offset: i64, store_timestamp: i64) -> StoreResult<bool> {
        if self.is_full() {
            return Ok(false);
        }
        let slot_pos = self.slot_pos(hash);
        let n = self.header.index_count;
        let entry_pos = self.entry_pos(n);
        let header = &mut self.header;
        self.file
            .with_region(&mut |region| {
                let mut b = [0u8; 4];
                region.read_at(slot_pos, &mut b)?;
                let mut prev = i32::from_be_bytes(b);
                if prev <= 0 || prev >= n {
                    prev = 0;
                }
                if n <= 1 {
                    header.begin_timestamp = store_timestamp;
                    header.begin_phy_offset = phy_offset;
                }
                let diff_secs =
                    ((store_timestamp - header.begin_timestamp) / 1000).clamp(0, i64::from(i32::MAX)) as i32;
                let mut entry = [0u8; 20];
                entry[0..4].copy_from_slice(&hash.to_be_bytes());
                entry[4..12].copy_from_slice(&phy_offset.to_be_bytes());
                entry[12..16].copy_from_slice(&diff_secs.to_be_bytes());
                entry[16..20].copy_from_slice(&prev.to_be_bytes());
                region.write_at(entry_pos, &entry)?;
                if prev == 0 {
                    header.hash_slot_count = header.hash_slot_count.saturating_add(1);
                }
                region.write_at(slot_pos, &n.to_be_bytes())?;
                header.index_count = n + 1;
                header.end_phy_offset = phy_offset;
                header.end_timestamp = store_timestamp;
                region.write_at(0, &header.encode())
            })
            .map_err(|e| StoreError::io("write index", &self.path, e))?;
        Ok(true)
    }

    /// CommitLog offsets of entries for `key` stored within `[begin_ms, end_ms]`, newest first.
    pub fn query(&self, key: &str, max: usize, begin_ms: i64, end_ms: i64, out: &mut Vec<i64>) -> StoreResult<()> {
        let hash = index_key_hash(key);
        let count = self.header.index_count;
        let mut n = self.read_i32(self.slot_pos(hash))?;
        let mut steps = 0u32;
        while n > 0 && n < count && out.len() < max && steps < self.max_entries {
            steps += 1;
            let mut e = [0u8; 20];
            self.file
                .read_at(self.entry_pos(n), &mut e)
                .map_err(|err| StoreError::io("read index", &self.path, err))?;
            let get4 = |i: usize| {
                e.get(i..i + 4)
                    .and_then(|s| s.try_into().ok())
                    .map_or(0, i32::from_be_bytes)
            };
            let phy = e
                .get(4..12)
                .and_then(|s| s.try_into().ok())
                .map_or(0, i64::from_be_bytes);
            let (h, diff, prev) = (get4(0), get4(12), get4(16));
            let time = self.header.begin_timestamp + i64::from(diff) * 1000;
            if h == hash && time >= begin_ms && time <= end_ms {
                out.push(phy);
            }
            if prev >= n || time < begin_ms {
                break;
            }
            n = prev;
        }
        Ok(())
    }

    /// Syncs the file.
    pub fn flush(&self) -> StoreResult<()> {
        let size = Self::file_size(self.slots, self.max_entries);
        self.file
            .sync_range(0, size)
            .map_err(|e| StoreError::io("sync index", &self.path, e))
    }
}

/// All index files of a store: the newest takes writes.
#[derive(Debug)]
pub struct IndexService {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    slots: u32,
    max_entries: u32,
    files: Mutex<Vec<IndexFile>>,
}

impl IndexService {
    /// Loads the index files in `dir`.
    pub fn load(fs: Arc<dyn Fs>, dir: PathBuf, slots: u32, max_entries: u32) -> StoreResult<Self> {
        fs.create_dir_all(&dir)
            .map_err(|e| StoreError::io("create dir", &dir, e))?;
        let mut files = Vec::new();
        for name in fs.list_dir(&dir).map_err(|e| StoreError::io("list", &dir, e))? {
            if name.len() == 17 && name.bytes().all(|b| b.is_ascii_digit()) {
                files.push(IndexFile::open(fs.as_ref(), dir.join(name), slots, max_entries)?);
            }
        }
        Ok(IndexService {
            fs,
            dir,
            slots,
            max_entries,
            files: Mutex::new(files),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<IndexFile>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// CommitLog offset of the newest record with indexed keys (`None` when no file holds an
    /// entry). Keys are added in CommitLog order, so every record below it was indexed.
    pub fn end_phy_offset(&self) -> Option<i64> {
        self.lock()
            .iter()
            .filter(|f| f.header.index_count > 1)
            .map(IndexFile::end_phy_offset)
            .max()
    }

    /// Indexes `topic#key` for every non-empty key (hashed from its parts: dispatch calls this
    /// for every message, and builds no string for it).
    pub fn put_keys<'k>(
        &self,
        topic: &str,
        keys: impl IntoIterator<Item = &'k str>,
        phy_offset: i64,
        store_timestamp: i64,
    ) -> StoreResult<()> {
        let mut files = self.lock();
        let prefix = topic_prefix_hash(topic);
        for key in keys.into_iter().filter(|k| !k.is_empty()) {
            let hash = index_key_hash_of(prefix, key);
            loop {
                let needs_new = files.last().is_none_or(|f| f.is_full());
                if needs_new {
                    let mut ts = store_timestamp;
                    let mut name = timestamp_file_name(ts);
                    while files
                        .iter()
                        .any(|f| f.path().file_name().and_then(|n| n.to_str()) >= Some(name.as_str()))
                    {
                        ts += 1;
                        name = timestamp_file_name(ts);
                    }
                    if let Some(full_file) = files.last() {
                        full_file.flush()?;
                    }
                    let f = IndexFile::open(self.fs.as_ref(), self.dir.join(name), self.slots, self.max_entries)?;
                    files.push(f);
                }
                let Some(file) = files.last_mut() else { break };
                if file.put_key_hash(hash, phy_offset, store_timestamp)? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// CommitLog offsets for `topic#key` within `[begin_ms, end_ms]`, newest first, deduplicated.
    pub fn query(&self, topic: &str, key: &str, max: usize, begin_ms: i64, end_ms: i64) -> StoreResult<Vec<i64>> {
        let files = self.lock();
        let full = build_key(topic, key);
        let mut out = Vec::new();
        for f in files.iter().rev() {
            if out.len() >= max {
                break;
            }
            if f.header.index_count > 1 && f.header.end_timestamp < begin_ms {
                continue;
            }
            f.query(&full, max, begin_ms, end_ms, &mut out)?;
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|o| seen.insert(*o));
        Ok(out)
    }

    /// Syncs the newest file.
    pub fn flush(&self) -> StoreResult<()> {
        match self.lock().last() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }

    /// Deletes files whose every entry is below `min_phy` (never the newest).
    pub fn delete_below(&self, min_phy: i64) -> StoreResult<usize> {
        let mut files = self.lock();
        let mut deleted = 0;
        while files.len() > 1 && files.first().is_some_and(|f| f.end_phy_offset() < min_phy) {
            let f = files.remove(0);
            self.fs
                .remove_file(f.path())
                .map_err(|e| StoreError::io("remove index", f.path(), e))?;
            deleted += 1;
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::sim::SimFs;

    // Goal: Java hashing and file names match RocketMQ. Method: known values.
    #[test]
    fn java_hash_and_file_names_match_java() {
        assert_eq!(java_hash("hello"), 99_162_322);
        assert_eq!(java_hash(""), 0);
        assert_eq!(index_key_hash("polygenelubricants"), 0, "MIN_VALUE maps to 0");
        assert_eq!(timestamp_file_name(0), "19700101000000000");
        assert_eq!(timestamp_file_name(1_700_000_000_123), "20231114221320123");
    }

    // Goal: a key indexed from its parts (topic, key) is found by the query, which hashes the
    // whole `topic#key`, for ASCII and non-ASCII text alike; empty keys are skipped. Method:
    // put three keys (one empty) under a non-ASCII topic, query each.
    #[test]
    fn keys_hashed_from_parts_are_found_by_whole_key() {
        let fs: Arc<dyn Fs> = Arc::new(SimFs::new());
        let svc = IndexService::load(Arc::clone(&fs), PathBuf::from("/s/index"), 64, 64).unwrap();
        svc.put_keys("Thème", ["clé", "", "K1#x"], 4200, 1_000_000).unwrap();
        assert_eq!(svc.query("Thème", "clé", 10, 0, i64::MAX).unwrap(), vec![4200]);
        assert_eq!(svc.query("Thème", "K1#x", 10, 0, i64::MAX).unwrap(), vec![4200]);
        assert!(svc.query("Theme", "clé", 10, 0, i64::MAX).unwrap().is_empty());
        assert_eq!(
            index_key_hash_of(topic_prefix_hash("Thème"), "clé"),
            index_key_hash("Thème#clé")
        );
    }

    // Goal: keys are found within the time range, newest first, across file roll-over.
    // Method: tiny index files (4 slots, 5 entries) so chains collide and files roll.
    #[test]
    fn keys_are_found_by_time_range_across_files() {
        let fs: Arc<dyn Fs> = Arc::new(SimFs::new());
        let svc = IndexService::load(Arc::clone(&fs), PathBuf::from("/s/index"), 4, 5).unwrap();
        for i in 0..12i64 {
            let key = if i % 2 == 0 { "even" } else { "odd" };
            svc.put_keys("T", [key, "all"], i * 100, 1_000_000 + i * 1000).unwrap();
        }
        let all = svc.query("T", "all", 100, 0, i64::MAX).unwrap();
        assert_eq!(all.len(), 12);
        let even = svc.query("T", "even", 100, 0, i64::MAX).unwrap();
        assert_eq!(even.iter().copied().collect::<std::collections::BTreeSet<_>>().len(), 6);
        assert!(even.iter().all(|o| (o / 100) % 2 == 0));
        let ranged = svc.query("T", "all", 100, 1_003_000, 1_005_000).unwrap();
        assert_eq!(ranged.len(), 3);
        assert_eq!(svc.query("T", "all", 2, 0, i64::MAX).unwrap().len(), 2);
        assert!(svc.query("U", "all", 10, 0, i64::MAX).unwrap().is_empty());
        drop(svc);
        let svc = IndexService::load(fs, PathBuf::from("/s/index"), 4, 5).unwrap();
        assert_eq!(svc.query("T", "all", 100, 0, i64::MAX).unwrap().len(), 12, "reloaded");
    }
}
