//! Errors of the message store.
//!
//! Operating errors (ENOSPC, EIO, a corrupt tail) are values of [`StoreError`]; programmer errors are
//! assertions. The broker maps these to wire response codes in one place.

use std::io;
use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O call on a store file failed.
    #[error("I/O error on {path}: {op}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// What the store was doing (e.g. "preallocate", "sync").
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Creating (preallocating) a mapped file failed; RocketMQ's `CREATE_MAPPED_FILE_FAILED`.
    #[error("cannot create mapped file {path} of {size_bytes} bytes: {source}")]
    CreateMappedFileFailed {
        /// The segment file.
        path: PathBuf,
        /// Its intended size.
        size_bytes: u64,
        /// The OS error (often ENOSPC).
        #[source]
        source: io::Error,
    },
    /// Disk usage is above the hard watermark; puts are refused, reads keep working.
    #[error("disk full: {used_ratio_percent}% used on the store path, limit {limit_percent}%")]
    DiskFull {
        /// Current usage, percent.
        used_ratio_percent: u32,
        /// The hard watermark, percent.
        limit_percent: u32,
    },
    /// The message is larger than `maxMessageSize` (or a record exceeds a segment).
    #[error("message of {size} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// Encoded or body size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A message could not be encoded as a record (bad topic or properties length, ...).
    #[error("cannot encode message: {0}")]
    Encode(String),
    /// A stored record failed validation when read back.
    #[error("corrupt record at phy offset {phy_offset}: {reason}")]
    CorruptRecord {
        /// Physical offset of the record.
        phy_offset: i64,
        /// What failed.
        reason: String,
    },
    /// A physical offset outside the stored range was asked for.
    #[error("phy offset {phy_offset} is outside the stored range [{min}, {max})")]
    OffsetOutOfRange {
        /// Requested offset.
        phy_offset: i64,
        /// Minimum stored offset.
        min: i64,
        /// Maximum (exclusive) offset.
        max: i64,
    },
    /// A configuration value is invalid; names the RocketMQ key.
    #[error("invalid config {key}: {reason}")]
    InvalidConfig {
        /// RocketMQ key name, e.g. `mappedFileSizeCommitLog`.
        key: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A topic name that cannot name a ConsumeQueue directory.
    #[error("invalid topic {topic:?}: {reason}")]
    InvalidTopic {
        /// The name given.
        topic: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The store is shut down or in an unusable state after a fatal write error.
    #[error("store is not available: {0}")]
    NotAvailable(&'static str),
}

impl StoreError {
    /// Builds an [`StoreError::Io`] from an operation name and path.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            op,
            source,
        }
    }
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;
