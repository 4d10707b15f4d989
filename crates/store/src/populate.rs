//! [`Populate`]: keeps the CommitLog's mapping populated (pages present and writable) ahead of
//! the commit position, on a thread of its own, so that under ASYNC_FLUSH a commit is a copy
//! into the mapping instead of a `pwrite` (`populateAheadCommitLog`, FerroMQ).
//!
//! Why: a commit's `pwrite` into fresh page-cache pages costs the committing thread (the
//! broker's connection thread, which publishes at the end of each batch of sends) the kernel's
//! page-cache write path for every page: 15-17 µs per 37 KB batch on this project's VM, against
//! ~5 µs for a copy into pages populated beforehand (docs/benchmarks.md, eleventh session). The
//! populating (`MADV_POPULATE_WRITE`, ~10-14 µs per 37 KB) moves to this thread, off the
//! committing one, which on a 2-core machine is the broker's bottleneck.
//!
//! Protocol: after each commit the segment calls [`Populate::committed`] with the CommitLog
//! offset committed to; when that comes within half a window of what is populated, the thread
//! is woken ([`Wakeup`]: no syscall while it is awake) and populates the last segment from the
//! commit position to one window past it, in [`STEP`] pieces, publishing its progress after
//! each. A commit that outruns it is still correct (its copy faults the pages in itself), only
//! slower. The first populate error (a kernel without `MADV_POPULATE_WRITE`, `EINVAL`) is
//! logged and ends populating; commits then fault their pages in as plain mapped writes.
//!
//! Invariant: populating never changes a byte of a file (it only faults pages in), so a crash
//! at any point leaves exactly what the commits wrote; recovery needs nothing new.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::mapped_file::MappedFile;
use crate::wakeup::Wakeup;

/// Bytes per `MADV_POPULATE_WRITE` call: small enough that progress is published often.
pub(crate) const STEP: u64 = 1 << 20;

/// Page size the populated offsets are aligned to.
const PAGE: u64 = 4096;

/// How long the thread sleeps without a commit before it checks for shutdown again.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Shared between the segments (which report commits) and the populate thread.
#[derive(Debug)]
pub struct Populate {
    /// Bytes to keep populated past the commit position.
    window: u64,
    /// CommitLog offset up to which the last segment is populated (`u64::MAX` once populating
    /// failed: no more wake-ups).
    populated_to: AtomicU64,
    wakeup: Wakeup,
    stop: AtomicBool,
}

impl Populate {
    /// A populate state keeping `window` bytes (> 0) ahead of the commits.
    pub(crate) fn new(window: u64) -> Self {
        Populate {
            window,
            populated_to: AtomicU64::new(0),
            wakeup: Wakeup::default(),
            stop: AtomicBool::new(false),
        }
    }

    /// A commit reached CommitLog offset `end`: wakes the thread when less than half a window
    /// is populated past it.
    pub(crate) fn committed(&self, end: u64) {
        if end.saturating_add(self.window / 2) > self.populated_to.load(Ordering::Acquire) {
            self.wakeup.notify();
        }
    }

    /// CommitLog offset up to which the last segment is populated (tests, diagnostics).
    pub fn populated_to(&self) -> u64 {
        self.populated_to.load(Ordering::Acquire)
    }

    /// Asks the thread to stop (it returns from [`run`] promptly).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wakeup.notify_stop();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The populate thread's loop over the segments of one queue (its last one takes the commits).
pub(crate) fn run(populate: &Populate, files: &RwLock<Vec<Arc<MappedFile>>>) {
    loop {
        populate.wakeup.wait(IDLE_WAIT, || populate.stopped());
        if populate.stopped() {
            return;
        }
        let last = files.read().unwrap_or_else(|e| e.into_inner()).last().cloned();
        if let Some(last) = last {
            if !ahead_of_commits(populate, &last) {
                return;
            }
        }
    }
}

/// Populates `segment` from its commit position (or what is populated already) to one window
/// past it; false when populating failed and should stop for good.
fn ahead_of_commits(populate: &Populate, segment: &MappedFile) -> bool {
    let start = segment.start_offset();
    let committed = segment.read_position();
    let end = committed.saturating_add(populate.window).min(segment.file_size());
    let done = populate.populated_to.load(Ordering::Acquire).saturating_sub(start);
    let mut from = done.max(committed);
    from -= from % PAGE;
    while from < end && !populate.stopped() {
        let len = (end - from).min(STEP);
        if let Err(error) = segment.file().populate_write(from, len) {
            tracing::warn!(
                file = %segment.path().display(),
                %error,
                "populating the CommitLog ahead of its commits failed; commits fault their pages in from now on"
            );
            populate.populated_to.store(u64::MAX, Ordering::Release);
            return false;
        }
        from += len;
        populate.populated_to.store(start + from, Ordering::Release);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::real::RealFs;
    use crate::fs::Fs;
    use crate::mapped_file::SegmentOptions;

    // Goal: a commit wakes the thread only when it comes within half a window of the populated
    // offset, and the thread populates from the commit position to one window past it (never
    // past the segment end), without changing a byte. Method: a real 8 MiB segment with bytes
    // written, the window 2 MiB; drive `ahead_of_commits` directly and read the file back.
    #[test]
    fn populates_one_window_past_the_commits_without_changing_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs::new();
        let size = 8 << 20;
        let options = SegmentOptions::default();
        let segment = MappedFile::create(&fs, dir.path(), size, size, options).unwrap();
        let populate = Populate::new(2 << 20);
        segment.append(&[0xAB; 5000]);
        segment.commit().unwrap();
        assert!(ahead_of_commits(&populate, &segment));
        assert_eq!(populate.populated_to(), size + 5000 + (2 << 20));
        // Within the window: no wake-up pending afterwards.
        populate.committed(size + 5000);
        assert!(!populate.wakeup.wait(Duration::ZERO, || false));
        // Past half the window: woken.
        populate.committed(size + (1 << 20) + 5000 + 1);
        assert!(populate.wakeup.wait(Duration::ZERO, || false));
        // Near the end the window stops at the segment end.
        segment.append(&vec![0xCD; (size - 10_000) as usize - 5000]);
        segment.commit().unwrap();
        assert!(ahead_of_commits(&populate, &segment));
        assert_eq!(populate.populated_to(), 2 * size);
        let file = fs
            .open(&dir.path().join(crate::mapped_file::offset_to_file_name(size)), false)
            .unwrap();
        let mut back = vec![0u8; size as usize];
        file.read_at(0, &mut back).unwrap();
        assert!(back[..5000].iter().all(|b| *b == 0xAB));
        assert!(back[5000..(size - 10_000) as usize].iter().all(|b| *b == 0xCD));
        assert!(back[(size - 10_000) as usize..].iter().all(|b| *b == 0));
    }

    // Goal: end to end through a queue, commits copy into the mapping and wake the thread,
    // which keeps one window populated past them, and what was committed is what a reopened
    // queue reads. Method: a real 4 MiB-segment queue with a 1 MiB window; commit 3 x 100 KB,
    // wait (deadline, no fixed sleep) until the populated offset is one window past the commits,
    // reopen, compare.
    #[test]
    fn a_queue_populates_ahead_of_its_commits_and_keeps_the_bytes() {
        use crate::mapped_file::MappedFileQueue;
        let dir = tempfile::tempdir().unwrap();
        let size = 4 << 20;
        let options = SegmentOptions {
            prewrite: false,
            populate_ahead: 1 << 20,
        };
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        {
            let queue = MappedFileQueue::load(Arc::new(RealFs::new()), dir.path().into(), size, options).unwrap();
            let segment = queue.last_or_create(0).unwrap();
            for chunk in data.chunks(100_000) {
                segment.append(chunk);
                segment.commit().unwrap();
            }
            let mut early = vec![0u8; 16];
            segment.read_raw(0, &mut early).unwrap();
            assert_eq!(early, data[..16], "before reopen");
            let populate = Arc::clone(queue.populate().unwrap());
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while populate.populated_to() < 300_000 + (1 << 20) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "not populated: {}",
                    populate.populated_to()
                );
                std::thread::yield_now();
            }
            queue.shutdown();
        }
        let queue = MappedFileQueue::load(Arc::new(RealFs::new()), dir.path().into(), size, options).unwrap();
        let mut back = vec![0u8; data.len()];
        queue.first().unwrap().read_raw(0, &mut back).unwrap();
        assert!(back == data, "after reopen: {:?}", &back[..16]);
    }

    // Goal: the thread stops promptly when asked, even while it sleeps. Method: run it on an
    // empty queue, stop it, join.
    #[test]
    fn stops_when_asked() {
        let populate = Arc::new(Populate::new(1 << 20));
        let files = Arc::new(RwLock::new(Vec::new()));
        let (p, f) = (Arc::clone(&populate), Arc::clone(&files));
        let thread = std::thread::spawn(move || run(&p, &f));
        populate.committed(1);
        populate.stop();
        thread.join().unwrap();
    }
}
