//! Client management integration tests: heartbeats, consumer lists, NOTIFY_CONSUMER_IDS_CHANGED,
//! queue locks, send-back to retry / DLQ topics.

mod common;

use std::collections::BTreeSet;

use common::*;
use ferromq_protocol::body::{
    decode_body, encode_body, GetConsumerListByGroupResponseBody, LockBatchRequestBody, LockBatchResponseBody,
    MessageQueue, UnlockBatchRequestBody,
};
use ferromq_protocol::header::client::{GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader};
use ferromq_protocol::header::pull_message::PULL_FLAG_SUBSCRIPTION;
use ferromq_protocol::header::query_message::ViewMessageRequestHeader;
use ferromq_protocol::header::send_back::ConsumerSendMsgBackRequestHeader;
use ferromq_protocol::header::send_message::SendMessageResponseHeader;
use ferromq_protocol::message::parse_offset_msg_id;
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::RemotingClient;

async fn consumer_ids(client: &RemotingClient, addr: &str, group: &str) -> anyhow::Result<Vec<String>> {
    let header = GetConsumerListByGroupRequestHeader {
        consumer_group: group.to_owned(),
    };
    let response = client
        .invoke(addr, request(RequestCode::GetConsumerListByGroup, &header), RPC)
        .await?;
    if response.code != ResponseCode::Success.as_i32() {
        return Ok(Vec::new());
    }
    let body: GetConsumerListByGroupResponseBody = decode_body(&response.body.to_bytes())?;
    Ok(body.consumer_id_list)
}

// Goal: heartbeats register consumers, a joining member triggers NOTIFY_CONSUMER_IDS_CHANGED
// to the group, and leaving (unregister, then connection close) updates the list and notifies.
// Method: two clients in one group; watch the first client's notifications and the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_notify_the_group() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let addr = broker.addr_text.clone();
    let (first, mut first_notes) = client()?;
    let (second, _) = client()?;
    let (third, _) = client()?;

    invoke_expect(
        &first,
        &addr,
        heartbeat("c1", "grp", &[("T", "*")]),
        ResponseCode::Success,
    )
    .await?;
    let response = invoke_expect(
        &first,
        &addr,
        heartbeat("c1", "grp", &[("T", "*")]),
        ResponseCode::Success,
    )
    .await?;
    assert_eq!(response.version, 475);
    assert!(response.ext_field("IS_SUPPORT_HEART_BEAT_V2").is_none());
    assert_eq!(consumer_ids(&first, &addr, "grp").await?, vec!["c1".to_owned()]);

    invoke_expect(
        &second,
        &addr,
        heartbeat("c2", "grp", &[("T", "*")]),
        ResponseCode::Success,
    )
    .await?;
    invoke_expect(
        &third,
        &addr,
        heartbeat("c3", "grp", &[("T", "*")]),
        ResponseCode::Success,
    )
    .await?;
    // The first client hears about its own join, then c2's and c3's.
    for _ in 0..3 {
        let note = tokio::time::timeout(WAIT, first_notes.recv())
            .await?
            .expect("notification");
        assert_eq!(note.code, RequestCode::NotifyConsumerIdsChanged.as_i32());
        assert_eq!(note.ext_field("consumerGroup"), Some("grp"));
        assert!(note.is_oneway());
    }
    assert_eq!(consumer_ids(&first, &addr, "grp").await?, vec!["c1", "c2", "c3"]);

    let unregister = UnregisterClientRequestHeader {
        client_id: "c3".to_owned(),
        producer_group: Some("pg".to_owned()),
        consumer_group: Some("grp".to_owned()),
    };
    invoke_expect(
        &third,
        &addr,
        request(RequestCode::UnregisterClient, &unregister),
        ResponseCode::Success,
    )
    .await?;
    tokio::time::timeout(WAIT, first_notes.recv())
        .await?
        .expect("notification on unregister");
    assert_eq!(consumer_ids(&first, &addr, "grp").await?, vec!["c1", "c2"]);

    second.shutdown();
    tokio::time::timeout(WAIT, first_notes.recv())
        .await?
        .expect("notification on close");
    eventually("closed consumer removed", || async {
        Ok((consumer_ids(&first, &addr, "grp").await? == vec!["c1".to_owned()]).then_some(()))
    })
    .await?;
    invoke_expect(
        &first,
        &addr,
        request(
            RequestCode::GetConsumerListByGroup,
            &GetConsumerListByGroupRequestHeader {
                consumer_group: "nobody".to_owned(),
            },
        ),
        ResponseCode::SystemError,
    )
    .await?;
    broker.stop().await
}

fn lock_request(code: RequestCode, client_id: &str, queues: &[i32]) -> RemotingCommand {
    let mq_set: BTreeSet<MessageQueue> = queues.iter().map(|q| MessageQueue::new("T", "broker-a", *q)).collect();
    let body = if code == RequestCode::LockBatchMq {
        encode_body(&LockBatchRequestBody {
            client_id: client_id.to_owned(),
            consumer_group: "og".to_owned(),
            mq_set,
            only_this_broker: false,
        })
    } else {
        encode_body(&UnlockBatchRequestBody {
            client_id: client_id.to_owned(),
            consumer_group: "og".to_owned(),
            mq_set,
            only_this_broker: false,
        })
    };
    RemotingCommand::request(code).with_body(body)
}

async fn lock(client: &RemotingClient, addr: &str, client_id: &str, queues: &[i32]) -> anyhow::Result<Vec<i32>> {
    let response = invoke_expect(
        client,
        addr,
        lock_request(RequestCode::LockBatchMq, client_id, queues),
        ResponseCode::Success,
    )
    .await?;
    let body: LockBatchResponseBody = decode_body(&response.body.to_bytes())?;
    Ok(body.lock_ok_mq_set.iter().map(|q| q.queue_id).collect())
}

// Goal: LOCK_BATCH_MQ grants queues exclusively; UNLOCK_BATCH_MQ releases. Method: two clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_locks_are_exclusive_until_unlocked() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;
    assert_eq!(lock(&client, addr, "c1", &[0, 1]).await?, vec![0, 1]);
    assert_eq!(lock(&client, addr, "c2", &[1, 2]).await?, vec![2]);
    invoke_expect(
        &client,
        addr,
        lock_request(RequestCode::UnlockBatchMq, "c1", &[1]),
        ResponseCode::Success,
    )
    .await?;
    assert_eq!(lock(&client, addr, "c2", &[1]).await?, vec![1]);
    broker.stop().await
}

// Goal: CONSUMER_SEND_MSG_BACK re-stores a message in %RETRY%<group> after its delay level (1 s)
// with RETRY_TOPIC and reconsumeTimes+1, and in %DLQ%<group> at once for level -1.
// Method: send, send back twice, pull the retry and DLQ topics until the copies appear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_back_goes_to_retry_after_delay_or_to_dlq() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = broker.addr_text.clone();
    let sent = send_ok(&client, &addr, send_v2("Orig", 0, b"payload", &props(&[("TAGS", "t")]))).await?;
    let msg_id = sent.decode_header::<SendMessageResponseHeader>()?.msg_id;
    let phy_offset = parse_offset_msg_id(&msg_id)?.phy_offset;

    let view = ViewMessageRequestHeader {
        topic: Some("Orig".to_owned()),
        offset: phy_offset,
    };
    let viewed = invoke_expect(
        &client,
        &addr,
        request(RequestCode::ViewMessageById, &view),
        ResponseCode::Success,
    )
    .await?;
    let original = records(&viewed)?.remove(0);
    assert_eq!(original.body.as_ref(), b"payload");

    for delay_level in [1, -1] {
        let header = ConsumerSendMsgBackRequestHeader {
            offset: phy_offset,
            group: "sbg".to_owned(),
            delay_level,
            origin_msg_id: Some(msg_id.clone()),
            origin_topic: Some("Orig".to_owned()),
            unit_mode: Some(false),
            max_reconsume_times: Some(16),
        };
        invoke_expect(
            &client,
            &addr,
            request(RequestCode::ConsumerSendMsgBack, &header),
            ResponseCode::Success,
        )
        .await?;
    }

    for (topic, reconsume) in [("%DLQ%sbg", 1), ("%RETRY%sbg", 1)] {
        let record = eventually(topic, || async {
            let header = pull_header("sbg", topic, 0, 0, PULL_FLAG_SUBSCRIPTION);
            let response = client.invoke(&addr, pull_request(&header), RPC).await?;
            if response.code != ResponseCode::Success.as_i32() {
                return Ok(None);
            }
            Ok(records(&response)?.into_iter().next())
        })
        .await?;
        assert_eq!(record.body.as_ref(), b"payload");
        assert_eq!(record.reconsume_times, reconsume);
        let props = record.properties();
        assert_eq!(props.get("RETRY_TOPIC"), Some("Orig"));
        assert_eq!(props.get("ORIGIN_MESSAGE_ID"), Some(msg_id.as_str()));
        assert_eq!(props.get("DELAY"), None, "delivered copies carry no delay level");
        if topic.starts_with("%RETRY%") {
            let delayed = record.store_timestamp - original.store_timestamp;
            assert!(
                delayed >= 1000,
                "retry copy stored after {delayed} ms, before its 1 s delay"
            );
        }
    }
    broker.stop().await
}
