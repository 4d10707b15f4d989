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

    /// Consumes `literal` if the input continues with it (a comparison of fixed size, which
    /// the compiler writes inline; a slice comparison would call `memcmp`).
    #[inline]
    pub(crate) fn eat_literal<const N: usize>(&mut self, literal: &[u8; N]) -> bool {
        let hit = self.s.get(self.pos..).and_then(<[u8]>::first_chunk::<N>) == Some(literal);
        if hit {
            self.pos += N;
        }
        hit
    }

    /// The four hex digits of a `\u` escape (the cursor just past the `u`) as a char;
    /// `None` for bad digits and for surrogates (pairs included), which are left to the
    /// general decoder.
    #[inline]
    pub(crate) fn unicode_escape(&mut self) -> Option<char> {
        let &[d0, d1, d2, d3] = self.s.get(self.pos..self.pos.checked_add(4)?)? else {
            return None;
        };
        self.pos += 4;
        // A table lookup per digit; an invalid digit sets bit 4 of its entry, so one test of
        // the OR of all four catches any.
        let [h0, h1, h2, h3] = [d0, d1, d2, d3].map(|d| HEX_VALUE[usize::from(d)]);
        if (h0 | h1 | h2 | h3) & INVALID_HEX != 0 {
            return None;
        }
        let code = u32::from(h0) << 12 | u32::from(h1) << 8 | u32::from(h2) << 4 | u32::from(h3);
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

/// Marks a byte that is not a hex digit in [`HEX_VALUE`].
const INVALID_HEX: u8 = 0x10;

/// The value of each hex digit (either case), [`INVALID_HEX`] for every other byte.
static HEX_VALUE: [u8; 256] = {
    let mut table = [INVALID_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The escape as `char::to_digit` reads it (the implementation before the table).
    fn reference_escape(digits: &[u8]) -> Option<char> {
        let code = digits
            .get(..4)?
            .iter()
            .try_fold(0u32, |acc, &b| Some((acc << 4) | char::from(b).to_digit(16)?))?;
        char::from_u32(code)
    }

    #[test]
    fn hex_table_reads_exactly_the_hex_digits() {
        for byte in 0..=255u8 {
            let expected = char::from(byte).to_digit(16);
            let got = HEX_VALUE[usize::from(byte)];
            assert_eq!(
                (got & INVALID_HEX == 0).then_some(u32::from(got)),
                expected,
                "byte {byte}"
            );
        }
    }

    proptest! {
        // Goal: the table-driven `\u` escape reads what the `to_digit` fold reads (digits in
        // either case, bad digits, surrogates, short input). Method: four bytes drawn mostly
        // from hex digits, sometimes from anything, sometimes fewer than four.
        #[test]
        fn unicode_escape_equals_the_to_digit_reading(
            digits in proptest::collection::vec(
                prop_oneof![4 => proptest::sample::select(b"0123456789abcdefABCDEFdD8".to_vec()), 1 => any::<u8>()],
                0..6,
            ),
        ) {
            let mut cursor = Cursor::new(&digits);
            prop_assert_eq!(cursor.unicode_escape(), reference_escape(&digits));
        }
    }
}
