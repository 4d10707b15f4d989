//! SubscriptionGroupConfig (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP body,
//! GET_SUBSCRIPTIONGROUP_CONFIG answer) and its wrapper (GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
//! `config/subscriptionGroup.json`). Absent fields take RocketMQ's defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::serde_ext::null_default;
use super::DataVersion;

/// A subscription declared on a group (5.x).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SimpleSubscriptionData {
    /// Expression.
    #[serde(deserialize_with = "null_default")]
    pub expression: String,
    /// `TAG` or `SQL92`.
    #[serde(deserialize_with = "null_default")]
    pub expression_type: String,
    /// Topic.
    #[serde(deserialize_with = "null_default")]
    pub topic: String,
    /// Version.
    pub version: i64,
}

/// One consumer group's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    /// 5.x attributes.
    #[serde(deserialize_with = "null_default")]
    pub attributes: BTreeMap<String, String>,
    /// Broker id to consume from (0 = master).
    pub broker_id: i64,
    /// Broadcast consumption allowed (default true).
    pub consume_broadcast_enable: bool,
    /// Consumption allowed (default true).
    pub consume_enable: bool,
    /// Start from the min offset for a new group (default true).
    pub consume_from_min_enable: bool,
    /// Orderly consumption (default false).
    pub consume_message_orderly: bool,
    /// Push consume timeout in minutes (default 15).
    pub consume_timeout_minute: i32,
    /// Group name.
    #[serde(deserialize_with = "null_default")]
    pub group_name: String,
    /// Retry policy (5.x), kept as raw JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_retry_policy: Option<serde_json::Value>,
    /// Group sysFlag.
    pub group_sys_flag: i32,
    /// Send NOTIFY_CONSUMER_IDS_CHANGED on membership changes (default true).
    pub notify_consumer_ids_changed_enable: bool,
    /// Max retries before DLQ (default 16).
    pub retry_max_times: i32,
    /// Retry topic queue count (default 1).
    pub retry_queue_nums: i32,
    /// Declared subscriptions (5.x; only written when set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data_set: Option<Vec<SimpleSubscriptionData>>,
    /// Broker id to consume from when consumption is slow (default 1).
    pub which_broker_when_consume_slowly: i64,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        SubscriptionGroupConfig {
            attributes: BTreeMap::new(),
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: false,
            consume_timeout_minute: 15,
            group_name: String::new(),
            group_retry_policy: None,
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: 16,
            retry_queue_nums: 1,
            subscription_data_set: None,
            which_broker_when_consume_slowly: 1,
        }
    }
}

impl SubscriptionGroupConfig {
    /// A group with RocketMQ's defaults.
    pub fn new(group_name: impl Into<String>) -> Self {
        SubscriptionGroupConfig {
            group_name: group_name.into(),
            ..Default::default()
        }
    }
}

/// All subscription groups of a broker with their DataVersion.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    /// Version of the table.
    #[serde(deserialize_with = "null_default")]
    pub data_version: DataVersion,
    /// groupName -> config.
    #[serde(deserialize_with = "null_default")]
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::decode_body;

    #[test]
    fn absent_fields_take_rocketmq_defaults() {
        // Goal: a minimal group JSON gets RocketMQ's defaults. Method: decode {"groupName":"g"}.
        let config: SubscriptionGroupConfig =
            decode_body(br#"{"groupName":"g","groupRetryPolicy":{"type":"CUSTOMIZED"}}"#).unwrap();
        let expected = SubscriptionGroupConfig {
            group_retry_policy: Some(serde_json::json!({"type": "CUSTOMIZED"})),
            ..SubscriptionGroupConfig::new("g")
        };
        assert_eq!(config, expected);
        assert!(config.consume_enable && config.consume_broadcast_enable && config.notify_consumer_ids_changed_enable);
        assert_eq!((config.retry_queue_nums, config.retry_max_times), (1, 16));
        assert_eq!((config.broker_id, config.which_broker_when_consume_slowly), (0, 1));
    }
}
