//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320) (reference 4.5, 4.6,
//! 8 "Producer"; Java `SendMessageProcessor`,
//! `AbstractSendMessageProcessor.msgCheck`).
//!
//! Steps: decode the header (long or short names); check broker permission, topic name, reserved
//! topics; find the topic or auto-create it from the template (`defaultTopic`, normally
//! `TBW102`), or create a retry topic; check the queue id; build the record(s) — UNIQ_KEY added
//! if missing, CLUSTER set, POP_CK removed, bornHost = peer, storeHost = this broker, tags code
//! derived by the store from TAGS; route `%RETRY%` sends past their limit to the DLQ; park
//! delayed messages; put through flow control; answer msgId (offsetMsgId, comma-joined for a
//! batch), queueId, queueOffset, transactionId, MSG_REGION and TRACE_ON.
//!
//! A batch is a batch when the code is 320 or the `batch` / `m` flag is set.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use ferromq_protocol::body::{TopicConfig, TopicFilterType};
use ferromq_protocol::header::send_message::{decode_send_request_header_ref, SendMessageRequestHeaderRef};
use ferromq_protocol::message::record::MAX_PROPERTIES_BYTES;
use ferromq_protocol::message::{
    create_offset_msg_id, decode_batch, decode_properties, encode_properties, properties, sys_flag, MessageRecord,
    Properties,
};
use ferromq_protocol::{ReceivedSend, RemotingCommand, RequestCode, ResponseCode};
use ferromq_remoting::{RequestContext, Response};
use ferromq_store::PutMessageStatus;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::processor::send_props::PropsScan;
use crate::processor::send_response::{MsgId, SendResult};
use crate::schedule::rewrite_for_delay;
use crate::topics::{SendTopic, DLQ_QUEUE_NUMS, PERM_READ, PERM_WRITE};
use crate::util::random_queue_id;
use crate::validate::{
    dlq_topic, is_not_allowed_send_topic, is_retry_topic, validate_topic_name, RETRY_GROUP_TOPIC_PREFIX,
    TOPIC_MAX_LENGTH,
};

/// Client version from which `maxReconsumeTimes` in the header is honoured (V3_4_9).
pub const VERSION_WITH_MAX_RECONSUME_TIMES: i32 = 117;
/// Most messages one batch may carry (the frame limit bounds the bytes already).
pub const MAX_BATCH_MESSAGES: usize = 65_536;

/// Handles codes 10, 310 and 320; the answer is a [`SendResult`], which writes its own frame
/// head.
pub async fn process(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    request: &RemotingCommand,
) -> Result<Response, BrokerError> {
    let header = decode_send_request_header_ref(request)?;
    process_header(broker, ctx, request, &header).await
}

/// [`process`] for a send the connection decoded with the send decoder: the header is read in
/// place, with the same result.
pub async fn process_received(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    request: &ReceivedSend,
) -> Result<Response, BrokerError> {
    let header = request.header()?;
    process_header(broker, ctx, request.command(), &header).await
}

/// The send with its header decoded (`request` supplies code, version and body).
async fn process_header(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    request: &RemotingCommand,
    header: &SendMessageRequestHeaderRef<'_>,
) -> Result<Response, BrokerError> {
    let is_batch = request.code == RequestCode::SendBatchMessage.as_i32() || header.batch == Some(true);
    let peer = ctx.peer_addr();
    let topic_config = check_message(broker, header, peer)?;
    let queue_id = if header.queue_id < 0 {
        random_queue_id(topic_config.write_queue_nums)
    } else {
        header.queue_id
    };
    if is_batch {
        send_batch(broker, request, header, &topic_config, queue_id, ctx).await
    } else {
        send_one(broker, request, header, &topic_config, queue_id, ctx).await
    }
}

/// Java `msgCheck`: permissions, topic rules, the topic (auto-created if allowed), queue id.
fn check_message(
    broker: &Arc<Broker>,
    header: &SendMessageRequestHeaderRef<'_>,
    peer: SocketAddr,
) -> Result<SendTopic, BrokerError> {
    let config = broker.config();
    let topic = header.topic;
    if !config.is_writeable() {
        return Err(BrokerError::BrokerNotWritable {
            addr: broker.broker_addr(),
        });
    }
    validate_topic_name(topic).map_err(|reason| BrokerError::TopicNameInvalid {
        topic: topic.to_owned(),
        reason,
    })?;
    if is_not_allowed_send_topic(topic) {
        return Err(BrokerError::TopicForbidden {
            topic: topic.to_owned(),
        });
    }
    let topic_config = match broker.topics.get_send(topic) {
        Some(existing) => existing,
        None => create_topic_for_send(broker, header)
            .map(|created| SendTopic::of(&created))
            .ok_or_else(|| BrokerError::TopicNotExist {
                topic: topic.to_owned(),
            })?,
    };
    if topic_config.perm & PERM_WRITE == 0 {
        return Err(BrokerError::TopicNotWritable {
            topic: topic.to_owned(),
        });
    }
    let queue_nums = topic_config.read_queue_nums.max(topic_config.write_queue_nums);
    if header.queue_id >= queue_nums {
        return Err(BrokerError::SendQueueIdInvalid {
            topic: topic.to_owned(),
            queue_id: header.queue_id,
            queue_nums,
            peer: peer.to_string(),
        });
    }
    Ok(topic_config)
}

/// Auto-creation on send: from the template, or as a retry topic of its group.
fn create_topic_for_send(broker: &Broker, header: &SendMessageRequestHeaderRef<'_>) -> Option<TopicConfig> {
    let topic = header.topic;
    if let Some((created, _)) =
        broker
            .topics
            .create_in_send(topic, header.default_topic, header.default_topic_queue_nums, 0)
    {
        return Some(created);
    }
    if let Some(group) = topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX) {
        let group_config = broker.groups.find_or_create(group)?;
        let (created, _) =
            broker
                .topics
                .create_in_send_back(topic, group_config.retry_queue_nums, PERM_READ | PERM_WRITE, 0);
        return Some(created);
    }
    None
}

/// Properties edits every stored message gets: UNIQ_KEY if missing, CLUSTER, no POP_CK.
fn edit_properties(broker: &Broker, props: &mut Properties, cluster: &str) -> String {
    props.remove(properties::POP_CK);
    let uniq = match props.get(properties::UNIQ_KEY) {
        Some(uniq) if !uniq.is_empty() => uniq.to_owned(),
        _ => {
            let uniq = broker.uniq_ids.next_id();
            props.insert(properties::UNIQ_KEY, uniq.clone());
            uniq
        }
    };
    props.insert(properties::CLUSTER, cluster.to_owned());
    uniq
}

fn check_sizes(broker: &Broker, body_len: usize, props: &str) -> Result<(), BrokerError> {
    let max = broker.store_config.max_message_size;
    if body_len > max {
        return Err(BrokerError::MessageTooLarge { size: body_len, max });
    }
    if props.len() > MAX_PROPERTIES_BYTES {
        return Err(BrokerError::PropertiesTooLarge {
            size: props.len(),
            max: MAX_PROPERTIES_BYTES,
        });
    }
    Ok(())
}

fn base_record(
    broker: &Broker,
    header: &SendMessageRequestHeaderRef<'_>,
    topic_config: &SendTopic,
    queue_id: i32,
    peer: SocketAddr,
    body: Bytes,
) -> MessageRecord {
    // The store's encoder writes BODYCRC from the body.
    let mut record = MessageRecord::to_encode(header.topic.to_owned(), body);
    record.queue_id = queue_id;
    record.flag = header.flag;
    record.sys_flag = header.sys_flag;
    if topic_config.topic_filter_type == TopicFilterType::MultiTag {
        record.sys_flag |= sys_flag::MULTI_TAGS;
    }
    record.born_timestamp = header.born_timestamp;
    record.born_host = peer;
    record.store_host = broker.store_host;
    record.reconsume_times = header.reconsume_times.unwrap_or(0);
    // store_timestamp stays 0: the store stamps each record under its put lock (never earlier
    // than the record before it), so a clock read here would only be overwritten.
    record
}

/// Java `handleRetryAndDLQ`: a `%RETRY%` send past its group's retry limit goes to the DLQ.
fn route_retry_to_dlq(
    broker: &Broker,
    request: &RemotingCommand,
    header: &SendMessageRequestHeaderRef<'_>,
    record: &mut MessageRecord,
    props: &mut Properties,
) -> Result<(), BrokerError> {
    let Some(group) = header.topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX) else {
        return Ok(());
    };
    let group_config = broker.groups.find_or_error(group)?;
    let mut max_reconsume_times = group_config.retry_max_times;
    if request.version >= VERSION_WITH_MAX_RECONSUME_TIMES {
        if let Some(max) = header.max_reconsume_times {
            max_reconsume_times = max;
        }
    }
    if header.reconsume_times.unwrap_or(0) <= max_reconsume_times {
        return Ok(());
    }
    let dlq = dlq_topic(group);
    let (dlq_config, _) = broker
        .topics
        .create_in_send_back(&dlq, DLQ_QUEUE_NUMS, PERM_READ | PERM_WRITE, 0);
    if dlq_config.perm & PERM_WRITE == 0 {
        return Err(BrokerError::TopicNotWritable { topic: dlq });
    }
    // "-1": the client-side DELAY of a retry must not delay the dead letter.
    props.insert(properties::DELAY, "-1");
    record.topic = dlq;
    record.queue_id = random_queue_id(DLQ_QUEUE_NUMS);
    Ok(())
}

async fn send_one(
    broker: &Arc<Broker>,
    request: &RemotingCommand,
    header: &SendMessageRequestHeaderRef<'_>,
    topic_config: &SendTopic,
    queue_id: i32,
    ctx: &RequestContext,
) -> Result<Response, BrokerError> {
    let peer = ctx.peer_addr();
    let raw_props = header.properties.unwrap_or("");
    let body = request.body.to_bytes();
    check_sizes(broker, body.len(), raw_props)?;
    let config = broker.config();
    let scan = PropsScan::of(raw_props);
    if scan.tran_msg.is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || sys_flag::transaction_type(header.sys_flag) == sys_flag::TRANSACTION_PREPARED_TYPE
    {
        return Err(BrokerError::TransactionForbidden {
            addr: broker.broker_addr(),
        });
    }
    let mut record = base_record(broker, header, topic_config, queue_id, peer, body);
    let uniq = if scan.simple() && !is_retry_topic(header.topic) {
        // Nothing to route or park: the client's string with UNIQ_KEY and CLUSTER appended.
        let (props, uniq) = scan.append_edits(raw_props, || broker.uniq_ids.next_id(), &config.broker_cluster_name);
        record.properties = props;
        uniq
    } else {
        let mut props = decode_properties(raw_props);
        let uniq = edit_properties(broker, &mut props, &config.broker_cluster_name);
        if is_retry_topic(header.topic) {
            route_retry_to_dlq(broker, request, header, &mut record, &mut props)?;
        }
        if broker.schedule.is_some() {
            rewrite_for_delay(&mut record, &mut props, broker.delay_levels_ms.len());
        }
        record.properties = encode_properties(&props);
        uniq
    };
    check_sizes(broker, 0, &record.properties)?;

    let (put, status) = broker
        .put_records(std::slice::from_ref(&record), Some(ctx.connection()))
        .await?;
    let msg_id = MsgId::Offset {
        store_host: broker.store_host,
        phy_offset: put.append.phy_offset,
    };
    respond(status, msg_id, queue_id, put.append.queue_offset, Some(uniq))
}

async fn send_batch(
    broker: &Arc<Broker>,
    request: &RemotingCommand,
    header: &SendMessageRequestHeaderRef<'_>,
    topic_config: &SendTopic,
    queue_id: i32,
    ctx: &RequestContext,
) -> Result<Response, BrokerError> {
    let peer = ctx.peer_addr();
    if header.topic.len() > TOPIC_MAX_LENGTH {
        return Err(BrokerError::IllegalBatch {
            reason: "message topic length too long",
        });
    }
    if is_retry_topic(header.topic) {
        return Err(BrokerError::IllegalBatch {
            reason: "batch request does not support retry group",
        });
    }
    let body = request.body.to_bytes();
    let messages = decode_batch(&body, MAX_BATCH_MESSAGES)?;
    if messages.is_empty() {
        return Err(BrokerError::IllegalBatch {
            reason: "batch holds no message",
        });
    }
    let config = broker.config();
    let mut records = Vec::with_capacity(messages.len());
    for message in messages {
        check_sizes(broker, message.body.len(), &message.properties)?;
        // As for a single send: the client's string with the edits appended when that equals
        // decoding, editing and encoding it (batches are never retried sends nor delay-parked).
        let scan = PropsScan::of(&message.properties);
        let properties = if scan.simple() {
            scan.edited(
                &message.properties,
                || broker.uniq_ids.next_id(),
                &config.broker_cluster_name,
            )
        } else {
            let mut props = decode_properties(&message.properties);
            edit_properties(broker, &mut props, &config.broker_cluster_name);
            encode_properties(&props)
        };
        let mut record = base_record(broker, header, topic_config, queue_id, peer, message.body);
        record.flag = message.flag;
        record.properties = properties;
        check_sizes(broker, 0, &record.properties)?;
        records.push(record);
    }
    let (put, status) = broker.put_records(&records, Some(ctx.connection())).await?;
    // The store reports where each record landed: its sizes include properties it appends.
    let msg_ids: Vec<String> = put
        .records
        .iter()
        .map(|stored| create_offset_msg_id(broker.store_host, stored.phy_offset))
        .collect();
    respond(
        status,
        MsgId::Text(msg_ids.join(",")),
        queue_id,
        put.append.queue_offset,
        None,
    )
}

/// The answer to a stored send: a [`SendResult`] (msgId, queueId, queueOffset, transactionId,
/// MSG_REGION, TRACE_ON), which the dispatcher has encode itself for the request's opaque.
fn respond(
    status: PutMessageStatus,
    msg_id: MsgId,
    queue_id: i32,
    queue_offset: i64,
    transaction_id: Option<String>,
) -> Result<Response, BrokerError> {
    let code = match status {
        PutMessageStatus::PutOk => ResponseCode::Success,
        PutMessageStatus::FlushDiskTimeout => ResponseCode::FlushDiskTimeout,
        PutMessageStatus::FlushDiskFailed => return Err(BrokerError::FlushFailed),
    };
    Ok(Response::Encoded(Box::new(SendResult {
        code,
        msg_id,
        queue_id,
        queue_offset,
        transaction_id,
    })))
}
