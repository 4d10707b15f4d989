//! KvTable and TopicList bodies (reference 3.2).
//!
//! KvTable `{"table":{"k":"v"}}` is the answer of GET_KVLIST_BY_NAMESPACE, the
//! ORDER_TOPIC_CONFIG part of a REGISTER_BROKER answer, and GET_BROKER_RUNTIME_INFO (keys such
//! as `brokerVersion`, `brokerVersionDesc`, `msgPutTotalTodayNow`, `commitLogMaxOffset`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::serde_ext::null_default;

/// A string-to-string table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KvTable {
    /// The entries.
    #[serde(deserialize_with = "null_default")]
    pub table: BTreeMap<String, String>,
}

/// A set of topic names, optionally with the broker that answered.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    /// Broker address (only written when set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    /// Topic names.
    #[serde(deserialize_with = "null_default")]
    pub topic_list: BTreeSet<String>,
}
