//! Statistics and connection lists for admin tools (Java `AdminBrokerProcessor`):
//! GET_BROKER_RUNTIME_INFO (28), GET_TOPIC_STATS_INFO (202), GET_CONSUME_STATS (208),
//! GET_CONSUMER_CONNECTION_LIST (203), GET_PRODUCER_CONNECTION_LIST (204).
//!
//! MessageQueue-keyed bodies (TopicStatsTable, ConsumeStats) are written in fastjson's
//! object-keyed form, the only form Java admin tools read.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferromq_protocol::body::{
    encode_body, to_fastjson_string, ConsumeStats, KvTable, MessageQueue, OffsetWrapper, TopicOffset, TopicStatsTable,
};
use ferromq_protocol::command::CURRENT_VERSION;
use ferromq_protocol::header::admin::{
    GetConsumeStatsRequestHeader, GetConsumerConnectionListRequestHeader, GetProducerConnectionListRequestHeader,
    GetTopicStatsInfoRequestHeader,
};
use ferromq_protocol::RemotingCommand;
use ferromq_remoting::RequestContext;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::processor::consumer_offset::store_time_at;
use crate::processor::success;
use crate::util::now_ms;

/// Version name matching [`CURRENT_VERSION`].
pub const BROKER_VERSION_DESC: &str = "V5_3_3";

fn runtime_text(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    format!(
        "[ {} days, {} hours, {} minutes, {} seconds ]",
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// GET_BROKER_RUNTIME_INFO (28).
pub async fn get_broker_runtime_info(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let store = &broker.store;
    let mut table: BTreeMap<String, String> = broker.metrics.runtime_info();
    let mut put = |k: &str, v: String| {
        table.insert(k.to_owned(), v);
    };
    put("brokerVersionDesc", BROKER_VERSION_DESC.to_owned());
    put("brokerVersion", CURRENT_VERSION.to_string());
    put("bootTimestamp", broker.boot_timestamp.to_string());
    put("runtime", runtime_text(now_ms() - broker.boot_timestamp));
    put("commitLogMinOffset", store.min_phy_offset().to_string());
    put("commitLogMaxOffset", store.max_phy_offset().to_string());
    put(
        "dispatchBehindBytes",
        (store.max_phy_offset() - store.dispatched_phy_offset())
            .max(0)
            .to_string(),
    );
    put(
        "remainHowManyDataToFlush",
        (store.max_phy_offset() - store.flushed_phy_offset()).max(0).to_string(),
    );
    put("pageCacheLockTimeMills", broker.flow.busy_for().as_millis().to_string());
    put("sendThreadPoolQueueSize", broker.flow.queue_len().to_string());
    put(
        "sendThreadPoolQueueCapacity",
        broker.config().send_thread_pool_queue_capacity.to_string(),
    );
    put("pullThreadPoolQueueSize", broker.holds.held().to_string());
    put("diskFull", store.is_disk_full().to_string());
    // FerroMQ: what the CommitLog's flushes did since start (totals; diff two reads for a rate).
    let flush = store.flush_stats();
    put("commitLogSyncCount", flush.syncs.to_string());
    put("commitLogSyncBytes", flush.synced_bytes.to_string());
    put("commitLogSyncTimeMicros", (flush.sync_ns / 1_000).to_string());
    put("commitLogCommitTimeMicros", (flush.commit_ns / 1_000).to_string());
    let body = KvTable { table };
    Ok(success(&request).with_body(encode_body(&body)))
}

/// GET_TOPIC_STATS_INFO (202): min / max offset and last store time of each queue.
pub async fn get_topic_stats_info(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: GetTopicStatsInfoRequestHeader = request.decode_header()?;
    let topic = header.topic;
    let config = broker
        .topics
        .get(&topic)
        .ok_or_else(|| BrokerError::TopicNotExist { topic: topic.clone() })?;
    let broker_name = broker.config().broker_name.clone();
    let mut stats = TopicStatsTable::default();
    for queue_id in 0..config.write_queue_nums {
        let min_offset = broker.store.min_offset_in_queue(&topic, queue_id);
        let max_offset = broker.store.max_offset_in_queue(&topic, queue_id);
        let last_update_timestamp = if max_offset > 0 {
            store_time_at(&broker, &topic, queue_id, Some(max_offset - 1)).unwrap_or(0)
        } else {
            0
        };
        stats.offset_table.insert(
            MessageQueue::new(topic.clone(), broker_name.clone(), queue_id),
            TopicOffset {
                last_update_timestamp,
                max_offset,
                min_offset,
            },
        );
    }
    Ok(success(&request).with_body(to_fastjson_string(&stats).into_bytes()))
}

/// GET_CONSUME_STATS (208): per queue, the broker offset, the group's offset and the store
/// time of the last consumed message; lag = broker offset - consumer offset.
pub async fn get_consume_stats(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: GetConsumeStatsRequestHeader = request.decode_header()?;
    let group = header.consumer_group;
    let topics: Vec<String> = match header.topic.filter(|t| !t.is_empty()) {
        Some(topic) => vec![topic],
        None => broker.offsets.topics_of_group(&group).into_iter().collect(),
    };
    let broker_name = broker.config().broker_name.clone();
    let mut stats = ConsumeStats::default();
    for topic in topics {
        let Some(config) = broker.topics.get(&topic) else {
            continue;
        };
        // An online group that does not subscribe this topic (any more) is not reported on it.
        let subscribed = broker.consumers.find_subscription(&group, &topic);
        if matches!(subscribed, Ok(None)) && broker.consumers.subscription_count(&group) > 0 {
            continue;
        }
        stats.consume_tps += broker.metrics.group_get_tps(&topic, &group);
        for queue_id in 0..config.write_queue_nums {
            let broker_offset = broker.store.max_offset_in_queue(&topic, queue_id);
            let consumer_offset = broker.offsets.query(&group, &topic, queue_id).unwrap_or(0).max(0);
            let last_timestamp = if consumer_offset > 0 {
                store_time_at(&broker, &topic, queue_id, Some(consumer_offset - 1)).unwrap_or(0)
            } else {
                0
            };
            stats.offset_table.insert(
                MessageQueue::new(topic.clone(), broker_name.clone(), queue_id),
                OffsetWrapper {
                    broker_offset,
                    consumer_offset,
                    last_timestamp,
                    pull_offset: consumer_offset,
                },
            );
        }
    }
    Ok(success(&request).with_body(to_fastjson_string(&stats).into_bytes()))
}

/// GET_CONSUMER_CONNECTION_LIST (203).
pub async fn get_consumer_connection_list(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: GetConsumerConnectionListRequestHeader = request.decode_header()?;
    let body = broker
        .consumers
        .connection_body(&header.consumer_group)
        .ok_or(BrokerError::ConsumerNotOnline {
            group: header.consumer_group,
        })?;
    Ok(success(&request).with_body(encode_body(&body)))
}

/// GET_PRODUCER_CONNECTION_LIST (204).
pub async fn get_producer_connection_list(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: GetProducerConnectionListRequestHeader = request.decode_header()?;
    let body = broker
        .producers
        .connection_body(&header.producer_group)
        .ok_or(BrokerError::ProducerGroupNotExist {
            group: header.producer_group,
        })?;
    Ok(success(&request).with_body(encode_body(&body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the runtime text looks like Java's. Method: a known duration.
    #[test]
    fn runtime_is_formatted_like_java() {
        assert_eq!(
            runtime_text(((86_400 + 3600 * 2 + 60 * 3 + 4) * 1000) + 999),
            "[ 1 days, 2 hours, 3 minutes, 4 seconds ]"
        );
    }
}
