//! serde helpers shared by the body types.
//!
//! - [`null_default`]: treats an explicit `null` like an absent field (Go and Rust clients
//!   write `null` for empty collections where fastjson omits the field);
//! - [`mq_map`]: a `BTreeMap<MessageQueue, V>` as a JSON object whose keys are the
//!   MessageQueue's JSON text (what [`super::fastjson::normalize`] makes of fastjson's object
//!   keys, and what [`super::fastjson::to_fastjson_string`] turns back into them);
//! - [`language_code`]: [`LanguageCode`] as its name string.

use serde::{Deserialize, Deserializer};

use crate::command::LanguageCode;

/// Deserializes `null` (or an absent field, with `#[serde(default)]`) as `T::default()`.
pub fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `BTreeMap<MessageQueue, V>` with MessageQueue JSON text as keys.
pub mod mq_map {
    use std::collections::BTreeMap;

    use serde::de::Error as _;
    use serde::ser::{Error as _, SerializeMap};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::body::MessageQueue;

    /// Writes each key as the MessageQueue's compact JSON text.
    pub fn serialize<S, V>(map: &BTreeMap<MessageQueue, V>, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        V: Serialize,
    {
        let mut out = serializer.serialize_map(Some(map.len()))?;
        for (queue, value) in map {
            let key = serde_json::to_string(queue).map_err(S::Error::custom)?;
            out.serialize_entry(&key, value)?;
        }
        out.end()
    }

    /// Reads keys holding MessageQueue JSON text; `null` is an empty map.
    pub fn deserialize<'de, D, V>(deserializer: D) -> Result<BTreeMap<MessageQueue, V>, D::Error>
    where
        D: Deserializer<'de>,
        V: Deserialize<'de>,
    {
        let raw = Option::<BTreeMap<String, V>>::deserialize(deserializer)?.unwrap_or_default();
        let mut map = BTreeMap::new();
        for (key, value) in raw {
            let queue: MessageQueue = serde_json::from_str(&key)
                .map_err(|e| D::Error::custom(format_args!("map key is not a MessageQueue: {e}")))?;
            map.insert(queue, value);
        }
        Ok(map)
    }
}

/// [`LanguageCode`] as its name (`"JAVA"`); unknown names become `OTHER`.
pub mod language_code {
    use super::*;
    use serde::Serializer;

    /// Writes the name.
    pub fn serialize<S: Serializer>(code: &LanguageCode, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(code.name())
    }

    /// Reads a name; `null` or absent is `JAVA` (Java's default).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<LanguageCode, D::Error> {
        Ok(Option::<String>::deserialize(deserializer)?
            .map(|name| LanguageCode::from_name(&name))
            .unwrap_or_default())
    }
}
