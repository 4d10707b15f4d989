//! `StoreCheckpoint`: the 4 KiB `checkpoint` file (`store/.../StoreCheckpoint.java`).
//!
//! Layout (big-endian): i64 @0 physicMsgTimestamp, i64 @8 logicsMsgTimestamp, i64 @16
//! indexMsgTimestamp, i64 @24 masterFlushedOffset, i64 @32 confirmPhyOffset (RocketMQ 5.x), then
//! FerroMQ's own fields, which RocketMQ ignores: i64 @40 dispatchedPhyOffset (ConsumeQueue and
//! IndexFile are durable for every record below it), i64 @48 physicFlushedOffset, u32 @56 CRC-32
//! of bytes 0..56, u32 @60 magic `FMQC`.
//!
//! Invariants:
//! - the checkpoint is written in place and synced; a torn write is detected by the CRC, and a
//!   checkpoint that fails it is not trusted (recovery then rebuilds from the oldest segment);
//! - `dispatchedPhyOffset` is only advanced after the ConsumeQueue and IndexFile writes below it
//!   were synced.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{StoreError, StoreResult};
use crate::fs::{Fs, StoreFile};

/// Size of the checkpoint file.
pub const CHECKPOINT_FILE_SIZE: u64 = 4096;
const MAGIC: u32 = 0x464D_5143;

/// Decoded checkpoint values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckpointData {
    /// Store time of the last flushed CommitLog record.
    pub physic_msg_timestamp: i64,
    /// Store time of the last flushed ConsumeQueue entry.
    pub logics_msg_timestamp: i64,
    /// Store time of the last flushed IndexFile entry.
    pub index_msg_timestamp: i64,
    /// RocketMQ 5.x master flushed offset (kept as read).
    pub master_flushed_offset: i64,
    /// RocketMQ 5.x confirm offset (kept as read).
    pub confirm_phy_offset: i64,
    /// FerroMQ: CQ and index are durable below this CommitLog offset.
    pub dispatched_phy_offset: i64,
    /// FerroMQ: CommitLog flushed offset.
    pub physic_flushed_offset: i64,
}

/// What was found in the checkpoint file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointState {
    /// Written by FerroMQ and intact.
    Valid(CheckpointData),
    /// Written by another RocketMQ broker: timestamps only.
    Foreign(CheckpointData),
    /// Missing, short or failing its CRC.
    Invalid,
}

impl CheckpointData {
    /// `min(physic, logics) - 3 s` (RocketMQ `getMinTimestamp`), with the index when asked.
    pub fn min_timestamp(&self, with_index: bool) -> i64 {
        let mut min = self.physic_msg_timestamp.min(self.logics_msg_timestamp);
        if with_index {
            min = min.min(self.index_msg_timestamp);
        }
        (min - 3000).max(0)
    }

    fn encode(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        let fields = [
            self.physic_msg_timestamp,
            self.logics_msg_timestamp,
            self.index_msg_timestamp,
            self.master_flushed_offset,
            self.confirm_phy_offset,
            self.dispatched_phy_offset,
            self.physic_flushed_offset,
        ];
        for (chunk, v) in b.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&v.to_be_bytes());
        }
        let crc = crc32fast::hash(b.get(..56).unwrap_or_default());
        b[56..60].copy_from_slice(&crc.to_be_bytes());
        b[60..64].copy_from_slice(&MAGIC.to_be_bytes());
        b
    }

    /// Decodes the first 64 bytes of a checkpoint file.
    pub fn decode(b: &[u8]) -> CheckpointState {
        let Some(b) = b.get(..64) else {
            return CheckpointState::Invalid;
        };
        let i64_at = |i: usize| {
            b.get(i..i + 8)
                .and_then(|s| s.try_into().ok())
                .map_or(0, i64::from_be_bytes)
        };
        let u32_at = |i: usize| {
            b.get(i..i + 4)
                .and_then(|s| s.try_into().ok())
                .map_or(0, u32::from_be_bytes)
        };
        let data = CheckpointData {
            physic_msg_timestamp: i64_at(0),
            logics_msg_timestamp: i64_at(8),
            index_msg_timestamp: i64_at(16),
            master_flushed_offset: i64_at(24),
            confirm_phy_offset: i64_at(32),
            dispatched_phy_offset: i64_at(40),
            physic_flushed_offset: i64_at(48),
        };
        if u32_at(60) != MAGIC {
            if b.get(40..64).is_some_and(|rest| rest.iter().all(|x| *x == 0)) && data.physic_msg_timestamp > 0 {
                return CheckpointState::Foreign(data);
            }
            return CheckpointState::Invalid;
        }
        if u32_at(56) != crc32fast::hash(b.get(..56).unwrap_or_default()) {
            return CheckpointState::Invalid;
        }
        CheckpointState::Valid(data)
    }
}

/// The checkpoint file.
#[derive(Debug)]
pub struct StoreCheckpoint {
    path: PathBuf,
    file: Arc<dyn StoreFile>,
    loaded: CheckpointState,
}

impl StoreCheckpoint {
    /// Opens (creating) the checkpoint file and reads what it holds.
    pub fn open(fs: &dyn Fs, path: &Path) -> StoreResult<Self> {
        let existed = fs.exists(path);
        let file = fs
            .open(path, true)
            .map_err(|e| StoreError::io("open checkpoint", path, e))?;
        let mut buf = [0u8; 64];
        let loaded = if existed && file.read_at(0, &mut buf).is_ok() {
            CheckpointData::decode(&buf)
        } else {
            CheckpointState::Invalid
        };
        file.preallocate(CHECKPOINT_FILE_SIZE)
            .map_err(|e| StoreError::io("preallocate checkpoint", path, e))?;
        Ok(StoreCheckpoint {
            path: path.to_path_buf(),
            file,
            loaded,
        })
    }

    /// What the file held when opened.
    pub fn loaded(&self) -> CheckpointState {
        self.loaded
    }

    /// Writes and syncs `data`.
    pub fn write(&self, data: &CheckpointData) -> StoreResult<()> {
        let bytes = data.encode();
        self.file
            .write_at(0, &bytes)
            .map_err(|e| StoreError::io("write checkpoint", &self.path, e))?;
        self.file
            .sync_range(0, 64)
            .map_err(|e| StoreError::io("sync checkpoint", &self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::sim::SimFs;

    // Goal: a written checkpoint reads back; a torn one is detected; a RocketMQ one is foreign.
    // Method: write through SimFs, tamper bytes, reopen.
    #[test]
    fn checkpoint_round_trips_and_torn_checkpoint_is_invalid() {
        let fs = SimFs::new();
        fs.create_dir_all(Path::new("/s")).unwrap();
        let p = Path::new("/s/checkpoint");
        let data = CheckpointData {
            physic_msg_timestamp: 10_000,
            logics_msg_timestamp: 9_000,
            dispatched_phy_offset: 777,
            ..Default::default()
        };
        StoreCheckpoint::open(&fs, p).unwrap().write(&data).unwrap();
        assert_eq!(
            StoreCheckpoint::open(&fs, p).unwrap().loaded(),
            CheckpointState::Valid(data)
        );
        assert_eq!(data.min_timestamp(false), 6_000);
        fs.tamper(p, |b| b[41] ^= 0xFF);
        assert_eq!(
            StoreCheckpoint::open(&fs, p).unwrap().loaded(),
            CheckpointState::Invalid
        );
        fs.tamper(p, |b| {
            b.iter_mut().for_each(|x| *x = 0);
            b[0..8].copy_from_slice(&5i64.to_be_bytes());
        });
        assert!(matches!(
            StoreCheckpoint::open(&fs, p).unwrap().loaded(),
            CheckpointState::Foreign(_)
        ));
    }
}
