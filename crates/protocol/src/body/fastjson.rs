//! fastjson 1.x quirks (reference section 3).
//!
//! fastjson writes maps with non-String keys without quotes: integer keys as bare numbers
//! (`{0:"10.0.0.1:10911"}`) and object keys as whole JSON objects
//! (`{{"brokerName":"b","queueId":0,"topic":"T"}:{...}}`). Components:
//! - [`normalize`]: a small hand-written tokenizer that rewrites such input into standard JSON:
//!   bare keys become quoted strings (`{"0":"..."}`), object or array keys become a string
//!   holding their normalized JSON text, which the MessageQueue-keyed map fields of this crate
//!   parse back (see `serde_ext::mq_map`). Single-quoted strings (fastjson accepts them) become
//!   double-quoted. Whitespace outside strings is dropped;
//! - [`to_fastjson_string`]: writes a value the way fastjson does for Java readers: keys that are
//!   canonical integers or JSON objects are written unquoted.
//!
//! Invariants: the normalizer never panics, never reads past its input, nests at most
//! [`MAX_JSON_DEPTH`] levels (recursion is bounded by it) and refuses input over
//! [`MAX_JSON_BODY_BYTES`]; on standard JSON it is the identity up to whitespace.

use serde::Serialize;
use serde_json::Value;

use super::{BodyError, MAX_JSON_BODY_BYTES, MAX_JSON_DEPTH};

/// Rewrites fastjson output (or standard JSON) into standard JSON.
pub fn normalize(input: &[u8]) -> Result<Vec<u8>, BodyError> {
    if input.len() > MAX_JSON_BODY_BYTES {
        return Err(BodyError::TooLarge {
            len: input.len(),
            max: MAX_JSON_BODY_BYTES,
        });
    }
    let mut normalizer = Normalizer {
        input,
        pos: 0,
        out: Vec::with_capacity(input.len().saturating_add(16)),
    };
    normalizer.skip_ws();
    normalizer.value(0)?;
    normalizer.skip_ws();
    if normalizer.pos != input.len() {
        return Err(normalizer.malformed("trailing characters after the JSON value"));
    }
    Ok(normalizer.out)
}

struct Normalizer<'a> {
    input: &'a [u8],
    pos: usize,
    out: Vec<u8>,
}

fn is_delimiter(byte: u8) -> bool {
    matches!(
        byte,
        b',' | b':' | b'{' | b'}' | b'[' | b']' | b'"' | b'\'' | b' ' | b'\t' | b'\n' | b'\r'
    )
}

impl<'a> Normalizer<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn malformed(&self, what: &'static str) -> BodyError {
        BodyError::Malformed { what, at: self.pos }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), BodyError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.malformed(what))
        }
    }

    /// One JSON value at `depth` (number of enclosing containers).
    fn value(&mut self, depth: usize) -> Result<(), BodyError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.double_quoted(),
            Some(b'\'') => self.single_quoted(),
            Some(_) => {
                let token = self.bare_token();
                if token.is_empty() {
                    return Err(self.malformed("expected a value"));
                }
                self.out.extend_from_slice(token);
                Ok(())
            }
            None => Err(self.malformed("unexpected end of input")),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), BodyError> {
        if depth > MAX_JSON_DEPTH {
            return Err(BodyError::TooDeep {
                max_depth: MAX_JSON_DEPTH,
                at: self.pos,
            });
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<(), BodyError> {
        self.check_depth(depth)?;
        self.expect(b'{', "expected '{'")?;
        self.out.push(b'{');
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.out.push(b'}');
            return Ok(());
        }
        loop {
            self.skip_ws();
            self.key(depth)?;
            self.skip_ws();
            self.expect(b':', "expected ':' after an object key")?;
            self.out.push(b':');
            self.skip_ws();
            self.value(depth)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.out.push(b',');
                }
                Some(b'}') => {
                    self.pos += 1;
                    self.out.push(b'}');
                    return Ok(());
                }
                _ => return Err(self.malformed("expected ',' or '}' in an object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), BodyError> {
        self.check_depth(depth)?;
        self.expect(b'[', "expected '['")?;
        self.out.push(b'[');
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.out.push(b']');
            return Ok(());
        }
        loop {
            self.skip_ws();
            self.value(depth)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.out.push(b',');
                }
                Some(b']') => {
                    self.pos += 1;
                    self.out.push(b']');
                    return Ok(());
                }
                _ => return Err(self.malformed("expected ',' or ']' in an array")),
            }
        }
    }

    /// An object key: a string is kept, a bare token is quoted, an object or array key is
    /// normalized on its own and written as a string holding its JSON text.
    fn key(&mut self, depth: usize) -> Result<(), BodyError> {
        match self.peek() {
            Some(b'"') => self.double_quoted(),
            Some(b'\'') => self.single_quoted(),
            Some(b'{' | b'[') => {
                let outer = std::mem::take(&mut self.out);
                let result = self.value(depth);
                let inner = std::mem::replace(&mut self.out, outer);
                result?;
                self.out.push(b'"');
                push_escaped(&mut self.out, &inner);
                self.out.push(b'"');
                Ok(())
            }
            Some(_) => {
                let token = self.bare_token();
                if token.is_empty() {
                    return Err(self.malformed("expected an object key"));
                }
                self.out.push(b'"');
                push_escaped(&mut self.out, token);
                self.out.push(b'"');
                Ok(())
            }
            None => Err(self.malformed("unexpected end of input in an object")),
        }
    }

    /// A run of non-delimiter bytes: a number, `true`/`false`/`null`, or a bare key.
    fn bare_token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(byte) = self.peek() {
            if is_delimiter(byte) {
                break;
            }
            self.pos += 1;
        }
        let input: &'a [u8] = self.input;
        input.get(start..self.pos).unwrap_or_default()
    }

    /// Copies a double-quoted string verbatim (escapes included).
    fn double_quoted(&mut self) -> Result<(), BodyError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    let text = self.input.get(start..self.pos).unwrap_or_default();
                    self.out.extend_from_slice(text);
                    return Ok(());
                }
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
                None => {
                    return Err(BodyError::Malformed {
                        what: "unterminated string",
                        at: start,
                    })
                }
            }
        }
    }

    /// Rewrites a single-quoted string as a double-quoted one.
    fn single_quoted(&mut self) -> Result<(), BodyError> {
        let start = self.pos;
        self.pos += 1;
        self.out.push(b'"');
        loop {
            match self.peek() {
                Some(b'\'') => {
                    self.pos += 1;
                    self.out.push(b'"');
                    return Ok(());
                }
                Some(b'\\') => {
                    match self.input.get(self.pos + 1) {
                        Some(b'\'') => self.out.push(b'\''),
                        Some(&escaped) => self.out.extend_from_slice(&[b'\\', escaped]),
                        None => {
                            return Err(BodyError::Malformed {
                                what: "unterminated string",
                                at: start,
                            })
                        }
                    }
                    self.pos += 2;
                }
                Some(b'"') => {
                    self.out.extend_from_slice(b"\\\"");
                    self.pos += 1;
                }
                Some(byte) => {
                    self.out.push(byte);
                    self.pos += 1;
                }
                None => {
                    return Err(BodyError::Malformed {
                        what: "unterminated string",
                        at: start,
                    })
                }
            }
        }
    }
}

/// Appends `raw` as the inside of a JSON string literal.
fn push_escaped(out: &mut Vec<u8>, raw: &[u8]) {
    for &byte in raw {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x00..=0x1F => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            _ => out.push(byte),
        }
    }
}

/// Writes `value` as fastjson does for Java readers: keys that are canonical integers
/// (`{0:"a"}`) or hold a JSON object (`{{"brokerName":...}:...}`) are written unquoted;
/// everything else is standard compact JSON with keys in sorted order.
pub fn to_fastjson_string<T: Serialize>(value: &T) -> String {
    let tree = serde_json::to_value(value);
    // Body types only have string or integer map keys, so conversion cannot fail.
    assert!(
        tree.is_ok(),
        "body type does not convert to JSON: {:?}",
        tree.as_ref().err()
    );
    let mut out = String::new();
    if let Ok(tree) = tree {
        write_value(&mut out, &tree, KeyStyle::Fastjson);
    }
    out
}

/// Writes `value` as standard JSON except that canonical integer keys are left unquoted
/// (the legacy TopicRouteData form for old clients).
pub(crate) fn to_unquoted_integer_keys_string<T: Serialize>(value: &T) -> String {
    let tree = serde_json::to_value(value);
    assert!(
        tree.is_ok(),
        "body type does not convert to JSON: {:?}",
        tree.as_ref().err()
    );
    let mut out = String::new();
    if let Ok(tree) = tree {
        write_value(&mut out, &tree, KeyStyle::IntegersUnquoted);
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyStyle {
    /// Integer and object keys unquoted.
    Fastjson,
    /// Only integer keys unquoted.
    IntegersUnquoted,
}

fn is_canonical_integer(key: &str) -> bool {
    key.parse::<i64>().is_ok_and(|n| n.to_string() == key)
}

fn write_string(out: &mut String, text: &str) {
    out.push_str(&Value::String(text.to_owned()).to_string());
}

fn write_value(out: &mut String, value: &Value, style: KeyStyle) {
    match value {
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_key(out, key, style);
                out.push(':');
                write_value(out, item, style);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item, style);
            }
            out.push(']');
        }
        Value::String(text) => write_string(out, text),
        other => out.push_str(&other.to_string()),
    }
}

fn write_key(out: &mut String, key: &str, style: KeyStyle) {
    if is_canonical_integer(key) {
        out.push_str(key);
        return;
    }
    if style == KeyStyle::Fastjson && key.starts_with('{') {
        // Only a key that is exactly the compact form of an object is unquoted, so that
        // normalizing the output gives the same key back.
        if let Ok(object @ Value::Object(_)) = serde_json::from_str::<Value>(key) {
            if serde_json::to_string(&object).is_ok_and(|compact| compact == key) {
                write_value(out, &object, style);
                return;
            }
        }
    }
    write_string(out, key);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(text: &str) -> Result<String, BodyError> {
        normalize(text.as_bytes()).map(|bytes| String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn unquoted_integer_keys_become_quoted() {
        // Goal: fastjson Long/Integer keys turn into standard keys. Method: literal input.
        assert_eq!(
            norm(r#"{0:"a", 1:"b",-2:"c"}"#).unwrap(),
            r#"{"0":"a","1":"b","-2":"c"}"#
        );
    }

    #[test]
    fn object_keys_become_strings_holding_their_json() {
        // Goal: MessageQueue keys survive as a string serde can re-parse. Method: literal input.
        let out = norm(r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"minOffset":0}}}"#).unwrap();
        assert_eq!(
            out,
            r#"{"offsetTable":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}":{"minOffset":0}}}"#
        );
        let parsed: Value = serde_json::from_str(&out).unwrap();
        let key = parsed["offsetTable"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        let mq: Value = serde_json::from_str(&key).unwrap();
        assert_eq!(mq["topic"], "T");
    }

    #[test]
    fn standard_json_is_unchanged_apart_from_whitespace() {
        // Goal: normalizing standard JSON is the identity. Method: compare with serde's compact form.
        let text = "{ \"a\" : [1, 2.5e3, true, null, \"x\\\"y\\\\z  \"],\n \"b\" : {\"c\" : \"d\"} }";
        let expected = "{\"a\":[1,2.5e3,true,null,\"x\\\"y\\\\z  \"],\"b\":{\"c\":\"d\"}}";
        assert_eq!(norm(text).unwrap(), expected);
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap(),
            serde_json::from_str::<Value>(expected).unwrap()
        );
    }

    #[test]
    fn single_quoted_strings_become_double_quoted() {
        // Goal: fastjson-accepted single quotes parse. Method: literal input with embedded quotes.
        let out = norm(r#"{'k':'it\'s "x"'}"#).unwrap();
        let parsed: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["k"], "it's \"x\"");
    }

    #[test]
    fn malformed_and_hostile_inputs_are_errors() {
        // Goal: broken input is a typed error, never a panic. Method: a table of bad inputs.
        for bad in [
            "", "{", "{\"a\"", "{\"a\":}", "[1,", "\"abc", "{a:1,,}", "{}x", "{:1}", "'\\",
        ] {
            assert!(norm(bad).is_err(), "{bad:?} accepted");
        }
        let deep = "[".repeat(MAX_JSON_DEPTH + 1) + &"]".repeat(MAX_JSON_DEPTH + 1);
        assert!(matches!(norm(&deep), Err(BodyError::TooDeep { .. })));
        let ok_depth = "[".repeat(MAX_JSON_DEPTH) + &"]".repeat(MAX_JSON_DEPTH);
        assert!(norm(&ok_depth).is_ok());
    }

    #[test]
    fn fastjson_writer_unquotes_integer_and_object_keys() {
        // Goal: the writer emits the forms Java admin tools read. Method: a tree with both keys.
        let tree = serde_json::json!({
            "brokerAddrs": {"0": "10.0.0.1:10911", "007": "x"},
            "offsetTable": {"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}": 5}
        });
        assert_eq!(
            to_fastjson_string(&tree),
            r#"{"brokerAddrs":{0:"10.0.0.1:10911","007":"x"},"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:5}}"#
        );
        assert_eq!(
            to_unquoted_integer_keys_string(&tree),
            r#"{"brokerAddrs":{0:"10.0.0.1:10911","007":"x"},"offsetTable":{"{\"brokerName\":\"b\",\"queueId\":0,\"topic\":\"T\"}":5}}"#
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            // Goal: no input makes the normalizer panic. Method: random bytes.
            let _ = normalize(&bytes);
        }

        #[test]
        fn arbitrary_json_like_strings_never_panic(text in r#"[{}\[\]:,"'\\ a0-9tnul.-]{0,64}"#) {
            // Goal: structurally dense random text never panics. Method: strings over JSON's
            // punctuation alphabet.
            let _ = normalize(text.as_bytes());
        }

        #[test]
        fn fastjson_output_normalizes_to_the_same_tree(
            map in proptest::collection::btree_map(any::<i64>(), "\\PC{0,8}", 0..8),
        ) {
            // Goal: unquoted-integer-key output parses back to the same map. Method: write with
            // the fastjson writer, normalize, parse.
            let text = to_fastjson_string(&map);
            let normalized = normalize(text.as_bytes()).unwrap();
            let back: std::collections::BTreeMap<i64, String> = serde_json::from_slice(&normalized).unwrap();
            prop_assert_eq!(back, map);
        }
    }
}
