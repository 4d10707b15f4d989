//! A bounds-checked big-endian reader over a byte slice, shared by the record and batch decoders.
//!
//! Every read checks the remaining length first and reports the field name, so decoders never
//! index out of bounds and errors say what was being read.

use std::ops::Range;

use super::error::MessageError;

/// Reads big-endian fields from the front of `buf`, advancing `pos`.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Advances over `len` bytes and returns their range in the underlying buffer.
    pub(crate) fn take(&mut self, len: usize, what: &'static str) -> Result<Range<usize>, MessageError> {
        let available = self.remaining();
        if len > available {
            return Err(MessageError::Truncated {
                what,
                needed: len,
                available,
            });
        }
        let start = self.pos;
        self.pos = start + len;
        Ok(start..self.pos)
    }

    /// Reads `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], MessageError> {
        let range = self.take(N, what)?;
        let mut out = [0u8; N];
        if let Some(src) = self.buf.get(range) {
            out.copy_from_slice(src);
        }
        Ok(out)
    }

    /// Reads one byte as a signed Java `byte`.
    pub(crate) fn i8(&mut self, what: &'static str) -> Result<i8, MessageError> {
        self.array::<1>(what).map(i8::from_be_bytes)
    }

    /// Reads a Java `short`.
    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16, MessageError> {
        self.array::<2>(what).map(i16::from_be_bytes)
    }

    /// Reads a Java `int`.
    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, MessageError> {
        self.array::<4>(what).map(i32::from_be_bytes)
    }

    /// Reads a Java `long`.
    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, MessageError> {
        self.array::<8>(what).map(i64::from_be_bytes)
    }

    /// Reads a length field that must not be negative.
    pub(crate) fn len_i32(&mut self, what: &'static str) -> Result<usize, MessageError> {
        let len = self.i32(what)?;
        usize::try_from(len).map_err(|_| MessageError::NegativeLength { what, len })
    }

    /// Reads a 16-bit length field that must not be negative.
    pub(crate) fn len_i16(&mut self, what: &'static str) -> Result<usize, MessageError> {
        let len = self.i16(what)?;
        usize::try_from(len).map_err(|_| MessageError::NegativeLength {
            what,
            len: i32::from(len),
        })
    }
}

/// Reads a big-endian `i32` at `pos` of `buf`, if the bytes are there.
pub(crate) fn i32_at(buf: &[u8], pos: usize) -> Option<i32> {
    let end = pos.checked_add(4)?;
    let bytes: [u8; 4] = buf.get(pos..end)?.try_into().ok()?;
    Some(i32::from_be_bytes(bytes))
}

/// Writes a big-endian `i64` at `pos` of `buf`; false if the bytes are not there.
pub(crate) fn put_i64_at(buf: &mut [u8], pos: usize, value: i64) -> bool {
    let Some(end) = pos.checked_add(8) else {
        return false;
    };
    match buf.get_mut(pos..end) {
        Some(dst) => {
            dst.copy_from_slice(&value.to_be_bytes());
            true
        }
        None => false,
    }
}
