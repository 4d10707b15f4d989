//! Topic and group name rules (`common/.../topic/TopicValidator.java`, `MixAll.java`).
//!
//! Components: the name character rule, length limits, the reserved system topics clients may
//! not send to, and the retry / DLQ naming helpers.

use thiserror::Error;

/// Longest ordinary topic (Java `TOPIC_MAX_LENGTH`): the record's topic length byte is signed.
pub const TOPIC_MAX_LENGTH: usize = 127;
/// Longest retry / DLQ topic (`%RETRY%` + a group of up to 120 characters + margin).
pub const RETRY_TOPIC_MAX_LENGTH: usize = 255;
/// Longest consumer / producer group name (`CHARACTER_MAX_LENGTH`).
pub const GROUP_MAX_LENGTH: usize = 120;

/// Prefix of a group's retry topic.
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
/// Prefix of a group's dead-letter topic.
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";

/// The auto-create template topic.
pub const AUTO_CREATE_TOPIC_KEY_TOPIC: &str = "TBW102";
/// Delayed messages wait here (one queue per delay level).
pub const SCHEDULE_TOPIC: &str = ferromq_store::SCHEDULE_TOPIC;
/// Transaction half messages.
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Transaction op messages.
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Half messages past the check limit.
pub const TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// Broker self test.
pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
/// Offset-moved events.
pub const OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
/// The benchmark topic.
pub const BENCHMARK_TOPIC: &str = "BenchmarkTest";
/// Prefix of 5.x system topics.
pub const SYSTEM_TOPIC_PREFIX: &str = "rmq_sys_";
/// Suffix of the cluster's reply topic (`<cluster>_REPLY_TOPIC`).
pub const REPLY_TOPIC_POSTFIX: &str = "REPLY_TOPIC";

/// Topics a client may never send to (`NOT_ALLOWED_SEND_TOPIC_SET`).
pub const NOT_ALLOWED_SEND_TOPICS: [&str; 6] = [
    SCHEDULE_TOPIC,
    TRANS_HALF_TOPIC,
    TRANS_OP_HALF_TOPIC,
    TRANS_CHECK_MAX_TIME_TOPIC,
    SELF_TEST_TOPIC,
    OFFSET_MOVED_EVENT,
];

/// Why a topic or group name is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// Empty or only whitespace.
    #[error("the specified name is blank")]
    Blank,
    /// A character outside `[%|a-zA-Z0-9_-]`.
    #[error("the specified name contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$")]
    IllegalCharacters,
    /// Too long.
    #[error("the specified name is longer than {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
}

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-')
}

/// Java `TopicValidator.validateTopic`: non-blank, `^[%|a-zA-Z0-9_-]+$`, at most 127 characters
/// (255 for retry and DLQ topics, whose group part may be long).
pub fn validate_topic_name(topic: &str) -> Result<(), NameError> {
    if topic.trim().is_empty() {
        return Err(NameError::Blank);
    }
    if !topic.chars().all(valid_char) {
        return Err(NameError::IllegalCharacters);
    }
    let max = if is_retry_topic(topic) || is_dlq_topic(topic) {
        RETRY_TOPIC_MAX_LENGTH
    } else {
        TOPIC_MAX_LENGTH
    };
    if topic.len() > max {
        return Err(NameError::TooLong { max });
    }
    Ok(())
}

/// Java `TopicValidator.validateGroup` / client `checkGroup`: non-blank, same characters, at
/// most 120 characters.
pub fn validate_group_name(group: &str) -> Result<(), NameError> {
    if group.trim().is_empty() {
        return Err(NameError::Blank);
    }
    if !group.chars().all(valid_char) {
        return Err(NameError::IllegalCharacters);
    }
    if group.len() > GROUP_MAX_LENGTH {
        return Err(NameError::TooLong { max: GROUP_MAX_LENGTH });
    }
    Ok(())
}

/// Whether clients are forbidden to send to `topic`.
pub fn is_not_allowed_send_topic(topic: &str) -> bool {
    NOT_ALLOWED_SEND_TOPICS.contains(&topic)
}

/// Whether `topic` is a retry topic.
pub fn is_retry_topic(topic: &str) -> bool {
    topic.starts_with(RETRY_GROUP_TOPIC_PREFIX)
}

/// Whether `topic` is a dead-letter topic.
pub fn is_dlq_topic(topic: &str) -> bool {
    topic.starts_with(DLQ_GROUP_TOPIC_PREFIX)
}

/// `%RETRY%<group>`.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}

/// `%DLQ%<group>`.
pub fn dlq_topic(group: &str) -> String {
    format!("{DLQ_GROUP_TOPIC_PREFIX}{group}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Goal: Java's topic rules. Method: a table of accepted and refused names.
    #[test]
    fn topic_names_follow_java_rules() {
        assert_eq!(validate_topic_name("TopicTest"), Ok(()));
        assert_eq!(validate_topic_name("%RETRY%group-1|x_y"), Ok(()));
        assert_eq!(validate_topic_name(""), Err(NameError::Blank));
        assert_eq!(validate_topic_name("  "), Err(NameError::Blank));
        assert_eq!(validate_topic_name("a b"), Err(NameError::IllegalCharacters));
        assert_eq!(validate_topic_name("a.b"), Err(NameError::IllegalCharacters));
        assert_eq!(validate_topic_name("主题"), Err(NameError::IllegalCharacters));
        assert_eq!(validate_topic_name(&"a".repeat(127)), Ok(()));
        assert_eq!(
            validate_topic_name(&"a".repeat(128)),
            Err(NameError::TooLong { max: 127 })
        );
        assert_eq!(validate_topic_name(&format!("%RETRY%{}", "g".repeat(120))), Ok(()));
    }

    // Goal: reserved topics are refused for sending, ordinary ones are not. Method: membership.
    #[test]
    fn system_topics_are_not_allowed_for_sending() {
        assert!(is_not_allowed_send_topic("SCHEDULE_TOPIC_XXXX"));
        assert!(is_not_allowed_send_topic("RMQ_SYS_TRANS_HALF_TOPIC"));
        assert!(!is_not_allowed_send_topic("TBW102"));
        assert!(!is_not_allowed_send_topic("%RETRY%g"));
    }

    proptest! {
        // Goal: validation is total and accepts exactly the documented alphabet. Method:
        // arbitrary strings; compare with a direct restatement of the rule.
        #[test]
        fn topic_validation_matches_its_definition(name in ".{0,200}") {
            let expected = !name.trim().is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "%|_-".contains(c))
                && name.len() <= if name.starts_with("%RETRY%") || name.starts_with("%DLQ%") { 255 } else { 127 };
            prop_assert_eq!(validate_topic_name(&name).is_ok(), expected);
        }
    }
}
