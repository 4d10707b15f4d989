//! Topic routes: from `TopicRouteData` to the queues a producer writes and a consumer reads
//! (`MQClientInstance.topicRouteData2TopicPublishInfo/SubscribeInfo`, reference 3.1 and 8).
//!
//! Components:
//! - [`publish_queues`] / [`subscribe_queues`]: the pure conversions;
//! - [`default_route_for`]: the TBW102 template route cut to `min(4, readQueueNums)` queues;
//! - [`TopicPublishInfo`]: writable queues plus the round-robin selector;
//! - [`RouteTable`]: the cache of routes and of broker addresses, shared by a client's tasks.
//!
//! Invariants:
//! - producers only get queues of QueueData with WRITE perm whose broker has a master (id 0);
//! - consumers get queues `0..readQueueNums` of QueueData with READ perm;
//! - with `orderTopicConf` set, producers use its `broker:count` list instead;
//! - a broker's addresses are replaced whole on each route update that names it.

use std::collections::BTreeMap;

// foldhash: both maps are looked up once per send (seeded per map).
use foldhash::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use ferromq_protocol::body::route::MASTER_ID;
use ferromq_protocol::body::{MessageQueue, TopicRouteData};

/// PermName.PERM_WRITE.
pub const PERM_WRITE: i32 = 0x2;
/// PermName.PERM_READ.
pub const PERM_READ: i32 = 0x4;

/// Queues a producer may write, in Java's order (brokers by name, then queue id).
pub fn publish_queues(topic: &str, route: &TopicRouteData) -> Vec<MessageQueue> {
    if let Some(conf) = route.order_topic_conf.as_deref().filter(|c| !c.is_empty()) {
        // "brokerName:queueCount;..." (ordered topics).
        return conf
            .split(';')
            .filter_map(|item| item.split_once(':'))
            .filter_map(|(broker, count)| Some((broker, count.trim().parse::<i32>().ok()?)))
            .flat_map(|(broker, count)| (0..count.max(0)).map(move |id| MessageQueue::new(topic, broker, id)))
            .collect();
    }
    let mut datas: Vec<_> = route.queue_datas.iter().filter(|q| q.perm & PERM_WRITE != 0).collect();
    datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
    let mut queues = Vec::new();
    for data in datas {
        let has_master = route
            .broker_datas
            .iter()
            .any(|b| b.broker_name == data.broker_name && b.master_addr().is_some());
        if has_master {
            queues.extend((0..data.write_queue_nums.max(0)).map(|id| MessageQueue::new(topic, &data.broker_name, id)));
        }
    }
    queues
}

/// Queues a consumer may read.
pub fn subscribe_queues(topic: &str, route: &TopicRouteData) -> Vec<MessageQueue> {
    let mut queues: Vec<MessageQueue> = route
        .queue_datas
        .iter()
        .filter(|q| q.perm & PERM_READ != 0)
        .flat_map(|q| (0..q.read_queue_nums.max(0)).map(|id| MessageQueue::new(topic, &q.broker_name, id)))
        .collect();
    queues.sort();
    queues
}

/// The auto-create template route turned into a route for a new topic: every QueueData gets
/// `min(default_queue_nums, readQueueNums)` read and write queues (Java's
/// `updateTopicRouteInfoFromNameServer(topic, isDefault = true, ...)`).
pub fn default_route_for(template: &TopicRouteData, default_queue_nums: i32) -> TopicRouteData {
    let mut route = template.clone();
    for data in &mut route.queue_datas {
        let nums = default_queue_nums.min(data.read_queue_nums);
        data.read_queue_nums = nums;
        data.write_queue_nums = nums;
    }
    route
}

/// Writable queues of one topic and the round-robin position (`TopicPublishInfo.java`).
#[derive(Debug)]
pub struct TopicPublishInfo {
    /// The queues, in selection order.
    pub queues: Vec<MessageQueue>,
    /// True when built from the TBW102 template because the topic does not exist yet.
    pub from_template: bool,
    next: AtomicUsize,
}

impl TopicPublishInfo {
    /// Publish info over `queues`; the round robin starts at `start` (spread producers out).
    pub fn new(queues: Vec<MessageQueue>, from_template: bool, start: usize) -> Self {
        TopicPublishInfo {
            queues,
            from_template,
            next: AtomicUsize::new(start),
        }
    }

    /// The next queue in round-robin order, skipping queues of `avoid_broker` (the broker that
    /// just failed) when another broker has queues (`selectOneMessageQueue(lastBrokerName)`).
    pub fn select_queue(&self, avoid_broker: Option<&str>) -> Option<&MessageQueue> {
        self.select_index(avoid_broker).and_then(|index| self.queues.get(index))
    }

    /// [`TopicPublishInfo::select_queue`] as an index into `queues`.
    pub fn select_index(&self, avoid_broker: Option<&str>) -> Option<usize> {
        let len = self.queues.len();
        if len == 0 {
            return None;
        }
        if let Some(avoid) = avoid_broker {
            for _ in 0..len {
                let index = self.next.fetch_add(1, Ordering::Relaxed) % len;
                if self.queues[index].broker_name != avoid {
                    return Some(index);
                }
            }
        }
        Some(self.next.fetch_add(1, Ordering::Relaxed) % len)
    }
}

/// One cached route.
#[derive(Debug, Clone)]
pub struct TopicRoute {
    /// The route as the name server sent it (or the cut template).
    pub data: Arc<TopicRouteData>,
    /// Producer view.
    pub publish: Arc<TopicPublishInfo>,
}

/// Routes by topic and master/slave addresses by broker name.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: RwLock<HashMap<String, TopicRoute>>,
    /// Addresses shared, not copied, by the sends that look them up.
    brokers: RwLock<HashMap<String, BTreeMap<i64, Arc<str>>>>,
    starts: AtomicUsize,
}

impl RouteTable {
    /// The cached route of `topic`.
    pub fn get(&self, topic: &str) -> Option<TopicRoute> {
        self.routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(topic)
            .cloned()
    }

    /// Stores `data` as the route of `topic` and records its brokers' addresses; keeps the
    /// round-robin position when the queue list did not change.
    pub fn put(&self, topic: &str, data: TopicRouteData, from_template: bool) -> TopicRoute {
        {
            let mut brokers = self.brokers.write().unwrap_or_else(PoisonError::into_inner);
            for broker in &data.broker_datas {
                let addrs = broker
                    .broker_addrs
                    .iter()
                    .map(|(&id, addr)| (id, Arc::from(addr.as_str())))
                    .collect();
                brokers.insert(broker.broker_name.clone(), addrs);
            }
        }
        let queues = publish_queues(topic, &data);
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        let start = match routes.get(topic) {
            Some(old) if old.publish.queues == queues => old.publish.next.load(Ordering::Relaxed),
            // Different producers in one process start at different queues.
            _ => self.starts.fetch_add(1, Ordering::Relaxed).wrapping_mul(7),
        };
        let route = TopicRoute {
            data: Arc::new(data),
            publish: Arc::new(TopicPublishInfo::new(queues, from_template, start)),
        };
        routes.insert(topic.to_owned(), route.clone());
        route
    }

    /// Topics with a cached route.
    pub fn topics(&self) -> Vec<String> {
        self.routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// The master address of `broker_name` (`findBrokerAddressInPublish`).
    pub fn master_addr(&self, broker_name: &str) -> Option<String> {
        self.shared_master_addr(broker_name).map(|addr| addr.to_string())
    }

    /// [`RouteTable::master_addr`] shared with the table (no copy of the string).
    pub fn shared_master_addr(&self, broker_name: &str) -> Option<Arc<str>> {
        self.brokers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(broker_name)
            .and_then(|addrs| addrs.get(&MASTER_ID))
            .cloned()
    }

    /// Every known master address, deduplicated and sorted.
    pub fn master_addrs(&self) -> Vec<String> {
        let brokers = self.brokers.read().unwrap_or_else(PoisonError::into_inner);
        let mut addrs: Vec<String> = brokers
            .values()
            .filter_map(|a| a.get(&MASTER_ID).map(|addr| addr.to_string()))
            .collect();
        addrs.sort();
        addrs.dedup();
        addrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferromq_protocol::body::{BrokerData, QueueData};

    fn broker(name: &str, addrs: &[(i64, &str)]) -> BrokerData {
        BrokerData {
            broker_addrs: addrs.iter().map(|(id, a)| (*id, (*a).to_owned())).collect(),
            broker_name: name.into(),
            cluster: "DefaultCluster".into(),
            ..Default::default()
        }
    }

    fn queue_data(name: &str, perm: i32, read: i32, write: i32) -> QueueData {
        QueueData {
            broker_name: name.into(),
            perm,
            read_queue_nums: read,
            write_queue_nums: write,
            topic_sys_flag: 0,
        }
    }

    #[test]
    fn producers_write_only_to_writable_queues_of_brokers_with_a_master() {
        // Goal: WRITE perm and a master (id 0) are both needed to produce; READ alone is enough
        // to consume. Method: broker-b is read-only, broker-c has only a slave.
        let route = TopicRouteData {
            broker_datas: vec![
                broker("broker-a", &[(0, "a:1")]),
                broker("broker-b", &[(0, "b:1")]),
                broker("broker-c", &[(1, "c:2")]),
            ],
            queue_datas: vec![
                queue_data("broker-c", 6, 2, 2),
                queue_data("broker-b", 4, 3, 3),
                queue_data("broker-a", 6, 2, 3),
            ],
            ..Default::default()
        };
        let publish = publish_queues("T", &route);
        assert_eq!(
            publish,
            (0..3)
                .map(|i| MessageQueue::new("T", "broker-a", i))
                .collect::<Vec<_>>()
        );
        let subscribe = subscribe_queues("T", &route);
        assert_eq!(subscribe.len(), 2 + 3 + 2);
        assert_eq!(subscribe[0], MessageQueue::new("T", "broker-a", 0));
    }

    #[test]
    fn order_topic_conf_overrides_queue_datas_for_producers() {
        // Goal: "broker:count;..." decides the producer's queues. Method: conf with two brokers.
        let route = TopicRouteData {
            order_topic_conf: Some("broker-a:2;broker-b:1".into()),
            queue_datas: vec![queue_data("broker-a", 6, 8, 8)],
            ..Default::default()
        };
        let queues = publish_queues("T", &route);
        assert_eq!(
            queues,
            vec![
                MessageQueue::new("T", "broker-a", 0),
                MessageQueue::new("T", "broker-a", 1),
                MessageQueue::new("T", "broker-b", 0)
            ]
        );
    }

    #[test]
    fn template_route_is_cut_to_the_default_queue_count() {
        // Goal: TBW102 with 8 queues yields 4 read/write queues per broker; with 2 it stays 2.
        // Method: default_route_for over two QueueData.
        let template = TopicRouteData {
            broker_datas: vec![broker("broker-a", &[(0, "a:1")]), broker("broker-b", &[(0, "b:1")])],
            queue_datas: vec![queue_data("broker-a", 7, 8, 8), queue_data("broker-b", 7, 2, 8)],
            ..Default::default()
        };
        let route = default_route_for(&template, 4);
        assert_eq!(route.queue_datas[0].write_queue_nums, 4);
        assert_eq!(route.queue_datas[0].read_queue_nums, 4);
        assert_eq!(route.queue_datas[1].write_queue_nums, 2);
        assert_eq!(publish_queues("New", &route).len(), 6);
    }

    #[test]
    fn selection_round_robins_and_skips_the_failed_broker() {
        // Goal: plain selection cycles through every queue; with a broker to avoid, its queues
        // are skipped while another broker exists, and used when it is the only one.
        // Method: two brokers with two queues each.
        let queues = vec![
            MessageQueue::new("T", "a", 0),
            MessageQueue::new("T", "a", 1),
            MessageQueue::new("T", "b", 0),
            MessageQueue::new("T", "b", 1),
        ];
        let info = TopicPublishInfo::new(queues.clone(), false, 0);
        let picked: Vec<_> = (0..4).map(|_| info.select_queue(None).unwrap().clone()).collect();
        assert_eq!(picked, queues);
        for _ in 0..8 {
            assert_eq!(info.select_queue(Some("a")).unwrap().broker_name, "b");
        }
        let only_a = TopicPublishInfo::new(queues[..2].to_vec(), false, 0);
        assert_eq!(only_a.select_queue(Some("a")).unwrap().broker_name, "a");
        assert!(TopicPublishInfo::new(Vec::new(), false, 0).select_queue(None).is_none());
    }

    #[test]
    fn table_tracks_master_addresses_by_broker_name() {
        // Goal: master_addr finds id 0 of the named broker; master_addrs lists every master.
        let table = RouteTable::default();
        let route = TopicRouteData {
            broker_datas: vec![
                broker("broker-a", &[(0, "a:1"), (1, "a:2")]),
                broker("broker-b", &[(1, "b:2")]),
            ],
            queue_datas: vec![queue_data("broker-a", 6, 1, 1)],
            ..Default::default()
        };
        let cached = table.put("T", route, false);
        assert_eq!(cached.publish.queues.len(), 1);
        assert_eq!(table.master_addr("broker-a").as_deref(), Some("a:1"));
        assert_eq!(table.master_addr("broker-b"), None);
        assert_eq!(table.master_addrs(), vec!["a:1".to_owned()]);
        assert_eq!(table.topics(), vec!["T".to_owned()]);
    }
}
