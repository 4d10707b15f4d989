//! [`Cursor`]: the byte-level JSON tokens shared by the header decoder's fast path
//! (`header_json_fast`) and the response scan (`header_json_scan`), so that both accept
//! exactly the same whitespace, literals, integers and `\u` escapes.

/// A position in a JSON text, read token by token.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    pub(crate) s: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        Cursor { s, pos: 0 }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Skips JSON whitespace.
    #[inline]
    pub(crate) fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    #[inline]
    pub(crate) fn eat(&mut self, byte: u8) -> Option<()> {
        self.eat_if(byte).then_some(())
    }

    #[inline]
    pub(crate) fn eat_if(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        if hit {
            self.pos += 1;
        }
        hit
    }

    #[inline]
    pub(crate) fn eat_literal(&mut self, literal: &[u8]) -> bool {
        let hit = self.s.get(self.pos..).is_some_and(|rest| rest.starts_with(literal));
        if hit {
            self.pos += literal.len();
        }
        hit
    }

    /// The four hex digits of a `\u` escape (the cursor just past the `u`) as a char;
    /// `None` for bad digits and for surrogates (pairs included), which are left to the
    /// general decoder.
    #[inline]
    pub(crate) fn unicode_escape(&mut self) -> Option<char> {
        let digits = self.s.get(self.pos..self.pos.checked_add(4)?)?;
        self.pos += 4;
        let code = digits
            .iter()
            .try_fold(0u32, |acc, &b| Some((acc << 4) | char::from(b).to_digit(16)?))?;
        char::from_u32(code)
    }

    /// A JSON integer (`-?(0|[1-9][0-9]*)`, no fraction or exponent) that fits an `i32`.
    pub(crate) fn i32(&mut self) -> Option<i32> {
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
}
