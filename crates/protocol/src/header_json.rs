//! JSON command header (serialize type 0), as fastjson writes it (reference 1.2).
//!
//! Output: keys in alphabetical order, nulls omitted, always `code`, `extFields` (may be
//! `{}`), `flag`, `language`, `opaque`, `serializeTypeCurrentRPC` and `version` — the field
//! set every known client accepts. Input: lenient — unknown keys ignored, missing numbers
//! default to 0, ext-field values that are numbers or booleans are kept as their text and
//! null values are dropped.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::command::{Body, ExtFields, LanguageCode, RemotingCommand, SerializeType};
use crate::error::CodecError;

/// Appends the JSON header of `cmd` to `out`.
pub fn encode_json_header(cmd: &RemotingCommand, out: &mut Vec<u8>) {
    out.reserve(128 + cmd.ext_fields.iter().map(|(k, v)| k.len() + v.len() + 6).sum::<usize>());
    out.extend_from_slice(b"{\"code\":");
    push_int(out, i64::from(cmd.code));
    out.extend_from_slice(b",\"extFields\":{");
    for (i, (key, value)) in cmd.ext_fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, key);
        out.push(b':');
        push_json_str(out, value);
    }
    out.extend_from_slice(b"},\"flag\":");
    push_int(out, i64::from(cmd.flag));
    out.extend_from_slice(b",\"language\":\"");
    out.extend_from_slice(cmd.language.name().as_bytes());
    out.extend_from_slice(b"\",\"opaque\":");
    push_int(out, i64::from(cmd.opaque));
    if let Some(remark) = &cmd.remark {
        out.extend_from_slice(b",\"remark\":");
        push_json_str(out, remark);
    }
    out.extend_from_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    push_int(out, i64::from(cmd.version));
    out.push(b'}');
}

fn push_int(out: &mut Vec<u8>, value: i64) {
    let mut buf = [0u8; 20];
    let mut n = value.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        // n % 10 < 10, so the cast cannot truncate.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `s` as a JSON string literal (RFC 8259 escaping).
pub(crate) fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(esc) => out.extend_from_slice(esc),
            None => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

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
    ext_fields: ExtFields,
}

/// Decodes a JSON header; the body is attached by the caller.
pub fn decode_json_header(header: &[u8]) -> Result<RemotingCommand, CodecError> {
    let wire: WireHeader = serde_json::from_slice(header).map_err(|e| CodecError::InvalidJsonHeader(e.to_string()))?;
    Ok(RemotingCommand {
        code: wire.code,
        language: wire.language,
        version: wire.version,
        opaque: wire.opaque,
        flag: wire.flag,
        remark: wire.remark,
        ext_fields: wire.ext_fields,
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
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<LanguageCode, E> {
            Ok(u8::try_from(v)
                .map(LanguageCode::from_u8)
                .unwrap_or(LanguageCode::Other))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<LanguageCode, E> {
            Ok(u8::try_from(v)
                .map(LanguageCode::from_u8)
                .unwrap_or(LanguageCode::Other))
        }
        fn visit_unit<E: de::Error>(self) -> Result<LanguageCode, E> {
            Ok(LanguageCode::Other)
        }
    }
    d.deserialize_any(V)
}

fn lenient_ext_fields<'de, D: Deserializer<'de>>(d: D) -> Result<ExtFields, D::Error> {
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
        type Value = ExtFields;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of string values or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<ExtFields, E> {
            Ok(ExtFields::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtFields, A::Error> {
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
