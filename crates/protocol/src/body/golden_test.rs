//! Golden tests: the reference's JSON examples (sections 3.1, 3.3, 3.4) and Java-style quirks
//! parse into the expected values.

use std::collections::BTreeMap;

use super::*;

#[test]
fn reference_topic_route_example_parses() {
    // Goal: the 3.1 example (plus an unknown field) parses into the expected route.
    // Method: literal JSON, compare with a hand-built value.
    let text = br#"{"brokerDatas":[{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},
        "brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false,"zoneName":"z1"}],
        "filterServerTable":{},
        "orderTopicConf":"broker-a:4;broker-b:4",
        "queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}],
        "someFutureField":{"x":[1,2,3]}}"#;
    let route: TopicRouteData = decode_body(text).unwrap();
    let expected = TopicRouteData {
        broker_datas: vec![BrokerData {
            broker_addrs: [(0, "10.0.0.1:10911".to_owned()), (1, "10.0.0.2:10911".to_owned())].into(),
            broker_name: "broker-a".into(),
            cluster: "DefaultCluster".into(),
            enable_acting_master: false,
            zone_name: Some("z1".into()),
        }],
        filter_server_table: BTreeMap::new(),
        order_topic_conf: Some("broker-a:4;broker-b:4".into()),
        queue_datas: vec![QueueData {
            broker_name: "broker-a".into(),
            perm: 6,
            read_queue_nums: 4,
            topic_sys_flag: 0,
            write_queue_nums: 4,
        }],
        topic_queue_mapping_by_broker: None,
    };
    assert_eq!(route, expected);
}

#[test]
fn java_unquoted_broker_addrs_parse() {
    // Goal: a 4.x name server's `{0:"10.0.0.1:10911"}` parses. Method: literal legacy route,
    // also with the null collections a Go server might send.
    let text = br#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"b","cluster":"c"}],"filterServerTable":null,"queueDatas":null}"#;
    let route: TopicRouteData = decode_body(text).unwrap();
    assert_eq!(route.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
    assert!(!route.broker_datas[0].enable_acting_master);
    assert!(route.queue_datas.is_empty() && route.filter_server_table.is_empty());
}

#[test]
fn reference_register_broker_example_parses() {
    // Goal: the 3.3 uncompressed example parses, 5.x extras included. Method: literal JSON.
    let text = br#"{"filterServerList":[],
     "topicConfigSerializeWrapper":{
       "dataVersion":{"counter":2,"stateVersion":0,"timestamp":1700000000000},
       "topicConfigTable":{"TopicA":{"attributes":{},"order":false,"perm":6,"readQueueNums":8,
            "topicFilterType":"SINGLE_TAG","topicName":"TopicA","topicSysFlag":0,"writeQueueNums":8}},
       "topicQueueMappingInfoMap":{}, "topicQueueMappingDetailMap":{},
       "mappingDataVersion":{"counter":0,"stateVersion":0,"timestamp":1700000000000}}}"#;
    let body = RegisterBrokerBody::decode(text, false).unwrap();
    let wrapper = &body.topic_config_serialize_wrapper;
    assert_eq!(
        wrapper.data_version,
        DataVersion {
            counter: 2,
            state_version: Some(0),
            timestamp: 1_700_000_000_000
        }
    );
    assert_eq!(
        wrapper.topic_config_table["TopicA"],
        TopicConfig::new("TopicA", 8, 8, 6)
    );
    assert_eq!(wrapper.topic_queue_mapping_info_map, Some(BTreeMap::new()));
    assert!(body.filter_server_list.is_empty());
}

#[test]
fn reference_heartbeat_example_parses() {
    // Goal: the 3.4 example parses into the expected HeartbeatData. Method: literal JSON.
    let text = br#"{"clientID":"10.0.0.5@12345",
     "consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY",
        "groupName":"cg1","messageModel":"CLUSTERING","unitMode":false,
        "subscriptionDataSet":[
          {"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","subString":"TagA || TagB",
           "subVersion":1700000000000,"tagsSet":["TagA","TagB"],"topic":"TopicA"},
          {"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1700000000001,
           "tagsSet":[],"topic":"%RETRY%cg1"}]}],
     "heartbeatFingerprint":0,
     "producerDataSet":[{"groupName":"pg1"},{"groupName":"CLIENT_INNER_PRODUCER"}],
     "withoutSub":false}"#;
    let heartbeat: HeartbeatData = decode_body(text).unwrap();
    let expected = HeartbeatData {
        client_id: "10.0.0.5@12345".into(),
        consumer_data_set: vec![ConsumerData {
            consume_from_where: ConsumeFromWhere::ConsumeFromLastOffset,
            consume_type: ConsumeType::ConsumePassively,
            group_name: "cg1".into(),
            message_model: MessageModel::Clustering,
            subscription_data_set: vec![
                SubscriptionData {
                    class_filter_mode: false,
                    code_set: [2_598_919].into(),
                    expression_type: ExpressionType::Tag,
                    sub_string: "TagA || TagB".into(),
                    sub_version: 1_700_000_000_000,
                    tags_set: ["TagA".to_owned(), "TagB".to_owned()].into(),
                    topic: "TopicA".into(),
                },
                SubscriptionData {
                    sub_string: "*".into(),
                    sub_version: 1_700_000_000_001,
                    topic: "%RETRY%cg1".into(),
                    ..Default::default()
                },
            ],
            unit_mode: false,
        }],
        heartbeat_fingerprint: 0,
        producer_data_set: vec![
            ProducerData {
                group_name: "pg1".into(),
            },
            ProducerData {
                group_name: "CLIENT_INNER_PRODUCER".into(),
            },
        ],
        without_sub: false,
    };
    assert_eq!(heartbeat, expected);
    assert!(heartbeat.consumer_data_set[0].subscription_data_set[1].is_sub_all());
}

#[test]
fn a_4_x_producer_heartbeat_without_5_x_fields_parses() {
    // Goal: absent fields default (4.x clients send no fingerprint / withoutSub; Go sends null
    // sets). Method: minimal literal.
    let heartbeat: HeartbeatData =
        decode_body(br#"{"clientID":"c","consumerDataSet":null,"producerDataSet":[{"groupName":"pg"}]}"#).unwrap();
    assert_eq!(heartbeat.heartbeat_fingerprint, 0);
    assert!(!heartbeat.without_sub);
    assert!(heartbeat.consumer_data_set.is_empty());
}

#[test]
fn deprecated_consume_from_where_names_parse() {
    // Goal: the three deprecated names are accepted. Method: decode each.
    for (name, expected) in [
        (
            "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
            ConsumeFromWhere::ConsumeFromLastOffsetAndFromMinWhenBootFirst,
        ),
        ("CONSUME_FROM_MIN_OFFSET", ConsumeFromWhere::ConsumeFromMinOffset),
        ("CONSUME_FROM_MAX_OFFSET", ConsumeFromWhere::ConsumeFromMaxOffset),
        ("CONSUME_FROM_TIMESTAMP", ConsumeFromWhere::ConsumeFromTimestamp),
    ] {
        let data: ConsumerData = decode_body(format!(r#"{{"consumeFromWhere":"{name}"}}"#).as_bytes()).unwrap();
        assert_eq!(data.consume_from_where, expected);
    }
    let sql: SubscriptionData = decode_body(br#"{"expressionType":"SQL92","subString":"a > 1"}"#).unwrap();
    assert_eq!(sql.expression_type, ExpressionType::Sql92);
}

#[test]
fn object_keyed_topic_stats_parse() {
    // Goal: an object-keyed offsetTable (TopicStatsTable as Java writes it) parses.
    // Method: literal fastjson text with two queues.
    let text = br#"{"offsetTable":{{"brokerName":"broker-a","queueId":1,"topic":"TopicA"}:{"lastUpdateTimestamp":1700000000000,"maxOffset":10,"minOffset":0},{"brokerName":"broker-a","queueId":0,"topic":"TopicA"}:{"lastUpdateTimestamp":0,"maxOffset":3,"minOffset":1}}}"#;
    let stats: TopicStatsTable = decode_body(text).unwrap();
    let queues: Vec<_> = stats.offset_table.keys().map(|mq| mq.queue_id).collect();
    assert_eq!(queues, vec![0, 1]);
    assert_eq!(
        stats.offset_table[&MessageQueue::new("TopicA", "broker-a", 1)].max_offset,
        10
    );
}

#[test]
fn encode_body_writes_fields_alphabetically_and_omits_absent_ones() {
    // Goal: output looks like fastjson's (sorted fields, nulls omitted). Method: encode a
    // BrokerData without zone.
    let data = BrokerData {
        broker_addrs: [(0, "a:1".to_owned())].into(),
        broker_name: "b".into(),
        cluster: "c".into(),
        enable_acting_master: false,
        zone_name: None,
    };
    assert_eq!(
        String::from_utf8(encode_body(&data)).unwrap(),
        r#"{"brokerAddrs":{"0":"a:1"},"brokerName":"b","cluster":"c","enableActingMaster":false}"#
    );
}

#[test]
fn body_shape_errors_are_typed() {
    // Goal: wrong shapes and oversize inputs are errors, not panics. Method: bad literals.
    assert!(matches!(
        decode_body::<TopicRouteData>(br#"{"brokerDatas":5}"#),
        Err(BodyError::Shape { .. })
    ));
    assert!(matches!(
        decode_body::<TopicRouteData>(b"{"),
        Err(BodyError::Malformed { .. })
    ));
    let huge = vec![b' '; MAX_JSON_BODY_BYTES + 1];
    assert!(matches!(decode_body::<KvTable>(&huge), Err(BodyError::TooLarge { .. })));
}
