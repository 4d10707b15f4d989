//! JSON command header (serialize type 0), as fastjson writes it (reference 1.2).
//!
//! Output: keys in alphabetical order, nulls omitted, always `code`, `extFields` (may be
//! `{}`), `flag`, `language`, `opaque`, `serializeTypeCurrentRPC` and `version` — the field
//! set every known client accepts. Input: lenient — unknown keys ignored, missing numbers
//! default to 0, ext-field values that are numbers or booleans are kept as their text and
//! null values are dropped.
//!
//! Components: [`encode_json_header`]; [`decode_json_header`]: a one-pass parser for the
//! common header shape (`header_json_fast.rs`) in front of [`decode_json_header_general`], a
//! hand-written serde visitor with the accepted language of the serde-derived struct it
//! replaced (which survives as the test-only reference `header_json_reference.rs`). Both write
//! ext fields straight into the [`ExtFields`] arena: two allocations per header whatever its
//! field count.

use std::fmt;
use std::fmt::Write as _;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::command::{Body, ExtFields, LanguageCode, RemotingCommand, SerializeType};
use crate::error::CodecError;
use crate::ext_fields::ExtFieldsBuilder;

/// Appends the JSON header of `cmd` to `out`.
pub fn encode_json_header(cmd: &RemotingCommand, out: &mut Vec<u8>) {
    out.reserve(128 + cmd.ext_fields.text_len() + 6 * cmd.ext_fields.len());
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

/// Appends the decimal text of `value` (Java's `String.valueOf`), as the header encoder writes
/// every number (public for senders that write a header of their own shape).
pub fn push_int(out: &mut Vec<u8>, value: i64) {
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

/// Appends `s` as a JSON string literal (RFC 8259 escaping), exactly as the header encoder
/// writes every key and value (public for senders that write a header of their own shape).
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    // Room for the unescaped text and the quotes; escapes grow the buffer as they come.
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(offset) = bytes.get(start..).and_then(first_special) {
        let i = start + offset;
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        let b = bytes.get(i).copied().unwrap_or_default();
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

/// In one little-endian word of eight bytes, the high bit of every byte that a JSON string
/// literal must escape, which is also every byte that ends a run of plain string characters:
/// `"` or `\` (zero after the XOR) or below 0x20. Borrows only set bits *above* the first such
/// byte, so the lowest set bit is exact. The encoder, the decoder's fast path and the response
/// scan all find string ends with it.
#[inline(always)]
pub(crate) fn special_mask(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = x ^ (ONES * u64::from(b'"'));
    let backslash = x ^ (ONES * u64::from(b'\\'));
    (quote.wrapping_sub(ONES) & !quote | backslash.wrapping_sub(ONES) & !backslash | x.wrapping_sub(ONES * 0x20) & !x)
        & HIGH
}

/// Position of the first byte of `bytes` that a JSON string literal must escape (see
/// [`ESCAPED`]), eight bytes at a time ([`special_mask`]).
#[inline]
pub(crate) fn first_special(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in words.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let mask = special_mask(u64::from_le_bytes(w));
        if mask != 0 {
            return Some(offset + (mask.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| ESCAPED[usize::from(b)])
        .map(|p| offset + p)
}

/// Bytes a JSON string literal must escape: control characters, `"` and `\`.
static ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Decodes a JSON header; the body is attached by the caller.
///
/// The header shape every known client sends (flat object, known keys once, string
/// ext-field values) takes a one-pass parser (`header_json_fast.rs`); anything else goes to
/// [`decode_json_header_general`], whose verdict is the reference. Both write ext fields
/// straight into the [`ExtFields`] arena.
pub fn decode_json_header(header: &[u8]) -> Result<RemotingCommand, CodecError> {
    match crate::header_json_fast::decode_fast(header) {
        Some(cmd) => Ok(cmd),
        None => decode_json_header_general(header),
    }
}

/// The general JSON header decoder: one pass of serde_json, keys and values of `extFields`
/// appended into the arena (sized from the header length, which bounds it), so a header costs
/// two allocations plus serde_json's scratch buffer for escaped strings and one for a remark.
/// It accepts exactly what a serde-derived struct with all fields defaulted accepts: an object
/// (or a positional array) with each known key at most once, unknown keys ignored.
pub fn decode_json_header_general(header: &[u8]) -> Result<RemotingCommand, CodecError> {
    let mut de = serde_json::Deserializer::from_slice(header);
    let cmd = HeaderSeed {
        text_capacity: header.len(),
    }
    .deserialize(&mut de)
    .and_then(|cmd| de.end().map(|()| cmd))
    .map_err(|e| CodecError::InvalidJsonHeader(e.to_string()))?;
    Ok(cmd)
}

/// The header keys we read, in the positional order of the array form.
const FIELDS: &[&str] = &["code", "language", "version", "opaque", "flag", "remark", "extFields"];

/// One top-level key.
enum Field {
    Code,
    Language,
    Version,
    Opaque,
    Flag,
    Remark,
    ExtFields,
    Ignored,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("field identifier")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                Ok(match v {
                    "code" => Field::Code,
                    "language" => Field::Language,
                    "version" => Field::Version,
                    "opaque" => Field::Opaque,
                    "flag" => Field::Flag,
                    "remark" => Field::Remark,
                    "extFields" => Field::ExtFields,
                    _ => Field::Ignored,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Deserializes a whole header; `text_capacity` sizes the ext-field arena.
struct HeaderSeed {
    text_capacity: usize,
}

impl<'de> DeserializeSeed<'de> for HeaderSeed {
    type Value = RemotingCommand;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RemotingCommand, D::Error> {
        d.deserialize_struct("RemotingCommand", FIELDS, self)
    }
}

/// Sets a top-level field once; a repeated key is an error, as for serde-derived structs.
fn once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

impl<'de> Visitor<'de> for HeaderSeed {
    type Value = RemotingCommand;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a remoting command header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RemotingCommand, A::Error> {
        let (mut code, mut language, mut version, mut opaque) = (None, None, None, None);
        let (mut flag, mut remark, mut ext_fields) = (None, None, None);
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Code => once(&mut code, "code", map.next_value::<i32>()?)?,
                Field::Language => once(&mut language, "language", map.next_value::<Language>()?.0)?,
                Field::Version => once(&mut version, "version", map.next_value::<i32>()?)?,
                Field::Opaque => once(&mut opaque, "opaque", map.next_value::<i32>()?)?,
                Field::Flag => once(&mut flag, "flag", map.next_value::<i32>()?)?,
                Field::Remark => once(&mut remark, "remark", map.next_value::<Option<String>>()?)?,
                Field::ExtFields => {
                    // Checked before parsing, so a repeat never parses a second arena.
                    if ext_fields.is_some() {
                        return Err(de::Error::duplicate_field("extFields"));
                    }
                    ext_fields = Some(map.next_value_seed(ExtFieldsSeed {
                        text_capacity: self.text_capacity,
                    })?);
                }
                Field::Ignored => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(RemotingCommand {
            code: code.unwrap_or_default(),
            language: language.unwrap_or_default(),
            version: version.unwrap_or_default(),
            opaque: opaque.unwrap_or_default(),
            flag: flag.unwrap_or_default(),
            remark: remark.unwrap_or_default(),
            ext_fields: ext_fields.unwrap_or_default(),
            serialize_type: SerializeType::Json,
            body: Body::empty(),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RemotingCommand, A::Error> {
        // The positional form serde-derived structs accept: fields in `FIELDS` order, missing
        // trailing ones defaulted.
        let code = seq.next_element::<i32>()?.unwrap_or_default();
        let language = seq.next_element::<Language>()?.map(|l| l.0).unwrap_or_default();
        let version = seq.next_element::<i32>()?.unwrap_or_default();
        let opaque = seq.next_element::<i32>()?.unwrap_or_default();
        let flag = seq.next_element::<i32>()?.unwrap_or_default();
        let remark = seq.next_element::<Option<String>>()?.unwrap_or_default();
        let ext_fields = seq
            .next_element_seed(ExtFieldsSeed {
                text_capacity: self.text_capacity,
            })?
            .unwrap_or_default();
        Ok(RemotingCommand {
            code,
            language,
            version,
            opaque,
            flag,
            remark,
            ext_fields,
            serialize_type: SerializeType::Json,
            body: Body::empty(),
        })
    }
}

/// `language`: a name, a number (ROCKETMQ byte), or null (`OTHER`).
struct Language(LanguageCode);

/// A JSON `language` given as a number: a known language code, else `OTHER`. A JSON header can
/// only carry names, so an unknown code is `OTHER` as an unknown name is (it would otherwise
/// encode as "OTHER" and decode differently: found by the `frame_decode` fuzz target).
fn json_language_number(code: Option<u8>) -> LanguageCode {
    match code.map(LanguageCode::from_u8) {
        Some(LanguageCode::Unknown(_)) | None => LanguageCode::Other,
        Some(known) => known,
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Language;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a language name or number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Language, E> {
                Ok(Language(LanguageCode::from_name(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Language, E> {
                Ok(Language(json_language_number(u8::try_from(v).ok())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Language, E> {
                Ok(Language(json_language_number(u8::try_from(v).ok())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Language, E> {
                Ok(Language(LanguageCode::Other))
            }
        }
        d.deserialize_any(V)
    }
}

/// `extFields`: an object of scalar values, or null (empty).
struct ExtFieldsSeed {
    text_capacity: usize,
}

impl<'de> DeserializeSeed<'de> for ExtFieldsSeed {
    type Value = ExtFields;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ExtFields, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ExtFieldsSeed {
    type Value = ExtFields;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of string values or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<ExtFields, E> {
        Ok(ExtFields::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtFields, A::Error> {
        // Unescaped text is copied from the input, escaped text from serde_json's scratch
        // buffer (which grows a few times for a long escaped string): no allocation per field.
        // A field takes at least 8 bytes of JSON (`"k":"v",`), which bounds the span count;
        // the guess is capped for huge headers.
        let spans = map.size_hint().unwrap_or(self.text_capacity / 16 + 1).min(64);
        let mut fields = ExtFieldsBuilder::with_capacity(spans, self.text_capacity);
        loop {
            let key_start = fields.mark();
            if map.next_key_seed(KeySeed(&mut fields))?.is_none() {
                break;
            }
            let key_end = fields.mark();
            let present = map.next_value_seed(ValueSeed(&mut fields))?;
            if present {
                fields.commit(key_start, key_end);
            } else {
                fields.rollback(key_start);
            }
        }
        Ok(fields.finish())
    }
}

/// Appends an ext-field key to the arena.
struct KeySeed<'b>(&'b mut ExtFieldsBuilder);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_string(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.text().push_str(v);
        Ok(())
    }
}

/// Appends an ext-field value to the arena as text; `false` for null (field dropped).
struct ValueSeed<'b>(&'b mut ExtFieldsBuilder);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for ValueSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number, boolean or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.0.text().push_str(v);
        Ok(true)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.0.text().push_integer(v);
        Ok(true)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        match i64::try_from(v) {
            Ok(v) => self.0.text().push_integer(v),
            Err(_) => {
                let _ = write!(self.0.text(), "{v}");
            }
        }
        Ok(true)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        // `Display` of f64 is the text `to_string` gave before.
        let _ = write!(self.0.text(), "{v}");
        Ok(true)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.0.text().push_str(if v { "true" } else { "false" });
        Ok(true)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

#[cfg(test)]
#[path = "header_json_reference.rs"]
mod reference;

#[cfg(test)]
#[path = "header_json_test.rs"]
mod tests;

#[cfg(test)]
mod escape_tests {
    use super::*;
    use proptest::prelude::*;

    /// Bytes biased towards the ones that matter: escapes, their neighbours, high bytes.
    fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            3 => proptest::sample::select(vec![b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff, b'a']),
            2 => any::<u8>(),
        ];
        proptest::collection::vec(byte, 0..40)
    }

    proptest! {
        // Goal: the eight-bytes-at-a-time scan finds exactly the first byte the byte loop
        // finds, wherever it sits in a word and whatever follows it. Method: biased random
        // byte strings against `position` over the ESCAPED table, at every start offset.
        #[test]
        fn first_special_is_the_first_byte_to_escape(bytes in any_bytes()) {
            for start in 0..=bytes.len() {
                let rest = bytes.get(start..).unwrap_or_default();
                let expected = rest.iter().position(|&b| ESCAPED[usize::from(b)]);
                prop_assert_eq!(first_special(rest), expected);
            }
        }
    }
}
