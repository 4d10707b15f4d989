//! `BrokerConfig`: the broker's settings under RocketMQ's `BrokerConfig` key names and defaults
//! (`common/.../BrokerConfig.java`, plus `listenPort` of `NettyServerConfig` and the two
//! transfer limits of `MessageStoreConfig` that only the broker's pull path uses).
//!
//! Fields serialize as RocketMQ's camelCase keys, so the same `broker.conf`, TOML file or
//! `FERROMQ_*` environment overrides feed this struct and `MessageStoreConfig`; unknown keys are
//! ignored (they belong to the other struct). [`BrokerConfig::validate`] names the bad key.
//!
//! FerroMQ-only keys are marked as such; every other default matches RocketMQ 5.x unless its
//! doc says otherwise.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::BrokerError;
use crate::validate::{validate_topic_name, TOPIC_MAX_LENGTH};

/// PERM_PRIORITY | PERM_READ | PERM_WRITE | PERM_INHERIT: the largest meaningful permission.
const MAX_PERMISSION: i32 = 0xF;

/// Java clamps `registerNameServerPeriod` to [10 s, 60 s]; FerroMQ allows down to 1 s so tests
/// (and impatient operators) can see re-registration quickly.
pub const MIN_REGISTER_PERIOD_MS: u64 = 1_000;
/// Upper clamp of `registerNameServerPeriod` (Java's).
pub const MAX_REGISTER_PERIOD_MS: u64 = 60_000;

/// Broker settings (RocketMQ keys and defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BrokerConfig {
    /// Cluster this broker belongs to (`DefaultCluster`).
    pub broker_cluster_name: String,
    /// Broker name, shared by a master and its slaves (`broker-a`; Java defaults to the host name).
    pub broker_name: String,
    /// 0 = master. FerroMQ only runs masters.
    pub broker_id: i64,
    /// Address advertised to clients and name servers and written as STOREHOST; empty = the
    /// listener's address if it is specific, else the first non-loopback IPv4 (Java: local IP).
    #[serde(rename = "brokerIP1")]
    pub broker_ip1: String,
    /// HA address advertised to name servers; empty = `brokerIP1`.
    #[serde(rename = "brokerIP2")]
    pub broker_ip2: String,
    /// Main port (10911); the VIP port is `listenPort - 2`. When the broker is started on
    /// listeners the caller bound, the main listener's real port replaces this value.
    pub listen_port: u16,
    /// Name servers, `host:port` separated by `;` (none = standalone, no registration).
    pub namesrv_addr: Option<String>,
    /// Create unknown topics on first send from the `TBW102` template (true).
    pub auto_create_topic_enable: bool,
    /// Create unknown consumer groups on first heartbeat/pull (true).
    pub auto_create_subscription_group: bool,
    /// Queue count of `TBW102` and so of auto-created topics (8).
    pub default_topic_queue_nums: i32,
    /// Broker permission bits (6 = read + write).
    pub broker_permission: i32,
    /// Create a topic named after the cluster (true).
    pub cluster_topic_enable: bool,
    /// Create a topic named after the broker (true).
    pub broker_topic_enable: bool,
    /// Period of REGISTER_BROKER to every name server, ms (30,000; clamped to [1 s, 60 s]).
    pub register_name_server_period: u64,
    /// Timeout of one REGISTER_BROKER call, ms (24,000).
    pub register_broker_timeout_mills: u64,
    /// Hold PULL requests that find nothing (true).
    pub long_polling_enable: bool,
    /// Re-check period of held pulls when long polling is off, ms (1,000); with it on the
    /// period is 5 s.
    pub short_polling_time_mills: u64,
    /// A client channel without heartbeat for this long is closed, ms (120,000).
    pub channel_expired_timeout: u64,
    /// Consumer offsets are written to disk this often, ms (5,000).
    pub flush_consumer_offset_interval: u64,
    /// Send requests admitted but not yet stored, at most (10,000).
    pub send_thread_pool_queue_capacity: usize,
    /// Puts running at once (Java: min(cores, 4)).
    pub send_message_thread_pool_nums: usize,
    /// A send that waited longer than this for a worker is refused SYSTEM_BUSY, ms (200).
    pub wait_time_mills_in_send_queue: u64,
    /// A put running longer than this marks the store busy: new sends are refused, ms (1,000).
    pub os_page_cache_busy_time_out_mills: u64,
    /// Refuse sends early when the broker is busy (true).
    pub broker_fast_failure_enable: bool,
    /// Create the message trace topic (false).
    pub trace_topic_enable: bool,
    /// Name of the message trace topic (`RMQ_SYS_TRACE_TOPIC`).
    pub msg_trace_topic_name: String,
    /// SQL92 filtering (false). FerroMQ has no SQL92 evaluator: setting this to true is accepted
    /// but SQL92 subscriptions are still refused.
    pub enable_property_filter: bool,
    /// Refuse transactional (half) messages with NO_PERMISSION (false). FerroMQ does not
    /// implement transactions yet and refuses them whatever this says.
    pub reject_transaction_message: bool,
    /// Messages returned by a QUERY_MESSAGE on a unique key (32).
    pub default_query_max_num: i32,
    /// Messages per pull at most (`MessageStoreConfig`, 32).
    pub max_transfer_count_on_message_in_memory: usize,
    /// Bytes per pull at most (`MessageStoreConfig`, 256 KiB); at least one message is returned.
    pub max_transfer_bytes_on_message_in_memory: usize,
    /// Percent of physical memory treated as page cache when deciding whether a new group may
    /// start from offset 0 (`MessageStoreConfig`, 40).
    pub access_message_in_memory_max_ratio: u32,
    /// FerroMQ: pull requests held (long-polled) at once; beyond it pulls are answered at once.
    pub max_held_pull_requests: usize,
    /// FerroMQ: deliver messages with a DELAY level through `SCHEDULE_TOPIC_XXXX` (true).
    pub schedule_message_enable: bool,
    /// File UPDATE_BROKER_CONFIG writes accepted changes to (Java `brokerConfigPath`). Empty
    /// (the default) means the `-c` file the broker was started with, or no file: changes then
    /// last until restart.
    pub broker_config_path: String,
    /// FerroMQ: how long, in microseconds, a connection's reader busy-polls its socket after
    /// running dry before its worker thread may sleep (100; 0 turns it off; at most 10,000).
    /// Saves the wake-up of a sleeping thread per request, which dominates one-in-flight
    /// latency on virtual machines; adaptive, so quiet connections cost nothing.
    pub server_busy_poll_micros: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            broker_cluster_name: "DefaultCluster".to_owned(),
            broker_name: "broker-a".to_owned(),
            broker_id: 0,
            broker_ip1: String::new(),
            broker_ip2: String::new(),
            listen_port: 10911,
            namesrv_addr: None,
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            default_topic_queue_nums: 8,
            broker_permission: 6,
            cluster_topic_enable: true,
            broker_topic_enable: true,
            register_name_server_period: 30_000,
            register_broker_timeout_mills: 24_000,
            long_polling_enable: true,
            short_polling_time_mills: 1_000,
            channel_expired_timeout: 120_000,
            flush_consumer_offset_interval: 5_000,
            send_thread_pool_queue_capacity: 10_000,
            send_message_thread_pool_nums: 4,
            wait_time_mills_in_send_queue: 200,
            os_page_cache_busy_time_out_mills: 1_000,
            broker_fast_failure_enable: true,
            trace_topic_enable: false,
            msg_trace_topic_name: "RMQ_SYS_TRACE_TOPIC".to_owned(),
            enable_property_filter: false,
            reject_transaction_message: false,
            default_query_max_num: 32,
            max_transfer_count_on_message_in_memory: 32,
            max_transfer_bytes_on_message_in_memory: 256 * 1024,
            access_message_in_memory_max_ratio: 40,
            max_held_pull_requests: 100_000,
            broker_config_path: String::new(),
            server_busy_poll_micros: u64::try_from(ferromq_remoting::config::DEFAULT_BUSY_POLL.as_micros())
                .unwrap_or(100),
            schedule_message_enable: true,
        }
    }
}

fn bad(key: &'static str, reason: impl Into<String>) -> BrokerError {
    BrokerError::InvalidConfig {
        key,
        reason: reason.into(),
    }
}

impl BrokerConfig {
    /// The busy-poll window of the broker's connections (`serverBusyPollMicros`).
    pub fn server_busy_poll(&self) -> Duration {
        Duration::from_micros(self.server_busy_poll_micros)
    }

    /// Checks every value; the error names the first bad RocketMQ key.
    pub fn validate(&self) -> Result<(), BrokerError> {
        check_name("brokerClusterName", &self.broker_cluster_name)?;
        check_name("brokerName", &self.broker_name)?;
        if self.broker_id != 0 {
            return Err(bad("brokerId", "FerroMQ runs masters only: brokerId must be 0"));
        }
        if let Some(addrs) = &self.namesrv_addr {
            for addr in split_namesrv_addr(addrs) {
                let port = addr.rsplit_once(':').and_then(|(host, port)| {
                    (!host.is_empty()).then_some(())?;
                    port.parse::<u16>().ok()
                });
                if port.is_none() {
                    return Err(bad("namesrvAddr", format!("{addr:?} is not host:port")));
                }
            }
        }
        if !(1..=1024).contains(&self.default_topic_queue_nums) {
            return Err(bad("defaultTopicQueueNums", "must be within [1, 1024]"));
        }
        if !(0..=MAX_PERMISSION).contains(&self.broker_permission) {
            return Err(bad("brokerPermission", "must be within [0, 15]"));
        }
        if self.server_busy_poll() > ferromq_remoting::config::MAX_BUSY_POLL {
            return Err(bad("serverBusyPollMicros", "must be within [0, 10000]"));
        }
        let positive: [(&'static str, u64); 7] = [
            ("registerNameServerPeriod", self.register_name_server_period),
            ("registerBrokerTimeoutMills", self.register_broker_timeout_mills),
            ("shortPollingTimeMills", self.short_polling_time_mills),
            ("channelExpiredTimeout", self.channel_expired_timeout),
            ("flushConsumerOffsetInterval", self.flush_consumer_offset_interval),
            ("osPageCacheBusyTimeOutMills", self.os_page_cache_busy_time_out_mills),
            ("waitTimeMillsInSendQueue", self.wait_time_mills_in_send_queue.max(1)),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(bad(key, "must be > 0"));
        }
        let counts: [(&'static str, usize); 5] = [
            ("sendThreadPoolQueueCapacity", self.send_thread_pool_queue_capacity),
            ("sendMessageThreadPoolNums", self.send_message_thread_pool_nums),
            (
                "maxTransferCountOnMessageInMemory",
                self.max_transfer_count_on_message_in_memory,
            ),
            (
                "maxTransferBytesOnMessageInMemory",
                self.max_transfer_bytes_on_message_in_memory,
            ),
            ("maxHeldPullRequests", self.max_held_pull_requests),
        ];
        if let Some((key, _)) = counts.iter().find(|(_, v)| *v == 0) {
            return Err(bad(key, "must be > 0"));
        }
        if self.send_message_thread_pool_nums > 256 {
            return Err(bad("sendMessageThreadPoolNums", "must be within [1, 256]"));
        }
        if !(1..=10_000).contains(&self.default_query_max_num) {
            return Err(bad("defaultQueryMaxNum", "must be within [1, 10000]"));
        }
        if !(1..=100).contains(&self.access_message_in_memory_max_ratio) {
            return Err(bad("accessMessageInMemoryMaxRatio", "must be within [1, 100]"));
        }
        if validate_topic_name(&self.msg_trace_topic_name).is_err() {
            return Err(bad(
                "msgTraceTopicName",
                format!("{:?} is not a valid topic name", self.msg_trace_topic_name),
            ));
        }
        Ok(())
    }

    /// The name servers, in order.
    pub fn namesrv_addrs(&self) -> Vec<String> {
        self.namesrv_addr
            .as_deref()
            .map(|s| split_namesrv_addr(s).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The re-registration period, clamped to [`MIN_REGISTER_PERIOD_MS`, `MAX_REGISTER_PERIOD_MS`].
    pub fn register_period(&self) -> Duration {
        Duration::from_millis(
            self.register_name_server_period
                .clamp(MIN_REGISTER_PERIOD_MS, MAX_REGISTER_PERIOD_MS),
        )
    }

    /// How often held pulls are re-checked without an arrival notification: 5 s with long
    /// polling, `shortPollingTimeMills` without (Java `PullRequestHoldService`).
    pub fn hold_check_interval(&self) -> Duration {
        if self.long_polling_enable {
            Duration::from_secs(5)
        } else {
            Duration::from_millis(self.short_polling_time_mills)
        }
    }

    /// Whether the broker accepts writes (PERM_WRITE).
    pub fn is_writeable(&self) -> bool {
        self.broker_permission & crate::topics::PERM_WRITE != 0
    }

    /// Whether the broker serves reads (PERM_READ).
    pub fn is_readable(&self) -> bool {
        self.broker_permission & crate::topics::PERM_READ != 0
    }
}

fn split_namesrv_addr(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(str::trim).filter(|a| !a.is_empty())
}

/// Cluster and broker names become topics (cluster/broker topics), so they follow topic rules.
fn check_name(key: &'static str, name: &str) -> Result<(), BrokerError> {
    if name.is_empty() || name.len() > TOPIC_MAX_LENGTH {
        return Err(bad(key, "must be 1 to 127 characters"));
    }
    if validate_topic_name(name).is_err() {
        return Err(bad(
            key,
            format!("{name:?} may only hold letters, digits, '%', '|', '_' and '-'"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: defaults are valid and equal RocketMQ's. Method: validate the default and spot-check keys.
    #[test]
    fn defaults_are_valid_and_match_rocketmq() {
        let config = BrokerConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!(config.listen_port, 10911);
        assert_eq!(config.default_topic_queue_nums, 8);
        assert_eq!(config.broker_permission, 6);
        assert_eq!(config.register_period(), Duration::from_secs(30));
        assert_eq!(config.server_busy_poll(), ferromq_remoting::config::DEFAULT_BUSY_POLL);
        assert!(config.namesrv_addrs().is_empty());
    }

    // Goal: the serialized keys are RocketMQ's. Method: serialize and look for the Java names.
    #[test]
    fn keys_serialize_under_rocketmq_names() {
        let json = serde_json::to_value(BrokerConfig::default()).unwrap_or_default();
        for key in [
            "brokerClusterName",
            "brokerIP1",
            "namesrvAddr",
            "autoCreateTopicEnable",
            "osPageCacheBusyTimeOutMills",
            "waitTimeMillsInSendQueue",
            "msgTraceTopicName",
        ] {
            assert!(json.get(key).is_some(), "missing key {key}");
        }
    }

    // Goal: a partial file keeps defaults for absent keys. Method: deserialize two keys.
    #[test]
    fn absent_keys_take_defaults() {
        let config: BrokerConfig =
            serde_json::from_str(r#"{"brokerName":"b1","namesrvAddr":"a:9876;b:9876"}"#).unwrap_or_default();
        assert_eq!(config.broker_name, "b1");
        assert_eq!(config.namesrv_addrs(), vec!["a:9876".to_owned(), "b:9876".to_owned()]);
        assert_eq!(config.broker_cluster_name, "DefaultCluster");
    }

    // Goal: validate names the bad key. Method: break one key at a time.
    #[test]
    fn validation_names_the_bad_key() {
        let cases: Vec<(BrokerConfig, &str)> = vec![
            (
                BrokerConfig {
                    broker_name: "bad name".into(),
                    ..Default::default()
                },
                "brokerName",
            ),
            (
                BrokerConfig {
                    namesrv_addr: Some("nohost".into()),
                    ..Default::default()
                },
                "namesrvAddr",
            ),
            (
                BrokerConfig {
                    default_topic_queue_nums: 0,
                    ..Default::default()
                },
                "defaultTopicQueueNums",
            ),
            (
                BrokerConfig {
                    send_thread_pool_queue_capacity: 0,
                    ..Default::default()
                },
                "sendThreadPoolQueueCapacity",
            ),
            (
                BrokerConfig {
                    flush_consumer_offset_interval: 0,
                    ..Default::default()
                },
                "flushConsumerOffsetInterval",
            ),
            (
                BrokerConfig {
                    server_busy_poll_micros: 10_001,
                    ..Default::default()
                },
                "serverBusyPollMicros",
            ),
        ];
        for (config, key) in cases {
            match config.validate() {
                Err(BrokerError::InvalidConfig { key: got, .. }) => assert_eq!(got, key),
                other => panic!("expected InvalidConfig({key}), got {other:?}"),
            }
        }
    }

    // Goal: the register period is clamped. Method: values below and above the bounds.
    #[test]
    fn register_period_is_clamped() {
        let mut config = BrokerConfig {
            register_name_server_period: 10,
            ..Default::default()
        };
        assert_eq!(config.register_period(), Duration::from_millis(MIN_REGISTER_PERIOD_MS));
        config.register_name_server_period = 10_000_000;
        assert_eq!(config.register_period(), Duration::from_millis(MAX_REGISTER_PERIOD_MS));
    }
}
