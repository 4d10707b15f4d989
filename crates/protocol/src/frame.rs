//! Remoting frame codec (reference 1.1): `i32 length | i32 headerTag | header | body`.
//!
//! `length` counts everything after itself; `headerTag` carries the serialize type in its
//! top byte and the header length in the low 24 bits. Decoding is incremental: a partial
//! frame yields `Ok(None)` and nothing is allocated beyond the frame limit, whatever the
//! length word claims.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::command::{Body, RemotingCommand, SerializeType};
use crate::error::CodecError;
use crate::header_binary::{decode_binary_header, encode_binary_header, fits_binary_header};
use crate::header_json::{decode_json_header, encode_json_header};
use crate::received::ReceivedCommand;

/// Largest frame accepted, counting the length word (Netty `maxFrameLength`, 16 MiB).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Most room reserved at once for the rest of a partial frame.
pub const PARTIAL_FRAME_RESERVE_BYTES: usize = 64 * 1024;

/// Largest header length the 24-bit field can express.
pub const MAX_HEADER_BYTES: usize = 0xFF_FFFF;

/// Decodes one frame from the front of `src`, consuming it. `Ok(None)` means more bytes are
/// needed; the buffer then has room reserved for at most [`PARTIAL_FRAME_RESERVE_BYTES`] more
/// (it grows with what arrives, never beyond `max_frame_bytes`). The body is a zero-copy slice of `src`'s allocation.
pub fn decode_frame(src: &mut BytesMut, max_frame_bytes: usize) -> Result<Option<RemotingCommand>, CodecError> {
    match split_frame(src, max_frame_bytes)? {
        Some(frame) => decode_command(frame).map(Some),
        None => Ok(None),
    }
}

/// [`decode_frame`] for a connection's reader: with `scan_responses`, a JSON response in the
/// common header shape is only scanned (see [`ReceivedCommand`]); same checks, same errors.
pub fn decode_frame_received(
    src: &mut BytesMut,
    max_frame_bytes: usize,
    scan_responses: bool,
) -> Result<Option<ReceivedCommand>, CodecError> {
    match split_frame(src, max_frame_bytes)? {
        Some(frame) => ReceivedCommand::decode(frame, scan_responses).map(Some),
        None => Ok(None),
    }
}

/// Takes one whole frame off the front of `src` without its length word, or reserves room
/// for the rest of a partial one (see [`decode_frame`]).
fn split_frame(src: &mut BytesMut, max_frame_bytes: usize) -> Result<Option<Bytes>, CodecError> {
    let Some(len_bytes) = src.get(0..4) else {
        return Ok(None);
    };
    let len = i32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
    if len < 4 {
        return Err(CodecError::FrameTooShort { len });
    }
    // len >= 4 here, so the conversion cannot fail on any supported platform.
    let len = usize::try_from(len).map_err(|_| CodecError::FrameTooShort { len })?;
    let total = len.checked_add(4).ok_or(CodecError::FrameTooLarge {
        len: len as u64,
        max: max_frame_bytes,
    })?;
    if total > max_frame_bytes {
        return Err(CodecError::FrameTooLarge {
            len: len as u64,
            max: max_frame_bytes,
        });
    }
    if src.len() < total {
        // Grow with the bytes that actually arrive: a peer announcing a large frame and
        // then stalling must not pin `total` bytes per connection.
        src.reserve((total - src.len()).min(PARTIAL_FRAME_RESERVE_BYTES));
        return Ok(None);
    }
    let mut frame = src.split_to(total).freeze();
    frame.advance(4);
    Ok(Some(frame))
}

/// Decodes a frame whose length word was already removed: `headerTag | header | body`.
pub fn decode_command(mut frame: Bytes) -> Result<RemotingCommand, CodecError> {
    let frame_len = frame.len();
    if frame_len < 4 {
        return Err(CodecError::FrameTooShort {
            len: i32::try_from(frame_len).unwrap_or(i32::MAX),
        });
    }
    let tag = frame.get_u32();
    let type_byte = (tag >> 24) as u8;
    let header_len = (tag & 0xFF_FFFF) as usize;
    if header_len > frame_len - 4 {
        return Err(CodecError::HeaderTooLong { header_len, frame_len });
    }
    let serialize_type = SerializeType::from_u8(type_byte).ok_or(CodecError::UnknownSerializeType(type_byte))?;
    let header = frame.split_to(header_len);
    let mut cmd = match serialize_type {
        SerializeType::Json => decode_json_header(&header)?,
        SerializeType::RocketMq => decode_binary_header(&header)?,
    };
    cmd.body = Body::from(frame);
    Ok(cmd)
}

/// The serialization actually used for `cmd`: ROCKETMQ falls back to JSON when the code or
/// version does not fit its i16 fields (POP codes).
pub fn effective_serialize_type(cmd: &RemotingCommand) -> SerializeType {
    match cmd.serialize_type {
        SerializeType::RocketMq if fits_binary_header(cmd) => SerializeType::RocketMq,
        _ => SerializeType::Json,
    }
}

/// Room for the header of `cmd` in either serialization (JSON escapes aside), so that it is
/// written with one allocation.
fn header_capacity(cmd: &RemotingCommand) -> usize {
    let remark = cmd.remark.as_ref().map_or(0, String::len);
    160 + remark + cmd.ext_fields.text_len() + 6 * cmd.ext_fields.len()
}

/// Writes the length word, header tag and header of `cmd` into `dst`, but not the body,
/// so that the caller can send body segments with a vectored write.
pub fn encode_head(cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<(), CodecError> {
    let serialize_type = effective_serialize_type(cmd);
    let mut header = Vec::with_capacity(header_capacity(cmd));
    match serialize_type {
        SerializeType::Json => encode_json_header(cmd, &mut header),
        SerializeType::RocketMq => encode_binary_header(cmd, &mut header)?,
    }
    if header.len() > MAX_HEADER_BYTES {
        return Err(CodecError::Unencodable("header longer than 16 MiB"));
    }
    let len = 4usize
        .checked_add(header.len())
        .and_then(|n| n.checked_add(cmd.body.len()))
        .and_then(|n| i32::try_from(n).ok())
        .ok_or(CodecError::Unencodable("frame longer than i32::MAX"))?;
    dst.reserve(8 + header.len());
    dst.put_i32(len);
    // header.len() <= MAX_HEADER_BYTES, so it fits the low 24 bits.
    dst.put_u32((u32::from(serialize_type.as_u8()) << 24) | header.len() as u32);
    dst.put_slice(&header);
    Ok(())
}

/// The length word, header tag and header of `cmd` as one buffer (one allocation), for
/// callers that send the body segments separately with a vectored write.
pub fn encode_head_bytes(cmd: &RemotingCommand) -> Result<Bytes, CodecError> {
    let serialize_type = effective_serialize_type(cmd);
    let mut out = Vec::with_capacity(8 + header_capacity(cmd));
    out.extend_from_slice(&[0u8; HEAD_PREFIX_BYTES]);
    match serialize_type {
        SerializeType::Json => encode_json_header(cmd, &mut out),
        SerializeType::RocketMq => encode_binary_header(cmd, &mut out)?,
    }
    finish_head(out, serialize_type, cmd.body.len())
}

/// Bytes before a frame's header: the length word and the header tag.
pub const HEAD_PREFIX_BYTES: usize = 8;

/// Completes a frame head written as [`HEAD_PREFIX_BYTES`] placeholder bytes followed by a
/// header serialized as `serialize_type`: fills in the length word (header plus `body_len`
/// body bytes) and the header tag. For senders that write a header of their own shape.
pub fn finish_head(mut out: Vec<u8>, serialize_type: SerializeType, body_len: usize) -> Result<Bytes, CodecError> {
    let header_len = out
        .len()
        .checked_sub(HEAD_PREFIX_BYTES)
        .ok_or(CodecError::Unencodable("frame head shorter than its prefix"))?;
    if header_len > MAX_HEADER_BYTES {
        return Err(CodecError::Unencodable("header longer than 16 MiB"));
    }
    let len = 4usize
        .checked_add(header_len)
        .and_then(|n| n.checked_add(body_len))
        .and_then(|n| i32::try_from(n).ok())
        .ok_or(CodecError::Unencodable("frame longer than i32::MAX"))?;
    // header_len <= MAX_HEADER_BYTES, so it fits the low 24 bits.
    let tag = (u32::from(serialize_type.as_u8()) << 24) | header_len as u32;
    let prefix = len.to_be_bytes().into_iter().chain(tag.to_be_bytes());
    for (slot, byte) in out.iter_mut().zip(prefix) {
        *slot = byte;
    }
    Ok(Bytes::from(out))
}

/// Encodes the whole frame (head and body, copied) into `dst`.
pub fn encode_frame(cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<(), CodecError> {
    encode_head(cmd, dst)?;
    dst.reserve(cmd.body.len());
    for segment in cmd.body.segments() {
        dst.put_slice(segment);
    }
    Ok(())
}

/// Convenience: the whole frame as one buffer.
pub fn encode_to_bytes(cmd: &RemotingCommand) -> Result<Bytes, CodecError> {
    let mut dst = BytesMut::new();
    encode_frame(cmd, &mut dst)?;
    Ok(dst.freeze())
}

#[cfg(test)]
#[path = "frame_test.rs"]
mod tests;
