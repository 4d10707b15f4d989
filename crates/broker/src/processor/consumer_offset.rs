//! Consumer offsets and queue offset look-ups (reference 7.4; Java `ConsumerManageProcessor`,
//! `AdminBrokerProcessor`): QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15, usually
//! oneway), GET_ALL_CONSUMER_OFFSET (43), GET_MAX_OFFSET (30), GET_MIN_OFFSET (31),
//! SEARCH_OFFSET_BY_TIMESTAMP (29), GET_EARLIEST_MSG_STORETIME (32).

use std::sync::{Arc, OnceLock};

use ferromq_protocol::header::consumer_offset::{
    BoundaryType, GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader, GetMinOffsetResponseHeader,
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader,
    SearchOffsetResponseHeader, UpdateConsumerOffsetRequestHeader,
};
use ferromq_protocol::message::decode_record;
use ferromq_protocol::message::record::PHY_OFFSET_POS;
use ferromq_protocol::RemotingCommand;
use ferromq_remoting::RequestContext;
use ferromq_store::GetMessageStatus;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::processor::success;

/// QUERY_CONSUMER_OFFSET (14).
pub async fn query_consumer_offset(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: QueryConsumerOffsetRequestHeader = request.decode_header()?;
    let (group, topic, queue_id) = (&header.consumer_group, &header.topic, header.queue_id);
    let offset = match broker.offsets.query(group, topic, queue_id) {
        Some(offset) => offset,
        None if header.set_zero_if_not_found == Some(false) => {
            return Err(BrokerError::QueryNotFound {
                what: "Not found, do not set to zero, maybe this group boot first",
            });
        }
        // A new group starts at 0 when the queue starts at 0 and its head is still "in
        // memory" (close to the CommitLog tail), else the client decides (usually max).
        None if broker.store.min_offset_in_queue(topic, queue_id) <= 0
            && queue_head_in_memory(&broker, topic, queue_id) =>
        {
            0
        }
        None => {
            return Err(BrokerError::QueryNotFound {
                what: "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
            });
        }
    };
    Ok(success(&request).with_header(&QueryConsumerOffsetResponseHeader { offset }))
}

/// Java `checkInMemByConsumeOffset(topic, queueId, 0)`: the record at queue offset 0 lies
/// within the last `accessMessageInMemoryMaxRatio` percent of physical memory of the
/// CommitLog. A queue without an entry 0 counts as in memory.
fn queue_head_in_memory(broker: &Broker, topic: &str, queue_id: i32) -> bool {
    let Ok(got) = broker.store.get_messages(topic, queue_id, 0, 1, usize::MAX, None) else {
        return true;
    };
    let Some(first) = got.messages.first().filter(|_| got.status == GetMessageStatus::Found) else {
        return true;
    };
    let Some(bytes) = first.get(PHY_OFFSET_POS..PHY_OFFSET_POS + 8) else {
        return true;
    };
    let mut word = [0u8; 8];
    word.copy_from_slice(bytes);
    let phy_offset = i64::from_be_bytes(word);
    let behind = u64::try_from(broker.store.max_phy_offset().saturating_sub(phy_offset)).unwrap_or(0);
    let ratio = u64::from(broker.config().access_message_in_memory_max_ratio);
    behind <= physical_memory_bytes() / 100 * ratio
}

/// Physical memory from `/proc/meminfo` (Linux); unknown elsewhere counts as unlimited.
fn physical_memory_bytes() -> u64 {
    static MEMORY: OnceLock<u64> = OnceLock::new();
    *MEMORY.get_or_init(|| {
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                kib.checked_mul(1024)
            })
            .unwrap_or(u64::MAX)
    })
}

/// UPDATE_CONSUMER_OFFSET (15).
pub async fn update_consumer_offset(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: UpdateConsumerOffsetRequestHeader = request.decode_header()?;
    let group = &header.consumer_group;
    broker.groups.find_or_error(group)?;
    if !broker.topics.contains(&header.topic) {
        return Err(BrokerError::TopicNotExist { topic: header.topic });
    }
    broker
        .offsets
        .commit(group, &header.topic, header.queue_id, header.commit_offset);
    Ok(success(&request))
}

/// GET_ALL_CONSUMER_OFFSET (43): the table as fastjson writes it.
pub async fn get_all_consumer_offset(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    Ok(success(&request).with_body(broker.offsets.encode_fastjson().into_bytes()))
}

/// GET_MAX_OFFSET (30): the queue's next offset (0 for an unknown queue).
pub async fn get_max_offset(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: GetMaxOffsetRequestHeader = request.decode_header()?;
    let offset = broker.store.max_offset_in_queue(&header.topic, header.queue_id);
    Ok(success(&request).with_header(&GetMaxOffsetResponseHeader { offset }))
}

/// GET_MIN_OFFSET (31).
pub async fn get_min_offset(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: GetMinOffsetRequestHeader = request.decode_header()?;
    let offset = broker.store.min_offset_in_queue(&header.topic, header.queue_id);
    Ok(success(&request).with_header(&GetMinOffsetResponseHeader { offset }))
}

/// SEARCH_OFFSET_BY_TIMESTAMP (29): with `boundaryType` lower (the default) the first offset
/// stored at or after the timestamp, with `upper` (5.x) the last offset stored at or before it.
pub async fn search_offset_by_timestamp(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: SearchOffsetRequestHeader = request.decode_header()?;
    let offset = match header.boundary() {
        BoundaryType::Lower => {
            broker
                .store
                .offset_in_queue_by_time(&header.topic, header.queue_id, header.timestamp)?
        }
        BoundaryType::Upper => {
            broker
                .store
                .offset_in_queue_by_time_upper(&header.topic, header.queue_id, header.timestamp)?
        }
    };
    Ok(success(&request).with_header(&SearchOffsetResponseHeader { offset }))
}

/// GET_EARLIEST_MSG_STORETIME (32): store time of the queue's first message, -1 if none.
pub async fn get_earliest_msg_storetime(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: GetEarliestMsgStoretimeRequestHeader = request.decode_header()?;
    let timestamp = store_time_at(&broker, &header.topic, header.queue_id, None).unwrap_or(-1);
    Ok(success(&request).with_header(&GetEarliestMsgStoretimeResponseHeader { timestamp }))
}

/// Store time of the message at `offset` of a queue (its min offset when `None`).
pub fn store_time_at(broker: &Broker, topic: &str, queue_id: i32, offset: Option<i64>) -> Option<i64> {
    let offset = offset.unwrap_or_else(|| broker.store.min_offset_in_queue(topic, queue_id));
    let got = broker
        .store
        .get_messages(topic, queue_id, offset, 1, usize::MAX, None)
        .ok()?;
    let first = got.messages.first().filter(|_| got.status == GetMessageStatus::Found)?;
    decode_record(first, false).ok().map(|r| r.store_timestamp)
}
