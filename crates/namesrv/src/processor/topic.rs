//! Topic lists and topic edits: GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206),
//! DELETE_TOPIC_IN_NAMESRV (216), REGISTER_TOPIC_IN_NAMESRV (217), GET_TOPICS_BY_CLUSTER (224),
//! GET_SYSTEM_TOPIC_LIST_FROM_NS (304).

use ferromq_protocol::body::{decode_body, encode_body, TopicRouteData};
use ferromq_protocol::header::namesrv::{
    DeleteTopicFromNamesrvRequestHeader, GetTopicsByClusterRequestHeader, RegisterTopicRequestHeader,
};
use ferromq_protocol::RemotingCommand;

use super::success;
use crate::error::RequestError;
use crate::state::NamesrvState;

/// GET_ALL_TOPIC_LIST_FROM_NAMESERVER: body TopicList; SYSTEM_ERROR "disable" unless
/// `enableAllTopicList`.
pub fn get_all_topic_list_from_nameserver(
    state: &NamesrvState,
    request: &RemotingCommand,
) -> Result<RemotingCommand, RequestError> {
    if !state.with_config(|config| config.enable_all_topic_list) {
        return Err(RequestError::Disabled);
    }
    Ok(success(request).with_body(encode_body(&state.route_info.all_topic_list())))
}

/// DELETE_TOPIC_IN_NAMESRV: the whole topic, or only its queues in `clusterName`.
pub fn delete_topic_in_namesrv(
    state: &NamesrvState,
    request: &RemotingCommand,
) -> Result<RemotingCommand, RequestError> {
    let header: DeleteTopicFromNamesrvRequestHeader = request.decode_header()?;
    state
        .route_info
        .delete_topic(&header.topic, header.cluster_name.as_deref());
    tracing::info!(topic = %header.topic, cluster = ?header.cluster_name, "topic deleted from name server");
    Ok(success(request))
}

/// REGISTER_TOPIC_IN_NAMESRV: body TopicRouteData whose `queueDatas` become the topic's route
/// if the topic is new and every broker is known. An empty body registers nothing.
pub fn register_topic_in_namesrv(
    state: &NamesrvState,
    request: &RemotingCommand,
) -> Result<RemotingCommand, RequestError> {
    let header: RegisterTopicRequestHeader = request.decode_header()?;
    let body = request.body.to_bytes();
    if !body.is_empty() {
        let route: TopicRouteData = decode_body(&body).map_err(|source| RequestError::Body {
            what: "TopicRouteData",
            source,
        })?;
        state.route_info.register_topic(&header.topic, route.queue_datas);
    }
    Ok(success(request))
}

/// GET_TOPICS_BY_CLUSTER: body TopicList; SYSTEM_ERROR "disable" unless `enableTopicList`.
pub fn get_topics_by_cluster(state: &NamesrvState, request: &RemotingCommand) -> Result<RemotingCommand, RequestError> {
    if !state.with_config(|config| config.enable_topic_list) {
        return Err(RequestError::Disabled);
    }
    let header: GetTopicsByClusterRequestHeader = request.decode_header()?;
    Ok(success(request).with_body(encode_body(&state.route_info.topics_by_cluster(&header.cluster))))
}

/// GET_SYSTEM_TOPIC_LIST_FROM_NS: body TopicList of cluster and broker names, with one broker
/// address.
pub fn get_system_topic_list_from_ns(
    state: &NamesrvState,
    request: &RemotingCommand,
) -> Result<RemotingCommand, RequestError> {
    Ok(success(request).with_body(encode_body(&state.route_info.system_topic_list())))
}
