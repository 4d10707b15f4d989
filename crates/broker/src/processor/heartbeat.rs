//! Client management (reference 3.4, 8; Java `ClientManageProcessor`, `ConsumerManageProcessor`):
//! HEART_BEAT (34), UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38),
//! CHECK_CLIENT_CONFIG (46).
//!
//! A heartbeat registers each consumer group (auto-creating the group config and its
//! `%RETRY%<group>` topic) and each producer group for the connection, and starts watching the
//! connection so its close unregisters it. When a group's membership changes, every channel of
//! the group gets NOTIFY_CONSUMER_IDS_CHANGED (oneway). The answer carries the broker's version
//! (475) and no `IS_SUPPORT_HEART_BEAT_V2`, so clients stay on v1 heartbeats.

use std::sync::Arc;

use ferromq_protocol::body::encode_body;
use ferromq_protocol::body::{
    CheckClientRequestBody, ExpressionType, GetConsumerListByGroupResponseBody, HeartbeatData,
};
use ferromq_protocol::header::client::{GetConsumerListByGroupRequestHeader, UnregisterClientRequestHeader};
use ferromq_protocol::RemotingCommand;
use ferromq_remoting::RequestContext;

use crate::broker::{notify_consumer_ids_changed, Broker};
use crate::consumers::{ClientChannel, ConsumerRegistration};
use crate::error::BrokerError;
use crate::processor::{body, success};
use crate::topics::{PERM_READ, PERM_WRITE};
use crate::util::now_ms;
use crate::validate::retry_topic;

/// HEART_BEAT (34).
pub async fn heart_beat(
    broker: Arc<Broker>,
    ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let data: HeartbeatData = body(&request)?;
    let channel = ClientChannel {
        connection: ctx.connection().clone(),
        client_id: data.client_id,
        language: request.language,
        version: request.version,
        last_update_ms: now_ms(),
    };
    broker.watch_connection(ctx.connection());

    for consumer in data.consumer_data_set {
        let group = consumer.group_name;
        let mut notify = true;
        if let Some(group_config) = broker.groups.find_or_create(&group) {
            notify = group_config.notify_consumer_ids_changed_enable;
            broker.topics.create_in_send_back(
                &retry_topic(&group),
                group_config.retry_queue_nums,
                PERM_READ | PERM_WRITE,
                0,
            );
        }
        let registration = ConsumerRegistration {
            channel: channel.clone(),
            consume_type: consumer.consume_type,
            message_model: consumer.message_model,
            consume_from_where: consumer.consume_from_where,
            subscriptions: consumer.subscription_data_set,
        };
        if let Some(connections) = broker.consumers.register(&group, registration) {
            tracing::info!(%group, client_id = %channel.client_id, "consumer group membership changed");
            if notify {
                notify_consumer_ids_changed(&group, connections);
            }
        }
    }
    for producer in data.producer_data_set {
        broker.producers.register(&producer.group_name, channel.clone());
    }
    Ok(success(&request))
}

/// UNREGISTER_CLIENT (35).
pub async fn unregister_client(
    broker: Arc<Broker>,
    ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: UnregisterClientRequestHeader = request.decode_header()?;
    let id = ctx.connection().id();
    if let Some(group) = header.producer_group.as_deref().filter(|g| !g.is_empty()) {
        broker.producers.unregister(group, id);
    }
    if let Some(group) = header.consumer_group.as_deref().filter(|g| !g.is_empty()) {
        if let Some(change) = broker.consumers.unregister(group, id) {
            tracing::info!(%group, client_id = %header.client_id, "consumer unregistered");
            broker.notify_group_change(change);
        }
    }
    Ok(success(&request))
}

/// GET_CONSUMER_LIST_BY_GROUP (38).
pub async fn get_consumer_list_by_group(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: GetConsumerListByGroupRequestHeader = request.decode_header()?;
    let consumer_id_list = broker.consumers.client_ids(&header.consumer_group);
    if consumer_id_list.is_empty() {
        return Err(BrokerError::NoConsumerInGroup {
            group: header.consumer_group,
        });
    }
    let body = GetConsumerListByGroupResponseBody { consumer_id_list };
    Ok(success(&request).with_body(encode_body(&body)))
}

/// CHECK_CLIENT_CONFIG (46): TAG subscriptions pass; others are refused like a Java broker
/// with `enablePropertyFilter=false` (FerroMQ has no SQL92 evaluator).
pub async fn check_client_config(
    _broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    if request.body.is_empty() {
        return Ok(success(&request));
    }
    let check: CheckClientRequestBody = body(&request)?;
    match check.subscription_data.expression_type {
        ExpressionType::Tag => Ok(success(&request)),
        other => Err(BrokerError::FilterNotSupported {
            expression_type: String::from(other),
        }),
    }
}
