//! Consumer and connection bodies (reference 3.5): GET_CONSUMER_LIST_BY_GROUP answer,
//! Connection, ConsumerConnection (GET_CONSUMER_CONNECTION_LIST), ProducerConnection
//! (GET_PRODUCER_CONNECTION_LIST) and CheckClientRequestBody (CHECK_CLIENT_CONFIG).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::heartbeat::{ConsumeFromWhere, ConsumeType, MessageModel, SubscriptionData};
use super::serde_ext::{language_code, null_default};
use crate::command::LanguageCode;

/// GET_CONSUMER_LIST_BY_GROUP (38) answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GetConsumerListByGroupResponseBody {
    /// Client ids of the group's consumers.
    #[serde(deserialize_with = "null_default")]
    pub consumer_id_list: Vec<String>,
}

/// One client connection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Connection {
    /// Remote `ip:port`.
    #[serde(deserialize_with = "null_default")]
    pub client_addr: String,
    /// Client id.
    #[serde(deserialize_with = "null_default")]
    pub client_id: String,
    /// Client language, by name.
    #[serde(with = "language_code")]
    pub language: LanguageCode,
    /// Client version ordinal.
    pub version: i32,
}

/// GET_CONSUMER_CONNECTION_LIST (203) answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerConnection {
    /// Connections of the group.
    #[serde(deserialize_with = "null_default")]
    pub connection_set: Vec<Connection>,
    /// Group's start position.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_from_where: Option<ConsumeFromWhere>,
    /// Group's consume type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_type: Option<ConsumeType>,
    /// Group's message model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_model: Option<MessageModel>,
    /// topic -> subscription.
    #[serde(deserialize_with = "null_default")]
    pub subscription_table: BTreeMap<String, SubscriptionData>,
}

/// GET_PRODUCER_CONNECTION_LIST (204) answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerConnection {
    /// Connections of the group.
    #[serde(deserialize_with = "null_default")]
    pub connection_set: Vec<Connection>,
}

/// CHECK_CLIENT_CONFIG (46) body: sent before a non-TAG subscription is used.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckClientRequestBody {
    /// Client id.
    #[serde(deserialize_with = "null_default")]
    pub client_id: String,
    /// Consumer group.
    #[serde(deserialize_with = "null_default")]
    pub group: String,
    /// The subscription to check.
    #[serde(deserialize_with = "null_default")]
    pub subscription_data: SubscriptionData,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode_body, encode_body};

    #[test]
    fn connection_language_is_written_by_name() {
        // Goal: `language` is a LanguageCode name both ways. Method: encode and decode.
        let connection = Connection {
            client_addr: "10.0.0.5:50000".into(),
            client_id: "10.0.0.5@1".into(),
            language: LanguageCode::Go,
            version: 317,
        };
        let text = String::from_utf8(encode_body(&connection)).unwrap();
        assert_eq!(
            text,
            r#"{"clientAddr":"10.0.0.5:50000","clientId":"10.0.0.5@1","language":"GO","version":317}"#
        );
        assert_eq!(decode_body::<Connection>(text.as_bytes()).unwrap(), connection);
        let unknown: Connection = decode_body(br#"{"language":"COBOL"}"#).unwrap();
        assert_eq!(unknown.language, LanguageCode::Other);
    }
}
