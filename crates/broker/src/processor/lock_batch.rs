//! LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42) (reference 3.5; Java `AdminBrokerProcessor.lockBatchMQ`)
//! for orderly consumers. Locks are local to this broker (`onlyThisBroker` is irrelevant: there
//! are no replicas to forward to).

use std::sync::Arc;

use ferromq_protocol::body::{encode_body, LockBatchRequestBody, LockBatchResponseBody, UnlockBatchRequestBody};
use ferromq_protocol::RemotingCommand;
use ferromq_remoting::RequestContext;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::processor::{body, success};
use crate::util::now_ms;

/// LOCK_BATCH_MQ (41): answers the queues the client holds afterwards.
pub async fn lock_batch_mq(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let lock: LockBatchRequestBody = body(&request)?;
    let lock_ok_mq_set = broker
        .locks
        .try_lock_batch(&lock.consumer_group, &lock.mq_set, &lock.client_id, now_ms());
    Ok(success(&request).with_body(encode_body(&LockBatchResponseBody { lock_ok_mq_set })))
}

/// UNLOCK_BATCH_MQ (42).
pub async fn unlock_batch_mq(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let unlock: UnlockBatchRequestBody = body(&request)?;
    broker
        .locks
        .unlock_batch(&unlock.consumer_group, &unlock.mq_set, &unlock.client_id);
    Ok(success(&request))
}
