//! JSON bodies (reference section 3), fastjson-compatible.
//!
//! Components:
//! - [`fastjson`] holds the normalizer that turns fastjson output (unquoted integer keys, object
//!   keys) into standard JSON, and the writer of the fastjson form;
//! - [`route`] holds TopicRouteData, QueueData, BrokerData, ClusterInfo;
//! - [`kv`] holds KvTable (also the GET_BROKER_RUNTIME_INFO answer) and TopicList;
//! - [`topic_config`] holds DataVersion, TopicConfig (JSON and compact text forms) and
//!   TopicConfigSerializeWrapper;
//! - [`register_broker`] holds RegisterBrokerBody in JSON and compressed forms;
//! - [`heartbeat`] holds HeartbeatData, ProducerData, ConsumerData, SubscriptionData and their
//!   enums;
//! - [`message_queue`] holds MessageQueue and the LOCK/UNLOCK_BATCH_MQ bodies;
//! - [`consumer`] holds consumer lists, connections and CheckClientRequestBody;
//! - [`stats`] holds ConsumeStats, TopicStatsTable and ResetOffsetBody (MessageQueue-keyed maps);
//! - [`offset`] holds the consumerOffset wrapper;
//! - [`subscription_group`] holds SubscriptionGroupConfig and its wrapper.
//!
//! Invariants:
//! - [`decode_body`] accepts standard JSON and fastjson's non-standard key forms, ignores unknown
//!   fields, defaults absent (or `null`) fields as Java would, never panics, and refuses input
//!   larger than [`MAX_JSON_BODY_BYTES`] or nested deeper than [`MAX_JSON_DEPTH`];
//! - [`encode_body`] writes standard JSON with fields in alphabetical order (struct fields are
//!   declared alphabetically), null fields omitted, like fastjson;
//! - `decode_body(&encode_body(x)) == x` for every body type.

pub mod consumer;
pub mod fastjson;
pub mod heartbeat;
pub mod kv;
pub mod message_queue;
pub mod offset;
pub mod register_broker;
pub mod route;
mod serde_ext;
pub mod stats;
pub mod subscription_group;
pub mod topic_config;

#[cfg(test)]
mod arb;
#[cfg(test)]
mod golden_test;

pub use consumer::{
    CheckClientRequestBody, Connection, ConsumerConnection, GetConsumerListByGroupResponseBody, ProducerConnection,
};
pub use fastjson::{normalize, to_fastjson_string};
pub use heartbeat::{
    ConsumeFromWhere, ConsumeType, ConsumerData, ExpressionType, HeartbeatData, MessageModel, ProducerData,
    SubscriptionData,
};
pub use kv::{KvTable, TopicList};
pub use message_queue::{LockBatchRequestBody, LockBatchResponseBody, MessageQueue, UnlockBatchRequestBody};
pub use offset::ConsumerOffsetSerializeWrapper;
pub use register_broker::RegisterBrokerBody;
pub use route::{wants_standard_json, BrokerData, ClusterInfo, QueueData, TopicRouteData};
pub use stats::{ConsumeStats, OffsetWrapper, ResetOffsetBody, TopicOffset, TopicStatsTable};
pub use subscription_group::{SimpleSubscriptionData, SubscriptionGroupConfig, SubscriptionGroupWrapper};
pub use topic_config::{DataVersion, TopicConfig, TopicConfigSerializeWrapper, TopicFilterType};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Largest JSON body [`decode_body`] accepts (also the cap on a decompressed register body):
/// four times the frame limit, room for config files persisted on disk.
pub const MAX_JSON_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Deepest nesting of objects and arrays the normalizer accepts (bodies nest ~6 levels).
pub const MAX_JSON_DEPTH: usize = 64;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The input (or its decompressed form) exceeds the limit.
    #[error("body of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Bytes seen (for decompression: at least this many).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Objects/arrays nest deeper than [`MAX_JSON_DEPTH`].
    #[error("JSON nests deeper than {max_depth} levels at byte {at}")]
    TooDeep {
        /// The limit.
        max_depth: usize,
        /// Byte offset where the limit was crossed.
        at: usize,
    },
    /// The input is not JSON, even by fastjson's rules.
    #[error("malformed JSON: {what} at byte {at}")]
    Malformed {
        /// What was expected or found.
        what: &'static str,
        /// Byte offset.
        at: usize,
    },
    /// The JSON is well formed but does not have the expected shape.
    #[error("JSON does not match the body type at line {line} column {column}: {reason}")]
    Shape {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde's explanation.
        reason: String,
    },
    /// The compressed register body is not a valid zlib stream.
    #[error("invalid zlib stream: {reason}")]
    Inflate {
        /// The decompressor's explanation.
        reason: String,
    },
    /// A length-prefixed section of the compressed register body is cut short or negative.
    #[error("compressed register body: {what} truncated or invalid (length {len})")]
    Truncated {
        /// Which section.
        what: &'static str,
        /// The length read (or needed).
        len: i64,
    },
    /// A `TopicConfig.encode()` text line does not have at least 5 valid fields.
    #[error("invalid topic config text {text:?}")]
    InvalidTopicConfigText {
        /// The text (truncated to 128 chars).
        text: String,
    },
}

impl BodyError {
    pub(crate) fn from_serde(error: &serde_json::Error) -> Self {
        BodyError::Shape {
            line: error.line(),
            column: error.column(),
            reason: error.to_string(),
        }
    }
}

/// Decodes a JSON body: normalizes fastjson's non-standard keys, then deserializes.
pub fn decode_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let normalized = normalize(bytes)?;
    serde_json::from_slice(&normalized).map_err(|e| BodyError::from_serde(&e))
}

/// Encodes a body as standard JSON (quoted keys, fields in declaration = alphabetical order).
pub fn encode_body<T: Serialize>(value: &T) -> Vec<u8> {
    let result = serde_json::to_vec(value);
    // Body types only have string or integer map keys, so serialization cannot fail.
    assert!(
        result.is_ok(),
        "body type does not serialize to JSON: {:?}",
        result.as_ref().err()
    );
    result.unwrap_or_default()
}
