//! Broker administration headers (reference 2.2, "Broker — admin"; `AdminBrokerProcessor`):
//! topics, subscription groups, statistics, connections and broker config.
//! INVOKE_BROKER_TO_RESET_OFFSET / INVOKE_BROKER_TO_GET_CONSUMER_STATUS reuse the headers of
//! [`super::broker_to_client`].

use super::command_header;

command_header! {
    /// UPDATE_AND_CREATE_TOPIC (17) request (`CreateTopicRequestHeader.java`).
    CreateTopicRequestHeader {
        /// Topic to create or update.
        topic: String = "topic",
        /// Template topic.
        default_topic: String = "defaultTopic",
        /// Read queue count.
        read_queue_nums: i32 = "readQueueNums",
        /// Write queue count.
        write_queue_nums: i32 = "writeQueueNums",
        /// Permission bits (2 write, 4 read).
        perm: i32 = "perm",
        /// `SINGLE_TAG` or `MULTI_TAG`.
        topic_filter_type: String = "topicFilterType",
        /// Topic sysFlag.
        topic_sys_flag: Option<i32> = "topicSysFlag",
        /// Ordered topic.
        order: bool = "order",
        /// Attributes, `+key=value` pairs joined by commas (5.x).
        attributes: Option<String> = "attributes",
        /// Force the update (5.x).
        force: Option<bool> = "force",
    }
}

command_header! {
    /// DELETE_TOPIC_IN_BROKER (215) request.
    DeleteTopicRequestHeader {
        /// Topic to delete.
        topic: String = "topic",
    }
}

command_header! {
    /// GET_ALL_TOPIC_CONFIG (21) request: 5.x paging; all fields absent means "everything"
    /// (4.x clients send none, so `topicSeq` is optional here although Java marks it required).
    GetAllTopicConfigRequestHeader {
        /// Page sequence.
        topic_seq: Option<i32> = "topicSeq",
        /// DataVersion JSON the page belongs to.
        data_version: Option<String> = "dataVersion",
        /// Page size.
        max_topic_num: Option<i32> = "maxTopicNum",
    }
}

command_header! {
    /// GET_ALL_TOPIC_CONFIG (21) response (5.x paging).
    GetAllTopicConfigResponseHeader {
        /// Total number of topics.
        total_topic_num: Option<i32> = "totalTopicNum",
    }
}

command_header! {
    /// GET_TOPIC_CONFIG (351) request.
    GetTopicConfigRequestHeader {
        /// Topic.
        topic: String = "topic",
    }
}

command_header! {
    /// GET_BROKER_CONFIG (26) response: the DataVersion of the config, as JSON text.
    GetBrokerConfigResponseHeader {
        /// DataVersion JSON.
        version: String = "version",
    }
}

command_header! {
    /// GET_CONSUME_STATS (208) request.
    GetConsumeStatsRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Restrict to one topic.
        topic: Option<String> = "topic",
        /// Restrict to several topics, comma-joined (5.x).
        topic_list: Option<String> = "topicList",
    }
}

command_header! {
    /// GET_TOPIC_STATS_INFO (202) request.
    GetTopicStatsInfoRequestHeader {
        /// Topic.
        topic: String = "topic",
    }
}

command_header! {
    /// GET_CONSUMER_CONNECTION_LIST (203) request.
    GetConsumerConnectionListRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
    }
}

command_header! {
    /// GET_PRODUCER_CONNECTION_LIST (204) request.
    GetProducerConnectionListRequestHeader {
        /// Producer group.
        producer_group: String = "producerGroup",
    }
}

command_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207) request.
    DeleteSubscriptionGroupRequestHeader {
        /// Group to delete.
        group_name: String = "groupName",
        /// Also delete the group's consumer offsets (default false).
        clean_offset: Option<bool> = "cleanOffset",
    }
}

command_header! {
    /// GET_SUBSCRIPTIONGROUP_CONFIG (352) request.
    GetSubscriptionGroupConfigRequestHeader {
        /// Group.
        group: String = "group",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::header_round_trip_tests;

    header_round_trip_tests! {
        create_topic_request => CreateTopicRequestHeader,
        delete_topic_request => DeleteTopicRequestHeader,
        all_topic_config_request => GetAllTopicConfigRequestHeader,
        all_topic_config_response => GetAllTopicConfigResponseHeader,
        topic_config_request => GetTopicConfigRequestHeader,
        broker_config_response => GetBrokerConfigResponseHeader,
        consume_stats_request => GetConsumeStatsRequestHeader,
        topic_stats_request => GetTopicStatsInfoRequestHeader,
        consumer_connection_request => GetConsumerConnectionListRequestHeader,
        producer_connection_request => GetProducerConnectionListRequestHeader,
        delete_group_request => DeleteSubscriptionGroupRequestHeader,
        group_config_request => GetSubscriptionGroupConfigRequestHeader,
    }
}
