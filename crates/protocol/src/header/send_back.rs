//! CONSUMER_SEND_MSG_BACK (36) header: a consumer returns a message it failed to consume
//! (reference 2.2 and 6.3).

use super::command_header;

command_header! {
    /// CONSUMER_SEND_MSG_BACK (36) request (`ConsumerSendMsgBackRequestHeader.java`).
    ConsumerSendMsgBackRequestHeader {
        /// CommitLog physical offset of the consumed message.
        offset: i64 = "offset",
        /// Consumer group.
        group: String = "group",
        /// Requested delay level (0 = broker decides from reconsume times, -1 = DLQ).
        delay_level: i32 = "delayLevel",
        /// Original message id.
        origin_msg_id: Option<String> = "originMsgId",
        /// Original topic.
        origin_topic: Option<String> = "originTopic",
        /// Unit mode.
        unit_mode: Option<bool> = "unitMode",
        /// Max re-consume times before DLQ (default 16).
        max_reconsume_times: Option<i32> = "maxReconsumeTimes",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::header_round_trip_tests;

    header_round_trip_tests! {
        send_back_request => ConsumerSendMsgBackRequestHeader,
    }
}
