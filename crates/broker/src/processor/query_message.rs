//! VIEW_MESSAGE_BY_ID (33) and QUERY_MESSAGE (12) (Java `QueryMessageProcessor`).
//!
//! VIEW answers the stored record at a CommitLog offset (decoded by clients from an offsetMsgId);
//! QUERY answers the records of a topic whose KEYS or UNIQ_KEY equal a key within a store-time
//! range, from the IndexFile. Both bodies are the stored records, back to back, as stored.

use std::sync::Arc;

use ferromq_protocol::header::query_message::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use ferromq_protocol::{Body, RemotingCommand};
use ferromq_remoting::RequestContext;

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::processor::success;

/// Most records one QUERY_MESSAGE answers, whatever `maxNum` says (the body must fit a frame).
pub const MAX_QUERY_RESULTS: usize = 1024;

/// VIEW_MESSAGE_BY_ID (33).
pub async fn view_message_by_id(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: ViewMessageRequestHeader = request.decode_header()?;
    let not_found = |_| BrokerError::MessageNotFound {
        phy_offset: header.offset,
    };
    let record = broker.store.look_message_by_offset(header.offset).map_err(not_found)?;
    let bytes = broker
        .store
        .get_record_bytes(header.offset, record.total_size())
        .map_err(not_found)?;
    Ok(success(&request).with_body(bytes))
}

/// QUERY_MESSAGE (12).
pub async fn query_message(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let header: QueryMessageRequestHeader = request.decode_header()?;
    let max = if header.unique_key_query == Some(true) {
        broker.config().default_query_max_num
    } else {
        header.max_num
    };
    let max = usize::try_from(max).unwrap_or(0).min(MAX_QUERY_RESULTS);
    let records = broker.store.query_message(
        &header.topic,
        &header.key,
        max,
        header.begin_timestamp,
        header.end_timestamp,
    )?;
    let mut segments = Vec::with_capacity(records.len());
    let mut last_timestamp = 0;
    for record in &records {
        last_timestamp = last_timestamp.max(record.store_timestamp);
        segments.push(broker.store.get_record_bytes(record.phy_offset, record.total_size())?);
    }
    if segments.is_empty() {
        return Err(BrokerError::QueryNotFound {
            what: "can not find message, maybe time range not correct",
        });
    }
    let response_header = QueryMessageResponseHeader {
        index_last_update_timestamp: last_timestamp,
        index_last_update_phyoffset: broker.store.dispatched_phy_offset(),
    };
    Ok(success(&request)
        .with_header(&response_header)
        .with_body(Body::from_segments(segments)))
}
