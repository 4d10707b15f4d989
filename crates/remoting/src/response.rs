//! [`Response`]: what a processor answers. Usually a [`RemotingCommand`], which the dispatcher
//! finishes (opaque, response flag, the request's serialize type) and the writer encodes with
//! the generic encoder; or an [`OutgoingResponse`] that writes its own frame head once the
//! dispatcher gives it the opaque and the serialize type, such as a broker's send result,
//! which writes its SEND_MESSAGE response header straight into the frame instead of building
//! ext fields for the generic encoder first (the response side of [`crate::OutgoingRequest`]).
//!
//! Contract of an [`OutgoingResponse`]: the head it returns is one whole frame head (length
//! word covering head and body, header tag, header) of a response: it carries the given
//! opaque, the response flag and not the oneway flag, and its header is in the given
//! serialization (or JSON where the generic encoder falls back to JSON for it). Its bytes are
//! those the generic encoder writes for the same response as a command: peers cannot tell the
//! two paths apart. Oneway requests are never answered, whichever kind the processor returns.

use bytes::Bytes;
use ferromq_protocol::command::Body;
use ferromq_protocol::{CodecError, RemotingCommand, SerializeType};

/// One response's encoded frame: its head and its body segments (sent without copying).
#[derive(Debug)]
pub struct ResponseFrame {
    /// Length word, header tag and header.
    pub head: Bytes,
    /// The body, as the length word counts it.
    pub body: Body,
}

/// A response that encodes its own frame head; see the module contract.
pub trait OutgoingResponse: Send {
    /// The response code (for the caller's metrics and logs).
    fn code(&self) -> i32;

    /// Encodes the response to a request with `opaque`, whose header was serialized as
    /// `serialize_type`.
    fn into_frame(self: Box<Self>, opaque: i32, serialize_type: SerializeType) -> Result<ResponseFrame, CodecError>;
}

/// What a processor answers: a command, or a response that encodes its own head.
pub enum Response {
    /// A command; the dispatcher sets its opaque, response flag and serialize type.
    Command(RemotingCommand),
    /// A response writing its own frame head for the opaque and serialize type the
    /// dispatcher gives it.
    Encoded(Box<dyn OutgoingResponse>),
}

impl Response {
    /// The response code.
    pub fn code(&self) -> i32 {
        match self {
            Response::Command(command) => command.code,
            Response::Encoded(encoded) => encoded.code(),
        }
    }
}

impl From<RemotingCommand> for Response {
    fn from(command: RemotingCommand) -> Self {
        Response::Command(command)
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Response::Command(command) => f.debug_tuple("Command").field(command).finish(),
            Response::Encoded(encoded) => f.debug_struct("Encoded").field("code", &encoded.code()).finish(),
        }
    }
}
