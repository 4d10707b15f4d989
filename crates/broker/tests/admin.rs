//! Admin and query integration tests: topics, groups, stats, connection lists, broker config,
//! QUERY_MESSAGE.

mod common;

use common::*;
use ferromq_broker::config::BrokerConfig;
use ferromq_protocol::body::{
    decode_body, encode_body, ConsumeStats, ConsumerConnection, KvTable, ProducerConnection, SubscriptionGroupConfig,
    TopicConfigSerializeWrapper, TopicStatsTable,
};
use ferromq_protocol::header::admin::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, DeleteTopicRequestHeader,
    GetConsumeStatsRequestHeader, GetConsumerConnectionListRequestHeader, GetProducerConnectionListRequestHeader,
    GetSubscriptionGroupConfigRequestHeader, GetTopicConfigRequestHeader, GetTopicStatsInfoRequestHeader,
};
use ferromq_protocol::header::consumer_offset::{
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};
use ferromq_protocol::header::pull_message::PULL_FLAG_SUBSCRIPTION;
use ferromq_protocol::header::query_message::{QueryMessageRequestHeader, QueryMessageResponseHeader};
use ferromq_protocol::header::send_message::SendMessageResponseHeader;
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};

fn create_topic(topic: &str, queues: i32) -> RemotingCommand {
    let header = CreateTopicRequestHeader {
        topic: topic.to_owned(),
        default_topic: "TBW102".to_owned(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".to_owned(),
        topic_sys_flag: Some(0),
        order: false,
        attributes: None,
        force: None,
    };
    request(RequestCode::UpdateAndCreateTopic, &header)
}

// Goal: admin topic create / list / delete, and refusals of bad or system names. Method: the
// admin codes in sequence, checking GET_ALL_TOPIC_CONFIG and GET_TOPIC_CONFIG.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_creates_lists_and_deletes_topics() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;
    invoke_expect(&client, addr, create_topic("AdminT", 3), ResponseCode::Success).await?;
    invoke_expect(
        &client,
        addr,
        create_topic("bad name", 3),
        ResponseCode::InvalidParameter,
    )
    .await?;
    invoke_expect(
        &client,
        addr,
        create_topic("SCHEDULE_TOPIC_XXXX", 3),
        ResponseCode::InvalidParameter,
    )
    .await?;

    let all = invoke_expect(
        &client,
        addr,
        RemotingCommand::request(RequestCode::GetAllTopicConfig),
        ResponseCode::Success,
    )
    .await?;
    let all: TopicConfigSerializeWrapper = decode_body(&all.body.to_bytes())?;
    assert_eq!(all.topic_config_table["AdminT"].write_queue_nums, 3);
    assert!(all.topic_config_table.contains_key("TBW102"));

    let delete = DeleteTopicRequestHeader {
        topic: "AdminT".to_owned(),
    };
    invoke_expect(
        &client,
        addr,
        request(RequestCode::DeleteTopicInBroker, &delete),
        ResponseCode::Success,
    )
    .await?;
    let get = GetTopicConfigRequestHeader {
        topic: "AdminT".to_owned(),
    };
    invoke_expect(
        &client,
        addr,
        request(RequestCode::GetTopicConfig, &get),
        ResponseCode::TopicNotExist,
    )
    .await?;
    broker.stop().await
}

// Goal: DELETE_TOPIC_IN_BROKER also deletes the topic's ConsumeQueues: the queue is empty
// afterwards, its files are gone, and a new send to the topic starts at queue offset 0.
// Method: send 2 messages, wait until dispatched, delete, check GET_MAX_OFFSET, the
// consumequeue directory and the next send's queue offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_topic_removes_its_consume_queues() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = broker.addr_text.clone();
    invoke_expect(&client, &addr, create_topic("DelT", 1), ResponseCode::Success).await?;
    for i in 0..2 {
        send_ok(&client, &addr, send_v2("DelT", 0, format!("m{i}").as_bytes(), "")).await?;
    }
    let max_offset = || async {
        let header = GetMaxOffsetRequestHeader {
            topic: "DelT".to_owned(),
            queue_id: 0,
            committed: None,
        };
        let response = invoke_expect(
            &client,
            &addr,
            request(RequestCode::GetMaxOffset, &header),
            ResponseCode::Success,
        )
        .await?;
        anyhow::Ok(response.decode_header::<GetMaxOffsetResponseHeader>()?.offset)
    };
    eventually("2 messages dispatched", || async {
        Ok((max_offset().await? == 2).then_some(()))
    })
    .await?;
    let queue_dir = dir.path().join("consumequeue").join("DelT");
    // Dispatched entries may still be pending in memory: the store writes them once idle.
    eventually("ConsumeQueue files written", || async {
        Ok(queue_dir.exists().then_some(()))
    })
    .await?;

    let delete = DeleteTopicRequestHeader {
        topic: "DelT".to_owned(),
    };
    invoke_expect(
        &client,
        &addr,
        request(RequestCode::DeleteTopicInBroker, &delete),
        ResponseCode::Success,
    )
    .await?;
    assert_eq!(max_offset().await?, 0, "the queue is empty after the delete");
    assert!(!queue_dir.exists(), "ConsumeQueue files deleted");

    let again = send_ok(&client, &addr, send_v2("DelT", 0, b"again", "")).await?;
    let header: SendMessageResponseHeader = again.decode_header()?;
    assert_eq!(header.queue_offset, 0, "the topic starts over");
    broker.stop().await
}

// Goal: GET_CONSUME_STATS reports broker offset, consumer offset and lag per queue in the
// fastjson object-keyed form, and consumeTps as the group's pulled messages over the last
// minute; GET_TOPIC_STATS_INFO reports min/max. Method: 3 messages, pull them as the group,
// commit offset 1, decode both bodies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_and_topic_stats_report_offsets_and_lag() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = broker.addr_text.clone();
    for i in 0..3 {
        send_ok(&client, &addr, send_v2("StatT", 0, format!("m{i}").as_bytes(), "")).await?;
    }
    // Every message a pull returns counts towards consumeTps, including pulls that came back
    // short because dispatch had not indexed all 3 yet.
    let returned = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pulled = eventually("3 messages pulled", || {
        let (client, addr, returned) = (client.clone(), addr.clone(), returned.clone());
        async move {
            let header = pull_header("sg", "StatT", 0, 0, PULL_FLAG_SUBSCRIPTION);
            let response = client.invoke(&addr, pull_request(&header), RPC).await?;
            if response.code != i32::from(ResponseCode::Success) {
                return Ok(None);
            }
            let got = records(&response)?;
            returned.fetch_add(got.len(), std::sync::atomic::Ordering::SeqCst);
            Ok(Some(got).filter(|r| r.len() == 3))
        }
    })
    .await?;
    assert_eq!(pulled.len(), 3);
    let commit = UpdateConsumerOffsetRequestHeader {
        consumer_group: "sg".to_owned(),
        topic: "StatT".to_owned(),
        queue_id: 0,
        commit_offset: 1,
    };
    invoke_expect(
        &client,
        &addr,
        request(RequestCode::UpdateConsumerOffset, &commit),
        ResponseCode::Success,
    )
    .await?;

    let stats_request = request(
        RequestCode::GetConsumeStats,
        &GetConsumeStatsRequestHeader {
            consumer_group: "sg".to_owned(),
            topic: None,
            topic_list: None,
        },
    );
    let stats = eventually("lag of 2", || {
        let (client, addr, stats_request) = (client.clone(), addr.clone(), stats_request.clone());
        async move {
            let response = invoke_expect(&client, &addr, stats_request, ResponseCode::Success).await?;
            let text = response.body.to_bytes();
            assert!(text.starts_with(b"{\"consumeTps\""), "fastjson form expected");
            let stats: ConsumeStats = decode_body(&text)?;
            Ok((stats.total_diff() == 2).then_some(stats))
        }
    })
    .await?;
    let queue0 = stats
        .offset_table
        .iter()
        .find(|(q, _)| q.queue_id == 0)
        .map(|(_, o)| o.clone());
    let queue0 = queue0.expect("queue 0 reported");
    assert_eq!((queue0.broker_offset, queue0.consumer_offset), (3, 1));
    assert!(queue0.last_timestamp > 0);
    assert_eq!(stats.offset_table.len(), 4);
    // The messages pulled within the last minute / 60 s.
    let expected = returned.load(std::sync::atomic::Ordering::SeqCst) as f64 / 60.0;
    assert!(
        expected >= 0.05 && (stats.consume_tps - expected).abs() < 1e-9,
        "consumeTps {} expected {expected}",
        stats.consume_tps
    );

    let topic_stats = invoke_expect(
        &client,
        &addr,
        request(
            RequestCode::GetTopicStatsInfo,
            &GetTopicStatsInfoRequestHeader {
                topic: "StatT".to_owned(),
            },
        ),
        ResponseCode::Success,
    )
    .await?;
    let topic_stats: TopicStatsTable = decode_body(&topic_stats.body.to_bytes())?;
    let (_, queue0) = topic_stats
        .offset_table
        .iter()
        .find(|(q, _)| q.queue_id == 0)
        .expect("queue 0");
    assert_eq!((queue0.min_offset, queue0.max_offset), (0, 3));

    let runtime = invoke_expect(
        &client,
        &addr,
        RemotingCommand::request(RequestCode::GetBrokerRuntimeInfo),
        ResponseCode::Success,
    )
    .await?;
    let runtime: KvTable = decode_body(&runtime.body.to_bytes())?;
    assert_eq!(runtime.table["brokerVersion"], "475");
    assert_eq!(runtime.table["msgPutTotalTodayNow"], "3");
    // The flush counters: totals that never exceed what was written.
    let number = |key: &str| -> anyhow::Result<u64> {
        let v = runtime.table.get(key).ok_or_else(|| anyhow::anyhow!("{key} missing"))?;
        Ok(v.parse()?)
    };
    assert!(number("commitLogSyncBytes")? <= number("commitLogMaxOffset")?);
    for key in [
        "commitLogSyncCount",
        "commitLogSyncTimeMicros",
        "commitLogCommitTimeMicros",
    ] {
        number(key)?;
    }
    broker.stop().await
}

// Goal: QUERY_MESSAGE finds messages by KEYS and by UNIQ_KEY through the index, and answers
// QUERY_NOT_FOUND otherwise. Method: send keyed messages, query until indexed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_message_finds_by_key_and_unique_key() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = broker.addr_text.clone();
    send_ok(
        &client,
        &addr,
        send_v2(
            "KeyT",
            0,
            b"a",
            &props(&[("KEYS", "order-42 other"), ("UNIQ_KEY", "UK1")]),
        ),
    )
    .await?;
    send_ok(
        &client,
        &addr,
        send_v2("KeyT", 0, b"b", &props(&[("KEYS", "order-43")])),
    )
    .await?;

    for (key, unique) in [("order-42", false), ("UK1", true)] {
        let header = QueryMessageRequestHeader {
            topic: "KeyT".to_owned(),
            key: key.to_owned(),
            max_num: 32,
            begin_timestamp: 0,
            end_timestamp: i64::MAX,
            unique_key_query: unique.then_some(true),
        };
        let found = eventually("indexed message", || {
            let (client, addr, header) = (client.clone(), addr.clone(), header.clone());
            async move {
                let response = client
                    .invoke(&addr, request(RequestCode::QueryMessage, &header), RPC)
                    .await?;
                if response.code != ResponseCode::Success.as_i32() {
                    return Ok(None);
                }
                response.decode_header::<QueryMessageResponseHeader>()?;
                Ok(Some(records(&response)?))
            }
        })
        .await?;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].body.as_ref(), b"a");
    }
    let missing = QueryMessageRequestHeader {
        topic: "KeyT".to_owned(),
        key: "nope".to_owned(),
        max_num: 32,
        begin_timestamp: 0,
        end_timestamp: i64::MAX,
        unique_key_query: None,
    };
    invoke_expect(
        &client,
        &addr,
        request(RequestCode::QueryMessage, &missing),
        ResponseCode::QueryNotFound,
    )
    .await?;
    broker.stop().await
}

// Goal: subscription group admin round trip, and the connection lists of online clients.
// Method: create / get / delete a group; heartbeat, then list consumer and producer connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_connection_lists_are_administered() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;
    let mut group = SubscriptionGroupConfig::new("AdminGroup");
    group.retry_max_times = 5;
    invoke_expect(
        &client,
        addr,
        RemotingCommand::request(RequestCode::UpdateAndCreateSubscriptiongroup).with_body(encode_body(&group)),
        ResponseCode::Success,
    )
    .await?;
    let get = GetSubscriptionGroupConfigRequestHeader {
        group: "AdminGroup".to_owned(),
    };
    let got = invoke_expect(
        &client,
        addr,
        request(RequestCode::GetSubscriptiongroupConfig, &get),
        ResponseCode::Success,
    )
    .await?;
    let got: SubscriptionGroupConfig = decode_body(&got.body.to_bytes())?;
    assert_eq!(got.retry_max_times, 5);
    let delete = DeleteSubscriptionGroupRequestHeader {
        group_name: "AdminGroup".to_owned(),
        clean_offset: Some(true),
    };
    invoke_expect(
        &client,
        addr,
        request(RequestCode::DeleteSubscriptiongroup, &delete),
        ResponseCode::Success,
    )
    .await?;
    invoke_expect(
        &client,
        addr,
        request(RequestCode::GetSubscriptiongroupConfig, &get),
        ResponseCode::SubscriptionGroupNotExist,
    )
    .await?;

    invoke_expect(
        &client,
        addr,
        heartbeat("cid-1", "online", &[("T", "*")]),
        ResponseCode::Success,
    )
    .await?;
    let consumers = invoke_expect(
        &client,
        addr,
        request(
            RequestCode::GetConsumerConnectionList,
            &GetConsumerConnectionListRequestHeader {
                consumer_group: "online".to_owned(),
            },
        ),
        ResponseCode::Success,
    )
    .await?;
    let consumers: ConsumerConnection = decode_body(&consumers.body.to_bytes())?;
    assert_eq!(consumers.connection_set.len(), 1);
    assert_eq!(consumers.connection_set[0].client_id, "cid-1");
    assert!(consumers.subscription_table.contains_key("T"));
    let producers = invoke_expect(
        &client,
        addr,
        request(
            RequestCode::GetProducerConnectionList,
            &GetProducerConnectionListRequestHeader {
                producer_group: "pg".to_owned(),
            },
        ),
        ResponseCode::Success,
    )
    .await?;
    let producers: ProducerConnection = decode_body(&producers.body.to_bytes())?;
    assert_eq!(producers.connection_set.len(), 1);
    invoke_expect(
        &client,
        addr,
        request(
            RequestCode::GetConsumerConnectionList,
            &GetConsumerConnectionListRequestHeader {
                consumer_group: "offline".to_owned(),
            },
        ),
        ResponseCode::ConsumerNotOnline,
    )
    .await?;
    broker.stop().await
}

// Goal: GET_BROKER_CONFIG lists RocketMQ keys; UPDATE_BROKER_CONFIG applies runtime keys at
// once, writes them back into the config file in place and refuses identity keys. Method: read,
// make the broker read-only, send, restore, check the file after each step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_config_is_read_and_updated_at_runtime() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("broker.conf");
    std::fs::write(
        &conf,
        "# operator's file
brokerName=broker-a
brokerPermission=6
",
    )?;
    let config = BrokerConfig {
        broker_config_path: conf.display().to_string(),
        ..broker_config()
    };
    let broker = start_broker(dir.path(), config).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;
    let got = invoke_expect(
        &client,
        addr,
        RemotingCommand::request(RequestCode::GetBrokerConfig),
        ResponseCode::Success,
    )
    .await?;
    let text = String::from_utf8(got.body.to_bytes().to_vec())?;
    assert!(text.contains("brokerName=broker-a\n"), "{text}");
    assert!(text.contains("flushDiskType=ASYNC_FLUSH\n"), "{text}");
    assert!(got.ext_field("version").is_some());

    let update =
        |text: &str| RemotingCommand::request(RequestCode::UpdateBrokerConfig).with_body(text.as_bytes().to_vec());
    invoke_expect(&client, addr, update("brokerPermission=4"), ResponseCode::Success).await?;
    assert_eq!(
        std::fs::read_to_string(&conf)?,
        "# operator's file\nbrokerName=broker-a\nbrokerPermission=4\n"
    );
    invoke_expect(
        &client,
        addr,
        send_v2("ReadOnly", 0, b"x", ""),
        ResponseCode::NoPermission,
    )
    .await?;
    invoke_expect(
        &client,
        addr,
        update("brokerPermission=6\nlongPollingEnable=false"),
        ResponseCode::Success,
    )
    .await?;
    send_ok(&client, addr, send_v2("ReadOnly", 0, b"x", "")).await?;
    assert_eq!(
        std::fs::read_to_string(&conf)?,
        "# operator's file\nbrokerName=broker-a\nbrokerPermission=6\nlongPollingEnable=false\n"
    );
    invoke_expect(&client, addr, update("brokerName=other"), ResponseCode::NoPermission).await?;
    broker.stop().await
}

// Goal: a config change that cannot be written back is refused and changes nothing. Method:
// point brokerConfigPath into a missing directory, update, check the response and the config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_config_update_that_cannot_be_persisted_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = BrokerConfig {
        broker_config_path: dir.path().join("missing").join("broker.conf").display().to_string(),
        ..broker_config()
    };
    let broker = start_broker(dir.path(), config).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;
    let update = RemotingCommand::request(RequestCode::UpdateBrokerConfig).with_body(b"brokerPermission=4".to_vec());
    let refused = invoke_expect(&client, addr, update, ResponseCode::SystemError).await?;
    assert!(
        refused.remark.as_deref().unwrap_or("").contains("not applied"),
        "{:?}",
        refused.remark
    );
    send_ok(&client, addr, send_v2("StillWritable", 0, b"x", "")).await?;
    broker.stop().await
}
