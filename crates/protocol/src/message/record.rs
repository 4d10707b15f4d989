//! The stored message record (reference 4.1): layout, encoder, in-place patching and header peek.
//!
//! A record is also the element of PULL/QUERY/VIEW response bodies. Layout with IPv4 hosts
//! (all integers big-endian):
//!
//! ```text
//!  0 TOTALSIZE i32    4 MAGICCODE i32   8 BODYCRC i32    12 QUEUEID i32    16 FLAG i32
//! 20 QUEUEOFFSET i64 28 PHYSICALOFFSET i64               36 SYSFLAG i32    40 BORNTIMESTAMP i64
//! 48 BORNHOST 4+4 (16+4 if sysFlag 0x10)  56 STORETIMESTAMP i64  64 STOREHOST 4+4 (16+4 if 0x20)
//! 72 RECONSUMETIMES i32  76 PREPARED_TRANSACTION_OFFSET i64  84 BODYLEN i32  88 BODY
//!    TOPICLEN i8 (V1) / i16 (V2), TOPIC, PROPLEN i16, PROPERTIES
//! ```
//!
//! Invariants:
//! - the encoder writes TOTALSIZE, BODYCRC (masked CRC-32 of the body), the magic and the host
//!   bits of SYSFLAG itself, so a record it produces always decodes and passes the CRC check;
//! - V1 is written whenever the topic fits its signed length byte (<= 127 bytes), since 4.9
//!   clients cannot read V2;
//! - [`patch_record`] rewrites only QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP, none of
//!   which the CRC covers, so the store can encode outside its lock and patch under it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::{BufMut, Bytes};

use super::cursor::{i32_at, put_i64_at};
use super::error::MessageError;
use super::hash::masked_crc32;
use super::msg_id::create_offset_msg_id;
use super::properties::{decode_properties, Properties};
use super::sys_flag::{BORNHOST_V6, STOREHOST_V6};

/// Magic of a V1 record (1-byte topic length).
pub const MAGIC_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic of a V2 record (2-byte topic length).
pub const MAGIC_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// Magic of the BLANK marker that fills the end of a CommitLog file.
pub const BLANK_MAGIC: i32 = 0xCBD4_3194_u32 as i32;
/// Bytes of a BLANK marker actually written (TOTALSIZE + MAGICCODE); RocketMQ's
/// `END_FILE_MIN_BLANK_LENGTH`, the space a file must always keep free for it.
pub const BLANK_MARKER_BYTES: usize = 8;

/// Position of TOTALSIZE.
pub const TOTAL_SIZE_POS: usize = 0;
/// Position of MAGICCODE.
pub const MAGIC_POS: usize = 4;
/// Position of BODYCRC.
pub const BODY_CRC_POS: usize = 8;
/// Position of QUEUEID.
pub const QUEUE_ID_POS: usize = 12;
/// Position of FLAG.
pub const FLAG_POS: usize = 16;
/// Position of QUEUEOFFSET (patched by the store).
pub const QUEUE_OFFSET_POS: usize = 20;
/// Position of PHYSICALOFFSET (patched by the store).
pub const PHY_OFFSET_POS: usize = 28;
/// Position of SYSFLAG.
pub const SYS_FLAG_POS: usize = 36;
/// Position of BORNTIMESTAMP.
pub const BORN_TIMESTAMP_POS: usize = 40;
/// Position of BORNHOST.
pub const BORN_HOST_POS: usize = 48;

/// Largest topic of a V1 record: its length byte is a signed Java `byte`.
pub const MAX_TOPIC_BYTES_V1: usize = 127;
/// Largest topic of a V2 record: Java reads its length with `getShort()`, a signed 16-bit value,
/// so 32767 (not 65535) is what every reader understands.
pub const MAX_TOPIC_BYTES_V2: usize = i16::MAX as usize;
/// Largest properties string: its length is a signed 16-bit value.
pub const MAX_PROPERTIES_BYTES: usize = i16::MAX as usize;
/// RocketMQ's default `maxMessageSize` (4 MiB), the usual body limit for [`encode_record`].
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Smallest possible record: IPv4 hosts, V1, empty body, topic and properties.
pub const MIN_RECORD_BYTES: usize = 91;

/// Bytes of a host field: IP (4 or 16) + i32 port.
pub const fn host_len(v6: bool) -> usize {
    if v6 {
        16 + 4
    } else {
        4 + 4
    }
}

/// Position of STORETIMESTAMP (patched by the store); it follows BORNHOST, whose length
/// depends on sysFlag bit 0x10.
pub const fn store_timestamp_pos(sys_flag: i32) -> usize {
    BORN_HOST_POS + host_len(sys_flag & BORNHOST_V6 != 0)
}

/// Position of STOREHOST.
pub const fn store_host_pos(sys_flag: i32) -> usize {
    store_timestamp_pos(sys_flag) + 8
}

/// Position of RECONSUMETIMES.
pub const fn reconsume_times_pos(sys_flag: i32) -> usize {
    store_host_pos(sys_flag) + host_len(sys_flag & STOREHOST_V6 != 0)
}

/// Position of PREPARED_TRANSACTION_OFFSET.
pub const fn prepared_transaction_offset_pos(sys_flag: i32) -> usize {
    reconsume_times_pos(sys_flag) + 4
}

/// Position of BODYLEN (the body starts 4 bytes later).
pub const fn body_len_pos(sys_flag: i32) -> usize {
    prepared_transaction_offset_pos(sys_flag) + 8
}

/// Record format version, told apart by the magic code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageVersion {
    /// Magic `0xDAA320A7`, 1-byte signed topic length.
    V1,
    /// Magic `0xDAA320AB`, 2-byte signed topic length (5.x, long topics).
    V2,
}

impl MessageVersion {
    /// The magic code of this version.
    pub const fn magic(self) -> i32 {
        match self {
            MessageVersion::V1 => MAGIC_V1,
            MessageVersion::V2 => MAGIC_V2,
        }
    }

    /// The version with this magic code, if any.
    pub const fn from_magic(magic: i32) -> Option<Self> {
        match magic {
            MAGIC_V1 => Some(MessageVersion::V1),
            MAGIC_V2 => Some(MessageVersion::V2),
            _ => None,
        }
    }

    /// Bytes of the TOPICLEN field.
    pub const fn topic_len_bytes(self) -> usize {
        match self {
            MessageVersion::V1 => 1,
            MessageVersion::V2 => 2,
        }
    }

    /// Largest topic this version can hold.
    pub const fn max_topic_bytes(self) -> usize {
        match self {
            MessageVersion::V1 => MAX_TOPIC_BYTES_V1,
            MessageVersion::V2 => MAX_TOPIC_BYTES_V2,
        }
    }
}

/// One stored message, as decoded from (or to be encoded into) the record layout.
///
/// The body is a zero-copy slice of the decoded buffer. The properties are kept as the exact
/// string stored, so re-encoding a decoded record reproduces its bytes; [`Self::properties`]
/// parses them. TOTALSIZE is not a field: it is implied by the lengths ([`Self::total_size`]),
/// and decoding rejects a record whose TOTALSIZE disagrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Version read from the magic. The encoder writes V2 when this says V2 or when the topic
    /// is longer than 127 bytes, V1 otherwise.
    pub version: MessageVersion,
    /// BODYCRC as read. The encoder ignores it and writes the CRC of `body`.
    pub body_crc: i32,
    /// Queue id within the topic.
    pub queue_id: i32,
    /// User flag (`Message.flag`).
    pub flag: i32,
    /// Logical offset in the ConsumeQueue.
    pub queue_offset: i64,
    /// CommitLog offset of this record.
    pub phy_offset: i64,
    /// Message sysFlag. The encoder sets bits 0x10/0x20 from the host address families.
    pub sys_flag: i32,
    /// Producer timestamp, ms.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker clock at append, ms.
    pub store_timestamp: i64,
    /// Broker address.
    pub store_host: SocketAddr,
    /// Times this message was re-delivered.
    pub reconsume_times: i32,
    /// CommitLog offset of the half message, for COMMIT/ROLLBACK records.
    pub prepared_transaction_offset: i64,
    /// The body, possibly compressed (sysFlag 0x1).
    pub body: Bytes,
    /// Topic name.
    pub topic: String,
    /// Encoded properties string (reference 4.2).
    pub properties: String,
}

impl MessageRecord {
    /// A record of `topic` with `body` and its `body_crc`, everything else zero, empty
    /// properties and hosts `0.0.0.0:0`; callers then set the fields they know.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        let mut record = Self::to_encode(topic, body);
        record.body_crc = masked_crc32(&record.body);
        record
    }

    /// [`MessageRecord::new`] without the body's CRC (`body_crc` 0), for a record that is only
    /// encoded: [`encode_record`] writes BODYCRC from the body whatever the field says, so a
    /// broker's put computes it once, not twice.
    pub fn to_encode(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        let body = body.into();
        let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        MessageRecord {
            version: MessageVersion::V1,
            body_crc: 0,
            queue_id: 0,
            flag: 0,
            queue_offset: 0,
            phy_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: unspecified,
            store_timestamp: 0,
            store_host: unspecified,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body,
            topic: topic.into(),
            properties: String::new(),
        }
    }

    /// The parsed properties.
    pub fn properties(&self) -> Properties {
        decode_properties(&self.properties)
    }

    /// The offsetMsgId of this record: its store host and CommitLog offset.
    pub fn offset_msg_id(&self) -> String {
        create_offset_msg_id(self.store_host, self.phy_offset)
    }

    /// The version the encoder writes: V2 if asked or if the topic needs it.
    pub fn encoded_version(&self) -> MessageVersion {
        if self.version == MessageVersion::V2 || self.topic.len() > MAX_TOPIC_BYTES_V1 {
            MessageVersion::V2
        } else {
            MessageVersion::V1
        }
    }

    /// sysFlag as encoded: host bits from the address families, other bits as given.
    pub fn encoded_sys_flag(&self) -> i32 {
        let mut flag = self.sys_flag & !(BORNHOST_V6 | STOREHOST_V6);
        if self.born_host.is_ipv6() {
            flag |= BORNHOST_V6;
        }
        if self.store_host.is_ipv6() {
            flag |= STOREHOST_V6;
        }
        flag
    }

    /// Length of the encoded record (its TOTALSIZE), saturating on absurd sizes (which the
    /// encoder then rejects).
    pub fn total_size(&self) -> usize {
        body_len_pos(self.encoded_sys_flag())
            .saturating_add(4)
            .saturating_add(self.body.len())
            .saturating_add(self.encoded_version().topic_len_bytes())
            .saturating_add(self.topic.len())
            .saturating_add(2)
            .saturating_add(self.properties.len())
    }

    /// Checks every limit; returns the TOTALSIZE to write.
    fn validate(&self, max_body_bytes: usize) -> Result<i32, MessageError> {
        if self.body.len() > max_body_bytes {
            return Err(MessageError::BodyTooLarge {
                len: self.body.len(),
                max: max_body_bytes,
            });
        }
        let max_topic = self.encoded_version().max_topic_bytes();
        if self.topic.len() > max_topic {
            return Err(MessageError::TopicTooLong {
                len: self.topic.len(),
                max: max_topic,
            });
        }
        if self.properties.len() > MAX_PROPERTIES_BYTES {
            return Err(MessageError::PropertiesTooLong {
                len: self.properties.len(),
                max: MAX_PROPERTIES_BYTES,
            });
        }
        let len = self.total_size();
        i32::try_from(len).map_err(|_| MessageError::RecordTooLarge { len })
    }
}

/// Appends `record` to `dst` in the stored layout and returns its length (TOTALSIZE).
///
/// Writes BODYCRC computed from the body, the magic of [`MessageRecord::encoded_version`] and
/// the sysFlag of [`MessageRecord::encoded_sys_flag`]. Nothing is written on error.
pub fn encode_record<B: BufMut>(
    record: &MessageRecord,
    max_body_bytes: usize,
    dst: &mut B,
) -> Result<usize, MessageError> {
    let total_size = record.validate(max_body_bytes)?;
    ensure_room(dst, record.total_size())?;
    let version = record.encoded_version();
    // validate() bounded each length by an i32/i16 limit, so these conversions are lossless.
    let body_len = record.body.len() as i32;
    let props_len = record.properties.len() as i16;
    dst.put_i32(total_size);
    dst.put_i32(version.magic());
    dst.put_i32(masked_crc32(&record.body));
    dst.put_i32(record.queue_id);
    dst.put_i32(record.flag);
    dst.put_i64(record.queue_offset);
    dst.put_i64(record.phy_offset);
    dst.put_i32(record.encoded_sys_flag());
    dst.put_i64(record.born_timestamp);
    put_host(dst, record.born_host);
    dst.put_i64(record.store_timestamp);
    put_host(dst, record.store_host);
    dst.put_i32(record.reconsume_times);
    dst.put_i64(record.prepared_transaction_offset);
    dst.put_i32(body_len);
    dst.put_slice(&record.body);
    match version {
        MessageVersion::V1 => dst.put_i8(record.topic.len() as i8),
        MessageVersion::V2 => dst.put_i16(record.topic.len() as i16),
    }
    dst.put_slice(record.topic.as_bytes());
    dst.put_i16(props_len);
    dst.put_slice(record.properties.as_bytes());
    Ok(record.total_size())
}

/// Fails unless `dst` can take `len` more bytes (a `&mut [u8]` destination has a fixed room;
/// `BufMut` would panic on overflow).
pub(crate) fn ensure_room<B: BufMut>(dst: &B, len: usize) -> Result<(), MessageError> {
    let available = dst.remaining_mut();
    if available < len {
        return Err(MessageError::Truncated {
            what: "output buffer",
            needed: len,
            available,
        });
    }
    Ok(())
}

fn put_host<B: BufMut>(dst: &mut B, host: SocketAddr) {
    match host.ip() {
        IpAddr::V4(ip) => dst.put_slice(&ip.octets()),
        IpAddr::V6(ip) => dst.put_slice(&ip.octets()),
    }
    dst.put_i32(i32::from(host.port()));
}

/// The BLANK end-of-file marker: TOTALSIZE = `total_size` (the space it stands for, up to the
/// end of the file) and the BLANK magic.
pub fn encode_blank(total_size: i32) -> [u8; BLANK_MARKER_BYTES] {
    let [a, b, c, d] = total_size.to_be_bytes();
    let [e, f, g, h] = BLANK_MAGIC.to_be_bytes();
    [a, b, c, d, e, f, g, h]
}

/// Rewrites QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP of the encoded record at the start of
/// `record`, leaving every other byte (and so the body CRC) unchanged.
///
/// Checks the magic, and that TOTALSIZE covers the patched fields and fits in `record`.
pub fn patch_record(
    record: &mut [u8],
    queue_offset: i64,
    phy_offset: i64,
    store_timestamp: i64,
) -> Result<(), MessageError> {
    let header = peek_record_header(record)?;
    match header.kind() {
        RecordKind::Message(_) => {}
        RecordKind::Blank => {
            return Err(MessageError::BlankRecord {
                total_size: header.total_size,
            })
        }
        RecordKind::EndOfData | RecordKind::Garbage => return Err(MessageError::BadMagic { magic: header.magic }),
    }
    let invalid_size = MessageError::InvalidTotalSize {
        total_size: header.total_size,
        available: record.len(),
    };
    let total = usize::try_from(header.total_size).map_err(|_| invalid_size.clone())?;
    let sys_flag = i32_at(record, SYS_FLAG_POS).ok_or(invalid_size.clone())?;
    if total > record.len() || total < body_len_pos(sys_flag) + 4 {
        return Err(invalid_size);
    }
    // The size checks above guarantee the three positions are in bounds.
    let ok = put_i64_at(record, QUEUE_OFFSET_POS, queue_offset)
        && put_i64_at(record, PHY_OFFSET_POS, phy_offset)
        && put_i64_at(record, store_timestamp_pos(sys_flag), store_timestamp);
    debug_assert!(ok, "patch positions are inside a validated record");
    Ok(())
}

#[cfg(test)]
#[path = "record_test.rs"]
mod tests;

/// The first two words of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// TOTALSIZE as stored.
    pub total_size: i32,
    /// MAGICCODE as stored.
    pub magic: i32,
}

/// What a [`RecordHeader`] says is at this position of a CommitLog file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A message record of this version (its body may still be corrupt).
    Message(MessageVersion),
    /// The BLANK end-of-file marker: the rest of the file is unused.
    Blank,
    /// Both words are zero: the end of the written data of a preallocated file.
    EndOfData,
    /// Anything else: a torn or corrupt write.
    Garbage,
}

impl RecordHeader {
    /// Classifies the header by its magic (and zeros).
    pub fn kind(&self) -> RecordKind {
        if let Some(version) = MessageVersion::from_magic(self.magic) {
            return RecordKind::Message(version);
        }
        match (self.total_size, self.magic) {
            (_, BLANK_MAGIC) => RecordKind::Blank,
            (0, 0) => RecordKind::EndOfData,
            _ => RecordKind::Garbage,
        }
    }
}

/// Reads TOTALSIZE and MAGICCODE from the start of `buf` without validating anything else.
pub fn peek_record_header(buf: &[u8]) -> Result<RecordHeader, MessageError> {
    match (i32_at(buf, TOTAL_SIZE_POS), i32_at(buf, MAGIC_POS)) {
        (Some(total_size), Some(magic)) => Ok(RecordHeader { total_size, magic }),
        _ => Err(MessageError::Truncated {
            what: "record header",
            needed: 8,
            available: buf.len(),
        }),
    }
}
