//! Topic configuration bodies (reference 3.2, 3.3): DataVersion, TopicConfig (JSON and the
//! compact `TopicConfig.encode()` text of the compressed register body) and
//! TopicConfigSerializeWrapper (GET_ALL_TOPIC_CONFIG, REGISTER_BROKER).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::serde_ext::null_default;
use super::BodyError;

/// Version stamp of a broker's topic (or subscription) configuration. 4.9.x has no
/// `stateVersion`, so it is optional and only written when set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    /// Bumped on every change.
    pub counter: i64,
    /// 5.x state version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_version: Option<i64>,
    /// Time of the last change (ms).
    pub timestamp: i64,
}

impl DataVersion {
    /// A first version at `now_ms` (5.x shape: stateVersion 0).
    pub fn new(now_ms: i64) -> Self {
        DataVersion {
            counter: 0,
            state_version: Some(0),
            timestamp: now_ms,
        }
    }

    /// Java `nextVersion()`: counter + 1, timestamp = now.
    pub fn next_version(&mut self, now_ms: i64) {
        self.counter = self.counter.wrapping_add(1);
        self.timestamp = now_ms;
    }
}

/// `TopicFilterType` (written by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TopicFilterType {
    /// One tag per message (default).
    #[default]
    SingleTag,
    /// Several tags per message.
    MultiTag,
}

impl TopicFilterType {
    /// The Java name.
    pub const fn name(self) -> &'static str {
        match self {
            TopicFilterType::SingleTag => "SINGLE_TAG",
            TopicFilterType::MultiTag => "MULTI_TAG",
        }
    }

    /// Maps a Java name (`valueOf`: exact match).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SINGLE_TAG" => Some(TopicFilterType::SingleTag),
            "MULTI_TAG" => Some(TopicFilterType::MultiTag),
            _ => None,
        }
    }
}

/// Java's default queue count of a new topic.
pub const DEFAULT_QUEUE_NUMS: i32 = 16;
/// PERM_READ | PERM_WRITE.
pub const DEFAULT_PERM: i32 = 6;

/// One topic's configuration. Absent fields take Java's defaults (16 queues, perm 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    /// 5.x attributes (e.g. `+message.type=NORMAL`).
    #[serde(deserialize_with = "null_default")]
    pub attributes: BTreeMap<String, String>,
    /// Ordered topic.
    pub order: bool,
    /// Permission bits.
    pub perm: i32,
    /// Read queue count.
    pub read_queue_nums: i32,
    /// Filter type.
    pub topic_filter_type: TopicFilterType,
    /// Topic name.
    #[serde(deserialize_with = "null_default")]
    pub topic_name: String,
    /// Topic sysFlag.
    pub topic_sys_flag: i32,
    /// Write queue count.
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            attributes: BTreeMap::new(),
            order: false,
            perm: DEFAULT_PERM,
            read_queue_nums: DEFAULT_QUEUE_NUMS,
            topic_filter_type: TopicFilterType::SingleTag,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: DEFAULT_QUEUE_NUMS,
        }
    }
}

fn invalid_text(text: &str) -> BodyError {
    BodyError::InvalidTopicConfigText {
        text: text.chars().take(128).collect(),
    }
}

impl TopicConfig {
    /// A topic with the given queue counts and permission, other fields default.
    pub fn new(topic_name: impl Into<String>, read_queue_nums: i32, write_queue_nums: i32, perm: i32) -> Self {
        TopicConfig {
            topic_name: topic_name.into(),
            read_queue_nums,
            write_queue_nums,
            perm,
            ..Default::default()
        }
    }

    /// Java 5.x `TopicConfig.encode()`:
    /// `topicName SP readQueueNums SP writeQueueNums SP perm SP topicFilterType SP attributesJSON`.
    /// topicSysFlag and order are not part of this form.
    pub fn encode(&self) -> String {
        let attributes = serde_json::to_string(&self.attributes).unwrap_or_else(|_| "{}".to_owned());
        format!(
            "{} {} {} {} {} {}",
            self.topic_name,
            self.read_queue_nums,
            self.write_queue_nums,
            self.perm,
            self.topic_filter_type.name(),
            attributes
        )
    }

    /// Java `TopicConfig.decode()`: at least 5 space-separated fields (4.x writes exactly 5);
    /// the rest of the line, if any, is the attributes JSON, ignored when it does not parse.
    pub fn decode(text: &str) -> Result<Self, BodyError> {
        let mut parts = text.splitn(6, ' ');
        let mut next = || parts.next().ok_or_else(|| invalid_text(text));
        let topic_name = next()?.to_owned();
        let read_queue_nums = next()?.parse::<i32>().map_err(|_| invalid_text(text))?;
        let write_queue_nums = next()?.parse::<i32>().map_err(|_| invalid_text(text))?;
        let perm = next()?.parse::<i32>().map_err(|_| invalid_text(text))?;
        let topic_filter_type = TopicFilterType::from_name(next()?).ok_or_else(|| invalid_text(text))?;
        let attributes = parts
            .next()
            .and_then(|json| serde_json::from_str::<BTreeMap<String, String>>(json).ok())
            .unwrap_or_default();
        if topic_name.is_empty() {
            return Err(invalid_text(text));
        }
        Ok(TopicConfig {
            attributes,
            order: false,
            perm,
            read_queue_nums,
            topic_filter_type,
            topic_name,
            topic_sys_flag: 0,
            write_queue_nums,
        })
    }
}

/// All topic configs of a broker with their DataVersion, plus the 5.x static-topic mapping
/// fields (`TopicConfigAndMappingSerializeWrapper`), kept as raw JSON and omitted when absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    /// Version of the table.
    #[serde(deserialize_with = "null_default")]
    pub data_version: DataVersion,
    /// Version of the mapping tables (5.x).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_data_version: Option<DataVersion>,
    /// topicName -> config.
    #[serde(deserialize_with = "null_default")]
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    /// topic -> TopicQueueMappingDetail (5.x).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_detail_map: Option<BTreeMap<String, serde_json::Value>>,
    /// topic -> TopicQueueMappingInfo (5.x).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_info_map: Option<BTreeMap<String, serde_json::Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::decode_body;

    #[test]
    fn topic_config_text_form_matches_java() {
        // Goal: the compact form of the compressed register body. Method: encode a known config,
        // decode Java 4.x (5 fields) and 5.x (6 fields, trailing-space) lines.
        let mut config = TopicConfig::new("TopicA", 8, 8, 6);
        config.attributes.insert("+message.type".into(), "NORMAL".into());
        assert_eq!(config.encode(), r#"TopicA 8 8 6 SINGLE_TAG {"+message.type":"NORMAL"}"#);
        assert_eq!(TopicConfig::decode(&config.encode()).unwrap(), config);

        let old = TopicConfig::decode("TopicB 4 2 7 MULTI_TAG").unwrap();
        assert_eq!((old.read_queue_nums, old.write_queue_nums, old.perm), (4, 2, 7));
        assert_eq!(old.topic_filter_type, TopicFilterType::MultiTag);
        assert!(TopicConfig::decode("TopicB 4 2 7 SINGLE_TAG ")
            .unwrap()
            .attributes
            .is_empty());
        assert!(TopicConfig::decode("TopicB 4 2 7 SINGLE_TAG not-json")
            .unwrap()
            .attributes
            .is_empty());
    }

    #[test]
    fn bad_topic_config_text_is_an_error() {
        // Goal: short or non-numeric lines are typed errors. Method: a table of bad lines.
        for bad in [
            "",
            "T 1 1 6",
            "T x 1 6 SINGLE_TAG",
            "T 1 1 6 OTHER",
            " 1 1 6 SINGLE_TAG",
            "T  1 1 6 SINGLE_TAG",
        ] {
            assert!(
                matches!(TopicConfig::decode(bad), Err(BodyError::InvalidTopicConfigText { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn absent_topic_config_fields_take_java_defaults() {
        // Goal: missing fields default as Java's field initializers. Method: minimal JSON.
        let config: TopicConfig = decode_body(br#"{"topicName":"T","unknownField":[1,2]}"#).unwrap();
        assert_eq!(config.read_queue_nums, 16);
        assert_eq!(config.perm, 6);
        assert_eq!(config.topic_filter_type, TopicFilterType::SingleTag);
        let version: DataVersion = decode_body(br#"{"counter":3,"timestamp":1700000000000}"#).unwrap();
        assert_eq!(version.state_version, None);
        let mut next = version.clone();
        next.next_version(1_700_000_000_001);
        assert_eq!((next.counter, next.timestamp), (4, 1_700_000_000_001));
    }
}
