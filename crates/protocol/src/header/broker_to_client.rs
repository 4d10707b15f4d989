//! Requests a broker sends to clients (reference 2.2, "Broker → client"; handled by Java's
//! `ClientRemotingProcessor`): NOTIFY_CONSUMER_IDS_CHANGED (40), RESET_CONSUMER_CLIENT_OFFSET
//! (220), GET_CONSUMER_STATUS_FROM_CLIENT (221), GET_CONSUMER_RUNNING_INFO (307),
//! CONSUME_MESSAGE_DIRECTLY (309) and PUSH_REPLY_MESSAGE_TO_CLIENT (326).
//! CHECK_TRANSACTION_STATE (39) lives in [`super::transaction`].
//!
//! The admin codes INVOKE_BROKER_TO_RESET_OFFSET (222) and INVOKE_BROKER_TO_GET_CONSUMER_STATUS
//! (223) use the same headers as 220 and 221.

use super::command_header;

command_header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40), oneway: the client rebalances at once.
    NotifyConsumerIdsChangedRequestHeader {
        /// Consumer group whose membership changed.
        consumer_group: String = "consumerGroup",
    }
}

command_header! {
    /// RESET_CONSUMER_CLIENT_OFFSET (220) and INVOKE_BROKER_TO_RESET_OFFSET (222); the body of
    /// 220 is a ResetOffsetBody.
    ResetOffsetRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Consumer group.
        group: String = "group",
        /// Single queue to reset (5.x; -1 or absent = all).
        queue_id: Option<i32> = "queueId",
        /// Explicit offset (5.x).
        offset: Option<i64> = "offset",
        /// Reset to the first offset stored at or after this time (ms).
        timestamp: i64 = "timestamp",
        /// Also move offsets forward.
        is_force: bool = "isForce",
    }
}

command_header! {
    /// GET_CONSUMER_STATUS_FROM_CLIENT (221) and INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223).
    GetConsumerStatusRequestHeader {
        /// Topic.
        topic: String = "topic",
        /// Consumer group.
        group: String = "group",
        /// Only this client.
        client_addr: Option<String> = "clientAddr",
    }
}

command_header! {
    /// GET_CONSUMER_RUNNING_INFO (307).
    GetConsumerRunningInfoRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Client id.
        client_id: String = "clientId",
        /// Include a thread dump.
        jstack_enable: Option<bool> = "jstackEnable",
    }
}

command_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309); the body is the stored message.
    ConsumeMessageDirectlyResultRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Client id.
        client_id: Option<String> = "clientId",
        /// Message id.
        msg_id: Option<String> = "msgId",
        /// Broker name.
        broker_name: Option<String> = "brokerName",
        /// Topic.
        topic: Option<String> = "topic",
        /// Topic sysFlag.
        topic_sys_flag: Option<i32> = "topicSysFlag",
        /// Group sysFlag.
        group_sys_flag: Option<i32> = "groupSysFlag",
    }
}

command_header! {
    /// PUSH_REPLY_MESSAGE_TO_CLIENT (326): a reply message pushed to the requester.
    ReplyMessageRequestHeader {
        /// Producer group.
        producer_group: String = "producerGroup",
        /// Topic.
        topic: String = "topic",
        /// Template topic.
        default_topic: String = "defaultTopic",
        /// Queue count of an auto-created topic.
        default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// Message sysFlag.
        sys_flag: i32 = "sysFlag",
        /// Producer-side timestamp (ms).
        born_timestamp: i64 = "bornTimestamp",
        /// User flag.
        flag: i32 = "flag",
        /// Properties string.
        properties: Option<String> = "properties",
        /// Re-consume times.
        reconsume_times: Option<i32> = "reconsumeTimes",
        /// Unit mode.
        unit_mode: Option<bool> = "unitMode",
        /// Born host `ip:port`.
        born_host: String = "bornHost",
        /// Store host `ip:port`.
        store_host: String = "storeHost",
        /// Store timestamp (ms).
        store_timestamp: i64 = "storeTimestamp",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::ExtFields;
    use crate::header::{header_round_trip_tests, CommandHeader};

    header_round_trip_tests! {
        notify_ids_changed => NotifyConsumerIdsChangedRequestHeader,
        reset_offset_request => ResetOffsetRequestHeader,
        consumer_status_request => GetConsumerStatusRequestHeader,
        running_info_request => GetConsumerRunningInfoRequestHeader,
        consume_directly_request => ConsumeMessageDirectlyResultRequestHeader,
        reply_message_request => ReplyMessageRequestHeader,
    }

    #[test]
    fn reset_offset_uses_the_is_force_wire_name() {
        // Goal: the Java field `isForce` keeps its `is` prefix on the wire. Method: encode.
        let mut fields = ExtFields::new();
        ResetOffsetRequestHeader {
            is_force: true,
            ..Default::default()
        }
        .encode(&mut fields);
        assert_eq!(fields.get("isForce"), Some("true"));
    }
}
