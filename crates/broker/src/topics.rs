//! `TopicConfigManager`: the broker's topic table (`broker/.../topic/TopicConfigManager.java`).
//!
//! Components: the system topics created at start (reference 6.1), the table loaded from and
//! persisted to `config/topics.json` (a `TopicConfigSerializeWrapper`), auto-creation on send
//! from a template topic (`TBW102`, reference 8 step 3), creation of retry / DLQ topics, admin
//! create / update / delete, and the `DataVersion` stamped on every change.
//!
//! Invariants:
//! - every change bumps the DataVersion and is published on the change channel, which the
//!   persister (writes `topics.json`) and the name-server registrar (re-registers) follow;
//! - the table lock is never held across an `.await` or file I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ferromq_protocol::body::{encode_body, DataVersion, TopicConfig, TopicConfigSerializeWrapper, TopicFilterType};
use tokio::sync::watch;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::persist::{config_path, read_json, write_atomic};
use crate::util::now_ms;
use crate::validate::{
    AUTO_CREATE_TOPIC_KEY_TOPIC, BENCHMARK_TOPIC, OFFSET_MOVED_EVENT, REPLY_TOPIC_POSTFIX, SCHEDULE_TOPIC,
    SELF_TEST_TOPIC, SYSTEM_TOPIC_PREFIX, TRANS_CHECK_MAX_TIME_TOPIC, TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC,
};

/// Permission bit: topics created from this one inherit it (only meaningful on templates).
pub const PERM_INHERIT: i32 = 0x1;
/// Permission bit: writable.
pub const PERM_WRITE: i32 = 0x2;
/// Permission bit: readable.
pub const PERM_READ: i32 = 0x4;
/// Permission bit: priority (unused by FerroMQ).
pub const PERM_PRIORITY: i32 = 0x8;

/// Queues of `SCHEDULE_TOPIC_XXXX`: one per delay level.
pub const SCHEDULE_QUEUE_NUMS: i32 = 18;
/// Queues of a dead-letter topic (`DLQ_NUMS_PER_GROUP`).
pub const DLQ_QUEUE_NUMS: i32 = 1;
/// Largest queue count an admin may give a topic.
pub const MAX_QUEUE_NUMS: i32 = 1024;

/// File name of the topic table.
pub const TOPICS_FILE: &str = "topics.json";

#[derive(Debug)]
struct Table {
    topics: BTreeMap<String, TopicConfig>,
    data_version: DataVersion,
}

/// The fields of a topic's config a send reads (a copy; see [`TopicConfigManager::get_send`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendTopic {
    /// Permission bits.
    pub perm: i32,
    /// Read queue count.
    pub read_queue_nums: i32,
    /// Write queue count.
    pub write_queue_nums: i32,
    /// Filter type.
    pub topic_filter_type: TopicFilterType,
}

impl SendTopic {
    /// The send fields of `config`.
    pub fn of(config: &TopicConfig) -> Self {
        SendTopic {
            perm: config.perm,
            read_queue_nums: config.read_queue_nums,
            write_queue_nums: config.write_queue_nums,
            topic_filter_type: config.topic_filter_type,
        }
    }
}

/// The topic table.
#[derive(Debug)]
pub struct TopicConfigManager {
    table: RwLock<Table>,
    system_topics: BTreeSet<String>,
    auto_create_topic_enable: bool,
    path: PathBuf,
    changes: watch::Sender<i64>,
}

fn topic_config(name: &str, read: i32, write: i32, perm: i32) -> TopicConfig {
    TopicConfig::new(name, read, write, perm)
}

impl TopicConfigManager {
    /// Builds the system topics, then loads `config/topics.json` (or its `.bak`) over them.
    pub fn load(config: &BrokerConfig, store_root: &Path) -> Result<Self, BrokerError> {
        let mut topics = BTreeMap::new();
        let mut system_topics = BTreeSet::new();
        let mut add = |t: TopicConfig| {
            system_topics.insert(t.topic_name.clone());
            topics.insert(t.topic_name.clone(), t);
        };
        let rw = PERM_READ | PERM_WRITE;
        add(topic_config(SELF_TEST_TOPIC, 1, 1, rw));
        if config.auto_create_topic_enable {
            let n = config.default_topic_queue_nums;
            add(topic_config(AUTO_CREATE_TOPIC_KEY_TOPIC, n, n, PERM_INHERIT | rw));
        }
        add(topic_config(BENCHMARK_TOPIC, 1024, 1024, rw));
        let cluster_perm = PERM_INHERIT | if config.cluster_topic_enable { rw } else { 0 };
        add(topic_config(&config.broker_cluster_name, 16, 16, cluster_perm));
        let broker_perm = PERM_INHERIT | if config.broker_topic_enable { rw } else { 0 };
        add(topic_config(&config.broker_name, 1, 1, broker_perm));
        add(topic_config(OFFSET_MOVED_EVENT, 1, 1, rw));
        add(topic_config(
            SCHEDULE_TOPIC,
            SCHEDULE_QUEUE_NUMS,
            SCHEDULE_QUEUE_NUMS,
            rw,
        ));
        if config.trace_topic_enable {
            add(topic_config(&config.msg_trace_topic_name, 1, 1, rw));
        }
        let reply = format!("{}_{REPLY_TOPIC_POSTFIX}", config.broker_cluster_name);
        add(topic_config(&reply, 1, 1, rw));

        let path = config_path(store_root, TOPICS_FILE);
        let mut data_version = DataVersion::new(now_ms());
        if let Some(saved) = read_json::<TopicConfigSerializeWrapper>(&path)? {
            topics.extend(saved.topic_config_table);
            data_version = saved.data_version;
            // A restart is a change: name servers must take the table as new.
            data_version.next_version(now_ms());
        }
        let (changes, _) = watch::channel(data_version.counter);
        Ok(TopicConfigManager {
            table: RwLock::new(Table { topics, data_version }),
            system_topics,
            auto_create_topic_enable: config.auto_create_topic_enable,
            path,
            changes,
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Table> {
        // Every write is a single map operation: a poisoned lock still holds a consistent table.
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bumps the data version and tells the followers (persister, registrar).
    fn changed(&self, table: &mut Table) {
        table.data_version.next_version(now_ms());
        let counter = table.data_version.counter;
        self.changes.send_replace(counter);
    }

    /// Follows changes: the value is the DataVersion counter.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.changes.subscribe()
    }

    /// One topic's config.
    pub fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.read().topics.get(topic).cloned()
    }

    /// What a send needs of one topic's config, without cloning its name and attributes (the
    /// send path looks its topic up for every message).
    pub fn get_send(&self, topic: &str) -> Option<SendTopic> {
        self.read().topics.get(topic).map(SendTopic::of)
    }

    /// Whether the topic exists.
    pub fn contains(&self, topic: &str) -> bool {
        self.read().topics.contains_key(topic)
    }

    /// Every topic name.
    pub fn topic_names(&self) -> Vec<String> {
        self.read().topics.keys().cloned().collect()
    }

    /// Number of topics.
    pub fn len(&self) -> usize {
        self.read().topics.len()
    }

    /// Whether the table is empty (never, once loaded: system topics exist).
    pub fn is_empty(&self) -> bool {
        self.read().topics.is_empty()
    }

    /// Whether `topic` is one of the broker's system topics (or reserved by name).
    pub fn is_system_topic(&self, topic: &str) -> bool {
        self.system_topics.contains(topic)
            || topic.starts_with(SYSTEM_TOPIC_PREFIX)
            || [TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC, TRANS_CHECK_MAX_TIME_TOPIC].contains(&topic)
    }

    /// The current DataVersion.
    pub fn data_version(&self) -> DataVersion {
        self.read().data_version.clone()
    }

    /// The whole table with its DataVersion (GET_ALL_TOPIC_CONFIG, REGISTER_BROKER, file).
    pub fn snapshot(&self) -> TopicConfigSerializeWrapper {
        let table = self.read();
        TopicConfigSerializeWrapper {
            data_version: table.data_version.clone(),
            topic_config_table: table.topics.clone(),
            ..Default::default()
        }
    }

    /// Java `createTopicInSendMessageMethod`: the topic's config, creating it from the template
    /// `default_topic` when it inherits. Returns the config and whether it was created now;
    /// `None` when the topic is unknown and cannot be auto-created.
    pub fn create_in_send(
        &self,
        topic: &str,
        default_topic: &str,
        client_default_queue_nums: i32,
        topic_sys_flag: i32,
    ) -> Option<(TopicConfig, bool)> {
        let mut table = self.write();
        if let Some(existing) = table.topics.get(topic) {
            return Some((existing.clone(), false));
        }
        let template = table.topics.get(default_topic)?;
        let mut template_perm = template.perm;
        if default_topic == AUTO_CREATE_TOPIC_KEY_TOPIC && !self.auto_create_topic_enable {
            template_perm = PERM_READ | PERM_WRITE;
        }
        if template_perm & PERM_INHERIT == 0 {
            tracing::warn!(
                topic,
                default_topic,
                "template topic has no INHERIT permission; topic not created"
            );
            return None;
        }
        let queue_nums = client_default_queue_nums.min(template.write_queue_nums).max(0);
        let created = TopicConfig {
            topic_name: topic.to_owned(),
            read_queue_nums: queue_nums,
            write_queue_nums: queue_nums,
            perm: template_perm & !PERM_INHERIT,
            topic_filter_type: template.topic_filter_type,
            topic_sys_flag,
            ..Default::default()
        };
        table.topics.insert(topic.to_owned(), created.clone());
        self.changed(&mut table);
        tracing::info!(topic, queue_nums, "topic auto-created from {default_topic}");
        Some((created, true))
    }

    /// Java `createTopicInSendMessageBackMethod`: the retry / DLQ topic, created with
    /// `queue_nums` queues and `perm` if absent. Returns the config and whether it was created.
    pub fn create_in_send_back(
        &self,
        topic: &str,
        queue_nums: i32,
        perm: i32,
        topic_sys_flag: i32,
    ) -> (TopicConfig, bool) {
        let mut table = self.write();
        if let Some(existing) = table.topics.get(topic) {
            return (existing.clone(), false);
        }
        let created = TopicConfig {
            topic_name: topic.to_owned(),
            read_queue_nums: queue_nums,
            write_queue_nums: queue_nums,
            perm,
            topic_sys_flag,
            ..Default::default()
        };
        table.topics.insert(topic.to_owned(), created.clone());
        self.changed(&mut table);
        tracing::info!(topic, queue_nums, "retry/DLQ topic created");
        (created, true)
    }

    /// Creates or replaces a topic (admin UPDATE_AND_CREATE_TOPIC).
    pub fn update(&self, config: TopicConfig) {
        let mut table = self.write();
        let name = config.topic_name.clone();
        if table.topics.get(&name) == Some(&config) {
            return;
        }
        table.topics.insert(name, config);
        self.changed(&mut table);
    }

    /// Removes a topic; returns whether it existed.
    pub fn delete(&self, topic: &str) -> bool {
        let mut table = self.write();
        let existed = table.topics.remove(topic).is_some();
        if existed {
            self.changed(&mut table);
        }
        existed
    }

    /// Writes `topics.json` (blocking file I/O: call from a blocking context).
    pub fn persist(&self) -> Result<(), BrokerError> {
        let text = encode_body(&self.snapshot());
        write_atomic(&self.path, &String::from_utf8_lossy(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(config: &BrokerConfig) -> (tempfile::TempDir, TopicConfigManager) {
        let dir = tempfile::tempdir().unwrap();
        let manager = TopicConfigManager::load(config, dir.path()).unwrap();
        (dir, manager)
    }

    // Goal: system topics exist at start with RocketMQ's shapes. Method: inspect a fresh table.
    #[test]
    fn system_topics_exist_at_start() {
        let (_dir, topics) = manager(&BrokerConfig::default());
        let tbw = topics.get("TBW102").unwrap();
        assert_eq!((tbw.perm, tbw.write_queue_nums), (7, 8));
        assert_eq!(topics.get("SCHEDULE_TOPIC_XXXX").unwrap().read_queue_nums, 18);
        assert!(topics.contains("DefaultCluster"));
        assert!(topics.contains("broker-a"));
        assert!(topics.is_system_topic("SCHEDULE_TOPIC_XXXX"));
        assert!(!topics.is_system_topic("TopicTest"));
    }

    // Goal: the send view carries the config's send fields and exists exactly when the config
    // does. Method: compare it with the full config of a system topic, a created topic with a
    // MULTI_TAG filter, and a missing topic.
    #[test]
    fn send_view_matches_the_config() {
        let (_dir, topics) = manager(&BrokerConfig::default());
        let (mut created, _) = topics.create_in_send("T1", "TBW102", 4, 0).unwrap();
        created.topic_filter_type = TopicFilterType::MultiTag;
        created.perm = 4;
        topics.update(created);
        for name in ["TBW102", "SCHEDULE_TOPIC_XXXX", "T1"] {
            let full = topics.get(name).unwrap();
            let view = topics.get_send(name).unwrap();
            assert_eq!(
                (
                    view.perm,
                    view.read_queue_nums,
                    view.write_queue_nums,
                    view.topic_filter_type
                ),
                (
                    full.perm,
                    full.read_queue_nums,
                    full.write_queue_nums,
                    full.topic_filter_type
                ),
                "{name}"
            );
        }
        assert_eq!(
            topics.get_send("T1").unwrap().topic_filter_type,
            TopicFilterType::MultiTag
        );
        assert!(topics.get_send("NoSuchTopic").is_none());
    }

    // Goal: auto-create follows reference 8 step 3. Method: create from TBW102 with 4 and 16 queues.
    #[test]
    fn auto_create_takes_min_queue_nums_and_drops_inherit() {
        let (_dir, topics) = manager(&BrokerConfig::default());
        let before = topics.data_version().counter;
        let (created, new) = topics.create_in_send("T1", "TBW102", 4, 0).unwrap();
        assert!(new);
        assert_eq!(
            (created.read_queue_nums, created.write_queue_nums, created.perm),
            (4, 4, 6)
        );
        assert!(topics.data_version().counter > before);
        let (again, new) = topics.create_in_send("T1", "TBW102", 16, 0).unwrap();
        assert!(!new);
        assert_eq!(again.write_queue_nums, 4);
        let (big, _) = topics.create_in_send("T2", "TBW102", 16, 0).unwrap();
        assert_eq!(big.write_queue_nums, 8);
    }

    // Goal: no auto-create when disabled or without a template. Method: create_in_send returns None.
    #[test]
    fn auto_create_is_refused_when_disabled_or_template_missing() {
        let config = BrokerConfig {
            auto_create_topic_enable: false,
            ..Default::default()
        };
        let (_dir, topics) = manager(&config);
        assert!(topics.get("TBW102").is_none());
        assert!(topics.create_in_send("T1", "TBW102", 4, 0).is_none());
        assert!(topics.create_in_send("T1", "NoSuchTemplate", 4, 0).is_none());
    }

    // Goal: the table survives a reload with a newer DataVersion. Method: persist, load again.
    #[test]
    fn persisted_table_is_loaded_back() {
        let config = BrokerConfig::default();
        let (dir, topics) = manager(&config);
        topics.update(TopicConfig::new("Admin1", 3, 3, 6));
        topics.persist().unwrap();
        let version = topics.data_version().counter;
        let again = TopicConfigManager::load(&config, dir.path()).unwrap();
        assert_eq!(again.get("Admin1").unwrap().read_queue_nums, 3);
        assert!(again.data_version().counter > version);
        assert!(again.delete("Admin1"));
        assert!(!again.delete("Admin1"));
    }
}
