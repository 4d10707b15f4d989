//! [`ReceivedCommand`]: a command as a connection's reader hands it on — decoded, or, for a
//! JSON response in the common header shape, only scanned, so that the waiting side decodes
//! just what it reads (a producer reads the code and a few ext fields of each SEND response,
//! and never pays for the `ExtFields` arena, the remark or the command it would fill).
//!
//! Components:
//! - [`ReceivedCommand::decode`]: from a frame without its length word; with
//!   `scan_responses` (a client's connection), a JSON response whose header passes the scan
//!   (`header_json_scan`) stays undecoded; without it (a server's), a JSON send request the
//!   send decoder takes becomes a [`ReceivedSend`] (`received_send`); everything else (other
//!   requests, ROCKETMQ headers, unusual JSON) is decoded in full at once, exactly as
//!   [`crate::frame::decode_command`] does;
//! - accessors that read a scanned header without building anything: [`ReceivedCommand::code`],
//!   [`ReceivedCommand::opaque`], [`ReceivedCommand::flag`], [`ReceivedCommand::remark`],
//!   [`ReceivedCommand::ext_fields_of`], [`ReceivedCommand::raw_ext_fields`];
//! - [`ReceivedCommand::into_command`]: the full decode, for callers that want a
//!   [`RemotingCommand`]; [`ReceivedCommand::into_request`]: what a server's dispatcher takes
//!   (a [`ReceivedSend`] stays one).
//!
//! Invariants:
//! - every accessor answers what the same accessor of the fully decoded command answers
//!   (`received_test.rs` checks it on arbitrary headers against `decode_json_header`);
//! - a header the scan accepted also decodes, so [`ReceivedCommand::into_command`] of a
//!   scanned response fails only if that invariant is broken (a malformed frame is still
//!   refused by `decode` itself, where it closes the connection as before).

use std::borrow::Cow;

use bytes::{Buf, Bytes};

use crate::command::{Body, LanguageCode, RemotingCommand, SerializeType, FLAG_RESPONSE};
use crate::error::CodecError;
use crate::frame::decode_command;
use crate::header_json::decode_json_header;
use crate::header_json_scan::{scan_json_head, JsonHead};
use crate::received_send::{ReceivedRequest, ReceivedSend};

pub use crate::header_json_scan::{RawFields as RawExtFields, RawStr, MAX_RECORDED_FIELDS};

/// A received command: decoded, or a JSON response whose header was only scanned.
#[derive(Debug, Clone)]
pub struct ReceivedCommand {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Decoded(RemotingCommand),
    Scanned(Scanned),
    Send(ReceivedSend),
}

#[derive(Debug, Clone)]
struct Scanned {
    head: JsonHead,
    /// `headerTag | header | body`, as received.
    frame: Bytes,
    header_len: usize,
}

impl Scanned {
    /// The JSON header text.
    fn header(&self) -> &[u8] {
        self.frame.get(4..4 + self.header_len).unwrap_or_default()
    }
}

impl From<RemotingCommand> for ReceivedCommand {
    fn from(command: RemotingCommand) -> Self {
        ReceivedCommand {
            repr: Repr::Decoded(command),
        }
    }
}

impl ReceivedCommand {
    /// Reads a frame whose length word was removed (`headerTag | header | body`). With
    /// `scan_responses`, a JSON response in the common header shape is kept undecoded;
    /// anything else is decoded as [`decode_command`] does (and fails as it fails).
    pub fn decode(frame: Bytes, scan_responses: bool) -> Result<Self, CodecError> {
        if scan_responses {
            if let Some((head, header_len)) = Self::scan(&frame) {
                return Ok(ReceivedCommand {
                    repr: Repr::Scanned(Scanned {
                        head,
                        frame,
                        header_len,
                    }),
                });
            }
        } else if let Some(send) = ReceivedSend::decode(&frame) {
            return Ok(ReceivedCommand { repr: Repr::Send(send) });
        }
        decode_command(frame).map(Self::from)
    }

    /// The scanned head of a JSON response frame and its header length, if its header passes
    /// the scan.
    fn scan(frame: &[u8]) -> Option<(JsonHead, usize)> {
        let header = json_header(frame)?;
        let head = scan_json_head(header)?;
        (head.flag & FLAG_RESPONSE != 0).then_some((head, header.len()))
    }

    /// True when the header was only scanned (not decoded yet).
    pub fn is_scanned(&self) -> bool {
        matches!(self.repr, Repr::Scanned(_))
    }

    /// Request or response code.
    pub fn code(&self) -> i32 {
        match &self.repr {
            Repr::Decoded(command) => command.code,
            Repr::Scanned(scanned) => scanned.head.code,
            Repr::Send(send) => send.command().code,
        }
    }

    /// The request id.
    pub fn opaque(&self) -> i32 {
        match &self.repr {
            Repr::Decoded(command) => command.opaque,
            Repr::Scanned(scanned) => scanned.head.opaque,
            Repr::Send(send) => send.command().opaque,
        }
    }

    /// Flags (bit 0 response, bit 1 oneway).
    pub fn flag(&self) -> i32 {
        match &self.repr {
            Repr::Decoded(command) => command.flag,
            Repr::Scanned(scanned) => scanned.head.flag,
            Repr::Send(send) => send.command().flag,
        }
    }

    /// Sender's version.
    pub fn version(&self) -> i32 {
        match &self.repr {
            Repr::Decoded(command) => command.version,
            Repr::Scanned(scanned) => scanned.head.version,
            Repr::Send(send) => send.command().version,
        }
    }

    /// Sender's language.
    pub fn language(&self) -> LanguageCode {
        match &self.repr {
            Repr::Decoded(command) => command.language,
            Repr::Scanned(scanned) => scanned.head.language,
            Repr::Send(send) => send.command().language,
        }
    }

    /// True for responses (flag bit 0).
    pub fn is_response(&self) -> bool {
        self.flag() & FLAG_RESPONSE != 0
    }

    /// The code as a response code.
    pub fn response_code_enum(&self) -> crate::ResponseCode {
        crate::ResponseCode::from_i32(self.code())
    }

    /// The remark, decoded now (borrowed from the header when it holds no escapes).
    pub fn remark(&self) -> Option<Cow<'_, str>> {
        match &self.repr {
            Repr::Decoded(command) => command.remark.as_deref().map(Cow::Borrowed),
            Repr::Send(send) => send.command().remark.as_deref().map(Cow::Borrowed),
            Repr::Scanned(scanned) => scanned
                .head
                .remark
                .as_ref()
                .map(|span| span.get(scanned.header()).decode()),
        }
    }

    /// The values of `keys` in the ext fields, as [`RemotingCommand::ext_field`] would return
    /// them: a repeated key reads its last non-null value. A scanned header is read in one
    /// pass; values are borrowed unless they hold escapes.
    pub fn ext_fields_of<const N: usize>(&self, keys: [&str; N]) -> [Option<Cow<'_, str>>; N] {
        match &self.repr {
            Repr::Decoded(command) => keys.map(|key| command.ext_fields.get(key).map(Cow::Borrowed)),
            Repr::Send(send) => keys.map(|key| send.ext_field(key).map(Cow::Borrowed)),
            Repr::Scanned(scanned) => {
                let mut values: [Option<Cow<'_, str>>; N] = std::array::from_fn(|_| None);
                for (key, value) in scanned.head.fields(scanned.header()) {
                    // A null value drops only its own occurrence, as the decoders do.
                    let Some(value) = value else { continue };
                    if let Some(slot) = keys
                        .iter()
                        .position(|wanted| key.eq_str(wanted))
                        .and_then(|i| values.get_mut(i))
                    {
                        *slot = Some(value.decode());
                    }
                }
                values
            }
        }
    }

    /// The ext-field pairs of a scanned header in wire order (nulls and repeats included);
    /// `None` for a decoded command (read its [`RemotingCommand::ext_fields`] instead).
    pub fn raw_ext_fields(&self) -> Option<RawExtFields<'_>> {
        match &self.repr {
            Repr::Decoded(_) | Repr::Send(_) => None,
            Repr::Scanned(scanned) => Some(scanned.head.fields(scanned.header())),
        }
    }

    /// The request as the dispatcher takes it: a send the specialised decoder read, or the
    /// whole command (decoded now if it was only scanned).
    pub fn into_request(self) -> Result<ReceivedRequest, CodecError> {
        match self.repr {
            Repr::Send(send) => Ok(ReceivedRequest::Send(send)),
            repr => ReceivedCommand { repr }.into_command().map(ReceivedRequest::Command),
        }
    }

    /// The whole command, its header decoded now if it was only scanned.
    pub fn into_command(self) -> Result<RemotingCommand, CodecError> {
        match self.repr {
            Repr::Decoded(command) => Ok(command),
            Repr::Send(send) => Ok(send.into_command()),
            Repr::Scanned(scanned) => {
                let mut command = decode_json_header(scanned.header())?;
                let mut body = scanned.frame;
                body.advance(scanned.header_len.saturating_add(4).min(body.len()));
                command.body = Body::from(body);
                Ok(command)
            }
        }
    }
}

/// The header text of `frame` (`headerTag | header | body`) if its tag says JSON and the
/// header fits in the frame.
pub(crate) fn json_header(frame: &[u8]) -> Option<&[u8]> {
    let &[type_byte, b1, b2, b3] = frame.get(0..4)? else {
        return None;
    };
    if SerializeType::from_u8(type_byte) != Some(SerializeType::Json) {
        return None;
    }
    let header_len = usize::from(b1) << 16 | usize::from(b2) << 8 | usize::from(b3);
    frame.get(4..header_len.checked_add(4)?)
}

#[cfg(test)]
#[path = "received_test.rs"]
mod tests;
