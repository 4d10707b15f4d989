//! The dispatch table (request code -> processor) and the per-request task.
//!
//! Every incoming request runs in its own task so a slow one (a long-polled pull) never delays
//! the others. The task holds one of the connection's in-flight permits until its response is
//! queued, which is what bounds concurrent requests per connection.
//!
//! Invariants (reference 1.4):
//! - a response carries its request's opaque, the response flag and the request's serialize type;
//! - ONEWAY requests are never answered, whatever the processor returns;
//! - an unknown code is answered REQUEST_CODE_NOT_SUPPORTED with remark
//!   `" request type <code> not supported"`;
//! - a panicking processor is answered SYSTEM_ERROR and the connection and server keep running.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use ferromq_protocol::command::FLAG_RESPONSE;
use ferromq_protocol::{RemotingCommand, ResponseCode};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use crate::connection::Connection;

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
    /// Processes one request; the response's opaque, flag and serialize type are set by the
    /// dispatcher.
    fn process(&self, ctx: RequestContext, request: RemotingCommand) -> BoxFuture<'static, Option<RemotingCommand>>;
}

/// A processor made from an async closure (see [`Dispatcher::register_fn`]).
pub struct FnProcessor<F>(F);

impl<F, Fut> RequestProcessor for FnProcessor<F>
where
    F: Fn(RequestContext, RemotingCommand) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<RemotingCommand>> + Send + 'static,
{
    fn process(&self, ctx: RequestContext, request: RemotingCommand) -> BoxFuture<'static, Option<RemotingCommand>> {
        (self.0)(ctx, request).boxed()
    }
}

/// Request code -> processor, plus an optional default for every other code. Built once, then
/// shared (`Arc`) by every connection and listener (a broker's main and VIP ports share one).
#[derive(Clone, Default)]
pub struct Dispatcher {
    processors: HashMap<i32, Arc<dyn RequestProcessor>>,
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

/// Runs `request` in its own task; the permit is released once the response is queued.
pub(crate) fn spawn_request(
    connection: Connection,
    dispatcher: Arc<Dispatcher>,
    request: RemotingCommand,
    permit: OwnedSemaphorePermit,
) {
    let span = tracing::info_span!("request", code = request.code, opaque = request.opaque);
    tokio::spawn(
        async move {
            let _permit = permit;
            let oneway = request.is_oneway();
            let mut template = RemotingCommand::response_to(&request, ResponseCode::SystemError);
            let response = match dispatcher.processor(request.code) {
                None => {
                    tracing::debug!("request code not supported");
                    template.code = ResponseCode::RequestCodeNotSupported.as_i32();
                    Some(template.clone().with_remark(not_supported_remark(request.code)))
                }
                Some(processor) => {
                    let ctx = RequestContext {
                        connection: connection.clone(),
                    };
                    let processor = Arc::clone(processor);
                    // The call itself runs inside the guarded future, so a panic while building
                    // the processor's future is caught too.
                    let run = async move { processor.process(ctx, request).await };
                    match AssertUnwindSafe(run).catch_unwind().await {
                        Ok(response) => response,
                        Err(panic) => {
                            let reason = panic_message(panic.as_ref());
                            tracing::error!(%reason, "request processor panicked");
                            Some(template.clone().with_remark(format!("processor panicked: {reason}")))
                        }
                    }
                }
            };
            let Some(mut response) = response else { return };
            if oneway {
                tracing::trace!("oneway request: response dropped");
                return;
            }
            response.opaque = template.opaque;
            response.flag |= FLAG_RESPONSE;
            response.serialize_type = template.serialize_type;
            if let Err(error) = connection.send_response(response).await {
                tracing::debug!(%error, "response not sent");
            }
        }
        .instrument(span),
    );
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
