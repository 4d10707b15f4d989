//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) headers (reference 2.2, 2.3 and 7.3).

use super::command_header;

/// PULL sysFlag bit: `commitOffset` is valid (store it if master).
pub const PULL_FLAG_COMMIT_OFFSET: i32 = 0x1;
/// PULL sysFlag bit: long polling allowed for `suspendTimeoutMillis`.
pub const PULL_FLAG_SUSPEND: i32 = 0x2;
/// PULL sysFlag bit: `subscription` / `expressionType` of the header are authoritative.
pub const PULL_FLAG_SUBSCRIPTION: i32 = 0x4;
/// PULL sysFlag bit: legacy class filter.
pub const PULL_FLAG_CLASS_FILTER: i32 = 0x8;
/// PULL sysFlag bit: lite pull consumer.
pub const PULL_FLAG_LITE_PULL: i32 = 0x10;

command_header! {
    /// PULL_MESSAGE / LITE_PULL_MESSAGE request (`PullMessageRequestHeader.java`).
    PullMessageRequestHeader {
        /// Consumer group.
        consumer_group: String = "consumerGroup",
        /// Topic.
        topic: String = "topic",
        /// Queue id.
        queue_id: i32 = "queueId",
        /// First queue offset wanted.
        queue_offset: i64 = "queueOffset",
        /// Max messages to return.
        max_msg_nums: i32 = "maxMsgNums",
        /// PULL sysFlag (`PULL_FLAG_*`).
        sys_flag: i32 = "sysFlag",
        /// Consumer offset to commit (valid with [`PULL_FLAG_COMMIT_OFFSET`]).
        commit_offset: i64 = "commitOffset",
        /// Long-poll hold time (valid with [`PULL_FLAG_SUSPEND`]).
        suspend_timeout_millis: i64 = "suspendTimeoutMillis",
        /// Subscription expression.
        subscription: Option<String> = "subscription",
        /// Subscription version (timestamp).
        sub_version: i64 = "subVersion",
        /// `TAG` or `SQL92`.
        expression_type: Option<String> = "expressionType",
        /// Max bytes to return.
        max_msg_bytes: Option<i32> = "maxMsgBytes",
        /// Proxy request source.
        request_source: Option<i32> = "requestSource",
        /// Client id forwarded by a proxy (sic: "Froward").
        proxy_forward_client_id: Option<String> = "proxyFrowardClientId",
    }
}

impl PullMessageRequestHeader {
    /// True when the sysFlag bit is set.
    pub fn has_flag(&self, flag: i32) -> bool {
        self.sys_flag & flag != 0
    }
}

command_header! {
    /// PULL_MESSAGE / LITE_PULL_MESSAGE response (`PullMessageResponseHeader.java`).
    PullMessageResponseHeader {
        /// Broker id the client should pull from next (0 = master).
        suggest_which_broker_id: i64 = "suggestWhichBrokerId",
        /// Next offset to pull.
        next_begin_offset: i64 = "nextBeginOffset",
        /// Queue's min offset.
        min_offset: i64 = "minOffset",
        /// Queue's max offset.
        max_offset: i64 = "maxOffset",
        /// Offset delta (5.x).
        offset_delta: Option<i64> = "offsetDelta",
        /// Topic sysFlag.
        topic_sys_flag: Option<i32> = "topicSysFlag",
        /// Group sysFlag.
        group_sys_flag: Option<i32> = "groupSysFlag",
        /// Forbidden type (5.x).
        forbidden_type: Option<i32> = "forbiddenType",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::ExtFields;
    use crate::header::{header_round_trip_tests, CommandHeader, HeaderError};

    header_round_trip_tests! {
        pull_request => PullMessageRequestHeader,
        pull_response => PullMessageResponseHeader,
    }

    fn java_pull_fields() -> ExtFields {
        [
            ("consumerGroup", "cg1"),
            ("topic", "TopicA"),
            ("queueId", "2"),
            ("queueOffset", "100"),
            ("maxMsgNums", "32"),
            ("sysFlag", "3"),
            ("commitOffset", "99"),
            ("suspendTimeoutMillis", "15000"),
            ("subscription", "TagA || TagB"),
            ("subVersion", "1700000000000"),
            ("expressionType", "TAG"),
            ("bname", "broker-a"),
            ("lo", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn java_pull_request_decodes() {
        // Goal: a Java client's pull header decodes with RPC keys present. Method: literal fields.
        let header = PullMessageRequestHeader::decode(&java_pull_fields()).unwrap();
        assert_eq!(header.queue_offset, 100);
        assert!(header.has_flag(PULL_FLAG_SUSPEND));
        assert!(header.has_flag(PULL_FLAG_COMMIT_OFFSET));
        assert!(!header.has_flag(PULL_FLAG_SUBSCRIPTION));
        assert_eq!(header.subscription.as_deref(), Some("TagA || TagB"));
    }

    #[test]
    fn non_numeric_queue_offset_is_an_invalid_field() {
        // Goal: Long.parseLong failure is InvalidField naming the key. Method: "abc".
        let mut fields = java_pull_fields();
        fields.insert("queueOffset", "abc");
        assert!(matches!(
            PullMessageRequestHeader::decode(&fields),
            Err(HeaderError::InvalidField {
                field: "queueOffset",
                expected: "long",
                ..
            })
        ));
    }
}
