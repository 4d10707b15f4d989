//! Lifecycle integration tests: restart on the same store, name-server registration, VIP port.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferromq_broker::BrokerConfig;
use ferromq_protocol::body::RegisterBrokerBody;
use ferromq_protocol::header::consumer_offset::{
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};
use ferromq_protocol::header::namesrv::RegisterBrokerRequestHeader;
use ferromq_protocol::header::pull_message::PULL_FLAG_SUBSCRIPTION;
use ferromq_protocol::message::masked_crc32;
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::{CancellationToken, Dispatcher, RemotingClient, RemotingServer, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

async fn query_offset(client: &RemotingClient, addr: &str) -> anyhow::Result<Option<i64>> {
    let header = QueryConsumerOffsetRequestHeader {
        consumer_group: "rg".to_owned(),
        topic: "Durable".to_owned(),
        queue_id: 0,
        set_zero_if_not_found: Some(false),
    };
    let response = client
        .invoke(addr, request(RequestCode::QueryConsumerOffset, &header), RPC)
        .await?;
    if response.code == ResponseCode::QueryNotFound.as_i32() {
        return Ok(None);
    }
    Ok(Some(
        response.decode_header::<QueryConsumerOffsetResponseHeader>()?.offset,
    ))
}

// Goal: messages, consumer offsets committed ONEWAY and auto-created topics survive a clean
// restart on the same store directory. Method: send, commit oneway, wait until visible, stop,
// start a new broker on the same dir, pull and query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_offsets_and_topics_survive_a_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = client()?;
    let addr = broker.addr_text.clone();
    for i in 0..5 {
        send_ok(&client, &addr, send_v2("Durable", 0, format!("d{i}").as_bytes(), "")).await?;
    }
    let commit = UpdateConsumerOffsetRequestHeader {
        consumer_group: "rg".to_owned(),
        topic: "Durable".to_owned(),
        queue_id: 0,
        commit_offset: 3,
    };
    client
        .invoke_oneway(&addr, request(RequestCode::UpdateConsumerOffset, &commit), RPC)
        .await?;
    eventually("oneway offset visible", || async {
        Ok((query_offset(&client, &addr).await? == Some(3)).then_some(()))
    })
    .await?;
    broker.stop().await?;

    let broker = start_broker(dir.path(), broker_config()).await?;
    let (client, _) = common::client()?;
    let addr = broker.addr_text.clone();
    assert_eq!(query_offset(&client, &addr).await?, Some(3));
    let response = invoke_expect(
        &client,
        &addr,
        pull_request(&pull_header("rg", "Durable", 0, 3, PULL_FLAG_SUBSCRIPTION)),
        ResponseCode::Success,
    )
    .await?;
    let got = records(&response)?;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body.as_ref(), b"d3");
    let topic = ferromq_protocol::header::admin::GetTopicConfigRequestHeader {
        topic: "Durable".to_owned(),
    };
    invoke_expect(
        &client,
        &addr,
        request(RequestCode::GetTopicConfig, &topic),
        ResponseCode::Success,
    )
    .await?;
    broker.stop().await
}

/// A fake name server recording REGISTER_BROKER / UNREGISTER_BROKER requests.
async fn fake_namesrv() -> anyhow::Result<(String, mpsc::UnboundedReceiver<RemotingCommand>, CancellationToken)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut dispatcher = Dispatcher::new();
    for code in [RequestCode::RegisterBroker, RequestCode::UnregisterBroker] {
        let tx = tx.clone();
        dispatcher.register_fn(code, move |_ctx, request: RemotingCommand| {
            let tx = tx.clone();
            async move {
                let response = RemotingCommand::response_to(&request, ResponseCode::Success);
                let _ = tx.send(request);
                Some(response)
            }
        });
    }
    let server = RemotingServer::bind(ServerConfig::new("127.0.0.1:0".parse()?)).await?;
    let addr = server.local_addr()?.to_string();
    let stop = CancellationToken::new();
    tokio::spawn(server.run(Arc::new(dispatcher), stop.clone()));
    Ok((addr, rx, stop))
}

async fn next(rx: &mut mpsc::UnboundedReceiver<RemotingCommand>) -> anyhow::Result<RemotingCommand> {
    tokio::time::timeout(WAIT, rx.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("fake name server stopped"))
}

// Goal: the broker registers with every name server at start (body = all topic configs incl.
// TBW102, correct CRC), again every period and on topic creation, and unregisters at shutdown.
// Method: a fake name server; registerNameServerPeriod = 1 s; auto-create a topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_registers_periodically_and_unregisters_at_shutdown() -> anyhow::Result<()> {
    let (namesrv, mut seen, namesrv_stop) = fake_namesrv().await?;
    let dir = tempfile::tempdir()?;
    let config = BrokerConfig {
        namesrv_addr: Some(format!("{namesrv};")),
        register_name_server_period: 1_000,
        ..broker_config()
    };
    let broker = start_broker(dir.path(), config).await?;

    let first = next(&mut seen).await?;
    assert_eq!(first.code, RequestCode::RegisterBroker.as_i32());
    let header: RegisterBrokerRequestHeader = first.decode_header()?;
    assert_eq!(header.broker_addr, broker.addr_text);
    assert_eq!(
        (header.broker_name.as_str(), header.cluster_name.as_str()),
        ("broker-a", "DefaultCluster")
    );
    assert_eq!(header.broker_id, 0);
    let body_bytes = first.body.to_bytes();
    assert_eq!(header.body_crc32, Some(masked_crc32(&body_bytes)));
    let body = RegisterBrokerBody::decode(&body_bytes, false)?;
    let topics = &body.topic_config_serialize_wrapper.topic_config_table;
    assert_eq!(topics["TBW102"].perm, 7);
    let first_version = body.topic_config_serialize_wrapper.data_version.counter;

    // Periodic re-registration with nothing changed.
    let again = next(&mut seen).await?;
    assert_eq!(again.code, RequestCode::RegisterBroker.as_i32());

    // A new topic triggers a registration carrying it.
    let (client, _) = client()?;
    send_ok(&client, &broker.addr_text, send_v2("NewRoutedTopic", 0, b"x", "")).await?;
    let with_topic = loop {
        let request = next(&mut seen).await?;
        let body = RegisterBrokerBody::decode(&request.body.to_bytes(), false)?;
        if body
            .topic_config_serialize_wrapper
            .topic_config_table
            .contains_key("NewRoutedTopic")
        {
            break body;
        }
    };
    assert!(with_topic.topic_config_serialize_wrapper.data_version.counter > first_version);

    broker.shutdown.cancel();
    let unregister = loop {
        let request = next(&mut seen).await?;
        if request.code == RequestCode::UnregisterBroker.as_i32() {
            break request;
        }
    };
    assert_eq!(unregister.ext_field("brokerName"), Some("broker-a"));
    tokio::time::timeout(WAIT, broker.handle).await???;
    namesrv_stop.cancel();
    Ok(())
}

// Goal: the VIP listener serves the same codes as the main one. Method: run with both
// listeners, send on the VIP port, pull on the main port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vip_listener_serves_the_same_requests() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let main = TcpListener::bind("127.0.0.1:0").await?;
    let vip = TcpListener::bind("127.0.0.1:0").await?;
    let (main_addr, vip_addr) = (main.local_addr()?.to_string(), vip.local_addr()?.to_string());
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(ferromq_broker::run(
        broker_config(),
        store_config(dir.path()),
        main,
        Some(vip),
        shutdown.clone(),
    ));
    let (client, _) = client()?;
    send_ok(&client, &vip_addr, send_v2("VipTopic", 0, b"via vip", "")).await?;
    let record = eventually("message visible on the main port", || async {
        let response = client
            .invoke(
                &main_addr,
                pull_request(&pull_header("g", "VipTopic", 0, 0, PULL_FLAG_SUBSCRIPTION)),
                RPC,
            )
            .await?;
        if response.code != ResponseCode::Success.as_i32() {
            return Ok(None);
        }
        Ok(records(&response)?.into_iter().next())
    })
    .await?;
    assert_eq!(record.body.as_ref(), b"via vip");
    assert_eq!(record.store_host.to_string(), main_addr, "STOREHOST is the main port");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(15), handle).await???;
    Ok(())
}
