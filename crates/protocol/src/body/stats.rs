//! MessageQueue-keyed bodies (reference 3.5): ConsumeStats (GET_CONSUME_STATS), TopicStatsTable
//! (GET_TOPIC_STATS_INFO) and ResetOffsetBody (RESET_CONSUMER_CLIENT_OFFSET).
//!
//! Java has no standard-JSON form for these maps: fastjson writes each MessageQueue key as a
//! bare object. [`decode_body`](super::decode_body) reads that form (and the string-keyed form
//! [`encode_body`](super::encode_body) writes); use
//! [`to_fastjson_string`](super::to_fastjson_string) when a Java admin tool is the reader.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::message_queue::MessageQueue;
use super::serde_ext::{mq_map, null_default};

/// Offsets of one queue for one consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetWrapper {
    /// Queue's max offset.
    pub broker_offset: i64,
    /// Group's committed offset.
    pub consumer_offset: i64,
    /// Store time of the last consumed message (ms).
    pub last_timestamp: i64,
    /// Group's pull offset (5.x).
    pub pull_offset: i64,
}

/// GET_CONSUME_STATS (208) answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeStats {
    /// Consume TPS of the group (`null`, as fastjson writes NaN, reads as 0).
    #[serde(deserialize_with = "null_default")]
    pub consume_tps: f64,
    /// Per queue offsets.
    #[serde(with = "mq_map")]
    pub offset_table: BTreeMap<MessageQueue, OffsetWrapper>,
}

impl ConsumeStats {
    /// Sum over queues of `brokerOffset - consumerOffset`.
    pub fn total_diff(&self) -> i64 {
        self.offset_table
            .values()
            .map(|o| o.broker_offset.saturating_sub(o.consumer_offset))
            .fold(0i64, i64::saturating_add)
    }
}

/// Min/max offsets of one queue.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicOffset {
    /// Store time of the last message (ms).
    pub last_update_timestamp: i64,
    /// Queue's max offset.
    pub max_offset: i64,
    /// Queue's min offset.
    pub min_offset: i64,
}

/// GET_TOPIC_STATS_INFO (202) answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicStatsTable {
    /// Per queue offsets.
    #[serde(with = "mq_map")]
    pub offset_table: BTreeMap<MessageQueue, TopicOffset>,
    /// Put TPS of the topic (only written when set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_put_tps: Option<f64>,
}

/// RESET_CONSUMER_CLIENT_OFFSET (220) body: the offsets the client must jump to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResetOffsetBody {
    /// queue -> offset.
    #[serde(with = "mq_map")]
    pub offset_table: BTreeMap<MessageQueue, i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode_body, encode_body, to_fastjson_string};

    #[test]
    fn consume_stats_in_fastjson_form_parse_and_are_written_back_alike() {
        // Goal: Java's object-keyed offsetTable parses, and to_fastjson_string writes the same
        // form. Method: a literal body as a Java broker writes it.
        let java = r#"{"consumeTps":1.5,"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":10,"consumerOffset":7,"lastTimestamp":1700000000000,"pullOffset":8}}}"#;
        let stats: ConsumeStats = decode_body(java.as_bytes()).unwrap();
        let wrapper = &stats.offset_table[&MessageQueue::new("T", "b", 0)];
        assert_eq!(wrapper.consumer_offset, 7);
        assert_eq!(stats.total_diff(), 3);
        assert_eq!(to_fastjson_string(&stats), java);
        assert_eq!(decode_body::<ConsumeStats>(&encode_body(&stats)).unwrap(), stats);
        let nan: ConsumeStats = decode_body(br#"{"consumeTps":null,"offsetTable":{}}"#).unwrap();
        assert_eq!(nan.consume_tps, 0.0);
    }

    #[test]
    fn reset_offset_body_round_trips_through_the_fastjson_form() {
        // Goal: the broker->client reset body Java clients read. Method: write fastjson, re-read.
        let body = ResetOffsetBody {
            offset_table: [
                (MessageQueue::new("T", "b", 1), 42),
                (MessageQueue::new("T", "b", 0), 40),
            ]
            .into(),
        };
        let text = to_fastjson_string(&body);
        assert_eq!(
            text,
            r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:40,{"brokerName":"b","queueId":1,"topic":"T"}:42}}"#
        );
        assert_eq!(decode_body::<ResetOffsetBody>(text.as_bytes()).unwrap(), body);
    }
}
