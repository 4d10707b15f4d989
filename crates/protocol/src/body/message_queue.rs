//! MessageQueue and the LOCK_BATCH_MQ / UNLOCK_BATCH_MQ bodies (reference 3.5).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::serde_ext::null_default;

/// One queue of one topic on one broker: `{"brokerName":…,"queueId":…,"topic":…}`.
///
/// Ordered like the Java client sorts queues: topic, then brokerName, then queueId.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueue {
    /// Broker name.
    #[serde(deserialize_with = "null_default")]
    pub broker_name: String,
    /// Queue id.
    pub queue_id: i32,
    /// Topic.
    #[serde(deserialize_with = "null_default")]
    pub topic: String,
}

impl MessageQueue {
    /// A queue.
    pub fn new(topic: impl Into<String>, broker_name: impl Into<String>, queue_id: i32) -> Self {
        MessageQueue {
            broker_name: broker_name.into(),
            queue_id,
            topic: topic.into(),
        }
    }
}

impl Ord for MessageQueue {
    fn cmp(&self, other: &Self) -> Ordering {
        self.topic
            .cmp(&other.topic)
            .then_with(|| self.broker_name.cmp(&other.broker_name))
            .then_with(|| self.queue_id.cmp(&other.queue_id))
    }
}

impl PartialOrd for MessageQueue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// LOCK_BATCH_MQ (41) request body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchRequestBody {
    /// Client id asking for the locks.
    #[serde(deserialize_with = "null_default")]
    pub client_id: String,
    /// Consumer group.
    #[serde(deserialize_with = "null_default")]
    pub consumer_group: String,
    /// Queues to lock.
    #[serde(deserialize_with = "null_default")]
    pub mq_set: BTreeSet<MessageQueue>,
    /// Lock only on this broker (no forwarding to slaves/peers).
    pub only_this_broker: bool,
}

/// UNLOCK_BATCH_MQ (42) request body (same shape as the lock request).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UnlockBatchRequestBody {
    /// Client id releasing the locks.
    #[serde(deserialize_with = "null_default")]
    pub client_id: String,
    /// Consumer group.
    #[serde(deserialize_with = "null_default")]
    pub consumer_group: String,
    /// Queues to unlock.
    #[serde(deserialize_with = "null_default")]
    pub mq_set: BTreeSet<MessageQueue>,
    /// Unlock only on this broker.
    pub only_this_broker: bool,
}

/// LOCK_BATCH_MQ (41) response body: the queues now locked by the requester.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LockBatchResponseBody {
    /// Locked queues (wire name `lockOKMQSet`).
    #[serde(rename = "lockOKMQSet", deserialize_with = "null_default")]
    pub lock_ok_mq_set: BTreeSet<MessageQueue>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode_body, encode_body};

    #[test]
    fn queues_sort_by_topic_then_broker_then_queue_id() {
        // Goal: client allocation order. Method: sort a shuffled list.
        let mut queues = vec![
            MessageQueue::new("B", "a", 0),
            MessageQueue::new("A", "b", 0),
            MessageQueue::new("A", "a", 2),
            MessageQueue::new("A", "a", 10),
        ];
        queues.sort();
        assert_eq!(
            queues,
            vec![
                MessageQueue::new("A", "a", 2),
                MessageQueue::new("A", "a", 10),
                MessageQueue::new("A", "b", 0),
                MessageQueue::new("B", "a", 0),
            ]
        );
    }

    #[test]
    fn lock_bodies_use_java_field_names() {
        // Goal: wire names match the reference (`mqSet`, `lockOKMQSet`). Method: encode and decode.
        let request: LockBatchRequestBody = decode_body(
            br#"{"clientId":"c1","consumerGroup":"g","mqSet":[{"brokerName":"b","queueId":0,"topic":"T"}],"onlyThisBroker":false}"#,
        )
        .unwrap();
        assert_eq!(request.mq_set.len(), 1);
        let response = LockBatchResponseBody {
            lock_ok_mq_set: request.mq_set.clone(),
        };
        assert_eq!(
            String::from_utf8(encode_body(&response)).unwrap(),
            r#"{"lockOKMQSet":[{"brokerName":"b","queueId":0,"topic":"T"}]}"#
        );
    }
}
