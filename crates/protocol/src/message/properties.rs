//! Message properties (reference 4.2 and 6.2): the key constants and the `name \u0001 value
//! \u0002` string codec.
//!
//! Components: the property keys of Java's `MessageConst`; [`Properties`], an insertion-ordered
//! map; [`encode_properties`] / [`decode_properties`]; [`property_value`], a lookup straight on
//! the encoded string (no allocation, for the store's hot paths).
//!
//! Invariants:
//! - decoding follows Java's `string2messageProperties` exactly: segments are split on
//!   `\u0002`; a segment is a pair only if it holds a `\u0001` with a non-empty name before the
//!   first one and a non-empty value after it (the value may itself contain `\u0001`); other
//!   segments are skipped; a repeated name keeps the last value;
//! - encoding follows `messageProperties2String`: every pair is terminated by `\u0002`,
//!   including the last;
//! - `decode(encode(p)) == p` when names are non-empty and free of `\u0001`/`\u0002` and values
//!   are non-empty and free of `\u0002` (what Java can represent too).
//!
//! Both separators are ASCII, so splitting the UTF-8 string on them gives the same pairs as
//! Java's splitting on UTF-16 chars.

/// Separates a name from its value.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Terminates each name/value pair.
pub const PROPERTY_SEPARATOR: char = '\u{2}';

/// User keys, space-separated; indexed by the IndexFile.
pub const KEYS: &str = "KEYS";
/// Separator of the keys inside [`KEYS`].
pub const KEY_SEPARATOR: &str = " ";
/// The message tag; its Java hash is the ConsumeQueue tagsCode.
pub const TAGS: &str = "TAGS";
/// waitStoreMsgOK, `"true"` / `"false"`.
pub const WAIT: &str = "WAIT";
/// Delay level 1..=18 (`PROPERTY_DELAY_TIME_LEVEL`).
pub const DELAY: &str = "DELAY";
/// Original topic of a retry message.
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
/// Original topic of a scheduled, half or timer message.
pub const REAL_TOPIC: &str = "REAL_TOPIC";
/// Original queue id of a scheduled, half or timer message.
pub const REAL_QID: &str = "REAL_QID";
/// `"true"` on a transactional prepare message.
pub const TRAN_MSG: &str = "TRAN_MSG";
/// Producer group (transactions).
pub const PGROUP: &str = "PGROUP";
/// Queue min offset, set client-side after a pull.
pub const MIN_OFFSET: &str = "MIN_OFFSET";
/// Queue max offset, set client-side after a pull.
pub const MAX_OFFSET: &str = "MAX_OFFSET";
/// Legacy buyer id.
pub const BUYER_ID: &str = "BUYER_ID";
/// First msgId of a retried message.
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
/// Legacy transfer flag.
pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
/// Legacy correction flag.
pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
/// Legacy MQ2 flag.
pub const MQ2_FLAG: &str = "MQ2_FLAG";
/// Reconsume count of a message re-sent by a consumer as a normal message.
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
/// Region of the broker; also a SEND response ext field.
pub const MSG_REGION: &str = "MSG_REGION";
/// Trace switch; also a SEND response ext field.
pub const TRACE_ON: &str = "TRACE_ON";
/// Client message id (`PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX`).
pub const UNIQ_KEY: &str = "UNIQ_KEY";
/// Extended unique info.
pub const EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
/// Max reconsume times of a message re-sent by a consumer.
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
/// Consume start time, set client-side.
pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
/// Number of inner messages (batch ConsumeQueue).
pub const INNER_NUM: &str = "INNER_NUM";
/// Base queue offset of inner messages (batch ConsumeQueue).
pub const INNER_BASE: &str = "INNER_BASE";
/// Duplicate info.
pub const DUP_INFO: &str = "DUP_INFO";
/// Seconds a half message is immune from transaction checks.
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
/// Queue offset of the prepared (half) message.
pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
/// Transaction id (= UNIQ_KEY of the half message).
pub const TRANSACTION_ID: &str = "__transactionId__";
/// Number of transaction checks so far.
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
/// Instance id.
pub const INSTANCE_ID: &str = "INSTANCE_ID";
/// Request-reply correlation id.
pub const CORRELATION_ID: &str = "CORRELATION_ID";
/// Request-reply: client to reply to.
pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
/// Request-reply time to live.
pub const TTL: &str = "TTL";
/// Request-reply arrive time.
pub const ARRIVE_TIME: &str = "ARRIVE_TIME";
/// Request-reply push time.
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
/// Cluster name, added by the broker.
pub const CLUSTER: &str = "CLUSTER";
/// Message type (`"reply"`).
pub const MSG_TYPE: &str = "MSG_TYPE";
/// POP checkpoint (reserved: the broker removes it from sent messages).
pub const POP_CK: &str = "POP_CK";
/// POP checkpoint offset.
pub const POP_CK_OFFSET: &str = "POP_CK_OFFSET";
/// First POP time.
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
/// Ordered/FIFO sharding key (5.x).
pub const SHARDING_KEY: &str = "__SHARDINGKEY";
/// Forward queue id.
pub const FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
/// Redirect flag.
pub const REDIRECT: &str = "REDIRECT";
/// LMQ: comma-separated queues to dispatch to.
pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
/// LMQ: comma-separated queue offsets.
pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
/// Trace context.
pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
/// Timer: delay in seconds.
pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
/// Timer: delay in milliseconds.
pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
/// Timer: absolute delivery time in ms.
pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
/// Timer: enqueue time.
pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
/// Timer: dequeue time.
pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
/// Timer: times rolled over the wheel.
pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
/// Timer: fire time rounded to the wheel precision.
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
/// Timer: unique key of a deleted timer message.
pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
/// Timer: delay level.
pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
/// Born host as text.
pub const BORN_HOST: &str = "__BORNHOST";
/// Born timestamp as text.
pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
/// Original topic of a DLQ message.
pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
/// Original message id of a DLQ message.
pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";
/// Optional 5.x property holding a CRC of the record (`enabledAppendPropCRC`).
pub const CRC32: &str = "__CRC32#";
/// Prefix of transient properties, never written to disk.
pub const TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";

/// An insertion-ordered map of message properties.
///
/// Backed by a `Vec` of pairs: messages carry a handful of properties (typically under 20), so
/// a linear scan beats hashing, iteration order is deterministic (re-encoding is stable and
/// testable) and the first-insertion order of the decoded string is kept. Inserting an existing
/// name replaces its value in place. Equality compares order too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    entries: Vec<(String, String)>,
}

impl Properties {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` to `value`, keeping the position of an existing entry; returns the old value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> Option<String> {
        let name = name.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.entries.push((name, value));
                None
            }
        }
    }

    /// Removes `name`; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let index = self.entries.iter().position(|(k, _)| k == name)?;
        Some(self.entries.remove(index).1)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Length in bytes of [`encode_properties`]'s output, without building it.
    pub fn encoded_len(&self) -> usize {
        self.entries.iter().map(|(k, v)| k.len() + v.len() + 2).sum()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut props = Properties::new();
        for (k, v) in iter {
            props.insert(k, v);
        }
        props
    }
}

/// Encodes as Java's `messageProperties2String`: `name \u0001 value \u0002` per entry, in order.
/// Entries that Java's parser would skip (empty name or value) are written anyway, as Java does.
pub fn encode_properties(props: &Properties) -> String {
    let mut out = String::with_capacity(props.encoded_len());
    for (k, v) in props.iter() {
        push_property(&mut out, k, v);
    }
    out
}

/// Appends one encoded `name \u0001 value \u0002` entry to `out`.
pub fn push_property(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push(NAME_VALUE_SEPARATOR);
    out.push_str(value);
    out.push(PROPERTY_SEPARATOR);
}

/// Decodes as Java's `string2messageProperties`; invalid or empty segments are skipped and a
/// repeated name keeps its first position with the last value.
pub fn decode_properties(s: &str) -> Properties {
    let mut props = Properties::new();
    for (k, v) in pairs(s) {
        props.insert(k, v);
    }
    props
}

/// The value of `name` in an encoded properties string, with [`decode_properties`]'s rules
/// (the last occurrence wins), without allocating.
pub fn property_value<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    pairs(s).filter(|(k, _)| *k == name).map(|(_, v)| v).last()
}

/// The valid pairs of an encoded properties string, in order: the segments between
/// separators split at their first name/value separator, skipping segments without one or with
/// an empty name or value.
pub fn pairs(s: &str) -> Pairs<'_> {
    Pairs { segments: segments(s) }
}

/// Iterator of [`pairs`]: the valid ones of [`segments`].
pub struct Pairs<'a> {
    segments: Segments<'a>,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (segment, name_end) = self.segments.next()?;
            let Some(name_end) = name_end.filter(|n| *n > 0 && n + 1 < segment.len()) else {
                continue;
            };
            if let (Some(name), Some(value)) = (segment.get(..name_end), segment.get(name_end + 1..)) {
                return Some((name, value));
            }
        }
    }
}

/// The segments of an encoded properties string between property separators, exactly as
/// `str::split` yields them (empty ones included), each with the position of its first
/// name/value separator: for callers that must see the segments [`pairs`] skips.
pub fn segments(s: &str) -> Segments<'_> {
    Segments { rest: Some(s) }
}

/// Iterator of [`segments`]. It scans bytes directly, eight at a time: both separators are
/// ASCII, so every cut is at a char boundary (dispatch scans every stored message's
/// properties).
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    /// What is left to scan; `None` after the last segment.
    rest: Option<&'a str>,
}

impl<'a> Iterator for Segments<'a> {
    type Item = (&'a str, Option<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest?;
        let (name_end, end) = separators(rest.as_bytes());
        // Past the last separator `get` is `None`: that segment was the last.
        self.rest = rest.get(end + 1..);
        Some((rest.get(..end)?, name_end))
    }
}

/// In the first segment of `bytes` (up to the first property separator, or the end): where
/// its first name/value separator is, and where the segment ends.
fn separators(bytes: &[u8]) -> (Option<usize>, usize) {
    const PAIR_END: u8 = PROPERTY_SEPARATOR as u8;
    const NAME_END: u8 = NAME_VALUE_SEPARATOR as u8;
    let mut name_end = None;
    let mut at = 0;
    while let Some(found) = bytes.get(at..).and_then(first_below_3) {
        let pos = at + found;
        match bytes.get(pos) {
            Some(&PAIR_END) => return (name_end, pos),
            Some(&NAME_END) => {
                name_end.get_or_insert(pos);
            }
            _ => {}
        }
        at = pos + 1;
    }
    (name_end, bytes.len())
}

/// Position of the first byte below 3 (both separators, 0x01 and 0x02, and NUL), eight bytes
/// at a time: `x - 0x03..03 & !x` sets the high bit of each such byte, and borrows only set
/// bits above the first one, so the lowest set bit is exact.
fn first_below_3(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in words.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        let mask = x.wrapping_sub(ONES * 3) & !x & HIGH;
        if mask != 0 {
            return Some(offset + (mask.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    words.remainder().iter().position(|&b| b < 3).map(|p| offset + p)
}

#[cfg(test)]
#[path = "properties_test.rs"]
mod tests;
