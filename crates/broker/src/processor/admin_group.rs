//! Subscription group administration (Java `AdminBrokerProcessor`):
//! UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200), GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201),
//! DELETE_SUBSCRIPTIONGROUP (207), GET_SUBSCRIPTIONGROUP_CONFIG (352).

use std::sync::Arc;

use ferromq_protocol::body::{encode_body, SubscriptionGroupConfig};
use ferromq_protocol::header::admin::{DeleteSubscriptionGroupRequestHeader, GetSubscriptionGroupConfigRequestHeader};
use ferromq_protocol::RemotingCommand;
use ferromq_remoting::RequestContext;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::processor::{body, success};
use crate::validate::validate_group_name;

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200).
pub async fn update_and_create_subscription_group(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let config: SubscriptionGroupConfig = body(&request)?;
    validate_group_name(&config.group_name).map_err(|reason| BrokerError::InvalidParameter {
        reason: format!("group {:?}: {reason}", config.group_name),
    })?;
    if config.retry_queue_nums < 0 || config.retry_max_times < -1 {
        return Err(BrokerError::InvalidParameter {
            reason: "retryQueueNums must be >= 0 and retryMaxTimes >= -1".to_owned(),
        });
    }
    tracing::info!(group = %config.group_name, "subscription group created or updated by admin");
    broker.groups.update(config);
    Ok(success(&request))
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201).
pub async fn get_all_subscription_group_config(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    Ok(success(&request).with_body(encode_body(&broker.groups.snapshot())))
}

/// DELETE_SUBSCRIPTIONGROUP (207): with `cleanOffset`, the group's offsets go too.
pub async fn delete_subscription_group(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: DeleteSubscriptionGroupRequestHeader = request.decode_header()?;
    broker.groups.delete(&header.group_name);
    broker.metrics.group_gets.forget(None, Some(&header.group_name));
    if header.clean_offset == Some(true) {
        broker.offsets.remove_group(&header.group_name);
    }
    Ok(success(&request))
}

/// GET_SUBSCRIPTIONGROUP_CONFIG (352).
pub async fn get_subscription_group_config(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: GetSubscriptionGroupConfigRequestHeader = request.decode_header()?;
    let config = broker
        .groups
        .get(&header.group)
        .ok_or(BrokerError::SubscriptionGroupNotExist { group: header.group })?;
    Ok(success(&request).with_body(encode_body(&config)))
}
