//! [`WriteBuffer`]: the user-space append buffer of a CommitLog segment (RocketMQ's
//! `transientStorePoolEnable` idea).
//!
//! The appender copies its records into this buffer (a `memcpy` into warm heap memory) and a
//! *commit* writes the accumulated bytes with one `pwrite`
//! ([`crate::fs::StoreFile::write_unmapped`], which dirties only the blocks written) or, under
//! ASYNC_FLUSH with `populateAheadCommitLog`, one copy into a mapping populated ahead of it
//! (`crate::populate`); readers see the segment up to its committed end. Appending through an
//! unpopulated shared mapping was expensive both ways: under ASYNC_FLUSH every fresh page cost a
//! page fault whose read-ahead zero-fills a large folio (15.7 µs per 4 KiB page on this VM,
//! against 1.2 µs per 4 KiB for a 64 KiB `pwrite`: a quarter of the broker's CPU at 50k
//! sends/s); under SYNC_FLUSH the appender also write-faulted each page the previous `msync`
//! had write-protected, `msync` write-protected them again (TLB shootdowns), and a write fault
//! marks a whole large folio dirty, so each group commit wrote back far more than it appended.
//! A publish commits under ASYNC_FLUSH (once per put, or once per batch of a connection's
//! requests), the flush service once per group commit under SYNC_FLUSH.
//!
//! Invariants:
//! - the buffer holds exactly the segment bytes `[start, start + len)` that were appended and not
//!   yet committed; appends arrive at `start + len` (the appender is serialized by the put lock);
//! - commits are serialized (the commit lock is held across the `pwrite`), so bytes reach the
//!   file in order and the committed end only grows;
//! - a failed `pwrite` puts the bytes back: nothing appended is silently dropped.

use std::io;
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
struct State {
    /// Segment position of the first buffered byte (the committed end).
    start: u64,
    bytes: Vec<u8>,
    /// The buffer of the previous commit, kept for reuse (no allocation per commit).
    spare: Vec<u8>,
    /// The segment's end once its last bytes (the BLANK marker) are buffered: the commit that
    /// writes them reports this end, since the rest of a closed segment is never written.
    closing: Option<u64>,
}

/// Appended, not yet committed bytes of one segment.
#[derive(Debug, Default)]
pub struct WriteBuffer {
    state: Mutex<State>,
    commit: Mutex<()>,
    /// For a segment known to hold zeros past its committed end: commits are padded with zeros
    /// up to the next page boundary, capped at this segment end (see [`WriteBuffer::padded`]).
    pad_limit: Option<u64>,
}

/// Page size the padded commits round up to.
const PAGE: u64 = 4096;

impl WriteBuffer {
    /// An empty buffer whose next append lands at segment position `start`.
    pub fn new(start: u64) -> Self {
        WriteBuffer {
            state: Mutex::new(State {
                start,
                ..State::default()
            }),
            commit: Mutex::new(()),
            pad_limit: None,
        }
    }

    /// [`WriteBuffer::new`] for a segment of `segment_end` bytes whose unwritten part holds
    /// zeros on disk (pre-written): each commit also writes the zeros from its end to the next
    /// page boundary, so the write covers its last page whole and the kernel never reads that
    /// page from disk to complete it. The next commit overwrites those zeros.
    pub fn padded(start: u64, segment_end: u64) -> Self {
        WriteBuffer {
            pad_limit: Some(segment_end),
            ..WriteBuffer::new(start)
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Buffers `data`, which the caller appends at segment position `pos`; returns the number of
    /// bytes buffered now.
    pub fn push(&self, pos: u64, data: &[u8]) -> usize {
        let mut st = self.lock();
        assert_eq!(
            st.start + st.bytes.len() as u64,
            pos,
            "appends arrive at the end of the buffered bytes"
        );
        st.bytes.extend_from_slice(data);
        st.bytes.len()
    }

    /// Buffers the segment's last bytes (possibly none) at `pos`; the commit that writes them
    /// reports `segment_end` as the committed end.
    pub fn push_last(&self, pos: u64, data: &[u8], segment_end: u64) {
        self.push(pos, data);
        self.lock().closing = Some(segment_end);
    }

    /// Drops any buffered bytes; the next append lands at `start` (recovery truncation).
    pub fn reset(&self, start: u64) {
        let _commit = self.commit.lock().unwrap_or_else(|e| e.into_inner());
        let mut st = self.lock();
        st.start = start;
        st.bytes.clear();
        st.closing = None;
    }

    /// [`WriteBuffer::commit_then`] without a callback (tests).
    #[cfg(test)]
    pub fn commit(&self, write: impl FnOnce(u64, &[u8]) -> io::Result<()>) -> io::Result<Option<u64>> {
        self.commit_then(write, |_, _, _| {})
    }

    /// Writes the buffered bytes with `write(position, bytes)` and returns the new committed end,
    /// or `None` when nothing was buffered. Appends may continue meanwhile (into the other
    /// buffer). On an error the bytes stay buffered. After a successful write
    /// `committed(end, start, bytes)` runs with the bytes just written while the commit lock is
    /// still held: a concurrent commit that finds the buffer empty (because this one took its
    /// bytes) returns only after `committed` made them readable (and, for a publish, dispatched
    /// them from this memory).
    pub fn commit_then(
        &self,
        write: impl FnOnce(u64, &[u8]) -> io::Result<()>,
        committed: impl FnOnce(u64, u64, &[u8]),
    ) -> io::Result<Option<u64>> {
        let _commit = self.commit.lock().unwrap_or_else(|e| e.into_inner());
        let (start, mut taken, closing) = {
            let mut st = self.lock();
            if st.bytes.is_empty() && st.closing.is_none() {
                return Ok(None);
            }
            let spare = std::mem::take(&mut st.spare);
            let taken = std::mem::replace(&mut st.bytes, spare);
            let start = st.start;
            st.start += taken.len() as u64;
            (start, taken, st.closing.take())
        };
        let len = taken.len();
        let end = closing.unwrap_or(start + len as u64);
        let result = if len == 0 {
            Ok(())
        } else {
            let written_end = start + len as u64;
            let padded_end = self.pad_limit.map_or(written_end, |limit| {
                written_end.next_multiple_of(PAGE).min(limit).max(written_end)
            });
            taken.resize((padded_end - start) as usize, 0);
            let result = write(start, &taken);
            taken.truncate(len);
            result
        };
        let mut st = self.lock();
        if let Err(e) = result {
            // Put the bytes back in front of what was appended meanwhile.
            taken.extend_from_slice(&st.bytes);
            st.bytes = taken;
            st.start = start;
            if closing.is_some() {
                // Otherwise keep a close buffered during the failed write.
                st.closing = closing;
            }
            return Err(e);
        }
        drop(st);
        committed(end, start, &taken);
        taken.clear();
        let mut st = self.lock();
        if st.spare.capacity() < taken.capacity() {
            st.spare = taken;
        }
        Ok(Some(end))
    }

    /// Frees the memory of an empty buffer (a full, committed segment).
    pub fn release(&self) {
        let _commit = self.commit.lock().unwrap_or_else(|e| e.into_inner());
        let mut st = self.lock();
        if st.bytes.is_empty() {
            st.bytes = Vec::new();
            st.spare = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a commit writes exactly the bytes appended since the previous one, at their segment
    // position, and reports the new committed end. Method: push, commit into a Vec "file", repeat.
    #[test]
    fn commits_write_appended_bytes_in_order_at_their_positions() {
        let buf = WriteBuffer::new(100);
        let mut file = [0u8; 200];
        assert_eq!(buf.commit(|_, _| panic!("nothing to write")).unwrap(), None);
        assert_eq!(buf.push(100, &[1, 2, 3]), 3);
        assert_eq!(buf.push(103, &[4]), 4);
        let mut write = |pos: u64, data: &[u8]| {
            file[pos as usize..pos as usize + data.len()].copy_from_slice(data);
            Ok(())
        };
        assert_eq!(buf.commit(&mut write).unwrap(), Some(104));
        buf.push(104, &[5, 6]);
        assert_eq!(buf.commit(&mut write).unwrap(), Some(106));
        assert_eq!(&file[99..107], &[0, 1, 2, 3, 4, 5, 6, 0]);
    }

    /// Commits `buf`, recording every write it makes.
    // Goal: the commit callback sees exactly the bytes written, their position and the new end
    // (a publish dispatches from them). Method: two appends, one commit with a recording callback.
    #[test]
    fn commit_callback_gets_the_written_bytes_and_their_position() {
        let buf = WriteBuffer::new(10);
        buf.push(10, &[1, 2]);
        buf.push(12, &[3]);
        let mut seen = None;
        let end = buf
            .commit_then(
                |_, _| Ok(()),
                |end, start, bytes| seen = Some((end, start, bytes.to_vec())),
            )
            .unwrap();
        assert_eq!(end, Some(13));
        assert_eq!(seen, Some((13, 10, vec![1, 2, 3])));
    }

    // Goal: a padded buffer writes its commits up to the next page boundary (zeros after the
    // data, never past the segment end) while reporting the unpadded end and bytes. Method: one
    // commit inside a page, one that ends at the segment end.
    #[test]
    fn padded_commits_cover_their_last_page_whole() {
        let buf = WriteBuffer::padded(4090, 8200);
        buf.push(4090, &[1, 2, 3, 4, 5, 6, 7, 8]);
        let mut written = Vec::new();
        let mut seen = None;
        let end = buf
            .commit_then(
                |pos, data| {
                    written.push((pos, data.to_vec()));
                    Ok(())
                },
                |end, start, bytes| seen = Some((end, start, bytes.to_vec())),
            )
            .unwrap();
        assert_eq!(end, Some(4098));
        assert_eq!(seen, Some((4098, 4090, vec![1, 2, 3, 4, 5, 6, 7, 8])));
        let mut expected = vec![1, 2, 3, 4, 5, 6, 7, 8];
        expected.resize(8192 - 4090, 0);
        assert_eq!(written, vec![(4090, expected)]);
        buf.push(4098, &[9; 100]);
        buf.push_last(4198, &[], 8200);
        let (end, seen) = commit_recording(&buf);
        assert_eq!(end, Some(8200));
        let mut expected = vec![9; 100];
        expected.resize(8192 - 4098, 0);
        assert_eq!(seen, vec![(4098, expected)]);
        let small = WriteBuffer::padded(0, 2000);
        small.push(0, &[7; 10]);
        let (_, seen) = commit_recording(&small);
        let mut expected = vec![7; 10];
        expected.resize(2000, 0);
        assert_eq!(seen, vec![(0, expected)], "padded only up to the segment end");
    }

    fn commit_recording(buf: &WriteBuffer) -> (Option<u64>, Vec<(u64, Vec<u8>)>) {
        let mut seen = Vec::new();
        let end = buf
            .commit(|pos, data| {
                seen.push((pos, data.to_vec()));
                Ok(())
            })
            .unwrap();
        (end, seen)
    }

    // Goal: a failed write loses nothing: the bytes stay buffered ahead of later appends and the
    // next commit writes them all. Method: fail one commit, append more, commit again.
    #[test]
    fn failed_commit_keeps_the_bytes_for_the_next_one() {
        let buf = WriteBuffer::new(0);
        buf.push(0, &[1, 2]);
        let err = buf.commit(|_, _| Err(io::Error::other("EIO"))).unwrap_err();
        assert_eq!(err.to_string(), "EIO");
        buf.push(2, &[3]);
        let (end, seen) = commit_recording(&buf);
        assert_eq!(end, Some(3));
        assert_eq!(seen, vec![(0, vec![1, 2, 3])]);
    }

    // Goal: a segment closed (BLANK marker buffered) while a commit's write fails is still
    // reported closed by the next commit. Method: push_last from inside the failing write.
    #[test]
    fn close_buffered_during_a_failed_commit_survives_it() {
        let buf = WriteBuffer::new(0);
        buf.push(0, &[1; 4]);
        let err = buf.commit(|_, _| {
            buf.push_last(4, &[2; 2], 16);
            Err(io::Error::other("EIO"))
        });
        assert!(err.is_err());
        let (end, seen) = commit_recording(&buf);
        assert_eq!(end, Some(16));
        assert_eq!(seen, vec![(0, vec![1, 1, 1, 1, 2, 2])]);
    }

    // Goal: reset moves the append position and drops uncommitted bytes (recovery cut).
    // Method: push, reset, push at the new position, commit.
    #[test]
    fn reset_drops_buffered_bytes_and_moves_the_append_position() {
        let buf = WriteBuffer::new(0);
        buf.push(0, &[9; 10]);
        buf.reset(4);
        buf.push(4, &[1]);
        let mut seen = Vec::new();
        buf.commit(|pos, data| {
            seen.push((pos, data.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(4, vec![1])]);
    }

    // Goal: the commit that writes a closed segment's last bytes reports the segment's end, also
    // when there are no last bytes (no room for a BLANK marker). Method: push_last, commit.
    #[test]
    fn closing_commit_reports_the_segment_end() {
        let buf = WriteBuffer::new(0);
        buf.push(0, &[1; 8]);
        buf.push_last(8, &[2; 4], 64);
        let mut seen = Vec::new();
        let mut write = |pos: u64, data: &[u8]| {
            seen.push((pos, data.len()));
            Ok(())
        };
        assert_eq!(buf.commit(&mut write).unwrap(), Some(64));
        assert_eq!(buf.commit(&mut write).unwrap(), None);
        assert_eq!(seen, vec![(0, 12)]);
        let empty_tail = WriteBuffer::new(60);
        empty_tail.push_last(60, &[], 64);
        assert_eq!(empty_tail.commit(|_, _| panic!("nothing to write")).unwrap(), Some(64));
    }

    // Goal: a commit that finds the buffer empty because a concurrent commit took its bytes
    // returns only after that commit's `committed` callback ran (the segment's readable end is
    // published under the commit lock), so "nothing to commit" means "already readable".
    // Method: thread A's callback tells thread B to commit and then, after B has started,
    // sets a flag; B's empty commit must see the flag set.
    #[test]
    fn an_empty_commit_waits_for_the_concurrent_one_to_publish() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{mpsc, Arc};
        let buf = Arc::new(WriteBuffer::new(0));
        buf.push(0, &[1; 8]);
        let published = Arc::new(AtomicBool::new(false));
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let b = {
            let (buf, published) = (Arc::clone(&buf), Arc::clone(&published));
            std::thread::spawn(move || {
                go_rx.recv().unwrap();
                started_tx.send(()).unwrap();
                let end = buf.commit(|_, _| panic!("A took the bytes")).unwrap();
                (end, published.load(Ordering::SeqCst))
            })
        };
        let end = buf
            .commit_then(
                |_, _| Ok(()),
                |_, _, _| {
                    go_tx.send(()).unwrap();
                    started_rx.recv().unwrap();
                    published.store(true, Ordering::SeqCst);
                },
            )
            .unwrap();
        assert_eq!(end, Some(8));
        assert_eq!(b.join().unwrap(), (None, true));
    }

    // Goal: appends at any other position than the buffered end are a bug and are caught.
    #[test]
    #[should_panic(expected = "appends arrive at the end")]
    fn append_at_a_gap_is_rejected() {
        let buf = WriteBuffer::new(0);
        buf.push(1, &[1]);
    }
}
