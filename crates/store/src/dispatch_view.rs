//! [`RecordView`]: the fields dispatch needs, read from a CommitLog record in place.
//!
//! Dispatch runs once per stored message, so it does not build an owned `MessageRecord`
//! (topic and properties `String`s, host addresses): it borrows topic and properties from the
//! record bytes. The checks are those of `decode_record` without CRC: every length in bounds and
//! non-negative, ports in range, UTF-8 topic and properties, and the fields ending exactly at
//! TOTALSIZE.

use ferromq_protocol::message::{sys_flag, MessageVersion};

/// The dispatch-relevant fields of one record, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordView<'a> {
    pub queue_id: i32,
    pub queue_offset: i64,
    pub phy_offset: i64,
    pub sys_flag: i32,
    pub store_timestamp: i64,
    pub topic: &'a str,
    pub properties: &'a str,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| format!("{what}: length overflow"))?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| format!("{what}: truncated (need {n} bytes at {})", self.pos))?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], String> {
        let b = self.take(N, what)?;
        b.try_into().map_err(|_| format!("{what}: truncated"))
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, String> {
        self.array::<4>(what).map(i32::from_be_bytes)
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, String> {
        self.array::<8>(what).map(i64::from_be_bytes)
    }

    fn len(&mut self, what: &'static str, bytes: usize) -> Result<usize, String> {
        let v = match bytes {
            1 => i64::from(i8::from_be_bytes(self.array::<1>(what)?)),
            2 => i64::from(i16::from_be_bytes(self.array::<2>(what)?)),
            _ => i64::from(self.i32(what)?),
        };
        usize::try_from(v).map_err(|_| format!("{what}: negative length {v}"))
    }

    fn host(&mut self, v6: bool, what: &'static str) -> Result<(), String> {
        self.take(if v6 { 16 } else { 4 }, what)?;
        let port = self.i32(what)?;
        u16::try_from(port).map_err(|_| format!("{what}: invalid port {port}"))?;
        Ok(())
    }

    fn utf8(&mut self, n: usize, what: &'static str) -> Result<&'a str, String> {
        std::str::from_utf8(self.take(n, what)?).map_err(|_| format!("{what}: invalid UTF-8"))
    }
}

/// `N` big-endian bytes at `at` of `buf`.
#[inline]
fn field<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// A length field at `at` of `N` bytes (1, 2 or 4), signed as the record format stores it;
/// `None` when negative.
#[inline]
fn length<const N: usize>(buf: &[u8], at: usize) -> Option<usize> {
    let bytes = buf.get(at..at.checked_add(N)?)?;
    let v = match *bytes {
        [b] => i64::from(i8::from_be_bytes([b])),
        [b0, b1] => i64::from(i16::from_be_bytes([b0, b1])),
        [b0, b1, b2, b3] => i64::from(i32::from_be_bytes([b0, b1, b2, b3])),
        _ => return None,
    };
    usize::try_from(v).ok()
}

/// Bytes of a host field (address and port) at `at`; `None` when the port is out of range.
#[inline]
fn host(buf: &[u8], at: usize, v6: bool) -> Option<usize> {
    let addr = if v6 { 16 } else { 4 };
    let port = i32::from_be_bytes(field::<4>(buf, at + addr)?);
    u16::try_from(port).ok()?;
    Some(addr + 4)
}

impl<'a> RecordView<'a> {
    /// Reads the record of `total_size` bytes at the start of `buf` (a message record of
    /// `version`, as its header said).
    ///
    /// Dispatch reads every stored record this way, so the common case takes one pass of
    /// direct reads at computed positions ([`RecordView::parse_fast`]); only a record it
    /// refuses goes through the field-by-field reader, which names what is wrong (and gives
    /// the same verdict, see the tests).
    pub fn parse(buf: &'a [u8], total_size: i32, version: MessageVersion) -> Result<Self, String> {
        match Self::parse_fast(buf, total_size, version) {
            Some(view) => Ok(view),
            None => Self::parse_checked(buf, total_size, version),
        }
    }

    /// [`RecordView::parse`] without error detail: `None` for anything the checked reader
    /// would refuse.
    #[inline]
    fn parse_fast(buf: &'a [u8], total_size: i32, version: MessageVersion) -> Option<Self> {
        let total = usize::try_from(total_size).ok().filter(|t| *t > 0)?;
        let buf = buf.get(..total)?;
        let queue_id = i32::from_be_bytes(field(buf, 12)?);
        let queue_offset = i64::from_be_bytes(field(buf, 20)?);
        let phy_offset = i64::from_be_bytes(field(buf, 28)?);
        let flag = i32::from_be_bytes(field(buf, 36)?);
        // Born timestamp (8 bytes) at 40, then the born host.
        let mut at = 48;
        at += host(buf, at, sys_flag::born_host_v6(flag))?;
        let store_timestamp = i64::from_be_bytes(field(buf, at)?);
        at += 8;
        at += host(buf, at, sys_flag::store_host_v6(flag))?;
        // Reconsume times (4) and prepared transaction offset (8).
        at += 12;
        let body_len = length::<4>(buf, at)?;
        at = at.checked_add(4 + body_len)?;
        let (topic_len, width) = match version {
            MessageVersion::V1 => (length::<1>(buf, at)?, 1),
            MessageVersion::V2 => (length::<2>(buf, at)?, 2),
        };
        at += width;
        let topic = std::str::from_utf8(buf.get(at..at.checked_add(topic_len)?)?).ok()?;
        at += topic_len;
        let props_len = length::<2>(buf, at)?;
        at += 2;
        let properties = std::str::from_utf8(buf.get(at..at.checked_add(props_len)?)?).ok()?;
        (at + props_len == total).then_some(RecordView {
            queue_id,
            queue_offset,
            phy_offset,
            sys_flag: flag,
            store_timestamp,
            topic,
            properties,
        })
    }

    /// The field-by-field reader: every check, each failure named.
    fn parse_checked(buf: &'a [u8], total_size: i32, version: MessageVersion) -> Result<Self, String> {
        let total = usize::try_from(total_size)
            .ok()
            .filter(|t| *t > 0 && *t <= buf.len())
            .ok_or_else(|| format!("invalid total size {total_size} ({} bytes available)", buf.len()))?;
        let mut r = Reader {
            buf: buf.get(..total).unwrap_or_default(),
            pos: 8,
        };
        r.take(4, "body CRC")?;
        let queue_id = r.i32("queue id")?;
        r.take(4, "flag")?;
        let queue_offset = r.i64("queue offset")?;
        let phy_offset = r.i64("physical offset")?;
        let flag = r.i32("sys flag")?;
        r.take(8, "born timestamp")?;
        r.host(sys_flag::born_host_v6(flag), "born host")?;
        let store_timestamp = r.i64("store timestamp")?;
        r.host(sys_flag::store_host_v6(flag), "store host")?;
        r.take(4 + 8, "reconsume times / prepared offset")?;
        let body_len = r.len("body", 4)?;
        r.take(body_len, "body")?;
        let topic_len = match version {
            MessageVersion::V1 => r.len("topic", 1)?,
            MessageVersion::V2 => r.len("topic", 2)?,
        };
        let topic = r.utf8(topic_len, "topic")?;
        let props_len = r.len("properties", 2)?;
        let properties = r.utf8(props_len, "properties")?;
        if r.pos != total {
            return Err(format!("total size {total} but fields end at {}", r.pos));
        }
        Ok(RecordView {
            queue_id,
            queue_offset,
            phy_offset,
            sys_flag: flag,
            store_timestamp,
            topic,
            properties,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use bytes::BytesMut;
    use ferromq_protocol::message::{decode_record, encode_record, MessageRecord, DEFAULT_MAX_MESSAGE_BYTES};
    use proptest::prelude::*;

    fn record(topic: &str, props: &str, v6: bool) -> MessageRecord {
        let mut r = MessageRecord::new(topic, Bytes::from_static(b"hello body"));
        r.queue_id = 7;
        r.queue_offset = 42;
        r.phy_offset = 4096;
        r.store_timestamp = 1_700_000_000_123;
        r.properties = props.into();
        if v6 {
            r.sys_flag |= sys_flag::BORNHOST_V6 | sys_flag::STOREHOST_V6;
            r.born_host = "[::1]:10911".parse().unwrap_or(r.born_host);
            r.store_host = "[::1]:10911".parse().unwrap_or(r.store_host);
        }
        r
    }

    fn encode(r: &MessageRecord) -> Bytes {
        let mut buf = BytesMut::new();
        encode_record(r, DEFAULT_MAX_MESSAGE_BYTES, &mut buf).unwrap();
        buf.freeze()
    }

    fn view_of(bytes: &[u8]) -> Result<RecordView<'_>, String> {
        let header = ferromq_protocol::message::peek_record_header(bytes).map_err(|e| e.to_string())?;
        match header.kind() {
            ferromq_protocol::message::RecordKind::Message(v) => RecordView::parse(bytes, header.total_size, v),
            other => Err(format!("{other:?}")),
        }
    }

    // Goal: the in-place view reads the same fields as the owning decoder. Method: encode records
    // (IPv4 and IPv6 hosts) and compare the view with `decode_record`.
    #[test]
    fn view_matches_decode_record_for_v4_and_v6_hosts() {
        for v6 in [false, true] {
            let r = record("TopicA", "TAGS\u{1}t\u{2}KEYS\u{1}k1 k2\u{2}", v6);
            let bytes = encode(&r);
            let d = decode_record(&bytes, false).unwrap();
            let v = view_of(&bytes).unwrap();
            assert_eq!(
                (v.queue_id, v.queue_offset, v.phy_offset, v.sys_flag, v.store_timestamp),
                (d.queue_id, d.queue_offset, d.phy_offset, d.sys_flag, d.store_timestamp)
            );
            assert_eq!((v.topic, v.properties), (d.topic.as_str(), d.properties.as_str()));
        }
    }

    // Goal: a record whose fields do not end at TOTALSIZE is rejected, as by the decoder.
    // Method: grow TOTALSIZE by one byte of padding.
    #[test]
    fn view_rejects_size_mismatch() {
        let bytes = encode(&record("T", "", false));
        let mut v = bytes.to_vec();
        v.push(0);
        let total = i32::try_from(v.len()).unwrap();
        v[0..4].copy_from_slice(&total.to_be_bytes());
        assert!(view_of(&v).is_err());
        assert!(decode_record(&Bytes::from(v.clone()), false).is_err());
    }

    proptest! {
        // Goal: arbitrary bytes never panic, the view accepts exactly what the decoder accepts,
        // and the fast reader returns exactly what the checked one does. Method: random
        // mutations of a valid record.
        #[test]
        fn view_agrees_with_decoder_on_mutated_records(
            pos in 0usize..120, byte in any::<u8>(), cut in 0usize..130,
        ) {
            let bytes = encode(&record("TopicA", "UNIQ_KEY\u{1}u\u{2}", false));
            let mut v = bytes.to_vec();
            if let Some(b) = v.get_mut(pos) { *b = byte; }
            v.truncate(v.len().saturating_sub(cut % 8 * (cut / 64)));
            let owned = decode_record(&Bytes::from(v.clone()), false);
            let view = view_of(&v);
            prop_assert_eq!(owned.is_ok(), view.is_ok());
            if let Ok(header) = ferromq_protocol::message::peek_record_header(&v) {
                if let ferromq_protocol::message::RecordKind::Message(version) = header.kind() {
                    let fast = RecordView::parse_fast(&v, header.total_size, version);
                    let checked = RecordView::parse_checked(&v, header.total_size, version);
                    prop_assert_eq!(fast, checked.ok());
                }
            }
        }

        // Goal: the fast reader and the checked reader agree on every record shape (IPv4 and
        // IPv6 hosts, V1 and V2 topic lengths, any topic and properties) and on any single-byte
        // change or cut anywhere in it. Method: generated records, one byte set at a random
        // position, a random cut, both readers on the result.
        #[test]
        fn fast_reader_equals_checked_reader(
            topic in "[A-Za-z0-9%_-]{1,40}", props in "[ -~\u{1}\u{2}é]{0,80}", v6 in any::<bool>(),
            v2 in any::<bool>(), pos in any::<prop::sample::Index>(), byte in any::<u8>(),
            mutate in any::<bool>(), cut in 0usize..4,
        ) {
            let bytes = encode(&record(&topic, &props, v6));
            let mut v = bytes.to_vec();
            if mutate {
                let at = pos.index(v.len());
                v[at] = byte;
            }
            v.truncate(v.len() - cut.min(v.len()));
            let version = if v2 { MessageVersion::V2 } else { MessageVersion::V1 };
            let total = ferromq_protocol::message::peek_record_header(&v).map_or(i32::try_from(v.len()).unwrap_or(0), |h| h.total_size);
            prop_assert_eq!(
                RecordView::parse_fast(&v, total, version),
                RecordView::parse_checked(&v, total, version).ok()
            );
        }
    }
}
