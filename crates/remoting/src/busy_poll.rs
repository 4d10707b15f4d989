//! Busy polling: a connection whose reader ran dry keeps polling its socket for a short window
//! before it lets its runtime worker sleep.
//!
//! Why: a request/response exchange with one message in flight spends most of its time waking
//! sleeping threads. On virtual machines without guest halt-polling a wake-up of an idle vCPU
//! costs tens of microseconds (this project's VM: a blocking loopback ping-pong takes
//! 110-130 us, the same ping-pong with both sides polling 15-20 us). A reader that is still
//! polling when the next frame arrives needs no wake-up at all. Messaging systems built for
//! latency do the same (Aeron's busy-spin / back-off idle strategies, Seastar's polling
//! reactor); here it is bounded and adaptive, so idle connections cost nothing.
//!
//! Components:
//! - [`BusyPoll`]: the per-connection policy. After the reader runs dry it polls for at most
//!   `window`; a poll that sees data (a hit) keeps polling on; a poll that times out (a miss)
//!   skips the next 1, 2, 4, ... [`MAX_SKIPPED_POLLS`] dry spells, so a quiet connection soon
//!   costs at most one window per [`MAX_SKIPPED_POLLS`] requests, and a connection that turns
//!   busy again is polled again quickly; a client connection with more than
//!   [`MAX_PENDING_TO_POLL`] invokes waiting does not poll;
//! - [`poll_read`]: one poll attempt: non-blocking reads, straight into the connection's
//!   buffer through the runtime while its cached readiness says readable, else `recv` system
//!   calls on the socket itself (that readiness only changes when some worker polls epoll,
//!   which a sleeping worker may be holding) into a landing buffer. The poll holds its worker
//!   thread: it does not yield between attempts, because a yield in tokio's multi-thread
//!   scheduler re-queues the task and wakes an idle worker to steal it — a cross-CPU wake-up
//!   per attempt, the very cost polling is meant to avoid (measured: 1.4 context switches per
//!   message with yields, 0.1 without). It yields once first when the reader woke or spawned
//!   tasks of its own worker ([`note_local_wake`]: responses completing invokes, spawned
//!   requests, held pulls woken by a put), so they run before the poll and do not wait for it;
//!   and once per [`YIELD_EVERY`] in long windows.
//!
//! Invariants:
//! - a window of zero turns polling off (the reader goes straight to the runtime's wait);
//! - a poll never runs longer than its window plus one scheduling round, and returns at once
//!   on data, end of stream, an error, or the connection's stop signal;
//! - bytes read by a poll go to the same buffer, in order, as the runtime's reads.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::net::tcp::OwnedReadHalf;
use tokio_util::sync::CancellationToken;

use crate::reader::MAX_READ_CHUNK_BYTES;

/// Longest run of dry spells skipped after repeated misses.
pub const MAX_SKIPPED_POLLS: u32 = 64;

/// A client connection busy-polls only while at most this many of its invokes wait (the most
/// frames a peer answers per batch, `MAX_BATCH_FRAMES`). With more waiting, answers come in
/// batches whose wake-up is shared by many responses, and a spinning reader only takes CPU
/// from the peer when both run on one machine (async sends, 256 in flight on the 2-core VM:
/// 3-14 % more messages per second without the client's poll, docs/benchmarks.md).
pub const MAX_PENDING_TO_POLL: usize = 32;

/// A poll holds its worker at most this long between yields (windows above it yield).
pub const YIELD_EVERY: Duration = Duration::from_micros(200);

thread_local! {
    /// Tasks this thread woke or spawned for its own runtime worker (see [`note_local_wake`]).
    static LOCAL_WAKES: Cell<u64> = const { Cell::new(0) };
}

/// Records that the calling code woke or spawned a task that may be queued on the current
/// runtime worker (a completed invoke, a spawned request, a woken held pull): a busy poll
/// starting on this thread then yields first, so that task is not held up by the poll.
pub fn note_local_wake() {
    LOCAL_WAKES.with(|w| w.set(w.get().wrapping_add(1)));
}

/// The current value of this thread's local-wake counter (compare two readings).
pub(crate) fn local_wakes() -> u64 {
    LOCAL_WAKES.with(Cell::get)
}

/// Adaptive busy-poll policy of one connection.
#[derive(Debug, Clone)]
pub(crate) struct BusyPoll {
    window: Duration,
    /// Dry spells to skip before polling again.
    skip: u32,
    /// Skips to impose after the next miss (doubles per miss, reset by a hit).
    backoff: u32,
}

/// What one poll attempt found.
#[derive(Debug)]
pub(crate) enum Polled {
    /// `n` bytes were appended to the buffer (0: end of stream).
    Read(usize),
    /// Nothing arrived within the window.
    Nothing,
    /// The connection's stop signal fired.
    Stopped,
    /// The socket failed.
    Failed(io::Error),
}

impl BusyPoll {
    /// A policy polling for up to `window` (zero: never).
    pub(crate) fn new(window: Duration) -> Self {
        BusyPoll {
            window,
            skip: 0,
            backoff: 1,
        }
    }

    /// Whether the reader should poll during this dry spell (consumes a skip when not);
    /// `pending`: the invokes a client connection waits on (`None` on a server), above
    /// [`MAX_PENDING_TO_POLL`] no poll (and no skip consumed).
    pub(crate) fn should_poll(&mut self, pending: Option<usize>) -> bool {
        if self.window.is_zero() || pending.is_some_and(|n| n > MAX_PENDING_TO_POLL) {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        true
    }

    /// Records a poll's outcome.
    pub(crate) fn record(&mut self, hit: bool) {
        if hit {
            self.backoff = 1;
        } else {
            self.skip = self.backoff;
            self.backoff = (self.backoff * 2).min(MAX_SKIPPED_POLLS);
        }
    }

    /// The polling window.
    pub(crate) fn window(&self) -> Duration {
        self.window
    }
}

thread_local! {
    /// Per-thread landing buffer of polled reads (safe reads need initialized memory; only the
    /// bytes received are copied on into the connection's buffer).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// One non-blocking read appended to `buf`: straight into its spare capacity through the
/// runtime while the runtime's cached readiness says readable (no copy), otherwise a `recv` of
/// up to `max` bytes on the socket itself into the landing buffer, copied on. That readiness is
/// cleared by a read that found nothing and set again only when a worker polls epoll, so a
/// worker that keeps polling instead of parking still takes the copying path for many reads.
fn read_now(socket: &OwnedReadHalf, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
    match socket.try_read_buf(buf) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        done => return done,
    }
    let sock = socket2::SockRef::from(socket.as_ref());
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let max = max.clamp(1, MAX_READ_CHUNK_BYTES);
        if scratch.len() < max {
            scratch.resize(max, 0);
        }
        let room = scratch.get_mut(..max).unwrap_or_default();
        let n = (&*sock).read(room)?;
        buf.extend_from_slice(room.get(..n).unwrap_or_default());
        Ok(n)
    })
}

/// Polls `socket` with non-blocking reads of up to `max_read` bytes for up to `window`,
/// appending what arrives to `buf`; yields once first when `yield_first` (the reader woke
/// tasks of its own worker), then holds the worker, yielding only every [`YIELD_EVERY`].
pub(crate) async fn poll_read(
    socket: &OwnedReadHalf,
    buf: &mut BytesMut,
    max_read: usize,
    window: Duration,
    yield_first: bool,
    stop: &CancellationToken,
) -> Polled {
    if yield_first {
        tokio::task::yield_now().await;
    }
    let deadline = Instant::now() + window;
    let mut next_yield = Instant::now() + YIELD_EVERY;
    loop {
        match read_now(socket, buf, max_read) {
            Ok(n) => return Polled::Read(n),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(e) => return Polled::Failed(e),
        }
        if stop.is_cancelled() {
            return Polled::Stopped;
        }
        let now = Instant::now();
        if now >= deadline {
            return Polled::Nothing;
        }
        if now >= next_yield {
            tokio::task::yield_now().await;
            next_yield = Instant::now() + YIELD_EVERY;
        } else {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: misses back off exponentially up to the cap and a hit restores polling at once.
    // Method: drive the policy through dry spells and count the polls granted.
    #[test]
    fn misses_back_off_exponentially_and_a_hit_resets() {
        let mut p = BusyPoll::new(Duration::from_micros(50));
        let mut granted = Vec::new();
        for _ in 0..20 {
            let poll = p.should_poll(None);
            granted.push(poll);
            if poll {
                p.record(false);
            }
        }
        // Polls at spells 0, 2 (skip 1), 5 (skip 2), 10 (skip 4), 19 (skip 8).
        let at: Vec<usize> = granted
            .iter()
            .enumerate()
            .filter(|(_, g)| **g)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(at, vec![0, 2, 5, 10, 19]);
        for _ in 0..200 {
            if p.should_poll(None) {
                p.record(false);
            }
        }
        assert!(p.backoff <= MAX_SKIPPED_POLLS && p.skip <= MAX_SKIPPED_POLLS);
        while !p.should_poll(None) {}
        p.record(true);
        assert!(p.should_poll(None), "a hit keeps polling");
    }

    // Goal: a client connection polls while few invokes wait and not while many do, and many
    // waiting neither consumes nor adds skips. Method: the policy at 0, 1, 32, 33 and 256
    // pending, interleaved with a hit.
    #[test]
    fn many_pending_invokes_turn_polling_off() {
        let mut p = BusyPoll::new(Duration::from_micros(50));
        assert!(p.should_poll(Some(0)));
        p.record(true);
        assert!(!p.should_poll(Some(MAX_PENDING_TO_POLL + 1)));
        assert!(!p.should_poll(Some(256)));
        assert!(
            p.should_poll(Some(MAX_PENDING_TO_POLL)),
            "no skip was consumed or added"
        );
        p.record(true);
        assert!(p.should_poll(Some(1)));
        assert!(p.should_poll(None), "a server connection ignores pending counts");
    }

    // Goal: the local-wake counter moves only when noted, per thread. Method: read, note,
    // read again; another thread's note does not count here.
    #[test]
    fn local_wakes_count_per_thread() {
        let before = local_wakes();
        note_local_wake();
        assert_eq!(local_wakes(), before.wrapping_add(1));
        std::thread::spawn(note_local_wake).join().expect("join");
        assert_eq!(local_wakes(), before.wrapping_add(1));
    }

    // Goal: a zero window never polls. Method: ask many times.
    #[test]
    fn zero_window_never_polls() {
        let mut p = BusyPoll::new(Duration::ZERO);
        assert!((0..100).all(|_| !p.should_poll(None)));
    }

    /// A connected loopback pair: the client stream and the server side's halves.
    async fn loopback_pair() -> (tokio::net::TcpStream, OwnedReadHalf, tokio::net::tcp::OwnedWriteHalf) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let (read, write) = server.into_split();
        (client, read, write)
    }

    // Goal: a poll returns bytes that arrive during the window, times out on silence, and
    // reports end of stream. Method: a real loopback pair; the peer writes, then closes.
    #[tokio::test]
    async fn poll_read_sees_data_silence_and_eof() {
        let (client, read, _write) = loopback_pair().await;
        let stop = CancellationToken::new();
        let mut buf = BytesMut::new();
        let silent = poll_read(&read, &mut buf, 4096, Duration::from_micros(200), false, &stop).await;
        assert!(matches!(silent, Polled::Nothing), "{silent:?}");
        client.try_write(b"hello").expect("write");
        let mut got = 0;
        while got < 5 {
            match poll_read(&read, &mut buf, 4096, Duration::from_secs(5), false, &stop).await {
                Polled::Read(n) => got += n,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(&buf[..], b"hello");
        drop(client);
        let eof = poll_read(&read, &mut buf, 4096, Duration::from_secs(5), false, &stop).await;
        assert!(matches!(eof, Polled::Read(0)), "{eof:?}");
        stop.cancel();
    }

    // Goal: the stop signal ends a poll at once. Method: cancel before polling a silent socket
    // with a long window.
    #[tokio::test]
    async fn stop_ends_a_poll() {
        let (_client, read, _write) = loopback_pair().await;
        let stop = CancellationToken::new();
        stop.cancel();
        let mut buf = BytesMut::new();
        let polled = poll_read(&read, &mut buf, 4096, Duration::from_secs(60), true, &stop).await;
        assert!(matches!(polled, Polled::Stopped), "{polled:?}");
    }
}
