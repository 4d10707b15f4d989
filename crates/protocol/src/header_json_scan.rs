//! A validating scan of a JSON command header that builds nothing: the scalars are parsed,
//! `remark` is located and the `extFields` pairs are recorded as spans of the header, so that a
//! response can be routed (flag, opaque) and read narrowly (a few ext fields) without
//! decoding its header into a [`crate::RemotingCommand`].
//!
//! Components:
//! - [`scan_json_head`]: the scan, returning a [`JsonHead`];
//! - [`RawFields`]: the `(key, value)` pairs of a scanned `extFields` object, in wire order
//!   (from the recorded spans; an object with more than [`MAX_RECORDED_FIELDS`] pairs is
//!   scanned again);
//! - [`RawStr`]: one string literal as it sits in the header (escaped), decoded on demand.
//!
//! Invariant: the scan accepts a subset of what the decoder's fast path (`header_json_fast`)
//! accepts — the same grammar, rule for rule (one object; known keys once and unescaped;
//! integers that fit an `i32`; RFC 8259 escapes without surrogates; valid UTF-8) — so a header
//! it accepts decodes, with exactly the values the scan reports (`received_test.rs` holds it to
//! that against `decode_json_header`). Anything else returns `None` and the caller decodes
//! the header in full, as before.

use std::borrow::Cow;
use std::ops::Range;

use crate::command::LanguageCode;
use crate::json_cursor::Cursor;

/// Ext-field pairs whose spans a scan records (a SEND response has six or seven); the pairs
/// of a larger object are found again by a second scan when read.
pub const MAX_RECORDED_FIELDS: usize = 8;

/// What a scan of an accepted header found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonHead {
    pub(crate) code: i32,
    pub(crate) opaque: i32,
    pub(crate) flag: i32,
    pub(crate) version: i32,
    pub(crate) language: LanguageCode,
    /// The remark's literal (escaped text between its quotes); `None` when absent or null.
    pub(crate) remark: Option<StrSpan>,
    /// The `extFields` object, braces included; `None` when absent.
    pub(crate) ext_fields: Option<Range<usize>>,
    /// The object's first pairs, in wire order, as offsets into the object.
    recorded: [FieldSpan; MAX_RECORDED_FIELDS],
    /// Pairs in the object; only the first [`MAX_RECORDED_FIELDS`] are in `recorded`, and
    /// none when an offset did not fit (`all_recorded` false).
    field_count: usize,
    all_recorded: bool,
}

/// Where a string literal's text (between the quotes) sits, and whether it holds escapes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StrSpan {
    start: u32,
    end: u32,
    escaped: bool,
}

impl StrSpan {
    /// `(start, end, escaped)`.
    fn parts(self) -> (usize, usize, bool) {
        (self.start as usize, self.end as usize, self.escaped)
    }

    /// The literal inside `header` (the bytes it was scanned from, which are UTF-8).
    pub(crate) fn get<'a>(&self, header: &'a [u8]) -> RawStr<'a> {
        let bytes = header.get(self.start as usize..self.end as usize).unwrap_or_default();
        RawStr {
            text: std::str::from_utf8(bytes).unwrap_or_default(),
            escaped: self.escaped,
        }
    }

    /// The literal inside `text`, which it was scanned from.
    fn get_str<'a>(&self, text: &'a str) -> RawStr<'a> {
        RawStr {
            text: text.get(self.start as usize..self.end as usize).unwrap_or_default(),
            escaped: self.escaped,
        }
    }
}

/// One recorded ext-field pair: offsets of its key and value text in the `extFields` object
/// (kept small: the head travels with the response to its waiter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct FieldSpan {
    key: (u16, u16),
    value: (u16, u16),
    /// [`KEY_ESCAPED`], [`VALUE_ESCAPED`], [`VALUE_NULL`].
    flags: u8,
}

const KEY_ESCAPED: u8 = 1;
const VALUE_ESCAPED: u8 = 2;
const VALUE_NULL: u8 = 4;

impl FieldSpan {
    /// The span of `key` and `value` (byte ranges of the scanned bytes and whether they hold
    /// escapes; `None` for a null value), offsets taken from `object_start`; `None` when one
    /// does not fit 16 bits.
    #[inline]
    fn new(object_start: usize, key: (usize, usize, bool), value: Option<(usize, usize, bool)>) -> Option<Self> {
        let offsets = |start: usize, end: usize| -> Option<(u16, u16)> {
            let start = u16::try_from(start.checked_sub(object_start)?).ok()?;
            let end = u16::try_from(end.checked_sub(object_start)?).ok()?;
            Some((start, end))
        };
        let mut flags = if key.2 { KEY_ESCAPED } else { 0 };
        let value = match value {
            Some((start, end, escaped)) => {
                if escaped {
                    flags |= VALUE_ESCAPED;
                }
                offsets(start, end)?
            }
            None => {
                flags |= VALUE_NULL;
                (0, 0)
            }
        };
        Some(FieldSpan {
            key: offsets(key.0, key.1)?,
            value,
            flags,
        })
    }

    #[inline]
    fn get<'a>(&self, object: &'a str) -> (RawStr<'a>, Option<RawStr<'a>>) {
        let text = |(start, end): (u16, u16)| object.get(usize::from(start)..usize::from(end)).unwrap_or_default();
        let key = RawStr {
            text: text(self.key),
            escaped: self.flags & KEY_ESCAPED != 0,
        };
        let value = (self.flags & VALUE_NULL == 0).then(|| RawStr {
            text: text(self.value),
            escaped: self.flags & VALUE_ESCAPED != 0,
        });
        (key, value)
    }
}

impl JsonHead {
    /// The ext-field pairs of `header` (the bytes this head was scanned from).
    pub(crate) fn fields<'a>(&'a self, header: &'a [u8]) -> RawFields<'a> {
        // Validated once here, then sliced at the recorded offsets (next to quotes, so on
        // char boundaries). The scan accepted `header`, so this never fails.
        let object = self
            .ext_fields
            .clone()
            .and_then(|range| header.get(range))
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .unwrap_or_default();
        match self.recorded.get(..self.field_count).filter(|_| self.all_recorded) {
            Some(recorded) => RawFields {
                object,
                source: Source::Recorded(recorded.iter()),
            },
            None => RawFields::rescan(object),
        }
    }
}

/// Scans `input`; `None` means "not in the common shape: decode it in full".
pub(crate) fn scan_json_head(input: &[u8]) -> Option<JsonHead> {
    // Spans are kept as u32 (a header is at most 16 MiB).
    u32::try_from(input.len()).ok()?;
    scan_compact(input).or_else(|| scan_general(input))
}

impl JsonHead {
    fn empty() -> Self {
        JsonHead {
            code: 0,
            opaque: 0,
            flag: 0,
            version: 0,
            language: LanguageCode::default(),
            remark: None,
            ext_fields: None,
            recorded: [FieldSpan::default(); MAX_RECORDED_FIELDS],
            field_count: 0,
            all_recorded: true,
        }
    }
}

/// The scan of a header exactly as FerroMQ's encoder (and fastjson) writes it: the keys in
/// order, no whitespace, no escapes in ext fields, `serializeTypeCurrentRPC` "JSON". Literal
/// runs are compared whole and the ext-field strings are found with one word scan each,
/// instead of token by token. Anything else is `None` (and goes to [`scan_general`], which
/// accepts a superset of this with the same result; `compact_scan_equals_general_scan` checks
/// that).
fn scan_compact(input: &[u8]) -> Option<JsonHead> {
    let mut p = Scanner::new(input);
    let mut head = JsonHead::empty();
    p.literal(b"{\"code\":")?;
    head.code = p.c.i32()?;
    p.literal(b",\"extFields\":")?;
    let start = p.c.pos;
    (head.field_count, head.all_recorded) = p.compact_ext_fields(&mut head.recorded)?;
    head.ext_fields = Some(start..p.c.pos);
    p.literal(b",\"flag\":")?;
    head.flag = p.c.i32()?;
    p.literal(b",\"language\":")?;
    head.language = language(p.plain_string()?)?;
    p.literal(b",\"opaque\":")?;
    head.opaque = p.c.i32()?;
    if p.c.eat_literal(b",\"remark\":") {
        head.remark = if p.c.eat_literal(b"null") {
            None
        } else {
            Some(p.string()?)
        };
    }
    p.literal(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":")?;
    head.version = p.c.i32()?;
    p.literal(b"}")?;
    if p.c.pos != input.len() || (p.non_ascii && std::str::from_utf8(input).is_err()) {
        return None;
    }
    Some(head)
}

/// The language named by `name` (what brokers send, `JAVA`, without a UTF-8 check).
fn language(name: &[u8]) -> Option<LanguageCode> {
    match name {
        b"JAVA" => Some(LanguageCode::Java),
        _ => std::str::from_utf8(name).ok().map(LanguageCode::from_name),
    }
}

/// The scan of any header in the fast decoder's shape (whitespace, any key order, escapes).
fn scan_general(input: &[u8]) -> Option<JsonHead> {
    let mut p = Scanner::new(input);
    let mut head = JsonHead::empty();
    let mut seen = 0u8;
    p.c.ws();
    p.c.eat(b'{')?;
    p.c.ws();
    if !p.c.eat_if(b'}') {
        loop {
            let key = p.plain_string()?;
            p.c.ws();
            p.c.eat(b':')?;
            p.c.ws();
            let bit = match key {
                b"code" => {
                    head.code = p.c.i32()?;
                    1
                }
                b"opaque" => {
                    head.opaque = p.c.i32()?;
                    2
                }
                b"flag" => {
                    head.flag = p.c.i32()?;
                    4
                }
                b"version" => {
                    head.version = p.c.i32()?;
                    8
                }
                b"language" => {
                    head.language = language(p.plain_string()?)?;
                    16
                }
                b"remark" => {
                    head.remark = if p.c.eat_literal(b"null") {
                        None
                    } else {
                        Some(p.string()?)
                    };
                    32
                }
                b"extFields" => {
                    let start = p.c.pos;
                    (head.field_count, head.all_recorded) = p.ext_fields(&mut head.recorded)?;
                    head.ext_fields = Some(start..p.c.pos);
                    64
                }
                b"serializeTypeCurrentRPC" => {
                    p.string()?;
                    128
                }
                _ => return None,
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            p.c.ws();
            if p.c.eat_if(b'}') {
                break;
            }
            p.c.eat(b',')?;
            p.c.ws();
        }
    }
    p.c.ws();
    if p.c.pos != input.len() {
        return None;
    }
    // The fast decoder rejects invalid UTF-8 anywhere, so the scan does too. Bytes outside
    // strings are ASCII by the grammar; inside, the string scan saw every byte: all ASCII
    // (the usual case) needs no further check.
    if p.non_ascii {
        std::str::from_utf8(input).ok()?;
    }
    Some(head)
}

/// One JSON string literal's text between its quotes, escapes not yet decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawStr<'a> {
    text: &'a str,
    escaped: bool,
}

impl<'a> RawStr<'a> {
    /// True when the decoded string equals `s`.
    #[inline]
    pub fn eq_str(&self, s: &str) -> bool {
        if self.escaped {
            self.decode() == s
        } else {
            self.text == s
        }
    }

    /// The decoded string: borrowed from the header unless it holds escapes.
    #[inline]
    pub fn decode(&self) -> Cow<'a, str> {
        // A scanned header has valid escapes, so the replacement characters below are never
        // written; they keep the decoding total.
        let text = self.text;
        if !self.escaped {
            return Cow::Borrowed(text);
        }
        Cow::Owned(unescape(text))
    }
}

/// `text` (the inside of a valid string literal) with its escapes decoded.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let mut chars = rest.get(at + 1..).unwrap_or_default().chars();
        let decoded = match chars.next() {
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let code = chars
                    .by_ref()
                    .take(4)
                    .try_fold(0u32, |acc, d| Some((acc << 4) | d.to_digit(16)?));
                code.and_then(char::from_u32).unwrap_or(char::REPLACEMENT_CHARACTER)
            }
            // `"`, `\` and `/` stand for themselves.
            Some(other) => other,
            None => char::REPLACEMENT_CHARACTER,
        };
        out.push(decoded);
        rest = chars.as_str();
    }
    out.push_str(rest);
    out
}

/// The `(key, value)` pairs of a scanned `extFields` object in wire order; a `None` value is
/// a JSON null (which the decoder drops, keeping an earlier value of the same key).
#[derive(Debug, Clone)]
pub struct RawFields<'a> {
    /// The object's text, braces included.
    object: &'a str,
    source: Source<'a>,
}

#[derive(Debug, Clone)]
enum Source<'a> {
    Recorded(std::slice::Iter<'a, FieldSpan>),
    /// Scanning the object again (more pairs than were recorded); `None` once done.
    Rescan(Option<Scanner<'a>>),
}

impl<'a> RawFields<'a> {
    /// The pairs of `object`, found by scanning it again.
    fn rescan(object: &'a str) -> Self {
        let mut p = Scanner::new(object.as_bytes());
        let empty = p.c.eat(b'{').is_none() || {
            p.c.ws();
            p.c.eat_if(b'}')
        };
        RawFields {
            object,
            source: Source::Rescan((!empty).then_some(p)),
        }
    }
}

impl<'a> Iterator for RawFields<'a> {
    type Item = (RawStr<'a>, Option<RawStr<'a>>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let object = self.object;
        match &mut self.source {
            Source::Recorded(spans) => spans.next().map(|span| span.get(object)),
            Source::Rescan(scanner) => {
                let p = scanner.as_mut()?;
                match p.pair() {
                    Some((key, value, last)) => {
                        if last {
                            *scanner = None;
                        }
                        Some((key.get_str(object), value.map(|v| v.get_str(object))))
                    }
                    None => {
                        // Only reachable on bytes no scan accepted.
                        *scanner = None;
                        None
                    }
                }
            }
        }
    }
}

/// Position of the first byte in `bytes` that ends a run of plain string characters: `"`, `\`
/// or a control character (< 0x20), eight bytes at a time
/// ([`crate::header_json::special_mask`], as the encoder and the fast decoder). Also says
/// whether a byte of 0x80 or more was seen up to it (or in the rest of its word): when not,
/// every byte before the position is ASCII.
#[inline(always)]
fn special_byte(bytes: &[u8]) -> Option<(usize, bool)> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut offset = 0;
    let mut high = 0;
    while let Some(word) = bytes.get(offset..offset + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        high |= x;
        let mask = crate::header_json::special_mask(x);
        if mask != 0 {
            return Some((offset + (mask.trailing_zeros() / 8) as usize, high & HIGH != 0));
        }
        offset += 8;
    }
    let tail = bytes.get(offset..)?;
    let at = tail.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    let high = high & HIGH != 0 || tail.iter().take(at).any(|&b| b >= 0x80);
    Some((offset + at, high))
}

#[derive(Debug, Clone)]
struct Scanner<'a> {
    c: Cursor<'a>,
    /// A string held a byte of 0x80 or more (possibly).
    non_ascii: bool,
}

impl<'a> Scanner<'a> {
    fn new(s: &'a [u8]) -> Self {
        Scanner {
            c: Cursor::new(s),
            non_ascii: false,
        }
    }

    /// The position of the next special string byte at or after `from`.
    #[inline]
    fn special(&mut self, from: usize) -> Option<usize> {
        let (at, high) = special_byte(self.c.s.get(from..)?)?;
        self.non_ascii |= high;
        Some(from + at)
    }

    #[inline]
    fn literal<const N: usize>(&mut self, literal: &[u8; N]) -> Option<()> {
        self.c.eat_literal(literal).then_some(())
    }

    /// The end of a string without escapes or control characters whose text starts at
    /// `from`: the position of its closing quote.
    #[inline(always)]
    fn plain_end(&mut self, from: usize) -> Option<usize> {
        let end = self.special(from)?;
        (self.c.s.get(end) == Some(&b'"')).then_some(end)
    }

    /// `extFields` as the encoder writes it: `{"key":"value",...}` without whitespace or
    /// escapes (a value may be null); its first pairs go to `recorded`. Returns the number of
    /// pairs and whether all of them were recorded; `None` for any other form.
    fn compact_ext_fields(&mut self, recorded: &mut [FieldSpan; MAX_RECORDED_FIELDS]) -> Option<(usize, bool)> {
        let object_start = self.c.pos;
        self.c.eat(b'{')?;
        if self.c.eat_if(b'}') {
            return Some((0, true));
        }
        let mut count = 0;
        let mut all_recorded = true;
        loop {
            self.c.eat(b'"')?;
            let key_start = self.c.pos;
            let key_end = self.plain_end(key_start)?;
            let key = (key_start, key_end, false);
            self.c.pos = key_end + 1;
            let value = if self.c.eat_literal(b":\"") {
                let value_start = self.c.pos;
                let value_end = self.plain_end(value_start)?;
                self.c.pos = value_end + 1;
                Some((value_start, value_end, false))
            } else if self.c.eat_literal(b":null") {
                None
            } else {
                return None;
            };
            match recorded.get_mut(count) {
                Some(slot) => match FieldSpan::new(object_start, key, value) {
                    Some(span) => *slot = span,
                    None => all_recorded = false,
                },
                None => all_recorded = false,
            }
            count += 1;
            if self.c.eat_if(b'}') {
                return Some((count, all_recorded));
            }
            self.c.eat(b',')?;
        }
    }

    /// A string without escapes or control characters, as raw bytes.
    #[inline]
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.c.eat(b'"')?;
        let start = self.c.pos;
        let end = self.special(start)?;
        if self.c.s.get(end) != Some(&b'"') {
            return None;
        }
        self.c.pos = end + 1;
        self.c.s.get(start..end)
    }

    /// A string literal, validated (escapes as the fast decoder takes them) and located.
    #[inline]
    fn string(&mut self) -> Option<StrSpan> {
        self.c.eat(b'"')?;
        let start = self.c.pos;
        let end = self.special(start)?;
        if self.c.s.get(end) == Some(&b'"') {
            self.c.pos = end + 1;
            return span(start, end, false);
        }
        self.escaped_string(start, end)
    }

    /// The rest of a string literal from `chunk_end`, which holds a byte other than the
    /// closing quote (an escape, or a control character that fails the scan).
    fn escaped_string(&mut self, start: usize, mut chunk_end: usize) -> Option<StrSpan> {
        loop {
            match self.c.s.get(chunk_end)? {
                b'"' => {
                    self.c.pos = chunk_end + 1;
                    return span(start, chunk_end, true);
                }
                b'\\' => {}
                _ => return None,
            }
            self.c.pos = chunk_end + 1;
            let escape = self.c.peek()?;
            self.c.pos += 1;
            match escape {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                b'u' => {
                    self.c.unicode_escape()?;
                }
                _ => return None,
            }
            chunk_end = self.special(self.c.pos)?;
        }
    }

    /// One `key: value` pair and the `,` or `}` after it (true for `}`).
    #[inline]
    fn pair(&mut self) -> Option<(StrSpan, Option<StrSpan>, bool)> {
        let key = self.string()?;
        self.c.ws();
        self.c.eat(b':')?;
        self.c.ws();
        let value = if self.c.peek() == Some(b'n') && self.c.eat_literal(b"null") {
            None
        } else {
            Some(self.string()?)
        };
        self.c.ws();
        if self.c.eat_if(b'}') {
            return Some((key, value, true));
        }
        self.c.eat(b',')?;
        self.c.ws();
        Some((key, value, false))
    }

    /// `extFields`: an object of string or null values, validated; its first pairs go to
    /// `recorded`. Returns the number of pairs and whether all of them were recorded.
    fn ext_fields(&mut self, recorded: &mut [FieldSpan; MAX_RECORDED_FIELDS]) -> Option<(usize, bool)> {
        let object_start = self.c.pos;
        self.c.eat(b'{')?;
        self.c.ws();
        if self.c.eat_if(b'}') {
            return Some((0, true));
        }
        let mut count = 0;
        let mut all_recorded = true;
        loop {
            let (key, value, last) = self.pair()?;
            match recorded.get_mut(count) {
                Some(slot) => match FieldSpan::new(object_start, key.parts(), value.map(StrSpan::parts)) {
                    Some(span) => *slot = span,
                    None => all_recorded = false,
                },
                None => all_recorded = false,
            }
            count += 1;
            if last {
                return Some((count, all_recorded));
            }
        }
    }
}

/// A span of the scanned bytes (whose length fits a `u32`, checked before scanning).
#[inline]
fn span(start: usize, end: usize, escaped: bool) -> Option<StrSpan> {
    Some(StrSpan {
        start: u32::try_from(start).ok()?,
        end: u32::try_from(end).ok()?,
        escaped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A header as the encoder writes it, for a response with `fields` and `remark`, and
    /// whether its ext fields are free of characters the encoder escapes.
    fn encoded(fields: &[(String, String)], remark: Option<String>, opaque: i32) -> (Vec<u8>, bool) {
        let request = crate::RemotingCommand::request_code(10).with_opaque(opaque);
        let mut response = crate::RemotingCommand::response_to(&request, crate::ResponseCode::Success);
        response.remark = remark;
        for (key, value) in fields {
            response.put_ext_field(key, value);
        }
        let mut out = Vec::new();
        crate::header_json::encode_json_header(&response, &mut out);
        let plain = response
            .ext_fields
            .iter()
            .all(|(k, v)| !format!("{k}{v}").contains(|c: char| c == '"' || c == '\\' || c < ' '));
        (out, plain)
    }

    proptest! {
        // Goal: the compact scan (encoder-shaped headers) reports exactly what the general
        // scan reports, takes every encoder-written header without escapes in its ext fields
        // (and more than MAX_RECORDED_FIELDS pairs), and never accepts what the general scan
        // refuses. Method: encoder output for random fields, as is and with one byte changed.
        #[test]
        fn compact_scan_equals_general_scan(
            fields in proptest::collection::vec(("[\\PC]{0,6}", "[\\PC\\u{1}\"\\\\]{0,12}"), 0..12),
            remark in proptest::option::of("[\\PC\\u{1}\"]{0,8}"),
            opaque in any::<i32>(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let (header, plain) = encoded(&fields, remark, opaque);
            let compact = scan_compact(&header);
            prop_assert_eq!(compact.is_some(), plain);
            if let Some(compact) = compact {
                prop_assert_eq!(Some(compact), scan_general(&header));
            }
            let mut mutated = header.clone();
            let i = at.index(mutated.len());
            mutated[i] = byte;
            if let Some(compact) = scan_compact(&mutated) {
                prop_assert_eq!(Some(compact), scan_general(&mutated));
            }
        }

        // Goal: the word-at-a-time scan finds the same first special byte as a byte-by-byte
        // scan. Method: random bytes biased towards the special and neighbouring values, every
        // length and alignment of the tail.
        #[test]
        fn word_scan_equals_byte_scan(bytes in proptest::collection::vec(
            prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x21, 0x21u8..0x7f, 0x80u8..=0xff], 0..40)) {
            let naive = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            let found = special_byte(&bytes);
            prop_assert_eq!(found.map(|(at, _)| at), naive);
            if let Some((at, false)) = found {
                prop_assert!(bytes[..at].is_ascii());
            }
        }

        // Goal: a decoded literal equals what serde_json makes of it, and `eq_str` agrees with
        // comparing the decoded text. Method: strings with every escape form, scanned as a
        // remark.
        #[test]
        fn literals_decode_like_serde_json(s in "[\\PC\\u{0}-\\u{1f}\"\\\\/]{0,16}", style in any::<u8>()) {
            let literal = crate::test_json::escaped(&s, style);
            let header = format!("{{\"remark\":{literal}}}");
            let head = scan_json_head(header.as_bytes()).expect("scanned");
            let raw = head.remark.expect("remark").get(header.as_bytes());
            let expected: String = serde_json::from_str(&literal).expect("valid literal");
            prop_assert_eq!(raw.decode(), expected.as_str());
            prop_assert!(raw.eq_str(&expected));
            let longer = format!("{}x", expected);
            prop_assert!(!raw.eq_str(&longer));
        }
    }
}
