//! Name-server registration (reference 3.3, 7.2, 8 "Broker ↔ namesrv"; Java `BrokerOuterAPI`,
//! `BrokerController.registerBrokerAll`).
//!
//! REGISTER_BROKER goes to every name server at start, every `registerNameServerPeriod`, and
//! whenever the topic table changes (its DataVersion moves); the body is a JSON
//! RegisterBrokerBody with every topic config (TBW102 and `%RETRY%` topics included) and the
//! DataVersion, and `bodyCrc32` is its masked CRC-32. UNREGISTER_BROKER goes out at shutdown.
//! Name servers are called concurrently; a failing one is logged and retried next period.

use std::sync::Arc;
use std::time::Duration;

use ferromq_protocol::body::RegisterBrokerBody;
use ferromq_protocol::header::namesrv::{RegisterBrokerRequestHeader, UnregisterBrokerRequestHeader};
use ferromq_protocol::message::masked_crc32;
use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::{CancellationToken, RemotingClient};
use futures_util::future::join_all;

use crate::broker::Broker;

/// Timeout of UNREGISTER_BROKER at shutdown (Java: 3 s).
pub const UNREGISTER_TIMEOUT: Duration = Duration::from_secs(3);

/// Sends REGISTER_BROKER to every name server; returns how many accepted it.
pub async fn register_all(broker: &Broker, client: &RemotingClient) -> usize {
    let config = broker.config();
    let addrs = config.namesrv_addrs();
    if addrs.is_empty() {
        return 0;
    }
    let body = RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: broker.topics.snapshot(),
    }
    .encode(false);
    let ha_ip = if config.broker_ip2.is_empty() {
        broker.store_host.ip().to_string()
    } else {
        config.broker_ip2.clone()
    };
    let header = RegisterBrokerRequestHeader {
        broker_name: config.broker_name.clone(),
        broker_addr: broker.broker_addr(),
        cluster_name: config.broker_cluster_name.clone(),
        ha_server_addr: format!("{ha_ip}:{}", broker.store_host.port().saturating_add(1)),
        broker_id: config.broker_id,
        heartbeat_timeout_millis: None,
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: Some(masked_crc32(&body)),
    };
    let request = RemotingCommand::request(RequestCode::RegisterBroker)
        .with_header(&header)
        .with_body(body);
    let timeout = Duration::from_millis(config.register_broker_timeout_mills);
    let calls = addrs.iter().map(|addr| {
        let request = request.clone();
        async move {
            match client.invoke(addr, request, timeout).await {
                Ok(response) if response.code == ResponseCode::Success.as_i32() => true,
                Ok(response) => {
                    tracing::warn!(namesrv = %addr, code = response.code, remark = ?response.remark, "REGISTER_BROKER refused");
                    false
                }
                Err(error) => {
                    tracing::warn!(namesrv = %addr, %error, "REGISTER_BROKER failed");
                    false
                }
            }
        }
    });
    let accepted = join_all(calls).await.into_iter().filter(|ok| *ok).count();
    tracing::debug!(accepted, of = addrs.len(), "registered with name servers");
    accepted
}

/// Sends UNREGISTER_BROKER to every name server.
pub async fn unregister_all(broker: &Broker, client: &RemotingClient) {
    let config = broker.config();
    let header = UnregisterBrokerRequestHeader {
        broker_name: config.broker_name.clone(),
        broker_addr: broker.broker_addr(),
        cluster_name: config.broker_cluster_name.clone(),
        broker_id: config.broker_id,
    };
    let request = RemotingCommand::request(RequestCode::UnregisterBroker).with_header(&header);
    let calls = config.namesrv_addrs().into_iter().map(|addr| {
        let request = request.clone();
        async move {
            if let Err(error) = client.invoke(&addr, request, UNREGISTER_TIMEOUT).await {
                tracing::warn!(namesrv = %addr, %error, "UNREGISTER_BROKER failed");
            }
        }
    });
    join_all(calls).await;
}

/// Registers at start, every period and on topic changes, until `stop` is cancelled.
pub async fn run_registration(broker: Arc<Broker>, client: RemotingClient, stop: CancellationToken) {
    let mut topic_changes = broker.topics.subscribe();
    register_all(&broker, &client).await;
    loop {
        let period = broker.config().register_period();
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(period) => {}
            changed = topic_changes.changed() => {
                if changed.is_err() {
                    return;
                }
                // Coalesce a burst of topic creations into one registration.
                topic_changes.borrow_and_update();
            }
        }
        register_all(&broker, &client).await;
    }
}
