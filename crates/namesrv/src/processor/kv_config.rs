//! PUT_KV_CONFIG (100), GET_KV_CONFIG (101), DELETE_KV_CONFIG (102), GET_KVLIST_BY_NAMESPACE
//! (219) (`DefaultRequestProcessor.putKVConfig` ...).

use ferromq_protocol::body::encode_body;
use ferromq_protocol::header::namesrv::{
    DeleteKvConfigRequestHeader, GetKvConfigRequestHeader, GetKvConfigResponseHeader,
    GetKvListByNamespaceRequestHeader, PutKvConfigRequestHeader,
};
use ferromq_protocol::{RemotingCommand, ResponseCode};

use super::success;
use crate::error::RequestError;
use crate::state::NamesrvState;

/// PUT_KV_CONFIG: stores the value and persists the table before answering SUCCESS.
pub fn put_kv_config(state: &NamesrvState, request: &RemotingCommand) -> Result<RemotingCommand, RequestError> {
    let header: PutKvConfigRequestHeader = request.decode_header()?;
    state.kv_config.put(&header.namespace, &header.key, &header.value)?;
    Ok(success(request))
}

/// GET_KV_CONFIG: `value` in the response header; QUERY_NOT_FOUND when absent.
pub fn get_kv_config(state: &NamesrvState, request: &RemotingCommand) -> Result<RemotingCommand, RequestError> {
    let header: GetKvConfigRequestHeader = request.decode_header()?;
    match state.kv_config.get(&header.namespace, &header.key) {
        Some(value) => Ok(success(request).with_header(&GetKvConfigResponseHeader { value: Some(value) })),
        None => Ok(
            RemotingCommand::response_to(request, ResponseCode::QueryNotFound).with_remark(format!(
                "No config item, Namespace: {} Key: {}",
                header.namespace, header.key
            )),
        ),
    }
}

/// DELETE_KV_CONFIG: removes the key (absent is fine) and persists.
pub fn delete_kv_config(state: &NamesrvState, request: &RemotingCommand) -> Result<RemotingCommand, RequestError> {
    let header: DeleteKvConfigRequestHeader = request.decode_header()?;
    state.kv_config.delete(&header.namespace, &header.key)?;
    Ok(success(request))
}

/// GET_KVLIST_BY_NAMESPACE: body KVTable; QUERY_NOT_FOUND for an unknown namespace.
pub fn get_kv_list_by_namespace(
    state: &NamesrvState,
    request: &RemotingCommand,
) -> Result<RemotingCommand, RequestError> {
    let header: GetKvListByNamespaceRequestHeader = request.decode_header()?;
    match state.kv_config.list(&header.namespace) {
        Some(table) => Ok(success(request).with_body(encode_body(&table))),
        None => Ok(RemotingCommand::response_to(request, ResponseCode::QueryNotFound)
            .with_remark(format!("No config item, Namespace: {}", header.namespace))),
    }
}
