//! JSON command header (serialize type 0), as fastjson writes it (reference 1.2).
//!
//! Output: keys in alphabetical order, nulls omitted, always `code`, `extFields` (may be
//! `{}`), `flag`, `language`, `opaque`, `serializeTypeCurrentRPC` and `version` — the field
//! set every known client accepts. Input: lenient — unknown keys ignored, missing numbers
//! default to 0, ext-field values that are numbers or booleans are kept as their text and
//! null values are dropped.

use crate::command::{Body, ExtFields, LanguageCode, RemotingCommand, SerializeType};
use crate::error::CodecError;
use crate::json_scan::{Scalar, ScanError, Scanner};

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

/// Decodes a JSON header; the body is attached by the caller.
///
/// Reads the object directly from `header` with [`crate::json_scan`] (no intermediate value
/// tree, strings without escapes copied once into their final `String`). Accepts exactly what
/// the serde-based decoder it replaced accepted (a proptest compares the two).
pub fn decode_json_header(header: &[u8]) -> Result<RemotingCommand, CodecError> {
    decode(header).map_err(|e| CodecError::InvalidJsonHeader(format!("{} at byte {}", e.what, e.at)))
}

fn decode(header: &[u8]) -> Result<RemotingCommand, ScanError> {
    let mut cmd = RemotingCommand {
        code: 0,
        language: LanguageCode::default(),
        version: 0,
        opaque: 0,
        flag: 0,
        remark: None,
        ext_fields: ExtFields::new(),
        serialize_type: SerializeType::Json,
        body: Body::empty(),
    };
    let mut s = Scanner::new(header);
    s.expect(b'{', "expected a JSON object")?;
    let mut first = true;
    while let Some(key) = s.next_key(first)? {
        first = false;
        match key.as_ref() {
            "code" => cmd.code = int_field(&mut s)?,
            "version" => cmd.version = int_field(&mut s)?,
            "opaque" => cmd.opaque = int_field(&mut s)?,
            "flag" => cmd.flag = int_field(&mut s)?,
            "language" => cmd.language = language(&mut s)?,
            "remark" => {
                cmd.remark = match s.scalar("expected a string or null")? {
                    Scalar::Str(text) => Some(text.into_owned()),
                    Scalar::Null => None,
                    _ => return Err(s.error("expected a string or null")),
                }
            }
            "extFields" => cmd.ext_fields = ext_fields(&mut s)?,
            _ => s.skip_value()?,
        }
    }
    s.finish()?;
    Ok(cmd)
}

fn int_field(s: &mut Scanner<'_>) -> Result<i32, ScanError> {
    match s.scalar("expected an integer")? {
        Scalar::Number(text) => text.parse::<i32>().map_err(|_| s.error("expected an i32")),
        _ => Err(s.error("expected an integer")),
    }
}

fn language(s: &mut Scanner<'_>) -> Result<LanguageCode, ScanError> {
    match s.scalar("expected a language name or number")? {
        Scalar::Str(name) => Ok(LanguageCode::from_name(&name)),
        Scalar::Null => Ok(LanguageCode::Other),
        Scalar::Number(text) => match number_kind(text) {
            NumberKind::Integer(value) => Ok(u8::try_from(value)
                .map(LanguageCode::from_u8)
                .unwrap_or(LanguageCode::Other)),
            NumberKind::Float => Err(s.error("expected a language name or number")),
        },
        Scalar::Bool(_) => Err(s.error("expected a language name or number")),
    }
}

enum NumberKind {
    Integer(i128),
    Float,
}

/// Integers that fit i64 or u64 (serde_json's integer types); anything else is a float.
fn number_kind(text: &str) -> NumberKind {
    let integral = !text.contains(['.', 'e', 'E']);
    match text.parse::<i128>() {
        Ok(value) if integral && (i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(&value) => {
            NumberKind::Integer(value)
        }
        _ => NumberKind::Float,
    }
}

fn ext_fields(s: &mut Scanner<'_>) -> Result<ExtFields, ScanError> {
    let mut out = ExtFields::new();
    if !s.at_object() {
        return match s.scalar("expected an object of string values or null")? {
            Scalar::Null => Ok(out),
            _ => Err(s.error("expected an object of string values or null")),
        };
    }
    s.expect(b'{', "expected an object")?;
    let mut first = true;
    while let Some(key) = s.next_key(first)? {
        first = false;
        let value = match s.scalar("expected a string, number, boolean or null")? {
            Scalar::Str(text) => text.into_owned(),
            Scalar::Number(text) => match number_kind(text) {
                NumberKind::Integer(value) => value.to_string(),
                NumberKind::Float => match text.parse::<f64>() {
                    Ok(value) if value.is_finite() => value.to_string(),
                    _ => return Err(s.error("number out of range")),
                },
            },
            Scalar::Bool(value) => value.to_string(),
            Scalar::Null => continue,
        };
        out.insert(key.into_owned(), value);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "header_json_test.rs"]
mod tests;
