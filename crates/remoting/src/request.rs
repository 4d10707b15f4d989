//! [`OutgoingRequest`]: what an invoke sends. A [`RemotingCommand`] is one; so is any request
//! that writes its own frame head once it knows its opaque, such as a producer's send, which
//! writes its SEND_MESSAGE_V2 header straight into the frame instead of building ext fields
//! for the generic encoder first.
//!
//! Contract of an implementation: the head it returns is one whole frame head (length word
//! covering head and body, header tag, header) of a request that expects a response: it
//! carries the given opaque and neither the response nor the oneway flag.

use bytes::Bytes;
use ferromq_protocol::command::{Body, FLAG_ONEWAY, FLAG_RESPONSE};
use ferromq_protocol::frame::encode_head_bytes;
use ferromq_protocol::{CodecError, RemotingCommand};

/// One request's encoded frame: its head and its body segments (sent without copying).
#[derive(Debug)]
pub struct RequestFrame {
    /// Length word, header tag and header.
    pub head: Bytes,
    /// The body, as the length word counts it.
    pub body: Body,
}

/// A request an invoke can send; see the module contract.
pub trait OutgoingRequest: Send {
    /// Encodes the request with `opaque`.
    fn into_frame(self, opaque: i32) -> Result<RequestFrame, CodecError>;
}

impl OutgoingRequest for RemotingCommand {
    fn into_frame(mut self, opaque: i32) -> Result<RequestFrame, CodecError> {
        self.opaque = opaque;
        self.flag &= !(FLAG_RESPONSE | FLAG_ONEWAY);
        let head = encode_head_bytes(&self)?;
        Ok(RequestFrame {
            head,
            body: std::mem::take(&mut self.body),
        })
    }
}
