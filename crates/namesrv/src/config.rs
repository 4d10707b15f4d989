//! `NamesrvConfig`: the name server's settings under RocketMQ's key names
//! (`common/.../namesrv/NamesrvConfig.java`, plus `listenPort` from `NettyServerConfig`).
//!
//! Every field has RocketMQ's default. Keys that tune Java thread pools are accepted (so Java
//! `namesrv.conf` files load) and validated, but have no effect: requests run as tokio tasks.
//!
//! Invariants: `validate()` names the first bad key; a config updated at run time
//! (UPDATE_NAMESRV_CONFIG) is validated as a whole before it replaces the current one, and keys
//! in `configBlackList` are never updated that way.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use ferromq_config::properties::to_properties_text;

/// Default name server port.
pub const DEFAULT_LISTEN_PORT: u16 = 9876;

/// Default dead-broker scan period of 5.x (`scanNotActiveBrokerInterval`).
pub const DEFAULT_SCAN_NOT_ACTIVE_BROKER_INTERVAL_MS: u64 = 5_000;

/// Default `configBlackList`: keys UPDATE_NAMESRV_CONFIG may not change.
pub const DEFAULT_CONFIG_BLACK_LIST: &str = "configBlackList;configStorePath;kvConfigPath";

/// Longest accepted scan period (one day): longer is certainly a unit mistake.
pub const MAX_SCAN_NOT_ACTIVE_BROKER_INTERVAL_MS: u64 = 86_400_000;

/// Name server settings, RocketMQ key names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NamesrvConfig {
    /// TCP port to listen on (`NettyServerConfig.listenPort`).
    pub listen_port: u16,
    /// RocketMQ home (`ROCKETMQ_HOME`); informational.
    pub rocketmq_home: String,
    /// File holding the KV config (`~/namesrv/kvConfig.json`).
    pub kv_config_path: PathBuf,
    /// File Java persists run-time config updates to; accepted, not written by FerroMQ.
    pub config_store_path: PathBuf,
    /// Environment name; informational.
    pub product_env_name: String,
    /// Cluster test mode (Java's `ClusterTestRequestProcessor`); not supported, must be false.
    pub cluster_test: bool,
    /// Add `orderTopicConf` (KV namespace ORDER_TOPIC_CONFIG) to routes.
    pub order_message_enable: bool,
    /// Answer REGISTER_BROKER with the ORDER_TOPIC_CONFIG KV table.
    pub return_order_topic_config_to_broker: bool,
    /// Java thread pool size; accepted, no effect.
    pub client_request_thread_pool_nums: i32,
    /// Java thread pool size; accepted, no effect.
    pub default_thread_pool_nums: i32,
    /// Java queue capacity; accepted, no effect.
    pub client_request_thread_pool_queue_capacity: i32,
    /// Java queue capacity; accepted, no effect.
    pub default_thread_pool_queue_capacity: i32,
    /// Period of the dead-broker scan, in milliseconds.
    #[serde(rename = "scanNotActiveBrokerInterval")]
    pub scan_not_active_broker_interval_ms: u64,
    /// Java unregister queue capacity; accepted, no effect (unregistration is synchronous).
    pub un_register_broker_queue_capacity: i32,
    /// Let a slave act as master in routes when the master is gone (5.x acting master).
    pub support_acting_master: bool,
    /// Answer GET_ALL_TOPIC_LIST_FROM_NAMESERVER (else SYSTEM_ERROR "disable").
    pub enable_all_topic_list: bool,
    /// Answer GET_TOPICS_BY_CLUSTER (else SYSTEM_ERROR "disable").
    pub enable_topic_list: bool,
    /// Java notifies brokers of min-broker-id changes; not supported, must be false.
    pub notify_min_broker_id_changed: bool,
    /// Embedded controller; not supported, must be false.
    pub enable_controller_in_namesrv: bool,
    /// Refuse routes for `waitSecondsForService` after start (SYSTEM_ERROR "name server not ready").
    pub need_wait_for_service: bool,
    /// See `needWaitForService`.
    pub wait_seconds_for_service: i32,
    /// Drop a broker's topics that its registration no longer lists.
    pub delete_topic_with_broker_registration: bool,
    /// `;`-separated keys UPDATE_NAMESRV_CONFIG may not change.
    pub config_black_list: String,
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default()
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        NamesrvConfig {
            listen_port: DEFAULT_LISTEN_PORT,
            rocketmq_home: std::env::var("ROCKETMQ_HOME").unwrap_or_default(),
            kv_config_path: home_dir().join("namesrv").join("kvConfig.json"),
            config_store_path: home_dir().join("namesrv").join("namesrv.properties"),
            product_env_name: "center".to_owned(),
            cluster_test: false,
            order_message_enable: false,
            return_order_topic_config_to_broker: true,
            client_request_thread_pool_nums: 8,
            default_thread_pool_nums: 16,
            client_request_thread_pool_queue_capacity: 50_000,
            default_thread_pool_queue_capacity: 10_000,
            scan_not_active_broker_interval_ms: DEFAULT_SCAN_NOT_ACTIVE_BROKER_INTERVAL_MS,
            un_register_broker_queue_capacity: 3_000,
            support_acting_master: false,
            enable_all_topic_list: true,
            enable_topic_list: true,
            notify_min_broker_id_changed: false,
            enable_controller_in_namesrv: false,
            need_wait_for_service: false,
            wait_seconds_for_service: 45,
            delete_topic_with_broker_registration: false,
            config_black_list: DEFAULT_CONFIG_BLACK_LIST.to_owned(),
        }
    }
}

/// A setting that cannot work, or a run-time update that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A field's value is out of range.
    #[error("invalid name server setting {key}={value}: {reason}")]
    Invalid {
        /// RocketMQ key name.
        key: &'static str,
        /// The value, as text.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An update value does not parse as the key's type.
    #[error("name server setting {key} cannot be set to {value:?}: expected {expected}")]
    BadValue {
        /// RocketMQ key name.
        key: String,
        /// The value received.
        value: String,
        /// The expected type.
        expected: &'static str,
    },
    /// An update names a key of `configBlackList`.
    #[error("name server setting {key} is in configBlackList and cannot be updated")]
    BlackListed {
        /// RocketMQ key name.
        key: String,
    },
}

fn invalid(key: &'static str, value: impl ToString, reason: &'static str) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        reason,
    }
}

impl NamesrvConfig {
    /// Checks every setting; the error names the first bad key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let interval = self.scan_not_active_broker_interval_ms;
        if interval == 0 || interval > MAX_SCAN_NOT_ACTIVE_BROKER_INTERVAL_MS {
            return Err(invalid(
                "scanNotActiveBrokerInterval",
                interval,
                "must be 1..=86400000 ms",
            ));
        }
        if self.kv_config_path.as_os_str().is_empty() {
            return Err(invalid("kvConfigPath", "", "must not be empty"));
        }
        let positive = [
            ("clientRequestThreadPoolNums", self.client_request_thread_pool_nums),
            ("defaultThreadPoolNums", self.default_thread_pool_nums),
            (
                "clientRequestThreadPoolQueueCapacity",
                self.client_request_thread_pool_queue_capacity,
            ),
            (
                "defaultThreadPoolQueueCapacity",
                self.default_thread_pool_queue_capacity,
            ),
            ("unRegisterBrokerQueueCapacity", self.un_register_broker_queue_capacity),
        ];
        if let Some((key, value)) = positive.iter().find(|(_, value)| *value <= 0) {
            return Err(invalid(key, value, "must be positive"));
        }
        if self.wait_seconds_for_service < 0 {
            return Err(invalid(
                "waitSecondsForService",
                self.wait_seconds_for_service,
                "must not be negative",
            ));
        }
        let unsupported = [
            ("clusterTest", self.cluster_test),
            ("notifyMinBrokerIdChanged", self.notify_min_broker_id_changed),
            ("enableControllerInNamesrv", self.enable_controller_in_namesrv),
        ];
        if let Some((key, _)) = unsupported.iter().find(|(_, on)| *on) {
            return Err(invalid(key, true, "not supported by FerroMQ"));
        }
        Ok(())
    }

    /// Period of the dead-broker scan.
    pub fn scan_not_active_broker_interval(&self) -> Duration {
        Duration::from_millis(self.scan_not_active_broker_interval_ms)
    }

    /// Keys of `configBlackList`.
    pub fn black_listed_keys(&self) -> impl Iterator<Item = &str> {
        self.config_black_list
            .split(';')
            .map(str::trim)
            .filter(|key| !key.is_empty())
    }

    /// Every setting as `key=value` lines (GET_NAMESRV_CONFIG body).
    pub fn to_properties_text(&self) -> String {
        let object = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(object)) => object,
            _ => serde_json::Map::new(),
        };
        to_properties_text(object.iter().map(|(key, value)| (key.as_str(), plain_text(value))))
    }

    /// This config with `updates` applied (UPDATE_NAMESRV_CONFIG): values parse by the key's
    /// type, unknown keys are ignored (as Java does), black-listed keys are refused, and the
    /// result must validate. Nothing is applied when any of that fails.
    pub fn with_updates(&self, updates: &BTreeMap<String, String>) -> Result<NamesrvConfig, ConfigError> {
        if let Some(key) = self.black_listed_keys().find(|key| updates.contains_key(*key)) {
            return Err(ConfigError::BlackListed { key: key.to_owned() });
        }
        let mut object = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(object)) => object,
            _ => serde_json::Map::new(),
        };
        for (key, text) in updates {
            let Some(slot) = object.get_mut(key) else {
                tracing::debug!(%key, "ignoring unknown name server setting");
                continue;
            };
            *slot = parse_like(slot, key, text)?;
            // Checked per key so an out-of-range value (e.g. a port above 65535) is named.
            if serde_json::from_value::<NamesrvConfig>(serde_json::Value::Object(object.clone())).is_err() {
                return Err(ConfigError::BadValue {
                    key: key.clone(),
                    value: text.clone(),
                    expected: "a value in the setting's range",
                });
            }
        }
        let updated: NamesrvConfig =
            serde_json::from_value(serde_json::Value::Object(object)).map_err(|_| ConfigError::BadValue {
                key: String::new(),
                value: String::new(),
                expected: "a value in the setting's range",
            })?;
        updated.validate()?;
        Ok(updated)
    }
}

/// A JSON scalar as properties text.
fn plain_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Parses `text` as the JSON type of `current`.
fn parse_like(current: &serde_json::Value, key: &str, text: &str) -> Result<serde_json::Value, ConfigError> {
    let bad = |expected| ConfigError::BadValue {
        key: key.to_owned(),
        value: text.to_owned(),
        expected,
    };
    let trimmed = text.trim();
    match current {
        serde_json::Value::Bool(_) => match trimmed.to_ascii_lowercase().as_str() {
            "true" => Ok(serde_json::Value::Bool(true)),
            "false" => Ok(serde_json::Value::Bool(false)),
            _ => Err(bad("true or false")),
        },
        serde_json::Value::Number(number) if number.is_u64() => trimmed
            .parse::<u64>()
            .map(serde_json::Value::from)
            .map_err(|_| bad("a non-negative integer")),
        serde_json::Value::Number(_) => trimmed
            .parse::<i64>()
            .map(serde_json::Value::from)
            .map_err(|_| bad("an integer")),
        _ => Ok(serde_json::Value::String(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_config::properties::parse_properties;

    #[test]
    fn defaults_match_rocketmq() {
        // Goal: RocketMQ 5.x defaults. Method: compare the fields that change behaviour.
        let config = NamesrvConfig::default();
        assert_eq!(config.listen_port, 9876);
        assert_eq!(config.scan_not_active_broker_interval_ms, 5_000);
        assert!(config.enable_all_topic_list && config.enable_topic_list);
        assert!(!config.order_message_enable);
        assert!(config.return_order_topic_config_to_broker);
        assert!(config.kv_config_path.ends_with("namesrv/kvConfig.json"));
        assert_eq!(config.wait_seconds_for_service, 45);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn rocketmq_key_names_deserialize() {
        // Goal: config files use RocketMQ's keys. Method: deserialize JSON with Java names;
        // absent keys keep defaults.
        let config: NamesrvConfig = serde_json::from_str(
            r#"{"listenPort":19876,"scanNotActiveBrokerInterval":100,"kvConfigPath":"/tmp/kv.json",
                "orderMessageEnable":true,"enableAllTopicList":false}"#,
        )
        .unwrap();
        assert_eq!(config.listen_port, 19876);
        assert_eq!(config.scan_not_active_broker_interval_ms, 100);
        assert_eq!(config.kv_config_path, PathBuf::from("/tmp/kv.json"));
        assert!(config.order_message_enable && !config.enable_all_topic_list);
        assert_eq!(config.product_env_name, "center");
    }

    #[test]
    fn validate_names_the_bad_key() {
        // Goal: each invalid setting is reported by its RocketMQ key. Method: break one at a time.
        type Breaker = Box<dyn Fn(&mut NamesrvConfig)>;
        let cases: Vec<(&str, Breaker)> = vec![
            (
                "scanNotActiveBrokerInterval",
                Box::new(|c| c.scan_not_active_broker_interval_ms = 0),
            ),
            ("kvConfigPath", Box::new(|c| c.kv_config_path = PathBuf::new())),
            ("defaultThreadPoolNums", Box::new(|c| c.default_thread_pool_nums = 0)),
            ("waitSecondsForService", Box::new(|c| c.wait_seconds_for_service = -1)),
            (
                "enableControllerInNamesrv",
                Box::new(|c| c.enable_controller_in_namesrv = true),
            ),
        ];
        for (key, breaker) in cases {
            let mut config = NamesrvConfig::default();
            breaker(&mut config);
            match config.validate() {
                Err(ConfigError::Invalid { key: named, .. }) => assert_eq!(named, key),
                other => panic!("{key}: {other:?}"),
            }
        }
    }

    #[test]
    fn updates_parse_by_type_and_respect_the_black_list() {
        // Goal: UPDATE_NAMESRV_CONFIG semantics. Method: apply good, bad, unknown and
        // black-listed keys; check the result and that failures change nothing.
        let config = NamesrvConfig::default();
        let updates = parse_properties("orderMessageEnable=TRUE\nscanNotActiveBrokerInterval=250\nnoSuchKey=1\n");
        let updated = config.with_updates(&updates).unwrap();
        assert!(updated.order_message_enable);
        assert_eq!(updated.scan_not_active_broker_interval_ms, 250);

        let bad = parse_properties("scanNotActiveBrokerInterval=soon");
        assert!(
            matches!(config.with_updates(&bad), Err(ConfigError::BadValue { key, .. }) if key == "scanNotActiveBrokerInterval")
        );
        let invalid = parse_properties("scanNotActiveBrokerInterval=0");
        assert!(matches!(
            config.with_updates(&invalid),
            Err(ConfigError::Invalid { .. })
        ));
        let black = parse_properties("kvConfigPath=/etc/passwd");
        assert!(matches!(config.with_updates(&black), Err(ConfigError::BlackListed { key }) if key == "kvConfigPath"));
    }

    #[test]
    fn properties_text_lists_every_key_and_reads_back() {
        // Goal: GET_NAMESRV_CONFIG text holds every key and re-applies to the same config.
        // Method: render, parse, apply (minus black-listed keys), compare.
        let config = NamesrvConfig {
            order_message_enable: true,
            ..NamesrvConfig::default()
        };
        let text = config.to_properties_text();
        assert!(text.contains("listenPort=9876\n"), "{text}");
        assert!(text.contains("scanNotActiveBrokerInterval=5000\n"));
        let mut parsed = parse_properties(&text);
        for key in config.black_listed_keys() {
            parsed.remove(key);
        }
        assert_eq!(NamesrvConfig::default().with_updates(&parsed).unwrap(), config);
    }
}
