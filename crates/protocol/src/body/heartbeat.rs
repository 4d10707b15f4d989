//! HEART_BEAT body (reference 3.4): HeartbeatData with ProducerData, ConsumerData and
//! SubscriptionData, and the enums written by name.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::serde_ext::null_default;

/// How a consumer gets messages (`ConsumeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumeType {
    /// Pull consumer.
    ConsumeActively,
    /// Push consumer (the Java default).
    #[default]
    ConsumePassively,
    /// POP consumer.
    ConsumePop,
}

/// Clustering or broadcasting (`MessageModel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageModel {
    /// Every consumer gets every message.
    Broadcasting,
    /// Queues are shared among the group (the Java default).
    #[default]
    Clustering,
}

/// Where a new consumer starts (`ConsumeFromWhere`), deprecated names included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumeFromWhere {
    /// From the max offset (the Java default).
    #[default]
    ConsumeFromLastOffset,
    /// Deprecated.
    ConsumeFromLastOffsetAndFromMinWhenBootFirst,
    /// Deprecated.
    ConsumeFromMinOffset,
    /// Deprecated.
    ConsumeFromMaxOffset,
    /// From the min offset.
    ConsumeFromFirstOffset,
    /// From a timestamp.
    ConsumeFromTimestamp,
}

/// Subscription expression language: `TAG` (default) or `SQL92`; other strings are kept (Java
/// keeps the raw string and rejects it when building the filter).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ExpressionType {
    /// Tag expression (`TagA || TagB`, `*`).
    #[default]
    Tag,
    /// SQL92 property filter.
    Sql92,
    /// Anything else, as received.
    Other(String),
}

impl From<String> for ExpressionType {
    fn from(name: String) -> Self {
        match name.as_str() {
            "TAG" => ExpressionType::Tag,
            "SQL92" => ExpressionType::Sql92,
            _ => ExpressionType::Other(name),
        }
    }
}

impl From<ExpressionType> for String {
    fn from(value: ExpressionType) -> Self {
        match value {
            ExpressionType::Tag => "TAG".to_owned(),
            ExpressionType::Sql92 => "SQL92".to_owned(),
            ExpressionType::Other(name) => name,
        }
    }
}

/// The `*` subscription (all tags).
pub const SUB_ALL: &str = "*";

/// One topic subscription of a consumer group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionData {
    /// Legacy class filter mode.
    pub class_filter_mode: bool,
    /// Java hashes of the tags.
    #[serde(deserialize_with = "null_default")]
    pub code_set: BTreeSet<i32>,
    /// `TAG` or `SQL92`.
    #[serde(deserialize_with = "null_default")]
    pub expression_type: ExpressionType,
    /// The expression (`TagA || TagB`, `*`, or SQL).
    #[serde(deserialize_with = "null_default")]
    pub sub_string: String,
    /// Subscription version (a timestamp).
    pub sub_version: i64,
    /// Tags of a TAG expression (empty for `*`).
    #[serde(deserialize_with = "null_default")]
    pub tags_set: BTreeSet<String>,
    /// Topic.
    #[serde(deserialize_with = "null_default")]
    pub topic: String,
}

impl SubscriptionData {
    /// True for a TAG subscription to all messages (`*` or empty).
    pub fn is_sub_all(&self) -> bool {
        self.expression_type == ExpressionType::Tag && (self.sub_string.is_empty() || self.sub_string == SUB_ALL)
    }
}

/// One consumer group of a client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerData {
    /// Where a new consumer starts.
    #[serde(deserialize_with = "null_default")]
    pub consume_from_where: ConsumeFromWhere,
    /// Pull, push or pop.
    #[serde(deserialize_with = "null_default")]
    pub consume_type: ConsumeType,
    /// Consumer group.
    #[serde(deserialize_with = "null_default")]
    pub group_name: String,
    /// Clustering or broadcasting.
    #[serde(deserialize_with = "null_default")]
    pub message_model: MessageModel,
    /// Subscriptions.
    #[serde(deserialize_with = "null_default")]
    pub subscription_data_set: Vec<SubscriptionData>,
    /// Unit mode.
    pub unit_mode: bool,
}

/// One producer group of a client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerData {
    /// Producer group.
    #[serde(deserialize_with = "null_default")]
    pub group_name: String,
}

/// HEART_BEAT (34) body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeartbeatData {
    /// Client id `ip@pid` (wire name `clientID`).
    #[serde(rename = "clientID", deserialize_with = "null_default")]
    pub client_id: String,
    /// Consumer groups.
    #[serde(deserialize_with = "null_default")]
    pub consumer_data_set: Vec<ConsumerData>,
    /// Non-zero for v2 heartbeats (5.x).
    pub heartbeat_fingerprint: i32,
    /// Producer groups.
    #[serde(deserialize_with = "null_default")]
    pub producer_data_set: Vec<ProducerData>,
    /// v2 heartbeat without subscriptions (5.x).
    pub without_sub: bool,
}
