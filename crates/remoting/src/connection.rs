//! `Connection`: the handle to one TCP connection, shared by server and client sides.
//!
//! A connection runs two tasks (see [`crate::driver`]): the driver reads and decodes frames,
//! completes waiting invokes with responses, runs requests (inline when they complete at once,
//! else as tasks of their own) and writes inline responses itself; the writer task flushes
//! frames other tasks queue (see [`crate::writer`]). The handle is cheap to clone; it sends requests
//! (`invoke`, `invoke_oneway`), responses (`send_response`) and exposes the peer address, a
//! process-unique id and a close notification.
//!
//! Invariants:
//! - every invoke ends by its response, its timeout, or `ConnectionClosed`, whichever is first
//!   (the timeout comes from the opaque table's expiry loop, see [`crate::pending`]); its
//!   opaque-table entry is gone when it returns (or is dropped);
//! - requests sent by `invoke` never carry the response flag; responses always carry it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferromq_protocol::command::{FLAG_ONEWAY, FLAG_RESPONSE};
use ferromq_protocol::{ReceivedCommand, RemotingCommand};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::batch_end::{BatchHook, BatchHooks};
use crate::error::RemotingError;
use crate::pending::{Callback, Ended, Expired, InsertError, PendingGuard, PendingTable, Reply, ReplyTo};
use crate::request::OutgoingRequest;
use crate::writer::{Outbound, OutboundFrame};

/// Source of connection ids, unique within the process.
static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

/// Opaques tried before giving up when the counter keeps landing on pending requests (only
/// possible when the table is nearly full after a wrap-around).
const MAX_OPAQUE_ATTEMPTS: usize = 16;

/// Handle to one connection; clones share it.
#[derive(Clone)]
pub struct Connection {
    pub(crate) shared: Arc<Shared>,
}

/// State shared by the handle, the driver, the writer and request tasks.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) outbound: Outbound,
    pub(crate) pending: PendingTable,
    pub(crate) next_opaque: Arc<AtomicI32>,
    /// Cancelled to close the connection now (`close()`, client shutdown, server abort).
    pub(crate) abort: CancellationToken,
    /// Cancelled once the connection is fully closed.
    pub(crate) closed: CancellationToken,
    pub(crate) bytes_read: AtomicU64,
    /// Work deferred to the end of the reader's current batch of requests.
    pub(crate) batch: BatchHooks,
}

impl Connection {
    pub(crate) fn new_shared(
        peer: SocketAddr,
        local: SocketAddr,
        outbound: Outbound,
        max_pending_invokes: usize,
        next_opaque: Arc<AtomicI32>,
        abort: CancellationToken,
    ) -> Self {
        Connection {
            shared: Arc::new(Shared {
                id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
                peer,
                local,
                outbound,
                pending: PendingTable::new(max_pending_invokes),
                next_opaque,
                abort,
                closed: CancellationToken::new(),
                bytes_read: AtomicU64::new(0),
                batch: BatchHooks::default(),
            }),
        }
    }

    /// Process-unique id of this connection.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The remote end.
    pub fn peer_addr(&self) -> SocketAddr {
        self.shared.peer
    }

    /// Our end.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// True once the connection is closed (or closing by `close()`).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.is_cancelled() || self.shared.abort.is_cancelled()
    }

    /// Completes when the connection is fully closed: both tasks ended, waiting invokes failed.
    pub async fn closed(&self) {
        self.shared.closed.cancelled().await;
    }

    /// Closes the connection now: queued frames are dropped, waiting invokes fail.
    pub fn close(&self) {
        self.shared.abort.cancel();
    }

    /// Requests this side sent and still waits for.
    pub fn pending_invokes(&self) -> usize {
        self.shared.pending.len()
    }

    /// Bytes read from the peer so far.
    pub fn bytes_read(&self) -> u64 {
        self.shared.bytes_read.load(Ordering::Relaxed)
    }

    /// Runs `hook` once at the end of the batch of requests the reader is running (before
    /// their responses are written), or now if it is not running one; see
    /// [`crate::batch_end`].
    pub fn defer_to_batch_end(&self, hook: &BatchHook) {
        self.shared.batch.defer(hook);
    }

    fn closed_error(&self) -> RemotingError {
        RemotingError::ConnectionClosed { peer: self.shared.peer }
    }

    /// Sends `request` with a fresh opaque and waits up to `timeout` for its response.
    /// The whole call, queueing included, is bounded by `timeout`.
    pub async fn invoke(&self, request: RemotingCommand, timeout: Duration) -> Result<RemotingCommand, RemotingError> {
        let response = self.invoke_until(request, Instant::now() + timeout, timeout).await?;
        Ok(response.into_command()?)
    }

    /// `invoke` bounded by `deadline`, answering the response as received (a JSON response
    /// on a client connection with its header only scanned); a timeout reports `timeout` (the
    /// caller's whole budget).
    pub(crate) async fn invoke_until(
        &self,
        request: impl OutgoingRequest,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<ReceivedCommand, RemotingError> {
        let table = &self.shared.pending;
        let (opaque, response) = self.register_opaque(deadline)?;
        let _guard = PendingGuard { table, opaque };
        let frame = OutboundFrame::from_request(request.into_frame(opaque)?);
        let timed_out = || RemotingError::Timeout {
            opaque,
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        };
        // A lone request is written at once; with others in flight it joins the queue, and
        // the writer task sends them together. Only a full queue makes the request wait (for
        // room, until its deadline), on a boxed path: the common case arms no timer.
        let lone = table.len() == 1;
        let outbound = &self.shared.outbound;
        if let Some(frame) = outbound.try_send(frame, lone).map_err(|_| self.closed_error())? {
            Box::pin(tokio::time::timeout_at(deadline, outbound.send(frame)))
                .await
                .map_err(|_| timed_out())?
                .map_err(|_| self.closed_error())?;
        }
        // The table's expiry loop answers `Expired` once the deadline passes.
        match response.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(Expired)) => Err(timed_out()),
            Err(_) => Err(self.closed_error()),
        }
    }

    /// Sends `request` with a fresh opaque and returns once it is queued for writing; `on_reply`
    /// gets the response, or the error that ended the invoke, exactly once: the connection's
    /// reader calls it with the response, the expiry loop with `Timeout` (reporting `timeout`,
    /// the caller's whole budget) once `deadline` passes, the closing driver with
    /// `ConnectionClosed`, or this call with the error that kept the request from being
    /// queued. It runs on those tasks, so it must be quick and must not block or panic.
    ///
    /// Nothing waits on a pending invoke of this kind: no task, no channel, no reply future;
    /// a producer's async send is one.
    pub async fn invoke_with<F>(&self, request: impl OutgoingRequest, deadline: Instant, timeout: Duration, on_reply: F)
    where
        F: FnOnce(Result<ReceivedCommand, RemotingError>) + Send + 'static,
    {
        let peer = self.shared.peer;
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let callback: Callback = Box::new(move |opaque, reply| {
            on_reply(reply.map_err(|ended| match ended {
                Ended::Expired => RemotingError::Timeout { opaque, timeout_ms },
                Ended::Closed => RemotingError::ConnectionClosed { peer },
                Ended::Failed(error) => error,
            }));
        });
        let table = &self.shared.pending;
        let opaque = match self.register(ReplyTo::Callback(callback), deadline) {
            Ok(opaque) => opaque,
            Err((error, ReplyTo::Callback(callback))) => return callback(0, Err(Ended::Failed(error))),
            Err((_, ReplyTo::Channel(_))) => unreachable!("a callback was registered"),
        };
        let frame = match request.into_frame(opaque) {
            Ok(frame) => OutboundFrame::from_request(frame),
            Err(error) => return table.fail(opaque, RemotingError::Codec(error)),
        };
        let outbound = &self.shared.outbound;
        match outbound.try_send(frame, table.len() == 1) {
            Ok(None) => {}
            // A full queue: wait for room until the deadline, on a boxed path (the common case
            // arms no timer); the expiry loop ends the entry if the deadline passes first.
            Ok(Some(frame)) => {
                if let Ok(Err(_)) = Box::pin(tokio::time::timeout_at(deadline, outbound.send(frame))).await {
                    table.abandon(opaque);
                }
            }
            Err(_) => table.abandon(opaque),
        }
    }

    fn register_opaque(
        &self,
        deadline: Instant,
    ) -> Result<(i32, tokio::sync::oneshot::Receiver<Reply>), RemotingError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        match self.register(ReplyTo::Channel(tx), deadline) {
            Ok(opaque) => Ok((opaque, rx)),
            Err((error, _)) => Err(error),
        }
    }

    /// Enters `to` into the opaque table under a fresh opaque (skipping opaques still pending
    /// after a wrap-around); a refusal comes back with the waiter, which took no opaque.
    fn register(&self, mut to: ReplyTo, deadline: Instant) -> Result<i32, (RemotingError, ReplyTo)> {
        let table = &self.shared.pending;
        let too_many = || RemotingError::TooManyInFlight { limit: table.limit() };
        for _ in 0..MAX_OPAQUE_ATTEMPTS {
            let opaque = self.shared.next_opaque.fetch_add(1, Ordering::Relaxed);
            match table.insert_waiter(opaque, to, deadline) {
                Ok(()) => return Ok(opaque),
                Err((InsertError::Duplicate, back)) => to = back,
                Err((InsertError::Full, back)) => return Err((too_many(), back)),
                Err((InsertError::Closed, back)) => return Err((self.closed_error(), back)),
            }
        }
        Err((too_many(), to))
    }

    /// Sends `request` as ONEWAY (never answered) with a fresh opaque; returns once it is queued
    /// for writing, waiting at most `timeout` for room in the queue.
    pub async fn invoke_oneway(&self, mut request: RemotingCommand, timeout: Duration) -> Result<(), RemotingError> {
        let opaque = self.shared.next_opaque.fetch_add(1, Ordering::Relaxed);
        request.opaque = opaque;
        request.flag = (request.flag & !FLAG_RESPONSE) | FLAG_ONEWAY;
        self.enqueue(request, opaque, timeout).await
    }

    /// Sends a response (the response flag is set here), waiting for room in the write queue
    /// as long as the connection lives: the queue is bounded, so this is the backpressure path
    /// of request processing.
    pub async fn send_response(&self, mut response: RemotingCommand) -> Result<(), RemotingError> {
        response.flag |= FLAG_RESPONSE;
        self.send_response_frame(OutboundFrame::encode(response)?).await
    }

    /// [`Connection::send_response`] of an encoded response frame (the dispatcher's).
    pub(crate) async fn send_response_frame(&self, frame: OutboundFrame) -> Result<(), RemotingError> {
        self.shared.outbound.send(frame).await.map_err(|_| self.closed_error())
    }

    /// Queues an encoded response frame without waiting and without writing: for the
    /// connection's reader, which flushes once it has handled every complete frame of its
    /// buffer.
    pub(crate) fn push_response(&self, frame: OutboundFrame) -> Result<(), RemotingError> {
        self.shared
            .outbound
            .push_response(frame)
            .map_err(|_| self.closed_error())
    }

    async fn enqueue(&self, command: RemotingCommand, opaque: i32, timeout: Duration) -> Result<(), RemotingError> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let frame = OutboundFrame::encode(command)?;
        match tokio::time::timeout(timeout, self.shared.outbound.send(frame)).await {
            Ok(sent) => sent.map_err(|_| self.closed_error()),
            Err(_) => Err(RemotingError::Timeout {
                opaque,
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.shared.id)
            .field("peer", &self.shared.peer)
            .field("local", &self.shared.local)
            .field("closed", &self.is_closed())
            .finish()
    }
}
