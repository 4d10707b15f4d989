//! WIPE_WRITE_PERM_OF_BROKER (205) and ADD_WRITE_PERM_OF_BROKER (327): take a broker out of
//! (or back into) the write path of every topic it serves, e.g. before a restart.

use ferromq_protocol::header::namesrv::{
    AddWritePermOfBrokerRequestHeader, AddWritePermOfBrokerResponseHeader, WipeWritePermOfBrokerRequestHeader,
    WipeWritePermOfBrokerResponseHeader,
};
use ferromq_protocol::RemotingCommand;

use super::success;
use crate::error::RequestError;
use crate::state::NamesrvState;

/// WIPE_WRITE_PERM_OF_BROKER: → `wipeTopicCount`.
pub fn wipe_write_perm_of_broker(
    state: &NamesrvState,
    request: &RemotingCommand,
) -> Result<RemotingCommand, RequestError> {
    let header: WipeWritePermOfBrokerRequestHeader = request.decode_header()?;
    let wipe_topic_count = state.route_info.wipe_write_perm_of_broker(&header.broker_name);
    tracing::info!(broker = %header.broker_name, wipe_topic_count, "write permission wiped");
    Ok(success(request).with_header(&WipeWritePermOfBrokerResponseHeader { wipe_topic_count }))
}

/// ADD_WRITE_PERM_OF_BROKER: → `addTopicCount`.
pub fn add_write_perm_of_broker(
    state: &NamesrvState,
    request: &RemotingCommand,
) -> Result<RemotingCommand, RequestError> {
    let header: AddWritePermOfBrokerRequestHeader = request.decode_header()?;
    let add_topic_count = state.route_info.add_write_perm_of_broker(&header.broker_name);
    tracing::info!(broker = %header.broker_name, add_topic_count, "write permission added");
    Ok(success(request).with_header(&AddWritePermOfBrokerResponseHeader { add_topic_count }))
}
