//! GET_ROUTEINFO_BY_TOPIC (105, `ClientRequestProcessor`) and GET_BROKER_CLUSTER_INFO (106).

use ferromq_protocol::body::{to_fastjson_string, wants_standard_json};
use ferromq_protocol::header::namesrv::GetRouteInfoRequestHeader;
use ferromq_protocol::{RemotingCommand, ResponseCode};

use super::success;
use crate::error::RequestError;
use crate::kv_config::NAMESPACE_ORDER_TOPIC_CONFIG;
use crate::state::NamesrvState;

/// Java's `FAQUrl.suggestTodo(APPLY_TOPIC_URL)`, appended to TOPIC_NOT_EXIST remarks.
pub const APPLY_TOPIC_SUGGESTION: &str =
    "\nSee https://rocketmq.apache.org/docs/bestPractice/06FAQ for further details.";

/// GET_ROUTEINFO_BY_TOPIC: body TopicRouteData, with map keys quoted for requesters of
/// version 397 and up or with `acceptStandardJsonOnly` (else fastjson's unquoted form);
/// `orderTopicConf` from KV namespace ORDER_TOPIC_CONFIG when `orderMessageEnable`;
/// TOPIC_NOT_EXIST when no broker serves the topic.
pub fn get_routeinfo_by_topic(
    state: &NamesrvState,
    request: &RemotingCommand,
) -> Result<RemotingCommand, RequestError> {
    let (need_wait, wait_seconds, support_acting_master, order_message_enable) = state.with_config(|config| {
        (
            config.need_wait_for_service,
            config.wait_seconds_for_service,
            config.support_acting_master,
            config.order_message_enable,
        )
    });
    let wait = std::time::Duration::from_secs(u64::try_from(wait_seconds).unwrap_or(0));
    if need_wait && state.uptime() < wait {
        return Err(RequestError::NotReady);
    }
    let header: GetRouteInfoRequestHeader = request.decode_header()?;
    let Some(mut route) = state
        .route_info
        .pickup_topic_route_data(&header.topic, support_acting_master)
    else {
        return Ok(
            RemotingCommand::response_to(request, ResponseCode::TopicNotExist).with_remark(format!(
                "No topic route info in name server for the topic: {}{}",
                header.topic, APPLY_TOPIC_SUGGESTION
            )),
        );
    };
    if order_message_enable {
        route.order_topic_conf = state.kv_config.get(NAMESPACE_ORDER_TOPIC_CONFIG, &header.topic);
    }
    let standard_json = wants_standard_json(request.version, header.accept_standard_json_only.unwrap_or(false));
    Ok(success(request).with_body(route.encode(standard_json)))
}

/// GET_BROKER_CLUSTER_INFO: body ClusterInfo, in fastjson's form (unquoted brokerAddrs keys)
/// as the Java name server writes it whatever the requester's version.
pub fn get_broker_cluster_info(
    state: &NamesrvState,
    request: &RemotingCommand,
) -> Result<RemotingCommand, RequestError> {
    let info = state.route_info.cluster_info();
    Ok(success(request).with_body(to_fastjson_string(&info).into_bytes()))
}
