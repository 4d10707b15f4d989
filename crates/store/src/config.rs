//! `MessageStoreConfig`: the store's settings under RocketMQ's key names and defaults
//! (`store/.../config/MessageStoreConfig.java`).
//!
//! Field names serialize as RocketMQ's camelCase keys, so a `broker.conf` or JSON/TOML file
//! written for RocketMQ sets the same values here. [`MessageStoreConfig::validate`] names the bad key.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};

/// How appends become durable (`flushDiskType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FlushDiskType {
    /// Background flush every `flushIntervalCommitLog` ms (RocketMQ default).
    #[default]
    #[serde(rename = "ASYNC_FLUSH")]
    AsyncFlush,
    /// An append completes after the group-commit fsync covering it.
    #[serde(rename = "SYNC_FLUSH")]
    SyncFlush,
}

/// Store configuration (RocketMQ keys, RocketMQ defaults unless noted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MessageStoreConfig {
    /// Root directory of the store (`~/store`).
    pub store_path_root_dir: PathBuf,
    /// CommitLog directory; empty means `<root>/commitlog`.
    pub store_path_commit_log: PathBuf,
    /// CommitLog segment size (1 GiB).
    pub mapped_file_size_commit_log: u64,
    /// ConsumeQueue segment size (300,000 x 20 B); must be a multiple of 20.
    pub mapped_file_size_consume_queue: u64,
    /// `ASYNC_FLUSH` or `SYNC_FLUSH`.
    pub flush_disk_type: FlushDiskType,
    /// Async flush period, ms (500).
    pub flush_interval_commit_log: u64,
    /// Minimum dirty pages before an async flush (4).
    pub flush_commit_log_least_pages: u64,
    /// Flush everything at least this often, ms (10,000).
    pub flush_commit_log_thorough_interval: u64,
    /// ConsumeQueue flush period, ms (1,000).
    pub flush_interval_consume_queue: u64,
    /// SYNC_FLUSH wait before FLUSH_DISK_TIMEOUT, ms (5,000).
    pub sync_flush_timeout: u64,
    /// Hours a CommitLog segment is kept after its last write (72).
    pub file_reserved_time: u64,
    /// Hours (two digits, `;`-separated) when expired files are deleted ("04").
    pub delete_when: String,
    /// Disk usage percent above which expired-or-not files are deleted (75).
    pub disk_max_used_space_ratio: u32,
    /// Disk usage ratio above which puts are refused (0.90, RocketMQ system property).
    pub disk_space_warning_level_ratio: f64,
    /// Retention check period, ms (10,000).
    pub clean_resource_interval: u64,
    /// Maximum message body size (4 MiB).
    pub max_message_size: usize,
    /// IndexFile hash slots (5,000,000).
    pub max_hash_slot_num: u32,
    /// IndexFile entries (20,000,000).
    pub max_index_num: u32,
    /// Build the IndexFile (true).
    pub message_index_enable: bool,
    /// Verify body CRC of every record scanned in recovery (true). FerroMQ recovery verifies
    /// CRCs whatever this says; the key is accepted so RocketMQ configs load.
    #[serde(rename = "checkCRCOnRecover")]
    pub check_crc_on_recover: bool,
    /// Append the whole-record `__CRC32#` property (RocketMQ 5.x option; default **true** here,
    /// false in RocketMQ) so recovery detects torn topic/properties bytes, not only torn bodies.
    #[serde(rename = "enabledAppendPropCRC")]
    pub enabled_append_prop_crc: bool,
    /// Zero-fill new CommitLog segments before use (false; forced on under SYNC_FLUSH).
    pub warm_maped_file_enable: bool,
    /// Delay levels 1..=18 ("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h").
    pub message_delay_level: String,
    /// Disk usage ratio above which files are deleted even if not expired (0.85).
    pub disk_space_clean_forcibly_ratio: f64,
    /// FerroMQ: maximum ConsumeQueue files kept open (mapped) at once (4096); idle queues hold none.
    pub max_open_consume_queue_files: usize,
    /// FerroMQ: under ASYNC_FLUSH (without `warmMapedFileEnable`), bytes of the CommitLog's
    /// mapping a background thread keeps populated (`MADV_POPULATE_WRITE`) past the commit
    /// position, so that commits copy into the mapping instead of a `pwrite` into fresh
    /// page-cache pages (4 MiB; 0 = off: `pwrite` commits). A multiple of 4096, at most 1 GiB.
    pub populate_ahead_commit_log: u64,
}

impl Default for MessageStoreConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        MessageStoreConfig {
            store_path_root_dir: home.join("store"),
            store_path_commit_log: PathBuf::new(),
            mapped_file_size_commit_log: 1024 * 1024 * 1024,
            mapped_file_size_consume_queue: 300_000 * 20,
            flush_disk_type: FlushDiskType::AsyncFlush,
            flush_interval_commit_log: 500,
            flush_commit_log_least_pages: 4,
            flush_commit_log_thorough_interval: 10_000,
            flush_interval_consume_queue: 1000,
            sync_flush_timeout: 5000,
            file_reserved_time: 72,
            delete_when: "04".to_string(),
            disk_max_used_space_ratio: 75,
            disk_space_warning_level_ratio: 0.90,
            clean_resource_interval: 10_000,
            max_message_size: 4 * 1024 * 1024,
            max_hash_slot_num: 5_000_000,
            max_index_num: 20_000_000,
            message_index_enable: true,
            check_crc_on_recover: true,
            warm_maped_file_enable: false,
            enabled_append_prop_crc: true,
            max_open_consume_queue_files: 4096,
            populate_ahead_commit_log: 4 << 20,
            message_delay_level: "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h".to_string(),
            disk_space_clean_forcibly_ratio: 0.85,
        }
    }
}

fn bad(key: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::InvalidConfig {
        key,
        reason: reason.into(),
    }
}

impl MessageStoreConfig {
    /// A config rooted at `root` with every other value at its default.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        MessageStoreConfig {
            store_path_root_dir: root.into(),
            ..Self::default()
        }
    }

    /// The CommitLog directory.
    pub fn commit_log_dir(&self) -> PathBuf {
        if self.store_path_commit_log.as_os_str().is_empty() {
            self.store_path_root_dir.join("commitlog")
        } else {
            self.store_path_commit_log.clone()
        }
    }

    /// Whether appends wait for the fsync (SYNC_FLUSH).
    pub fn is_sync_flush(&self) -> bool {
        self.flush_disk_type == FlushDiskType::SyncFlush
    }

    /// Hours of `deleteWhen` ("04;05" -> [4, 5]).
    pub fn delete_when_hours(&self) -> Vec<u32> {
        self.delete_when
            .split(';')
            .filter_map(|h| h.trim().parse().ok())
            .collect()
    }

    /// Delay of each level in ms (index 0 = level 1); `None` if a token is malformed.
    pub fn delay_levels_ms(&self) -> Option<Vec<i64>> {
        self.message_delay_level
            .split_whitespace()
            .map(|tok| {
                let unit = tok.chars().last()?;
                let n: i64 = tok.get(..tok.len() - 1)?.parse().ok()?;
                let ms = match unit {
                    's' => 1000,
                    'm' => 60_000,
                    'h' => 3_600_000,
                    'd' => 86_400_000,
                    _ => return None,
                };
                n.checked_mul(ms)
            })
            .collect()
    }

    /// Checks every value; the error names the first bad RocketMQ key.
    pub fn validate(&self) -> StoreResult<()> {
        if self.store_path_root_dir.as_os_str().is_empty() {
            return Err(bad("storePathRootDir", "must not be empty"));
        }
        let cl = self.mapped_file_size_commit_log;
        if !(4096..=(1 << 40)).contains(&cl) {
            return Err(bad("mappedFileSizeCommitLog", format!("{cl} is outside [4096, 2^40]")));
        }
        let cq = self.mapped_file_size_consume_queue;
        if cq == 0 || !cq.is_multiple_of(20) || cq > (1 << 32) {
            return Err(bad(
                "mappedFileSizeConsumeQueue",
                format!("{cq} must be a positive multiple of 20"),
            ));
        }
        if self.flush_interval_commit_log == 0 {
            return Err(bad("flushIntervalCommitLog", "must be > 0"));
        }
        let ahead = self.populate_ahead_commit_log;
        if !ahead.is_multiple_of(4096) || ahead > (1 << 30) {
            return Err(bad(
                "populateAheadCommitLog",
                format!("{ahead} must be a multiple of 4096 and at most 1 GiB (0 = off)"),
            ));
        }
        if self.flush_interval_consume_queue == 0 {
            return Err(bad("flushIntervalConsumeQueue", "must be > 0"));
        }
        if self.sync_flush_timeout == 0 {
            return Err(bad("syncFlushTimeout", "must be > 0"));
        }
        let hours = self.delete_when_hours();
        if hours.is_empty() || hours.iter().any(|h| *h > 23) {
            return Err(bad(
                "deleteWhen",
                format!("{:?} is not a ';'-separated list of hours 00-23", self.delete_when),
            ));
        }
        if !(10..=95).contains(&self.disk_max_used_space_ratio) {
            return Err(bad(
                "diskMaxUsedSpaceRatio",
                format!("{} is outside [10, 95]", self.disk_max_used_space_ratio),
            ));
        }
        if !(0.1..=0.99).contains(&self.disk_space_warning_level_ratio) {
            return Err(bad("diskSpaceWarningLevelRatio", "must be within [0.10, 0.99]"));
        }
        if self.max_message_size == 0 || self.max_message_size > 128 * 1024 * 1024 {
            return Err(bad(
                "maxMessageSize",
                format!("{} is outside [1, 128 MiB]", self.max_message_size),
            ));
        }
        if (self.max_message_size as u64).saturating_add(64 * 1024) > cl {
            return Err(bad("mappedFileSizeCommitLog", "must exceed maxMessageSize + 64 KiB"));
        }
        if self.max_hash_slot_num == 0 || self.max_hash_slot_num > 100_000_000 {
            return Err(bad(
                "maxHashSlotNum",
                format!("{} is outside [1, 1e8]", self.max_hash_slot_num),
            ));
        }
        if self.max_index_num < 2 || self.max_index_num > 200_000_000 {
            return Err(bad(
                "maxIndexNum",
                format!("{} is outside [2, 2e8]", self.max_index_num),
            ));
        }
        if self.delay_levels_ms().is_none_or(|l| l.is_empty()) {
            return Err(bad(
                "messageDelayLevel",
                format!("{:?} is not a list like \"1s 5m 2h\"", self.message_delay_level),
            ));
        }
        if !(0.1..=0.99).contains(&self.disk_space_clean_forcibly_ratio) {
            return Err(bad("diskSpaceCleanForciblyRatio", "must be within [0.10, 0.99]"));
        }
        if self.max_open_consume_queue_files == 0 {
            return Err(bad("maxOpenConsumeQueueFiles", "must be > 0"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: defaults are RocketMQ's and JSON uses RocketMQ key names. Method: serialize, inspect.
    #[test]
    fn defaults_match_rocketmq_and_keys_are_camel_case() {
        let c = MessageStoreConfig::with_root("/tmp/x");
        c.validate().unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["mappedFileSizeCommitLog"], 1_073_741_824u64);
        assert_eq!(v["mappedFileSizeConsumeQueue"], 6_000_000u64);
        assert_eq!(v["flushDiskType"], "ASYNC_FLUSH");
        assert_eq!(v["checkCRCOnRecover"], true);
        assert_eq!(v["deleteWhen"], "04");
        assert_eq!(v["maxMessageSize"], 4_194_304);
        let back: MessageStoreConfig =
            serde_json::from_str(r#"{"flushDiskType":"SYNC_FLUSH","storePathRootDir":"/s"}"#).unwrap();
        assert!(back.is_sync_flush());
        assert_eq!(back.commit_log_dir(), PathBuf::from("/s/commitlog"));
    }

    // Goal: validate names the offending key. Method: break one field at a time.
    #[test]
    fn validate_names_the_bad_key() {
        let mut c = MessageStoreConfig::with_root("/tmp/x");
        c.mapped_file_size_consume_queue = 30;
        assert!(matches!(
            c.validate(),
            Err(StoreError::InvalidConfig {
                key: "mappedFileSizeConsumeQueue",
                ..
            })
        ));
        for ahead in [4095, (1 << 30) + 4096] {
            let mut c = MessageStoreConfig::with_root("/tmp/x");
            c.populate_ahead_commit_log = ahead;
            assert!(matches!(
                c.validate(),
                Err(StoreError::InvalidConfig {
                    key: "populateAheadCommitLog",
                    ..
                })
            ));
        }
        let mut c = MessageStoreConfig::with_root("/tmp/x");
        c.delete_when = "25".into();
        assert!(matches!(
            c.validate(),
            Err(StoreError::InvalidConfig { key: "deleteWhen", .. })
        ));
    }
}
