//! The route table (`namesrv/.../routeinfo/RouteInfoManager.java`, 5.x): which brokers exist,
//! which topics they serve, and whether they are alive. This file holds the tables and the
//! write side (registration, unregistration, liveness); `route_query` holds the read side and
//! the admin edits (routes, cluster info, topic lists, write permissions, topic deletion).
//!
//! Tables (one `RwLock` around all of them, so every operation sees and leaves them
//! consistent; no lock is held across an `.await`):
//! - `cluster_addr_table`: cluster name -> broker names;
//! - `broker_addr_table`: broker name -> [`BrokerData`] (broker id -> address, 0 = master);
//! - `topic_queue_table`: topic -> broker name -> [`QueueData`];
//! - `broker_live_table`: (cluster, address) -> [`BrokerLiveInfo`] (last update, timeout,
//!   DataVersion, connection id, HA address);
//! - `filter_server_table`: (cluster, address) -> filter server addresses;
//! - `topic_queue_mapping_info_table`: topic -> broker name -> static-topic mapping (raw JSON).
//!
//! Invariants:
//! - every broker name of `cluster_addr_table` has a `broker_addr_table` entry with at least one
//!   address, and an address appears under one broker id only;
//! - a topic of `topic_queue_table` has at least one QueueData;
//! - when a broker name loses its last address, its cluster entry (if then empty), its
//!   QueueData and its static mappings go too;
//! - liveness uses a monotonic clock ([`Instant`]); a broker expires when
//!   `now > last_update + heartbeat_timeout`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use ferromq_protocol::body::route::MASTER_ID;
use ferromq_protocol::body::{BrokerData, DataVersion, QueueData, TopicConfigSerializeWrapper};
use tokio::time::Instant;

pub use crate::route_data::{
    BrokerAddrInfo, BrokerLiveInfo, BrokerRegistration, ExpiredBroker, RegisterBrokerResult, RegisterError,
    UnregisterRequest, DEFAULT_BROKER_CHANNEL_EXPIRED_TIME, PERM_READ, PERM_WRITE,
};

#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub(crate) topic_queue_table: BTreeMap<String, BTreeMap<String, QueueData>>,
    pub(crate) broker_addr_table: BTreeMap<String, BrokerData>,
    pub(crate) cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
    pub(crate) broker_live_table: HashMap<BrokerAddrInfo, BrokerLiveInfo>,
    pub(crate) filter_server_table: HashMap<BrokerAddrInfo, Vec<String>>,
    pub(crate) topic_queue_mapping_info_table: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

/// The route table; see the module docs.
#[derive(Debug, Default)]
pub struct RouteInfoManager {
    tables: RwLock<Tables>,
}

impl RouteInfoManager {
    /// An empty table.
    pub fn new() -> Self {
        RouteInfoManager::default()
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Tables> {
        // Mutations never panic half-way (no indexing, no unwrap), so a poisoned lock still
        // guards consistent tables.
        self.tables.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// REGISTER_BROKER (`RouteInfoManager.registerBroker`, 5.x rules):
    /// - the broker name joins its cluster; the address is put under its id, replacing the same
    ///   address under another id (slave promoted to master);
    /// - a registration whose address conflicts with a live one of higher `stateVersion` under
    ///   the same id is ignored (empty result);
    /// - for the master (or, for 5.x brokers, the lowest-id "prime" slave) QueueData is
    ///   created/updated for each topic when this is the first registration of that address,
    ///   the DataVersion changed, or the topic has no QueueData of this broker yet;
    /// - the liveness record is replaced (now, timeout, DataVersion, connection, HA address);
    /// - a slave learns its master's address and HA address.
    pub fn register_broker(
        &self,
        registration: BrokerRegistration,
        delete_topic_with_broker_registration: bool,
        now: Instant,
    ) -> Result<RegisterBrokerResult, RegisterError> {
        let BrokerRegistration {
            cluster_name,
            broker_addr,
            broker_name,
            broker_id,
            ha_server_addr,
            zone_name,
            heartbeat_timeout_ms,
            enable_acting_master,
            topic_config_wrapper,
            filter_server_list,
            connection_id,
        } = registration;
        let mut guard = self.write();
        let tables = &mut *guard;
        let addr_info = BrokerAddrInfo::new(&cluster_name, &broker_addr);

        let existing_addrs = tables
            .broker_addr_table
            .get(&broker_name)
            .map(|data| &data.broker_addrs);
        if let Some(old_addr) = existing_addrs.and_then(|addrs| addrs.get(&broker_id)) {
            if *old_addr != broker_addr {
                let old_key = BrokerAddrInfo::new(&cluster_name, old_addr);
                if let Some(old_live) = tables.broker_live_table.get(&old_key) {
                    let old_state = old_live.data_version.state_version.unwrap_or(0);
                    let new_state = topic_config_wrapper.data_version.state_version.unwrap_or(0);
                    if old_state > new_state {
                        tracing::warn!(
                            %cluster_name, %broker_name, broker_id, %old_addr, old_state, %broker_addr, new_state,
                            "registering broker conflicts with a newer one; ignored"
                        );
                        tables.broker_live_table.remove(&addr_info);
                        return Ok(RegisterBrokerResult::default());
                    }
                }
            }
        }
        let id_registered = existing_addrs.is_some_and(|addrs| addrs.contains_key(&broker_id));
        if !id_registered && topic_config_wrapper.topic_config_table.len() == 1 {
            return Err(RegisterError::SingleTopicBeforeFullRegistration {
                broker_name,
                broker_id,
                broker_addr,
            });
        }

        tables
            .cluster_addr_table
            .entry(cluster_name.clone())
            .or_default()
            .insert(broker_name.clone());
        let mut register_first = false;
        let broker_data = tables.broker_addr_table.entry(broker_name.clone()).or_insert_with(|| {
            register_first = true;
            BrokerData {
                cluster: cluster_name.clone(),
                broker_name: broker_name.clone(),
                ..BrokerData::default()
            }
        });
        let is_old_version_broker = enable_acting_master.is_none();
        broker_data.enable_acting_master = enable_acting_master.unwrap_or(false);
        broker_data.zone_name = zone_name;
        broker_data
            .broker_addrs
            .retain(|id, addr| !(*addr == broker_addr && *id != broker_id));
        let old_addr = broker_data.broker_addrs.insert(broker_id, broker_addr.clone());
        register_first |= old_addr.is_none_or(|addr| addr.is_empty());

        let is_master = broker_id == MASTER_ID;
        let is_prime_slave =
            !is_old_version_broker && !is_master && broker_data.broker_addrs.keys().next() == Some(&broker_id);
        let wipe_write = is_prime_slave && broker_data.enable_acting_master;
        let data_version_changed = tables
            .broker_live_table
            .get(&addr_info)
            .is_none_or(|live| live.data_version != topic_config_wrapper.data_version);

        if is_master || is_prime_slave {
            let mappings = topic_config_wrapper
                .topic_queue_mapping_info_map
                .as_ref()
                .filter(|mappings| !mappings.is_empty());
            if delete_topic_with_broker_registration && mappings.is_none() {
                delete_topics_not_registered(tables, &broker_name, &topic_config_wrapper);
            }
            for (key, config) in &topic_config_wrapper.topic_config_table {
                let topic = if config.topic_name.is_empty() {
                    key
                } else {
                    &config.topic_name
                };
                let has_queue_data = tables
                    .topic_queue_table
                    .get(topic)
                    .is_some_and(|by_broker| by_broker.contains_key(&broker_name));
                if register_first || data_version_changed || !has_queue_data {
                    let mut perm = config.perm;
                    if wipe_write {
                        perm &= !PERM_WRITE;
                    }
                    let queue_data = QueueData {
                        broker_name: broker_name.clone(),
                        perm,
                        read_queue_nums: config.read_queue_nums,
                        topic_sys_flag: config.topic_sys_flag,
                        write_queue_nums: config.write_queue_nums,
                    };
                    create_and_update_queue_data(tables, topic, queue_data);
                }
            }
            if data_version_changed || register_first {
                for (topic, mapping) in mappings.into_iter().flatten() {
                    let bname = mapping
                        .get("bname")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or(&broker_name)
                        .to_owned();
                    tables
                        .topic_queue_mapping_info_table
                        .entry(topic.clone())
                        .or_default()
                        .insert(bname, mapping.clone());
                }
            }
        }

        let heartbeat_timeout = heartbeat_timeout_ms.map_or(DEFAULT_BROKER_CHANNEL_EXPIRED_TIME, |ms| {
            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        });
        let previous = tables.broker_live_table.insert(
            addr_info.clone(),
            BrokerLiveInfo {
                last_update: now,
                heartbeat_timeout,
                data_version: topic_config_wrapper.data_version,
                connection_id,
                ha_server_addr,
            },
        );
        if previous.is_none() {
            tracing::info!(cluster = %cluster_name, broker = %broker_name, broker_id, addr = %broker_addr, "new broker registered");
        }
        match filter_server_list {
            Some(list) if list.is_empty() => {
                tables.filter_server_table.remove(&addr_info);
            }
            Some(list) => {
                tables.filter_server_table.insert(addr_info, list);
            }
            None => {}
        }

        let mut result = RegisterBrokerResult::default();
        if !is_master {
            let master_addr = tables
                .broker_addr_table
                .get(&broker_name)
                .and_then(|data| data.master_addr())
                .map(str::to_owned);
            if let Some(master_addr) = master_addr {
                let master_key = BrokerAddrInfo::new(&cluster_name, &master_addr);
                if let Some(master_live) = tables.broker_live_table.get(&master_key) {
                    result.ha_server_addr = Some(master_live.ha_server_addr.clone());
                    result.master_addr = Some(master_addr);
                }
            }
        }
        Ok(result)
    }

    /// UNREGISTER_BROKER (`unRegisterBroker`): drops the liveness and filter records, the
    /// address from its broker name (by address, as 5.x does), the broker name when it has no
    /// address left (and its cluster when empty, and its QueueData). When a 5.x acting-master
    /// group loses its master, its QueueData lose write permission.
    pub fn unregister_brokers(&self, requests: &[UnregisterRequest]) {
        let mut guard = self.write();
        unregister_locked(&mut guard, requests);
    }

    /// The stored DataVersion of a live broker.
    pub fn query_broker_data_version(&self, cluster_name: &str, broker_addr: &str) -> Option<DataVersion> {
        self.read()
            .broker_live_table
            .get(&BrokerAddrInfo::new(cluster_name, broker_addr))
            .map(|live| live.data_version.clone())
    }

    /// True when the broker is unknown or its stored DataVersion differs from `data_version`.
    pub fn is_broker_topic_config_changed(
        &self,
        cluster_name: &str,
        broker_addr: &str,
        data_version: &DataVersion,
    ) -> bool {
        self.query_broker_data_version(cluster_name, broker_addr)
            .is_none_or(|stored| stored != *data_version)
    }

    /// Refreshes a live broker's last-update time (QUERY_DATA_VERSION, BROKER_HEARTBEAT);
    /// false when the broker is not registered.
    pub fn refresh_broker_liveness(&self, cluster_name: &str, broker_addr: &str, now: Instant) -> bool {
        let mut guard = self.write();
        match guard
            .broker_live_table
            .get_mut(&BrokerAddrInfo::new(cluster_name, broker_addr))
        {
            Some(live) => {
                live.last_update = now;
                true
            }
            None => false,
        }
    }

    /// The dead-broker scan (`scanNotActiveBroker`): unregisters every broker whose
    /// `last_update + heartbeat_timeout` is before `now`, and returns them so their connections
    /// can be closed.
    pub fn scan_not_active_brokers(&self, now: Instant) -> Vec<ExpiredBroker> {
        let mut guard = self.write();
        let expired: Vec<ExpiredBroker> = guard
            .broker_live_table
            .iter()
            .filter(|(_, live)| live.is_expired(now))
            .map(|(addr_info, live)| ExpiredBroker {
                addr_info: addr_info.clone(),
                connection_id: live.connection_id,
            })
            .collect();
        for broker in &expired {
            tracing::warn!(
                cluster = %broker.addr_info.cluster_name,
                addr = %broker.addr_info.broker_addr,
                "broker expired; removing its routes"
            );
        }
        let keys: Vec<BrokerAddrInfo> = expired.iter().map(|broker| broker.addr_info.clone()).collect();
        remove_broker_addrs_locked(&mut guard, &keys);
        expired
    }

    /// A connection closed (`onChannelDestroy`): unregisters every broker address whose
    /// liveness record points at it, and returns their keys.
    pub fn on_connection_closed(&self, connection_id: u64) -> Vec<BrokerAddrInfo> {
        let mut guard = self.write();
        let keys: Vec<BrokerAddrInfo> = guard
            .broker_live_table
            .iter()
            .filter(|(_, live)| live.connection_id == Some(connection_id))
            .map(|(key, _)| key.clone())
            .collect();
        for key in &keys {
            tracing::info!(cluster = %key.cluster_name, addr = %key.broker_addr, "broker connection closed; removing its routes");
        }
        remove_broker_addrs_locked(&mut guard, &keys);
        keys
    }

    /// Keys of every live broker address, sorted (for tests and diagnostics).
    pub fn live_brokers(&self) -> Vec<BrokerAddrInfo> {
        let mut keys: Vec<BrokerAddrInfo> = self.read().broker_live_table.keys().cloned().collect();
        keys.sort();
        keys
    }
}

/// Unregisters `keys` (liveness keys) as Java's `setupUnRegisterRequest` does: the broker name
/// and id are found by address within the cluster. A key with no BrokerData entry only loses
/// its liveness and filter records.
fn remove_broker_addrs_locked(tables: &mut Tables, keys: &[BrokerAddrInfo]) {
    let mut requests = Vec::with_capacity(keys.len());
    for key in keys {
        let found = tables
            .broker_addr_table
            .values()
            .filter(|data| data.cluster == key.cluster_name)
            .find_map(|data| {
                data.broker_addrs
                    .iter()
                    .find(|(_, addr)| **addr == key.broker_addr)
                    .map(|(id, _)| (data.broker_name.clone(), *id))
            });
        match found {
            Some((broker_name, broker_id)) => requests.push(UnregisterRequest {
                cluster_name: key.cluster_name.clone(),
                broker_addr: key.broker_addr.clone(),
                broker_name,
                broker_id,
            }),
            None => {
                tables.broker_live_table.remove(key);
                tables.filter_server_table.remove(key);
            }
        }
    }
    unregister_locked(tables, &requests);
}

fn unregister_locked(tables: &mut Tables, requests: &[UnregisterRequest]) {
    let mut removed_names = BTreeSet::new();
    let mut reduced_names = BTreeSet::new();
    for request in requests {
        let addr_info = BrokerAddrInfo::new(&request.cluster_name, &request.broker_addr);
        let was_live = tables.broker_live_table.remove(&addr_info).is_some();
        tables.filter_server_table.remove(&addr_info);
        let mut remove_name = false;
        if let Some(data) = tables.broker_addr_table.get_mut(&request.broker_name) {
            data.broker_addrs.retain(|_, addr| *addr != request.broker_addr);
            if data.broker_addrs.is_empty() {
                tables.broker_addr_table.remove(&request.broker_name);
                remove_name = true;
            }
        }
        tracing::info!(
            cluster = %request.cluster_name, broker = %request.broker_name, broker_id = request.broker_id,
            addr = %request.broker_addr, was_live, broker_name_removed = remove_name, "broker unregistered"
        );
        if remove_name {
            if let Some(names) = tables.cluster_addr_table.get_mut(&request.cluster_name) {
                names.remove(&request.broker_name);
                if names.is_empty() {
                    tables.cluster_addr_table.remove(&request.cluster_name);
                }
            }
            removed_names.insert(request.broker_name.clone());
        } else {
            reduced_names.insert(request.broker_name.clone());
        }
    }
    clean_topics_locked(tables, &removed_names, &reduced_names);
}

/// Drops QueueData of removed broker names (and topics left empty, and their static mappings);
/// wipes write permission of acting-master groups left without a master.
fn clean_topics_locked(tables: &mut Tables, removed: &BTreeSet<String>, reduced: &BTreeSet<String>) {
    if !removed.is_empty() {
        tables.topic_queue_table.retain(|_, by_broker| {
            by_broker.retain(|name, _| !removed.contains(name));
            !by_broker.is_empty()
        });
        tables.topic_queue_mapping_info_table.retain(|_, by_broker| {
            by_broker.retain(|name, _| !removed.contains(name));
            !by_broker.is_empty()
        });
    }
    let masterless: BTreeSet<&String> = reduced
        .iter()
        .filter(|name| {
            tables.broker_addr_table.get(*name).is_some_and(|data| {
                data.enable_acting_master && data.broker_addrs.keys().next().is_none_or(|min_id| *min_id > MASTER_ID)
            })
        })
        .collect();
    if masterless.is_empty() {
        return;
    }
    for by_broker in tables.topic_queue_table.values_mut() {
        for name in &masterless {
            if let Some(queue_data) = by_broker.get_mut(*name) {
                queue_data.perm &= !PERM_WRITE;
            }
        }
    }
}

/// `deleteTopicWithBrokerRegistration`: the broker's topics that its registration no longer
/// lists lose this broker's QueueData.
fn delete_topics_not_registered(tables: &mut Tables, broker_name: &str, wrapper: &TopicConfigSerializeWrapper) {
    let registered: BTreeSet<&str> = wrapper
        .topic_config_table
        .iter()
        .map(|(key, config)| {
            if config.topic_name.is_empty() {
                key.as_str()
            } else {
                config.topic_name.as_str()
            }
        })
        .collect();
    tables.topic_queue_table.retain(|topic, by_broker| {
        if !registered.contains(topic.as_str()) && by_broker.remove(broker_name).is_some() {
            tracing::info!(%topic, broker = %broker_name, "topic no longer registered by broker; removed");
        }
        !by_broker.is_empty()
    });
}

/// Puts `queue_data` for its broker under `topic`, replacing a different one.
fn create_and_update_queue_data(tables: &mut Tables, topic: &str, queue_data: QueueData) {
    let by_broker = tables.topic_queue_table.entry(topic.to_owned()).or_default();
    match by_broker.get(&queue_data.broker_name) {
        Some(existing) if *existing == queue_data => {}
        existing => {
            tracing::debug!(%topic, old = ?existing, new = ?queue_data, "topic queue data updated");
            by_broker.insert(queue_data.broker_name.clone(), queue_data);
        }
    }
}
