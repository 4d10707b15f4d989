//! PULL path integration tests: status mapping, tag filtering, subscriptions, long polling.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ferromq_protocol::body::{decode_body, KvTable};
use ferromq_protocol::header::consumer_offset::{
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader,
};
use ferromq_protocol::header::pull_message::{
    PullMessageResponseHeader, PULL_FLAG_COMMIT_OFFSET, PULL_FLAG_SUBSCRIPTION, PULL_FLAG_SUSPEND,
};
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::RemotingClient;

async fn wait_max_offset(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    queue_id: i32,
    want: i64,
) -> anyhow::Result<()> {
    eventually("queue max offset", || async {
        let header = GetMaxOffsetRequestHeader {
            topic: topic.to_owned(),
            queue_id,
            committed: None,
        };
        let response = invoke_expect(
            client,
            addr,
            request(RequestCode::GetMaxOffset, &header),
            ResponseCode::Success,
        )
        .await?;
        Ok((response.decode_header::<GetMaxOffsetResponseHeader>()?.offset >= want).then_some(()))
    })
    .await
}

async fn send_tagged(client: &RemotingClient, addr: &str, topic: &str, tags: &[&str]) -> anyhow::Result<()> {
    for (i, tag) in tags.iter().enumerate() {
        let body = format!("{topic}-{i}");
        send_ok(
            client,
            addr,
            send_v2(topic, 0, body.as_bytes(), &props(&[("TAGS", tag)])),
        )
        .await?;
    }
    wait_max_offset(client, addr, topic, 0, i64::try_from(tags.len())?).await
}

async fn pull(
    client: &RemotingClient,
    addr: &str,
    header: &ferromq_protocol::header::pull_message::PullMessageRequestHeader,
) -> anyhow::Result<(ResponseCode, PullMessageResponseHeader, RemotingCommand)> {
    let response = client
        .invoke(addr, pull_request(header), Duration::from_secs(30))
        .await?;
    let code = ResponseCode::from_i32(response.code);
    let header = if code == ResponseCode::Success
        || matches!(
            code,
            ResponseCode::PullNotFound | ResponseCode::PullOffsetMoved | ResponseCode::PullRetryImmediately
        ) {
        response.decode_header()?
    } else {
        PullMessageResponseHeader::default()
    };
    Ok((code, header, response))
}

// Goal: the store statuses map to RocketMQ pull codes and next offsets (reference 7.3 table).
// Method: 3 messages in queue 0; pull at 0, at max, beyond max; pull an empty queue at 0 and 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_statuses_map_to_rocketmq_codes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;
    send_tagged(&client, addr, "PullTopic", &["A", "B", "A"]).await?;

    let (code, header, response) = pull(
        &client,
        addr,
        &pull_header("g", "PullTopic", 0, 0, PULL_FLAG_SUBSCRIPTION),
    )
    .await?;
    assert_eq!(code, ResponseCode::Success);
    assert_eq!(
        (header.next_begin_offset, header.min_offset, header.max_offset),
        (3, 0, 3)
    );
    assert_eq!(header.suggest_which_broker_id, 0);
    let got = records(&response)?;
    assert_eq!(got.len(), 3);
    assert_eq!(got[1].body.as_ref(), b"PullTopic-1");
    assert_eq!(got[2].queue_offset, 2);
    assert_eq!(got[0].store_host, broker.addr);
    assert_eq!(got[0].properties().get("CLUSTER"), Some("DefaultCluster"));

    let (code, header, _) = pull(
        &client,
        addr,
        &pull_header("g", "PullTopic", 0, 3, PULL_FLAG_SUBSCRIPTION),
    )
    .await?;
    assert_eq!((code, header.next_begin_offset), (ResponseCode::PullNotFound, 3));
    let (code, header, _) = pull(
        &client,
        addr,
        &pull_header("g", "PullTopic", 0, 10, PULL_FLAG_SUBSCRIPTION),
    )
    .await?;
    assert_eq!((code, header.next_begin_offset), (ResponseCode::PullOffsetMoved, 0));
    let (code, header, _) = pull(
        &client,
        addr,
        &pull_header("g", "PullTopic", 1, 5, PULL_FLAG_SUBSCRIPTION),
    )
    .await?;
    assert_eq!((code, header.next_begin_offset), (ResponseCode::PullOffsetMoved, 0));
    let (code, _, _) = pull(
        &client,
        addr,
        &pull_header("g", "PullTopic", 1, 0, PULL_FLAG_SUBSCRIPTION),
    )
    .await?;
    assert_eq!(code, ResponseCode::PullNotFound);
    let (code, _, _) = pull(
        &client,
        addr,
        &pull_header("g", "PullTopic", 99, 0, PULL_FLAG_SUBSCRIPTION),
    )
    .await?;
    assert_eq!(code, ResponseCode::InvalidParameter);
    let (code, _, _) = pull(
        &client,
        addr,
        &pull_header("g", "NoSuchTopic", 0, 0, PULL_FLAG_SUBSCRIPTION),
    )
    .await?;
    assert_eq!(code, ResponseCode::TopicNotExist);
    broker.stop().await
}

// Goal: TAG filtering runs on ConsumeQueue tags codes. Method: tags A,B,A; subscribe "B" (one
// message) and "C" (none: PULL_RETRY_IMMEDIATELY past all three).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_filter_returns_matches_or_retry_immediately() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;
    send_tagged(&client, addr, "TagTopic", &["A", "B", "A"]).await?;

    let mut header = pull_header("g", "TagTopic", 0, 0, PULL_FLAG_SUBSCRIPTION);
    header.subscription = Some("B || X".to_owned());
    let (code, response_header, response) = pull(&client, addr, &header).await?;
    assert_eq!(code, ResponseCode::Success);
    let got = records(&response)?;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].properties().get("TAGS"), Some("B"));
    assert_eq!(response_header.next_begin_offset, 3);

    header.subscription = Some("C".to_owned());
    let (code, response_header, _) = pull(&client, addr, &header).await?;
    assert_eq!(
        (code, response_header.next_begin_offset),
        (ResponseCode::PullRetryImmediately, 3)
    );
    broker.stop().await
}

// Goal: without SUBSCRIPTION in the header, the heartbeat subscription is required and used.
// Method: pull before any heartbeat (SUBSCRIPTION_NOT_EXIST), heartbeat with tag A, pull again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_without_header_subscription_use_the_heartbeat_one() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;
    send_tagged(&client, addr, "HbTopic", &["A", "B"]).await?;

    let header = pull_header("hbgroup", "HbTopic", 0, 0, 0);
    let (code, _, _) = pull(&client, addr, &header).await?;
    assert_eq!(code, ResponseCode::SubscriptionNotExist);
    invoke_expect(
        &client,
        addr,
        heartbeat("c1", "hbgroup", &[("HbTopic", "A")]),
        ResponseCode::Success,
    )
    .await?;
    let (code, _, response) = pull(&client, addr, &header).await?;
    assert_eq!(code, ResponseCode::Success);
    assert_eq!(records(&response)?.len(), 1);
    let mut newer = header.clone();
    newer.sub_version = 2;
    let (code, _, _) = pull(&client, addr, &newer).await?;
    assert_eq!(code, ResponseCode::SubscriptionNotLatest);
    broker.stop().await
}

async fn held_pulls(client: &RemotingClient, addr: &str) -> anyhow::Result<usize> {
    let response = invoke_expect(
        client,
        addr,
        RemotingCommand::request(RequestCode::GetBrokerRuntimeInfo),
        ResponseCode::Success,
    )
    .await?;
    let table: KvTable = decode_body(&response.body.to_bytes())?;
    Ok(table
        .table
        .get("pullThreadPoolQueueSize")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

// Goal: a long-polled pull is answered as soon as a message arrives (arrival listener), well
// before the 5 s periodic re-check. Method: hold a pull at the max offset, wait until the
// broker reports it held, send, measure the time to the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_is_woken_by_a_send() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = broker.addr_text.clone();
    send_tagged(&client, &addr, "LpTopic", &["A"]).await?;

    let mut header = pull_header("g", "LpTopic", 0, 1, PULL_FLAG_SUBSCRIPTION | PULL_FLAG_SUSPEND);
    header.suspend_timeout_millis = 20_000;
    let pending = tokio::spawn({
        let client = client.clone();
        let addr = addr.clone();
        async move { pull(&client, &addr, &header).await }
    });
    eventually("pull held", || async {
        Ok((held_pulls(&client, &addr).await? == 1).then_some(()))
    })
    .await?;
    let sent = Instant::now();
    send_ok(&client, &addr, send_v2("LpTopic", 0, b"wake", "")).await?;
    let (code, response_header, response) = pending.await??;
    let waited = sent.elapsed();
    assert_eq!(code, ResponseCode::Success);
    assert_eq!(records(&response)?[0].body.as_ref(), b"wake");
    assert_eq!(response_header.next_begin_offset, 2);
    assert!(
        waited < Duration::from_secs(4),
        "woken after {waited:?}: not by the arrival"
    );
    broker.stop().await
}

// Goal: a held pull with nothing arriving is answered PULL_NOT_FOUND at its timeout. Method:
// suspend 300 ms on an idle queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_is_answered_on_timeout() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;
    send_tagged(&client, addr, "IdleTopic", &["A"]).await?;
    let mut header = pull_header("g", "IdleTopic", 0, 1, PULL_FLAG_SUBSCRIPTION | PULL_FLAG_SUSPEND);
    header.suspend_timeout_millis = 300;
    let started = Instant::now();
    let (code, response_header, _) = pull(&client, addr, &header).await?;
    assert_eq!(
        (code, response_header.next_begin_offset),
        (ResponseCode::PullNotFound, 1)
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "answered before the hold time"
    );
    assert_eq!(held_pulls(&client, addr).await?, 0);
    broker.stop().await
}

// Goal: COMMIT_OFFSET piggy-backed on a pull is stored. Method: pull with the flag and
// commitOffset 2, then QUERY_CONSUMER_OFFSET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_commit_offset_is_stored() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;
    send_tagged(&client, addr, "CommitTopic", &["A", "A", "A"]).await?;
    let mut header = pull_header(
        "cg",
        "CommitTopic",
        0,
        2,
        PULL_FLAG_SUBSCRIPTION | PULL_FLAG_COMMIT_OFFSET,
    );
    header.commit_offset = 2;
    let (code, _, _) = pull(&client, addr, &header).await?;
    assert_eq!(code, ResponseCode::Success);
    let query = QueryConsumerOffsetRequestHeader {
        consumer_group: "cg".to_owned(),
        topic: "CommitTopic".to_owned(),
        queue_id: 0,
        set_zero_if_not_found: Some(false),
    };
    let response = invoke_expect(
        &client,
        addr,
        request(RequestCode::QueryConsumerOffset, &query),
        ResponseCode::Success,
    )
    .await?;
    assert_eq!(response.decode_header::<QueryConsumerOffsetResponseHeader>()?.offset, 2);
    broker.stop().await
}
