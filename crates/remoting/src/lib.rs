//! # ferromq-remoting
//!
//! Tokio TCP server and client for the RocketMQ remoting protocol (reference sections 1.1, 1.4
//! and 7.1), over the frame codec of `ferromq-protocol`.
//!
//! Components:
//! - [`Connection`] (`connection`, `driver`, `writer`, `reader`, `pending`): one TCP
//!   connection, the same on both sides. A driver task reads and decodes frames (many per read:
//!   adaptive read size), runs requests and writes the responses of those that completed inline
//!   in one vectored write per read; a writer task flushes frames other tasks queue (head + body
//!   segments, bodies never copied); an opaque table matches responses to `invoke`s (on a
//!   client's connection a JSON response travels to its invoke with its header only scanned, a
//!   `ferromq_protocol::ReceivedCommand`: [`RemotingClient::invoke_received`] reads what it
//!   needs, `invoke` decodes it all); per-request timeouts; idle close.
//! - [`Dispatcher`] / [`RequestProcessor`] / [`RequestContext`] (`dispatch`): request code ->
//!   processor; a request is polled once inline on the driver task and moves to a task of its own
//!   only if it has to wait (a long-polled pull), so fast requests cost no task and no thread
//!   hop and slow ones never block the connection; processors may talk back to their peer
//!   through `ctx.connection()`.
//! - [`RemotingServer`] (`server`): bind, accept loop with a connection limit, graceful shutdown
//!   driven by a [`CancellationToken`]. One dispatcher can serve several listeners (a broker's
//!   main port and its VIP port, main − 2).
//! - [`RemotingClient`] (`client`): one lazily opened connection per address, reconnect on the
//!   next call after a close, connect timeout, server-initiated requests routed to its own
//!   dispatcher.
//! - busy polling (`busy_poll`): a reader that ran dry polls its socket for up to
//!   [`config::DEFAULT_BUSY_POLL`] before its worker may sleep, backing off on quiet
//!   connections ([`MAX_SKIPPED_POLLS`]); a request/response exchange then needs no wake-up.
//!   A client connection polls only while at most [`MAX_PENDING_TO_POLL`] invokes wait.
//! - [`batch_end`]: work a request defers to the end of the batch of requests its connection's
//!   reader decoded from one read ([`Connection::defer_to_batch_end`]), run before the batch's
//!   responses are written (the broker publishes a batch's appends with one `pwrite`).
//! - [`OutgoingRequest`] (`request`): what an invoke sends, a command or a request that
//!   encodes its own frame head once it knows its opaque (a producer's send).
//! - [`Response`] / [`OutgoingResponse`] (`response`): what a processor answers, a command or
//!   a response that encodes its own frame head once the dispatcher gives it the request's
//!   opaque and serialize type (a broker's send result).
//! - [`RemotingError`] (`error`), settings (`config`).
//!
//! Limits (all named, all configurable):
//! - frame size: [`MAX_FRAME_BYTES`] (16 MiB); a bigger length word closes the connection
//!   before anything is allocated for it, and read buffers grow only with received bytes;
//! - connections per server: [`config::DEFAULT_MAX_CONNECTIONS`]; extra ones are closed at once;
//! - requests processed at once per connection: [`config::DEFAULT_MAX_IN_FLIGHT_REQUESTS`];
//!   when reached the connection is not read (TCP backpressure), never queued without bound;
//! - requests awaiting a response per connection (opaque table):
//!   [`config::DEFAULT_MAX_PENDING_INVOKES`];
//! - frames queued for a connection's writer: [`config::DEFAULT_WRITE_QUEUE_FRAMES`] (senders
//!   wait for room; inline responses may exceed it by one read's worth, after which the driver
//!   stops reading until the queue drains);
//! - read size per system call: 4 KiB growing to [`MAX_READ_CHUNK_BYTES`] after full reads;
//! - idle close: [`config::DEFAULT_SERVER_IDLE_TIMEOUT`] (120 s, `serverChannelMaxIdleTimeSeconds`);
//! - graceful drain: [`config::DEFAULT_DRAIN_TIMEOUT`]; client connect:
//!   [`config::DEFAULT_CONNECT_TIMEOUT`]; client addresses: [`config::DEFAULT_MAX_CLIENT_CONNECTIONS`].
//!
//! Invariants:
//! - a response carries its request's opaque, `flag | 1` and the request's serialize type
//!   (JSON when the code does not fit a ROCKETMQ header); every frame's header type is read
//!   from that frame, so JSON and ROCKETMQ peers are both served;
//! - ONEWAY requests are never answered; unknown codes get REQUEST_CODE_NOT_SUPPORTED (3) and
//!   the connection stays open; a panicking processor gets SYSTEM_ERROR (1) and the server
//!   keeps serving;
//! - a malformed frame closes only its connection, with exactly one WARN line;
//! - every `invoke` returns by response, timeout or `ConnectionClosed`, and leaves no entry in
//!   the opaque table; a response with an unknown opaque is dropped (debug log);
//! - tracing: one span per connection (id, peer, INFO) and per request (code, opaque, DEBUG:
//!   free unless enabled, as it sits on the per-message path); bodies are never logged.

#![warn(missing_docs)]

pub mod batch_end;
mod busy_poll;
mod client;
pub mod config;
mod connection;
mod dispatch;
mod driver;
mod error;
mod pending;
mod reader;
mod request;
mod response;
mod server;
mod writer;

pub use batch_end::BatchHook;
pub use busy_poll::{note_local_wake, MAX_PENDING_TO_POLL, MAX_SKIPPED_POLLS, YIELD_EVERY};
pub use client::RemotingClient;
pub use config::{ClientConfig, ConfigError, ConnectionConfig, ServerConfig};
pub use connection::Connection;
pub use dispatch::{not_supported_remark, Dispatcher, FnProcessor, RequestContext, RequestProcessor};
pub use driver::MAX_BATCH_FRAMES;
pub use error::RemotingError;
pub use ferromq_protocol::MAX_FRAME_BYTES;
pub use reader::{MAX_READ_CHUNK_BYTES, READ_CHUNK_BYTES};
pub use request::{OutgoingRequest, RequestFrame};
pub use response::{OutgoingResponse, Response, ResponseFrame};
pub use server::{RemotingServer, ACCEPT_ERROR_BACKOFF};
pub use tokio_util::sync::CancellationToken;
pub use writer::MAX_IO_SLICES_PER_WRITE;
