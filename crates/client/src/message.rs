//! What a producer sends and gets back: [`Message`], [`SendStatus`], [`SendResult`], and the
//! client-side message rules ([`validate_topic`], [`validate_message`]).

use bytes::Bytes;
use ferromq_protocol::body::MessageQueue;
use ferromq_protocol::message::properties::{self, Properties};
use ferromq_protocol::ResponseCode;

use crate::error::ClientError;

/// Longest topic name (`Validators.TOPIC_MAX_LENGTH`): the stored record's V1 topic length is a
/// signed byte.
pub const TOPIC_MAX_LENGTH: usize = 127;

/// A message to send: topic, body, user flag and properties (`Message.java`).
///
/// `new` sets `WAIT=true`, as Java's constructor does (the broker answers after the store's
/// flush/replication policy is met). The producer adds `UNIQ_KEY` at send time when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Target topic.
    pub topic: String,
    /// Body, sent as is (compressed by the producer when over the threshold).
    pub body: Bytes,
    /// User flag (`Message.flag`), stored untouched.
    pub flag: i32,
    /// Properties (`TAGS`, `KEYS`, `WAIT`, user properties, ...).
    pub properties: Properties,
}

impl Message {
    /// A message with `WAIT=true` and no other property.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        let mut props = Properties::new();
        props.insert(properties::WAIT, "true");
        Message {
            topic: topic.into(),
            body: body.into(),
            flag: 0,
            properties: props,
        }
    }

    /// Sets the `TAGS` property (builder style).
    pub fn with_tags(mut self, tags: impl Into<String>) -> Self {
        self.properties.insert(properties::TAGS, tags);
        self
    }

    /// Sets the `KEYS` property, space-separated as Java joins them (builder style).
    pub fn with_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let joined: Vec<String> = keys.into_iter().map(|k| k.as_ref().to_owned()).collect();
        self.properties
            .insert(properties::KEYS, joined.join(properties::KEY_SEPARATOR));
        self
    }

    /// Sets a user property (builder style).
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(name, value);
        self
    }

    /// The `TAGS` property.
    pub fn tags(&self) -> Option<&str> {
        self.properties.get(properties::TAGS)
    }

    /// The client unique key, once the producer set it (or the caller did).
    pub fn uniq_key(&self) -> Option<&str> {
        self.properties.get(properties::UNIQ_KEY)
    }

    /// `WAIT` as Java reads it: absent or anything but `false` means true.
    pub fn wait_store_msg_ok(&self) -> bool {
        self.properties.get(properties::WAIT) != Some("false")
    }
}

/// Outcome of a stored send (`SendStatus.java`); other broker codes are errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendStatus {
    /// Stored (and flushed/replicated as the broker's policy requires).
    SendOk,
    /// Stored, but the synchronous flush did not finish in time.
    FlushDiskTimeout,
    /// Stored, but the synchronous replication did not finish in time.
    FlushSlaveTimeout,
    /// Stored, but no slave is available for synchronous replication.
    SlaveNotAvailable,
}

impl SendStatus {
    /// The status a response code means, or `None` when the code is a failure.
    pub fn from_response_code(code: ResponseCode) -> Option<Self> {
        match code {
            ResponseCode::Success => Some(SendStatus::SendOk),
            ResponseCode::FlushDiskTimeout => Some(SendStatus::FlushDiskTimeout),
            ResponseCode::FlushSlaveTimeout => Some(SendStatus::FlushSlaveTimeout),
            ResponseCode::SlaveNotAvailable => Some(SendStatus::SlaveNotAvailable),
            _ => None,
        }
    }

    /// Java's constant name.
    pub fn name(self) -> &'static str {
        match self {
            SendStatus::SendOk => "SEND_OK",
            SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
            SendStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
            SendStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
        }
    }
}

/// Result of a send that the broker stored (`SendResult.java`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// How the store went.
    pub status: SendStatus,
    /// The client id (`UNIQ_KEY`); for a batch, the inner keys joined by commas.
    pub msg_id: String,
    /// The broker's offsetMsgId (store host + CommitLog offset); comma-joined for a batch.
    pub offset_msg_id: String,
    /// Queue the message went to (queue id as the broker reports it).
    pub queue: MessageQueue,
    /// Queue offset of the (first) message.
    pub queue_offset: i64,
    /// Transaction id from the response, if any.
    pub transaction_id: Option<String>,
    /// Broker region (`MSG_REGION`), if sent.
    pub region_id: Option<String>,
}

/// Java's `Validators.checkTopic`: not blank, at most [`TOPIC_MAX_LENGTH`] bytes, only
/// `[%|a-zA-Z0-9_-]`, and not the auto-create template itself.
pub fn validate_topic(topic: &str, create_topic_key: &str) -> Result<(), ClientError> {
    let invalid = |reason: String| Err(ClientError::InvalidMessage { reason });
    if topic.trim().is_empty() {
        return invalid("the topic is blank".to_owned());
    }
    if topic.len() > TOPIC_MAX_LENGTH {
        return invalid(format!(
            "topic is {} bytes, longer than {TOPIC_MAX_LENGTH}",
            topic.len()
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-');
    if !topic.chars().all(allowed) {
        return invalid(format!("topic {topic:?} has characters outside [%|a-zA-Z0-9_-]"));
    }
    if topic == create_topic_key {
        return invalid(format!(
            "the topic {topic} is the auto-create template and cannot be sent to"
        ));
    }
    Ok(())
}

/// Java's `Validators.checkMessage`: valid topic, non-empty body no larger than `max_body_bytes`.
pub fn validate_message(message: &Message, create_topic_key: &str, max_body_bytes: usize) -> Result<(), ClientError> {
    validate_topic(&message.topic, create_topic_key)?;
    if message.body.is_empty() {
        return Err(ClientError::InvalidMessage {
            reason: "the message body length is zero".to_owned(),
        });
    }
    if message.body.len() > max_body_bytes {
        return Err(ClientError::InvalidMessage {
            reason: format!(
                "the message body is {} bytes, over the maximum of {max_body_bytes}",
                message.body.len()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_message_waits_for_store_and_builders_set_properties() {
        // Goal: WAIT=true by default like Java; tags and keys land in their properties.
        // Method: build a message and read the properties back.
        let message = Message::new("T", &b"x"[..]).with_tags("TagA").with_keys(["k1", "k2"]);
        assert!(message.wait_store_msg_ok());
        assert_eq!(message.tags(), Some("TagA"));
        assert_eq!(message.properties.get("KEYS"), Some("k1 k2"));
        assert_eq!(message.uniq_key(), None);
    }

    #[test]
    fn topic_rules_follow_javas_validator() {
        // Goal: blank, too long, bad characters and TBW102 are refused; normal names pass.
        // Method: one case per rule.
        assert!(validate_topic("TopicTest_1-%RETRY%|x", "TBW102").is_ok());
        assert!(validate_topic(" ", "TBW102").is_err());
        assert!(validate_topic(&"a".repeat(128), "TBW102").is_err());
        assert!(validate_topic("a b", "TBW102").is_err());
        assert!(validate_topic("TBW102", "TBW102").is_err());
    }

    #[test]
    fn empty_and_oversized_bodies_are_refused() {
        // Goal: a zero-length body and a body over the limit are errors before sending.
        assert!(validate_message(&Message::new("T", Bytes::new()), "TBW102", 4).is_err());
        assert!(validate_message(&Message::new("T", vec![0u8; 5]), "TBW102", 4).is_err());
        assert!(validate_message(&Message::new("T", vec![0u8; 4]), "TBW102", 4).is_ok());
    }

    #[test]
    fn only_the_four_stored_codes_are_statuses() {
        // Goal: SUCCESS and the three "stored but" codes map to statuses; others do not.
        assert_eq!(
            SendStatus::from_response_code(ResponseCode::Success),
            Some(SendStatus::SendOk)
        );
        assert_eq!(
            SendStatus::from_response_code(ResponseCode::FlushSlaveTimeout),
            Some(SendStatus::FlushSlaveTimeout)
        );
        assert_eq!(SendStatus::from_response_code(ResponseCode::SystemBusy), None);
        assert_eq!(SendStatus::SlaveNotAvailable.name(), "SLAVE_NOT_AVAILABLE");
    }
}
