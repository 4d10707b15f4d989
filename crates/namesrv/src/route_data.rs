//! The records of the route table (`route_info`): keys, liveness records, registration and
//! unregistration requests and results.
//!
//! Invariant: a broker expires when `now > last_update + heartbeat_timeout` (monotonic clock).

use std::time::Duration;

use ferromq_protocol::body::{DataVersion, TopicConfigSerializeWrapper};
use tokio::time::Instant;

/// Java `PermName.PERM_WRITE`.
pub const PERM_WRITE: i32 = 2;
/// Java `PermName.PERM_READ`.
pub const PERM_READ: i32 = 4;

/// A broker is dropped this long after its last registration unless the request says otherwise
/// (`DEFAULT_BROKER_CHANNEL_EXPIRED_TIME`).
pub const DEFAULT_BROKER_CHANNEL_EXPIRED_TIME: Duration = Duration::from_secs(120);

/// Key of the liveness and filter-server tables: a broker address within a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrokerAddrInfo {
    /// Cluster name.
    pub cluster_name: String,
    /// `ip:port`.
    pub broker_addr: String,
}

impl BrokerAddrInfo {
    /// A key from its parts.
    pub fn new(cluster_name: impl Into<String>, broker_addr: impl Into<String>) -> Self {
        BrokerAddrInfo {
            cluster_name: cluster_name.into(),
            broker_addr: broker_addr.into(),
        }
    }
}

/// Liveness record of one registered broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerLiveInfo {
    /// Last REGISTER_BROKER, QUERY_DATA_VERSION or BROKER_HEARTBEAT.
    pub last_update: Instant,
    /// Expiry delay after `last_update`.
    pub heartbeat_timeout: Duration,
    /// DataVersion of the broker's topic config at its last registration.
    pub data_version: DataVersion,
    /// The connection it registered on (`None` when registered without one, e.g. in tests).
    pub connection_id: Option<u64>,
    /// The broker's HA address (given to its slaves).
    pub ha_server_addr: String,
}

impl BrokerLiveInfo {
    /// True when `now` is past `last_update + heartbeat_timeout`.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.last_update
            .checked_add(self.heartbeat_timeout)
            .is_some_and(|deadline| now > deadline)
    }
}

/// One REGISTER_BROKER, decoded.
#[derive(Debug, Clone, Default)]
pub struct BrokerRegistration {
    /// Cluster name.
    pub cluster_name: String,
    /// `ip:port` clients use.
    pub broker_addr: String,
    /// Broker name.
    pub broker_name: String,
    /// 0 = master.
    pub broker_id: i64,
    /// HA address.
    pub ha_server_addr: String,
    /// Zone (`zoneName` ext field).
    pub zone_name: Option<String>,
    /// Header `heartbeatTimeoutMillis`; `None` = 120 s.
    pub heartbeat_timeout_ms: Option<i64>,
    /// Header `enableActingMaster`; `None` marks a pre-5.0 broker.
    pub enable_acting_master: Option<bool>,
    /// The broker's topics and DataVersion.
    pub topic_config_wrapper: TopicConfigSerializeWrapper,
    /// Filter servers; `None` leaves the table as is, empty clears the entry.
    pub filter_server_list: Option<Vec<String>>,
    /// The connection the request came on.
    pub connection_id: Option<u64>,
}

/// REGISTER_BROKER answer data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterBrokerResult {
    /// The master's HA address (slaves only, when the master is registered).
    pub ha_server_addr: Option<String>,
    /// The master's address (slaves only, when the master is registered).
    pub master_addr: Option<String>,
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// A single-topic registration (5.x `enableSingleTopicRegister`) from a broker id that never
    /// registered in full; Java answers "register broker failed".
    #[error("broker {broker_name}[{broker_id}] {broker_addr} registered one topic before registering in full")]
    SingleTopicBeforeFullRegistration {
        /// Broker name.
        broker_name: String,
        /// Broker id.
        broker_id: i64,
        /// Broker address.
        broker_addr: String,
    },
}

/// One UNREGISTER_BROKER (or an expiry / connection close turned into one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnregisterRequest {
    /// Cluster name.
    pub cluster_name: String,
    /// Broker address.
    pub broker_addr: String,
    /// Broker name.
    pub broker_name: String,
    /// Broker id.
    pub broker_id: i64,
}

/// A broker the liveness scan dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredBroker {
    /// Its key.
    pub addr_info: BrokerAddrInfo,
    /// The connection it registered on, to be closed as Java does.
    pub connection_id: Option<u64>,
}
