//! The SEND_MESSAGE_V2 request and response headers the codec bench, the allocation test and
//! the instruction-count example encode and decode: what a Java producer sends for a tagged
//! message with keys, and what the broker answers.

use ferromq_protocol::header::send_message::{SendMessageRequestHeaderV2, SendMessageResponseHeader};

/// A Java producer's SEND_MESSAGE_V2 header (13 ext fields; no `maxReconsumeTimes`).
pub fn typed_send_header() -> SendMessageRequestHeaderV2 {
    SendMessageRequestHeaderV2 {
        producer_group: "please_rename_unique_group_name".into(),
        topic: "TopicTest".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some(
            "UNIQ_KEY\u{1}7F0000010B7C18B4AAC27E3A16C80000\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagA\u{2}".into(),
        ),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some("broker-a".into()),
    }
}

/// The broker's answer to [`typed_send_header`].
#[allow(dead_code)] // not every includer encodes responses
pub fn typed_send_response_header() -> SendMessageResponseHeader {
    SendMessageResponseHeader {
        msg_id: "7F00000100002A9F0000000000000010".into(),
        queue_id: 3,
        queue_offset: 1_000_000,
        transaction_id: None,
        batch_uniq_id: None,
        recall_handle: None,
        delay_time: None,
        msg_region: Some("DefaultRegion".into()),
        trace_on: Some(true),
    }
}
