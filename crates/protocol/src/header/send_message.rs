//! SEND_MESSAGE family headers (reference 2.2: codes 10, 310, 320, 324, 325).
//!
//! Components:
//! - [`SendMessageRequestHeader`]: long field names (codes 10 and 324);
//! - [`SendMessageRequestHeaderV2`]: one-letter names `a`..`n` (codes 310, 320, 325), with
//!   lossless conversion to and from the long form;
//! - [`decode_send_request_header`]: the long form from any send command, whatever its code;
//!   [`decode_send_request_header_ref`] the same with its strings borrowed
//!   ([`SendMessageRequestHeaderRef`], for the broker's per-message path);
//! - [`SendMessageResponseHeader`]: the send result, including the `MSG_REGION` and `TRACE_ON`
//!   ext fields Java clients read.

use super::send_message_decode::decode_send_header;
pub use super::send_message_decode::SendMessageRequestHeaderRef;
use super::{command_header, HeaderError};
use crate::code::RequestCode;
use crate::command::RemotingCommand;

command_header! {
    /// SEND_MESSAGE (10) / SEND_REPLY_MESSAGE (324) request (`SendMessageRequestHeader.java`).
    SendMessageRequestHeader {
        /// Producer group.
        producer_group: String = "producerGroup",
        /// Target topic.
        topic: String = "topic",
        /// Template topic for auto-creation (`TBW102`).
        default_topic: String = "defaultTopic",
        /// Queue count of an auto-created topic.
        default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        /// Target queue.
        queue_id: i32 = "queueId",
        /// Message sysFlag (compression, transaction type, ...).
        sys_flag: i32 = "sysFlag",
        /// Producer-side timestamp (ms).
        born_timestamp: i64 = "bornTimestamp",
        /// User flag.
        flag: i32 = "flag",
        /// Properties string (`k\u{1}v\u{2}...`).
        properties: Option<String> = "properties",
        /// Times this message was re-consumed (retry topic sends).
        reconsume_times: Option<i32> = "reconsumeTimes",
        /// Unit mode.
        unit_mode: Option<bool> = "unitMode",
        /// True for SEND_BATCH_MESSAGE bodies.
        batch: Option<bool> = "batch",
        /// Max re-consume times before DLQ.
        max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        /// Target broker name (RPC key `bname`).
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// SEND_MESSAGE_V2 (310) / SEND_BATCH_MESSAGE (320) / SEND_REPLY_MESSAGE_V2 (325) request:
    /// the same fields under one-letter names (`SendMessageRequestHeaderV2.java`).
    SendMessageRequestHeaderV2 {
        /// `a` = producerGroup.
        producer_group: String = "a",
        /// `b` = topic.
        topic: String = "b",
        /// `c` = defaultTopic.
        default_topic: String = "c",
        /// `d` = defaultTopicQueueNums.
        default_topic_queue_nums: i32 = "d",
        /// `e` = queueId.
        queue_id: i32 = "e",
        /// `f` = sysFlag.
        sys_flag: i32 = "f",
        /// `g` = bornTimestamp.
        born_timestamp: i64 = "g",
        /// `h` = flag.
        flag: i32 = "h",
        /// `i` = properties.
        properties: Option<String> = "i",
        /// `j` = reconsumeTimes.
        reconsume_times: Option<i32> = "j",
        /// `k` = unitMode.
        unit_mode: Option<bool> = "k",
        /// `l` = maxReconsumeTimes.
        max_reconsume_times: Option<i32> = "l",
        /// `m` = batch.
        batch: Option<bool> = "m",
        /// `n` = brokerName.
        broker_name: Option<String> = "n",
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v1: SendMessageRequestHeader) -> Self {
        SendMessageRequestHeaderV2 {
            producer_group: v1.producer_group,
            topic: v1.topic,
            default_topic: v1.default_topic,
            default_topic_queue_nums: v1.default_topic_queue_nums,
            queue_id: v1.queue_id,
            sys_flag: v1.sys_flag,
            born_timestamp: v1.born_timestamp,
            flag: v1.flag,
            properties: v1.properties,
            reconsume_times: v1.reconsume_times,
            unit_mode: v1.unit_mode,
            max_reconsume_times: v1.max_reconsume_times,
            batch: v1.batch,
            broker_name: v1.broker_name,
        }
    }
}

impl SendMessageRequestHeaderV2 {
    /// The same header under long names (`createSendMessageRequestHeaderV1`).
    pub fn into_v1(self) -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: self.producer_group,
            topic: self.topic,
            default_topic: self.default_topic,
            default_topic_queue_nums: self.default_topic_queue_nums,
            queue_id: self.queue_id,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            flag: self.flag,
            properties: self.properties,
            reconsume_times: self.reconsume_times,
            unit_mode: self.unit_mode,
            batch: self.batch,
            max_reconsume_times: self.max_reconsume_times,
            broker_name: self.broker_name,
        }
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> Self {
        v2.into_v1()
    }
}

/// True for the codes whose send header uses the short (`a`..`n`) names.
pub fn uses_short_names(code: i32) -> bool {
    matches!(
        RequestCode::from_i32(code),
        RequestCode::SendMessageV2 | RequestCode::SendBatchMessage | RequestCode::SendReplyMessageV2
    )
}

/// Decodes the send header of any send command: SEND_MESSAGE_V2, SEND_BATCH_MESSAGE and
/// SEND_REPLY_MESSAGE_V2 use short names, SEND_MESSAGE and SEND_REPLY_MESSAGE long names.
/// Any other code is [`HeaderError::UnexpectedCode`].
///
/// It reads the ext fields in one pass (`send_message_decode.rs`), with exactly the result of
/// the typed headers' [`decode`](super::CommandHeader::decode), errors included.
pub fn decode_send_request_header(command: &RemotingCommand) -> Result<SendMessageRequestHeader, HeaderError> {
    decode_send_request_header_ref(command).map(SendMessageRequestHeaderRef::into_owned)
}

/// [`decode_send_request_header`] with the header's strings borrowed from `command`.
pub fn decode_send_request_header_ref(
    command: &RemotingCommand,
) -> Result<SendMessageRequestHeaderRef<'_>, HeaderError> {
    match RequestCode::from_i32(command.code) {
        RequestCode::SendMessage | RequestCode::SendReplyMessage => decode_send_header(&command.ext_fields, false),
        RequestCode::SendMessageV2 | RequestCode::SendBatchMessage | RequestCode::SendReplyMessageV2 => {
            decode_send_header(&command.ext_fields, true)
        }
        _ => Err(HeaderError::UnexpectedCode { code: command.code }),
    }
}

command_header! {
    /// Response to every send code (`SendMessageResponseHeader.java`). Java clients read
    /// `MSG_REGION` and `TRACE_ON` from the same ext fields, so a SUCCESS must carry them.
    SendMessageResponseHeader {
        /// Offset message id (comma-joined for batches).
        msg_id: String = "msgId",
        /// Queue the message went to.
        queue_id: i32 = "queueId",
        /// Queue offset (of the first message for batches).
        queue_offset: i64 = "queueOffset",
        /// Transaction id (the UNIQ_KEY of a half message).
        transaction_id: Option<String> = "transactionId",
        /// Unique id of a batch.
        batch_uniq_id: Option<String> = "batchUniqId",
        /// Handle to recall a delayed message (5.x).
        recall_handle: Option<String> = "recallHandle",
        /// Delay applied (5.x timer messages).
        delay_time: Option<i64> = "delayTime",
        /// Broker region, e.g. `DefaultRegion`.
        msg_region: Option<String> = "MSG_REGION",
        /// Message trace switch (Java treats only "false" as off).
        trace_on: Option<bool> = "TRACE_ON",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::ExtFields;
    use crate::header::header_round_trip_tests;
    use crate::header::CommandHeader;
    use proptest::prelude::*;

    header_round_trip_tests! {
        send_v1 => SendMessageRequestHeader,
        send_v2 => SendMessageRequestHeaderV2,
        send_response => SendMessageResponseHeader,
    }

    proptest! {
        #[test]
        fn v1_to_v2_and_back_is_lossless(v1 in any::<SendMessageRequestHeader>()) {
            // Goal: short and long forms carry the same information. Method: convert both ways.
            let v2 = SendMessageRequestHeaderV2::from(v1.clone());
            prop_assert_eq!(v2.into_v1(), v1);
        }

        #[test]
        fn send_header_decodes_whatever_the_send_code(v1 in any::<SendMessageRequestHeader>()) {
            // Goal: decode_send_request_header picks the names from the code. Method: encode with
            // the naming the code implies, decode through the helper.
            for code in [10, 310, 320, 324, 325] {
                let command = if uses_short_names(code) {
                    RemotingCommand::request_code(code).with_header(&SendMessageRequestHeaderV2::from(v1.clone()))
                } else {
                    RemotingCommand::request_code(code).with_header(&v1)
                };
                prop_assert_eq!(decode_send_request_header(&command), Ok(v1.clone()));
            }
        }
    }

    #[test]
    fn java_v2_send_header_decodes_with_rpc_keys_present() {
        // Goal: a SEND_MESSAGE_V2 header as the Java 5.x client writes it decodes, RPC keys
        // (`bname`, `oway`, `lo`) included. Method: literal ext fields.
        let mut command = RemotingCommand::request_code(310);
        for (k, v) in [
            ("a", "pg1"),
            ("b", "TopicA"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "3"),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("i", "UNIQ_KEY\u{1}ABC\u{2}WAIT\u{1}true\u{2}"),
            ("j", "0"),
            ("k", "false"),
            ("m", "false"),
            ("n", "broker-a"),
            ("bname", "broker-a"),
            ("oway", "false"),
            ("lo", "false"),
        ] {
            command.put_ext_field(k, v);
        }
        let header = decode_send_request_header(&command).unwrap();
        assert_eq!(header.producer_group, "pg1");
        assert_eq!(header.topic, "TopicA");
        assert_eq!(header.queue_id, 3);
        assert_eq!(header.born_timestamp, 1_700_000_000_000);
        assert_eq!(header.broker_name.as_deref(), Some("broker-a"));
        assert_eq!(header.max_reconsume_times, None);
    }

    #[test]
    fn v2_header_missing_a_required_short_name_reports_it() {
        // Goal: MissingField names the short wire key. Method: drop `e` (queueId).
        let mut fields = ExtFields::new();
        SendMessageRequestHeaderV2::default().encode(&mut fields);
        fields.remove("e");
        assert_eq!(
            SendMessageRequestHeaderV2::decode(&fields),
            Err(HeaderError::MissingField { field: "e" })
        );
    }

    #[test]
    fn non_send_codes_are_rejected() {
        // Goal: asking a PULL for a send header is an error, not a misparse.
        let command = RemotingCommand::request_code(11);
        assert_eq!(
            decode_send_request_header(&command),
            Err(HeaderError::UnexpectedCode { code: 11 })
        );
    }

    #[test]
    fn send_response_writes_region_and_trace_switch() {
        // Goal: MSG_REGION / TRACE_ON travel as ext fields next to the result. Method: encode.
        let header = SendMessageResponseHeader {
            msg_id: "0A00000100002A9F0000000000000000".into(),
            queue_id: 1,
            queue_offset: 7,
            transaction_id: Some("ABC".into()),
            msg_region: Some("DefaultRegion".into()),
            trace_on: Some(true),
            ..Default::default()
        };
        let mut fields = ExtFields::new();
        header.encode(&mut fields);
        assert_eq!(fields.get("MSG_REGION"), Some("DefaultRegion"));
        assert_eq!(fields.get("TRACE_ON"), Some("true"));
        assert_eq!(fields.get("queueOffset"), Some("7"));
        assert!(!fields.contains_key("batchUniqId"));
    }
}
