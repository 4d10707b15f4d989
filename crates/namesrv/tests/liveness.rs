//! Broker liveness over real sockets: expiry by heartbeat timeout, removal when the broker's
//! connection closes, and independence of several name servers in one process.

mod common;

use common::*;
use ferromq_namesrv::NamesrvConfig;
use ferromq_protocol::header::namesrv::BrokerHeartbeatRequestHeader;
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};

fn fast_scan(dir: &std::path::Path) -> NamesrvConfig {
    NamesrvConfig {
        scan_not_active_broker_interval_ms: 20,
        ..config_in(dir)
    }
}

#[tokio::test]
async fn broker_expires_after_its_heartbeat_timeout_and_its_connection_is_closed() -> anyhow::Result<()> {
    // Goal: a broker that stops registering disappears once `heartbeatTimeoutMillis` passed, a
    // broker that keeps heart-beating stays, and the expired broker's connection is closed.
    // Method: 20 ms scans; broker-a with a 300 ms timeout goes silent; broker-b (own client,
    // 300 ms timeout) sends BROKER_HEARTBEAT until broker-a is gone. Wait on cluster info.
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(fast_scan(dir.path())).await?;
    let silent = client()?;
    let alive = client()?;
    let observer = client()?;
    for (client, name, addr) in [(&silent, "broker-a", "a:1"), (&alive, "broker-b", "b:1")] {
        let mut request = register_request(name, 0, addr, &[("TopicA", 4), ("TBW102", 8)], 1, false);
        request.put_ext_field("heartbeatTimeoutMillis", "300");
        assert_eq!(
            call(client, &namesrv.addr, request).await?.response_code_enum(),
            ResponseCode::Success
        );
    }
    assert_eq!(cluster_info(&observer, &namesrv.addr).await?.broker_addr_table.len(), 2);

    let heartbeat = RemotingCommand::request(RequestCode::BrokerHeartbeat).with_header(&BrokerHeartbeatRequestHeader {
        cluster_name: CLUSTER.into(),
        broker_addr: "b:1".into(),
        broker_name: "broker-b".into(),
        broker_id: Some(0),
        ..Default::default()
    });
    wait_until("broker-a to expire", || async {
        call(&alive, &namesrv.addr, heartbeat.clone()).await?;
        let info = cluster_info(&observer, &namesrv.addr).await?;
        Ok(!info.broker_addr_table.contains_key("broker-a"))
    })
    .await?;
    let info = cluster_info(&observer, &namesrv.addr).await?;
    assert!(info.broker_addr_table.contains_key("broker-b"), "{info:?}");
    wait_until("the expired broker's connection to close", || async {
        Ok(!silent.connected_addrs().contains(&namesrv.addr))
    })
    .await?;
    namesrv.stop().await
}

#[tokio::test]
async fn closing_the_broker_connection_removes_the_broker_at_once() -> anyhow::Result<()> {
    // Goal: the connection-close notification unregisters the broker long before its 120 s
    // timeout. Method: register with the default timeout, close the client's connection, wait
    // for the broker to leave the cluster info (seen through another client).
    let dir = temp_dir()?;
    let namesrv = TestNamesrv::start(config_in(dir.path())).await?;
    let broker = client()?;
    let observer = client()?;
    let request = register_request("broker-a", 0, "a:1", &[("TopicA", 4), ("TBW102", 8)], 1, false);
    assert_eq!(call(&broker, &namesrv.addr, request).await?.code, 0);
    assert_eq!(namesrv.state.route_info.live_brokers().len(), 1);
    broker.close_connection(&namesrv.addr);
    wait_until("broker-a to be removed", || async {
        Ok(cluster_info(&observer, &namesrv.addr)
            .await?
            .broker_addr_table
            .is_empty())
    })
    .await?;
    assert!(namesrv.state.route_info.live_brokers().is_empty());
    assert!(namesrv.state.route_info.all_topic_list().topic_list.is_empty());
    namesrv.stop().await
}

#[tokio::test]
async fn name_servers_in_one_process_share_nothing() -> anyhow::Result<()> {
    // Goal: two instances are independent. Method: register on one, read both.
    let dir_one = temp_dir()?;
    let dir_two = temp_dir()?;
    let one = TestNamesrv::start(config_in(dir_one.path())).await?;
    let two = TestNamesrv::start(config_in(dir_two.path())).await?;
    let client = client()?;
    call(
        &client,
        &one.addr,
        register_request("broker-a", 0, "a:1", &[("TopicA", 4), ("TBW102", 8)], 1, false),
    )
    .await?;
    assert_eq!(cluster_info(&client, &one.addr).await?.broker_addr_table.len(), 1);
    assert!(cluster_info(&client, &two.addr).await?.broker_addr_table.is_empty());
    one.stop().await?;
    two.stop().await
}
