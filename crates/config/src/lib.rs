//! # ferromq-config
//!
//! Loads a typed config (`NamesrvConfig`, `BrokerConfig`, `MessageStoreConfig`, ...) from the
//! sources a RocketMQ operator already uses, in increasing priority:
//!
//! 1. the struct's defaults (RocketMQ's defaults);
//! 2. a file: RocketMQ `broker.conf` style `key=value` lines (Java `Properties`: `#`/`!`
//!    comments, `=` or `:` separators, `\` line continuation), or TOML when the name ends in
//!    `.toml` (flat `key = value` pairs);
//! 3. environment variables `FERROMQ_<KEY>`: the key matched without regard to case, `_`, `-` or
//!    `.`, so `FERROMQ_BROKER_CLUSTER_NAME` sets `brokerClusterName`;
//! 4. explicit overrides (command-line flags such as `-n`).
//!
//! Values are text in every source and are converted to the type of the field's default: an
//! integer field takes `Long.parseLong` text, a boolean `true`/`false` (any case). A value that
//! does not convert is an error that names the key, the value and the source. Keys the config
//! does not know are not fatal — RocketMQ ignores them too, and real `broker.conf` files carry
//! many — but each is returned in [`Loaded::unknown_keys`] for the caller to log.
//!
//! Invariants: the result is always a complete, type-checked config; nothing is read that the
//! caller did not name (file path, env prefix, override list).

pub mod properties;
pub mod rewrite;

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "FERROMQ_";

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A config file (path and 1-based line for key=value files).
    File {
        /// The file.
        path: String,
        /// Line number, when known.
        line: Option<usize>,
    },
    /// An environment variable.
    Env(String),
    /// A command-line override.
    Override,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File { path, line: Some(line) } => write!(f, "{path}:{line}"),
            Source::File { path, line: None } => write!(f, "{path}"),
            Source::Env(name) => write!(f, "environment variable {name}"),
            Source::Override => write!(f, "command line"),
        }
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Toml {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A value does not convert to its key's type.
    #[error("config key `{key}` ({origin}): invalid value {value:?}, expected {expected}")]
    InvalidValue {
        /// The key, as the config names it.
        key: String,
        /// The value given.
        value: String,
        /// What the key takes.
        expected: &'static str,
        /// Where the value came from.
        origin: Source,
    },
    /// A value converts but breaks a rule of the config (`validate()`).
    #[error("config key `{key}`: {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// The rule broken, with the value.
        reason: String,
    },
}

/// A key the config does not know, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    /// The key as written.
    pub key: String,
    /// Where it was found.
    pub source: Source,
}

/// A loaded config and what was ignored while loading it.
#[derive(Debug)]
pub struct Loaded<T> {
    /// The config.
    pub config: T,
    /// Keys from files or overrides that the config does not know (environment variables
    /// that match no key are skipped, not listed).
    pub unknown_keys: Vec<UnknownKey>,
}

/// What to load from.
#[derive(Debug, Default, Clone)]
pub struct Sources<'a> {
    /// Config file, if any.
    pub file: Option<&'a Path>,
    /// Environment, as (name, value) pairs; pass `std::env::vars()` collected, or nothing.
    pub env: Vec<(String, String)>,
    /// Overrides by key, applied last.
    pub overrides: Vec<(String, String)>,
}

impl<'a> Sources<'a> {
    /// A file plus the process environment.
    pub fn file_and_env(file: Option<&'a Path>) -> Self {
        Sources {
            file,
            env: std::env::vars().collect(),
            overrides: Vec::new(),
        }
    }
}

/// Loads `T`: defaults, then file, then environment, then overrides.
pub fn load<T>(sources: &Sources<'_>) -> Result<Loaded<T>, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    let defaults = match serde_json::to_value(T::default()) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let keys = KeyIndex::new(&defaults);
    let mut values = defaults.clone();
    let mut unknown_keys = Vec::new();
    let mut set = |raw_key: &str, value: Value, source: Source, unknown: &mut Vec<UnknownKey>| {
        match keys.resolve(raw_key) {
            Some(key) => {
                let converted = convert(key, value, defaults.get(key), &source)?;
                values.insert(key.to_owned(), converted);
            }
            None => unknown.push(UnknownKey {
                key: raw_key.to_owned(),
                source,
            }),
        }
        Ok::<(), ConfigError>(())
    };

    if let Some(path) = sources.file {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml")) {
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError::Toml {
                path: shown.clone(),
                message: e.to_string(),
            })?;
            for (key, value) in table {
                let source = Source::File {
                    path: shown.clone(),
                    line: None,
                };
                let value = toml_to_json(&key, value, &source)?;
                set(&key, value, source, &mut unknown_keys)?;
            }
        } else {
            for (line, key, value) in parse_properties(&text) {
                let source = Source::File {
                    path: shown.clone(),
                    line: Some(line),
                };
                set(&key, Value::String(value), source, &mut unknown_keys)?;
            }
        }
    }
    for (name, value) in &sources.env {
        // Environment variables that name no key (FERROMQ_HOME, ...) belong to something
        // else: they are skipped silently, not reported.
        if let Some(key) = name.strip_prefix(ENV_PREFIX).and_then(|rest| keys.resolve(rest)) {
            set(
                key,
                Value::String(value.clone()),
                Source::Env(name.clone()),
                &mut unknown_keys,
            )?;
        }
    }
    for (key, value) in &sources.overrides {
        set(key, Value::String(value.clone()), Source::Override, &mut unknown_keys)?;
    }

    let config = serde_json::from_value::<T>(Value::Object(values)).map_err(|e| ConfigError::Invalid {
        key: "(config)".to_owned(),
        reason: format!("does not form a valid config: {e}"),
    })?;
    Ok(Loaded { config, unknown_keys })
}

/// Renders a config as RocketMQ `key=value` lines, sorted (for `-p`-style printing and
/// GET_BROKER_CONFIG bodies).
pub fn to_properties<T: Serialize>(config: &T) -> String {
    let mut out = String::new();
    if let Ok(Value::Object(map)) = serde_json::to_value(config) {
        let sorted: BTreeMap<_, _> = map.into_iter().collect();
        for (key, value) in sorted {
            let text = match value {
                Value::String(s) => s,
                // An unset optional key is left out, so the text reloads to the same config.
                Value::Null => continue,
                other => other.to_string(),
            };
            out.push_str(&key);
            out.push('=');
            out.push_str(&text);
            out.push('\n');
        }
    }
    out
}

/// Parses Java `Properties` text into (line, key, value) triples for config loading, values
/// trimmed (the last duplicate wins when the caller applies them in order). The syntax is
/// [`properties::parse_properties_lines`]'s.
pub fn parse_properties(text: &str) -> Vec<(usize, String, String)> {
    properties::parse_properties_lines(text)
        .into_iter()
        .map(|(line, key, value)| (line, key, value.trim().to_owned()))
        .collect()
}

fn normalize(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

struct KeyIndex<'a> {
    by_normalized: BTreeMap<String, &'a str>,
    exact: &'a Map<String, Value>,
}

impl<'a> KeyIndex<'a> {
    fn new(defaults: &'a Map<String, Value>) -> Self {
        let by_normalized = defaults.keys().map(|k| (normalize(k), k.as_str())).collect();
        KeyIndex {
            by_normalized,
            exact: defaults,
        }
    }

    fn resolve(&self, raw: &str) -> Option<&'a str> {
        if let Some((key, _)) = self.exact.get_key_value(raw) {
            return Some(key.as_str());
        }
        self.by_normalized.get(&normalize(raw)).copied()
    }
}

fn toml_to_json(key: &str, value: toml::Value, source: &Source) -> Result<Value, ConfigError> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            return Err(ConfigError::InvalidValue {
                key: key.to_owned(),
                value: format!("{value:?}"),
                expected: "a plain value (arrays and tables are not config values)",
                origin: source.clone(),
            })
        }
    })
}

/// Converts `value` to the JSON type of the key's default.
fn convert(key: &str, value: Value, default: Option<&Value>, source: &Source) -> Result<Value, ConfigError> {
    let invalid = |value: &Value, expected: &'static str| ConfigError::InvalidValue {
        key: key.to_owned(),
        value: match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
        expected,
        origin: source.clone(),
    };
    let text = match &value {
        Value::String(s) => Some(s.trim().to_owned()),
        _ => None,
    };
    match default {
        Some(Value::Bool(_)) => match (&value, text.as_deref()) {
            (Value::Bool(_), _) => Ok(value),
            (_, Some(t)) if t.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            (_, Some(t)) if t.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(invalid(&value, "true or false")),
        },
        Some(Value::Number(n)) if n.is_u64() => match (&value, text.as_deref()) {
            (Value::Number(v), _) if v.is_u64() => Ok(value),
            (_, Some(t)) => t
                .parse::<u64>()
                .map(Value::from)
                .map_err(|_| invalid(&value, "a non-negative integer")),
            _ => Err(invalid(&value, "a non-negative integer")),
        },
        Some(Value::Number(n)) if n.is_i64() => match (&value, text.as_deref()) {
            (Value::Number(v), _) if v.is_i64() => Ok(value),
            (_, Some(t)) => t
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| invalid(&value, "an integer")),
            _ => Err(invalid(&value, "an integer")),
        },
        Some(Value::Number(_)) => match (&value, text.as_deref()) {
            (Value::Number(_), _) => Ok(value),
            (_, Some(t)) => t
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| invalid(&value, "a number")),
            _ => Err(invalid(&value, "a number")),
        },
        Some(Value::String(_)) => match value {
            Value::String(_) => Ok(value),
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            other => Err(invalid(&other, "a string")),
        },
        // Optional fields (default null): empty text unsets, numbers and booleans by their
        // text, anything else a string.
        _ => match text {
            Some(t) if t.is_empty() => Ok(Value::Null),
            Some(t) => Ok(serde_json::from_str::<Value>(&t)
                .ok()
                .filter(|v| v.is_number() || v.is_boolean())
                .unwrap_or(Value::String(t))),
            None => Ok(value),
        },
    }
}

#[cfg(test)]
mod tests;
