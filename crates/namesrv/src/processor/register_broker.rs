//! REGISTER_BROKER (103), UNREGISTER_BROKER (104), QUERY_DATA_VERSION (322) and
//! BROKER_HEARTBEAT (904): the broker side of the name server.
//!
//! REGISTER_BROKER checks `bodyCrc32` (masked crc32 of the body as sent; 0 = unchecked) before
//! anything else, decodes a RegisterBrokerBody (JSON, or compressed when `compressed=true`) from
//! brokers of version >= V3_0_11 (33) and a bare TopicConfigSerializeWrapper from older ones, and
//! answers with the master's addresses (for slaves) and the ORDER_TOPIC_CONFIG KV table.

use ferromq_protocol::body::{decode_body, encode_body, DataVersion, RegisterBrokerBody, TopicConfigSerializeWrapper};
use ferromq_protocol::header::namesrv::{
    BrokerHeartbeatRequestHeader, QueryDataVersionRequestHeader, QueryDataVersionResponseHeader,
    RegisterBrokerRequestHeader, RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader,
};
use ferromq_protocol::message::masked_crc32;
use ferromq_protocol::RemotingCommand;
use tokio::time::Instant;

use super::success;
use crate::error::RequestError;
use crate::kv_config::NAMESPACE_ORDER_TOPIC_CONFIG;
use crate::route_info::{BrokerRegistration, UnregisterRequest};
use crate::state::NamesrvState;

/// First broker version (`V3_0_11`) whose REGISTER_BROKER body is a RegisterBrokerBody.
pub const REGISTER_BROKER_BODY_MIN_VERSION: i32 = 33;

/// Ext field carrying the broker's zone (`MixAll.ZONE_NAME`).
pub const ZONE_NAME_FIELD: &str = "zoneName";

/// The DataVersion Java assumes for a registration without a body.
fn empty_wrapper() -> TopicConfigSerializeWrapper {
    TopicConfigSerializeWrapper {
        data_version: DataVersion::new(0),
        ..TopicConfigSerializeWrapper::default()
    }
}

/// REGISTER_BROKER.
pub fn register_broker(
    state: &NamesrvState,
    request: &RemotingCommand,
    connection_id: Option<u64>,
) -> Result<RemotingCommand, RequestError> {
    let header: RegisterBrokerRequestHeader = request.decode_header()?;
    let body = request.body.to_bytes();
    let expected = header.body_crc32.unwrap_or(0);
    if expected != 0 {
        let computed = masked_crc32(&body);
        if computed != expected {
            tracing::warn!(broker = %header.broker_name, addr = %header.broker_addr, expected, computed, "register broker: crc32 not match");
            return Err(RequestError::Crc32Mismatch { expected, computed });
        }
    }

    let (topic_config_wrapper, filter_server_list) = if request.version >= REGISTER_BROKER_BODY_MIN_VERSION {
        if body.is_empty() {
            (empty_wrapper(), Some(Vec::new()))
        } else {
            let decoded = RegisterBrokerBody::decode(&body, header.compressed.unwrap_or(false)).map_err(|source| {
                RequestError::Body {
                    what: "RegisterBrokerBody",
                    source,
                }
            })?;
            (decoded.topic_config_serialize_wrapper, Some(decoded.filter_server_list))
        }
    } else if body.is_empty() {
        (empty_wrapper(), None)
    } else {
        let wrapper = decode_body::<TopicConfigSerializeWrapper>(&body).map_err(|source| RequestError::Body {
            what: "TopicConfigSerializeWrapper",
            source,
        })?;
        (wrapper, None)
    };

    let (delete_topics, return_order_config) = state.with_config(|config| {
        (
            config.delete_topic_with_broker_registration,
            config.return_order_topic_config_to_broker,
        )
    });
    let registration = BrokerRegistration {
        cluster_name: header.cluster_name,
        broker_addr: header.broker_addr,
        broker_name: header.broker_name,
        broker_id: header.broker_id,
        ha_server_addr: header.ha_server_addr,
        zone_name: request.ext_field(ZONE_NAME_FIELD).map(str::to_owned),
        heartbeat_timeout_ms: header.heartbeat_timeout_millis,
        enable_acting_master: header.enable_acting_master,
        topic_config_wrapper,
        filter_server_list,
        connection_id,
    };
    let result = state
        .route_info
        .register_broker(registration, delete_topics, Instant::now())?;

    let mut response = success(request).with_header(&RegisterBrokerResponseHeader {
        ha_server_addr: result.ha_server_addr,
        master_addr: result.master_addr,
    });
    if return_order_config {
        if let Some(table) = state.kv_config.list(NAMESPACE_ORDER_TOPIC_CONFIG) {
            response = response.with_body(encode_body(&table));
        }
    }
    Ok(response)
}

/// UNREGISTER_BROKER: removes the broker address at once (Java queues it; the effect is the
/// same, only sooner).
pub fn unregister_broker(state: &NamesrvState, request: &RemotingCommand) -> Result<RemotingCommand, RequestError> {
    let header: UnregisterBrokerRequestHeader = request.decode_header()?;
    state.route_info.unregister_brokers(&[UnregisterRequest {
        cluster_name: header.cluster_name,
        broker_addr: header.broker_addr,
        broker_name: header.broker_name,
        broker_id: header.broker_id,
    }]);
    Ok(success(request))
}

/// QUERY_DATA_VERSION: → `changed` (the broker's DataVersion differs from the stored one, or
/// the broker is unknown); body = the stored DataVersion; refreshes the broker's liveness.
pub fn query_data_version(state: &NamesrvState, request: &RemotingCommand) -> Result<RemotingCommand, RequestError> {
    let header: QueryDataVersionRequestHeader = request.decode_header()?;
    let body = request.body.to_bytes();
    if body.is_empty() {
        return Err(RequestError::MissingBody { what: "DataVersion" });
    }
    let data_version: DataVersion = decode_body(&body).map_err(|source| RequestError::Body {
        what: "DataVersion",
        source,
    })?;
    let route_info = &state.route_info;
    let changed = route_info.is_broker_topic_config_changed(&header.cluster_name, &header.broker_addr, &data_version);
    route_info.refresh_broker_liveness(&header.cluster_name, &header.broker_addr, Instant::now());
    let mut response = success(request).with_header(&QueryDataVersionResponseHeader { changed });
    if let Some(stored) = route_info.query_broker_data_version(&header.cluster_name, &header.broker_addr) {
        response = response.with_body(encode_body(&stored));
    }
    Ok(response)
}

/// BROKER_HEARTBEAT: refreshes the broker's liveness.
pub fn broker_heartbeat(state: &NamesrvState, request: &RemotingCommand) -> Result<RemotingCommand, RequestError> {
    let header: BrokerHeartbeatRequestHeader = request.decode_header()?;
    state
        .route_info
        .refresh_broker_liveness(&header.cluster_name, &header.broker_addr, Instant::now());
    Ok(success(request))
}
