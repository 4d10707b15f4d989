//! Unit tests of the route table rules (`route_info.rs`, `route_query.rs`).

use std::time::Duration;

use ferromq_protocol::body::{DataVersion, QueueData, TopicConfig, TopicConfigSerializeWrapper};
use tokio::time::Instant;

use crate::route_info::{
    BrokerAddrInfo, BrokerRegistration, RegisterError, RouteInfoManager, UnregisterRequest, PERM_READ, PERM_WRITE,
};

const CLUSTER: &str = "DefaultCluster";

fn wrapper(topics: &[(&str, i32)], counter: i64) -> TopicConfigSerializeWrapper {
    TopicConfigSerializeWrapper {
        data_version: DataVersion {
            counter,
            state_version: Some(0),
            timestamp: 1_700_000_000_000,
        },
        topic_config_table: topics
            .iter()
            .map(|(name, queues)| ((*name).to_owned(), TopicConfig::new(*name, *queues, *queues, 6)))
            .collect(),
        ..TopicConfigSerializeWrapper::default()
    }
}

fn registration(name: &str, id: i64, addr: &str, topics: &[(&str, i32)], counter: i64) -> BrokerRegistration {
    BrokerRegistration {
        cluster_name: CLUSTER.to_owned(),
        broker_addr: addr.to_owned(),
        broker_name: name.to_owned(),
        broker_id: id,
        ha_server_addr: format!("{addr}-ha"),
        enable_acting_master: Some(false),
        topic_config_wrapper: wrapper(topics, counter),
        filter_server_list: Some(Vec::new()),
        ..BrokerRegistration::default()
    }
}

fn register(routes: &RouteInfoManager, registration: BrokerRegistration) {
    routes.register_broker(registration, false, Instant::now()).unwrap();
}

fn queue(routes: &RouteInfoManager, topic: &str, broker: &str) -> Option<QueueData> {
    routes
        .pickup_topic_route_data(topic, false)?
        .queue_datas
        .into_iter()
        .find(|queue_data| queue_data.broker_name == broker)
}

#[test]
fn first_registration_creates_cluster_broker_and_queue_data() {
    // Goal: a new master appears in every table. Method: register, read cluster info and route.
    let routes = RouteInfoManager::new();
    register(
        &routes,
        registration("broker-a", 0, "10.0.0.1:10911", &[("TopicA", 4), ("TBW102", 8)], 1),
    );
    let info = routes.cluster_info();
    assert!(info.cluster_addr_table[CLUSTER].contains("broker-a"));
    assert_eq!(info.broker_addr_table["broker-a"].master_addr(), Some("10.0.0.1:10911"));
    let route = routes.pickup_topic_route_data("TopicA", false).unwrap();
    assert_eq!(route.broker_datas.len(), 1);
    assert_eq!(
        route.queue_datas,
        vec![QueueData {
            broker_name: "broker-a".into(),
            perm: 6,
            read_queue_nums: 4,
            topic_sys_flag: 0,
            write_queue_nums: 4
        }]
    );
    assert_eq!(
        routes.live_brokers(),
        vec![BrokerAddrInfo::new(CLUSTER, "10.0.0.1:10911")]
    );
    assert!(routes.pickup_topic_route_data("Unknown", false).is_none());
}

#[test]
fn queue_data_is_rewritten_only_when_the_data_version_changes() {
    // Goal: an unchanged DataVersion leaves QueueData alone; a changed one rewrites it.
    // Method: wipe write perm, re-register with the same version (perm stays wiped), then with
    // a new version and new queue counts (perm and counts restored).
    let routes = RouteInfoManager::new();
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1),
    );
    assert_eq!(routes.wipe_write_perm_of_broker("broker-a"), 2);
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1),
    );
    assert_eq!(queue(&routes, "TopicA", "broker-a").unwrap().perm, PERM_READ);
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 8), ("T2", 1)], 2),
    );
    let queue_data = queue(&routes, "TopicA", "broker-a").unwrap();
    assert_eq!((queue_data.perm, queue_data.write_queue_nums), (6, 8));
}

#[test]
fn a_new_topic_under_an_unchanged_data_version_still_gets_queue_data() {
    // Goal: 5.x `isTopicConfigChanged`: a topic without QueueData of this broker is added even
    // when the DataVersion is the same. Method: same counter, one more topic.
    let routes = RouteInfoManager::new();
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("TBW102", 8)], 1),
    );
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("TopicB", 2)], 1),
    );
    assert!(queue(&routes, "TopicB", "broker-a").is_some());
}

#[test]
fn same_address_under_another_id_is_replaced() {
    // Goal: a slave promoted to master leaves one entry. Method: register addr as id 1, then 0.
    let routes = RouteInfoManager::new();
    register(
        &routes,
        registration("broker-a", 1, "a:2", &[("TopicA", 4), ("T2", 1)], 1),
    );
    register(
        &routes,
        registration("broker-a", 0, "a:2", &[("TopicA", 4), ("T2", 1)], 1),
    );
    let addrs = routes.cluster_info().broker_addr_table["broker-a"].broker_addrs.clone();
    assert_eq!(addrs.into_iter().collect::<Vec<_>>(), vec![(0, "a:2".to_owned())]);
}

#[test]
fn slave_learns_master_addresses_and_does_not_write_queue_data() {
    // Goal: REGISTER_BROKER of a slave answers the master's addr and HA addr and leaves the
    // master's QueueData alone. Method: master then slave with different queue counts.
    let routes = RouteInfoManager::new();
    let first = routes
        .register_broker(
            registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1),
            false,
            Instant::now(),
        )
        .unwrap();
    assert_eq!(first.master_addr, None);
    let mut slave = registration("broker-a", 1, "a:2", &[("TopicA", 16), ("T2", 1)], 5);
    slave.enable_acting_master = None;
    let result = routes.register_broker(slave, false, Instant::now()).unwrap();
    assert_eq!(result.master_addr.as_deref(), Some("a:1"));
    assert_eq!(result.ha_server_addr.as_deref(), Some("a:1-ha"));
    assert_eq!(queue(&routes, "TopicA", "broker-a").unwrap().write_queue_nums, 4);
}

#[test]
fn registration_older_than_the_live_one_under_the_same_id_is_ignored() {
    // Goal: a conflicting address with a lower stateVersion does not replace the live one.
    // Method: register id 0 at a:1 with stateVersion 5, then id 0 at a:9 with stateVersion 1.
    let routes = RouteInfoManager::new();
    let mut newer = registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1);
    newer.topic_config_wrapper.data_version.state_version = Some(5);
    register(&routes, newer);
    let mut older = registration("broker-a", 0, "a:9", &[("TopicA", 4), ("T2", 1)], 1);
    older.topic_config_wrapper.data_version.state_version = Some(1);
    let result = routes.register_broker(older, false, Instant::now()).unwrap();
    assert_eq!(result, Default::default());
    assert_eq!(
        routes.cluster_info().broker_addr_table["broker-a"].master_addr(),
        Some("a:1")
    );
    assert_eq!(routes.live_brokers(), vec![BrokerAddrInfo::new(CLUSTER, "a:1")]);
}

#[test]
fn single_topic_registration_before_a_full_one_is_refused_without_side_effects() {
    // Goal: Java's "register broker failed" for a one-topic registration of an unknown id, and
    // no empty BrokerData left behind. Method: register one topic first.
    let routes = RouteInfoManager::new();
    let refused = routes.register_broker(
        registration("broker-a", 0, "a:1", &[("TopicA", 4)], 1),
        false,
        Instant::now(),
    );
    assert!(matches!(
        refused,
        Err(RegisterError::SingleTopicBeforeFullRegistration { .. })
    ));
    let info = routes.cluster_info();
    assert!(info.broker_addr_table.is_empty() && info.cluster_addr_table.is_empty());
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1),
    );
    register(&routes, registration("broker-a", 0, "a:1", &[("TopicC", 2)], 2));
    assert!(queue(&routes, "TopicC", "broker-a").is_some());
}

#[test]
fn unregistering_the_last_address_removes_broker_cluster_and_topics() {
    // Goal: unregistration cascades only when a broker name has no address left. Method:
    // master + slave; unregister the slave (routes stay), then the master (all gone).
    let routes = RouteInfoManager::new();
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1),
    );
    register(
        &routes,
        registration("broker-a", 1, "a:2", &[("TopicA", 4), ("T2", 1)], 1),
    );
    register(
        &routes,
        registration("broker-b", 0, "b:1", &[("TopicA", 4), ("T2", 1)], 1),
    );
    let unregister = |name: &str, id: i64, addr: &str| UnregisterRequest {
        cluster_name: CLUSTER.into(),
        broker_addr: addr.into(),
        broker_name: name.into(),
        broker_id: id,
    };
    routes.unregister_brokers(&[unregister("broker-a", 1, "a:2")]);
    assert!(queue(&routes, "TopicA", "broker-a").is_some());
    routes.unregister_brokers(&[unregister("broker-a", 0, "a:1")]);
    assert!(queue(&routes, "TopicA", "broker-a").is_none());
    assert!(queue(&routes, "TopicA", "broker-b").is_some());
    assert!(!routes.cluster_info().broker_addr_table.contains_key("broker-a"));
    routes.unregister_brokers(&[unregister("broker-b", 0, "b:1")]);
    let info = routes.cluster_info();
    assert!(info.cluster_addr_table.is_empty() && info.broker_addr_table.is_empty());
    assert!(routes.all_topic_list().topic_list.is_empty());
    assert!(routes.live_brokers().is_empty());
}

#[test]
fn brokers_expire_only_after_their_heartbeat_timeout() {
    // Goal: `now > last + timeout` expiry, per-broker timeouts, refresh extends.
    // Method: explicit instants; a 10 s and a default (120 s) broker.
    let routes = RouteInfoManager::new();
    let start = Instant::now();
    let mut short = registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1);
    short.heartbeat_timeout_ms = Some(10_000);
    short.connection_id = Some(7);
    routes.register_broker(short, false, start).unwrap();
    routes
        .register_broker(
            registration("broker-b", 0, "b:1", &[("TopicA", 4), ("T2", 1)], 1),
            false,
            start,
        )
        .unwrap();
    assert!(routes
        .scan_not_active_brokers(start + Duration::from_secs(10))
        .is_empty());
    assert!(routes.refresh_broker_liveness(CLUSTER, "a:1", start + Duration::from_secs(5)));
    assert!(routes
        .scan_not_active_brokers(start + Duration::from_secs(12))
        .is_empty());
    let expired = routes.scan_not_active_brokers(start + Duration::from_secs(16));
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].connection_id, Some(7));
    assert!(queue(&routes, "TopicA", "broker-a").is_none());
    assert!(queue(&routes, "TopicA", "broker-b").is_some());
    assert_eq!(
        routes.scan_not_active_brokers(start + Duration::from_secs(121)).len(),
        1
    );
    assert!(routes.pickup_topic_route_data("TopicA", false).is_none());
    assert!(!routes.refresh_broker_liveness(CLUSTER, "a:1", start));
}

#[test]
fn closing_a_connection_removes_only_its_brokers() {
    // Goal: connection close unregisters the brokers whose live record names it. Method: two
    // brokers on connections 1 and 2; close 1; also a re-registration on a new connection is
    // not removed by the old connection's close.
    let routes = RouteInfoManager::new();
    let mut a = registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1);
    a.connection_id = Some(1);
    let mut b = registration("broker-b", 0, "b:1", &[("TopicA", 4), ("T2", 1)], 1);
    b.connection_id = Some(2);
    register(&routes, a.clone());
    register(&routes, b);
    a.connection_id = Some(3);
    register(&routes, a);
    assert!(routes.on_connection_closed(1).is_empty());
    assert_eq!(
        routes.on_connection_closed(2),
        vec![BrokerAddrInfo::new(CLUSTER, "b:1")]
    );
    assert!(queue(&routes, "TopicA", "broker-b").is_none());
    assert!(queue(&routes, "TopicA", "broker-a").is_some());
}

#[test]
fn write_permission_is_wiped_and_restored_with_counts() {
    // Goal: WIPE/ADD_WRITE_PERM counts topics of that broker only. Method: two brokers.
    let routes = RouteInfoManager::new();
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("TopicB", 4), ("T3", 1)], 1),
    );
    register(
        &routes,
        registration("broker-b", 0, "b:1", &[("TopicA", 4), ("T3", 1)], 1),
    );
    assert_eq!(routes.wipe_write_perm_of_broker("broker-a"), 3);
    assert_eq!(queue(&routes, "TopicA", "broker-a").unwrap().perm, PERM_READ);
    assert_eq!(queue(&routes, "TopicA", "broker-b").unwrap().perm, 6);
    assert_eq!(routes.add_write_perm_of_broker("broker-a"), 3);
    assert_eq!(
        queue(&routes, "TopicB", "broker-a").unwrap().perm,
        PERM_READ | PERM_WRITE
    );
    assert_eq!(routes.wipe_write_perm_of_broker("nobody"), 0);
}

#[test]
fn topics_are_deleted_whole_or_per_cluster() {
    // Goal: DELETE_TOPIC_IN_NAMESRV with and without a cluster. Method: brokers in two clusters.
    let routes = RouteInfoManager::new();
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("TopicB", 4)], 1),
    );
    let mut other = registration("broker-x", 0, "x:1", &[("TopicA", 4), ("TopicB", 4)], 1);
    other.cluster_name = "Other".into();
    register(&routes, other);
    routes.delete_topic("TopicA", Some("Other"));
    let route = routes.pickup_topic_route_data("TopicA", false).unwrap();
    assert_eq!(route.queue_datas.len(), 1);
    assert_eq!(route.queue_datas[0].broker_name, "broker-a");
    routes.delete_topic("TopicA", Some("NoSuchCluster"));
    assert!(routes.pickup_topic_route_data("TopicA", false).is_some());
    routes.delete_topic("TopicA", Some(CLUSTER));
    assert!(routes.pickup_topic_route_data("TopicA", false).is_none());
    routes.delete_topic("TopicB", None);
    assert!(routes.pickup_topic_route_data("TopicB", false).is_none());
}

#[test]
fn register_topic_needs_a_new_topic_and_known_brokers() {
    // Goal: REGISTER_TOPIC_IN_NAMESRV rules. Method: unknown broker, new topic, existing topic.
    let routes = RouteInfoManager::new();
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1),
    );
    let queue_data = |broker: &str, nums: i32| QueueData {
        broker_name: broker.into(),
        perm: 6,
        read_queue_nums: nums,
        topic_sys_flag: 0,
        write_queue_nums: nums,
    };
    assert!(!routes.register_topic("New", vec![queue_data("broker-a", 2), queue_data("ghost", 2)]));
    assert!(routes.register_topic("New", vec![queue_data("broker-a", 2)]));
    assert!(!routes.register_topic("TopicA", vec![queue_data("broker-a", 9)]));
    assert!(!routes.register_topic("Empty", Vec::new()));
    assert_eq!(queue(&routes, "New", "broker-a").unwrap().read_queue_nums, 2);
    assert_eq!(queue(&routes, "TopicA", "broker-a").unwrap().read_queue_nums, 4);
}

#[test]
fn topic_lists_by_cluster_and_system_topics_follow_java() {
    // Goal: GET_TOPICS_BY_CLUSTER and GET_SYSTEM_TOPIC_LIST_FROM_NS contents. Method: two clusters.
    let routes = RouteInfoManager::new();
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1),
    );
    let mut other = registration("broker-x", 0, "x:1", &[("TopicX", 4), ("T2", 1)], 1);
    other.cluster_name = "Other".into();
    register(&routes, other);
    let by_cluster = routes.topics_by_cluster(CLUSTER).topic_list;
    assert_eq!(by_cluster.into_iter().collect::<Vec<_>>(), vec!["T2", "TopicA"]);
    assert!(routes.topics_by_cluster("Nope").topic_list.is_empty());
    let system = routes.system_topic_list();
    let names: Vec<String> = system.topic_list.into_iter().collect();
    assert_eq!(names, vec!["DefaultCluster", "Other", "broker-a", "broker-x"]);
    assert!(system.broker_addr.is_some());
    assert_eq!(routes.all_topic_list().topic_list.len(), 3);
}

#[test]
fn registration_can_drop_topics_the_broker_no_longer_lists() {
    // Goal: `deleteTopicWithBrokerRegistration`. Method: register A+B, then only A with the
    // option on; B goes. With the option off a missing topic stays.
    let routes = RouteInfoManager::new();
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("TopicB", 4)], 1),
    );
    routes
        .register_broker(
            registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T3", 1)], 2),
            false,
            Instant::now(),
        )
        .unwrap();
    assert!(queue(&routes, "TopicB", "broker-a").is_some());
    routes
        .register_broker(
            registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T3", 1)], 3),
            true,
            Instant::now(),
        )
        .unwrap();
    assert!(queue(&routes, "TopicB", "broker-a").is_none());
    assert!(queue(&routes, "TopicA", "broker-a").is_some());
}

#[test]
fn acting_master_slave_serves_reads_when_the_master_is_gone() {
    // Goal: 5.x acting master: the prime slave's queues lose write perm, and with
    // supportActingMaster the route shows it as id 0. Method: master + slave with
    // enableActingMaster, unregister the master, read routes.
    let routes = RouteInfoManager::new();
    let mut master = registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1);
    master.enable_acting_master = Some(true);
    let mut slave = registration("broker-a", 1, "a:2", &[("TopicA", 4), ("T2", 1)], 1);
    slave.enable_acting_master = Some(true);
    register(&routes, master);
    register(&routes, slave);
    routes.unregister_brokers(&[UnregisterRequest {
        cluster_name: CLUSTER.into(),
        broker_addr: "a:1".into(),
        broker_name: "broker-a".into(),
        broker_id: 0,
    }]);
    let plain = routes.pickup_topic_route_data("TopicA", false).unwrap();
    assert_eq!(plain.queue_datas[0].perm, PERM_READ);
    assert_eq!(plain.broker_datas[0].master_addr(), None);
    let acting = routes.pickup_topic_route_data("TopicA", true).unwrap();
    assert_eq!(acting.broker_datas[0].master_addr(), Some("a:2"));
}

#[test]
fn filter_servers_appear_in_routes_and_clear_on_empty_list() {
    // Goal: filterServerTable bookkeeping. Method: register with a list, read route, register
    // with an empty list.
    let routes = RouteInfoManager::new();
    let mut with_filters = registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1);
    with_filters.filter_server_list = Some(vec!["f:1".into()]);
    register(&routes, with_filters);
    let route = routes.pickup_topic_route_data("TopicA", false).unwrap();
    assert_eq!(route.filter_server_table["a:1"], vec!["f:1".to_owned()]);
    register(
        &routes,
        registration("broker-a", 0, "a:1", &[("TopicA", 4), ("T2", 1)], 1),
    );
    assert!(routes
        .pickup_topic_route_data("TopicA", false)
        .unwrap()
        .filter_server_table
        .is_empty());
}
