//! Test-only reference: the JSON header decoder as it was before [`ExtFields`] got its arena
//! (serde derive, one owned `String` per key and value, a `BTreeMap`). The differential tests
//! in `header_json_test.rs` hold the new decoder to exactly its accept/reject behaviour and
//! results.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::command::{Body, ExtFields, LanguageCode, RemotingCommand, SerializeType};

type ReferenceFields = BTreeMap<String, String>;

#[derive(Deserialize)]
struct WireHeader {
    #[serde(default)]
    code: i32,
    #[serde(default, deserialize_with = "language")]
    language: LanguageCode,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    opaque: i32,
    #[serde(default)]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default, rename = "extFields", deserialize_with = "lenient_ext_fields")]
    ext_fields: ReferenceFields,
}

/// The old decoder; `Err` carries serde_json's message.
pub(crate) fn reference_decode(header: &[u8]) -> Result<RemotingCommand, String> {
    let wire: WireHeader = serde_json::from_slice(header).map_err(|e| e.to_string())?;
    Ok(RemotingCommand {
        code: wire.code,
        language: wire.language,
        version: wire.version,
        opaque: wire.opaque,
        flag: wire.flag,
        remark: wire.remark,
        ext_fields: wire.ext_fields.iter().collect::<ExtFields>(),
        serialize_type: SerializeType::Json,
        body: Body::empty(),
    })
}

fn language<'de, D: Deserializer<'de>>(d: D) -> Result<LanguageCode, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = LanguageCode;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a language name or number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<LanguageCode, E> {
            Ok(LanguageCode::from_name(v))
        }
        // A number: a known language code; anything else is OTHER, as an unknown name is.
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<LanguageCode, E> {
            Ok(match u8::try_from(v).map(LanguageCode::from_u8) {
                Ok(LanguageCode::Unknown(_)) | Err(_) => LanguageCode::Other,
                Ok(known) => known,
            })
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<LanguageCode, E> {
            Ok(match u8::try_from(v).map(LanguageCode::from_u8) {
                Ok(LanguageCode::Unknown(_)) | Err(_) => LanguageCode::Other,
                Ok(known) => known,
            })
        }
        fn visit_unit<E: de::Error>(self) -> Result<LanguageCode, E> {
            Ok(LanguageCode::Other)
        }
    }
    d.deserialize_any(V)
}

fn lenient_ext_fields<'de, D: Deserializer<'de>>(d: D) -> Result<ReferenceFields, D::Error> {
    struct ScalarText(Option<String>);
    impl<'de> Deserialize<'de> for ScalarText {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = ScalarText;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a string, number, boolean or null")
                }
                fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                    Ok(ScalarText(Some(v.to_owned())))
                }
                fn visit_string<E: de::Error>(self, v: String) -> Result<ScalarText, E> {
                    Ok(ScalarText(Some(v)))
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                    Ok(ScalarText(Some(v.to_string())))
                }
                fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                    Ok(ScalarText(Some(v.to_string())))
                }
                fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarText, E> {
                    Ok(ScalarText(Some(v.to_string())))
                }
                fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarText, E> {
                    Ok(ScalarText(Some(v.to_string())))
                }
                fn visit_unit<E: de::Error>(self) -> Result<ScalarText, E> {
                    Ok(ScalarText(None))
                }
            }
            d.deserialize_any(V)
        }
    }

    struct MapV;
    impl<'de> Visitor<'de> for MapV {
        type Value = ReferenceFields;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of string values or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<ReferenceFields, E> {
            Ok(ReferenceFields::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ReferenceFields, A::Error> {
            // Collected first, then built in bulk: senders (fastjson) write keys sorted, which
            // `BTreeMap::from_iter` turns into one pass instead of a root-to-leaf search per
            // insert. A repeated key keeps its last value, as inserting one by one would.
            let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(16).min(64));
            while let Some((key, value)) = map.next_entry::<String, ScalarText>()? {
                if let Some(value) = value.0 {
                    pairs.push((key, value));
                }
            }
            Ok(pairs.into_iter().collect())
        }
    }
    d.deserialize_any(MapV)
}
