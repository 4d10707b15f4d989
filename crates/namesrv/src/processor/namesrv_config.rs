//! UPDATE_NAMESRV_CONFIG (318) and GET_NAMESRV_CONFIG (319): the settings as Java properties
//! text. Updates apply to the running server (topic-list switches, order-topic config, scan
//! period...); `listenPort` changes nothing until restart; keys of `configBlackList` are refused
//! with NO_PERMISSION. Updates are not written back to a file.

use ferromq_protocol::RemotingCommand;

use super::success;
use crate::error::RequestError;
use crate::state::NamesrvState;
use ferromq_config::properties::parse_properties;

/// UPDATE_NAMESRV_CONFIG: body = properties text; an empty body changes nothing.
pub fn update_namesrv_config(state: &NamesrvState, request: &RemotingCommand) -> Result<RemotingCommand, RequestError> {
    let body = request.body.to_bytes();
    if body.is_empty() {
        return Ok(success(request));
    }
    let text = std::str::from_utf8(&body).map_err(|_| RequestError::NotUtf8 {
        what: "UPDATE_NAMESRV_CONFIG",
    })?;
    let updates = parse_properties(text);
    state.update_config(|current| current.with_updates(&updates))?;
    tracing::info!(keys = ?updates.keys().collect::<Vec<_>>(), "name server config updated");
    Ok(success(request))
}

/// GET_NAMESRV_CONFIG: body = every setting as `key=value` lines.
pub fn get_namesrv_config(state: &NamesrvState, request: &RemotingCommand) -> Result<RemotingCommand, RequestError> {
    let text = state.with_config(|config| config.to_properties_text());
    Ok(success(request).with_body(text.into_bytes()))
}
