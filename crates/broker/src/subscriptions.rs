//! `SubscriptionGroupManager`: consumer group configs
//! (`broker/.../subscription/SubscriptionGroupManager.java`), persisted to
//! `config/subscriptionGroup.json` (a `SubscriptionGroupWrapper`).
//!
//! A group is auto-created on first use (heartbeat, pull, send-back) when
//! `autoCreateSubscriptionGroup` is on, and always for RocketMQ's system groups.
//!
//! Invariant: every change bumps the DataVersion and is published on the change channel that
//! the persister follows; the lock is never held across file I/O.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ferromq_protocol::body::{encode_body, DataVersion, SubscriptionGroupConfig, SubscriptionGroupWrapper};
use tokio::sync::watch;

use crate::error::BrokerError;
use crate::persist::{config_path, read_json, write_atomic};
use crate::util::now_ms;

/// File name of the group table.
pub const SUBSCRIPTION_GROUP_FILE: &str = "subscriptionGroup.json";

/// Groups RocketMQ creates at start (`SubscriptionGroupManager.init`).
pub const SYSTEM_GROUPS: [&str; 8] = [
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PULL",
    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
    "CID_RMQ_SYS_TRANS",
];

/// Prefix of every system consumer group (`MixAll.CID_RMQ_SYS_PREFIX`).
pub const SYSTEM_GROUP_PREFIX: &str = "CID_RMQ_SYS_";

#[derive(Debug)]
struct Table {
    groups: BTreeMap<String, SubscriptionGroupConfig>,
    data_version: DataVersion,
}

/// The consumer group table.
#[derive(Debug)]
pub struct SubscriptionGroupManager {
    table: Mutex<Table>,
    auto_create: bool,
    path: PathBuf,
    changes: watch::Sender<i64>,
}

impl SubscriptionGroupManager {
    /// Builds the system groups, then loads `config/subscriptionGroup.json` over them.
    pub fn load(auto_create: bool, store_root: &Path) -> Result<Self, BrokerError> {
        let mut groups: BTreeMap<String, SubscriptionGroupConfig> = SYSTEM_GROUPS
            .iter()
            .map(|g| ((*g).to_owned(), SubscriptionGroupConfig::new(*g)))
            .collect();
        let path = config_path(store_root, SUBSCRIPTION_GROUP_FILE);
        let mut data_version = DataVersion::new(now_ms());
        if let Some(saved) = read_json::<SubscriptionGroupWrapper>(&path)? {
            groups.extend(saved.subscription_group_table);
            data_version = saved.data_version;
        }
        let (changes, _) = watch::channel(data_version.counter);
        Ok(SubscriptionGroupManager {
            table: Mutex::new(Table { groups, data_version }),
            auto_create,
            path,
            changes,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self, table: &mut Table) {
        table.data_version.next_version(now_ms());
        self.changes.send_replace(table.data_version.counter);
    }

    /// Follows changes (the DataVersion counter).
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.changes.subscribe()
    }

    /// [`Self::find_or_create`], or `SUBSCRIPTION_GROUP_NOT_EXIST` for a group that neither
    /// exists nor may be auto-created.
    pub fn find_or_error(&self, group: &str) -> Result<SubscriptionGroupConfig, BrokerError> {
        self.find_or_create(group)
            .ok_or_else(|| BrokerError::SubscriptionGroupNotExist {
                group: group.to_owned(),
            })
    }

    /// Java `findSubscriptionGroupConfig`: the group, auto-created with defaults when allowed.
    pub fn find_or_create(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        let mut table = self.lock();
        if let Some(config) = table.groups.get(group) {
            return Some(config.clone());
        }
        if !(self.auto_create || group.starts_with(SYSTEM_GROUP_PREFIX)) {
            return None;
        }
        let config = SubscriptionGroupConfig::new(group);
        table.groups.insert(group.to_owned(), config.clone());
        self.changed(&mut table);
        tracing::info!(group, "subscription group auto-created");
        Some(config)
    }

    /// The group, without creating it.
    pub fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.lock().groups.get(group).cloned()
    }

    /// Whether the group exists.
    pub fn contains(&self, group: &str) -> bool {
        self.lock().groups.contains_key(group)
    }

    /// Creates or replaces a group (admin).
    pub fn update(&self, config: SubscriptionGroupConfig) {
        let mut table = self.lock();
        table.groups.insert(config.group_name.clone(), config);
        self.changed(&mut table);
    }

    /// Removes a group; returns whether it existed.
    pub fn delete(&self, group: &str) -> bool {
        let mut table = self.lock();
        let existed = table.groups.remove(group).is_some();
        if existed {
            self.changed(&mut table);
        }
        existed
    }

    /// The whole table (GET_ALL_SUBSCRIPTIONGROUP_CONFIG, file).
    pub fn snapshot(&self) -> SubscriptionGroupWrapper {
        let table = self.lock();
        SubscriptionGroupWrapper {
            data_version: table.data_version.clone(),
            subscription_group_table: table.groups.clone(),
        }
    }

    /// Writes `subscriptionGroup.json` (blocking file I/O).
    pub fn persist(&self) -> Result<(), BrokerError> {
        let text = encode_body(&self.snapshot());
        write_atomic(&self.path, &String::from_utf8_lossy(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: auto-create obeys the switch, system groups are always created. Method: both settings.
    #[test]
    fn groups_are_auto_created_only_when_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let off = SubscriptionGroupManager::load(false, dir.path()).unwrap();
        assert!(off.find_or_create("g1").is_none());
        assert!(off.find_or_create("CID_RMQ_SYS_X").is_some());
        assert!(off.get("TOOLS_CONSUMER").is_some());
        let on = SubscriptionGroupManager::load(true, dir.path()).unwrap();
        let created = on.find_or_create("g1").unwrap();
        assert_eq!(created.retry_max_times, 16);
        assert_eq!(created.retry_queue_nums, 1);
    }

    // Goal: groups persist and reload. Method: update, persist, load, delete.
    #[test]
    fn groups_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let groups = SubscriptionGroupManager::load(true, dir.path()).unwrap();
        let mut config = SubscriptionGroupConfig::new("g2");
        config.retry_max_times = 3;
        groups.update(config);
        groups.persist().unwrap();
        let again = SubscriptionGroupManager::load(false, dir.path()).unwrap();
        assert_eq!(again.get("g2").unwrap().retry_max_times, 3);
        assert!(again.delete("g2"));
        assert!(!again.contains("g2"));
    }
}
