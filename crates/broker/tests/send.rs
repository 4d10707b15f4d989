//! SEND path integration tests: a real broker on 127.0.0.1:0, raw protocol frames.

mod common;

use bytes::{BufMut, BytesMut};
use common::*;
use ferromq_protocol::body::{decode_body, TopicConfig};
use ferromq_protocol::header::admin::GetTopicConfigRequestHeader;
use ferromq_protocol::header::consumer_offset::{GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader};
use ferromq_protocol::header::pull_message::PULL_FLAG_SUBSCRIPTION;
use ferromq_protocol::header::query_message::ViewMessageRequestHeader;
use ferromq_protocol::header::send_message::SendMessageResponseHeader;
use ferromq_protocol::message::{encode_batch, parse_offset_msg_id, BatchMessage};
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};

// Goal: V1 and V2 sends auto-create the topic from TBW102 and answer every field a Java client
// reads. Method: send twice to a new topic, check ext fields, offsets and the created config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_and_v2_sends_auto_create_the_topic_and_answer_all_fields() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;

    let first = send_ok(
        &client,
        addr,
        send_v1("AutoTopic", 1, b"hello", &props(&[("UNIQ_KEY", "U1")])),
    )
    .await?;
    let header: SendMessageResponseHeader = first.decode_header()?;
    assert_eq!((header.queue_id, header.queue_offset), (1, 0));
    assert_eq!(header.transaction_id.as_deref(), Some("U1"));
    assert_eq!(first.ext_field("MSG_REGION"), Some("DefaultRegion"));
    assert_eq!(first.ext_field("TRACE_ON"), Some("true"));
    let id = parse_offset_msg_id(&header.msg_id)?;
    assert_eq!(id.store_host, broker.addr);

    let second = send_ok(&client, addr, send_v2("AutoTopic", 1, b"world", "")).await?;
    let header: SendMessageResponseHeader = second.decode_header()?;
    assert_eq!(header.queue_offset, 1);
    assert!(
        header.transaction_id.is_some_and(|u| u.len() == 32),
        "broker adds a UNIQ_KEY"
    );

    let config = invoke_expect(
        &client,
        addr,
        request(
            RequestCode::GetTopicConfig,
            &GetTopicConfigRequestHeader {
                topic: "AutoTopic".to_owned(),
            },
        ),
        ResponseCode::Success,
    )
    .await?;
    let config: TopicConfig = decode_body(&config.body.to_bytes())?;
    assert_eq!(
        (config.read_queue_nums, config.write_queue_nums, config.perm),
        (4, 4, 6)
    );
    broker.stop().await
}

// Goal: a batch (code 320) stores each message with consecutive offsets and answers the
// comma-joined offsetMsgIds, each the exact CommitLog offset of its message, and each stored
// message carries its own properties plus CLUSTER, and a UNIQ_KEY (its own, or a new one when
// it had none), whichever way its properties are edited. Method: send 4 messages (two with
// UNIQ_KEY, one without, one whose properties repeat a name so the general path edits them),
// parse each id, VIEW_MESSAGE_BY_ID each and compare body and properties.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_send_stores_each_message_and_joins_msg_ids() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let mut messages: Vec<BatchMessage> = (0..2)
        .map(|i| BatchMessage {
            flag: 0,
            body: bytes::Bytes::from(format!("m{i}")),
            properties: props(&[("UNIQ_KEY", &format!("B{i}")), ("KEYS", "batchkey")]),
        })
        .collect();
    messages.push(BatchMessage {
        flag: 0,
        body: bytes::Bytes::from("m2"),
        properties: props(&[("KEYS", "batchkey")]),
    });
    messages.push(BatchMessage {
        flag: 0,
        body: bytes::Bytes::from("m3"),
        properties: "UNIQ_KEY\u{1}B3\u{2}TAGS\u{1}x\u{2}TAGS\u{1}y\u{2}".to_owned(),
    });
    let mut body = BytesMut::new();
    encode_batch(&messages, &mut body)?;
    let mut batch = send_v2("BatchTopic", 0, &body, "");
    batch.code = RequestCode::SendBatchMessage.as_i32();
    let response = send_ok(&client, &broker.addr_text, batch).await?;
    let header: SendMessageResponseHeader = response.decode_header()?;
    let ids: Vec<_> = header
        .msg_id
        .split(',')
        .map(parse_offset_msg_id)
        .collect::<Result<_, _>>()?;
    assert_eq!(ids.len(), 4);
    assert!(ids.windows(2).all(|w| w[0].phy_offset < w[1].phy_offset));
    assert_eq!(header.queue_offset, 0);
    let mut generated = None;
    for (i, id) in ids.iter().enumerate() {
        let view = ViewMessageRequestHeader {
            topic: Some("BatchTopic".to_owned()),
            offset: id.phy_offset,
        };
        let viewed = invoke_expect(
            &client,
            &broker.addr_text,
            request(RequestCode::ViewMessageById, &view),
            ResponseCode::Success,
        )
        .await?;
        let record = records(&viewed)?.remove(0);
        assert_eq!(record.body.as_ref(), format!("m{i}").as_bytes(), "message {i}");
        assert_eq!(record.phy_offset, id.phy_offset);
        let stored = record.properties();
        assert!(
            stored.get("CLUSTER").is_some_and(|c| !c.is_empty()),
            "message {i}: CLUSTER"
        );
        match i {
            2 => generated = stored.get("UNIQ_KEY").map(str::to_owned),
            _ => assert_eq!(stored.get("UNIQ_KEY"), Some(format!("B{i}").as_str()), "message {i}"),
        }
        match i {
            3 => assert_eq!(stored.get("TAGS"), Some("y"), "the last of a repeated name"),
            _ => assert_eq!(stored.get("KEYS"), Some("batchkey"), "message {i}"),
        }
    }
    let generated = generated.expect("a UNIQ_KEY for the message sent without one");
    assert!(
        ferromq_protocol::message::parse_uniq_id(&generated).is_ok(),
        "{generated}"
    );

    let addr = broker.addr_text.clone();
    eventually("batch dispatched as 4 queue entries", || async {
        Ok((max_offset(&client, &addr, "BatchTopic", 0).await? == 4).then_some(()))
    })
    .await?;
    broker.stop().await
}

async fn max_offset(
    client: &ferromq_remoting::RemotingClient,
    addr: &str,
    topic: &str,
    queue_id: i32,
) -> anyhow::Result<i64> {
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
    Ok(response.decode_header::<GetMaxOffsetResponseHeader>()?.offset)
}

// Goal: a oneway send is stored and never answered. Method: send oneway, wait for the queue's
// max offset to move, and check no stray response breaks the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oneway_send_is_stored_without_a_response() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = broker.addr_text.clone();
    send_ok(&client, &addr, send_v2("OnewayTopic", 0, b"first", "")).await?;
    client
        .invoke_oneway(&addr, send_v2("OnewayTopic", 0, b"second", ""), RPC)
        .await?;
    eventually("oneway message stored", || async {
        Ok((max_offset(&client, &addr, "OnewayTopic", 0).await? == 2).then_some(()))
    })
    .await?;
    broker.stop().await
}

// Goal: every validation rule answers RocketMQ's code and the connection stays usable.
// Method: one bad send per rule, then a good send on the same client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_sends_get_rocketmq_codes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = &broker.addr_text;
    let cases: Vec<(RemotingCommand, ResponseCode)> = vec![
        (send_v2("bad topic", 0, b"x", ""), ResponseCode::SystemError),
        (send_v2(&"T".repeat(128), 0, b"x", ""), ResponseCode::SystemError),
        (send_v2("SCHEDULE_TOPIC_XXXX", 0, b"x", ""), ResponseCode::NoPermission),
        (
            send_v2("BigBody", 0, &vec![0u8; 600 * 1024], ""),
            ResponseCode::MessageIllegal,
        ),
        (send_v2("Q", 99, b"x", ""), ResponseCode::SystemError),
        (
            send_v2("Tx", 0, b"x", &props(&[("TRAN_MSG", "true")])),
            ResponseCode::NoPermission,
        ),
        (
            RemotingCommand::request(RequestCode::SendMessageV2).with_body(b"x".to_vec()),
            ResponseCode::SystemError,
        ),
    ];
    for (request, code) in cases {
        invoke_expect(&client, addr, request, code).await?;
    }
    let mut unknown_template = send_v1("NoTemplate", 0, b"x", "");
    unknown_template.put_ext_field("defaultTopic", "NoSuchTemplate");
    invoke_expect(&client, addr, unknown_template, ResponseCode::TopicNotExist).await?;
    send_ok(&client, addr, send_v2("Fine", 0, b"x", "")).await?;
    broker.stop().await
}

// Goal: without auto-create, unknown topics are TOPIC_NOT_EXIST. Method: broker with
// autoCreateTopicEnable=false.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_topic_without_auto_create_is_topic_not_exist() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = ferromq_broker::BrokerConfig {
        auto_create_topic_enable: false,
        ..broker_config()
    };
    let broker = start_broker(dir.path(), config).await?;
    let (client, _) = client()?;
    invoke_expect(
        &client,
        &broker.addr_text,
        send_v2("Nope", 0, b"x", ""),
        ResponseCode::TopicNotExist,
    )
    .await?;
    broker.stop().await
}

// Goal: unknown request codes answer 3 and keep the connection. Method: code 9999 then a send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_code_is_not_supported_and_connection_stays_open() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let mut raw = BytesMut::new();
    raw.put_u8(0);
    let response = invoke_expect(
        &client,
        &broker.addr_text,
        RemotingCommand::request_code(9999).with_body(raw.freeze()),
        ResponseCode::RequestCodeNotSupported,
    )
    .await?;
    assert!(response.remark.is_some_and(|r| r.contains("9999")));
    assert_eq!(client.connected_addrs().len(), 1);
    send_ok(&client, &broker.addr_text, send_v2("StillOpen", 0, b"x", "")).await?;
    broker.stop().await
}

// Goal: sends read in one batch are published (readable, max offset moved) before their
// responses leave, so a sender that got SEND_OK finds its messages. The broker defers the
// store's publish (one pwrite + dispatch) to the end of the batch; the flush service would
// publish only after `flushIntervalCommitLog` (set to an hour here, so it cannot help).
// Method: write 32 SEND_MESSAGE_V2 frames with one write on a raw socket, read the 32
// responses, then ask for the queue's max offset and pull without suspending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_sends_are_readable_once_answered() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir()?;
    let mut store = store_config(dir.path());
    store.flush_interval_commit_log = 3_600_000;
    let broker = start_broker_with(broker_config(), store).await?;
    let (client, _) = client()?;
    let addr = broker.addr_text.clone();
    // Create the topic first (auto-creation answers from TBW102).
    send_ok(&client, &addr, send_v2("BatchEnd", 0, b"first", "")).await?;

    let n = 32;
    let mut out = BytesMut::new();
    for i in 0..n {
        let mut request = send_v2("BatchEnd", 0, format!("m{i}").as_bytes(), "");
        request.opaque = 1000 + i;
        ferromq_protocol::frame::encode_frame(&request, &mut out)?;
    }
    let mut stream = tokio::net::TcpStream::connect(&addr).await?;
    stream.write_all(&out).await?;
    let mut input = BytesMut::new();
    let mut answered = 0;
    while answered < n {
        match ferromq_protocol::frame::decode_frame(&mut input, ferromq_protocol::MAX_FRAME_BYTES)? {
            Some(response) => {
                assert_eq!(response.code, ResponseCode::Success.as_i32(), "{:?}", response.remark);
                answered += 1;
            }
            None => {
                anyhow::ensure!(stream.read_buf(&mut input).await? > 0, "broker closed the connection");
            }
        }
    }
    assert_eq!(max_offset(&client, &addr, "BatchEnd", 0).await?, 1 + i64::from(n));
    let response = client
        .invoke(
            &addr,
            pull_request(&pull_header("G", "BatchEnd", 0, 1, PULL_FLAG_SUBSCRIPTION)),
            RPC,
        )
        .await?;
    assert_eq!(response.code, ResponseCode::Success.as_i32(), "{:?}", response.remark);
    assert_eq!(records(&response)?.len(), n as usize);
    broker.stop().await
}
