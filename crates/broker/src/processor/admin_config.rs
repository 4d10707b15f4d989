//! GET_BROKER_CONFIG (26) and UPDATE_BROKER_CONFIG (25) (Java `AdminBrokerProcessor`).
//!
//! GET answers the broker and store settings as Java properties text (`key=value` lines) with
//! the config DataVersion JSON in header field `version`. UPDATE takes properties text, applies
//! the broker keys it knows (typed like the current values), validates the result and swaps it
//! in. Keys read per request (e.g. `brokerPermission`, `longPollingEnable`,
//! `channelExpiredTimeout`) take effect at once; keys read at start (ports, name servers, queue
//! capacities, store keys) only after a restart. Accepted changes are written back, in place, to
//! `brokerConfigPath` (by default the `-c` file the broker started with), so they survive a
//! restart as in RocketMQ; without a config file they last until restart.

use std::sync::Arc;

use ferromq_config::rewrite::{rewrite_config_file, ConfigValue};
use ferromq_protocol::body::encode_body;
use ferromq_protocol::header::admin::GetBrokerConfigResponseHeader;
use ferromq_protocol::RemotingCommand;
use ferromq_remoting::RequestContext;
use serde_json::{Map, Value};

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::processor::success;

/// Keys UPDATE_BROKER_CONFIG refuses (Java's `configBlackList` plus identity and paths).
pub const CONFIG_BLACK_LIST: [&str; 8] = [
    "brokerConfigPath",
    "rocketmqHome",
    "configBlackList",
    "storePathRootDir",
    "storePathCommitLog",
    "brokerName",
    "brokerClusterName",
    "brokerId",
];

fn flatten(value: Value, out: &mut String) {
    if let Value::Object(map) = value {
        for (key, value) in map {
            let text = match value {
                Value::Null => continue,
                Value::String(s) => s,
                other => other.to_string(),
            };
            out.push_str(&key);
            out.push('=');
            out.push_str(&text);
            out.push('\n');
        }
    }
}

/// GET_BROKER_CONFIG (26).
pub async fn get_broker_config(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let mut text = String::new();
    flatten(serde_json::to_value(&*broker.config()).unwrap_or_default(), &mut text);
    flatten(
        serde_json::to_value(&broker.store_config).unwrap_or_default(),
        &mut text,
    );
    let version = String::from_utf8_lossy(&encode_body(&broker.config_version())).into_owned();
    Ok(success(&request)
        .with_header(&GetBrokerConfigResponseHeader { version })
        .with_body(text.into_bytes()))
}

/// Parses Java properties text (the project's one codec, `ferromq_config::properties`),
/// values trimmed.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    ferromq_config::properties::parse_properties_lines(text)
        .into_iter()
        .map(|(_, key, value)| (key, value.trim().to_owned()))
        .collect()
}

/// Turns `value` into the JSON type of `current`.
fn typed(key: &str, current: &Value, value: &str) -> Result<Value, BrokerError> {
    let bad = || BrokerError::InvalidParameter {
        reason: format!("{key}={value:?} does not have the key's type"),
    };
    Ok(match current {
        Value::Bool(_) => Value::Bool(value.eq_ignore_ascii_case("true")),
        Value::Number(n) if n.is_f64() => serde_json::Number::from_f64(value.parse().map_err(|_| bad())?)
            .map(Value::Number)
            .ok_or_else(bad)?,
        Value::Number(_) => Value::Number(value.parse::<i64>().map_err(|_| bad())?.into()),
        _ => Value::String(value.to_owned()),
    })
}

/// A typed JSON value as a config file value.
fn config_value(value: &Value) -> ConfigValue {
    match value {
        Value::Bool(b) => ConfigValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => ConfigValue::Int(i),
            None => ConfigValue::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => ConfigValue::Text(s.clone()),
        other => ConfigValue::Text(other.to_string()),
    }
}

/// Applies properties text to a config: known keys typed like their current values, unknown
/// keys ignored (they belong to the store or to other components), black-listed keys refused.
/// Returns the new config and the applied keys with their typed values (to write back).
pub fn apply_properties(
    config: &BrokerConfig,
    text: &str,
) -> Result<(BrokerConfig, Vec<(String, ConfigValue)>), BrokerError> {
    let Value::Object(mut map) = serde_json::to_value(config).unwrap_or_default() else {
        return Ok((config.clone(), Vec::new()));
    };
    let mut changes = Vec::new();
    for (key, value) in parse_properties(text) {
        if CONFIG_BLACK_LIST.contains(&key.as_str()) {
            return Err(BrokerError::ConfigKeyForbidden { key });
        }
        let Some(current) = map.get(&key) else {
            tracing::info!(%key, "UPDATE_BROKER_CONFIG: key is not a runtime broker key; ignored");
            continue;
        };
        let new = typed(&key, current, &value)?;
        changes.push((key.clone(), config_value(&new)));
        map.insert(key, new);
    }
    let updated: BrokerConfig = serde_json::from_value(Value::Object(Map::from_iter(map)))
        .map_err(|e| BrokerError::InvalidParameter { reason: e.to_string() })?;
    updated.validate()?;
    Ok((updated, changes))
}

/// UPDATE_BROKER_CONFIG (25).
pub async fn update_broker_config(
    broker: Arc<Broker>,
    _ctx: RequestContext,
    request: RemotingCommand,
) -> Result<RemotingCommand, BrokerError> {
    let text = String::from_utf8_lossy(&request.body.to_bytes()).into_owned();
    let (updated, changes) = apply_properties(&broker.config(), &text)?;
    let path = updated.broker_config_path.clone();
    if !path.is_empty() && !changes.is_empty() {
        // Persist first: a change that cannot be written is refused, so memory and file agree.
        let target = std::path::PathBuf::from(&path);
        tokio::task::spawn_blocking(move || rewrite_config_file(&target, &changes))
            .await
            .map_err(|_| BrokerError::ShuttingDown)?
            .map_err(|e| BrokerError::ConfigPersist { reason: e.to_string() })?;
    }
    tracing::info!(changes = %text.replace('\n', ";"), file = %path, "broker config updated by admin");
    broker.set_config(updated);
    Ok(success(&request))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: known keys are applied with their types, unknown ones ignored. Method: apply text.
    #[test]
    fn properties_update_known_keys_with_their_types() {
        let text = "# comment\nbrokerPermission=4\nlongPollingEnable=false\nmsgTraceTopicName = T2\nflushDiskType=SYNC_FLUSH\n";
        let (updated, _) = apply_properties(&BrokerConfig::default(), text).unwrap();
        assert_eq!(updated.broker_permission, 4);
        assert!(!updated.long_polling_enable);
        assert_eq!(updated.msg_trace_topic_name, "T2");
    }

    // Goal: black-listed, mistyped and invalid values are refused. Method: three bad updates.
    #[test]
    fn bad_updates_are_refused() {
        let config = BrokerConfig::default();
        assert!(matches!(
            apply_properties(&config, "brokerName=x"),
            Err(BrokerError::ConfigKeyForbidden { .. })
        ));
        assert!(matches!(
            apply_properties(&config, "brokerPermission=abc"),
            Err(BrokerError::InvalidParameter { .. })
        ));
        assert!(matches!(
            apply_properties(&config, "defaultTopicQueueNums=0"),
            Err(BrokerError::InvalidConfig { .. })
        ));
    }

    // Goal: the GET text is key=value lines. Method: flatten a small object.
    #[test]
    fn flatten_writes_key_value_lines_and_skips_nulls() {
        let mut out = String::new();
        flatten(serde_json::json!({"a": 1, "b": "x", "c": null, "d": true}), &mut out);
        assert_eq!(out, "a=1\nb=x\nd=true\n");
    }
}
