//! Message filtering on the pull path (reference 7.5): building a subscription from a pull
//! header (`FilterAPI.build`) and the TAG filter on ConsumeQueue tags codes
//! (`ExpressionMessageFilter.isMatchedByConsumeQueue`).
//!
//! SQL92 and class filters are not evaluated by FerroMQ; such subscriptions are refused with
//! Java's "does not support" error, exactly as a Java broker with `enablePropertyFilter=false`.
//!
//! Invariant: tag codes are Java `String.hashCode` values compared as `int`, so hash
//! collisions pass here and are resolved by the client's exact tag check, as in RocketMQ.

use std::collections::BTreeSet;

use ferromq_protocol::body::heartbeat::SUB_ALL;
use ferromq_protocol::body::{ExpressionType, SubscriptionData};
use ferromq_protocol::message::java_hash;

use crate::error::BrokerError;

/// Separator of tags in a TAG expression.
pub const TAG_SEPARATOR: &str = "||";

/// Builds a TAG subscription from `expression` (`TagA || TagB`, `*` or empty).
pub fn build_tag_subscription(topic: &str, expression: &str, sub_version: i64) -> SubscriptionData {
    let trimmed = expression.trim();
    let mut sub = SubscriptionData {
        topic: topic.to_owned(),
        sub_version,
        expression_type: ExpressionType::Tag,
        ..Default::default()
    };
    if trimmed.is_empty() || trimmed == SUB_ALL {
        sub.sub_string = SUB_ALL.to_owned();
        return sub;
    }
    sub.sub_string = expression.to_owned();
    for tag in trimmed.split(TAG_SEPARATOR).map(str::trim).filter(|t| !t.is_empty()) {
        sub.tags_set.insert(tag.to_owned());
        sub.code_set.insert(java_hash(tag));
    }
    sub
}

/// Builds the subscription carried by a pull header (sysFlag SUBSCRIPTION).
pub fn subscription_from_header(
    topic: &str,
    expression: Option<&str>,
    expression_type: Option<&str>,
    sub_version: i64,
) -> Result<SubscriptionData, BrokerError> {
    let expression_type = ExpressionType::from(expression_type.unwrap_or("TAG").to_owned());
    match expression_type {
        ExpressionType::Tag => Ok(build_tag_subscription(
            topic,
            expression.unwrap_or(SUB_ALL),
            sub_version,
        )),
        other => Err(BrokerError::FilterNotSupported {
            expression_type: String::from(other),
        }),
    }
}

/// Checks that a registered subscription can be evaluated here.
pub fn check_supported(sub: &SubscriptionData) -> Result<(), BrokerError> {
    match &sub.expression_type {
        ExpressionType::Tag if !sub.class_filter_mode => Ok(()),
        ExpressionType::Tag => Err(BrokerError::FilterNotSupported {
            expression_type: "CLASS_FILTER".to_owned(),
        }),
        other => Err(BrokerError::FilterNotSupported {
            expression_type: String::from(other.clone()),
        }),
    }
}

/// The tags codes a subscription accepts; `None` means every message.
pub fn accepted_codes(sub: &SubscriptionData) -> Option<BTreeSet<i32>> {
    if sub.is_sub_all() {
        return None;
    }
    if !sub.code_set.is_empty() {
        return Some(sub.code_set.clone());
    }
    // Some clients send tags without codes: compute them.
    Some(sub.tags_set.iter().map(|t| java_hash(t)).collect())
}

/// Whether a ConsumeQueue tags code passes the accepted codes (Java compares `(int) tagsCode`).
pub fn tags_code_matches(accepted: Option<&BTreeSet<i32>>, tags_code: i64) -> bool {
    match accepted {
        None => true,
        // Truncation to int is Java's `tagsCode.intValue()`.
        Some(codes) => codes.contains(&(tags_code as i32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: tag expressions parse like FilterAPI. Method: `*`, empty, and an OR of tags.
    #[test]
    fn tag_expressions_build_code_sets_with_java_hash() {
        let all = build_tag_subscription("T", "*", 1);
        assert!(all.is_sub_all());
        assert_eq!(accepted_codes(&all), None);
        let empty = build_tag_subscription("T", "  ", 1);
        assert_eq!(empty.sub_string, "*");
        let two = build_tag_subscription("T", "TagA || TagB ||", 7);
        assert_eq!(two.tags_set.len(), 2);
        assert!(two.code_set.contains(&2_598_919));
        let codes = accepted_codes(&two);
        assert!(tags_code_matches(codes.as_ref(), 2_598_919));
        assert!(!tags_code_matches(codes.as_ref(), 0));
    }

    // Goal: SQL92 is refused with Java's message; TAG passes. Method: header subscriptions.
    #[test]
    fn sql92_subscriptions_are_refused() {
        let error = subscription_from_header("T", Some("a > 1"), Some("SQL92"), 0).unwrap_err();
        assert_eq!(
            error.to_string(),
            "The broker does not support consumer to filter message by SQL92"
        );
        assert!(subscription_from_header("T", None, None, 0).unwrap().is_sub_all());
    }

    // Goal: tags without codes still filter. Method: a subscription with only tagsSet.
    #[test]
    fn tags_without_codes_are_hashed() {
        let mut sub = build_tag_subscription("T", "TagA", 1);
        sub.code_set.clear();
        assert!(tags_code_matches(
            accepted_codes(&sub).as_ref(),
            i64::from(java_hash("TagA"))
        ));
    }
}
