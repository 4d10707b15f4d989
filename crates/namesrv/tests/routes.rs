//! Routes, cluster info, topic lists and admin edits over real sockets.

mod common;

use common::*;
use ferromq_protocol::body::{decode_body, encode_body, QueueData, TopicList, TopicRouteData};
use ferromq_protocol::header::namesrv::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader, DeleteTopicFromNamesrvRequestHeader,
    GetRouteInfoRequestHeader, GetTopicsByClusterRequestHeader, PutKvConfigRequestHeader, RegisterTopicRequestHeader,
    WipeWritePermOfBrokerRequestHeader, WipeWritePermOfBrokerResponseHeader,
};
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode, SerializeType};
use ferromq_remoting::RemotingClient;

const TOPICS: &[(&str, i32)] = &[("TopicA", 4), ("TBW102", 8)];

fn route_request(topic: &str, version: i32, standard_only: Option<bool>) -> RemotingCommand {
    let mut request =
        RemotingCommand::request(RequestCode::GetRouteinfoByTopic).with_header(&GetRouteInfoRequestHeader {
            topic: topic.to_owned(),
            accept_standard_json_only: standard_only,
        });
    request.version = version;
    request
}

async fn started_with_broker() -> anyhow::Result<(tempfile::TempDir, TestNamesrv, RemotingClient)> {
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    let response = call(
        &client,
        &namesrv.addr,
        register_request("broker-a", 0, "a:1", TOPICS, 1, false),
    )
    .await?;
    assert_eq!(response.response_code_enum(), ResponseCode::Success);
    Ok((dir, namesrv, client))
}

async fn topic_list(client: &RemotingClient, addr: &str, request: RemotingCommand) -> anyhow::Result<TopicList> {
    let response = call(client, addr, request).await?;
    assert_eq!(response.response_code_enum(), ResponseCode::Success, "{response:?}");
    Ok(decode_body(&response.body.to_bytes())?)
}

#[tokio::test]
async fn route_keys_are_quoted_by_requester_version() -> anyhow::Result<()> {
    // Goal: brokerAddrs keys are quoted for version >= 397 or acceptStandardJsonOnly, unquoted
    // (fastjson) for older clients. Method: ask as 475, as 317, as 317 with the flag.
    let (_dir, namesrv, client) = started_with_broker().await?;
    let body = |response: RemotingCommand| String::from_utf8_lossy(&response.body.to_bytes()).into_owned();
    let modern = body(call(&client, &namesrv.addr, route_request("TopicA", 475, None)).await?);
    assert!(modern.contains(r#""brokerAddrs":{"0":"a:1"}"#), "{modern}");
    assert!(modern.contains(r#""filterServerTable":{}"#) && modern.contains(r#""enableActingMaster":false"#));
    let legacy = body(call(&client, &namesrv.addr, route_request("TopicA", 317, None)).await?);
    assert!(legacy.contains(r#""brokerAddrs":{0:"a:1"}"#), "{legacy}");
    let flagged = body(call(&client, &namesrv.addr, route_request("TopicA", 317, Some(true))).await?);
    assert!(flagged.contains(r#""brokerAddrs":{"0":"a:1"}"#), "{flagged}");
    let parsed: TopicRouteData = decode_body(legacy.as_bytes())?;
    assert_eq!(parsed.broker_datas[0].master_addr(), Some("a:1"));
    namesrv.stop().await
}

#[tokio::test]
async fn unknown_topic_is_topic_not_exist() -> anyhow::Result<()> {
    // Goal: TOPIC_NOT_EXIST (17) with Java's remark for a topic nobody serves.
    let (_dir, namesrv, client) = started_with_broker().await?;
    let response = call(&client, &namesrv.addr, route_request("Nope", 475, None)).await?;
    assert_eq!(response.response_code_enum(), ResponseCode::TopicNotExist);
    assert!(response
        .remark
        .unwrap_or_default()
        .starts_with("No topic route info in name server for the topic: Nope"));
    namesrv.stop().await
}

#[tokio::test]
async fn order_topic_conf_comes_from_kv_when_order_messages_are_enabled() -> anyhow::Result<()> {
    // Goal: orderTopicConf is filled from KV ORDER_TOPIC_CONFIG only with orderMessageEnable.
    // Method: put the KV, read the route with the switch off, turn it on at run time, read again.
    let (_dir, namesrv, client) = started_with_broker().await?;
    let put = RemotingCommand::request(RequestCode::PutKvConfig).with_header(&PutKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "TopicA".into(),
        value: "broker-a:4".into(),
    });
    call(&client, &namesrv.addr, put).await?;
    let read = |response: RemotingCommand| decode_body::<TopicRouteData>(&response.body.to_bytes());
    let off = read(call(&client, &namesrv.addr, route_request("TopicA", 475, None)).await?)?;
    assert_eq!(off.order_topic_conf, None);
    let update =
        RemotingCommand::request(RequestCode::UpdateNamesrvConfig).with_body(b"orderMessageEnable=true\n".to_vec());
    assert_eq!(call(&client, &namesrv.addr, update).await?.code, 0);
    let on = read(call(&client, &namesrv.addr, route_request("TopicA", 475, None)).await?)?;
    assert_eq!(on.order_topic_conf.as_deref(), Some("broker-a:4"));
    namesrv.stop().await
}

#[tokio::test]
async fn cluster_info_is_written_in_fastjson_form() -> anyhow::Result<()> {
    // Goal: GET_BROKER_CLUSTER_INFO as Java writes it (unquoted brokerAddrs keys), parseable.
    let (_dir, namesrv, client) = started_with_broker().await?;
    let response = call(
        &client,
        &namesrv.addr,
        RemotingCommand::request(RequestCode::GetBrokerClusterInfo),
    )
    .await?;
    let text = String::from_utf8_lossy(&response.body.to_bytes()).into_owned();
    assert!(text.contains(r#""brokerAddrs":{0:"a:1"}"#), "{text}");
    assert!(
        text.contains(r#""clusterAddrTable":{"DefaultCluster":["broker-a"]}"#),
        "{text}"
    );
    namesrv.stop().await
}

#[tokio::test]
async fn topic_lists_answer_and_can_be_disabled() -> anyhow::Result<()> {
    // Goal: GET_ALL_TOPIC_LIST, GET_TOPICS_BY_CLUSTER, GET_SYSTEM_TOPIC_LIST contents, and the
    // "disable" answer when turned off. Method: one broker, then UPDATE_NAMESRV_CONFIG.
    let (_dir, namesrv, client) = started_with_broker().await?;
    let all = topic_list(
        &client,
        &namesrv.addr,
        RemotingCommand::request(RequestCode::GetAllTopicListFromNameserver),
    )
    .await?;
    assert_eq!(all.topic_list.iter().collect::<Vec<_>>(), vec!["TBW102", "TopicA"]);
    let by_cluster = |cluster: &str| {
        RemotingCommand::request(RequestCode::GetTopicsByCluster).with_header(&GetTopicsByClusterRequestHeader {
            cluster: cluster.to_owned(),
        })
    };
    assert_eq!(
        topic_list(&client, &namesrv.addr, by_cluster(CLUSTER))
            .await?
            .topic_list
            .len(),
        2
    );
    assert!(topic_list(&client, &namesrv.addr, by_cluster("Other"))
        .await?
        .topic_list
        .is_empty());
    let system = topic_list(
        &client,
        &namesrv.addr,
        RemotingCommand::request(RequestCode::GetSystemTopicListFromNs),
    )
    .await?;
    assert_eq!(
        system.topic_list.iter().collect::<Vec<_>>(),
        vec!["DefaultCluster", "broker-a"]
    );
    assert_eq!(system.broker_addr.as_deref(), Some("a:1"));

    let update = RemotingCommand::request(RequestCode::UpdateNamesrvConfig)
        .with_body(b"enableAllTopicList=false\nenableTopicList=false\n".to_vec());
    assert_eq!(call(&client, &namesrv.addr, update).await?.code, 0);
    let disabled = call(
        &client,
        &namesrv.addr,
        RemotingCommand::request(RequestCode::GetAllTopicListFromNameserver),
    )
    .await?;
    assert_eq!(disabled.response_code_enum(), ResponseCode::SystemError);
    assert_eq!(disabled.remark.as_deref(), Some("disable"));
    let disabled = call(&client, &namesrv.addr, by_cluster(CLUSTER)).await?;
    assert_eq!(disabled.remark.as_deref(), Some("disable"));
    namesrv.stop().await
}

#[tokio::test]
async fn write_permission_is_wiped_and_added_with_counts() -> anyhow::Result<()> {
    // Goal: WIPE/ADD_WRITE_PERM_OF_BROKER answer counts and change the route's perm.
    let (_dir, namesrv, client) = started_with_broker().await?;
    let wipe =
        RemotingCommand::request(RequestCode::WipeWritePermOfBroker).with_header(&WipeWritePermOfBrokerRequestHeader {
            broker_name: "broker-a".into(),
        });
    let response = call(&client, &namesrv.addr, wipe).await?;
    assert_eq!(
        response
            .decode_header::<WipeWritePermOfBrokerResponseHeader>()?
            .wipe_topic_count,
        2
    );
    let route: TopicRouteData = decode_body(
        &call(&client, &namesrv.addr, route_request("TopicA", 475, None))
            .await?
            .body
            .to_bytes(),
    )?;
    assert_eq!(route.queue_datas[0].perm, 4);
    let add =
        RemotingCommand::request(RequestCode::AddWritePermOfBroker).with_header(&AddWritePermOfBrokerRequestHeader {
            broker_name: "broker-a".into(),
        });
    let response = call(&client, &namesrv.addr, add).await?;
    assert_eq!(
        response
            .decode_header::<AddWritePermOfBrokerResponseHeader>()?
            .add_topic_count,
        2
    );
    let route: TopicRouteData = decode_body(
        &call(&client, &namesrv.addr, route_request("TopicA", 475, None))
            .await?
            .body
            .to_bytes(),
    )?;
    assert_eq!(route.queue_datas[0].perm, 6);
    namesrv.stop().await
}

#[tokio::test]
async fn topics_are_deleted_and_registered_by_admin_requests() -> anyhow::Result<()> {
    // Goal: DELETE_TOPIC_IN_NAMESRV removes a route; REGISTER_TOPIC_IN_NAMESRV adds one for a
    // known broker. Method: delete TopicA, register TopicN, read both routes.
    let (_dir, namesrv, client) = started_with_broker().await?;
    let delete =
        RemotingCommand::request(RequestCode::DeleteTopicInNamesrv).with_header(&DeleteTopicFromNamesrvRequestHeader {
            topic: "TopicA".into(),
            cluster_name: Some(CLUSTER.into()),
        });
    assert_eq!(call(&client, &namesrv.addr, delete).await?.code, 0);
    let gone = call(&client, &namesrv.addr, route_request("TopicA", 475, None)).await?;
    assert_eq!(gone.response_code_enum(), ResponseCode::TopicNotExist);

    let route = TopicRouteData {
        queue_datas: vec![QueueData {
            broker_name: "broker-a".into(),
            perm: 6,
            read_queue_nums: 2,
            topic_sys_flag: 0,
            write_queue_nums: 2,
        }],
        ..TopicRouteData::default()
    };
    let register = RemotingCommand::request(RequestCode::RegisterTopicInNamesrv)
        .with_header(&RegisterTopicRequestHeader { topic: "TopicN".into() })
        .with_body(encode_body(&route));
    assert_eq!(call(&client, &namesrv.addr, register).await?.code, 0);
    let found: TopicRouteData = decode_body(
        &call(&client, &namesrv.addr, route_request("TopicN", 475, None))
            .await?
            .body
            .to_bytes(),
    )?;
    assert_eq!(found.queue_datas[0].read_queue_nums, 2);
    namesrv.stop().await
}

#[tokio::test]
async fn unknown_code_is_not_supported_and_the_connection_stays_open() -> anyhow::Result<()> {
    // Goal: REQUEST_CODE_NOT_SUPPORTED (3) with Java's remark for a broker-only code, then the
    // same connection keeps serving. Method: send SEND_MESSAGE (10), then a route request.
    let (_dir, namesrv, client) = started_with_broker().await?;
    let response = call(
        &client,
        &namesrv.addr,
        RemotingCommand::request(RequestCode::SendMessage),
    )
    .await?;
    assert_eq!(response.response_code_enum(), ResponseCode::RequestCodeNotSupported);
    assert_eq!(response.remark.as_deref(), Some(" request type 10 not supported"));
    let ok = call(&client, &namesrv.addr, route_request("TopicA", 475, None)).await?;
    assert_eq!(ok.response_code_enum(), ResponseCode::Success);
    namesrv.stop().await
}

#[tokio::test]
async fn rocketmq_binary_header_requests_are_served() -> anyhow::Result<()> {
    // Goal: requests with ROCKETMQ (binary) headers work like JSON ones. Method: route request
    // serialized as ROCKETMQ.
    let (_dir, namesrv, client) = started_with_broker().await?;
    let mut request = route_request("TopicA", 475, None);
    request.serialize_type = SerializeType::RocketMq;
    let response = call(&client, &namesrv.addr, request).await?;
    assert_eq!(response.response_code_enum(), ResponseCode::Success);
    let route: TopicRouteData = decode_body(&response.body.to_bytes())?;
    assert_eq!(route.queue_datas.len(), 1);
    namesrv.stop().await
}
