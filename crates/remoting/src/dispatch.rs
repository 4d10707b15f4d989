//! The dispatch table (request code -> processor) and the per-request task.
//!
//! A request first runs inline on the connection's reader task: a processor whose future
//! completes at its first poll (sends, offset updates, heartbeats, admin calls) costs no task
//! and no thread hop, and its response is written with the others of the same read. A future
//! that has to wait (a long-polled pull) continues in a task of its own, so a slow request
//! never delays the others. Either way the request holds one of the connection's in-flight
//! permits until its response is queued, which bounds concurrent requests per connection.
//!
//! A processor answers a [`Response`]: a command, which the dispatcher finishes and the generic
//! encoder writes, or an [`crate::OutgoingResponse`] that writes its own frame head for the
//! opaque and serialize type the dispatcher gives it (see [`crate::response`]).
//!
//! Invariants (reference 1.4):
//! - a response carries its request's opaque, the response flag and the request's serialize
//!   type (set here on a command; given to a response that encodes itself);
//! - ONEWAY requests are never answered, whatever the processor returns;
//! - an unknown code is answered REQUEST_CODE_NOT_SUPPORTED with remark
//!   `" request type <code> not supported"`;
//! - a panicking processor is answered SYSTEM_ERROR and the connection and server keep running.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::BuildHasherDefault;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};

use ferromq_protocol::command::FLAG_RESPONSE;
use ferromq_protocol::{ReceivedRequest, ReceivedSend, RemotingCommand, ResponseCode, SerializeType};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use crate::connection::Connection;
use crate::pending::OpaqueHasher;
use crate::response::Response;
use crate::writer::OutboundFrame;

/// What a processor sees besides the request: the connection it came on.
#[derive(Clone, Debug)]
pub struct RequestContext {
    connection: Connection,
}

impl RequestContext {
    /// The connection the request arrived on: use it to send requests back to the peer
    /// (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE) or to watch for its close.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The remote end.
    pub fn peer_addr(&self) -> SocketAddr {
        self.connection.peer_addr()
    }
}

/// Handles requests of one or more codes. Returning `None` sends nothing (e.g. when the
/// processor answered through `ctx.connection().send_response` itself).
pub trait RequestProcessor: Send + Sync + 'static {
    /// Processes one request; the response's opaque, flag and serialize type are set (or, for
    /// a response that encodes itself, given) by the dispatcher.
    fn process(&self, ctx: RequestContext, request: RemotingCommand) -> BoxFuture<'static, Option<Response>>;

    /// Processes a send request the connection decoded with the send decoder
    /// ([`ReceivedSend`]: header fields read in place, no ext-field map). By default its
    /// command is rebuilt and given to [`RequestProcessor::process`]; a send processor
    /// overrides this to read the header in place.
    fn process_send(&self, ctx: RequestContext, request: ReceivedSend) -> BoxFuture<'static, Option<Response>> {
        self.process(ctx, request.into_command())
    }
}

/// A processor made from an async closure answering a command ([`Dispatcher::register_fn`]) or
/// anything else that converts into a [`Response`] ([`FnProcessor::new`]).
pub struct FnProcessor<F>(F);

impl<F> FnProcessor<F> {
    /// Wraps `handler`, an async closure answering `Option<R>` with `R: Into<Response>`.
    pub fn new(handler: F) -> Self {
        FnProcessor(handler)
    }
}

impl<F, Fut, R> RequestProcessor for FnProcessor<F>
where
    F: Fn(RequestContext, RemotingCommand) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<R>> + Send + 'static,
    R: Into<Response>,
{
    fn process(&self, ctx: RequestContext, request: RemotingCommand) -> BoxFuture<'static, Option<Response>> {
        (self.0)(ctx, request).map(|response| response.map(Into::into)).boxed()
    }
}

/// Request code -> processor, plus an optional default for every other code. Built once, then
/// shared (`Arc`) by every connection and listener (a broker's main and VIP ports share one).
#[derive(Clone, Default)]
pub struct Dispatcher {
    /// Hashed with one multiplication, as opaques are: the table holds only the codes
    /// registered at start, so a peer's code only looks up and SipHash's defence against
    /// chosen keys buys nothing on this per-request lookup.
    processors: HashMap<i32, Arc<dyn RequestProcessor>, BuildHasherDefault<OpaqueHasher>>,
    default: Option<Arc<dyn RequestProcessor>>,
}

impl Dispatcher {
    /// An empty table: every code is answered REQUEST_CODE_NOT_SUPPORTED.
    pub fn new() -> Self {
        Dispatcher::default()
    }

    /// Routes `code` to `processor`, replacing any previous one.
    pub fn register(&mut self, code: impl Into<i32>, processor: Arc<dyn RequestProcessor>) -> &mut Self {
        self.processors.insert(code.into(), processor);
        self
    }

    /// Routes `code` to an async closure.
    pub fn register_fn<F, Fut>(&mut self, code: impl Into<i32>, handler: F) -> &mut Self
    where
        F: Fn(RequestContext, RemotingCommand) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<RemotingCommand>> + Send + 'static,
    {
        self.register(code, Arc::new(FnProcessor(handler)))
    }

    /// Routes every unregistered code to `processor` (Java's default processor).
    pub fn set_default(&mut self, processor: Arc<dyn RequestProcessor>) -> &mut Self {
        self.default = Some(processor);
        self
    }

    /// The processor for `code`, if any.
    pub fn processor(&self, code: i32) -> Option<&Arc<dyn RequestProcessor>> {
        self.processors.get(&code).or(self.default.as_ref())
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut codes: Vec<i32> = self.processors.keys().copied().collect();
        codes.sort_unstable();
        f.debug_struct("Dispatcher")
            .field("codes", &codes)
            .field("has_default", &self.default.is_some())
            .finish()
    }
}

/// The remark Java sends with REQUEST_CODE_NOT_SUPPORTED.
pub fn not_supported_remark(code: i32) -> String {
    format!(" request type {code} not supported")
}

/// Runs `request`: first inline, on the caller's (the connection reader's) task; if the
/// processor's future completes at once (a send, an offset update, any processor that never
/// waits) its response is queued for the reader's next flush and `None` is returned. If it has
/// to wait (a long-polled pull, a put waiting for a flush), it is returned as a
/// [`WaitingRequest`], which the caller moves to a task of its own once it holds an in-flight
/// permit for it: a slow request never delays the others, and only waiting requests count
/// against the connection's limit (one completing inline takes no permit, so the common case
/// touches no semaphore).
pub(crate) fn run_request(
    connection: &Connection,
    dispatcher: &Dispatcher,
    request: ReceivedRequest,
) -> Option<WaitingRequest> {
    let head = request.head();
    let code = head.code;
    let span = tracing::debug_span!("request", code, opaque = head.opaque);
    let reply = Reply::of(head);
    let mut running = {
        let _entered = span.enter();
        match dispatcher.processor(code) {
            None => {
                tracing::debug!("request code not supported");
                let response = RemotingCommand::response_to(head, ResponseCode::RequestCodeNotSupported)
                    .with_remark(not_supported_remark(code));
                reply.inline(connection, Some(response.into()));
                return None;
            }
            Some(processor) => {
                let ctx = RequestContext {
                    connection: connection.clone(),
                };
                // A panic while building the processor's future is caught like one inside it.
                let start = || match request {
                    ReceivedRequest::Command(command) => processor.process(ctx, command),
                    ReceivedRequest::Send(send) => processor.process_send(ctx, send),
                };
                match std::panic::catch_unwind(AssertUnwindSafe(start)) {
                    Ok(running) => running,
                    Err(panic) => {
                        reply.inline(connection, Some(reply.panicked(panic.as_ref()).into()));
                        return None;
                    }
                }
            }
        }
    };
    // One poll on this task: most processors finish here without ever waiting.
    let first = {
        let _entered = span.enter();
        let waker = futures_util::task::noop_waker_ref();
        let mut cx = Context::from_waker(waker);
        std::panic::catch_unwind(AssertUnwindSafe(|| running.as_mut().poll(&mut cx)))
    };
    match first {
        Ok(Poll::Ready(response)) => reply.inline(connection, response),
        Err(panic) => reply.inline(connection, Some(reply.panicked(panic.as_ref()).into())),
        Ok(Poll::Pending) => return Some(WaitingRequest { running, reply, span }),
    }
    None
}

/// A request whose processor has to wait (see [`run_request`]).
pub(crate) struct WaitingRequest {
    running: BoxFuture<'static, Option<Response>>,
    reply: Reply,
    span: tracing::Span,
}

impl WaitingRequest {
    /// Moves the request to a task of its own, which answers when it completes; `permit` is
    /// held until the response is queued (or the request ended without one).
    pub(crate) fn spawn(self, connection: &Connection, permit: OwnedSemaphorePermit) {
        let WaitingRequest { running, reply, span } = self;
        let connection = connection.clone();
        crate::busy_poll::note_local_wake();
        tokio::spawn(
            async move {
                let _permit = permit;
                let response = match AssertUnwindSafe(running).catch_unwind().await {
                    Ok(response) => response,
                    Err(panic) => Some(reply.panicked(panic.as_ref()).into()),
                };
                if let Some(frame) = reply.finish(response) {
                    if let Err(error) = connection.send_response_frame(frame).await {
                        tracing::debug!(%error, "response not sent");
                    }
                }
            }
            .instrument(span),
        );
    }
}

/// What a response needs from its request: opaque, serialize type, oneway.
#[derive(Clone, Copy)]
struct Reply {
    opaque: i32,
    serialize_type: SerializeType,
    oneway: bool,
}

impl Reply {
    fn of(request: &RemotingCommand) -> Self {
        Reply {
            opaque: request.opaque,
            serialize_type: request.serialize_type,
            oneway: request.is_oneway(),
        }
    }

    /// SYSTEM_ERROR for a panicking processor.
    fn panicked(&self, panic: &(dyn Any + Send)) -> RemotingCommand {
        let reason = panic_message(panic);
        tracing::error!(%reason, "request processor panicked");
        let mut response = RemotingCommand::request_code(ResponseCode::SystemError.as_i32())
            .with_remark(format!("processor panicked: {reason}"));
        response.language = ferromq_protocol::LanguageCode::Java;
        response
    }

    /// The response as sent, encoded: opaque, flag and serialize type of the request; `None`
    /// for oneway (and for a response that cannot be encoded, logged).
    fn finish(&self, response: Option<Response>) -> Option<OutboundFrame> {
        let response = response?;
        if self.oneway {
            tracing::trace!("oneway request: response dropped");
            return None;
        }
        let frame = match response {
            Response::Command(mut command) => {
                command.opaque = self.opaque;
                command.flag |= FLAG_RESPONSE;
                command.serialize_type = self.serialize_type;
                OutboundFrame::encode(command)
            }
            Response::Encoded(encoded) => encoded
                .into_frame(self.opaque, self.serialize_type)
                .map(OutboundFrame::from_response),
        };
        frame
            .map_err(|error| tracing::debug!(%error, "response not sent: unencodable"))
            .ok()
    }

    /// Queues the response of a request that completed on the reader's task.
    fn inline(&self, connection: &Connection, response: Option<Response>) {
        let Some(frame) = self.finish(response) else { return };
        if let Err(error) = connection.push_response(frame) {
            tracing::debug!(%error, "response not sent");
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&'static str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}
