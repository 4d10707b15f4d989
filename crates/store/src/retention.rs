//! Retention and disk watermarks (RocketMQ `CleanCommitLogService` / `CleanConsumeQueueService`).
//!
//! Every `cleanResourceInterval` ms:
//! - measure disk usage of the store path; above `diskSpaceWarningLevelRatio` (90 %) puts are
//!   refused with [`crate::StoreError::DiskFull`] while reads keep working; below it puts resume,
//!   without a restart;
//! - at a `deleteWhen` hour (UTC), or at once when usage passes `diskMaxUsedSpaceRatio` (75 %),
//!   delete CommitLog segments last written more than `fileReservedTime` hours ago; above
//!   `diskSpaceCleanForciblyRatio` (85 %) delete the oldest segments even if not expired;
//! - then delete ConsumeQueue and IndexFile files wholly below the new CommitLog minimum.
//!
//! Invariants: the newest segment and any segment not yet dispatched or flushed are never deleted.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{StoreError, StoreResult};
use crate::store::StoreInner;

/// At most this many segments are deleted per pass (RocketMQ `deleteFilesBatchMax`-like bound).
pub const MAX_DELETE_PER_PASS: usize = 10;

/// One retention pass.
pub(crate) fn run_once(inner: &StoreInner) -> StoreResult<()> {
    let cfg = &inner.config;
    let root = &cfg.store_path_root_dir;
    let usage = inner
        .fs
        .disk_usage(root)
        .map_err(|e| StoreError::io("statvfs", root, e))?;
    let used = f64::from(usage.used_percent()) / 100.0;
    let now = (inner.clock)();
    let hour = u32::try_from(now.div_euclid(3_600_000).rem_euclid(24)).unwrap_or(0);
    let is_time = cfg.delete_when_hours().contains(&hour);
    let over_max = used > f64::from(cfg.disk_max_used_space_ratio) / 100.0;
    let forcibly = used > cfg.disk_space_clean_forcibly_ratio;
    if is_time || over_max || forcibly {
        let reserved_ms = i64::try_from(cfg.file_reserved_time)
            .unwrap_or(i64::MAX / 3_600_000)
            .saturating_mul(3_600_000);
        let dispatched = inner.reput_offset.load(Ordering::Acquire);
        let flushed = inner.commit_log.flushed_offset();
        let mut budget = MAX_DELETE_PER_PASS;
        let fs = &inner.fs;
        let deleted = inner.commit_log.delete_head_while(|f| {
            let end = f.start_offset() + f.file_size();
            if budget == 0 || end > dispatched || end > flushed {
                return false;
            }
            let expired = fs
                .modified_ms(f.path())
                .is_ok_and(|m| m.saturating_add(reserved_ms) <= now);
            let delete = expired || forcibly;
            if delete {
                budget -= 1;
            }
            delete
        })?;
        if deleted > 0 {
            let min = inner.commit_log.min_offset() as i64;
            tracing::info!(
                deleted,
                min_phy_offset = min,
                used_percent = usage.used_percent(),
                "retention deleted segments"
            );
            inner.cq.delete_below(min)?;
            if let Some(index) = &inner.index {
                index.delete_below(min)?;
            }
        }
    }
    let usage = inner
        .fs
        .disk_usage(root)
        .map_err(|e| StoreError::io("statvfs", root, e))?;
    let full = f64::from(usage.used_percent()) / 100.0 >= cfg.disk_space_warning_level_ratio;
    let was = inner.disk_full.swap(full, Ordering::AcqRel);
    if full && !was {
        tracing::error!(
            used_percent = usage.used_percent(),
            "disk full: refusing puts until space is freed"
        );
    } else if was && !full {
        tracing::info!(
            used_percent = usage.used_percent(),
            "disk space available again: accepting puts"
        );
    }
    Ok(())
}

/// Starts the retention thread.
pub(crate) fn spawn(inner: Arc<StoreInner>) -> StoreResult<JoinHandle<()>> {
    let root = inner.config.store_path_root_dir.clone();
    std::thread::Builder::new()
        .name("ferromq-retention".into())
        .spawn(move || run(&inner))
        .map_err(|e| StoreError::io("spawn retention thread", root, e))
}

fn run(inner: &StoreInner) {
    let interval = Duration::from_millis(inner.config.clean_resource_interval.max(1));
    let mut last: Option<Instant> = None;
    loop {
        if last.is_none_or(|l| l.elapsed() >= interval) {
            last = Some(Instant::now());
            if let Err(e) = run_once(inner) {
                tracing::warn!(error = %e, "retention pass failed");
            }
        }
        let since = last.map_or(Duration::ZERO, |l| l.elapsed());
        // Shutdown notifies this thread's own condvar, so the wait needs no cap.
        let wait = interval.saturating_sub(since).max(Duration::from_millis(1));
        if inner.signals.wait_retention(wait) {
            return;
        }
    }
}
