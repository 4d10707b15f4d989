//! # ferromq-protocol
//!
//! The RocketMQ "remoting" wire protocol and message formats, without IO.
//!
//! Components:
//! - [`frame`]: incremental frame decoder and encoder (16 MiB limit);
//! - [`command`]: [`RemotingCommand`] and its parts (language, flags, ext fields, body);
//! - [`ext_fields`]: [`ExtFields`], the custom header map kept in one text arena;
//! - [`header_json`] / [`header_binary`]: the two header serializations;
//! - [`code`]: request and response codes;
//! - [`header`]: typed request/response headers over ext fields;
//! - [`body`]: JSON bodies (routes, registration, heartbeats, stats…) with fastjson quirks;
//! - [`message`]: stored message record, properties, batch body, message ids, Java hash, CRC;
//! - [`received`]: [`ReceivedCommand`], a received frame whose JSON response header is only
//!   scanned (`header_json_scan.rs`) until its reader asks for more.
//!
//! Invariants:
//! - decoding never panics and never allocates more than the frame limit, whatever the input;
//! - a partial frame is `Ok(None)`, never an error;
//! - `decode(encode(x)) == x` for every command the encoder accepts.

pub mod body;
pub mod code;
pub mod command;
pub mod error;
pub mod ext_fields;
pub mod frame;
pub mod header;
pub mod header_binary;
pub mod header_json;
mod header_json_fast;
mod header_json_scan;
mod json_cursor;
pub mod message;
pub mod received;
pub mod received_send;
#[cfg(test)]
mod test_json;

pub use code::{RequestCode, ResponseCode};
pub use command::{Body, ExtFields, LanguageCode, RemotingCommand, SerializeType};
pub use error::CodecError;
pub use frame::{decode_frame, decode_frame_received, encode_frame, MAX_FRAME_BYTES};
pub use received::ReceivedCommand;
pub use received_send::{ReceivedRequest, ReceivedSend};
