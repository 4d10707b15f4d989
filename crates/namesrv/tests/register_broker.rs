//! REGISTER_BROKER, UNREGISTER_BROKER, QUERY_DATA_VERSION and BROKER_HEARTBEAT over real
//! sockets against an in-process name server.

mod common;

use common::*;
use ferromq_protocol::body::{decode_body, encode_body, DataVersion, KvTable, TopicRouteData};
use ferromq_protocol::header::namesrv::{
    BrokerHeartbeatRequestHeader, GetRouteInfoRequestHeader, PutKvConfigRequestHeader, QueryDataVersionRequestHeader,
    QueryDataVersionResponseHeader, RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader,
};
use ferromq_protocol::message::masked_crc32;
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};

fn route_request(topic: &str) -> RemotingCommand {
    RemotingCommand::request(RequestCode::GetRouteinfoByTopic).with_header(&GetRouteInfoRequestHeader {
        topic: topic.to_owned(),
        accept_standard_json_only: None,
    })
}

async fn route(
    client: &ferromq_remoting::RemotingClient,
    addr: &str,
    topic: &str,
) -> anyhow::Result<Option<TopicRouteData>> {
    let response = call(client, addr, route_request(topic)).await?;
    if response.response_code_enum() == ResponseCode::TopicNotExist {
        return Ok(None);
    }
    assert_eq!(response.response_code_enum(), ResponseCode::Success, "{response:?}");
    Ok(Some(decode_body(&response.body.to_bytes())?))
}

#[tokio::test]
async fn plain_json_registration_creates_the_route() -> anyhow::Result<()> {
    // Goal: a 5.x broker's JSON REGISTER_BROKER makes its topics routable. Method: register
    // two topics, ask for one's route and the cluster info.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    let response = call(
        &client,
        &namesrv.addr,
        register_request(
            "broker-a",
            0,
            "10.0.0.1:10911",
            &[("TopicA", 4), ("TBW102", 8)],
            1,
            false,
        ),
    )
    .await?;
    assert_eq!(response.response_code_enum(), ResponseCode::Success, "{response:?}");
    let header: RegisterBrokerResponseHeader = response.decode_header()?;
    assert_eq!(header.master_addr, None);

    let route = route(&client, &namesrv.addr, "TopicA").await?.expect("route");
    assert_eq!(route.queue_datas.len(), 1);
    assert_eq!(route.queue_datas[0].write_queue_nums, 4);
    assert_eq!(route.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
    let info = cluster_info(&client, &namesrv.addr).await?;
    assert!(info.cluster_addr_table[CLUSTER].contains("broker-a"));
    namesrv.stop().await
}

#[tokio::test]
async fn compressed_registration_is_decoded() -> anyhow::Result<()> {
    // Goal: `compressed=true` bodies (zlib of the compact topic encoding) register too.
    // Method: register compressed, read the route back.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    let response = call(
        &client,
        &namesrv.addr,
        register_request(
            "broker-z",
            0,
            "10.0.0.9:10911",
            &[("Zipped", 3), ("TBW102", 8)],
            1,
            true,
        ),
    )
    .await?;
    assert_eq!(response.response_code_enum(), ResponseCode::Success, "{response:?}");
    let route = route(&client, &namesrv.addr, "Zipped").await?.expect("route");
    assert_eq!(route.queue_datas[0].read_queue_nums, 3);
    namesrv.stop().await
}

#[tokio::test]
async fn body_crc_mismatch_is_refused_and_registers_nothing() -> anyhow::Result<()> {
    // Goal: a wrong bodyCrc32 is SYSTEM_ERROR "crc32 not match" and changes nothing; 0 skips
    // the check. Method: corrupt the crc, then send crc 0.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    let mut request = register_request("broker-a", 0, "a:1", &[("TopicA", 4), ("TBW102", 8)], 1, false);
    let good = masked_crc32(&request.body.to_bytes());
    request.put_ext_field("bodyCrc32", (good ^ 1).to_string());
    let response = call(&client, &namesrv.addr, request.clone()).await?;
    assert_eq!(response.response_code_enum(), ResponseCode::SystemError);
    assert_eq!(response.remark.as_deref(), Some("crc32 not match"));
    assert!(cluster_info(&client, &namesrv.addr).await?.broker_addr_table.is_empty());

    request.put_ext_field("bodyCrc32", "0");
    let response = call(&client, &namesrv.addr, request).await?;
    assert_eq!(response.response_code_enum(), ResponseCode::Success);
    namesrv.stop().await
}

#[tokio::test]
async fn old_brokers_send_a_bare_topic_config_wrapper() -> anyhow::Result<()> {
    // Goal: brokers older than V3_0_11 (version < 33) send TopicConfigSerializeWrapper as the
    // whole body. Method: version 20 request with such a body.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    let body = encode_body(&topic_wrapper(&[("Legacy", 2), ("TBW102", 8)], 1));
    let mut request = RemotingCommand::request(RequestCode::RegisterBroker)
        .with_header(&register_header("broker-old", 0, "o:1", false, &body))
        .with_body(body);
    request.version = 20;
    let response = call(&client, &namesrv.addr, request).await?;
    assert_eq!(response.response_code_enum(), ResponseCode::Success, "{response:?}");
    assert!(route(&client, &namesrv.addr, "Legacy").await?.is_some());
    namesrv.stop().await
}

#[tokio::test]
async fn undecodable_body_is_a_system_error() -> anyhow::Result<()> {
    // Goal: a body that is not a RegisterBrokerBody is refused, not half-applied.
    // Method: garbage body with a matching crc.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    let body = b"{not json".to_vec();
    let request = RemotingCommand::request(RequestCode::RegisterBroker)
        .with_header(&register_header("broker-a", 0, "a:1", false, &body))
        .with_body(body);
    let response = call(&client, &namesrv.addr, request).await?;
    assert_eq!(response.response_code_enum(), ResponseCode::SystemError);
    assert!(response.remark.unwrap_or_default().contains("RegisterBrokerBody"));
    namesrv.stop().await
}

#[tokio::test]
async fn slave_gets_master_address_and_order_topic_config() -> anyhow::Result<()> {
    // Goal: a slave's REGISTER_BROKER answer carries masterAddr/haServerAddr, and every answer
    // carries the ORDER_TOPIC_CONFIG KV table. Method: put an order config, register master and
    // slave, decode the slave's answer.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    let put = RemotingCommand::request(RequestCode::PutKvConfig).with_header(&PutKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "TopicA".into(),
        value: "broker-a:4".into(),
    });
    assert_eq!(call(&client, &namesrv.addr, put).await?.code, 0);
    let topics = [("TopicA", 4), ("TBW102", 8)];
    call(
        &client,
        &namesrv.addr,
        register_request("broker-a", 0, "a:1", &topics, 1, false),
    )
    .await?;
    let response = call(
        &client,
        &namesrv.addr,
        register_request("broker-a", 1, "a:2", &topics, 1, false),
    )
    .await?;
    let header: RegisterBrokerResponseHeader = response.decode_header()?;
    assert_eq!(header.master_addr.as_deref(), Some("a:1"));
    assert_eq!(header.ha_server_addr.as_deref(), Some("a:1-ha"));
    let table: KvTable = decode_body(&response.body.to_bytes())?;
    assert_eq!(table.table.get("TopicA").map(String::as_str), Some("broker-a:4"));
    namesrv.stop().await
}

#[tokio::test]
async fn query_data_version_reports_changes_and_returns_the_stored_version() -> anyhow::Result<()> {
    // Goal: QUERY_DATA_VERSION `changed` flag and stored-version body. Method: register with
    // counter 3, query with 3 (unchanged) and 4 (changed), and for an unknown broker.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    call(
        &client,
        &namesrv.addr,
        register_request("broker-a", 0, "a:1", &[("TopicA", 4), ("TBW102", 8)], 3, false),
    )
    .await?;
    let query = |addr: &str, counter: i64| {
        let version = DataVersion {
            counter,
            state_version: Some(0),
            timestamp: 1_700_000_000_000,
        };
        RemotingCommand::request(RequestCode::QueryDataVersion)
            .with_header(&QueryDataVersionRequestHeader {
                broker_name: "broker-a".into(),
                broker_addr: addr.into(),
                cluster_name: CLUSTER.into(),
                broker_id: 0,
            })
            .with_body(encode_body(&version))
    };
    let same = call(&client, &namesrv.addr, query("a:1", 3)).await?;
    assert_eq!(same.response_code_enum(), ResponseCode::Success);
    assert!(!same.decode_header::<QueryDataVersionResponseHeader>()?.changed);
    let stored: DataVersion = decode_body(&same.body.to_bytes())?;
    assert_eq!(stored.counter, 3);
    let newer = call(&client, &namesrv.addr, query("a:1", 4)).await?;
    assert!(newer.decode_header::<QueryDataVersionResponseHeader>()?.changed);
    let unknown = call(&client, &namesrv.addr, query("nobody:1", 3)).await?;
    assert!(unknown.decode_header::<QueryDataVersionResponseHeader>()?.changed);
    assert!(unknown.body.is_empty());
    namesrv.stop().await
}

#[tokio::test]
async fn unregister_removes_the_broker_and_its_routes() -> anyhow::Result<()> {
    // Goal: UNREGISTER_BROKER drops the broker, its cluster entry and its topics.
    // Method: register, unregister, read route and cluster info.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    call(
        &client,
        &namesrv.addr,
        register_request("broker-a", 0, "a:1", &[("TopicA", 4), ("TBW102", 8)], 1, false),
    )
    .await?;
    let heartbeat = RemotingCommand::request(RequestCode::BrokerHeartbeat).with_header(&BrokerHeartbeatRequestHeader {
        cluster_name: CLUSTER.into(),
        broker_addr: "a:1".into(),
        broker_name: "broker-a".into(),
        broker_id: Some(0),
        ..Default::default()
    });
    assert_eq!(call(&client, &namesrv.addr, heartbeat).await?.code, 0);
    let unregister =
        RemotingCommand::request(RequestCode::UnregisterBroker).with_header(&UnregisterBrokerRequestHeader {
            broker_name: "broker-a".into(),
            broker_addr: "a:1".into(),
            cluster_name: CLUSTER.into(),
            broker_id: 0,
        });
    assert_eq!(call(&client, &namesrv.addr, unregister).await?.code, 0);
    assert!(route(&client, &namesrv.addr, "TopicA").await?.is_none());
    let info = cluster_info(&client, &namesrv.addr).await?;
    assert!(info.broker_addr_table.is_empty() && info.cluster_addr_table.is_empty());
    assert!(namesrv.state.route_info.live_brokers().is_empty());
    namesrv.stop().await
}

#[tokio::test]
async fn missing_required_header_field_is_a_system_error() -> anyhow::Result<()> {
    // Goal: a REGISTER_BROKER without brokerName is refused with the field named, and the
    // connection keeps serving. Method: drop the field, then send a valid request.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    let mut request = register_request("broker-a", 0, "a:1", &[("TopicA", 4), ("TBW102", 8)], 1, false);
    request.ext_fields.remove("brokerName");
    let response = call(&client, &namesrv.addr, request).await?;
    assert_eq!(response.response_code_enum(), ResponseCode::SystemError);
    assert!(response.remark.unwrap_or_default().contains("brokerName"));
    let ok = call(
        &client,
        &namesrv.addr,
        register_request("broker-a", 0, "a:1", &[("TopicA", 4), ("TBW102", 8)], 1, false),
    )
    .await?;
    assert_eq!(ok.response_code_enum(), ResponseCode::Success);
    namesrv.stop().await
}
