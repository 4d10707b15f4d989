//! Producer against fake name server + brokers: routes, template fallback, send results,
//! retries, batch, async, oneway, heartbeat and unregister.

mod common;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use common::*;
use ferromq_client::fake::FakeCluster;
use ferromq_client::{ClientError, Message, Producer, SendResult, SendStatus};
use ferromq_protocol::body::{BrokerData, QueueData, TopicRouteData};
use ferromq_protocol::message::{decode_record, parse_offset_msg_id, property_value};
use ferromq_protocol::ResponseCode;

fn message(topic: &str, i: usize) -> Message {
    Message::new(topic, Bytes::from(format!("body-{i}"))).with_tags("TagA")
}

// Goal: a sync send returns SEND_OK with the client's UNIQ_KEY as msg_id, the broker's offset
// id, and the queue/offset the broker stored; sends round-robin over both brokers' queues.
// Method: two brokers, 2 queues each; 8 sends; compare results with the stored records.
#[tokio::test]
async fn sync_sends_round_robin_and_report_what_the_broker_stored() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a", "broker-b"]).await?;
    cluster.add_topic("TopicA", 2);
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
    let mut per_queue = std::collections::BTreeMap::new();
    for i in 0..8 {
        let result = producer.send(message("TopicA", i)).await?;
        assert_eq!(result.status, SendStatus::SendOk);
        assert_eq!(result.msg_id.len(), 32);
        let broker = cluster
            .brokers
            .iter()
            .find(|b| b.state.name == result.queue.broker_name)
            .expect("result names a known broker");
        let offset_id = parse_offset_msg_id(&result.offset_msg_id)?;
        assert_eq!(offset_id.store_host, broker.addr);
        *per_queue.entry(result.queue.clone()).or_insert(0) += 1;
        // The stored record carries the same UNIQ_KEY and the tags.
        let sent = broker.state.last_send.lock().unwrap().clone().expect("a send arrived");
        let props = sent.ext_field("i").unwrap_or_default();
        assert_eq!(property_value(props, "UNIQ_KEY"), Some(result.msg_id.as_str()));
        assert_eq!(property_value(props, "TAGS"), Some("TagA"));
        assert_eq!(sent.ext_field("a"), Some("pg"));
        assert_eq!(result.queue_offset as usize, per_queue[&result.queue] - 1);
    }
    assert_eq!(per_queue.len(), 4, "every queue got messages: {per_queue:?}");
    assert!(per_queue.values().all(|n| *n == 2));
    assert_eq!(cluster.stored(), 8);
    producer.shutdown().await;
    Ok(())
}

// Goal: an unknown topic is sent through the TBW102 template route cut to 4 queues
// (reference 8 step 1), with defaultTopic/defaultTopicQueueNums in the header; without a
// template the send fails with TopicNotExist. Method: template with 8 queues and perm 7.
#[tokio::test]
async fn unknown_topic_falls_back_to_the_template_route() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
    let error = producer.send(message("NewTopic", 0)).await.unwrap_err();
    assert!(
        matches!(error, ClientError::TopicNotExist { ref topic } if topic == "NewTopic"),
        "{error}"
    );

    cluster.add_topic_with_perm("TBW102", 8, 7);
    let mut queue_ids = std::collections::BTreeSet::new();
    for i in 0..8 {
        let result = producer.send(message("NewTopic", i)).await?;
        queue_ids.insert(result.queue.queue_id);
    }
    assert_eq!(queue_ids, (0..4).collect());
    let sent = cluster.brokers[0]
        .state
        .last_send
        .lock()
        .unwrap()
        .clone()
        .expect("sent");
    assert_eq!(sent.ext_field("b"), Some("NewTopic"));
    assert_eq!(sent.ext_field("c"), Some("TBW102"));
    assert_eq!(sent.ext_field("d"), Some("4"));
    let route = producer.instance().routes().get("NewTopic").expect("cached");
    assert!(route.publish.from_template);
    Ok(())
}

// Goal: SYSTEM_BUSY from one broker is retried on the other broker's queue, within the same
// send; the result names the broker that stored it. Method: the first queue selected is on
// broker-a (round robin starts at 0 for the first route); broker-a refuses one send.
#[tokio::test]
async fn system_busy_is_retried_on_another_broker() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a", "broker-b"]).await?;
    cluster.add_topic("TopicA", 1);
    let (a, b) = (&cluster.brokers[0].state, &cluster.brokers[1].state);
    a.refuse_next_sends(1, ResponseCode::SystemBusy);
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
    let result = producer.send(message("TopicA", 0)).await?;
    assert_eq!(result.queue.broker_name, "broker-b");
    assert_eq!(a.refused_sends.load(Ordering::Relaxed), 1);
    assert_eq!(a.stored.load(Ordering::Relaxed), 0);
    assert_eq!(b.stored.load(Ordering::Relaxed), 1);
    // The retry carried the same UNIQ_KEY.
    let sent = b.last_send.lock().unwrap().clone().expect("sent");
    assert_eq!(
        property_value(sent.ext_field("i").unwrap_or_default(), "UNIQ_KEY"),
        Some(result.msg_id.as_str())
    );
    Ok(())
}

// Goal: a non-retry code (MESSAGE_ILLEGAL) fails at once; when every attempt gets a retry code
// the send fails after 1 + 2 attempts with SendFailed carrying the last broker code; the same
// for sync sends and for callback sends (whose first attempt, with the route and connection
// at hand after one send, is answered on the connection's reader). Method: one broker per
// way of sending, warmed up by one sync send; inject refusals, count requests.
#[tokio::test]
async fn retries_stop_at_non_retry_codes_and_after_the_retry_budget() -> anyhow::Result<()> {
    for via in [Via::Sync, Via::Callback] {
        let cluster = FakeCluster::start(&["broker-a"]).await?;
        cluster.add_topic("TopicA", 2);
        let state = &cluster.brokers[0].state;
        let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
        producer.send(message("TopicA", 0)).await?;

        state.refuse_next_sends(1, ResponseCode::MessageIllegal);
        let error = via.send(&producer, message("TopicA", 1)).await?.unwrap_err();
        assert_eq!(error.response_code(), Some(ResponseCode::MessageIllegal), "{via:?}");
        assert_eq!(state.send_requests.load(Ordering::Relaxed), 2, "{via:?}");

        state.refuse_next_sends(10, ResponseCode::ServiceNotAvailable);
        match via.send(&producer, message("TopicA", 2)).await? {
            Err(ClientError::SendFailed {
                attempts,
                brokers,
                last,
                ..
            }) => {
                assert_eq!(attempts, 3);
                assert_eq!(brokers, vec!["broker-a"; 3]);
                assert_eq!(last.response_code(), Some(ResponseCode::ServiceNotAvailable));
            }
            other => panic!("{via:?}: expected SendFailed, got {other:?}"),
        }
        assert_eq!(state.send_requests.load(Ordering::Relaxed), 5, "{via:?}");
        assert_eq!(state.stored.load(Ordering::Relaxed), 1, "{via:?}");
    }
    Ok(())
}

// Goal: a batch is one SEND_BATCH_MESSAGE; msg_id joins the inner UNIQ_KEYs, offset_msg_id
// the broker's ids, queue_offset is the first; every inner message is stored with its key.
// Method: batch of 5 to a single queue, decode the stored records.
#[tokio::test]
async fn batch_send_reports_comma_joined_ids_and_stores_every_message() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    cluster.add_topic("TopicA", 1);
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
    producer.send(message("TopicA", 99)).await?;
    let batch: Vec<Message> = (0..5).map(|i| message("TopicA", i)).collect();
    let result = producer.send_batch(batch).await?;
    let ids: Vec<&str> = result.msg_id.split(',').collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(result.offset_msg_id.split(',').count(), 5);
    assert_eq!(result.queue_offset, 1);
    let state = &cluster.brokers[0].state;
    assert_eq!(state.send_requests.load(Ordering::Relaxed), 2);
    assert_eq!(state.queue_len("TopicA", 0), 6);

    let consumer = ferromq_client::PullConsumer::start(config(&cluster.namesrv_addr())?, "cg")?;
    let queue = ferromq_client::MessageQueue::new("TopicA", "broker-a", 0);
    let pulled = consumer.pull(&queue, 1, 32).await?;
    let stored_ids: Vec<String> = pulled
        .messages
        .iter()
        .map(|m| m.properties().get("UNIQ_KEY").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(stored_ids, ids);
    assert_eq!(pulled.messages[4].body, Bytes::from("body-4"));
    Ok(())
}

// Goal: many async sends are in flight at once over one connection and all complete.
// Method: start 500 send_async futures before awaiting any; count stored messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_sends_complete_with_many_in_flight() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    cluster.add_topic("TopicA", 4);
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
    let mut handles = Vec::new();
    for i in 0..500 {
        handles.push(producer.send_async(message("TopicA", i)).await?);
    }
    let mut ids = std::collections::HashSet::new();
    for handle in handles {
        ids.insert(handle.await?.msg_id);
    }
    assert_eq!(ids.len(), 500, "unique keys");
    assert_eq!(cluster.stored(), 500);
    Ok(())
}

// Goal: oneway sends get no response but are stored. Method: 20 oneway sends, wait for the
// broker's count.
#[tokio::test]
async fn oneway_sends_reach_the_broker() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    cluster.add_topic("TopicA", 2);
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
    for i in 0..20 {
        producer.send_oneway(message("TopicA", i)).await?;
    }
    wait_until("20 stored messages", || cluster.stored() == 20).await?;
    let sent = cluster.brokers[0]
        .state
        .last_send
        .lock()
        .unwrap()
        .clone()
        .expect("sent");
    assert!(sent.is_oneway());
    Ok(())
}

// Goal: HEART_BEAT carries the client id and the producer group, and shutdown sends
// UNREGISTER_CLIENT and makes later sends fail. Method: explicit heartbeat after one send.
#[tokio::test]
async fn heartbeat_names_the_group_and_shutdown_unregisters() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    cluster.add_topic("TopicA", 1);
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg-heartbeat")?;
    producer.send(message("TopicA", 0)).await?;
    assert_eq!(producer.heartbeat().await, 1);
    let state = &cluster.brokers[0].state;
    {
        let heartbeats = state.heartbeats.lock().unwrap();
        let last = heartbeats.last().expect("a heartbeat");
        assert_eq!(last.client_id, producer.instance().client_id());
        assert_eq!(last.producer_data_set[0].group_name, "pg-heartbeat");
        assert!(last.consumer_data_set.is_empty());
    }
    producer.shutdown().await;
    assert_eq!(state.unregisters.load(Ordering::Relaxed), 1);
    assert!(matches!(
        producer.send(message("TopicA", 1)).await,
        Err(ClientError::Shutdown)
    ));
    Ok(())
}

// Goal: an unreachable name server is skipped, in either position of the list.
// Method: a closed port next to the fake name server, both orders.
#[tokio::test]
async fn unreachable_name_server_is_skipped() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    cluster.add_topic("TopicA", 1);
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.to_string()
    };
    for list in [
        format!("{dead};{}", cluster.namesrv_addr()),
        format!("{};{dead}", cluster.namesrv_addr()),
    ] {
        let producer = Producer::start(config(&list)?, "pg")?;
        let result = producer.send(message("TopicA", 0)).await?;
        assert_eq!(result.status, SendStatus::SendOk);
    }
    Ok(())
}

// Goal: a route whose only broker has no master cannot be produced to, and the producer does
// not fall back to the template for a topic that exists. Method: hand-made route with a
// slave-only broker.
#[tokio::test]
async fn queues_without_a_master_are_not_produced_to() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    let route = TopicRouteData {
        broker_datas: vec![BrokerData {
            broker_addrs: [(1, cluster.brokers[0].addr.to_string())].into(),
            broker_name: "broker-a".into(),
            cluster: "c".into(),
            ..Default::default()
        }],
        queue_datas: vec![QueueData {
            broker_name: "broker-a".into(),
            perm: 6,
            read_queue_nums: 2,
            write_queue_nums: 2,
            topic_sys_flag: 0,
        }],
        ..Default::default()
    };
    cluster.namesrv.set_route("SlaveOnly", route);
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
    // The topic exists but has no writable master queue: no template fallback, even when a
    // template exists (Java's isHaveTopicRouterInfo), and nothing is sent.
    cluster.add_topic_with_perm("TBW102", 8, 7);
    let error = producer.send(message("SlaveOnly", 0)).await.unwrap_err();
    assert!(
        matches!(error, ClientError::NoQueue { what: "writable", .. }),
        "{error}"
    );
    assert_eq!(cluster.brokers[0].state.send_requests.load(Ordering::Relaxed), 0);
    Ok(())
}

// Goal: the stored record decodes and its born timestamp is the client's clock.
// Method: send, pull the raw record bytes through the consumer, compare to now.
#[tokio::test]
async fn born_timestamp_is_set_by_the_client() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    cluster.add_topic("TopicA", 1);
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
    let before = now_ms();
    producer.send(message("TopicA", 0)).await?;
    let consumer = ferromq_client::PullConsumer::start(config(&cluster.namesrv_addr())?, "cg")?;
    let pulled = consumer
        .pull(&ferromq_client::MessageQueue::new("TopicA", "broker-a", 0), 0, 1)
        .await?;
    let record = &pulled.messages[0];
    assert!(record.born_timestamp >= before && record.born_timestamp <= now_ms());
    // Round trip of the record codec on what the client decoded.
    let mut bytes = bytes::BytesMut::new();
    ferromq_protocol::message::encode_record(record, 1 << 20, &mut bytes)?;
    assert_eq!(&decode_record(&bytes.freeze(), true)?, record);
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How a test sends one message.
#[derive(Debug, Clone, Copy)]
enum Via {
    Sync,
    Callback,
}

impl Via {
    async fn send(self, producer: &Producer, message: Message) -> anyhow::Result<Result<SendResult, ClientError>> {
        match self {
            Via::Sync => Ok(producer.send(message).await),
            Via::Callback => send_called_back(producer, message).await,
        }
    }
}

/// A callback send's outcome, once its callback ran.
async fn send_called_back(producer: &Producer, message: Message) -> anyhow::Result<Result<SendResult, ClientError>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    producer
        .send_with_callback(message, move |outcome| {
            let _ = tx.send(outcome);
        })
        .await?;
    Ok(rx.await?)
}

// Goal: callback sends work cold (no route yet; a route but no connection to the chosen
// broker) and hot (route and connection at hand: the first attempt's response handled by
// the connection's reader), and a hot send refused with SYSTEM_BUSY is retried on the other
// broker with the same UNIQ_KEY, as a sync send is. Method: two brokers with one queue each;
// the round robin starts on broker-a; three callback sends, broker-a refusing the third.
#[tokio::test]
async fn callback_sends_work_cold_and_hot_and_retry_on_another_broker() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a", "broker-b"]).await?;
    cluster.add_topic("TopicA", 1);
    let (a, b) = (&cluster.brokers[0].state, &cluster.brokers[1].state);
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
    let first = send_called_back(&producer, message("TopicA", 0)).await??;
    let second = send_called_back(&producer, message("TopicA", 1)).await??;
    assert_eq!(first.queue.broker_name, "broker-a");
    assert_eq!(second.queue.broker_name, "broker-b");
    assert_eq!(first.status, SendStatus::SendOk);
    a.refuse_next_sends(1, ResponseCode::SystemBusy);
    let third = send_called_back(&producer, message("TopicA", 2)).await??;
    assert_eq!(third.queue.broker_name, "broker-b");
    assert_eq!(a.refused_sends.load(Ordering::Relaxed), 1);
    assert_eq!(a.stored.load(Ordering::Relaxed), 1);
    assert_eq!(b.stored.load(Ordering::Relaxed), 2);
    let sent = b.last_send.lock().unwrap().clone().expect("sent");
    assert_eq!(
        property_value(sent.ext_field("i").unwrap_or_default(), "UNIQ_KEY"),
        Some(third.msg_id.as_str())
    );
    let stored = [&first, &second, &third].map(|r| r.msg_id.clone());
    assert!(stored[0] != stored[1] && stored[1] != stored[2]);
    Ok(())
}

// Goal: an invalid message is refused by the callback-send call itself and its callback
// never runs. Method: an empty body.
#[tokio::test]
async fn invalid_callback_send_is_refused_by_the_call() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    cluster.add_topic("TopicA", 2);
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
    let called = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&called);
    let refused = producer
        .send_with_callback(Message::new("TopicA", Bytes::new()), move |_| {
            flag.store(true, Ordering::Relaxed);
        })
        .await;
    assert!(
        matches!(refused, Err(ClientError::InvalidMessage { .. })),
        "{refused:?}"
    );
    assert!(!called.load(Ordering::Relaxed));
    assert_eq!(cluster.brokers[0].state.send_requests.load(Ordering::Relaxed), 0);
    Ok(())
}
