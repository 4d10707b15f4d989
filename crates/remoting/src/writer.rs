//! The write side of a connection: one bounded queue of encoded frames, flushed with
//! non-blocking vectored writes by whoever is best placed to do it.
//!
//! Components:
//! - [`OutboundFrame`]: a frame's encoded head (length word, header tag, header) plus its body
//!   segments, each sent as an `IoSlice` of its own: bodies are never copied;
//! - [`Outbound`]: the queue and the socket's write half behind one lock. Frames are appended
//!   whole and written from the front, so they leave in queue order and never interleave,
//!   whoever writes;
//! - [`run_writer`]: the connection's writer task. It flushes frames queued by other tasks
//!   (invokes, responses of spawned requests) and waits for the socket to become writable
//!   when a write would block.
//!
//! Who writes:
//! - the connection's reader queues the responses of requests it processed inline without
//!   writing ([`Outbound::push_response`]) and flushes them itself, in one vectored write, once
//!   no complete frame is left in its read buffer ([`Outbound::flush_now`]); no task hop;
//! - every other sender queues its frame and wakes the writer task once
//!   ([`Outbound::send`]); the writer first yields, so frames queued by the tasks that are
//!   runnable at that moment go out in the same system call.
//!
//! Invariants:
//! - at most `limit` frames are queued by [`Outbound::send`] callers (they wait for room); the
//!   reader's inline responses may exceed it by the responses of one read, after which the
//!   reader stops reading until the queue is below the limit again (TCP backpressure);
//! - `close` empties the queue, refuses new frames and wakes every waiting sender; `finish`
//!   (graceful) writes what is queued, then shuts the socket's write side;
//! - every byte written, whoever writes it, counts as activity for the idle timeout.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::{Buf, Bytes};
use ferromq_protocol::frame::encode_head_bytes;
use ferromq_protocol::{CodecError, RemotingCommand};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::request::RequestFrame;
use crate::response::ResponseFrame;

/// Most slices handed to one `write_vectored` call (Linux allows 1024).
pub const MAX_IO_SLICES_PER_WRITE: usize = 64;

/// One encoded frame waiting to be written.
#[derive(Debug)]
pub(crate) struct OutboundFrame {
    head: Bytes,
    body: Vec<Bytes>,
}

impl OutboundFrame {
    /// Encodes `cmd`'s head and takes its body segments as they are.
    pub(crate) fn encode(mut cmd: RemotingCommand) -> Result<Self, CodecError> {
        let head = encode_head_bytes(&cmd)?;
        let body = std::mem::take(&mut cmd.body).into_segments();
        Ok(OutboundFrame { head, body })
    }

    /// A request frame its sender encoded.
    pub(crate) fn from_request(frame: RequestFrame) -> Self {
        OutboundFrame {
            head: frame.head,
            body: frame.body.into_segments(),
        }
    }

    /// A response frame its processor encoded.
    pub(crate) fn from_response(frame: ResponseFrame) -> Self {
        OutboundFrame {
            head: frame.head,
            body: frame.body.into_segments(),
        }
    }
}

/// Time of the last byte read or written on a connection, for idle detection.
#[derive(Debug)]
pub(crate) struct Activity {
    base: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Activity {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    /// Records activity now.
    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// When the last activity happened.
    pub(crate) fn last(&self) -> Instant {
        self.base + std::time::Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A queued slice; `frame_end` marks the last slice of a frame (frames are counted by it).
#[derive(Debug)]
struct Slice {
    bytes: Bytes,
    frame_end: bool,
}

#[derive(Debug)]
struct State {
    slices: VecDeque<Slice>,
    /// Whole frames queued, partially written ones included.
    frames: usize,
    /// `None` once closed: nothing more is accepted or written.
    stream: Option<Arc<OwnedWriteHalf>>,
    /// The writer task was woken and has not flushed yet.
    writer_scheduled: bool,
}

/// Outcome of a non-blocking flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flushed {
    /// The queue is empty.
    All,
    /// The socket would block with bytes still queued.
    Blocked,
}

/// The queue of a connection's outgoing frames and the socket they go to.
#[derive(Debug)]
pub(crate) struct Outbound {
    state: Mutex<State>,
    limit: usize,
    /// Wakes the writer task.
    writer: Notify,
    /// Wakes senders waiting for room (and the reader waiting to resume reading).
    room: Notify,
    pub(crate) activity: Activity,
}

/// The queue refused a frame: the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

impl Outbound {
    /// A queue of at most `limit` frames writing to `stream`.
    pub(crate) fn new(stream: OwnedWriteHalf, limit: usize) -> Self {
        assert!(limit > 0, "write queue limit must be positive");
        Outbound {
            state: Mutex::new(State {
                slices: VecDeque::new(),
                frames: 0,
                stream: Some(Arc::new(stream)),
                writer_scheduled: false,
            }),
            limit,
            writer: Notify::new(),
            room: Notify::new(),
            activity: Activity::new(),
        }
    }

    // Every update under this lock is a few queue operations or one non-blocking write; a
    // panic cannot leave the queue half-updated in a way that matters, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(state: &mut State, frame: OutboundFrame) {
        let OutboundFrame { head, body } = frame;
        let body: Vec<Bytes> = body.into_iter().filter(|segment| !segment.is_empty()).collect();
        let body_slices = body.len();
        state.slices.push_back(Slice {
            bytes: head,
            frame_end: body_slices == 0,
        });
        for (i, bytes) in body.into_iter().enumerate() {
            state.slices.push_back(Slice {
                bytes,
                frame_end: i + 1 == body_slices,
            });
        }
        state.frames += 1;
    }

    /// Queues `frame` (waiting while `limit` frames are queued) and makes sure the writer task
    /// will write it. Fails once the connection is closed.
    pub(crate) async fn send(&self, frame: OutboundFrame) -> Result<(), Closed> {
        let mut frame = Some(frame);
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let state = self.lock();
                if state.stream.is_none() {
                    return Err(Closed);
                }
                if state.frames < self.limit {
                    if let Some(frame) = frame.take() {
                        self.queue_for_writer(state, frame);
                    }
                    return Ok(());
                }
            }
            room.await;
        }
    }

    /// [`Outbound::send`] without waiting: queues `frame` if there is room and returns `None`,
    /// or hands it back when `limit` frames are queued. With `write_if_idle`, a frame that
    /// finds nothing queued and no flush pending is written at once from the calling task: a
    /// lone request (one sync send in flight) leaves without waking the writer task. Fails
    /// once the connection is closed.
    pub(crate) fn try_send(&self, frame: OutboundFrame, write_if_idle: bool) -> Result<Option<OutboundFrame>, Closed> {
        let mut state = self.lock();
        if state.stream.is_none() {
            return Err(Closed);
        }
        if write_if_idle && state.slices.is_empty() && !state.writer_scheduled {
            Self::append(&mut state, frame);
            let written = Self::write_queued(&mut state, &self.activity);
            drop(state);
            match written {
                Ok(Flushed::All) => {}
                // The writer task finishes the frame (or reports the error by closing).
                Ok(Flushed::Blocked) | Err(_) => self.writer.notify_one(),
            }
            return Ok(None);
        }
        if state.frames >= self.limit {
            return Ok(Some(frame));
        }
        self.queue_for_writer(state, frame);
        Ok(None)
    }

    /// Appends `frame` under the held lock and makes sure the writer task will write it
    /// (woken unless a write is already scheduled).
    fn queue_for_writer(&self, mut state: MutexGuard<'_, State>, frame: OutboundFrame) {
        Self::append(&mut state, frame);
        let wake = !state.writer_scheduled;
        state.writer_scheduled = true;
        drop(state);
        if wake {
            self.writer.notify_one();
        }
    }

    /// Queues a response produced by the reader itself, without waiting for room and without
    /// writing: the reader flushes with [`Outbound::flush_now`] once its read buffer holds no
    /// complete frame. Fails once the connection is closed.
    pub(crate) fn push_response(&self, frame: OutboundFrame) -> Result<(), Closed> {
        let mut state = self.lock();
        if state.stream.is_none() {
            return Err(Closed);
        }
        Self::append(&mut state, frame);
        Ok(())
    }

    /// True while the queue holds `limit` frames or more.
    pub(crate) fn is_full(&self) -> bool {
        self.lock().frames >= self.limit
    }

    /// Completes once the queue holds fewer than `limit` frames, or the connection closed.
    pub(crate) async fn wait_for_room(&self) {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let state = self.lock();
                if state.frames < self.limit || state.stream.is_none() {
                    return;
                }
            }
            room.await;
        }
    }

    /// Writes queued bytes until the queue is empty or the socket would block. Never waits.
    pub(crate) fn flush_now(&self) -> io::Result<Flushed> {
        let mut state = self.lock();
        state.writer_scheduled = false;
        let before = state.frames;
        let result = Self::write_queued(&mut state, &self.activity);
        let freed = state.frames < before && before >= self.limit;
        let blocked = matches!(result, Ok(Flushed::Blocked));
        drop(state);
        if freed {
            self.room.notify_waiters();
        }
        if blocked {
            // The writer task waits for the socket to become writable and finishes the job.
            self.writer.notify_one();
        }
        result
    }

    fn write_queued(state: &mut State, activity: &Activity) -> io::Result<Flushed> {
        let Some(stream) = state.stream.clone() else {
            return Ok(Flushed::All);
        };
        while !state.slices.is_empty() {
            let written = {
                let mut slices = [IoSlice::new(&[]); MAX_IO_SLICES_PER_WRITE];
                let mut count = 0;
                for (slot, slice) in slices.iter_mut().zip(state.slices.iter()) {
                    *slot = IoSlice::new(&slice.bytes);
                    count += 1;
                }
                let slices = slices.get(..count).unwrap_or(&[]);
                match stream.try_write_vectored(slices) {
                    Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                    Ok(n) => n,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(Flushed::Blocked),
                    Err(error) => return Err(error),
                }
            };
            activity.touch();
            consume(state, written);
        }
        Ok(Flushed::All)
    }

    /// The socket, unless closed (for awaiting writability outside the lock).
    fn stream(&self) -> Option<Arc<OwnedWriteHalf>> {
        self.lock().stream.clone()
    }

    /// Drops queued frames, refuses new ones, releases the socket's write half and wakes every
    /// waiting sender.
    pub(crate) fn close(&self) {
        let stream = {
            let mut state = self.lock();
            state.slices.clear();
            state.frames = 0;
            state.stream.take()
        };
        drop(stream);
        self.room.notify_waiters();
        self.writer.notify_one();
    }

    /// Queued frames (partially written ones included).
    #[cfg(test)]
    pub(crate) fn queued_frames(&self) -> usize {
        self.lock().frames
    }
}

/// Drops `n` written bytes from the front of the queue, counting finished frames.
fn consume(state: &mut State, mut n: usize) {
    while n > 0 {
        let Some(front) = state.slices.front_mut() else { break };
        if front.bytes.len() <= n {
            n -= front.bytes.len();
            if front.frame_end {
                state.frames = state.frames.saturating_sub(1);
            }
            state.slices.pop_front();
        } else {
            front.bytes.advance(n);
            n = 0;
        }
    }
    debug_assert_eq!(n, 0, "wrote more bytes than were queued");
}

/// Writes everything queued, waiting for writability as needed; `Ok` once the queue is empty.
async fn flush_all(outbound: &Outbound) -> io::Result<()> {
    loop {
        match outbound.flush_now()? {
            Flushed::All => return Ok(()),
            Flushed::Blocked => match outbound.stream() {
                Some(stream) => stream.writable().await?,
                None => return Ok(()),
            },
        }
    }
}

/// The writer task: flushes what other tasks queue until `finish` (after writing what is
/// queued and shutting the write side), `abort`, or a write error.
pub(crate) async fn run_writer(
    outbound: &Outbound,
    finish: CancellationToken,
    abort: CancellationToken,
) -> io::Result<()> {
    loop {
        tokio::select! {
            biased;
            _ = abort.cancelled() => return Ok(()),
            _ = outbound.writer.notified() => {}
            _ = finish.cancelled() => break,
        }
        // Let the tasks that are runnable now queue their frames first: they leave together.
        tokio::task::yield_now().await;
        tokio::select! {
            biased;
            _ = abort.cancelled() => return Ok(()),
            flushed = flush_all(outbound) => flushed?,
        }
    }
    // Finishing: flush what is queued, then release the write half (which shuts it down).
    tokio::select! {
        biased;
        _ = abort.cancelled() => Ok(()),
        done = flush_all(outbound) => {
            outbound.close();
            done
        }
    }
}

#[cfg(test)]
#[path = "writer_test.rs"]
mod tests;
