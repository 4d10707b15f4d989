//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) (reference 7.3; Java `PullMessageProcessor`,
//! `DefaultPullMessageResultHandler`, `DefaultMessageStore.getMessage`).
//!
//! Checks, in Java's order: broker readable; group exists (auto-created when allowed) and may
//! consume; topic exists and is readable; queue id within the read queues; the subscription —
//! from the header when sysFlag has SUBSCRIPTION, else the heartbeat-registered one (required:
//! push consumers send none). Then the store read with the TAG filter on ConsumeQueue tags
//! codes, and the status mapping of the reference table. A PULL_NOT_FOUND with SUSPEND on the
//! first attempt is held (see [`crate::long_polling`]) and then re-run without suspension. The
//! piggy-backed COMMIT_OFFSET is stored on the first attempt.
//!
//! The body is the store's record views as a multi-segment body: sent with one vectored write,
//! never copied.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ferromq_protocol::body::{MessageModel, SubscriptionData};
use ferromq_protocol::header::pull_message::{
    PullMessageRequestHeader, PullMessageResponseHeader, PULL_FLAG_COMMIT_OFFSET, PULL_FLAG_SUBSCRIPTION,
    PULL_FLAG_SUSPEND,
};
use ferromq_protocol::{Body, RemotingCommand, ResponseCode};
use ferromq_remoting::RequestContext;
use ferromq_store::GetMessageStatus;
use tokio::time::Instant;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::filter::{accepted_codes, check_supported, subscription_from_header, tags_code_matches};
use crate::long_polling::MAX_HOLD_TIME;
use crate::topics::PERM_READ;

/// `suggestWhichBrokerId` of every answer: the master (FerroMQ has no slaves to suggest).
pub const MASTER_ID: i64 = 0;

enum Outcome {
    Respond(RemotingCommand),
    Hold(Duration),
}

/// Handles codes 11 and 361.
pub async fn process(
    broker: Arc<Broker>,
    ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: PullMessageRequestHeader = request.decode_header()?;
    let peer = ctx.peer_addr();
    match pull(&broker, &request, &header, true, peer)? {
        Outcome::Respond(response) => Ok(response),
        Outcome::Hold(hold_time) => {
            wait_for_arrival(&broker, &header, hold_time).await;
            match pull(&broker, &request, &header, false, peer)? {
                Outcome::Respond(response) => Ok(response),
                // Not reachable: a pull without suspension always answers.
                Outcome::Hold(_) => Ok(RemotingCommand::response_to(&request, ResponseCode::PullNotFound)),
            }
        }
    }
}

/// Waits until the queue's max offset passes the requested offset, the hold time runs out or
/// the broker shuts down; the arrival listener wakes it at once, a periodic re-check backs it up.
async fn wait_for_arrival(broker: &Arc<Broker>, header: &PullMessageRequestHeader, hold_time: Duration) {
    let (topic, queue_id, offset) = (header.topic.as_str(), header.queue_id, header.queue_offset);
    let Some(mut ticket) = broker.holds.hold(topic, queue_id, offset) else {
        tracing::debug!(topic, queue_id, "hold limit reached; answering at once");
        return;
    };
    let deadline = Instant::now() + hold_time;
    let check_interval = broker.config().hold_check_interval();
    loop {
        // Checked after registering, so an arrival between the first pull and the
        // registration is not missed.
        if broker.store.max_offset_in_queue(topic, queue_id) > offset {
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        tokio::select! {
            _ = &mut ticket.woken => return,
            () = tokio::time::sleep_until(deadline.min(now + check_interval)) => {}
            () = broker.shutdown.cancelled() => return,
        }
    }
}

fn subscription(
    broker: &Broker,
    header: &PullMessageRequestHeader,
    broadcast_allowed: bool,
) -> Result<SubscriptionData, BrokerError> {
    let (group, topic) = (&header.consumer_group, &header.topic);
    if header.has_flag(PULL_FLAG_SUBSCRIPTION) {
        return subscription_from_header(
            topic,
            header.subscription.as_deref(),
            header.expression_type.as_deref(),
            header.sub_version,
        );
    }
    let not_exist = || BrokerError::SubscriptionNotExist {
        group: group.clone(),
        topic: topic.clone(),
    };
    if !broadcast_allowed && broker.consumers.message_model(group) == Some(MessageModel::Broadcasting) {
        return Err(BrokerError::SubscriptionGroupForbidden { group: group.clone() });
    }
    let sub = broker
        .consumers
        .find_subscription(group, topic)
        .map_err(|()| not_exist())?
        .ok_or_else(not_exist)?;
    if sub.sub_version < header.sub_version {
        return Err(BrokerError::SubscriptionNotLatest {
            group: group.clone(),
            topic: topic.clone(),
        });
    }
    check_supported(&sub)?;
    Ok(sub)
}

fn pull(
    broker: &Arc<Broker>,
    request: &RemotingCommand,
    header: &PullMessageRequestHeader,
    allow_suspend: bool,
    peer: SocketAddr,
) -> Result<Outcome, BrokerError> {
    let config = broker.config();
    let (group, topic, queue_id, offset) = (
        header.consumer_group.as_str(),
        header.topic.as_str(),
        header.queue_id,
        header.queue_offset,
    );
    if !config.is_readable() {
        return Err(BrokerError::BrokerNotReadable {
            addr: broker.broker_addr(),
        });
    }
    let group_config = broker.groups.find_or_error(group)?;
    if !group_config.consume_enable {
        return Err(BrokerError::SubscriptionGroupForbidden {
            group: group.to_owned(),
        });
    }
    let topic_config = broker.topics.get(topic).ok_or_else(|| BrokerError::TopicNotExist {
        topic: topic.to_owned(),
    })?;
    if topic_config.perm & PERM_READ == 0 {
        return Err(BrokerError::TopicNotReadable {
            topic: topic.to_owned(),
        });
    }
    if queue_id < 0 || queue_id >= topic_config.read_queue_nums {
        return Err(BrokerError::QueueIdInvalid {
            topic: topic.to_owned(),
            queue_id,
            queue_nums: topic_config.read_queue_nums,
        });
    }
    let sub = subscription(broker, header, group_config.consume_broadcast_enable)?;
    let accepted = accepted_codes(&sub);
    let filter = |tags_code: i64| tags_code_matches(accepted.as_ref(), tags_code);

    let max_count = usize::try_from(header.max_msg_nums.max(1))
        .unwrap_or(1)
        .min(config.max_transfer_count_on_message_in_memory);
    let max_bytes = header
        .max_msg_bytes
        .and_then(|b| usize::try_from(b).ok())
        .filter(|b| *b > 0)
        .map_or(config.max_transfer_bytes_on_message_in_memory, |b| {
            b.min(config.max_transfer_bytes_on_message_in_memory)
        });
    let got = broker
        .store
        .get_messages(topic, queue_id, offset, max_count, max_bytes, Some(&filter))?;

    let (code, next_begin_offset) = match got.status {
        GetMessageStatus::Found => (ResponseCode::Success, got.next_begin_offset),
        GetMessageStatus::NoMatchedMessage | GetMessageStatus::MessageWasRemoving => {
            (ResponseCode::PullRetryImmediately, got.next_begin_offset)
        }
        GetMessageStatus::NoMessageInQueue if offset != 0 => (ResponseCode::PullOffsetMoved, 0),
        GetMessageStatus::NoMessageInQueue => (ResponseCode::PullNotFound, 0),
        GetMessageStatus::OffsetTooSmall => (ResponseCode::PullOffsetMoved, got.min_offset),
        GetMessageStatus::OffsetOverflowOne => (ResponseCode::PullNotFound, offset),
        // Java: a queue whose min is 0 restarts from 0, otherwise from its max.
        GetMessageStatus::OffsetOverflowBadly if got.min_offset == 0 => (ResponseCode::PullOffsetMoved, 0),
        GetMessageStatus::OffsetOverflowBadly => (ResponseCode::PullOffsetMoved, got.max_offset),
    };

    if allow_suspend && header.has_flag(PULL_FLAG_COMMIT_OFFSET) {
        broker.offsets.commit(group, topic, queue_id, header.commit_offset);
    }
    if code == ResponseCode::PullNotFound && allow_suspend && header.has_flag(PULL_FLAG_SUSPEND) {
        let hold_time = if config.long_polling_enable {
            Duration::from_millis(u64::try_from(header.suspend_timeout_millis).unwrap_or(0)).min(MAX_HOLD_TIME)
        } else {
            Duration::from_millis(config.short_polling_time_mills)
        };
        if !hold_time.is_zero() {
            return Ok(Outcome::Hold(hold_time));
        }
    }
    if code == ResponseCode::PullOffsetMoved {
        tracing::info!(group, topic, queue_id, offset, next_begin_offset, %peer, "pull offset moved");
    }

    let response_header = PullMessageResponseHeader {
        suggest_which_broker_id: MASTER_ID,
        next_begin_offset,
        min_offset: got.min_offset,
        max_offset: got.max_offset,
        topic_sys_flag: Some(topic_config.topic_sys_flag),
        group_sys_flag: Some(group_config.group_sys_flag),
        ..Default::default()
    };
    let mut response = RemotingCommand::response_to(request, code).with_header(&response_header);
    if code == ResponseCode::Success {
        let body = Body::from_segments(got.messages);
        broker.metrics.record_get(got.queue_offsets.len(), body.len());
        broker.metrics.record_group_get(topic, group, got.queue_offsets.len());
        response.body = body;
    }
    Ok(Outcome::Respond(response))
}
