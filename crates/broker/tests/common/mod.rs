//! Shared helpers for the broker integration tests: an in-process broker on 127.0.0.1:0 over a
//! temp-dir store, a RemotingClient that records broker-initiated requests, and request
//! builders speaking raw protocol frames.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use ferromq_broker::filter::build_tag_subscription;
use ferromq_broker::{BrokerConfig, BrokerError, CancellationToken, MessageStoreConfig};
use ferromq_protocol::body::{encode_body, ConsumerData, HeartbeatData, ProducerData};
use ferromq_protocol::header::pull_message::PullMessageRequestHeader;
use ferromq_protocol::header::send_message::{SendMessageRequestHeader, SendMessageRequestHeaderV2};
use ferromq_protocol::message::{decode_records, MessageRecord};
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::{ClientConfig, Dispatcher, RemotingClient};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Upper bound on every wait for observable state; a healthy run needs milliseconds.
pub const WAIT: Duration = Duration::from_secs(15);
/// RPC timeout of test requests.
pub const RPC: Duration = Duration::from_secs(10);

/// A running in-process broker.
pub struct TestBroker {
    pub addr: SocketAddr,
    pub addr_text: String,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<Result<(), BrokerError>>,
}

impl TestBroker {
    /// Cancels and waits for `run` to return cleanly.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.handle)
            .await
            .context("broker did not stop")???;
        Ok(())
    }
}

/// Small store files so tests stay light.
pub fn store_config(root: &Path) -> MessageStoreConfig {
    let mut config = MessageStoreConfig::with_root(root);
    config.mapped_file_size_commit_log = 4 * 1024 * 1024;
    config.mapped_file_size_consume_queue = 1000 * 20;
    config.max_message_size = 512 * 1024;
    config.max_hash_slot_num = 1000;
    config.max_index_num = 4000;
    config.flush_interval_commit_log = 10;
    // The host disk's fill level is not under test (a CI machine at 90 % would refuse every put).
    config.disk_space_warning_level_ratio = 0.99;
    config
}

/// Broker settings for tests: loopback address, no name server.
pub fn broker_config() -> BrokerConfig {
    BrokerConfig {
        broker_ip1: "127.0.0.1".to_owned(),
        ..BrokerConfig::default()
    }
}

/// Starts a broker on 127.0.0.1:0 with its store under `root`.
pub async fn start_broker(root: &Path, config: BrokerConfig) -> anyhow::Result<TestBroker> {
    start_broker_with(config, store_config(root)).await
}

/// Starts a broker with explicit configs.
pub async fn start_broker_with(config: BrokerConfig, store: MessageStoreConfig) -> anyhow::Result<TestBroker> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(ferromq_broker::run(config, store, listener, None, shutdown.clone()));
    Ok(TestBroker {
        addr,
        addr_text: addr.to_string(),
        shutdown,
        handle,
    })
}

/// A client; requests the broker sends to it are forwarded on the returned channel.
pub fn client() -> anyhow::Result<(RemotingClient, mpsc::UnboundedReceiver<RemotingCommand>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut dispatcher = Dispatcher::new();
    dispatcher.register_fn(
        RequestCode::NotifyConsumerIdsChanged,
        move |_ctx, request: RemotingCommand| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(request);
                None
            }
        },
    );
    Ok((RemotingClient::new(ClientConfig::default(), Arc::new(dispatcher))?, rx))
}

/// Polls `check` until it yields `Some`, up to [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The send header tests use (producer group `pg`, template TBW102 with 4 queues).
pub fn send_header(topic: &str, queue_id: i32, properties: &str) -> SendMessageRequestHeader {
    SendMessageRequestHeader {
        producer_group: "pg".to_owned(),
        topic: topic.to_owned(),
        default_topic: "TBW102".to_owned(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some(properties.to_owned()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        batch: Some(false),
        max_reconsume_times: None,
        broker_name: None,
    }
}

/// A SEND_MESSAGE (V1 header) request.
pub fn send_v1(topic: &str, queue_id: i32, body: &[u8], properties: &str) -> RemotingCommand {
    RemotingCommand::request(RequestCode::SendMessage)
        .with_header(&send_header(topic, queue_id, properties))
        .with_body(Bytes::copy_from_slice(body))
}

/// A SEND_MESSAGE_V2 request.
pub fn send_v2(topic: &str, queue_id: i32, body: &[u8], properties: &str) -> RemotingCommand {
    let header = SendMessageRequestHeaderV2::from(send_header(topic, queue_id, properties));
    RemotingCommand::request(RequestCode::SendMessageV2)
        .with_header(&header)
        .with_body(Bytes::copy_from_slice(body))
}

/// Sends and checks SUCCESS; returns the response.
pub async fn send_ok(client: &RemotingClient, addr: &str, request: RemotingCommand) -> anyhow::Result<RemotingCommand> {
    let response = client.invoke(addr, request, RPC).await?;
    if response.code != ResponseCode::Success.as_i32() {
        bail!("send failed: code {} remark {:?}", response.code, response.remark);
    }
    Ok(response)
}

/// Properties string from pairs.
pub fn props(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}\u{1}{v}\u{2}")).collect()
}

/// A PULL_MESSAGE header with the subscription in the header.
pub fn pull_header(group: &str, topic: &str, queue_id: i32, offset: i64, sys_flag: i32) -> PullMessageRequestHeader {
    PullMessageRequestHeader {
        consumer_group: group.to_owned(),
        topic: topic.to_owned(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag,
        commit_offset: 0,
        suspend_timeout_millis: 15_000,
        subscription: Some("*".to_owned()),
        sub_version: 0,
        expression_type: Some("TAG".to_owned()),
        max_msg_bytes: None,
        request_source: None,
        proxy_forward_client_id: None,
    }
}

/// A PULL_MESSAGE request.
pub fn pull_request(header: &PullMessageRequestHeader) -> RemotingCommand {
    RemotingCommand::request(RequestCode::PullMessage).with_header(header)
}

/// The records of a pull / query body.
pub fn records(response: &RemotingCommand) -> anyhow::Result<Vec<MessageRecord>> {
    decode_records(&response.body.to_bytes(), true)
        .collect::<Result<Vec<_>, _>>()
        .context("body does not decode as records")
}

/// A HEART_BEAT with one push consumer group subscribing `topics` with `*` (plus the retry topic).
pub fn heartbeat(client_id: &str, group: &str, topics: &[(&str, &str)]) -> RemotingCommand {
    let mut subscriptions: Vec<_> = topics
        .iter()
        .map(|(topic, expression)| build_tag_subscription(topic, expression, 1))
        .collect();
    subscriptions.push(build_tag_subscription(&format!("%RETRY%{group}"), "*", 1));
    let data = HeartbeatData {
        client_id: client_id.to_owned(),
        consumer_data_set: vec![ConsumerData {
            group_name: group.to_owned(),
            subscription_data_set: subscriptions,
            ..Default::default()
        }],
        producer_data_set: vec![ProducerData {
            group_name: "pg".to_owned(),
        }],
        ..Default::default()
    };
    RemotingCommand::request(RequestCode::HeartBeat).with_body(encode_body(&data))
}

/// A request with a code and typed header.
pub fn request<H: ferromq_protocol::header::CommandHeader>(code: RequestCode, header: &H) -> RemotingCommand {
    RemotingCommand::request(code).with_header(header)
}

/// Invokes and checks the response code.
pub async fn invoke_expect(
    client: &RemotingClient,
    addr: &str,
    request: RemotingCommand,
    code: ResponseCode,
) -> anyhow::Result<RemotingCommand> {
    let response = client.invoke(addr, request, RPC).await?;
    if response.code != code.as_i32() {
        bail!(
            "expected {code}, got {} remark {:?}",
            ResponseCode::from_i32(response.code),
            response.remark
        );
    }
    Ok(response)
}
