//! A validating scan of a JSON command header that builds nothing: the scalars are parsed,
//! `remark` and `extFields` are only located, so that a response can be routed (flag, opaque)
//! and read narrowly (a few ext fields) without decoding its header into a
//! [`crate::RemotingCommand`].
//!
//! Components:
//! - [`scan_json_head`]: the scan, returning a [`JsonHead`];
//! - [`RawFields`]: the `(key, value)` pairs of a scanned `extFields` object, in wire order;
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
}

/// Where a string literal's text (between the quotes) sits, and whether it holds escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StrSpan {
    pub(crate) range: Range<usize>,
    pub(crate) escaped: bool,
}

impl StrSpan {
    /// The literal inside `header`.
    pub(crate) fn get<'a>(&self, header: &'a [u8]) -> RawStr<'a> {
        RawStr {
            text: header.get(self.range.clone()).unwrap_or_default(),
            escaped: self.escaped,
        }
    }
}

/// Scans `input`; `None` means "not in the common shape: decode it in full".
pub(crate) fn scan_json_head(input: &[u8]) -> Option<JsonHead> {
    // The fast decoder rejects invalid UTF-8 anywhere, so the scan does too.
    std::str::from_utf8(input).ok()?;
    let mut p = Scanner { s: input, pos: 0 };
    let mut head = JsonHead {
        code: 0,
        opaque: 0,
        flag: 0,
        version: 0,
        language: LanguageCode::default(),
        remark: None,
        ext_fields: None,
    };
    let mut seen = 0u8;
    p.ws();
    p.eat(b'{')?;
    p.ws();
    if !p.eat_if(b'}') {
        loop {
            let key = p.plain_string()?;
            p.ws();
            p.eat(b':')?;
            p.ws();
            let bit = match key {
                b"code" => {
                    head.code = p.i32()?;
                    1
                }
                b"opaque" => {
                    head.opaque = p.i32()?;
                    2
                }
                b"flag" => {
                    head.flag = p.i32()?;
                    4
                }
                b"version" => {
                    head.version = p.i32()?;
                    8
                }
                b"language" => {
                    head.language = LanguageCode::from_name(std::str::from_utf8(p.plain_string()?).ok()?);
                    16
                }
                b"remark" => {
                    head.remark = if p.eat_literal(b"null") { None } else { Some(p.string()?) };
                    32
                }
                b"extFields" => {
                    let start = p.pos;
                    p.ext_fields()?;
                    head.ext_fields = Some(start..p.pos);
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
            p.ws();
            if p.eat_if(b'}') {
                break;
            }
            p.eat(b',')?;
            p.ws();
        }
    }
    p.ws();
    (p.pos == input.len()).then_some(head)
}

/// One JSON string literal's text between its quotes, escapes not yet decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawStr<'a> {
    text: &'a [u8],
    escaped: bool,
}

impl<'a> RawStr<'a> {
    /// True when the decoded string equals `s`.
    pub fn eq_str(&self, s: &str) -> bool {
        if self.escaped {
            self.decode() == s
        } else {
            self.text == s.as_bytes()
        }
    }

    /// The decoded string: borrowed from the header unless it holds escapes.
    pub fn decode(&self) -> Cow<'a, str> {
        // A scanned header is valid UTF-8 with valid escapes, so neither fallback below is
        // ever taken; they keep the decoding total.
        let text = String::from_utf8_lossy(self.text);
        if !self.escaped {
            return text;
        }
        let mut out = String::with_capacity(text.len());
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
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
        }
        Cow::Owned(out)
    }
}

/// The `(key, value)` pairs of a scanned `extFields` object in wire order; a `None` value is
/// a JSON null (which the decoder drops, keeping an earlier value of the same key).
#[derive(Debug, Clone)]
pub struct RawFields<'a> {
    scanner: Scanner<'a>,
    done: bool,
}

impl<'a> RawFields<'a> {
    /// The pairs of the object at `range` of `header` (from a scan that accepted `header`).
    pub(crate) fn new(header: &'a [u8], range: Option<Range<usize>>) -> Self {
        match range.and_then(|range| header.get(range)) {
            Some(object) => {
                let mut scanner = Scanner { s: object, pos: 0 };
                let empty = scanner.eat(b'{').is_none() || {
                    scanner.ws();
                    scanner.eat_if(b'}')
                };
                RawFields { scanner, done: empty }
            }
            None => RawFields {
                scanner: Scanner { s: &[], pos: 0 },
                done: true,
            },
        }
    }

    fn pair(&mut self) -> Option<(RawStr<'a>, Option<RawStr<'a>>)> {
        let p = &mut self.scanner;
        let key = p.string()?.get(p.s);
        p.ws();
        p.eat(b':')?;
        p.ws();
        let value = if p.eat_literal(b"null") {
            None
        } else {
            Some(p.string()?.get(p.s))
        };
        p.ws();
        if p.eat_if(b'}') {
            self.done = true;
        } else {
            p.eat(b',')?;
            p.ws();
        }
        Some((key, value))
    }
}

impl<'a> Iterator for RawFields<'a> {
    type Item = (RawStr<'a>, Option<RawStr<'a>>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let pair = self.pair();
        if pair.is_none() {
            // Only reachable on bytes no scan accepted.
            self.done = true;
        }
        pair
    }
}

/// Position of the first byte in `bytes` that ends a run of plain string characters: `"`, `\`
/// or a control character (< 0x20), eight bytes at a time (the same word trick as the fast
/// decoder: a byte equal to `"` or `\` after XOR is zero, a byte below 0x20 borrows; borrows
/// only set bits above the first such byte, so the lowest set bit is exact).
fn special_byte(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in words.by_ref() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let mask = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | x.wrapping_sub(ONES * 0x20) & !x)
            & HIGH;
        if mask != 0 {
            return Some(offset + (mask.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| offset + p)
}

#[derive(Debug, Clone)]
struct Scanner<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Skips JSON whitespace.
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.eat_if(byte).then_some(())
    }

    fn eat_if(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn eat_literal(&mut self, literal: &[u8]) -> bool {
        let hit = self.s.get(self.pos..).is_some_and(|rest| rest.starts_with(literal));
        if hit {
            self.pos += literal.len();
        }
        hit
    }

    /// A string without escapes or control characters, as raw bytes.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.pos;
        let len = special_byte(self.s.get(start..)?)?;
        if self.s.get(start + len) != Some(&b'"') {
            return None;
        }
        self.pos = start + len + 1;
        self.s.get(start..start + len)
    }

    /// A string literal, validated (escapes as the fast decoder takes them) and located.
    fn string(&mut self) -> Option<StrSpan> {
        self.eat(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let chunk = self.pos;
            let len = special_byte(self.s.get(chunk..)?)?;
            self.pos = chunk + len + 1;
            match self.s.get(chunk + len)? {
                b'"' => {
                    return Some(StrSpan {
                        range: start..chunk + len,
                        escaped,
                    })
                }
                b'\\' => escaped = true,
                _ => return None,
            }
            let escape = self.peek()?;
            self.pos += 1;
            match escape {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                b'u' => {
                    let digits = self.s.get(self.pos..self.pos.checked_add(4)?)?;
                    self.pos += 4;
                    let code = digits
                        .iter()
                        .try_fold(0u32, |acc, &b| Some((acc << 4) | char::from(b).to_digit(16)?))?;
                    // Surrogates (pairs included) are left to the general decoder.
                    char::from_u32(code)?;
                }
                _ => return None,
            }
        }
    }

    /// A JSON integer (`-?(0|[1-9][0-9]*)`, no fraction or exponent) that fits an `i32`.
    fn i32(&mut self) -> Option<i32> {
        let negative = self.eat_if(b'-');
        let start = self.pos;
        let mut value: i64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            if self.pos - start >= 11 {
                return None;
            }
            value = value * 10 + i64::from(d - b'0');
            self.pos += 1;
        }
        let digits = self.pos - start;
        if digits == 0 || (digits > 1 && self.s.get(start) == Some(&b'0')) {
            return None;
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return None;
        }
        i32::try_from(if negative { -value } else { value }).ok()
    }

    /// `extFields`: an object of string or null values, validated.
    fn ext_fields(&mut self) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.eat_if(b'}') {
            return Some(());
        }
        loop {
            self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            if !self.eat_literal(b"null") {
                self.string()?;
            }
            self.ws();
            if self.eat_if(b'}') {
                return Some(());
            }
            self.eat(b',')?;
            self.ws();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Goal: the word-at-a-time scan finds the same first special byte as a byte-by-byte
        // scan. Method: random bytes biased towards the special and neighbouring values, every
        // length and alignment of the tail.
        #[test]
        fn word_scan_equals_byte_scan(bytes in proptest::collection::vec(
            prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x21, 0x21u8..0x7f, 0x80u8..=0xff], 0..40)) {
            let naive = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(special_byte(&bytes), naive);
        }

        // Goal: a decoded literal equals what serde_json makes of it, and `eq_str` agrees with
        // comparing the decoded text. Method: strings with every escape form, scanned as a
        // remark.
        #[test]
        fn literals_decode_like_serde_json(s in "[\\PC\\u{0}-\\u{1f}\"\\\\/]{0,16}", style in any::<u8>()) {
            let mut literal = String::from("\"");
            for (i, c) in s.chars().enumerate() {
                match c {
                    '"' => literal.push_str("\\\""),
                    '\\' => literal.push_str("\\\\"),
                    '/' if style % 2 == 0 => literal.push_str("\\/"),
                    '\n' if style % 3 == 0 => literal.push_str("\\n"),
                    c if (c as u32) < 0x20 || (style > 128 && i % 2 == 0 && (c as u32) < 0x1_0000) => {
                        literal.push_str(&format!("\\u{:04X}", c as u32))
                    }
                    c => literal.push(c),
                }
            }
            literal.push('"');
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
