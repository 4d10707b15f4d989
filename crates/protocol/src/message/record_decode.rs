//! Decoding of stored message records (reference 4.1), one or many back to back.
//!
//! Invariants: never panics and never reads past TOTALSIZE, whatever the input; every length is
//! checked against the bytes left; TOTALSIZE must equal the length implied by the fields; the
//! body is a zero-copy slice of the input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{Buf, Bytes};

use super::cursor::Cursor;
use super::error::MessageError;
use super::hash::masked_crc32;
use super::record::{peek_record_header, MessageRecord, MessageVersion, RecordKind, MIN_RECORD_BYTES};
use super::sys_flag::{born_host_v6, store_host_v6};

/// Decodes the record at the start of `buf` (which may hold more after it). With `check_crc`,
/// a body whose masked CRC-32 differs from BODYCRC is [`MessageError::CrcMismatch`].
pub fn decode_record(buf: &Bytes, check_crc: bool) -> Result<MessageRecord, MessageError> {
    decode_sized(buf, check_crc).map(|(record, _)| record)
}

/// [`decode_record`], also returning the record's length (its TOTALSIZE, at most `buf.len()`).
fn decode_sized(buf: &Bytes, check_crc: bool) -> Result<(MessageRecord, usize), MessageError> {
    let header = peek_record_header(buf)?;
    let version = match header.kind() {
        RecordKind::Message(version) => version,
        RecordKind::Blank => {
            return Err(MessageError::BlankRecord {
                total_size: header.total_size,
            })
        }
        RecordKind::EndOfData | RecordKind::Garbage => return Err(MessageError::BadMagic { magic: header.magic }),
    };
    let invalid_size = || MessageError::InvalidTotalSize {
        total_size: header.total_size,
        available: buf.len(),
    };
    let total = usize::try_from(header.total_size).map_err(|_| invalid_size())?;
    let record = buf.get(..total).ok_or_else(invalid_size)?;

    let mut c = Cursor::new(record);
    c.take(8, "record header")?;
    let body_crc = c.i32("body CRC")?;
    let queue_id = c.i32("queue id")?;
    let flag = c.i32("flag")?;
    let queue_offset = c.i64("queue offset")?;
    let phy_offset = c.i64("physical offset")?;
    let sys_flag = c.i32("sys flag")?;
    let born_timestamp = c.i64("born timestamp")?;
    let born_host = read_host(&mut c, born_host_v6(sys_flag), "born host")?;
    let store_timestamp = c.i64("store timestamp")?;
    let store_host = read_host(&mut c, store_host_v6(sys_flag), "store host")?;
    let reconsume_times = c.i32("reconsume times")?;
    let prepared_transaction_offset = c.i64("prepared transaction offset")?;
    let body_len = c.len_i32("body")?;
    let body_range = c.take(body_len, "body")?;
    let topic_len = match version {
        MessageVersion::V1 => {
            let len = c.i8("topic length")?;
            usize::try_from(len).map_err(|_| MessageError::NegativeLength {
                what: "topic",
                len: i32::from(len),
            })?
        }
        MessageVersion::V2 => c.len_i16("topic")?,
    };
    let topic_range = c.take(topic_len, "topic")?;
    let props_len = c.len_i16("properties")?;
    let props_range = c.take(props_len, "properties")?;
    if c.position() != total {
        return Err(MessageError::SizeMismatch {
            total_size: header.total_size,
            content_len: c.position(),
        });
    }

    let topic = utf8(record.get(topic_range), "topic")?;
    let properties = utf8(record.get(props_range), "properties")?;
    let body = buf.slice(body_range);
    if check_crc {
        let computed = masked_crc32(&body);
        if computed != body_crc {
            return Err(MessageError::CrcMismatch {
                stored: body_crc,
                computed,
            });
        }
    }
    let record = MessageRecord {
        version,
        body_crc,
        queue_id,
        flag,
        queue_offset,
        phy_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        topic,
        properties,
    };
    Ok((record, total))
}

fn utf8(bytes: Option<&[u8]>, what: &'static str) -> Result<String, MessageError> {
    let bytes = bytes.ok_or(MessageError::Truncated {
        what,
        needed: 0,
        available: 0,
    })?;
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| MessageError::InvalidUtf8 { what })
}

fn read_host(c: &mut Cursor<'_>, v6: bool, what: &'static str) -> Result<SocketAddr, MessageError> {
    let ip = if v6 {
        IpAddr::V6(Ipv6Addr::from(c.array::<16>(what)?))
    } else {
        IpAddr::V4(Ipv4Addr::from(c.array::<4>(what)?))
    };
    let port = c.i32(what)?;
    let port = u16::try_from(port).map_err(|_| MessageError::InvalidPort { what, port })?;
    Ok(SocketAddr::new(ip, port))
}

/// Decodes N records back to back (a PULL response body), lazily.
///
/// Yields each record in order; after the first error it yields that error and stops, since
/// nothing after a bad TOTALSIZE can be trusted.
pub fn decode_records(buf: &Bytes, check_crc: bool) -> RecordIter {
    RecordIter {
        rest: buf.clone(),
        check_crc,
        failed: false,
    }
}

/// Iterator returned by [`decode_records`].
#[derive(Debug, Clone)]
pub struct RecordIter {
    rest: Bytes,
    check_crc: bool,
    failed: bool,
}

impl Iterator for RecordIter {
    type Item = Result<MessageRecord, MessageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let result = decode_sized(&self.rest, self.check_crc).map(|(record, size)| {
            // decode_sized checked that TOTALSIZE fits in `rest`.
            self.rest.advance(size.min(self.rest.len()));
            record
        });
        self.failed = result.is_err();
        Some(result)
    }
}

/// How many records a PULL body holds, by following the TOTALSIZE words (without validating
/// the records): an allocation hint, never more than `buf.len()` / the smallest record size.
pub fn count_records(buf: &[u8]) -> usize {
    let mut pos = 0usize;
    let mut count = 0usize;
    while let Some(total) = buf.get(pos..).and_then(|rest| peek_record_header(rest).ok()) {
        let Some(end) = usize::try_from(total.total_size)
            .ok()
            .filter(|size| *size >= MIN_RECORD_BYTES)
            .and_then(|size| pos.checked_add(size))
            .filter(|end| *end <= buf.len())
        else {
            break;
        };
        count += 1;
        pos = end;
    }
    count
}

#[cfg(test)]
#[path = "record_decode_test.rs"]
mod tests;
