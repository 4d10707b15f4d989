//! The read side of the route table and its admin edits (`RouteInfoManager.java`):
//! GET_ROUTEINFO_BY_TOPIC, GET_BROKER_CLUSTER_INFO, topic lists, WIPE/ADD_WRITE_PERM_OF_BROKER,
//! DELETE/REGISTER_TOPIC_IN_NAMESRV.
//!
//! Invariant: answers are snapshots (cloned under the read lock); no reference into the tables
//! escapes.

use std::collections::BTreeMap;

use ferromq_protocol::body::route::MASTER_ID;
use ferromq_protocol::body::{ClusterInfo, QueueData, TopicList, TopicRouteData};

use crate::route_info::{BrokerAddrInfo, RouteInfoManager, PERM_READ, PERM_WRITE};

/// Prefix of the 5.x per-broker-group topics that are never rewritten for acting masters
/// (`TopicValidator.SYNC_BROKER_MEMBER_GROUP_PREFIX`).
pub const SYNC_BROKER_MEMBER_GROUP_PREFIX: &str = "rmq_sys_SYNC_BROKER_MEMBER_";

impl RouteInfoManager {
    /// The route of `topic` (`pickupTopicRouteData`): its QueueData and the BrokerData of
    /// their brokers; `None` unless both are found. With `support_acting_master`, a group
    /// without a master whose queues lost write permission shows its lowest-id slave as id 0.
    pub fn pickup_topic_route_data(&self, topic: &str, support_acting_master: bool) -> Option<TopicRouteData> {
        let tables = self.read();
        let by_broker = tables.topic_queue_table.get(topic)?;
        let queue_datas: Vec<QueueData> = by_broker.values().cloned().collect();
        let mut broker_datas = Vec::with_capacity(by_broker.len());
        let mut filter_server_table = BTreeMap::new();
        for broker_name in by_broker.keys() {
            let Some(data) = tables.broker_addr_table.get(broker_name) else {
                continue;
            };
            if !tables.filter_server_table.is_empty() {
                for addr in data.broker_addrs.values() {
                    let key = BrokerAddrInfo::new(&data.cluster, addr);
                    if let Some(servers) = tables.filter_server_table.get(&key) {
                        filter_server_table.insert(addr.clone(), servers.clone());
                    }
                }
            }
            broker_datas.push(data.clone());
        }
        if broker_datas.is_empty() || queue_datas.is_empty() {
            return None;
        }
        let mut route = TopicRouteData {
            broker_datas,
            filter_server_table,
            order_topic_conf: None,
            queue_datas,
            topic_queue_mapping_by_broker: tables.topic_queue_mapping_info_table.get(topic).cloned(),
        };
        drop(tables);
        if support_acting_master && !topic.starts_with(SYNC_BROKER_MEMBER_GROUP_PREFIX) {
            apply_acting_master(&mut route);
        }
        Some(route)
    }

    /// GET_BROKER_CLUSTER_INFO.
    pub fn cluster_info(&self) -> ClusterInfo {
        let tables = self.read();
        ClusterInfo {
            broker_addr_table: tables.broker_addr_table.clone(),
            cluster_addr_table: tables.cluster_addr_table.clone(),
        }
    }

    /// GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
    pub fn all_topic_list(&self) -> TopicList {
        TopicList {
            broker_addr: None,
            topic_list: self.read().topic_queue_table.keys().cloned().collect(),
        }
    }

    /// GET_TOPICS_BY_CLUSTER: topics with QueueData on a broker of `cluster` (empty for an
    /// unknown cluster, as Java ends up answering).
    pub fn topics_by_cluster(&self, cluster: &str) -> TopicList {
        let tables = self.read();
        let mut list = TopicList::default();
        if let Some(names) = tables.cluster_addr_table.get(cluster) {
            for (topic, by_broker) in &tables.topic_queue_table {
                if names.iter().any(|name| by_broker.contains_key(name)) {
                    list.topic_list.insert(topic.clone());
                }
            }
        }
        list
    }

    /// GET_SYSTEM_TOPIC_LIST_FROM_NS: every cluster name and broker name (Java treats them as
    /// topics: brokers create a topic named after their cluster and themselves), plus the first
    /// address of one broker.
    pub fn system_topic_list(&self) -> TopicList {
        let tables = self.read();
        let mut list = TopicList::default();
        for (cluster, names) in &tables.cluster_addr_table {
            list.topic_list.insert(cluster.clone());
            list.topic_list.extend(names.iter().cloned());
        }
        list.broker_addr = tables
            .broker_addr_table
            .values()
            .find_map(|data| data.broker_addrs.values().next().cloned());
        list
    }

    /// WIPE_WRITE_PERM_OF_BROKER: clears PERM_WRITE on every QueueData of `broker_name`;
    /// returns how many topics it touched.
    pub fn wipe_write_perm_of_broker(&self, broker_name: &str) -> i32 {
        self.update_perm_of_broker(broker_name, |perm| perm & !PERM_WRITE)
    }

    /// ADD_WRITE_PERM_OF_BROKER: sets perm to READ|WRITE on every QueueData of `broker_name`;
    /// returns how many topics it touched.
    pub fn add_write_perm_of_broker(&self, broker_name: &str) -> i32 {
        self.update_perm_of_broker(broker_name, |_| PERM_READ | PERM_WRITE)
    }

    fn update_perm_of_broker(&self, broker_name: &str, update: impl Fn(i32) -> i32) -> i32 {
        let mut tables = self.write();
        let mut count: i32 = 0;
        for by_broker in tables.topic_queue_table.values_mut() {
            if let Some(queue_data) = by_broker.get_mut(broker_name) {
                queue_data.perm = update(queue_data.perm);
                count = count.saturating_add(1);
            }
        }
        count
    }

    /// DELETE_TOPIC_IN_NAMESRV: the whole topic, or with `cluster_name` only the QueueData of
    /// that cluster's brokers (the topic goes when none is left). An unknown cluster changes
    /// nothing.
    pub fn delete_topic(&self, topic: &str, cluster_name: Option<&str>) {
        let mut guard = self.write();
        let tables = &mut *guard;
        let Some(cluster_name) = cluster_name.filter(|name| !name.is_empty()) else {
            tables.topic_queue_table.remove(topic);
            tables.topic_queue_mapping_info_table.remove(topic);
            return;
        };
        let Some(names) = tables.cluster_addr_table.get(cluster_name) else {
            return;
        };
        if let Some(by_broker) = tables.topic_queue_table.get_mut(topic) {
            by_broker.retain(|name, _| !names.contains(name));
            if by_broker.is_empty() {
                tables.topic_queue_table.remove(topic);
                tables.topic_queue_mapping_info_table.remove(topic);
            }
        }
    }

    /// REGISTER_TOPIC_IN_NAMESRV (`registerTopic`): creates the topic's route from
    /// `queue_datas` unless the topic exists or a QueueData names an unknown broker (then
    /// nothing changes). Returns whether the topic was created.
    pub fn register_topic(&self, topic: &str, queue_datas: Vec<QueueData>) -> bool {
        if queue_datas.is_empty() {
            return false;
        }
        let mut tables = self.write();
        if tables.topic_queue_table.contains_key(topic) {
            tracing::info!(%topic, "topic route already exists; register topic ignored");
            return false;
        }
        if let Some(unknown) = queue_datas
            .iter()
            .find(|queue_data| !tables.broker_addr_table.contains_key(&queue_data.broker_name))
        {
            tracing::warn!(%topic, broker = %unknown.broker_name, "register topic names an unknown broker; ignored");
            return false;
        }
        let by_broker = queue_datas
            .into_iter()
            .map(|queue_data| (queue_data.broker_name.clone(), queue_data))
            .collect();
        tables.topic_queue_table.insert(topic.to_owned(), by_broker);
        true
    }
}

/// 5.x acting master: a group with addresses but no master, acting-master enabled, whose queues
/// of this topic are not writable, shows its lowest-id slave under id 0.
fn apply_acting_master(route: &mut TopicRouteData) {
    let needs_acting_master = route
        .broker_datas
        .iter()
        .any(|data| !data.broker_addrs.is_empty() && !data.broker_addrs.contains_key(&MASTER_ID));
    if !needs_acting_master {
        return;
    }
    for data in &mut route.broker_datas {
        if data.broker_addrs.is_empty() || data.broker_addrs.contains_key(&MASTER_ID) || !data.enable_acting_master {
            continue;
        }
        let writable = route
            .queue_datas
            .iter()
            .find(|queue_data| queue_data.broker_name == data.broker_name)
            .map(|queue_data| queue_data.perm & PERM_WRITE != 0);
        if writable == Some(false) {
            if let Some((_, addr)) = data.broker_addrs.pop_first() {
                data.broker_addrs.insert(MASTER_ID, addr);
            }
        }
    }
}
