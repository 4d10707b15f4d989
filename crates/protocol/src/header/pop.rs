//! POP consumption headers (reference 2.2 and 3.5): POP_MESSAGE, ACK_MESSAGE,
//! CHANGE_MESSAGE_INVISIBLETIME, PEEK_MESSAGE, NOTIFICATION, POLLING_INFO. POP codes exceed
//! `i16`, so these only travel in JSON headers. BATCH_ACK_MESSAGE carries its data in the body.

use super::command_header;

command_header! {
    /// POP_MESSAGE (200050) request.
    PopMessageRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic.
        topic: String = "topic",
        /// Queue id (-1 = any).
        queue_id: i32 = "queueId",
        /// Max messages to return.
        max_msg_nums: i32 = "maxMsgNums",
        /// Invisible time (ms).
        invisible_time: i64 = "invisibleTime",
        /// Long-poll time (ms).
        poll_time: i64 = "pollTime",
        /// Client send time (ms).
        born_time: i64 = "bornTime",
        /// 0 = start at min offset, 1 = at max offset.
        init_mode: i32 = "initMode",
        /// Filter expression type.
        exp_type: Option<String> = "expType",
        /// Filter expression.
        exp: Option<String> = "exp",
        /// Orderly pop.
        order: Option<bool> = "order",
        /// Attempt id (idempotent retries).
        attempt_id: Option<String> = "attemptId",
    }
}

command_header! {
    /// POP_MESSAGE (200050) response.
    PopMessageResponseHeader {
        /// Pop time (ms).
        pop_time: i64 = "popTime",
        /// Invisible time (ms).
        invisible_time: i64 = "invisibleTime",
        /// Revive queue id.
        revive_qid: i32 = "reviveQid",
        /// Messages left in the queue.
        rest_num: i64 = "restNum",
        /// `T qid startOffset` entries joined by `;`.
        start_offset_info: Option<String> = "startOffsetInfo",
        /// `T qid o1,o2,...` entries joined by `;`.
        msg_offset_info: Option<String> = "msgOffsetInfo",
        /// Order count info (orderly pop).
        order_count_info: Option<String> = "orderCountInfo",
    }
}

command_header! {
    /// ACK_MESSAGE (200051) request.
    AckMessageRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// The message's POP_CK string.
        extra_info: String = "extraInfo",
        /// Queue offset of the message.
        offset: i64 = "offset",
    }
}

command_header! {
    /// CHANGE_MESSAGE_INVISIBLETIME (200053) request.
    ChangeInvisibleTimeRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// The message's POP_CK string.
        extra_info: String = "extraInfo",
        /// Queue offset of the message.
        offset: i64 = "offset",
        /// New invisible time (ms).
        invisible_time: i64 = "invisibleTime",
    }
}

command_header! {
    /// CHANGE_MESSAGE_INVISIBLETIME (200053) response.
    ChangeInvisibleTimeResponseHeader {
        /// New pop time (ms).
        pop_time: i64 = "popTime",
        /// Invisible time (ms).
        invisible_time: i64 = "invisibleTime",
        /// Revive queue id.
        revive_qid: i32 = "reviveQid",
    }
}

command_header! {
    /// PEEK_MESSAGE (200052) request.
    PeekMessageRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Max messages to return.
        max_msg_nums: i32 = "maxMsgNums",
        /// Consumer group.
        consumer_group: String = "consumerGroup",
    }
}

command_header! {
    /// NOTIFICATION (200054) request: long-poll until a message is available.
    NotificationRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic.
        topic: String = "topic",
        /// Queue id (-1 = any).
        queue_id: i32 = "queueId",
        /// Long-poll time (ms).
        poll_time: i64 = "pollTime",
        /// Client send time (ms).
        born_time: i64 = "bornTime",
        /// Orderly consumption.
        order: Option<bool> = "order",
        /// Attempt id.
        attempt_id: Option<String> = "attemptId",
    }
}

command_header! {
    /// NOTIFICATION (200054) response.
    NotificationResponseHeader {
        /// True when a message is available.
        has_msg: bool = "hasMsg",
    }
}

command_header! {
    /// POLLING_INFO (200055) request.
    PollingInfoRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
    }
}

command_header! {
    /// POLLING_INFO (200055) response.
    PollingInfoResponseHeader {
        /// Number of pending pop long-polls.
        polling_num: i32 = "pollingNum",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::header_round_trip_tests;

    header_round_trip_tests! {
        pop_request => PopMessageRequestHeader,
        pop_response => PopMessageResponseHeader,
        ack_request => AckMessageRequestHeader,
        change_invisible_request => ChangeInvisibleTimeRequestHeader,
        change_invisible_response => ChangeInvisibleTimeResponseHeader,
        peek_request => PeekMessageRequestHeader,
        notification_request => NotificationRequestHeader,
        notification_response => NotificationResponseHeader,
        polling_info_request => PollingInfoRequestHeader,
        polling_info_response => PollingInfoResponseHeader,
    }
}
