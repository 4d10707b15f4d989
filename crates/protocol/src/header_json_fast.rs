//! Fast path of the JSON header decoder: one pass over the header shape every known client
//! sends, writing ext fields straight into the [`ExtFields`] arena.
//!
//! Accepted (anything else returns `None` and the caller falls back to the serde_json
//! decoder, which then accepts or rejects exactly as before):
//! - one object, JSON whitespace around tokens, nothing after it;
//! - `code`, `opaque`, `flag`, `version`: JSON integers that fit an `i32`;
//! - `language`: a string without escapes; `remark`: a string or null;
//!   `serializeTypeCurrentRPC`: a string (ignored);
//! - `extFields`: an object of string or null values (null drops the field);
//! - each top-level key at most once, written without escapes; no other key.
//!
//! Strings: RFC 8259 escapes; a `\u` escape of a surrogate, a control character, invalid
//! UTF-8 or a missing quote all fall back. Invariant: whatever this returns, the serde_json
//! decoder returns too (the differential tests in `header_json_test.rs` hold it to that).

use crate::command::{LanguageCode, RemotingCommand};
use crate::ext_fields::{ExtFields, ExtFieldsBuilder, ValueText};
use crate::header::send_message_decode::{FIELDS, PROPERTIES_SLOT};
use crate::header_json::first_special as special_byte;
use crate::json_cursor::Cursor;

/// Decodes `input` when it has the common shape; `None` means "use the general decoder".
pub(crate) fn decode_fast(input: &[u8]) -> Option<RemotingCommand> {
    let text = std::str::from_utf8(input).ok()?;
    let mut fields = None;
    let mut cmd = decode_with(text, |p| {
        fields = Some(p.ext_fields()?);
        Some(())
    })?;
    if let Some(fields) = fields {
        cmd.ext_fields = fields;
    }
    Some(cmd)
}

/// Decodes a send request header (`a`..`n` ext fields, `input` checked UTF-8 by the caller, who
/// keeps it) when it has the common shape, its
/// fields into [`SendSlots`] instead of an [`ExtFields`] map; `None` means "use the general
/// decoder". Narrower than [`decode_fast`]: every ext-field key is one of the fourteen short
/// names and appears once, every value is a string, and only the properties (`i`) may hold
/// escapes; the returned command's ext fields are empty.
pub(crate) fn decode_send_fast(input: &str) -> Option<(RemotingCommand, SendSlots)> {
    let mut slots = SendSlots::default();
    let cmd = decode_with(input, |p| p.send_slots(&mut slots))?;
    Some((cmd, slots))
}

/// The ext fields of a send header as [`decode_send_fast`] reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SendSlots {
    /// By slot (`a` = 0 .. `n` = 13): the value's byte range in the header, for every field
    /// but the properties.
    pub(crate) spans: [Option<(u32, u32)>; FIELDS],
    /// Slot `i`, unescaped.
    pub(crate) properties: Option<String>,
}

/// The top-level object, with `ext` parsing the value of `extFields`. `text` is UTF-8 checked
/// once by the caller: every string chunk below starts and ends next to an ASCII byte, so it is
/// a `str` slice at char boundaries and needs no check of its own.
fn decode_with(text: &str, mut ext: impl FnMut(&mut Parser<'_>) -> Option<()>) -> Option<RemotingCommand> {
    let input = text.as_bytes();
    let mut p = Parser {
        text,
        c: Cursor::new(input),
    };
    let mut cmd = RemotingCommand::default();
    let mut seen = 0u8;
    p.c.ws();
    p.c.eat(b'{')?;
    p.c.ws();
    if !p.c.eat_if(b'}') {
        loop {
            let key = match p.known_key() {
                Some(key) => key,
                None => {
                    let key = Key::named(p.plain_string()?)?;
                    p.c.ws();
                    p.c.eat(b':')?;
                    key
                }
            };
            p.c.ws();
            let bit = match key {
                Key::Code => {
                    cmd.code = p.c.i32()?;
                    1
                }
                Key::Opaque => {
                    cmd.opaque = p.c.i32()?;
                    2
                }
                Key::Flag => {
                    cmd.flag = p.c.i32()?;
                    4
                }
                Key::Version => {
                    cmd.version = p.c.i32()?;
                    8
                }
                Key::Language => {
                    cmd.language = LanguageCode::from_name(p.plain_str()?);
                    16
                }
                Key::Remark => {
                    cmd.remark = if p.c.eat_literal(b"null") {
                        None
                    } else {
                        let mut remark = String::new();
                        p.string(&mut ValueText::new(&mut remark))?;
                        Some(remark)
                    };
                    32
                }
                Key::ExtFields => {
                    ext(&mut p)?;
                    64
                }
                Key::SerializeType => {
                    if !p.c.eat_literal(b"\"JSON\"") {
                        p.string(&mut Discard)?;
                    }
                    128
                }
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
    (p.c.pos == input.len()).then_some(cmd)
}

/// Where a parsed string goes.
trait Sink {
    fn push_str(&mut self, s: &str);
    fn push_char(&mut self, c: char);
}

impl Sink for ValueText<'_> {
    fn push_str(&mut self, s: &str) {
        ValueText::push_str(self, s);
    }
    fn push_char(&mut self, c: char) {
        ValueText::push_char(self, c);
    }
}

/// A sink for strings that are only validated.
struct Discard;

impl Sink for Discard {
    fn push_str(&mut self, _: &str) {}
    fn push_char(&mut self, _: char) {}
}

struct Parser<'a> {
    /// The input, checked UTF-8.
    text: &'a str,
    /// The tokens, over `text` as bytes.
    c: Cursor<'a>,
}

/// The top-level keys of a remoting command header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Code,
    ExtFields,
    Flag,
    Language,
    Opaque,
    Remark,
    SerializeType,
    Version,
}

impl Key {
    /// The key of an unquoted name; `None` for any other name.
    fn named(name: &[u8]) -> Option<Key> {
        Some(match name {
            b"code" => Key::Code,
            b"extFields" => Key::ExtFields,
            b"flag" => Key::Flag,
            b"language" => Key::Language,
            b"opaque" => Key::Opaque,
            b"remark" => Key::Remark,
            b"serializeTypeCurrentRPC" => Key::SerializeType,
            b"version" => Key::Version,
            _ => return None,
        })
    }
}

/// `literal`'s length when `rest` starts with it: a comparison of fixed size, which the
/// compiler writes inline (a slice comparison calls `memcmp`).
#[inline(always)]
fn literal_len<const N: usize>(rest: &[u8], literal: &[u8; N]) -> Option<usize> {
    (rest.first_chunk::<N>() == Some(literal)).then_some(N)
}

impl<'a> Parser<'a> {
    /// A top-level key written as fastjson and FerroMQ write it (quoted, no escapes, no
    /// whitespace before the colon), consumed with its colon. `None` consumes nothing: any other
    /// spelling takes the token path, with the same result.
    fn known_key(&mut self) -> Option<Key> {
        let rest = self.c.s.get(self.c.pos..)?;
        // Chosen by the letter after the opening quote, then compared whole.
        let (len, key) = match *rest.get(1)? {
            b'c' => (literal_len(rest, b"\"code\":")?, Key::Code),
            b'e' => (literal_len(rest, b"\"extFields\":")?, Key::ExtFields),
            b'f' => (literal_len(rest, b"\"flag\":")?, Key::Flag),
            b'l' => (literal_len(rest, b"\"language\":")?, Key::Language),
            b'o' => (literal_len(rest, b"\"opaque\":")?, Key::Opaque),
            b'r' => (literal_len(rest, b"\"remark\":")?, Key::Remark),
            b's' => (literal_len(rest, b"\"serializeTypeCurrentRPC\":")?, Key::SerializeType),
            b'v' => (literal_len(rest, b"\"version\":")?, Key::Version),
            _ => return None,
        };
        self.c.pos += len;
        Some(key)
    }

    /// A string without escapes or control characters, as raw bytes.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.plain_str().map(str::as_bytes)
    }

    /// A string without escapes or control characters.
    fn plain_str(&mut self) -> Option<&'a str> {
        self.c.eat(b'"')?;
        let start = self.c.pos;
        let len = special_byte(self.c.s.get(start..)?)?;
        if self.c.s.get(start + len) != Some(&b'"') {
            return None;
        }
        self.c.pos = start + len + 1;
        self.text.get(start..start + len)
    }

    /// A string, unescaped into `out`.
    fn string(&mut self, out: &mut impl Sink) -> Option<()> {
        self.c.eat(b'"')?;
        loop {
            let start = self.c.pos;
            let len = special_byte(self.c.s.get(start..)?)?;
            // Chunks end before an ASCII byte and start after one (or at the quote).
            out.push_str(self.text.get(start..start + len)?);
            self.c.pos = start + len + 1;
            match self.c.s.get(start + len)? {
                b'"' => return Some(()),
                b'\\' => {}
                _ => return None,
            }
            let escape = self.c.peek()?;
            self.c.pos += 1;
            let c = match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.c.unicode_escape()?,
                _ => return None,
            };
            out.push_char(c);
        }
    }

    /// One ext field in the shape fastjson and FerroMQ write, `"key":"value"` with both strings
    /// plain (no escape, no control character) and no whitespace inside: appended to `fields`,
    /// true. Anything else consumes nothing and returns false, and the field takes the token by
    /// token path below, which gives the same result for this shape (the differential tests hold
    /// both to the serde decoder).
    fn plain_pair(&mut self, fields: &mut ExtFieldsBuilder) -> bool {
        let s = self.c.s;
        let Some(k0) = self.c.pos.checked_add(1).filter(|_| s.get(self.c.pos) == Some(&b'"')) else {
            return false;
        };
        let Some(k1) = s.get(k0..).and_then(special_byte).map(|len| k0 + len) else {
            return false;
        };
        if s.get(k1..k1 + 3) != Some(b"\":\"") {
            return false;
        }
        let v0 = k1 + 3;
        let Some(v1) = s.get(v0..).and_then(special_byte).map(|len| v0 + len) else {
            return false;
        };
        if s.get(v1) != Some(&b'"') {
            return false;
        }
        // `key":"value` starts after and ends before an ASCII quote: char boundaries.
        let Some(pair) = self.text.get(k0..v1) else {
            return false;
        };
        fields.push_pair_text(pair, k1 - k0);
        self.c.pos = v1 + 1;
        true
    }

    /// `extFields` of a send header into `slots` (see [`decode_send_fast`]).
    fn send_slots(&mut self, slots: &mut SendSlots) -> Option<()> {
        self.c.eat(b'{')?;
        self.c.ws();
        if self.c.eat_if(b'}') {
            return Some(());
        }
        loop {
            let slot = match self.c.s.get(self.c.pos..self.c.pos + 5) {
                // `"x":` without whitespace, as fastjson and FerroMQ write it.
                Some(&[b'"', letter @ b'a'..=b'n', b'"', b':', _]) => {
                    self.c.pos += 4;
                    usize::from(letter - b'a')
                }
                _ => {
                    let slot = match self.plain_string()? {
                        [letter @ b'a'..=b'n'] => usize::from(letter - b'a'),
                        _ => return None,
                    };
                    self.c.ws();
                    self.c.eat(b':')?;
                    slot
                }
            };
            self.c.ws();
            if slot == PROPERTIES_SLOT {
                if slots.properties.is_some() {
                    return None;
                }
                // The rest of the header bounds the unescaped text: one allocation.
                let mut properties = String::with_capacity(self.c.s.len().saturating_sub(self.c.pos));
                self.string(&mut ValueText::new(&mut properties))?;
                slots.properties = Some(properties);
            } else {
                let span = slots.spans.get_mut(slot)?;
                if span.is_some() {
                    return None;
                }
                self.c.eat(b'"')?;
                let start = self.c.pos;
                let end = start + special_byte(self.c.s.get(start..)?)?;
                if self.c.s.get(end) != Some(&b'"') {
                    return None;
                }
                *span = Some((u32::try_from(start).ok()?, u32::try_from(end).ok()?));
                self.c.pos = end + 1;
            }
            self.c.ws();
            if self.c.eat_if(b'}') {
                return Some(());
            }
            self.c.eat(b',')?;
            self.c.ws();
        }
    }

    /// `extFields`: an object of string or null values.
    fn ext_fields(&mut self) -> Option<ExtFields> {
        self.c.eat(b'{')?;
        let rest = self.c.s.len().saturating_sub(self.c.pos);
        let mut fields = ExtFieldsBuilder::with_capacity((rest / 16 + 1).min(64), rest);
        self.c.ws();
        if self.c.eat_if(b'}') {
            return Some(fields.finish());
        }
        loop {
            if self.plain_pair(&mut fields) {
                self.c.ws();
                if self.c.eat_if(b'}') {
                    return Some(fields.finish());
                }
                self.c.eat(b',')?;
                self.c.ws();
                continue;
            }
            let key_start = fields.mark();
            self.string(&mut fields.text())?;
            let key_end = fields.mark();
            self.c.ws();
            self.c.eat(b':')?;
            self.c.ws();
            if self.c.eat_literal(b"null") {
                fields.rollback(key_start);
            } else {
                self.string(&mut fields.text())?;
                fields.commit(key_start, key_end);
            }
            self.c.ws();
            if self.c.eat_if(b'}') {
                return Some(fields.finish());
            }
            self.c.eat(b',')?;
            self.c.ws();
        }
    }
}
