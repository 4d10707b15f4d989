//! Topic administration (Java `AdminBrokerProcessor`): UPDATE_AND_CREATE_TOPIC (17),
//! DELETE_TOPIC_IN_BROKER (215), GET_ALL_TOPIC_CONFIG (21), GET_TOPIC_CONFIG (351).
//!
//! A created or changed topic bumps the topic DataVersion, which makes the registrar
//! re-register with the name servers and the persister rewrite `topics.json`.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferromq_protocol::body::{encode_body, TopicConfig, TopicFilterType};
use ferromq_protocol::header::admin::{
    CreateTopicRequestHeader, DeleteTopicRequestHeader, GetTopicConfigRequestHeader,
};
use ferromq_protocol::RemotingCommand;
use ferromq_remoting::RequestContext;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::processor::success;
use crate::topics::MAX_QUEUE_NUMS;
use crate::validate::validate_topic_name;

fn invalid(reason: impl Into<String>) -> BrokerError {
    BrokerError::InvalidParameter { reason: reason.into() }
}

/// Parses 5.x topic attributes (`+message.type=NORMAL,+k=v`); `-k` deletions are ignored.
fn parse_attributes(text: &str) -> Result<BTreeMap<String, String>, BrokerError> {
    let mut attributes = BTreeMap::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if let Some(rest) = entry.strip_prefix('+') {
            let (key, value) = rest
                .split_once('=')
                .ok_or_else(|| invalid(format!("attribute {entry:?} is not +key=value")))?;
            attributes.insert(key.to_owned(), value.to_owned());
        } else if !entry.starts_with('-') {
            return Err(invalid(format!("attribute {entry:?} must start with + or -")));
        }
    }
    Ok(attributes)
}

/// UPDATE_AND_CREATE_TOPIC (17).
pub async fn update_and_create_topic(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: CreateTopicRequestHeader = request.decode_header()?;
    let topic = header.topic.clone();
    validate_topic_name(&topic).map_err(|reason| invalid(format!("topic {topic:?}: {reason}")))?;
    if broker.topics.is_system_topic(&topic) {
        return Err(BrokerError::SystemTopicConflict { topic });
    }
    for (name, value) in [
        ("readQueueNums", header.read_queue_nums),
        ("writeQueueNums", header.write_queue_nums),
    ] {
        if !(0..=MAX_QUEUE_NUMS).contains(&value) {
            return Err(invalid(format!("{name} {value} is outside [0, {MAX_QUEUE_NUMS}]")));
        }
    }
    if !(0..=0xF).contains(&header.perm) {
        return Err(invalid(format!("perm {} is outside [0, 15]", header.perm)));
    }
    let topic_filter_type = TopicFilterType::from_name(&header.topic_filter_type)
        .ok_or_else(|| invalid(format!("topicFilterType {:?} is unknown", header.topic_filter_type)))?;
    let attributes = match header.attributes.as_deref() {
        Some(text) => parse_attributes(text)?,
        None => broker.topics.get(&topic).map(|t| t.attributes).unwrap_or_default(),
    };
    let config = TopicConfig {
        attributes,
        order: header.order,
        perm: header.perm,
        read_queue_nums: header.read_queue_nums,
        topic_filter_type,
        topic_name: topic.clone(),
        topic_sys_flag: header.topic_sys_flag.unwrap_or(0),
        write_queue_nums: header.write_queue_nums,
    };
    tracing::info!(%topic, read = config.read_queue_nums, write = config.write_queue_nums, perm = config.perm, "topic created or updated by admin");
    broker.topics.update(config);
    Ok(success(&request))
}

/// DELETE_TOPIC_IN_BROKER (215): removes the topic config, the consumer offsets on it and its
/// ConsumeQueues (Java `deleteTopics`); its next message starts at queue offset 0. The stored
/// records stay until retention removes their CommitLog files.
pub async fn delete_topic_in_broker(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: DeleteTopicRequestHeader = request.decode_header()?;
    let topic = header.topic;
    if topic.trim().is_empty() {
        return Err(invalid("The specified topic is blank."));
    }
    if broker.topics.is_system_topic(&topic) {
        return Err(BrokerError::SystemTopicConflict { topic });
    }
    if broker.topics.delete(&topic) {
        tracing::info!(%topic, "topic deleted by admin");
    }
    broker.offsets.remove_topic(&topic);
    broker.metrics.group_gets.forget(Some(&topic), None);
    // File deletion and a CommitLog flush: blocking work, off the runtime threads.
    let store = Arc::clone(&broker.store);
    let name = topic.clone();
    let deleted = tokio::task::spawn_blocking(move || store.delete_topic(&name))
        .await
        .map_err(|_| BrokerError::ShuttingDown)??;
    tracing::info!(%topic, files = deleted, "topic's ConsumeQueues deleted by admin");
    Ok(success(&request))
}

/// GET_ALL_TOPIC_CONFIG (21): every topic with the DataVersion.
pub async fn get_all_topic_config(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    Ok(success(&request).with_body(encode_body(&broker.topics.snapshot())))
}

/// GET_TOPIC_CONFIG (351): one topic (a TopicConfigAndQueueMapping without mapping).
pub async fn get_topic_config(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: GetTopicConfigRequestHeader = request.decode_header()?;
    let config = broker
        .topics
        .get(&header.topic)
        .ok_or(BrokerError::TopicNotExist { topic: header.topic })?;
    Ok(success(&request).with_body(encode_body(&config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: 5.x attribute strings parse; malformed ones are refused. Method: a table.
    #[test]
    fn attributes_parse_plus_entries_and_refuse_garbage() {
        let parsed = parse_attributes("+message.type=NORMAL, +a=b,-c").unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed["message.type"], "NORMAL");
        assert!(parse_attributes("+novalue").is_err());
        assert!(parse_attributes("x=y").is_err());
        assert!(parse_attributes("").unwrap().is_empty());
    }
}
