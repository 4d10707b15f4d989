//! A small JSON scanner for the remoting header: reads the one object a header is, straight
//! from the frame bytes, without building a generic value tree.
//!
//! It accepts exactly RFC 8259 JSON (what `serde_json::from_slice` accepts): strings with
//! every escape including surrogate pairs, numbers, `true`/`false`/`null`, nested values (which
//! the header decoder skips), whitespace, and nothing after the top-level value. Strings
//! without escapes are borrowed from the input. Nesting is bounded by [`MAX_DEPTH`], so
//! hostile input cannot exhaust the stack.

use std::borrow::Cow;

/// Deepest nesting of arrays and objects accepted while skipping a value (serde_json's limit).
pub(crate) const MAX_DEPTH: usize = 128;

/// Why the input is not the JSON expected (byte offset of the problem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanError {
    pub(crate) what: &'static str,
    pub(crate) at: usize,
}

/// A scalar value, as text where it is one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    /// The number's text exactly as written (validated JSON number syntax).
    Number(&'a str),
    Bool(bool),
    Null,
}

/// Cursor over the input bytes.
pub(crate) struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Scanner { input, pos: 0 }
    }

    pub(crate) fn error(&self, what: &'static str) -> ScanError {
        ScanError { what, at: self.pos }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub(crate) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `byte` (after whitespace) or fails.
    pub(crate) fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), ScanError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// After whitespace: true and consumed if the next byte is `byte`.
    pub(crate) fn eat(&mut self, byte: u8) -> bool {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Only whitespace is left.
    pub(crate) fn finish(&mut self) -> Result<(), ScanError> {
        self.skip_ws();
        if self.pos == self.input.len() {
            Ok(())
        } else {
            Err(self.error("trailing characters"))
        }
    }

    /// True when the next value (after whitespace) is an object.
    pub(crate) fn at_object(&mut self) -> bool {
        self.skip_ws();
        self.peek() == Some(b'{')
    }

    /// Object members: call after `{` was consumed. Returns the next key, or `None` at `}`.
    /// `first` is true for the first member.
    pub(crate) fn next_key(&mut self, first: bool) -> Result<Option<Cow<'a, str>>, ScanError> {
        if first {
            if self.eat(b'}') {
                return Ok(None);
            }
        } else if self.eat(b'}') {
            return Ok(None);
        } else {
            self.expect(b',', "expected `,` or `}`")?;
        }
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string key"));
        }
        let key = self.string()?;
        self.expect(b':', "expected `:`")?;
        Ok(Some(key))
    }

    /// A scalar value; arrays and objects are an error (`what`).
    pub(crate) fn scalar(&mut self, what: &'static str) -> Result<Scalar<'a>, ScanError> {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => self.string().map(Scalar::Str),
            Some(b't') => self.literal(b"true").map(|()| Scalar::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|()| Scalar::Bool(false)),
            Some(b'n') => self.literal(b"null").map(|()| Scalar::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Scalar::Number),
            _ => Err(self.error(what)),
        }
    }

    /// Skips any value, nested ones included (bounded depth).
    pub(crate) fn skip_value(&mut self) -> Result<(), ScanError> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: usize) -> Result<(), ScanError> {
        if depth >= MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        self.skip_ws();
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut first = true;
                while self.next_key(first)?.is_some() {
                    first = false;
                    self.skip_nested(depth + 1)?;
                }
                Ok(())
            }
            Some(b'[') => {
                self.pos += 1;
                if self.eat(b']') {
                    return Ok(());
                }
                loop {
                    self.skip_nested(depth + 1)?;
                    if self.eat(b']') {
                        return Ok(());
                    }
                    self.expect(b',', "expected `,` or `]`")?;
                }
            }
            _ => self.scalar("expected a value").map(|_| ()),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), ScanError> {
        let end = self.pos.saturating_add(word.len());
        if self.input.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<&'a str, ScanError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        let text = self.input.get(start..self.pos).unwrap_or_default();
        // Number syntax is ASCII only.
        std::str::from_utf8(text).map_err(|_| self.error("invalid number"))
    }

    /// A string; the opening quote is next. Borrowed when it has no escape.
    fn string(&mut self) -> Result<Cow<'a, str>, ScanError> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    let raw = self.input.get(start..self.pos).unwrap_or_default();
                    self.pos += 1;
                    return std::str::from_utf8(raw)
                        .map(Cow::Borrowed)
                        .map_err(|_| self.error("invalid UTF-8 in string"));
                }
                Some(b'\\') => break,
                Some(0x00..=0x1f) => return Err(self.error("control character in string")),
                Some(_) => self.pos += 1,
            }
        }
        // Escapes: build an owned copy from here on.
        let mut out: Vec<u8> = self.input.get(start..self.pos).unwrap_or_default().to_vec();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out)
                        .map(Cow::Owned)
                        .map_err(|_| self.error("invalid UTF-8 in string"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(0x00..=0x1f) => return Err(self.error("control character in string")),
                Some(byte) => {
                    out.push(byte);
                    self.pos += 1;
                }
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), ScanError> {
        let Some(byte) = self.peek() else {
            return Err(self.error("unterminated string"));
        };
        self.pos += 1;
        let simple = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let ch = self.unicode_escape()?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                return Ok(());
            }
            _ => return Err(self.error("invalid escape")),
        };
        out.push(simple);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u16, ScanError> {
        let end = self.pos.saturating_add(4);
        let digits = self
            .input
            .get(self.pos..end)
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        let mut value: u16 = 0;
        for &d in digits {
            let nibble = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(self.error("invalid \\u escape")),
            };
            value = (value << 4) | u16::from(nibble);
        }
        self.pos = end;
        Ok(value)
    }

    /// `XXXX` after `\u`, with a following `\uXXXX` low surrogate when this is a high one.
    fn unicode_escape(&mut self) -> Result<char, ScanError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.literal(b"\\u").is_err() {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate in hex escape")),
            other => u32::from(other),
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))
    }
}
