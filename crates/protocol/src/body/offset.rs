//! The consumer-offset wrapper (reference 7.4): GET_ALL_CONSUMER_OFFSET answer and the
//! `config/consumerOffset.json` file, `{"offsetTable":{"T@g":{0:12,1:7}}}` (fastjson writes the
//! queue-id keys unquoted).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::serde_ext::null_default;
use super::DataVersion;

/// `topic@group` -> queueId -> offset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerOffsetSerializeWrapper {
    /// Version of the table (5.x; only written when set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_version: Option<DataVersion>,
    /// Offsets by `topic@group` and queue id.
    #[serde(deserialize_with = "null_default")]
    pub offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

/// Separator of the offset table key `topic@group`.
pub const TOPIC_GROUP_SEPARATOR: char = '@';

/// The offset table key of a topic and group.
pub fn offset_table_key(topic: &str, group: &str) -> String {
    format!("{topic}{TOPIC_GROUP_SEPARATOR}{group}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::decode_body;

    #[test]
    fn java_offset_file_with_unquoted_queue_ids_parses() {
        // Goal: the fastjson form of consumerOffset.json parses. Method: the reference example.
        let wrapper: ConsumerOffsetSerializeWrapper = decode_body(br#"{"offsetTable":{"T@g":{0:12,1:7}}}"#).unwrap();
        assert_eq!(
            wrapper.offset_table[&offset_table_key("T", "g")],
            [(0, 12), (1, 7)].into()
        );
        assert_eq!(wrapper.data_version, None);
    }
}
