//! PullConsumer against fake name server + broker: queue discovery, pull statuses, long
//! polling, queue offsets and consumer offsets.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use ferromq_client::fake::FakeCluster;
use ferromq_client::{Message, MessageQueue, Producer, PullConsumer, PullOptions, PullStatus};
use ferromq_protocol::header::pull_message::{PULL_FLAG_COMMIT_OFFSET, PULL_FLAG_SUBSCRIPTION, PULL_FLAG_SUSPEND};

async fn fill(cluster: &FakeCluster, queue: &MessageQueue, count: usize) -> anyhow::Result<()> {
    let producer = Producer::start(config(&cluster.namesrv_addr())?, "pg")?;
    for i in 0..count {
        producer
            .send_to_queue(Message::new(&queue.topic, Bytes::from(format!("m{i}"))), queue)
            .await?;
    }
    producer.shutdown().await;
    Ok(())
}

// Goal: the consumer lists every readable queue of the topic across brokers.
// Method: two brokers with 4 queues each.
#[tokio::test]
async fn queues_of_a_topic_come_from_the_route() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a", "broker-b"]).await?;
    cluster.add_topic("TopicA", 4);
    let consumer = PullConsumer::start(config(&cluster.namesrv_addr())?, "cg")?;
    let queues = consumer.fetch_queues("TopicA").await?;
    assert_eq!(queues.len(), 8);
    assert_eq!(queues[0], MessageQueue::new("TopicA", "broker-a", 0));
    assert_eq!(queues[7], MessageQueue::new("TopicA", "broker-b", 3));
    assert!(consumer.fetch_queues("Missing").await.is_err());
    Ok(())
}

// Goal: FOUND returns the messages in order with nextBeginOffset after them; at the end the
// status is NO_NEW_MSG; past the end OFFSET_ILLEGAL with the corrected offset; queue offsets
// match. Method: 10 messages in one queue, pulls at 0 (max 4), 4, 10, 11.
#[tokio::test]
async fn pull_statuses_follow_the_offset_table() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    cluster.add_topic("TopicA", 2);
    let queue = MessageQueue::new("TopicA", "broker-a", 1);
    fill(&cluster, &queue, 10).await?;
    let consumer = PullConsumer::start(config(&cluster.namesrv_addr())?, "cg")?;

    let first = consumer.pull(&queue, 0, 4).await?;
    assert_eq!(first.status, PullStatus::Found);
    assert_eq!(first.next_begin_offset, 4);
    assert_eq!(first.max_offset, 10);
    let bodies: Vec<Bytes> = first.messages.iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies, ["m0", "m1", "m2", "m3"].map(Bytes::from).to_vec());
    assert!(first.messages.iter().all(|m| m.queue_id == 1 && m.topic == "TopicA"));

    let rest = consumer.pull(&queue, 4, 32).await?;
    assert_eq!(rest.messages.len(), 6);
    assert_eq!(rest.messages[5].queue_offset, 9);

    let end = consumer.pull(&queue, 10, 32).await?;
    assert_eq!(end.status, PullStatus::NoNewMsg);
    assert_eq!(end.next_begin_offset, 10);

    let past = consumer.pull(&queue, 11, 32).await?;
    assert_eq!(past.status, PullStatus::OffsetIllegal);
    assert_eq!(past.next_begin_offset, 10);

    assert_eq!(consumer.max_offset(&queue).await?, 10);
    assert_eq!(consumer.min_offset(&queue).await?, 0);
    let empty = MessageQueue::new("TopicA", "broker-a", 0);
    assert_eq!(consumer.max_offset(&empty).await?, 0);
    assert_eq!(consumer.pull(&empty, 0, 32).await?.status, PullStatus::NoNewMsg);

    // The request carried SUBSCRIPTION only (no long poll, no commit).
    let last = cluster.brokers[0]
        .state
        .pulls
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("pulled");
    assert_eq!(last.sys_flag, PULL_FLAG_SUBSCRIPTION);
    assert_eq!(last.subscription.as_deref(), Some("*"));
    assert_eq!(last.consumer_group, "cg");
    Ok(())
}

// Goal: a long-polled pull is held by the broker and answered FOUND when a message arrives.
// Method: pull at the end with a 10 s suspend in a task, wait until the broker holds it, send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polled_pull_returns_when_a_message_arrives() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    cluster.add_topic("TopicA", 1);
    let queue = MessageQueue::new("TopicA", "broker-a", 0);
    let consumer = PullConsumer::start(config(&cluster.namesrv_addr())?, "cg")?;
    let options = PullOptions {
        suspend: Some(Duration::from_secs(10)),
        commit_offset: Some(0),
        ..Default::default()
    };
    let pull = {
        let (consumer, queue) = (consumer.clone(), queue.clone());
        tokio::spawn(async move { consumer.pull_with(&queue, 0, 32, &options).await })
    };
    let state = &cluster.brokers[0].state;
    wait_until("the broker to hold the pull", || {
        !state.pulls.lock().unwrap().is_empty()
    })
    .await?;
    let header = state.pulls.lock().unwrap()[0].clone();
    assert_eq!(
        header.sys_flag,
        PULL_FLAG_SUBSCRIPTION | PULL_FLAG_SUSPEND | PULL_FLAG_COMMIT_OFFSET
    );
    assert_eq!(header.suspend_timeout_millis, 10_000);
    assert!(!pull.is_finished());
    fill(&cluster, &queue, 1).await?;
    let result = tokio::time::timeout(WAIT, pull).await???;
    assert_eq!(result.status, PullStatus::Found);
    assert_eq!(result.messages.len(), 1);
    assert_eq!(result.next_begin_offset, 1);
    Ok(())
}

// Goal: consumer offsets: unknown -> None (QUERY_NOT_FOUND), update then query returns it,
// a oneway update is stored too. Method: round trips against the fake broker.
#[tokio::test]
async fn consumer_offsets_round_trip() -> anyhow::Result<()> {
    let cluster = FakeCluster::start(&["broker-a"]).await?;
    cluster.add_topic("TopicA", 2);
    let queue = MessageQueue::new("TopicA", "broker-a", 1);
    let consumer = PullConsumer::start(config(&cluster.namesrv_addr())?, "cg")?;
    assert_eq!(consumer.query_offset(&queue).await?, None);
    consumer.update_offset(&queue, 5).await?;
    assert_eq!(consumer.query_offset(&queue).await?, Some(5));
    consumer.update_offset_oneway(&queue, 7).await?;
    let state = &cluster.brokers[0].state;
    let key = ("cg".to_owned(), "TopicA".to_owned(), 1);
    wait_until("the oneway offset", || {
        state.offsets.lock().unwrap().get(&key) == Some(&7)
    })
    .await?;
    assert_eq!(consumer.query_offset(&queue).await?, Some(7));
    Ok(())
}
