//! Connection lifecycle: start the writer, read and route frames, close.
//!
//! The read loop decodes the complete frames of its buffer (on a client connection, a JSON
//! response's header is only scanned and left to its invoke, see `ferromq_protocol::received`), at most [`MAX_BATCH_FRAMES`] at a
//! time, runs each request (inline when it completes at once, see [`crate::dispatch`]), then
//! writes the responses produced inline in one vectored write before going on; read sizes adapt to the traffic
//! ([`crate::reader::ReadChunk`]), so a busy connection takes many frames per read system call.
//!
//! When the read buffer runs dry the reader first busy-polls its socket for a short adaptive
//! window ([`crate::busy_poll`]), so that the next frame of a request/response exchange is
//! picked up without waking a sleeping worker.
//!
//! Close paths:
//! - peer EOF, socket error, write failure, idle timeout, `close()`: close now;
//! - malformed frame: close now with exactly one WARN line (peer, reason, bytes read);
//! - `stop` (graceful server shutdown): stop reading, wait for in-flight requests, flush their
//!   responses, then close, all within the drain timeout.
//!
//! On every path the opaque table is closed (waiting invokes fail with `ConnectionClosed`)
//! before the close notification fires.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use ferromq_protocol::{CodecError, ReceivedCommand};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::busy_poll::{local_wakes, note_local_wake, poll_read, BusyPoll, Polled};
use crate::config::ConnectionConfig;
use crate::connection::Connection;
use crate::dispatch::{run_request, Dispatcher};
use crate::reader::{next_frame, ReadChunk, READ_CHUNK_BYTES};
use crate::writer::{run_writer, Outbound};

/// Most frames one batch handles before its deferred work runs and its responses are written.
/// A read can hold far more (up to [`crate::reader::MAX_READ_CHUNK_BYTES`]); answering them in
/// slices keeps a pipelining peer busy: with 256 sends in flight, one batch of all of them made
/// producer and broker take turns (each idle about half the time), while slices of 32 let the
/// producer send again while the broker works on the rest.
pub const MAX_BATCH_FRAMES: usize = 32;

/// Why a connection closed.
#[derive(Debug)]
enum CloseReason {
    PeerClosed,
    Io(io::Error),
    WriteFailed(io::Error),
    Malformed(CodecError),
    Idle,
    Local,
    Shutdown,
}

/// Which side opened the connection (for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

/// Everything a new connection needs besides its socket.
pub(crate) struct ConnectionParams {
    pub(crate) config: ConnectionConfig,
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) next_opaque: Arc<AtomicI32>,
    /// Graceful stop (drain, then close).
    pub(crate) stop: CancellationToken,
    /// Immediate close; becomes the connection's `close()` token.
    pub(crate) abort: CancellationToken,
    pub(crate) side: Side,
}

/// Sets up a connection on `stream`; the returned future drives it and must be spawned. It
/// completes once the connection is closed.
pub(crate) fn start(
    stream: TcpStream,
    params: ConnectionParams,
) -> io::Result<(Connection, impl Future<Output = ()> + Send + 'static)> {
    let peer = stream.peer_addr()?;
    let local = stream.local_addr()?;
    // RocketMQ sets TCP_NODELAY on both sides: small RPCs must not wait for Nagle.
    stream.set_nodelay(true)?;
    let (read_half, write_half) = stream.into_split();
    let connection = Connection::new_shared(
        peer,
        local,
        Outbound::new(write_half, params.config.write_queue_frames),
        params.config.max_pending_invokes,
        Arc::clone(&params.next_opaque),
        params.abort.clone(),
    );
    let span = tracing::info_span!("connection", id = connection.id(), %peer, side = params.side.as_str());
    let finish = CancellationToken::new();
    let writer = {
        let connection = connection.clone();
        let finish = finish.clone();
        async move {
            let shared = &connection.shared;
            run_writer(&shared.outbound, finish, shared.abort.clone()).await
        }
    };
    let driver = drive(connection.clone(), read_half, writer, finish, params).instrument(span);
    Ok((connection, driver))
}

async fn drive(
    connection: Connection,
    read_half: OwnedReadHalf,
    writer: impl Future<Output = io::Result<()>> + Send + 'static,
    finish: CancellationToken,
    params: ConnectionParams,
) {
    let ConnectionParams {
        config,
        dispatcher,
        stop,
        side,
        ..
    } = params;
    let shared = Arc::clone(&connection.shared);
    let mut writer = tokio::spawn(writer.in_current_span());
    let in_flight_limit = u32::try_from(config.max_in_flight_requests)
        .unwrap_or(u32::MAX)
        .min(u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
    let in_flight = Arc::new(Semaphore::new(in_flight_limit as usize));
    tracing::debug!(local = %shared.local, "connection open");

    let reason = tokio::select! {
        reason = read_loop(&connection, read_half, &config, &dispatcher, &in_flight, &stop, side) => reason,
        _ = shared.abort.cancelled() => CloseReason::Local,
        _ = idle(&connection, config.idle_timeout) => CloseReason::Idle,
        // Never completes: fails the invokes whose deadline passed.
        _ = shared.pending.run_expiry() => CloseReason::Local,
        written = &mut writer => match written {
            Ok(Ok(())) => CloseReason::Local,
            Ok(Err(error)) => CloseReason::WriteFailed(error),
            Err(join) => CloseReason::WriteFailed(io::Error::other(join)),
        },
    };
    let bytes_read = shared.bytes_read.load(Ordering::Relaxed);
    match &reason {
        CloseReason::Malformed(error) => {
            tracing::warn!(peer = %shared.peer, reason = %error, bytes_read, "malformed frame; closing connection");
        }
        CloseReason::Idle => tracing::info!(timeout = ?config.idle_timeout, "idle connection closed"),
        CloseReason::Io(error) => tracing::debug!(%error, "read failed; closing connection"),
        CloseReason::WriteFailed(error) => tracing::debug!(%error, "write failed; closing connection"),
        CloseReason::PeerClosed | CloseReason::Local | CloseReason::Shutdown => {
            tracing::debug!(?reason, bytes_read, "closing connection");
        }
    }
    if matches!(reason, CloseReason::Shutdown) {
        drain(&connection, &in_flight, in_flight_limit, &finish, &mut writer, &config).await;
    }
    shared.abort.cancel();
    shared.pending.close();
    if !writer.is_finished() {
        // Abort makes the writer return promptly, even mid-write.
        let _ = writer.await;
    }
    // Releases the write half: with the read half gone too, the socket is closed.
    shared.outbound.close();
    shared.closed.cancel();
    tracing::debug!("connection closed");
}

/// Graceful close: in-flight requests finish and their responses are flushed, within the drain
/// timeout (or until an abort).
async fn drain(
    connection: &Connection,
    in_flight: &Semaphore,
    in_flight_limit: u32,
    finish: &CancellationToken,
    writer: &mut tokio::task::JoinHandle<io::Result<()>>,
    config: &ConnectionConfig,
) {
    let deadline = Instant::now() + config.drain_timeout;
    let abort = &connection.shared.abort;
    let finished = async {
        // All permits back = no request task left; their responses are queued by then.
        let _all = in_flight.acquire_many(in_flight_limit).await;
        finish.cancel();
        let _ = (&mut *writer).await;
    };
    tokio::select! {
        _ = tokio::time::timeout_at(deadline, finished) => {}
        _ = abort.cancelled() => {}
    }
    if Instant::now() >= deadline {
        tracing::info!(
            pending_requests = in_flight_limit as usize - in_flight.available_permits(),
            "drain timeout; closing"
        );
    }
}

/// Completes once nothing was read or written for `timeout`.
async fn idle(connection: &Connection, timeout: Option<std::time::Duration>) {
    let Some(timeout) = timeout else {
        return std::future::pending().await;
    };
    loop {
        let deadline = connection.shared.outbound.activity.last() + timeout;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

async fn read_loop(
    connection: &Connection,
    mut read_half: OwnedReadHalf,
    config: &ConnectionConfig,
    dispatcher: &Arc<Dispatcher>,
    in_flight: &Arc<Semaphore>,
    stop: &CancellationToken,
    side: Side,
) -> CloseReason {
    let shared = &connection.shared;
    // A client's connection mostly carries responses to its own invokes: their headers are
    // only scanned here and read by the invoke. A server's carries requests, decoded at once.
    let scan_responses = side == Side::Client;
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut chunk = ReadChunk::default();
    let mut busy = BusyPoll::new(config.busy_poll);
    loop {
        let wakes_before = local_wakes();
        let batch = shared.batch.open();
        let mut frames = 0;
        while frames < MAX_BATCH_FRAMES {
            match next_frame(&mut buf, config.max_frame_bytes, chunk.bytes(), scan_responses) {
                Ok(Some(command)) => {
                    frames += 1;
                    if let Err(reason) = route(connection, command, dispatcher, in_flight, stop).await {
                        return reason;
                    }
                }
                Ok(None) => break,
                Err(error) => return CloseReason::Malformed(error),
            }
        }
        // Every complete frame is handled: the work they deferred runs, then their inline
        // responses leave in one write.
        drop(batch);
        if let Err(error) = shared.outbound.flush_now() {
            return CloseReason::WriteFailed(error);
        }
        if shared.outbound.is_full() {
            // The peer does not read its responses: stop reading its requests.
            tokio::select! {
                biased;
                _ = stop.cancelled() => return CloseReason::Shutdown,
                _ = shared.outbound.wait_for_room() => {}
            }
        }
        if frames == MAX_BATCH_FRAMES {
            // The batch was cut short: the rest of the buffer is the next batch, no read needed.
            continue;
        }
        let spare = buf.capacity() - buf.len();
        let pending = (side == Side::Client).then(|| shared.pending.len());
        if busy.should_poll(pending) {
            let woke = local_wakes() != wakes_before;
            match poll_read(&read_half, &mut buf, spare, busy.window(), woke, stop).await {
                Polled::Read(0) => return CloseReason::PeerClosed,
                Polled::Read(n) => {
                    busy.record(true);
                    shared.outbound.activity.touch();
                    shared.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                    chunk.record(n, spare);
                    continue;
                }
                Polled::Nothing => busy.record(false),
                Polled::Stopped => return CloseReason::Shutdown,
                Polled::Failed(error) => return CloseReason::Io(error),
            }
        }
        let read = tokio::select! {
            biased;
            _ = stop.cancelled() => return CloseReason::Shutdown,
            read = read_half.read_buf(&mut buf) => read,
        };
        match read {
            Ok(0) => return CloseReason::PeerClosed,
            Ok(n) => {
                shared.outbound.activity.touch();
                shared.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                chunk.record(n, spare);
            }
            Err(error) => return CloseReason::Io(error),
        }
    }
}

/// Responses complete a waiting invoke; requests run at once, and one that has to wait moves
/// to a task of its own once an in-flight permit is free (reading pauses until then, after
/// writing the responses already queued).
async fn route(
    connection: &Connection,
    received: ReceivedCommand,
    dispatcher: &Arc<Dispatcher>,
    in_flight: &Arc<Semaphore>,
    stop: &CancellationToken,
) -> Result<(), CloseReason> {
    if received.is_response() {
        // A completed invoke wakes its caller, usually queued on this worker.
        note_local_wake();
        if let Err(orphan) = connection.shared.pending.complete(received) {
            tracing::debug!(
                opaque = orphan.opaque,
                code = orphan.code,
                "response for unknown opaque dropped"
            );
        }
        return Ok(());
    }
    // A request is decoded already (a send possibly by the send decoder), so this is a move
    // (or, should that ever change, the full decode it would have had in the reader).
    let request = received.into_request().map_err(CloseReason::Malformed)?;
    let Some(waiting) = run_request(connection, dispatcher, request) else {
        return Ok(());
    };
    let permit = match Arc::clone(in_flight).try_acquire_owned() {
        Ok(permit) => permit,
        Err(_) => {
            // Answers already produced must not wait for a slow request to free a permit (nor
            // for the end of the batch to run the work they deferred).
            connection.shared.batch.run_pending();
            connection
                .shared
                .outbound
                .flush_now()
                .map_err(CloseReason::WriteFailed)?;
            let permit = tokio::select! {
                biased;
                _ = stop.cancelled() => return Err(CloseReason::Shutdown),
                permit = Arc::clone(in_flight).acquire_owned() => permit,
            };
            // The semaphore is never closed, so acquiring cannot fail; treat it as a local close.
            permit.map_err(|_| CloseReason::Local)?
        }
    };
    waiting.spawn(connection, permit);
    Ok(())
}

/// The peer address of a stream, for logging refused connections.
pub(crate) fn peer_of(stream: &TcpStream) -> Option<SocketAddr> {
    stream.peer_addr().ok()
}
