//! One-pass decoding of a send request header (long names or the short `a`..`n`), for the
//! per-message path.
//!
//! Components:
//! - [`SendMessageRequestHeaderRef`]: the long-form header with its strings borrowed from the
//!   command's ext fields (no allocation per field); [`SendMessageRequestHeaderRef::into_owned`]
//!   gives the typed [`SendMessageRequestHeader`];
//! - `decode_send_header`: the generic decoder of a typed header looks each field up by key
//!   (14 lookups per send); this one walks the ext fields once, puts each known key's value
//!   into its field's slot, then parses the slots in declaration order.
//!
//! Invariant: its result, errors included, is exactly that of
//! `SendMessageRequestHeader::decode` (long names) or `SendMessageRequestHeaderV2::decode` +
//! `into_v1` (short names) on the same fields: the same parse rules (shared with
//! [`super::FieldReader`]), and the first failing field in declaration order is the one
//! reported (tested against the generic decoders over arbitrary field maps).

use super::fields::{parse_i32, parse_i64, parse_java_bool};
use super::send_message::SendMessageRequestHeader;
#[cfg(test)]
use super::send_message::SendMessageRequestHeaderV2;
use super::HeaderError;
use crate::command::ExtFields;

/// Fields of a send header; slot `i` holds the field at position `i` of the V2 declaration
/// order (`a`..`n`), which the long names below follow too.
pub(crate) const FIELDS: usize = 14;

/// Long wire names by slot (`SendMessageRequestHeader`; broker name under its RPC key).
const LONG_NAMES: [&str; FIELDS] = [
    "producerGroup",
    "topic",
    "defaultTopic",
    "defaultTopicQueueNums",
    "queueId",
    "sysFlag",
    "bornTimestamp",
    "flag",
    "properties",
    "reconsumeTimes",
    "unitMode",
    "maxReconsumeTimes",
    "batch",
    "bname",
];

/// The slot of the properties (`i` / `properties`), the one field whose value carries escapes.
pub(crate) const PROPERTIES_SLOT: usize = 8;

/// Short wire names by slot (`SendMessageRequestHeaderV2`).
pub(crate) const SHORT_NAMES: [&str; FIELDS] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"];

/// The slot of a short-name key (`a`..`n`).
#[inline]
fn short_slot(key: &[u8]) -> Option<usize> {
    match key {
        [letter @ b'a'..=b'n'] => Some(usize::from(letter - b'a')),
        _ => None,
    }
}

/// The slot of a long-name key.
fn long_slot(key: &[u8]) -> Option<usize> {
    LONG_NAMES.iter().position(|name| name.as_bytes() == key)
}

/// [`SendMessageRequestHeader`] with its strings borrowed from the command's ext fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendMessageRequestHeaderRef<'a> {
    /// Producer group.
    pub producer_group: &'a str,
    /// Target topic.
    pub topic: &'a str,
    /// Template topic for auto-creation (`TBW102`).
    pub default_topic: &'a str,
    /// Queue count of an auto-created topic.
    pub default_topic_queue_nums: i32,
    /// Target queue.
    pub queue_id: i32,
    /// Message sysFlag.
    pub sys_flag: i32,
    /// Producer-side timestamp (ms).
    pub born_timestamp: i64,
    /// User flag.
    pub flag: i32,
    /// Properties string.
    pub properties: Option<&'a str>,
    /// Times this message was re-consumed.
    pub reconsume_times: Option<i32>,
    /// Unit mode.
    pub unit_mode: Option<bool>,
    /// Max re-consume times before DLQ.
    pub max_reconsume_times: Option<i32>,
    /// True for SEND_BATCH_MESSAGE bodies.
    pub batch: Option<bool>,
    /// Target broker name.
    pub broker_name: Option<&'a str>,
}

impl SendMessageRequestHeaderRef<'_> {
    /// The typed header, strings copied.
    pub fn into_owned(self) -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: self.producer_group.to_owned(),
            topic: self.topic.to_owned(),
            default_topic: self.default_topic.to_owned(),
            default_topic_queue_nums: self.default_topic_queue_nums,
            queue_id: self.queue_id,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            flag: self.flag,
            properties: self.properties.map(str::to_owned),
            reconsume_times: self.reconsume_times,
            unit_mode: self.unit_mode,
            max_reconsume_times: self.max_reconsume_times,
            batch: self.batch,
            broker_name: self.broker_name.map(str::to_owned),
        }
    }
}

fn required<T>(field: &'static str, value: Option<T>) -> Result<T, HeaderError> {
    value.ok_or(HeaderError::MissingField { field })
}

/// Decodes a send header from `fields` in one pass over them: long names, or the short
/// `a`..`n` when `short_names`.
pub(crate) fn decode_send_header(
    fields: &ExtFields,
    short_names: bool,
) -> Result<SendMessageRequestHeaderRef<'_>, HeaderError> {
    // Monomorphised per naming, so the key match inlines into the field loop.
    if short_names {
        decode_with(fields, &SHORT_NAMES, short_slot)
    } else {
        decode_with(fields, &LONG_NAMES, long_slot)
    }
}

fn decode_with<'a>(
    fields: &'a ExtFields,
    names: &[&'static str; FIELDS],
    slot_of: impl Fn(&[u8]) -> Option<usize>,
) -> Result<SendMessageRequestHeaderRef<'a>, HeaderError> {
    let mut values: [Option<&str>; FIELDS] = [None; FIELDS];
    for (key, value) in fields.iter_key_bytes() {
        if let Some(slot) = slot_of(key).and_then(|slot| values.get_mut(slot)) {
            *slot = Some(value);
        }
    }
    header_from_values(values, names)
}

/// The header from each field's value by slot (`None`: absent), under the wire `names` the
/// errors name: the parse every send header decode ends with.
pub(crate) fn header_from_values<'a>(
    values: [Option<&'a str>; FIELDS],
    names: &[&'static str; FIELDS],
) -> Result<SendMessageRequestHeaderRef<'a>, HeaderError> {
    let [group, topic, default_topic, queue_nums, queue_id, sys_flag, born, flag, properties, reconsume_times, unit_mode, max_reconsume_times, batch, broker_name] =
        values;
    let [n_group, n_topic, n_default_topic, n_queue_nums, n_queue_id, n_sys_flag, n_born, n_flag, _, n_reconsume_times, _, n_max_reconsume_times, _, _] =
        *names;
    // Parsed in declaration order: the first bad field is the one reported, as the generic
    // decoder reports it.
    Ok(SendMessageRequestHeaderRef {
        producer_group: required(n_group, group)?,
        topic: required(n_topic, topic)?,
        default_topic: required(n_default_topic, default_topic)?,
        default_topic_queue_nums: parse_i32(n_queue_nums, required(n_queue_nums, queue_nums)?)?,
        queue_id: parse_i32(n_queue_id, required(n_queue_id, queue_id)?)?,
        sys_flag: parse_i32(n_sys_flag, required(n_sys_flag, sys_flag)?)?,
        born_timestamp: parse_i64(n_born, required(n_born, born)?)?,
        flag: parse_i32(n_flag, required(n_flag, flag)?)?,
        properties,
        reconsume_times: reconsume_times.map(|v| parse_i32(n_reconsume_times, v)).transpose()?,
        unit_mode: unit_mode.map(parse_java_bool),
        max_reconsume_times: max_reconsume_times
            .map(|v| parse_i32(n_max_reconsume_times, v))
            .transpose()?,
        batch: batch.map(parse_java_bool),
        broker_name,
    })
}

/// The generic decoders this one must equal (tests only).
#[cfg(test)]
fn decode_generic(fields: &ExtFields, short_names: bool) -> Result<SendMessageRequestHeader, HeaderError> {
    use super::CommandHeader;
    if short_names {
        SendMessageRequestHeaderV2::decode(fields).map(SendMessageRequestHeaderV2::into_v1)
    } else {
        SendMessageRequestHeader::decode(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slot_names_are_the_typed_headers_wire_names() {
        // Goal: the slot tables hold exactly the typed headers' wire names, in V2 declaration
        // order. Method: compare with FIELD_NAMES (the long form declares batch before
        // maxReconsumeTimes, so compare as V2-ordered names).
        assert_eq!(SHORT_NAMES.as_slice(), SendMessageRequestHeaderV2::FIELD_NAMES);
        let mut long = SendMessageRequestHeader::FIELD_NAMES.to_vec();
        long.swap(11, 12);
        assert_eq!(LONG_NAMES.as_slice(), long.as_slice());
        for (slot, name) in SHORT_NAMES.iter().enumerate() {
            assert_eq!(short_slot(name.as_bytes()), Some(slot));
        }
        for (slot, name) in LONG_NAMES.iter().enumerate() {
            assert_eq!(long_slot(name.as_bytes()), Some(slot));
        }
        assert_eq!(short_slot(b"o"), None);
        assert_eq!(short_slot(b"bname"), None);
        assert_eq!(long_slot(b"a"), None);
    }

    /// Keys of either naming, RPC keys and near misses.
    fn any_key() -> impl Strategy<Value = String> {
        let known: Vec<String> = LONG_NAMES
            .iter()
            .chain(SHORT_NAMES.iter())
            .chain(["oway", "lo", "ns", "o", "A", "aa", "", "Topic", "batchX"].iter())
            .map(|name| (*name).to_owned())
            .collect();
        prop_oneof![4 => proptest::sample::select(known), 1 => ".{0,6}"]
    }

    /// Values: numbers valid and not (signs, overflow, spaces, empty), booleans, any text.
    fn any_value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i32>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            proptest::sample::select(vec![
                "",
                "+",
                "-",
                "+7",
                "-0",
                " 1",
                "1 ",
                "2147483648",
                "-2147483649",
                "9223372036854775808",
                "0x1",
                "1e3",
                "true",
                "TRUE",
                "false",
                "yes",
                "１",
            ])
            .prop_map(str::to_owned),
            "[0-9+-]{0,21}",
            ".{0,12}",
        ]
    }

    proptest! {
        // Goal: the one-pass decode returns exactly what the generic decoders return, values
        // and errors alike (missing and invalid fields, the first in declaration order), for
        // either naming. Method: arbitrary maps over both names, RPC keys and near misses
        // with valid and invalid numbers; often all fields present, minus a few, so that
        // later fields' errors and each missing field show.
        #[test]
        fn one_pass_decode_equals_the_generic_decoders(
            pairs in proptest::collection::vec((any_key(), any_value()), 0..24),
            complete in any::<bool>(),
            removed in proptest::collection::vec(0..FIELDS, 0..3),
            short_names in any::<bool>(),
        ) {
            let names = if short_names { &SHORT_NAMES } else { &LONG_NAMES };
            let mut fields = ExtFields::new();
            if complete {
                for name in names {
                    fields.insert(name, "1");
                }
            }
            for (key, value) in &pairs {
                fields.insert(key, value);
            }
            for slot in removed {
                fields.remove(names.get(slot).copied().unwrap_or_default());
            }
            let one_pass = decode_send_header(&fields, short_names).map(SendMessageRequestHeaderRef::into_owned);
            prop_assert_eq!(one_pass, decode_generic(&fields, short_names));
        }

        // Goal: any valid header, encoded with either naming, decodes to itself. Method:
        // arbitrary typed header, encode, one-pass decode.
        #[test]
        fn one_pass_decode_reads_every_encoded_header(header in any::<SendMessageRequestHeader>()) {
            use crate::header::CommandHeader;
            let mut long = ExtFields::new();
            header.encode(&mut long);
            prop_assert_eq!(decode_send_header(&long, false).map(SendMessageRequestHeaderRef::into_owned), Ok(header.clone()));
            let mut short = ExtFields::new();
            SendMessageRequestHeaderV2::from(header.clone()).encode(&mut short);
            prop_assert_eq!(decode_send_header(&short, true).map(SendMessageRequestHeaderRef::into_owned), Ok(header));
        }
    }
}
