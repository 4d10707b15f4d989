//! Request processors, one file per request family (named after the RocketMQ codes).
//!
//! Every processor is an `async fn(Arc<Broker>, RequestContext, RemotingCommand) ->
//! Result<R, BrokerError>` with `R` a `RemotingCommand` or another remoting `Response`: it
//! decodes its typed header, validates, calls a manager or the store and builds the response. Errors become responses in one place
//! ([`crate::dispatch`], via [`BrokerError::response_code`]).
//!
//! Components:
//! - [`send_message`]: SEND_MESSAGE, SEND_MESSAGE_V2, SEND_BATCH_MESSAGE; its answer,
//!   [`send_response::SendResult`], writes its own frame head for JSON requests (so the send
//!   processor returns remoting's `Response` rather than a command);
//! - [`pull_message`]: PULL_MESSAGE, LITE_PULL_MESSAGE, with long polling;
//! - [`consumer_offset`]: consumer offsets and queue offset look-ups;
//! - [`heartbeat`]: HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP, CHECK_CLIENT_CONFIG;
//! - [`lock_batch`]: LOCK_BATCH_MQ, UNLOCK_BATCH_MQ;
//! - [`send_back`] handles CONSUMER_SEND_MSG_BACK;
//! - [`query_message`]: VIEW_MESSAGE_BY_ID, QUERY_MESSAGE;
//! - [`admin_topic`]: topic administration;
//! - [`admin_group`]: subscription group administration;
//! - [`admin_stats`]: runtime info, topic / consume stats, connection lists;
//! - [`admin_config`]: GET_BROKER_CONFIG, UPDATE_BROKER_CONFIG.

pub mod admin_config;
pub mod admin_group;
pub mod admin_stats;
pub mod admin_topic;
pub mod consumer_offset;
pub mod heartbeat;
pub mod lock_batch;
pub mod pull_message;
pub mod query_message;
pub mod send_back;
pub mod send_message;
pub mod send_props;
pub mod send_response;

use ferromq_protocol::body::decode_body;
use ferromq_protocol::{RemotingCommand, ResponseCode};
use serde::de::DeserializeOwned;

use crate::error::BrokerError;

/// A SUCCESS response to `request`.
pub fn success(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, ResponseCode::Success)
}

/// Decodes the request's JSON body.
pub fn body<T: DeserializeOwned>(request: &RemotingCommand) -> Result<T, BrokerError> {
    Ok(decode_body(&request.body.to_bytes())?)
}
