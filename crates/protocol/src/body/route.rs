//! Route bodies (reference 3.1, 3.2): TopicRouteData (GET_ROUTEINFO_BY_TOPIC), QueueData,
//! BrokerData, ClusterInfo (GET_BROKER_CLUSTER_INFO).
//!
//! Invariant: a route is always written with `brokerDatas`, `queueDatas`, `filterServerTable`
//! and every BrokerData's `enableActingMaster` present (rust clients <= 0.7 require them).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::encode_body;
use super::fastjson::to_unquoted_integer_keys_string;
use super::serde_ext::null_default;

/// First version (`V4_9_4`) that gets quoted brokerAddrs keys whatever it asks.
pub const STANDARD_JSON_MIN_VERSION: i32 = 397;

/// Whether a route answer should use standard JSON (quoted integer keys): requester version
/// >= 397 or `acceptStandardJsonOnly=true`, the Java name server's rule.
pub fn wants_standard_json(requester_version: i32, accept_standard_json_only: bool) -> bool {
    requester_version >= STANDARD_JSON_MIN_VERSION || accept_standard_json_only
}

/// Queues of one topic on one broker.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueData {
    /// Broker name.
    #[serde(deserialize_with = "null_default")]
    pub broker_name: String,
    /// Permission bits (2 write, 4 read).
    pub perm: i32,
    /// Read queue count.
    pub read_queue_nums: i32,
    /// Topic sysFlag.
    pub topic_sys_flag: i32,
    /// Write queue count.
    pub write_queue_nums: i32,
}

/// One broker group: its name, cluster and addresses by broker id (0 = master).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    /// brokerId -> `ip:port`.
    #[serde(deserialize_with = "null_default")]
    pub broker_addrs: BTreeMap<i64, String>,
    /// Broker name.
    #[serde(deserialize_with = "null_default")]
    pub broker_name: String,
    /// Cluster name.
    #[serde(deserialize_with = "null_default")]
    pub cluster: String,
    /// Slave-acting-master mode.
    pub enable_acting_master: bool,
    /// Zone (only written when set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

/// Broker id of a master.
pub const MASTER_ID: i64 = 0;

impl BrokerData {
    /// The master's address (`brokerAddrs[0]`).
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }
}

/// GET_ROUTEINFO_BY_TOPIC body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    /// Brokers serving the topic.
    #[serde(deserialize_with = "null_default")]
    pub broker_datas: Vec<BrokerData>,
    /// Filter servers by broker address (legacy, usually empty).
    #[serde(deserialize_with = "null_default")]
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// `brokerName:queueCount;...` for ordered topics (KV namespace ORDER_TOPIC_CONFIG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    /// Queues per broker.
    #[serde(deserialize_with = "null_default")]
    pub queue_datas: Vec<QueueData>,
    /// Static-topic mapping by broker (kept as raw JSON; omitted when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_by_broker: Option<BTreeMap<String, serde_json::Value>>,
}

impl TopicRouteData {
    /// Encodes the route for a requester: standard JSON when `standard_json` (see
    /// [`wants_standard_json`]), else the legacy form with unquoted brokerAddrs keys.
    pub fn encode(&self, standard_json: bool) -> Vec<u8> {
        if standard_json {
            encode_body(self)
        } else {
            to_unquoted_integer_keys_string(self).into_bytes()
        }
    }
}

/// GET_BROKER_CLUSTER_INFO body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInfo {
    /// brokerName -> BrokerData.
    #[serde(deserialize_with = "null_default")]
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// clusterName -> broker names.
    #[serde(deserialize_with = "null_default")]
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::decode_body;

    fn route() -> TopicRouteData {
        TopicRouteData {
            broker_datas: vec![BrokerData {
                broker_addrs: [(0, "10.0.0.1:10911".to_owned()), (1, "10.0.0.2:10911".to_owned())].into(),
                broker_name: "broker-a".into(),
                cluster: "DefaultCluster".into(),
                ..Default::default()
            }],
            queue_datas: vec![QueueData {
                broker_name: "broker-a".into(),
                perm: 6,
                read_queue_nums: 4,
                write_queue_nums: 4,
                topic_sys_flag: 0,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn route_key_quoting_follows_the_requester_version() {
        // Goal: the Java name server's rule. Method: version/flag table and both encodings.
        assert!(!wants_standard_json(317, false));
        assert!(wants_standard_json(317, true));
        assert!(wants_standard_json(397, false));
        let standard = String::from_utf8(route().encode(true)).unwrap();
        assert!(
            standard.contains(r#""brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}"#),
            "{standard}"
        );
        assert!(standard.contains(r#""filterServerTable":{}"#));
        assert!(standard.contains(r#""enableActingMaster":false"#));
        let legacy = String::from_utf8(route().encode(false)).unwrap();
        assert!(
            legacy.contains(r#""brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}"#),
            "{legacy}"
        );
        assert_eq!(decode_body::<TopicRouteData>(legacy.as_bytes()).unwrap(), route());
        assert_eq!(route().broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
    }

    #[test]
    fn java_cluster_info_with_unquoted_keys_parses() {
        // Goal: ClusterInfo as Java writes it (unquoted brokerAddrs keys) parses. Method: literal.
        let text = br#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}"#;
        let info: ClusterInfo = decode_body(text).unwrap();
        assert_eq!(info.broker_addr_table["broker-a"].master_addr(), Some("10.0.0.1:10911"));
        assert!(info.cluster_addr_table["DefaultCluster"].contains("broker-a"));
    }
}
