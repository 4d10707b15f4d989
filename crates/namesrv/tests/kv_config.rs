//! KV config and name server config requests over real sockets, and KV persistence across a
//! restart.

mod common;

use common::*;
use ferromq_namesrv::properties::parse_properties;
use ferromq_protocol::body::{decode_body, KvTable};
use ferromq_protocol::header::namesrv::{
    DeleteKvConfigRequestHeader, GetKvConfigRequestHeader, GetKvConfigResponseHeader,
    GetKvListByNamespaceRequestHeader, PutKvConfigRequestHeader,
};
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::RemotingClient;

fn put(namespace: &str, key: &str, value: &str) -> RemotingCommand {
    RemotingCommand::request(RequestCode::PutKvConfig).with_header(&PutKvConfigRequestHeader {
        namespace: namespace.into(),
        key: key.into(),
        value: value.into(),
    })
}

fn get(namespace: &str, key: &str) -> RemotingCommand {
    RemotingCommand::request(RequestCode::GetKvConfig).with_header(&GetKvConfigRequestHeader {
        namespace: namespace.into(),
        key: key.into(),
    })
}

fn list(namespace: &str) -> RemotingCommand {
    RemotingCommand::request(RequestCode::GetKvlistByNamespace).with_header(&GetKvListByNamespaceRequestHeader {
        namespace: namespace.into(),
    })
}

async fn value_of(client: &RemotingClient, addr: &str, namespace: &str, key: &str) -> anyhow::Result<Option<String>> {
    let response = call(client, addr, get(namespace, key)).await?;
    match response.response_code_enum() {
        ResponseCode::Success => Ok(response.decode_header::<GetKvConfigResponseHeader>()?.value),
        ResponseCode::QueryNotFound => Ok(None),
        other => anyhow::bail!("unexpected {other}"),
    }
}

#[tokio::test]
async fn kv_put_get_delete_and_list() -> anyhow::Result<()> {
    // Goal: PUT/GET/DELETE_KV_CONFIG and GET_KVLIST_BY_NAMESPACE semantics, QUERY_NOT_FOUND for
    // absent keys and namespaces. Method: a sequence of requests.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    let addr = namesrv.addr.clone();
    let missing = call(&client, &addr, get("ns", "k")).await?;
    assert_eq!(missing.response_code_enum(), ResponseCode::QueryNotFound);
    assert_eq!(missing.remark.as_deref(), Some("No config item, Namespace: ns Key: k"));
    assert_eq!(
        call(&client, &addr, list("ns")).await?.response_code_enum(),
        ResponseCode::QueryNotFound
    );

    assert_eq!(call(&client, &addr, put("ns", "k", "v1")).await?.code, 0);
    assert_eq!(call(&client, &addr, put("ns", "k", "v2")).await?.code, 0);
    assert_eq!(call(&client, &addr, put("ns", "k2", "x")).await?.code, 0);
    assert_eq!(value_of(&client, &addr, "ns", "k").await?.as_deref(), Some("v2"));
    let table: KvTable = decode_body(&call(&client, &addr, list("ns")).await?.body.to_bytes())?;
    assert_eq!(table.table.len(), 2);

    let delete = RemotingCommand::request(RequestCode::DeleteKvConfig).with_header(&DeleteKvConfigRequestHeader {
        namespace: "ns".into(),
        key: "k".into(),
    });
    assert_eq!(call(&client, &addr, delete).await?.code, 0);
    assert_eq!(value_of(&client, &addr, "ns", "k").await?, None);
    assert_eq!(value_of(&client, &addr, "ns", "k2").await?.as_deref(), Some("x"));
    namesrv.stop().await
}

#[tokio::test]
async fn kv_config_survives_a_restart() -> anyhow::Result<()> {
    // Goal: KV changes are persisted before SUCCESS and loaded at start. Method: put and delete
    // on one server, stop it, start another on the same kvConfigPath, read.
    let dir = temp_dir()?;
    let first = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    call(&client, &first.addr, put("ORDER_TOPIC_CONFIG", "TopicA", "broker-a:4")).await?;
    call(&client, &first.addr, put("ns", "gone", "1")).await?;
    let delete = RemotingCommand::request(RequestCode::DeleteKvConfig).with_header(&DeleteKvConfigRequestHeader {
        namespace: "ns".into(),
        key: "gone".into(),
    });
    call(&client, &first.addr, delete).await?;
    first.stop().await?;
    assert!(kv_path(dir.path()).exists());

    let second = TestNamesrv::start(config_in(dir.path())).await?;
    assert_eq!(
        value_of(&client, &second.addr, "ORDER_TOPIC_CONFIG", "TopicA")
            .await?
            .as_deref(),
        Some("broker-a:4")
    );
    assert_eq!(value_of(&client, &second.addr, "ns", "gone").await?, None);
    second.stop().await
}

#[tokio::test]
async fn namesrv_config_is_read_and_updated_as_properties() -> anyhow::Result<()> {
    // Goal: GET/UPDATE_NAMESRV_CONFIG: properties text, typed parsing, black list refused with
    // NO_PERMISSION, bad values refused with nothing changed. Method: requests and reads back.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let client = client()?;
    let addr = namesrv.addr.clone();
    let read = |response: RemotingCommand| parse_properties(&String::from_utf8_lossy(&response.body.to_bytes()));
    let before = read(call(&client, &addr, RemotingCommand::request(RequestCode::GetNamesrvConfig)).await?);
    assert_eq!(before.get("listenPort").map(String::as_str), Some("9876"));
    assert_eq!(before.get("orderMessageEnable").map(String::as_str), Some("false"));

    let update =
        |text: &str| RemotingCommand::request(RequestCode::UpdateNamesrvConfig).with_body(text.as_bytes().to_vec());
    let ok = call(
        &client,
        &addr,
        update("orderMessageEnable=true\nscanNotActiveBrokerInterval=2000"),
    )
    .await?;
    assert_eq!(ok.response_code_enum(), ResponseCode::Success);
    let black = call(&client, &addr, update("kvConfigPath=/tmp/elsewhere.json")).await?;
    assert_eq!(black.response_code_enum(), ResponseCode::NoPermission);
    let bad = call(
        &client,
        &addr,
        update("productEnvName=x\nscanNotActiveBrokerInterval=often"),
    )
    .await?;
    assert_eq!(bad.response_code_enum(), ResponseCode::SystemError);
    assert!(bad.remark.unwrap_or_default().contains("scanNotActiveBrokerInterval"));

    let after = read(call(&client, &addr, RemotingCommand::request(RequestCode::GetNamesrvConfig)).await?);
    assert_eq!(after.get("orderMessageEnable").map(String::as_str), Some("true"));
    assert_eq!(
        after.get("scanNotActiveBrokerInterval").map(String::as_str),
        Some("2000")
    );
    assert_eq!(after.get("productEnvName").map(String::as_str), Some("center"));
    assert_eq!(after.get("kvConfigPath"), before.get("kvConfigPath"));
    namesrv.stop().await
}
