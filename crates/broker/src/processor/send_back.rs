//! CONSUMER_SEND_MSG_BACK (36) (reference 6.3; Java `AbstractSendMessageProcessor.consumerSendMsgBack`).
//!
//! The consumed message is read back by CommitLog offset and re-stored for the group: into
//! `%RETRY%<group>` with delay level `delayLevel` (0 means `3 + reconsumeTimes`), or into
//! `%DLQ%<group>` when it was re-consumed `maxReconsumeTimes` times or the level is negative.
//! `RETRY_TOPIC` keeps the original topic, `ORIGIN_MESSAGE_ID` the first offsetMsgId, and
//! `reconsumeTimes` grows by one. With delayed delivery enabled the retry waits in
//! `SCHEDULE_TOPIC_XXXX` for its level's delay; without it, it is stored in the retry topic at once.

use std::sync::Arc;

use ferromq_protocol::header::send_back::ConsumerSendMsgBackRequestHeader;
use ferromq_protocol::message::{encode_properties, properties, MessageRecord};
use ferromq_protocol::RemotingCommand;
use ferromq_remoting::RequestContext;
use ferromq_store::PutMessageStatus;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::processor::send_message::VERSION_WITH_MAX_RECONSUME_TIMES;
use crate::processor::success;
use crate::schedule::rewrite_for_delay;
use crate::topics::{DLQ_QUEUE_NUMS, PERM_READ, PERM_WRITE};
use crate::util::{now_ms, random_queue_id};
use crate::validate::{dlq_topic, retry_topic};

/// CONSUMER_SEND_MSG_BACK (36).
pub async fn consumer_send_msg_back(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: ConsumerSendMsgBackRequestHeader = request.decode_header()?;
    let group = header.group.as_str();
    let group_config = broker.groups.find_or_error(group)?;
    if !broker.config().is_writeable() {
        return Err(BrokerError::BrokerNotWritable {
            addr: broker.broker_addr(),
        });
    }
    if group_config.retry_queue_nums <= 0 {
        return Ok(success(&request));
    }
    let original = broker
        .store
        .look_message_by_offset(header.offset)
        .map_err(|_| BrokerError::MessageNotFound {
            phy_offset: header.offset,
        })?;

    let mut max_reconsume_times = group_config.retry_max_times;
    if request.version >= VERSION_WITH_MAX_RECONSUME_TIMES {
        if let Some(max) = header.max_reconsume_times {
            max_reconsume_times = max;
        }
    }
    let to_dlq = original.reconsume_times >= max_reconsume_times || header.delay_level < 0;
    let (topic, queue_nums) = if to_dlq {
        (dlq_topic(group), DLQ_QUEUE_NUMS)
    } else {
        (retry_topic(group), group_config.retry_queue_nums)
    };
    let (topic_config, _) = broker
        .topics
        .create_in_send_back(&topic, queue_nums, PERM_READ | PERM_WRITE, 0);
    if topic_config.perm & PERM_WRITE == 0 {
        return Err(BrokerError::TopicNotWritable { topic });
    }

    let mut props = original.properties();
    let origin_topic = props
        .get(properties::RETRY_TOPIC)
        .map_or_else(|| original.topic.clone(), str::to_owned);
    props.insert(properties::RETRY_TOPIC, origin_topic.clone());
    props.insert(properties::WAIT, "false");
    let origin_msg_id = match props.get(properties::ORIGIN_MESSAGE_ID) {
        Some(id) if !id.trim().is_empty() => id.to_owned(),
        _ => original.offset_msg_id(),
    };
    props.insert(properties::ORIGIN_MESSAGE_ID, origin_msg_id.clone());
    props.remove(properties::DELAY);
    if to_dlq {
        props.insert(properties::DLQ_ORIGIN_TOPIC, origin_topic);
        props.insert(properties::DLQ_ORIGIN_MESSAGE_ID, origin_msg_id);
    } else {
        let level = if header.delay_level == 0 {
            original.reconsume_times.saturating_add(3)
        } else {
            header.delay_level
        };
        props.insert(properties::DELAY, level.to_string());
    }

    let mut record = MessageRecord::new(topic, original.body.clone());
    record.queue_id = random_queue_id(topic_config.write_queue_nums);
    record.flag = original.flag;
    record.sys_flag = original.sys_flag;
    record.born_timestamp = original.born_timestamp;
    record.born_host = original.born_host;
    record.store_host = broker.store_host;
    record.store_timestamp = now_ms();
    record.reconsume_times = original.reconsume_times.saturating_add(1);
    if broker.schedule.is_some() {
        rewrite_for_delay(&mut record, &mut props, broker.delay_levels_ms.len());
    } else {
        props.remove(properties::DELAY);
    }
    record.properties = encode_properties(&props);

    let (_, status) = broker.put_records(std::slice::from_ref(&record), None).await?;
    match status {
        PutMessageStatus::PutOk => Ok(success(&request)),
        PutMessageStatus::FlushDiskTimeout => Err(BrokerError::PutNotConfirmed {
            status: "FLUSH_DISK_TIMEOUT",
        }),
        PutMessageStatus::FlushDiskFailed => Err(BrokerError::FlushFailed),
    }
}
