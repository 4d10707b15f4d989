//! [`ReceivedSend`]: a SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE request whose JSON header was
//! decoded by a decoder specialised to the send header, so the per-message path builds no
//! [`ExtFields`] map and reads no fields back out of one: the fourteen short-name fields are
//! located in the header text while it is parsed (their values are not copied; the
//! properties, which hold `\u0001`/`\u0002` escapes, are unescaped once into their own
//! `String`), and [`ReceivedSend::header`] parses them in place.
//!
//! Components:
//! - [`ReceivedSend::decode`]: tries the specialised decoder on a frame (`headerTag | header |
//!   body`); `None` for anything else (other codes, the long names of SEND_MESSAGE, unknown or
//!   repeated keys, null values, escapes outside the properties, whitespace or forms the
//!   header fast path does not take), which the general decoder then decodes as before;
//! - [`ReceivedSend::command`]: the command without its ext fields (code, opaque, flag,
//!   version, language, remark, body);
//! - [`ReceivedSend::header`]: the typed header, borrowed;
//! - [`ReceivedSend::into_command`]: the full command, ext fields rebuilt, for callers that
//!   want a [`RemotingCommand`];
//! - [`ReceivedRequest`]: a request as a server's connection hands it to its dispatcher.
//!
//! Invariants (tested against `decode_command` and `decode_send_request_header_ref` in
//! `received_send_test.rs` over arbitrary send-shaped and mutated headers):
//! - `decode` accepts only frames the general decoder decodes, and then `into_command` is
//!   exactly the general decoder's command;
//! - `header` returns exactly what `decode_send_request_header_ref` returns on that command,
//!   values and errors alike.

use bytes::{Buf, Bytes};
use bytestring::ByteString;

use crate::command::{Body, ExtFields, RemotingCommand, FLAG_RESPONSE};
use crate::header::send_message::SendMessageRequestHeaderRef;
use crate::header::send_message_decode::{header_from_values, FIELDS, PROPERTIES_SLOT, SHORT_NAMES};
use crate::header::HeaderError;
use crate::header_json_fast::{decode_send_fast, SendSlots};
use crate::received::json_header;
use crate::RequestCode;

/// A send request decoded by the specialised decoder. Boxed: it moves from the reader
/// through the dispatcher into the processor's future, a pointer copy each time instead of a
/// ~400-byte copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSend(Box<Decoded>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Decoded {
    /// Everything but the ext fields (empty here).
    command: RemotingCommand,
    /// The JSON header text the slots point into, UTF-8 checked once (by `decode`).
    header: ByteString,
    slots: SendSlots,
}

/// A request as a server's connection hands it to the dispatcher.
#[derive(Debug, Clone)]
pub enum ReceivedRequest {
    /// Decoded by the general decoder.
    Command(RemotingCommand),
    /// A send decoded by the specialised decoder.
    Send(ReceivedSend),
}

impl ReceivedRequest {
    /// The command (ext fields rebuilt for a send).
    pub fn into_command(self) -> RemotingCommand {
        match self {
            ReceivedRequest::Command(command) => command,
            ReceivedRequest::Send(send) => send.into_command(),
        }
    }

    /// The command's fields besides the ext fields (which a send's lacks).
    pub fn head(&self) -> &RemotingCommand {
        match self {
            ReceivedRequest::Command(command) => command,
            ReceivedRequest::Send(send) => send.command(),
        }
    }
}

/// Header prefixes of the codes this decoder takes, in the key order fastjson and FerroMQ
/// write (`code` first); any other start goes to the general decoder untried.
const SEND_PREFIXES: [&[u8]; 2] = [b"{\"code\":310,", b"{\"code\":320,"];

impl ReceivedSend {
    /// Decodes `frame` (`headerTag | header | body`, the length word removed) if it is a JSON
    /// send request the specialised decoder takes.
    pub fn decode(frame: &Bytes) -> Option<Self> {
        let text = json_header(frame)?;
        let header_end = 4 + text.len();
        if !SEND_PREFIXES.iter().any(|prefix| text.starts_with(prefix)) {
            return None;
        }
        let header = ByteString::try_from(frame.slice(4..header_end)).ok()?;
        let (mut command, slots) = decode_send_fast(&header)?;
        let code = RequestCode::from_i32(command.code);
        if command.flag & FLAG_RESPONSE != 0
            || !matches!(code, RequestCode::SendMessageV2 | RequestCode::SendBatchMessage)
        {
            return None;
        }
        let mut body = frame.clone();
        body.advance(header_end);
        command.body = Body::from(body);
        Some(ReceivedSend(Box::new(Decoded { command, header, slots })))
    }

    /// The command without its ext fields.
    pub fn command(&self) -> &RemotingCommand {
        &self.0.command
    }

    /// The header text.
    fn text(&self) -> &str {
        &self.0.header
    }

    /// The value of slot `slot` (`a` = 0 ..) in `text` (the header's), or the properties.
    fn value<'a>(&'a self, text: &'a str, slot: usize) -> Option<&'a str> {
        if slot == PROPERTIES_SLOT {
            return self.0.slots.properties.as_deref();
        }
        // Every span lies between two ASCII quotes: char boundaries.
        let (start, end) = (*self.0.slots.spans.get(slot)?)?;
        text.get(start as usize..end as usize)
    }

    /// The value of ext field `key` (a short name), as the rebuilt command's ext fields hold it.
    pub fn ext_field(&self, key: &str) -> Option<&str> {
        let slot = SHORT_NAMES.iter().position(|name| *name == key)?;
        self.value(self.text(), slot)
    }

    /// The typed header (short names), its strings borrowed.
    pub fn header(&self) -> Result<SendMessageRequestHeaderRef<'_>, HeaderError> {
        let text = self.text();
        let values: [Option<&str>; FIELDS] = std::array::from_fn(|slot| self.value(text, slot));
        header_from_values(values, &SHORT_NAMES)
    }

    /// The full command, its ext fields rebuilt in key order.
    pub fn into_command(self) -> RemotingCommand {
        let mut fields = ExtFields::with_capacity(FIELDS, self.0.header.len());
        let text = self.text();
        for (slot, name) in SHORT_NAMES.iter().enumerate() {
            if let Some(value) = self.value(text, slot) {
                fields.insert(name, value);
            }
        }
        let mut command = self.0.command;
        command.ext_fields = fields;
        command
    }
}

#[cfg(test)]
#[path = "received_send_test.rs"]
mod tests;
