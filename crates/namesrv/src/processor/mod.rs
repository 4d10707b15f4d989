//! Request processors for every name-server request code (reference 2.2), one file per
//! family, named after the RocketMQ codes:
//! - [`kv_config`]: PUT_KV_CONFIG (100), GET_KV_CONFIG (101), DELETE_KV_CONFIG (102),
//!   GET_KVLIST_BY_NAMESPACE (219);
//! - [`register_broker`]: REGISTER_BROKER (103), UNREGISTER_BROKER (104), QUERY_DATA_VERSION
//!   (322), BROKER_HEARTBEAT (904);
//! - [`route`]: GET_ROUTEINFO_BY_TOPIC (105), GET_BROKER_CLUSTER_INFO (106);
//! - [`topic`]: GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206), DELETE_TOPIC_IN_NAMESRV (216),
//!   REGISTER_TOPIC_IN_NAMESRV (217), GET_TOPICS_BY_CLUSTER (224),
//!   GET_SYSTEM_TOPIC_LIST_FROM_NS (304);
//! - [`broker_perm`]: WIPE_WRITE_PERM_OF_BROKER (205), ADD_WRITE_PERM_OF_BROKER (327);
//! - [`namesrv_config`]: UPDATE_NAMESRV_CONFIG (318), GET_NAMESRV_CONFIG (319).
//!
//! Each processor is a plain function from the request to the response (no IO besides the
//! KV config file), so it is testable without sockets. Each decodes its typed header, calls
//! the route table or KV config, and builds the response; failures are [`RequestError`]s,
//! turned into responses in [`process`] only.
//!
//! Invariant: [`process`] answers every code; codes outside [`NAMESRV_REQUEST_CODES`] get
//! REQUEST_CODE_NOT_SUPPORTED with Java's remark.

pub mod broker_perm;
pub mod kv_config;
pub mod namesrv_config;
pub mod register_broker;
pub mod route;
pub mod topic;

use ferromq_protocol::{RemotingCommand, RequestCode, ResponseCode};

use crate::error::RequestError;
use crate::state::NamesrvState;

/// Every request code the name server serves.
pub const NAMESRV_REQUEST_CODES: &[RequestCode] = &[
    RequestCode::PutKvConfig,
    RequestCode::GetKvConfig,
    RequestCode::DeleteKvConfig,
    RequestCode::RegisterBroker,
    RequestCode::UnregisterBroker,
    RequestCode::GetRouteinfoByTopic,
    RequestCode::GetBrokerClusterInfo,
    RequestCode::WipeWritePermOfBroker,
    RequestCode::GetAllTopicListFromNameserver,
    RequestCode::DeleteTopicInNamesrv,
    RequestCode::RegisterTopicInNamesrv,
    RequestCode::GetKvlistByNamespace,
    RequestCode::GetTopicsByCluster,
    RequestCode::GetSystemTopicListFromNs,
    RequestCode::UpdateNamesrvConfig,
    RequestCode::GetNamesrvConfig,
    RequestCode::QueryDataVersion,
    RequestCode::AddWritePermOfBroker,
    RequestCode::BrokerHeartbeat,
];

/// Processes one request. `connection_id` identifies the connection it came on (used to drop
/// a broker when its connection closes); `None` outside a server.
pub fn process(state: &NamesrvState, request: &RemotingCommand, connection_id: Option<u64>) -> RemotingCommand {
    let result = match request.request_code_enum() {
        RequestCode::PutKvConfig => kv_config::put_kv_config(state, request),
        RequestCode::GetKvConfig => kv_config::get_kv_config(state, request),
        RequestCode::DeleteKvConfig => kv_config::delete_kv_config(state, request),
        RequestCode::GetKvlistByNamespace => kv_config::get_kv_list_by_namespace(state, request),
        RequestCode::RegisterBroker => register_broker::register_broker(state, request, connection_id),
        RequestCode::UnregisterBroker => register_broker::unregister_broker(state, request),
        RequestCode::QueryDataVersion => register_broker::query_data_version(state, request),
        RequestCode::BrokerHeartbeat => register_broker::broker_heartbeat(state, request),
        RequestCode::GetRouteinfoByTopic => route::get_routeinfo_by_topic(state, request),
        RequestCode::GetBrokerClusterInfo => route::get_broker_cluster_info(state, request),
        RequestCode::GetAllTopicListFromNameserver => topic::get_all_topic_list_from_nameserver(state, request),
        RequestCode::DeleteTopicInNamesrv => topic::delete_topic_in_namesrv(state, request),
        RequestCode::RegisterTopicInNamesrv => topic::register_topic_in_namesrv(state, request),
        RequestCode::GetTopicsByCluster => topic::get_topics_by_cluster(state, request),
        RequestCode::GetSystemTopicListFromNs => topic::get_system_topic_list_from_ns(state, request),
        RequestCode::WipeWritePermOfBroker => broker_perm::wipe_write_perm_of_broker(state, request),
        RequestCode::AddWritePermOfBroker => broker_perm::add_write_perm_of_broker(state, request),
        RequestCode::UpdateNamesrvConfig => namesrv_config::update_namesrv_config(state, request),
        RequestCode::GetNamesrvConfig => namesrv_config::get_namesrv_config(state, request),
        _ => {
            return RemotingCommand::response_to(request, ResponseCode::RequestCodeNotSupported)
                .with_remark(format!(" request type {} not supported", request.code))
        }
    };
    result.unwrap_or_else(|error| error_response(request, &error))
}

/// The response for a failed request: the error's code, its text as remark.
pub fn error_response(request: &RemotingCommand, error: &RequestError) -> RemotingCommand {
    tracing::debug!(code = request.code, %error, "request failed");
    RemotingCommand::response_to(request, error.response_code()).with_remark(error.to_string())
}

/// An empty SUCCESS response.
pub(crate) fn success(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request, ResponseCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NamesrvConfig;

    fn state(dir: &std::path::Path) -> NamesrvState {
        NamesrvState::new(NamesrvConfig {
            kv_config_path: dir.join("kv.json"),
            ..NamesrvConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn every_namesrv_code_is_answered_by_its_processor() {
        // Goal: the dispatch covers every code of reference 2.2 and nothing answers
        // REQUEST_CODE_NOT_SUPPORTED for them, even with an empty header (missing required
        // fields give SYSTEM_ERROR naming the field). Method: send each code bare.
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path());
        let expected = [
            100, 101, 102, 103, 104, 105, 106, 205, 206, 216, 217, 219, 224, 304, 318, 319, 322, 327, 904,
        ];
        let mut codes: Vec<i32> = NAMESRV_REQUEST_CODES.iter().map(|code| code.as_i32()).collect();
        codes.sort_unstable();
        assert_eq!(codes, expected);
        for code in expected {
            let request = RemotingCommand::request_code(code).with_opaque(code);
            let response = process(&state, &request, None);
            assert_ne!(
                response.code,
                ResponseCode::RequestCodeNotSupported.as_i32(),
                "code {code}"
            );
            assert_eq!(response.opaque, code);
            assert!(response.is_response());
            if response.code == ResponseCode::SystemError.as_i32() {
                assert!(response.remark.is_some(), "code {code}: error without remark");
            }
        }
    }

    #[test]
    fn other_codes_are_not_supported_with_javas_remark() {
        // Goal: reference 1.4 for codes outside the name server's table. Method: SEND_MESSAGE.
        let dir = tempfile::tempdir().unwrap();
        let request = RemotingCommand::request(RequestCode::SendMessage);
        let response = process(&state(dir.path()), &request, None);
        assert_eq!(response.code, ResponseCode::RequestCodeNotSupported.as_i32());
        assert_eq!(response.remark.as_deref(), Some(" request type 10 not supported"));
    }
}
